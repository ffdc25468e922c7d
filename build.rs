//! Link the `bootstrap` binary as a non-PIE executable on Linux/glibc.
//!
//! A position-independent executable of this size carries about 27,000
//! relative relocations that the dynamic loader applies at every cold start,
//! dirtying the pages they sit in: measured, a third of the time from spawn
//! to the first `/next` (2.5 ms → 1.9 ms on the benchmark machine, against
//! 1.5 ms for a hello-world `lambda_runtime` binary). Linked at a fixed
//! address there is nothing to relocate. Shared libraries, the heap and the
//! stack are still randomised; the trade-off is written up in the README's
//! threat model. Only the shipped binary is affected, not tests or examples.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo::rustc-link-arg-bin=bootstrap=-no-pie");
    }
}
