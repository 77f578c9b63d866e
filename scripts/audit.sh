#!/usr/bin/env bash
# The advisory audit: `cargo audit` on Cargo.lock and fuzz/Cargo.lock against the offline
# RustSec snapshot in ../shared/advisory-db. Fails on any advisory (vulnerability, or an
# informational one: unmaintained, unsound, yanked) that audit.toml does not list with a
# reason and a date. The snapshot knows nothing published after its date, which is printed.
#   scripts/audit.sh [advisory-db dir]
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-../shared/advisory-db}"

if ! cargo audit --version 2>/dev/null | grep -Eq ' 0\.(2[2-9]|[3-9][0-9])\.'; then
  # 0.22 or newer: the database holds CVSS 4.0 scores, which older versions cannot parse.
  cargo install --locked cargo-audit
fi
cargo audit --version

snapshot="$db/SNAPSHOT.md"
[ -f "$snapshot" ] || { echo "FAIL: no advisory snapshot at $snapshot" >&2; exit 1; }
echo "advisory snapshot: $(grep -E 'upstream commit( date)?:' "$snapshot" | sed 's/^- //' | paste -sd ';' -)"

# One `--ignore ID` per entry of audit.toml; an entry without an id, a reason or a date
# stops the audit, so nothing is ignored without saying why.
ignore_args="$(python3 - <<'PY'
import datetime, sys, tomllib
with open("audit.toml", "rb") as f:
    entries = tomllib.load(f).get("ignore", [])
for entry in entries:
    missing = [k for k in ("id", "reason", "date") if not str(entry.get(k, "")).strip()]
    if missing:
        sys.exit(f"audit.toml: entry {entry.get('id', '?')} lacks {', '.join(missing)}")
    datetime.date.fromisoformat(str(entry["date"]))
    print("--ignore")
    print(entry["id"])
PY
)"
mapfile -t ignores <<<"$ignore_args"
echo "ignored by audit.toml (with reasons there): $(printf '%s\n' "${ignores[@]}" | grep -v -- --ignore | paste -sd ' ' -)"

status=0
for lock in Cargo.lock fuzz/Cargo.lock; do
  echo "--- cargo audit --file $lock"
  # The yanked check reads the local index cache: fetch the lock's crates first (and fail
  # here if the lock file is out of date with its manifest).
  cargo fetch --locked --quiet --manifest-path "$(dirname "$lock")/Cargo.toml"
  if cargo audit --db "$db" --no-fetch --deny warnings --file "$lock" "${ignores[@]}"; then
    echo "PASS: $lock"
  else
    echo "FAIL: $lock has an advisory that audit.toml does not list"
    status=1
  fi
done
exit "$status"
