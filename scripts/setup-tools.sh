#!/usr/bin/env bash
# Installs the build tools the Worker and the browser package need, outside the checkout,
# and skips every step whose result is already there (a second run costs seconds): the rustup
# target wasm32-unknown-unknown and wasm-bindgen-cli (the one tool compiled from crates.io;
# scripts/build.sh does worker-build's other steps itself, so a fresh machine compiles ~285 s less).
# Versions: see docs/TOOLCHAIN notes in README ("Toolchain").
set -euo pipefail

TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
WASM_BINDGEN_VERSION="0.2.130"
mkdir -p "$TOOLS_DIR"
# Outside the project's target dir, and removed after the install.
export CARGO_TARGET_DIR="$TOOLS_DIR/target"

log() { printf '[setup-tools] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

have_version() { # binary, expected version substring
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "$2"
}

if ! have_version "$TOOLS_DIR/bin/wasm-bindgen" "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # --locked fails for this version: a pinned dependency is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$TOOLS_DIR"
fi

rm -rf "$CARGO_TARGET_DIR"
log "tools ready in $TOOLS_DIR"
