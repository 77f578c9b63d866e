#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis servers the backend tests use are up, starting any that
# stopped (this machine kind starts both before a session; CI may find one stopped), and the
# DynamoDB emulator the `dynamodb` feature's tests use: moto's server, pinned, installed from
# PyPI into a virtualenv of its own under ~/.cache on first use, on 127.0.0.1:5000.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
moto_up() { curl -sf -o /dev/null --max-time 2 http://127.0.0.1:5000/moto-api/; }

MOTO_VERSION=5.2.5
moto_dir="${XDG_CACHE_HOME:-$HOME/.cache}/server-side-sessions/moto-$MOTO_VERSION"

if ! pg_up; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! redis_up; then
  echo "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
if ! moto_up; then
  if ! "$moto_dir/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "installing moto $MOTO_VERSION into $moto_dir"
    # The system's packages stay visible: pip installs only what they lack.
    python3 -m venv --system-site-packages "$moto_dir"
    "$moto_dir/bin/pip" install -q "moto[server]==$MOTO_VERSION"
  fi
  echo "the DynamoDB emulator is down; starting moto $MOTO_VERSION"
  # One request at a time, as DynamoDB applies writes to an item (scripts/lib/dynamodb_emulator.py).
  setsid nohup "$moto_dir/bin/python" "$here/lib/dynamodb_emulator.py" 127.0.0.1 5000 \
    >"$moto_dir/server.log" 2>&1 </dev/null &
fi
for _ in $(seq 1 30); do
  if pg_up && redis_up && moto_up; then
    echo "PostgreSQL: up (127.0.0.1:5432); Redis: up (127.0.0.1:6379); DynamoDB emulator: up (127.0.0.1:5000)"
    exit 0
  fi
  sleep 1
done
pg_up || echo "PostgreSQL did not come up" >&2
redis_up || echo "Redis did not come up" >&2
moto_up || echo "the DynamoDB emulator did not come up (see $moto_dir/server.log)" >&2
exit 1
