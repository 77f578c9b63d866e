#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis servers the backend tests use are up, starting any that
# stopped. This machine kind starts both before a session; CI may find one stopped.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! redis_up; then
  echo "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 30); do
  if pg_up && redis_up; then
    echo "PostgreSQL: up (127.0.0.1:5432); Redis: up (127.0.0.1:6379)"
    exit 0
  fi
  sleep 1
done
pg_up || echo "PostgreSQL did not come up" >&2
redis_up || echo "Redis did not come up" >&2
exit 1
