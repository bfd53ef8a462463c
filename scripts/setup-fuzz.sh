#!/usr/bin/env bash
# Installs what `cargo fuzz` needs, idempotently and outside the checkout:
#   - the nightly toolchain (libFuzzer's sanitizer flags need it), only if missing;
#   - cargo-fuzz into ~/.cache/currents-relay/tools, only if missing.
# Prints the bin dir to put on PATH (scripts/fuzz-smoke.sh does that itself).
set -euo pipefail

TOOLS="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-}"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi

if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  mkdir -p "$TOOLS"
  if [ -n "$CARGO_FUZZ_VERSION" ]; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
  else
    cargo install cargo-fuzz --locked --root "$TOOLS"
  fi
fi

echo "$TOOLS/bin"
