#!/usr/bin/env bash
# The app on AWS Lambda, built and emulated with cargo-lambda (see docs/deploy.md#aws-lambda).
#
#   scripts/lambda.sh build    the deployable zip, target/lambda/server-side-sessions/bootstrap.zip
#                              (bootstrap + templates/), checked to run on provided.al2023
#   scripts/lambda.sh serve    the app in `cargo lambda watch`, its function URL on
#                              http://127.0.0.1:${PORT:-9000}/ until SIGINT or SIGTERM
#   scripts/lambda.sh check    the CI test: build, the adapter's unit tests, then the app
#                              through the emulator (tests/app/lambda/, run by name)
#   scripts/lambda.sh deploy-check   docs/classroom.md's AWS commands against moto, the AWS API
#                              emulator scripts/services.sh starts (tests/app/deploy.rs)
#
# serve takes its settings from the caller's ROCKET_* variables, and emulates the zip: no
# Rocket.toml (ROCKET_CONFIG=/dev/null unless set). LAMBDA_CONCURRENCY (instances, default 1)
# goes to the emulator. cargo-lambda and zig are installed from PyPI when missing, and so is
# the aws CLI for deploy-check (in a virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
CARGO_LAMBDA_VERSION=1.9.2
ZIG_VERSION=0.17.1
ZIP="${CARGO_TARGET_DIR:-$REPO/target}/lambda/server-side-sessions/bootstrap.zip"
AWSCLI_VERSION=1.45.11
AWSCLI_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/server-side-sessions/awscli-$AWSCLI_VERSION"
# Lambda's provided.al2023 runtime has glibc 2.34: bootstrap may need nothing newer.
GLIBC_FLOOR=2.34

die() { printf 'lambda.sh: %s\n' "$*" >&2; exit 2; }

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

# Where pip puts console scripts, on PATH for this run (pyenv shims may not know them yet).
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

# cargo-lambda ships as a static binary in a PyPI wheel; zig (its linker for an older glibc)
# too, as `python3 -m ziglang`, which cargo-lambda finds by itself.
ensure_tools() {
  if ! cargo lambda --version 2>/dev/null | grep -q "cargo-lambda $CARGO_LAMBDA_VERSION"; then
    echo "installing cargo-lambda $CARGO_LAMBDA_VERSION from PyPI"
    python3 -m pip install -q --root-user-action=ignore --no-deps "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
  if [ "${1:-}" = zig ] && ! python3 -m ziglang version 2>/dev/null | grep -qx "$ZIG_VERSION"; then
    echo "installing zig $ZIG_VERSION (the ziglang package) from PyPI"
    python3 -m pip install -q --root-user-action=ignore --no-deps "ziglang==$ZIG_VERSION"
  fi
}

ensure_awscli() {
  if ! "$AWSCLI_DIR/bin/aws" --version 2>&1 | grep -q "aws-cli/$AWSCLI_VERSION "; then
    echo "installing the aws CLI $AWSCLI_VERSION from PyPI into $AWSCLI_DIR"
    python3 -m venv "$AWSCLI_DIR"
    "$AWSCLI_DIR/bin/pip" install -q "awscli==$AWSCLI_VERSION"
  fi
}

# The newest glibc symbol version bootstrap needs must not pass GLIBC_FLOOR.
check_glibc() {
  local dir newest
  dir="$(mktemp -d)"
  python3 -m zipfile -e "$ZIP" "$dir"
  [ -f "$dir/bootstrap" ] && [ -f "$dir/templates/layout.html.hbs" ] || die "the zip lacks bootstrap or templates/"
  newest="$(objdump -T "$dir/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)"
  rm -rf "$dir"
  [ -n "$newest" ] || die "no glibc symbol versions found in bootstrap (is objdump installed?)"
  if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -n1)" != "$GLIBC_FLOOR" ]; then
    die "bootstrap needs glibc $newest; provided.al2023 has $GLIBC_FLOOR"
  fi
  echo "bootstrap.zip: $(stat -c %s "$ZIP") bytes; bootstrap needs glibc $newest at most (provided.al2023: $GLIBC_FLOOR)"
}

build() {
  ensure_tools zig
  command -v objdump >/dev/null || die "objdump is missing: apt-get install binutils"
  cargo lambda build --release --features lambda --output-format zip --include templates
  check_glibc
}

serve() {
  ensure_tools
  local args=(--features lambda --invoke-address 127.0.0.1 --invoke-port "${PORT:-9000}"
    --concurrency "${LAMBDA_CONCURRENCY:-1}" --ignore-changes
    # The emulator would otherwise answer every origin with CORS headers that allow
    # credentials: exactly what the app's cross-site rules refuse.
    --disable-cors)
  # The function inherits this environment: the caller's ROCKET_* settings.
  ROCKET_CONFIG="${ROCKET_CONFIG:-/dev/null}" exec cargo lambda watch "${args[@]}"
}

case "${1:-}" in
  build) build ;;
  serve) serve ;;
  check)
    build
    # The adapter's mapping of events, case by case (the unit tests need the feature).
    cargo test --features lambda --lib lambda
    # The emulated functions are the debug build with the feature, which the tests' build makes.
    exec cargo test --features lambda --test app -- --ignored lambda:: ;;
  deploy-check)
    ensure_tools zig
    ensure_awscli
    PATH="$AWSCLI_DIR/bin:$PATH" exec cargo test --features lambda --test app -- --ignored deploy:: ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
