//! Link options for the `bootstrap` binary (tests and examples are not
//! affected).
//!
//! **Non-PIE on Linux/glibc.** A position-independent executable of this size
//! carries about 27,000 relative relocations that the dynamic loader applies
//! at every cold start, dirtying the pages they sit in: measured, a third of
//! the time from spawn to the first `/next` (2.5 ms → 1.9 ms on the benchmark
//! machine, against 1.5 ms for a hello-world `lambda_runtime` binary). Linked
//! at a fixed address there is nothing to relocate. Shared libraries, the
//! heap and the stack are still randomised; the trade-off is written up in
//! the README's threat model.
//!
//! **Hot code together.** `link-order/<target>.txt`, when there is one for
//! the target, lists the functions a cold start and the common invocations
//! run (recorded by `scripts/link-order`); the linker (LLD, Rust's default on
//! x86_64 Linux) places them side by side at the start of `.text`. The kernel
//! maps code 64 KiB at a time around each first touch, so scattered hot
//! functions drag in megabytes they do not use: measured, the pages mapped at
//! a cold start fall from about 6 MiB to 3, and a first large invocation maps
//! a quarter of the code it did. Only the layout changes; a symbol the list
//! names that a build does not have (another profile, a changed dependency)
//! is skipped silently, so a stale list costs speed, never correctness.
//! `SECRET_FETCH_LINK_ORDER=off` links without it; `SECRET_FETCH_LINK_MAP=<file>`
//! writes the linker's map (`scripts/link-order` reads it).
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=SECRET_FETCH_LINK_ORDER");
    println!("cargo::rerun-if-env-changed=SECRET_FETCH_LINK_MAP");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (os, env, target) = (
        var("CARGO_CFG_TARGET_OS"),
        var("CARGO_CFG_TARGET_ENV"),
        var("TARGET"),
    );
    if os != "linux" || env != "gnu" {
        return;
    }
    println!("cargo::rustc-link-arg-bin=bootstrap=-no-pie");
    let order = Path::new(&var("CARGO_MANIFEST_DIR"))
        .join("link-order")
        .join(format!("{target}.txt"));
    println!("cargo::rerun-if-changed={}", order.display());
    if order.is_file() && var("SECRET_FETCH_LINK_ORDER") != "off" && lld_links(&target) {
        println!(
            "cargo::rustc-link-arg-bin=bootstrap=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            order.display()
        );
    }
    let map = var("SECRET_FETCH_LINK_MAP");
    if !map.is_empty() {
        println!("cargo::rustc-link-arg-bin=bootstrap=-Wl,-Map={map}");
    }
}

/// Whether the link runs LLD (which reads a symbol ordering file; GNU ld
/// does not, and would fail on the option): rustc's default on
/// x86_64-unknown-linux-gnu since 1.90, unless the build names its own
/// linker or linker flavour.
fn lld_links(target: &str) -> bool {
    let key = target.to_uppercase().replace('-', "_");
    let own_linker = ["RUSTC_LINKER", &format!("CARGO_TARGET_{key}_LINKER")]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_flags = ["linker", "link-self-contained", "fuse-ld"]
        .iter()
        .any(|f| flags.contains(f));
    target == "x86_64-unknown-linux-gnu" && !own_linker && !own_flags
}
