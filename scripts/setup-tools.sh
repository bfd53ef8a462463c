#!/usr/bin/env bash
# Installs the build tools of the Worker and the browser package outside the checkout, and skips
# every step whose result is already there (a second run costs seconds):
#   - the rustup target wasm32-unknown-unknown (rust-toolchain.toml names it too);
#   - worker-build 0.8.7, the workers-rs build tool (its version follows the `worker` crate's);
#   - wasm-bindgen-cli 0.2.130, which worker-build and scripts/build-pkg.sh run (its version must
#     be the `wasm-bindgen` crate's in Cargo.lock).
# Both come from crates.io with `cargo install` into $CURRENTS_RELAY_TOOLS/bin (default
# ~/.cache/currents-relay/tools/bin). esbuild comes with wrangler (npm) and wasm-opt is off:
# scripts/build.sh points worker-build at its tools, so it never downloads any.
set -euo pipefail

TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
WORKER_BUILD_VERSION="0.8.7"
WASM_BINDGEN_VERSION="0.2.130"
mkdir -p "$TOOLS_DIR"

log() { printf '[setup-tools] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# `--version` prints "0.8.7" (worker-build) and "wasm-bindgen 0.2.130" (wasm-bindgen).
have_version() { # binary, expected version
  [ -x "$1" ] && [ "$("$1" --version 2>/dev/null | awk '{print $NF}')" = "$2" ]
}

# Both are installed with `--debug`: unoptimised, they compile in 263 s instead of 580 s on 2 cores
# (measured), produce byte-identical Worker and pkg/ output, and cost about 2 s more per build.
# One scratch target dir for the installs of this run, not the project's target dir (which
# CARGO_TARGET_DIR may name), removed afterwards.
# Without debug info (the dev profile's default would generate it): they compile and link faster.
export CARGO_PROFILE_DEV_DEBUG=0
BUILD_DIR=""
scratch() {
  if [ -z "$BUILD_DIR" ]; then
    BUILD_DIR="$(mktemp -d "$TOOLS_DIR/build.XXXXXX")"
    trap 'rm -rf "$BUILD_DIR"' EXIT
  fi
}

if ! have_version "$TOOLS_DIR/bin/worker-build" "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (~2.5 min on 2 cores)"
  scratch
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force --debug \
    --root "$TOOLS_DIR" --target-dir "$BUILD_DIR"
fi

if ! have_version "$TOOLS_DIR/bin/wasm-bindgen" "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~2 min on 2 cores)"
  # No --locked: for this version it fails (a dependency its lockfile pins is missing from the registry).
  scratch
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force --debug \
    --root "$TOOLS_DIR" --target-dir "$BUILD_DIR"
fi

log "tools ready in $TOOLS_DIR/bin"
