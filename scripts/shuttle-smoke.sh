#!/usr/bin/env bash
# Smoke test of the Shuttle entry point under `cargo shuttle run`, with sessions in memory and
# in the shared database (tests/app/shuttle.rs; see docs/shuttle.md). Installs cargo-shuttle
# when missing, which takes a while.
#
#   scripts/shuttle-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo shuttle --version >/dev/null 2>&1; then
  echo "cargo-shuttle not found: installing it (cargo install --locked cargo-shuttle)"
  cargo install --locked cargo-shuttle
fi
exec cargo test --test app -- --ignored shuttle:: "$@"
