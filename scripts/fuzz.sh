#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each): the code that reads
# untrusted input (session-id parsing, private-cookie opening, item validation).
#   scripts/fuzz.sh [seconds-per-target]
# Needs cargo-fuzz (installed here when missing). `-s none`: no sanitizer, so it builds on
# the stable toolchain; the targets assert their invariants themselves, and Rust is memory
# safe: the crate's one `unsafe` block (allocator.rs) hands the allocator no pointers.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz
cargo fuzz build -s none
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  if ! cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "FAIL: fuzz target $target"
    exit 1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1 || true)
  echo "PASS: fuzz target $target, ${runs:-no summary} in ${seconds} s"
  rm -f "$log"
done
