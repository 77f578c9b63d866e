#!/usr/bin/env bash
# The serverless lesson, live: N instances of the release server on loopback ports behind a
# real round-robin load balancer (nginx), so a student can watch each strategy survive or
# break when any request may land on any instance. See docs/cluster-demo.md.
#
#   scripts/cluster-demo.sh [--instances N] [--port P] [--store S] [--keys shared|per-instance]
#                           [--containers]
#   scripts/cluster-demo.sh --restart [I] [--port P]     (from a second terminal)
#   scripts/cluster-demo.sh --check                      (the automated check CI runs)
#
# The demo runs in the foreground and prints the one URL to open. Ctrl-C stops nginx and
# every instance, by process id, and deletes its temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BINARY="$REPO/target/release/server-side-sessions"

usage() {
  cat <<'EOF'
Usage:
  scripts/cluster-demo.sh [options]            start the cluster and wait (Ctrl-C stops it)
  scripts/cluster-demo.sh --restart [I]        restart instance I (default 1) of the running demo
  scripts/cluster-demo.sh --check              start clusters for every combination, drive
                                               them through nginx, assert the counts

Options:
  -n, --instances N   how many instances (default 3, at most 9)
  -p, --port P        the load balancer's port (default 8100); instance i listens on P+i
  -s, --store S       where server-side sessions live: memory (default), a redis://... URL
                      or a postgres://... URL (every instance gets the same setting)
  -k, --keys K        shared (default): one secret key for every instance;
                      per-instance: a different key each, so private cookies break
  -c, --containers    run each instance as a container of localhost/server-side-sessions:latest
                      (podman, the host's network, read-only, no capabilities) instead of a
                      process; scripts/container.sh build makes the image
      --no-build      use the release binary (or the image) as it is
  -h, --help          this text

While the demo runs, type an instance number and Enter in its terminal, or run
`scripts/cluster-demo.sh --restart I` in another one, to restart instance I on the same port
with the same settings (its global list starts empty again).
EOF
}

die() { printf 'cluster-demo: %s\n' "$*" >&2; exit 2; }

instances=3
port=8100
store=memory
keys=shared
build=1
containers=0
IMAGE="${IMAGE:-localhost/server-side-sessions:latest}"
action=run
restart_which=1
port_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--instances) instances="${2:-}"; shift 2 || die "$1 needs a number" ;;
    -p|--port) port="${2:-}"; port_given=1; shift 2 || die "$1 needs a port" ;;
    -s|--store) store="${2:-}"; shift 2 || die "$1 needs memory, a redis:// or a postgres:// URL" ;;
    -k|--keys) keys="${2:-}"; shift 2 || die "$1 needs shared or per-instance" ;;
    -c|--containers) containers=1; shift ;;
    --no-build) build=0; shift ;;
    --restart)
      action=restart; shift
      if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then restart_which="$1"; shift; fi ;;
    --check) action=check; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$instances" =~ ^[1-9]$ ]] || die "--instances must be 1 to 9, not '$instances'"
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1024 ] || [ $((port + instances)) -gt 65535 ]; then
  die "--port must be a number from 1024 up, with room for $instances instance ports after it"
fi
case "$store" in
  memory|redis://*|rediss://*|postgres://*|postgresql://*) ;;
  *) die "--store must be memory, a redis://... URL or a postgres://... URL" ;;
esac
case "$keys" in
  shared|per-instance) ;;
  *) die "--keys must be shared or per-instance, not '$keys'" ;;
esac

# Running demos register here (one file per balancer port: "<demo pid> <temp folder>"), so
# that `--restart` from another terminal can find them.
RUN_ROOT="${XDG_RUNTIME_DIR:-/tmp}/server-side-sessions-cluster-$(id -u)"

# --- nginx: Debian's package, installed on first use ----------------------------------------

find_nginx() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

ensure_nginx() {
  NGINX="$(find_nginx)"
  [ -n "$NGINX" ] && return 0
  echo "nginx is missing: installing Debian's nginx-light"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  command -v apt-get >/dev/null || die "nginx is missing and there is no apt-get: install nginx, then run this again"
  # Waits for another apt run to finish rather than failing on its lock.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq nginx-light >/dev/null
  NGINX="$(find_nginx)"
  [ -n "$NGINX" ] || die "installing nginx-light did not provide nginx"
}

ensure_binary() {
  if [ "$containers" -eq 1 ]; then
    if [ "$build" -eq 1 ]; then "$REPO/scripts/container.sh" build; else "$REPO/scripts/container.sh" setup; fi
    return
  fi
  if [ "$build" -eq 1 ]; then
    echo "building the release server (cargo build --release)"
    cargo build --release --quiet
  fi
  [ -x "$BINARY" ] || die "$BINARY is missing: run cargo build --release"
}

# --- --restart: ask the running demo to restart one of its instances -------------------------

request_restart() {
  local pointer demo_pid tmp n answer
  if [ "$port_given" -eq 1 ]; then
    pointer="$RUN_ROOT/$port"
    [ -f "$pointer" ] || die "no cluster demo is running with its balancer on port $port"
  else
    local found=()
    [ -d "$RUN_ROOT" ] && mapfile -t found < <(find "$RUN_ROOT" -maxdepth 1 -type f -name '[0-9]*' | sort)
    [ "${#found[@]}" -gt 0 ] || die "no cluster demo is running (start one with scripts/cluster-demo.sh)"
    [ "${#found[@]}" -eq 1 ] || die "several cluster demos are running (ports: $(basename -a "${found[@]}" | tr '\n' ' ')); name one with --port"
    pointer="${found[0]}"
  fi
  read -r demo_pid tmp <"$pointer"
  if ! kill -0 "$demo_pid" 2>/dev/null || [ ! -d "$tmp/requests" ]; then
    rm -f "$pointer"
    die "the cluster demo that was on port $(basename "$pointer") is gone"
  fi
  n="$(cat "$tmp/instances")"
  { [[ "$restart_which" =~ ^[0-9]+$ ]] && [ "$restart_which" -ge 1 ] && [ "$restart_which" -le "$n" ]; } \
    || die "the demo has instances 1 to $n; there is no instance $restart_which"
  # The demo itself restarts the instance (it stays the parent of every process it started, so
  # its Ctrl-C still stops them all); this side drops a request and waits for the answer.
  echo "$restart_which" >"$tmp/requests/$$.tmp"
  mv "$tmp/requests/$$.tmp" "$tmp/requests/$$.req"
  for _ in $(seq 1 600); do
    if [ -f "$tmp/requests/$$.done" ]; then
      answer="$(cat "$tmp/requests/$$.done")"
      rm -f "$tmp/requests/$$.done"
      echo "${answer#* }"
      [ "${answer%% *}" = ok ]
      return
    fi
    kill -0 "$demo_pid" 2>/dev/null || die "the cluster demo stopped before answering"
    sleep 0.1
  done
  rm -f "$tmp/requests/$$.req"
  die "the cluster demo did not restart instance $restart_which within 60 s"
}

case "$action" in
  restart) request_restart; exit ;;
  check)
    ensure_nginx
    ensure_binary
    command -v python3 >/dev/null || die "the check needs python3"
    extra=()
    [ "$containers" -eq 1 ] && extra+=(--containers)
    PYTHONPATH="$REPO/scripts/lib" exec python3 -B "$REPO/scripts/cluster-demo/check.py" --instances "$instances" "${extra[@]}"
    ;;
esac

# --- the demo ---------------------------------------------------------------------------------

command -v curl >/dev/null || die "the demo needs curl"
ensure_nginx
ensure_binary

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $(seq "$port" $((port + instances))); do
  port_open "$p" && die "port $p is in use; pick other ports with --port"
done

# Keys live only in this shell's memory, never in a file. 32 random bytes, base64.
new_key() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }
declare -a key pid instance_id
shared_key="$(new_key)"
for i in $(seq 1 "$instances"); do
  if [ "$keys" = shared ]; then key[i]="$shared_key"; else key[i]="$(new_key)"; fi
done

# The temporary folder: nginx's config, logs and temp paths, the instances' logs, and the
# files `--restart` talks through. World-readable because nginx's workers run as `nobody`
# when this runs as root; it holds no secret.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cluster-demo.XXXXXX")"
chmod 755 "$TMP"
mkdir -p "$TMP/requests" "$TMP/nginx-temp" "$TMP/www/static"
chmod 700 "$TMP/requests"
echo "$instances" >"$TMP/instances"
nginx_pid=""
pointer="$RUN_ROOT/$port"
ticker=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Finish even when stdout is gone (Ctrl-C on `cluster-demo.sh | tee log` kills tee too):
  # a failed echo must not stop the cleanup before the processes and the folder are gone.
  set +e
  trap '' PIPE
  echo
  echo "stopping the cluster demo"
  local all=()
  [ -n "$ticker" ] && all+=("$ticker")
  [ -n "$nginx_pid" ] && all+=("$nginx_pid")
  for i in "${!pid[@]}"; do all+=("${pid[i]}"); done
  for p in "${all[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # A container outlives a podman client killed with SIGKILL: remove any by name.
  if [ "$containers" -eq 1 ]; then
    for i in "${!pid[@]}"; do podman rm -f -t 0 "$(container_name "$i")" >/dev/null 2>&1 || true; done
  fi
  [ -n "$nginx_pid" ] && echo "  stopped nginx (pid $nginx_pid)"
  for i in "${!pid[@]}"; do echo "  stopped instance $i (pid ${pid[i]})"; done
  # Only our own pointer: another demo may have taken the port's file since.
  if [ -f "$pointer" ] && [ "$(cut -d' ' -f1 "$pointer")" = "$$" ]; then rm -f "$pointer"; fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

write_pids() {
  { echo "nginx $nginx_pid"; for i in "${!pid[@]}"; do echo "instance$i ${pid[i]}"; done; } >"$TMP/pids.tmp"
  mv "$TMP/pids.tmp" "$TMP/pids"
}

container_name() { echo "sss-demo-$port-$1"; }

start_instance() {
  local i=$1
  # A subshell that execs the server: the key reaches it through the environment, never
  # through a command line that `ps` would show.
  (
    export ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT=$((port + i)) ROCKET_SECRET_KEY="${key[i]}"
    export ROCKET_SESSION_STORE="$store"
    unset ROCKET_PREVIOUS_SECRET_KEYS
    # Plain http on loopback: the check's Python cookie jar returns `Secure` cookies only over
    # https (see docs/cluster-demo.md). Everything else is the release profile.
    export ROCKET_COOKIE_SECURE=false ROCKET_LOG_LEVEL=normal ROCKET_CLI_COLORS=false
    # nginx sets X-Real-IP to the visitor's address: behind it (and only there) the app may
    # trust that header for its per-client rate on new sessions.
    export ROCKET_IP_HEADER=X-Real-IP
    if [ "$containers" -eq 1 ]; then
      # Attached, so this podman client is the instance's pid here: it passes our SIGTERM on
      # to the app (PID 1 in the container) and exits with it. `-e NAME` copies each value
      # from this environment; the host's network, so the instance is on 127.0.0.1 like a
      # process, and reaches a store on 127.0.0.1 too.
      exec podman run --rm --name "$(container_name "$i")" --network host \
        --read-only --cap-drop ALL --security-opt no-new-privileges \
        -e ROCKET_ADDRESS -e ROCKET_PORT -e ROCKET_SECRET_KEY -e ROCKET_SESSION_STORE \
        -e ROCKET_COOKIE_SECURE -e ROCKET_LOG_LEVEL -e ROCKET_CLI_COLORS -e ROCKET_IP_HEADER "$IMAGE"
    fi
    exec "$BINARY"
  ) >>"$TMP/instance-$i.log" 2>&1 </dev/null &
  pid[i]=$!
  # Still our child, stopped by its pid; disowned only so bash prints no job notice
  # ("Killed ...") when it ends.
  disown "${pid[i]}"
  write_pids
}

# Waits until instance i answers and sets instance_id[i] from its X-Instance header.
wait_instance() {
  local i=$1 header
  local p=$((port + i))
  for _ in $(seq 1 300); do
    if ! kill -0 "${pid[i]}" 2>/dev/null; then
      echo "instance $i exited; the end of its log ($TMP/instance-$i.log):" >&2
      tail -n 15 "$TMP/instance-$i.log" >&2
      return 1
    fi
    # Any answer will do (/healthz says 503 while a network store is down; the app serves).
    if header="$(curl -sS --max-time 2 -o /dev/null -D - "http://127.0.0.1:$p/healthz" 2>/dev/null)"; then
      instance_id[i]="$(printf '%s' "$header" | tr -d '\r' | sed -n 's/^[Xx]-[Ii][Nn][Ss][Tt][Aa][Nn][Cc][Ee]: *\([0-9a-f]*\) .*/\1/p')"
      [ -n "${instance_id[i]}" ] && return 0
    fi
    sleep 0.1
  done
  echo "instance $i did not answer on port $p within 30 s" >&2
  return 1
}

restart_instance() {
  local i=$1 old_pid=${pid[$1]} old_id=${instance_id[$1]}
  kill -TERM "$old_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$old_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$old_pid" 2>/dev/null || true
  [ "$containers" -eq 1 ] && podman rm -f -t 0 "$(container_name "$i")" >/dev/null 2>&1
  start_instance "$i"
  if wait_instance "$i"; then
    RESTART_MESSAGE="instance $i restarted on port $((port + i)): id $old_id -> ${instance_id[i]} (pid $old_pid -> ${pid[i]}); its global list is empty again"
    return 0
  fi
  RESTART_MESSAGE="instance $i did not come back; see $TMP/instance-$i.log"
  return 1
}

# The balancer. One worker and a shared zone, so the rotation is one strict round robin
# whichever connection a request comes on. `max_fails=0`: an instance being restarted is
# skipped while it is down (nginx passes the request to the next one) and used again as soon
# as it is back, rather than being benched for 10 s. No `keepalive` to the instances: it
# would not change the rotation (nginx picks the instance first, then a cached connection to
# it), but without it a restart never waits on idle connections. The stylesheet and icon are
# served by nginx itself, so that only pages and API calls take turns: otherwise a browser's
# 3 requests per page (page, stylesheet, icon) would land the page on the same instance each
# time with 3 instances.
{
  echo "# Written by scripts/cluster-demo.sh; deleted when the demo stops."
  echo "daemon off;"
  echo "worker_processes 1;"
  echo "pid $TMP/nginx.pid;"
  echo "error_log $TMP/nginx-error.log notice;"
  echo "events { worker_connections 512; }"
  echo "http {"
  echo "  types { text/css css; }"
  echo "  log_format balancer '\$time_local \"\$request\" \$status -> \$upstream_addr';"
  echo "  access_log $TMP/nginx-access.log balancer;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $TMP/nginx-temp/$t;"; done
  echo "  upstream cluster {"
  echo "    zone cluster 64k;"
  for i in $(seq 1 "$instances"); do echo "    server 127.0.0.1:$((port + i)) max_fails=0;"; done
  echo "  }"
  echo "  server {"
  echo "    listen 127.0.0.1:$port;"
  echo "    location = /static/style.css { root $TMP/www; add_header Cache-Control 'public, max-age=3600'; }"
  echo "    location = /favicon.ico { return 204; }"
  echo "    location / {"
  echo "      proxy_pass http://cluster;"
  # Without Sec-Fetch-Site (older browsers) the app compares Origin with Host to refuse
  # cross-site writes: Host must arrive as the browser sent it (with the port).
  echo "      proxy_set_header Host \$http_host;"
  echo "      proxy_set_header X-Real-IP \$remote_addr;"
  echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
  echo "      proxy_set_header X-Forwarded-Proto \$scheme;"
  echo "      proxy_connect_timeout 2s;"
  echo "    }"
  echo "  }"
  echo "}"
} >"$TMP/nginx.conf"
cp "$REPO/static/style.css" "$TMP/www/static/style.css"

if [ "$containers" -eq 1 ]; then
  echo "starting $instances containers of $IMAGE"
else
  echo "starting $instances instances of $BINARY"
fi
for i in $(seq 1 "$instances"); do start_instance "$i"; done
for i in $(seq 1 "$instances"); do wait_instance "$i" || exit 1; done

"$NGINX" -t -q -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" \
  || { cat "$TMP/nginx-error.log" >&2; exit 1; }
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" </dev/null >>"$TMP/nginx-stderr.log" 2>&1 &
nginx_pid=$!
disown "$nginx_pid"
write_pids
for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.1; done
if ! kill -0 "$nginx_pid" 2>/dev/null || ! port_open "$port"; then
  echo "nginx did not start:" >&2
  tail -n 15 "$TMP/nginx-error.log" >&2
  exit 1
fi

[ -d "$RUN_ROOT" ] || mkdir -m 700 "$RUN_ROOT"
[ -O "$RUN_ROOT" ] || die "$RUN_ROOT belongs to someone else"
echo "$$ $TMP" >"$pointer"

case "$store" in
  memory) store_shown="memory (each instance has its own)" ;;
  *) where="${store#*://}"; store_shown="${store%%://*} at ${where#*@}, shared by every instance" ;;
esac
[ "$keys" = shared ] && keys_shown="one secret key, shared by every instance" \
  || keys_shown="a different secret key per instance"
echo
echo "Cluster demo: $instances instances behind nginx, plain round robin"
echo "  session store:  $store_shown"
echo "  secret keys:    $keys_shown"
for i in $(seq 1 "$instances"); do
  echo "  instance $i:     http://127.0.0.1:$((port + i))  id ${instance_id[i]}  pid ${pid[i]}  log $TMP/instance-$i.log"
done
echo "  nginx:          pid $nginx_pid, config $TMP/nginx.conf, log $TMP/nginx-access.log"
echo
echo "Open http://127.0.0.1:$port"
echo
echo "Add an item to each list, then refresh a few times and watch the badge at the top"
echo "(\"Answered by instance ...\"): every refresh goes to the next instance."
echo "Restart instance I: type I and Enter here, or run scripts/cluster-demo.sh --restart I"
echo "Ctrl-C stops everything."

# Reports an instance that exits on its own once, and keeps nginx in check.
declare -A reported
RESTART_MESSAGE=""
keyboard=0
[ -t 0 ] && keyboard=1
handle_restart() {
  local i=$1
  if ! [[ "$i" =~ ^[0-9]+$ ]] || [ "$i" -lt 1 ] || [ "$i" -gt "$instances" ]; then
    RESTART_MESSAGE="there is no instance '$i' (1 to $instances)"
    return 1
  fi
  echo "restarting instance $i ..."
  unset "reported[$i]"
  restart_instance "$i"
}

while :; do
  if ! kill -0 "$nginx_pid" 2>/dev/null; then
    echo "nginx exited; the end of its log:" >&2
    tail -n 15 "$TMP/nginx-error.log" >&2
    exit 1
  fi
  for i in $(seq 1 "$instances"); do
    if ! kill -0 "${pid[i]}" 2>/dev/null && [ -z "${reported[$i]:-}" ]; then
      reported[$i]=1
      echo "instance $i (pid ${pid[i]}) exited on its own; nginx skips it. Restart it: type $i and Enter, or scripts/cluster-demo.sh --restart $i"
    fi
  done
  for request in "$TMP"/requests/*.req; do
    [ -e "$request" ] || continue
    which="$(cat "$request")"
    rm -f "$request"
    if handle_restart "$which"; then result=ok; else result=failed; fi
    echo "$RESTART_MESSAGE"
    echo "$result $RESTART_MESSAGE" >"${request%.req}.done"
  done
  if [ "$keyboard" -eq 1 ]; then
    status=0
    read -r -t 0.5 line || status=$?
    if [ "$status" -eq 0 ]; then
      case "$line" in
        "") ;;
        q|quit|exit) exit 0 ;;
        *) handle_restart "$line" || true; echo "$RESTART_MESSAGE" ;;
      esac
    elif [ "$status" -le 128 ]; then
      keyboard=0 # end of input (Ctrl-D): keep running, without the keyboard
    fi
  else
    sleep 0.2 &
    ticker=$!
    wait "$ticker" || true
    ticker=""
  fi
done
