#!/usr/bin/env bash
# Regenerate the README's screenshots (docs/screenshot-*.png) from the current code.
#
# The browser test `screenshots` sets up two visitors in headless Chromium and photographs the
# comparison page; UPDATE_SCREENSHOTS=1 makes it write into docs/ instead of the build
# directory. Needs Debian's chromium and chromium-driver (or CHROMIUM and CHROMEDRIVER set).
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_SCREENSHOTS=1 REQUIRE_BROWSER=1 cargo test --test browser screenshots -- --nocapture
ls -l docs/screenshot-*.png
