# The secret-fetch Lambda function as a container image (see template.yaml and
# README "Deploy with SAM"). `sam build` runs this with DockerBuildArgs
# ARCH=<Architecture> and the matching --platform (linux/arm64 or linux/amd64).
#
# Two stages:
#   build    Amazon Linux 2023 + rustup (toolchain 1.95.0) + gcc: compiles
#            `bootstrap` with the release profile from Cargo.toml (thin LTO,
#            one codegen unit, stripped, panic = "unwind"; on x86_64 the hot
#            functions side by side, build.rs).
#   runtime  the AWS base image for custom runtimes on Amazon Linux 2023,
#            holding only the binary and statements.toml.
#
# Why these bases: a `*-linux-gnu` binary needs every GLIBC_x.y symbol version
# it was linked against, and the runtime base has glibc 2.34. A builder on a
# newer distro (Debian trixie, Ubuntu 24.04, the official rust images) links
# GLIBC_2.35+ symbols and the function dies at init with "version `GLIBC_2.3x'
# not found". Building on AL2023 (glibc 2.34 for its whole life) makes that
# impossible, and the build stage checks it anyway. (The static alternative,
# a `*-unknown-linux-musl` build, would run on any base but needs a musl C
# toolchain for aws-lc-sys/ring and gives up glibc's faster allocator.)
#
# Tags are pinned to dated releases, never `latest`: bump both together.

# --- build ---------------------------------------------------------------
FROM amazonlinux:2023.11.20260427.1 AS build

# arm64 (Graviton, the template's default) or x86_64: the names Lambda's
# Architectures property uses. The build runs natively on the platform
# `sam build` selects from the template, so ARCH only has to agree with it.
ARG ARCH=arm64
ARG RUST_TOOLCHAIN=1.95.0

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# gcc compiles the C in aws-lc-sys and ring. GCC stays at major 11 for AL2023's
# whole life and 11.5.0 is the last GCC 11 release; the pinned image tag locks
# the package repository to that release, so this resolves the same every time.
RUN dnf install -y --setopt=install_weak_deps=False gcc-11.5.0 \
    && dnf clean all \
    && rm -rf /var/cache/dnf

# Fail early, with a clear message, when the Docker platform and ARCH disagree
# (an image built for the wrong architecture fails at init with an exec format
# error, only after deployment).
RUN machine="$(uname -m)"; \
    case "${ARCH}:${machine}" in \
      arm64:aarch64|x86_64:x86_64) ;; \
      *) echo "ARCH=${ARCH} but this build runs on ${machine}: build with --platform linux/$( [ "${ARCH}" = arm64 ] && echo arm64 || echo amd64 )" >&2; exit 1 ;; \
    esac

ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --no-modify-path --profile minimal --default-toolchain "${RUST_TOOLCHAIN}" \
    && rustc --version

WORKDIR /build

# Dependency layer: the manifest and lock file with stub sources, built once
# and cached by Docker until Cargo.toml, Cargo.lock or build.rs change. A
# stub rather than cargo-chef because the image needs one lib, one bin and the
# build script (the benchmark's examples are not built here), so two stub
# files reproduce it exactly;
# cargo-chef would add a tool to compile and pin inside the builder, and its
# prebuilt images are Debian-based (glibc too new). No `RUN --mount` cache
# either: sam build's default (non-BuildKit) builder rejects it.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src/bin \
    && echo 'fn main() {}' > src/bin/bootstrap.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin bootstrap \
    && rm -rf src

# The real sources, and the list of hot functions build.rs hands the linker
# (link-order/, x86_64 only: an arm64 build links as before). COPY keeps the
# files' original modification times, which can be older than the stub
# build's outputs: touch the crate roots so cargo rebuilds the crate itself
# (the dependencies stay cached).
COPY link-order ./link-order
COPY src ./src
RUN touch src/lib.rs src/bin/bootstrap.rs \
    && cargo build --release --locked --bin bootstrap

# Belt and braces: no GLIBC symbol version newer than the runtime's 2.34,
# and a non-PIE executable (build.rs): nothing to relocate at a cold start.
RUN [ "$(readelf -h target/release/bootstrap | awk '/Type:/ {print $2}')" = "EXEC" ] \
      || { echo "bootstrap is not a non-PIE executable" >&2; exit 1; }; \
    newest="$(objdump -T target/release/bootstrap | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1)"; \
    echo "bootstrap needs glibc ${newest}"; \
    [ "$(printf '%s\n' "${newest}" 2.34 | sort -V | tail -n 1)" = "2.34" ] \
      || { echo "bootstrap needs glibc ${newest}, the runtime has 2.34" >&2; exit 1; }

# --- runtime -------------------------------------------------------------
FROM public.ecr.aws/lambda/provided:al2023.2026.02.27.21 AS runtime

# Keep the base image's /lambda-entrypoint.sh instead of an ENTRYPOINT of our
# own: in Lambda it execs ${LAMBDA_RUNTIME_DIR}/bootstrap directly, and on a
# laptop (no AWS_LAMBDA_RUNTIME_API) it wraps it in the bundled Runtime
# Interface Emulator, so `docker run -p 9000:8080 <image>` just works. The
# script needs exactly one CMD argument (it becomes _HANDLER, which the binary
# ignores).
COPY --from=build /build/target/release/bootstrap ${LAMBDA_RUNTIME_DIR}/bootstrap

# Snowflake named statements, read from $LAMBDA_TASK_ROOT/statements.toml.
COPY statements.toml ${LAMBDA_TASK_ROOT}/statements.toml

# Lambda runs the function as its own unprivileged user whatever this says;
# this makes local runs match (nobody can read both files and run bootstrap).
USER 65534:65534

CMD ["secret-fetch"]
