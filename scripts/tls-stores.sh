#!/usr/bin/env bash
# TLS to the session stores, tested against real servers (CI runs this; see docs/stores-tls.md).
#
# Makes a throwaway certificate authority with openssl: a server certificate it signs (for
# 127.0.0.1 and localhost), an expired one it signs, and a second, unrelated authority. Then
# starts, on free ports, a TLS-only redis-server and a Postgres with `ssl = on` (each once
# with the good certificate and once with the expired one), plus a plain-text Redis and a
# Postgres with `ssl = off`, and runs `tests/app/tls.rs` against them: the store conformance
# suite and two app instances over verified TLS, and the cases that must fail (wrong CA,
# expired certificate, plain-text server behind a TLS URL). Everything lives in one temp
# directory and is stopped and removed on exit.
#
#   scripts/tls-stores.sh            # run the TLS tests
#   scripts/tls-stores.sh CMD ARGS   # run CMD instead, with the servers up and TLS_* set
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

work="$(mktemp -d /tmp/sss-tls.XXXXXX)"
chmod 755 "$work"
redis_pids=()
pg_dirs=()

# Postgres refuses to run as root; CI is root, a developer usually is not.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  set +e
  for pid in "${redis_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for dir in "${pg_dirs[@]}"; do as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$dir" -m immediate stop >/dev/null 2>&1; done
  for pid in "${redis_pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

make_certificates() {
  cd "$work"
  local ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=server-side-sessions test CA" \
    -keyout ca.key -out ca.pem "${ca_ext[@]}" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
    -keyout wrong-ca.key -out wrong-ca.pem "${ca_ext[@]}" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
  mkdir ca-db && touch ca-db/index.txt && echo 01 >ca-db/serial
  cat >ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = $work/ca-db/index.txt
serial = $work/ca-db/serial
new_certs_dir = $work/ca-db
certificate = $work/ca.pem
private_key = $work/ca.key
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[server]
subjectAltName = IP:127.0.0.1, DNS:localhost
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
EOF
  local sign=(openssl ca -batch -notext -config ca.cnf -extensions server -in server.csr)
  "${sign[@]}" -days 2 -out server.pem 2>/dev/null
  "${sign[@]}" -startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem 2>/dev/null
  openssl verify -CAfile ca.pem server.pem >/dev/null
  chmod 644 ./*.pem server.key
  cd - >/dev/null
}

# start_redis NAME PORT [redis-server options]: waits until it accepts connections.
start_redis() {
  local name="$1" port="$2"
  shift 2
  mkdir -p "$work/$name"
  redis-server --bind 127.0.0.1 --save '' --appendonly no --dir "$work/$name" \
    --logfile "$work/$name/log" "$@" &
  redis_pids+=("$!")
  for _ in $(seq 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "redis $name did not start:" >&2
  cat "$work/$name/log" >&2
  exit 1
}

# start_postgres NAME PORT SSL CERT: a copy of the template cluster, on PORT.
start_postgres() {
  local name="$1" port="$2" ssl="$3" cert="$4"
  local dir="$work/pg-$name"
  cp -a "$work/pg-template" "$dir"
  cp "$work/$cert" "$dir/server.crt"
  cp "$work/server.key" "$dir/server.key"
  chmod 600 "$dir/server.key"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.crt" "$dir/server.key"
  cat >>"$dir/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
ssl = $ssl
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
shared_buffers = 32MB
fsync = off
EOF
  pg_dirs+=("$dir")
  as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$dir" -l "$dir/log" -w -t 60 start >/dev/null
}

echo "--- certificates (CA, server, expired server, unrelated CA) in $work"
make_certificates

redis_good="$(free_port)"
start_redis redis-good "$redis_good" --port 0 --tls-port "$redis_good" --tls-auth-clients no \
  --tls-cert-file "$work/server.pem" --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem"
redis_expired="$(free_port)"
start_redis redis-expired "$redis_expired" --port 0 --tls-port "$redis_expired" --tls-auth-clients no \
  --tls-cert-file "$work/expired.pem" --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem"
redis_plain="$(free_port)"
start_redis redis-plain "$redis_plain" --port "$redis_plain"
echo "--- redis: TLS $redis_good, TLS with an expired certificate $redis_expired, plain text $redis_plain"

mkdir "$work/pg-template"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg-template"
as_pg /usr/lib/postgresql/15/bin/initdb -D "$work/pg-template" -U postgres --auth=trust >"$work/initdb.log"
pg_good="$(free_port)"
start_postgres good "$pg_good" on server.pem
pg_expired="$(free_port)"
start_postgres expired "$pg_expired" on expired.pem
pg_plain="$(free_port)"
start_postgres plain "$pg_plain" off server.pem
echo "--- postgres: ssl = on $pg_good, ssl = on with an expired certificate $pg_expired, ssl = off $pg_plain"

export TLS_CA="$work/ca.pem" TLS_WRONG_CA="$work/wrong-ca.pem"
export TLS_REDIS_URL="rediss://127.0.0.1:$redis_good"
export TLS_REDIS_EXPIRED_URL="rediss://127.0.0.1:$redis_expired"
export TLS_REDIS_PLAIN_URL="rediss://127.0.0.1:$redis_plain"
verify="sslmode=verify-full"
export TLS_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_good/postgres?$verify"
export TLS_DATABASE_EXPIRED_URL="postgres://postgres@127.0.0.1:$pg_expired/postgres?$verify"
export TLS_DATABASE_PLAIN_URL="postgres://postgres@127.0.0.1:$pg_plain/postgres?$verify"
# The TLS tests fail instead of skipping when these servers are not there.
export REQUIRE_TLS_STORES=1

if [ "$#" -gt 0 ]; then
  "$@"
else
  # --nocapture: each refusal case prints the answer it observed.
  cargo test --test app tls:: -- --nocapture
fi
