#!/usr/bin/env bash
# The serverless lesson, live: N instances of the release server (or containers of its image)
# on loopback ports P+1..P+N behind a real round-robin load balancer, nginx, on port P. See
# docs/cluster-demo.md; tests/app/cluster.rs runs this script and checks what it shows.
#
#   scripts/cluster-demo.sh [--instances N] [--port P] [--store memory|redis://...|postgres://...]
#                           [--keys shared|per-instance] [--containers] [--no-build]
#
# Type an instance number and Enter to restart that instance; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY="${CARGO_TARGET_DIR:-$PWD/target}/release/server-side-sessions"
IMAGE="${IMAGE:-localhost/server-side-sessions:latest}"
die() { printf 'cluster-demo: %s\n' "$*" >&2; exit 2; }

instances=3 port=8100 store=memory keys=shared containers=0 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--instances) instances="${2:-}"; shift 2 || die "$1 needs a number" ;;
    -p|--port) port="${2:-}"; shift 2 || die "$1 needs a port" ;;
    -s|--store) store="${2:-}"; shift 2 || die "$1 needs memory or a store URL" ;;
    -k|--keys) keys="${2:-}"; shift 2 || die "$1 needs shared or per-instance" ;;
    -c|--containers) containers=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$instances" =~ ^[1-9]$ ]] || die "--instances must be 1 to 9, not '$instances'"
{ [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ $((port + instances)) -le 65535 ]; } \
  || die "--port must be 1024 or more, with room for $instances instance ports after it"
[[ "$keys" =~ ^(shared|per-instance)$ ]] || die "--keys must be shared or per-instance, not '$keys'"

NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$NGINX" ]; then
  echo "nginx is missing: installing Debian's nginx-light"
  sudo=() && [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq nginx-light
fi
if [ "$containers" -eq 1 ]; then
  if [ "$build" -eq 1 ]; then scripts/container.sh build; else scripts/container.sh setup; fi
elif [ "$build" -eq 1 ]; then
  cargo build --release --quiet
fi
[ "$containers" -eq 1 ] || [ -x "$BINARY" ] || die "$BINARY is missing: run cargo build --release"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $(seq "$port" $((port + instances))); do
  ! port_open "$p" || die "port $p is in use; pick other ports with --port"
done

# The keys live only in this shell's memory, never in a file: 32 random bytes, base64.
new_key() { head -c 32 /dev/urandom | base64 -w0; }
declare -a key pid name
starts=0
shared_key="$(new_key)"
for i in $(seq 1 "$instances"); do
  if [ "$keys" = shared ]; then key[i]="$shared_key"; else key[i]="$(new_key)"; fi
done

# nginx's config, logs and temp paths and the instances' logs; no secret. World-readable:
# nginx's workers run as `nobody` when this runs as root.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cluster-demo.XXXXXX")"
chmod 755 "$TMP"
mkdir -p "$TMP/temp" "$TMP/www/static"
cp static/style.css "$TMP/www/static/"
nginx_pid=""
cleanup() {
  trap - EXIT INT TERM
  trap '' PIPE # keep going when the terminal is gone
  set +e
  echo "stopping nginx and the instances (pids $nginx_pid ${pid[*]})"
  kill -TERM $nginx_pid 2>/dev/null
  for i in "${!pid[@]}"; do stop_instance "$i" & done
  wait # for every instance's process, and for each podman client once its container is gone
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Until the port answers; 1 with the end of the log when the process exits or 30 s pass.
wait_up() {
  for _ in $(seq 1 300); do
    port_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "nothing answers on port $1; the end of $3:" >&2
  tail -n 15 "$3" >&2
  return 1
}

# The key reaches the server through the environment, never through a command line `ps` shows.
# Plain http, so no `Secure` cookies: their names are as in `cargo run`. nginx sets X-Real-IP.
start_instance() {
  local i=$1
  # A name of its own per start: the container a restart replaces may still be being removed.
  starts=$((starts + 1))
  name[i]="sss-demo-$port-$i-$starts"
  (
    unset ROCKET_PREVIOUS_SECRET_KEYS
    export ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT=$((port + i)) ROCKET_SECRET_KEY="${key[i]}" \
      ROCKET_SESSION_STORE="$store" ROCKET_COOKIE_SECURE=false ROCKET_IP_HEADER=X-Real-IP \
      ROCKET_LOG_LEVEL=normal ROCKET_CLI_COLORS=false
    # Attached: this podman client runs until its container has ended, and its pid stands for it.
    [ "$containers" -eq 0 ] || exec podman run --rm --name "${name[i]}" --network host \
      --read-only --cap-drop ALL --security-opt no-new-privileges -e 'ROCKET_*' "$IMAGE"
    exec "$BINARY"
  ) >>"$TMP/instance-$i.log" 2>&1 </dev/null &
  pid[i]=$!
  wait_up $((port + i)) "${pid[i]}" "$TMP/instance-$i.log"
}

# Asks instance i to stop; its caller waits for its pid. A container is stopped through podman,
# which returns once the container's process has ended: the attached podman client, sent
# SIGTERM itself, may end before its container does and leave the port answering a while.
stop_instance() {
  local i=$1
  if [ "$containers" -eq 1 ] && podman stop --ignore --time 10 "${name[i]}" >/dev/null 2>&1; then
    return 0
  fi
  kill -TERM "${pid[i]}" 2>/dev/null
}

for i in $(seq 1 "$instances"); do start_instance "$i" || exit 1; done

# One worker and a shared zone: one strict rotation whichever connection a request comes on.
# max_fails=0: a restarting instance's turn passes to the next, and it is back at its next one.
# nginx serves the stylesheet and icon itself, so that only pages and API calls take turns.
# Host as the browser sent it: the app compares it with Origin to refuse cross-site forms.
cat >"$TMP/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/nginx.pid;
events { worker_connections 512; }
http {
  types { text/css css; }
  log_format balancer '\$time_local "\$request" \$status -> \$upstream_addr';
  access_log $TMP/nginx-access.log balancer;
  client_body_temp_path $TMP/temp/body; proxy_temp_path $TMP/temp/proxy;
  fastcgi_temp_path $TMP/temp/fastcgi; uwsgi_temp_path $TMP/temp/uwsgi; scgi_temp_path $TMP/temp/scgi;
  upstream cluster {
    zone cluster 64k;
$(for i in $(seq 1 "$instances"); do echo "    server 127.0.0.1:$((port + i)) max_fails=0;"; done)
  }
  server {
    listen 127.0.0.1:$port;
    location = /static/style.css { root $TMP/www; add_header Cache-Control 'public, max-age=3600'; }
    location = /favicon.ico { return 204; }
    location / {
      proxy_pass http://cluster;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
    }
  }
}
EOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" </dev/null >>"$TMP/nginx-error.log" 2>&1 &
nginx_pid=$!
wait_up "$port" "$nginx_pid" "$TMP/nginx-error.log" || exit 1

what=$([ "$containers" -eq 1 ] && echo "containers of $IMAGE" || echo "instances of $BINARY")
echo "Cluster demo: $instances $what behind nginx's round robin,"
echo "session store ${store%%://*}, $keys secret keys"
for i in $(seq 1 "$instances"); do
  echo "  instance $i: http://127.0.0.1:$((port + i))  pid ${pid[i]}  log $TMP/instance-$i.log"
done
echo "  nginx:      pid $nginx_pid  config $TMP/nginx.conf  log $TMP/nginx-access.log"
echo "Open http://127.0.0.1:$port"
echo "Type an instance number and Enter to restart it; Ctrl-C stops everything."

while read -r line; do
  if [[ "$line" =~ ^[1-9]$ ]] && [ "$line" -le "$instances" ]; then
    old=${pid[line]}
    stop_instance "$line" || true
    wait "$old" || true
    start_instance "$line" && echo "instance $line restarted on port $((port + line)):" \
      "pid $old stopped, pid ${pid[line]} started; its global list is empty again"
  elif [ -n "$line" ]; then
    echo "there is no instance '$line' (1 to $instances)"
  fi
done
wait "$nginx_pid" # no more input (Ctrl-D, or none): run until Ctrl-C
