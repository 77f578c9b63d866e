#!/usr/bin/env bash
# Smoke test of the Shuttle entry point: builds and starts the app with `cargo shuttle run`
# (which builds with `--no-default-features --features shuttle`, debug profile), then checks
# over HTTP that it serves and that the private cookie survives a round trip (those checks are
# scripts/shuttle-smoke/check.py).
#
#   scripts/shuttle-smoke.sh
#
# Environment:
#   SMOKE_TIMEOUT        seconds to wait for /healthz, build included (default 600)
#   SMOKE_EXTRA_SECRETS  path to a TOML file of further secrets (`KEY = "value"` lines, e.g. a
#                        database URL) appended to the generated Secrets.toml
#   SMOKE_EXPECT_STORE   the session store backend `/api/inspect` must name (default memory;
#                        `postgres` with ROCKET_SESSION_STORE = "shuttle-postgres")
#
# Note: `cargo shuttle run` builds into the shared target/ directory, so afterwards
# target/debug/server-side-sessions is the Shuttle variant (it exits at once when started
# directly). `cargo run` / `cargo build` rebuild the plain one.
#
# Secrets come from a throwaway Secrets.toml with a fresh key in a temporary directory
# (passed with --secrets); nothing is written into the repository. Everything started here is
# stopped on exit. Exit status: 0 when every check passes, 1 otherwise.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TIMEOUT="${SMOKE_TIMEOUT:-600}"
EXPECT_STORE="${SMOKE_EXPECT_STORE:-memory}"
FAILURES=0
SERVER_PID=""
SERVER_PGID=""
WORK=""
LOG=""
HAD_REPO_SECRETS=0
[[ -e "$ROOT/Secrets.toml" ]] && HAD_REPO_SECRETS=1

say() { printf '==> %s\n' "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*"
    FAILURES=$((FAILURES + 1))
}

show_log_tail() {
    if [[ -n "$LOG" && -s "$LOG" ]]; then
        printf -- '---- last 60 lines of the server log (%s) ----\n' "$LOG"
        tail -n 60 "$LOG" | sed 's/\x1b\[[0-9;]*m//g'
        printf -- '---- end of server log ----\n'
    fi
}

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        say "stopping cargo shuttle run (pid $SERVER_PID)"
        # SIGTERM to the whole group: cargo-shuttle kills its runtime child on SIGTERM, and the
        # runtime (Rocket) and any cargo build still running get it too.
        if [[ -n "$SERVER_PGID" ]]; then
            kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
        else
            kill -TERM "$SERVER_PID" 2>/dev/null || true
        fi
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
    fi
    # Whatever is left of the group (the runtime outliving cargo-shuttle, for instance).
    if [[ -n "$SERVER_PGID" ]] && kill -0 -- "-$SERVER_PGID" 2>/dev/null; then
        kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    if [[ -n "$WORK" ]]; then
        # The log is kept only when something failed, for a closer look.
        if [[ $status -ne 0 || $FAILURES -ne 0 ]] && [[ -n "$LOG" && -s "$LOG" ]]; then
            cp "$LOG" "${TMPDIR:-/tmp}/shuttle-smoke-last.log" 2>/dev/null &&
                say "server log kept at ${TMPDIR:-/tmp}/shuttle-smoke-last.log"
        fi
        rm -rf "$WORK"
    fi
    # This script never writes a Secrets.toml into the repository; make sure none appeared.
    if [[ $HAD_REPO_SECRETS -eq 0 && -e "$ROOT/Secrets.toml" ]]; then
        rm -f "$ROOT/Secrets.toml"
        printf 'FAIL: a Secrets.toml appeared in the repository during the run (removed)\n'
        status=1
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need() {
    command -v "$1" >/dev/null 2>&1 || {
        printf 'FAIL: "%s" is required but not installed\n' "$1"
        exit 1
    }
}

free_port() {
    PYTHONPATH="$ROOT/scripts/lib" python3 -c 'import app_http; print(app_http.free_port())'
}

new_key() {
    python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'
}

# ---------------------------------------------------------------------------------------------
# Setup

need cargo
need curl
need python3

if cargo shuttle --version >/dev/null 2>&1; then
    say "using $(cargo shuttle --version)"
else
    say "cargo-shuttle not found: installing it (cargo install --locked cargo-shuttle; this takes a while)"
    cargo install --locked cargo-shuttle
    cargo shuttle --version >/dev/null 2>&1 || {
        printf 'FAIL: cargo-shuttle was installed but "cargo shuttle --version" still fails\n'
        exit 1
    }
    say "using $(cargo shuttle --version)"
fi

umask 077
WORK="$(mktemp -d "${TMPDIR:-/tmp}/shuttle-smoke.XXXXXX")"
LOG="$WORK/server.log"
SECRETS="$WORK/Secrets.toml"

KEY="$(new_key)"
printf 'ROCKET_SECRET_KEY = "%s"\n' "$KEY" >"$SECRETS"
unset KEY
if [[ -n "${SMOKE_EXTRA_SECRETS:-}" ]]; then
    [[ -r "$SMOKE_EXTRA_SECRETS" ]] || {
        printf 'FAIL: SMOKE_EXTRA_SECRETS=%s is not a readable file\n' "$SMOKE_EXTRA_SECRETS"
        exit 1
    }
    cat "$SMOKE_EXTRA_SECRETS" >>"$SECRETS"
fi

PORT="$(free_port)" || {
    printf 'FAIL: could not find a free TCP port\n'
    exit 1
}

# Debug build, so the [debug] profile applies: cookie_secure = false, plain `cookie_session`
# (a Secure cookie would not come back over plain http).
RUN_ARGS=(run --port "$PORT" --secrets "$SECRETS")

say "cargo shuttle --working-directory $ROOT ${RUN_ARGS[*]}  (log: $LOG)"
# Created here, not by the background job's redirection, so that it exists before the wait
# loop first reads it.
: >"$LOG"
START=$SECONDS
# A session of its own, so everything it starts (cargo build, the runtime) can be stopped as
# one process group. `setsid` without --fork execs in place, so $! is cargo-shuttle itself.
if command -v setsid >/dev/null 2>&1; then
    setsid cargo shuttle --working-directory "$ROOT" "${RUN_ARGS[@]}" </dev/null >"$LOG" 2>&1 &
    SERVER_PID=$!
    SERVER_PGID=$SERVER_PID
else
    set -m
    cargo shuttle --working-directory "$ROOT" "${RUN_ARGS[@]}" </dev/null >"$LOG" 2>&1 &
    SERVER_PID=$!
    SERVER_PGID=$SERVER_PID
    set +m
fi

# ---------------------------------------------------------------------------------------------
# Wait for /healthz (the first run compiles the whole dependency tree)

BASE="http://127.0.0.1:$PORT"
say "waiting up to ${TIMEOUT}s for $BASE/healthz"
healthy=0
while ((SECONDS - START < TIMEOUT)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        fail "cargo shuttle run exited before the app answered (build or startup failure)"
        show_log_tail
        exit 1
    fi
    # cargo-shuttle moves to another port if the chosen one was taken in the meantime.
    moved="$(sed -n 's/.*Port [0-9]* is already in use\. Using port \([0-9]*\)\..*/\1/p' "$LOG" 2>/dev/null |
        tail -n 1 || true)"
    if [[ -n "$moved" && "$moved" != "$PORT" ]]; then
        say "cargo-shuttle moved the app to port $moved"
        PORT="$moved"
        BASE="http://127.0.0.1:$PORT"
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz" 2>/dev/null || true)"
    if [[ "$code" == 200 ]]; then
        healthy=1
        break
    fi
    sleep 1
done
if [[ $healthy -ne 1 ]]; then
    fail "GET /healthz did not answer 200 within ${TIMEOUT}s"
    show_log_tail
    exit 1
fi
pass "GET /healthz answered 200 after $((SECONDS - START))s (port $PORT)"

# ---------------------------------------------------------------------------------------------
# Checks: over HTTP, in Python (JSON is parsed as JSON), one PASS or FAIL line each

PYTHONPATH="$ROOT/scripts/lib" python3 -B "$ROOT/scripts/shuttle-smoke/check.py" "$BASE" --expect-store "$EXPECT_STORE" ||
    FAILURES=$((FAILURES + 1))

# ---------------------------------------------------------------------------------------------

if [[ $FAILURES -ne 0 ]]; then
    show_log_tail
    printf 'FAIL: %d check(s) failed (%ds)\n' "$FAILURES" "$((SECONDS - START))"
    exit 1
fi
printf 'PASS: all checks passed (%ds)\n' "$((SECONDS - START))"
