#!/usr/bin/env bash
# A page on another origin that attacks the app: for each strategy, a forged form post and
# two fetch() calls with your cookies. Open it in the browser you use the app in, press the
# buttons, and watch each attempt refused (README, exercise 9).
#
#   scripts/cross-site.sh                         # the page on http://127.0.0.1:8090, aimed at http://127.0.0.1:8000
#   scripts/cross-site.sh --app http://localhost:8080 --port 9000
#
# The page is scripts/cross-site/page.py; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/cross-site/page.py "$@"
