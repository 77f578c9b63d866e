"""The flood scenario (`scripts/bench.sh --flood`): what a flood of new sessions does.

Each cookie-less `POST /api/server-session/items` would start a session. For each setting,
a visitor makes a session before the flood; then

1. one client floods with wrk (all requests from 127.0.0.1), and
2. many clients flood at once: Python threads, each bound to its own loopback source address
   (127.0.1.1 and up; the whole 127.0.0.0/8 is this machine's).

It reports sessions created, answers by status (201 created, 429 too fast, 503 full), the
server's peak resident memory, and whether the session made before the flood still reads
back, `/healthz` answers 200 and the other two strategies still take writes.

It runs twice: with the app's bounds as configured (`session_limit`, the per-client rate),
and with both set out of reach, which is how the app behaved before it had them.
"""

import http.client
import json
import threading
import time

import report
import wrk
from server import UNBOUNDED as OFF

MIB = 1024


def many_clients(port, clients, seconds):
    """Cookie-less session writes from `clients` source addresses at once, for `seconds`."""
    counts = {"created": 0, "too_many": 0, "full": 0, "other": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    names = {201: "created", 429: "too_many", 503: "full"}

    def client(n):
        source = f"127.0.{1 + n // 250}.{1 + n % 250}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        mine = dict.fromkeys(counts, 0)
        while time.monotonic() < stop:
            try:
                conn.request("POST", "/api/server-session/items", body='{"item":"flood"}',
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                mine[names.get(response.status, "other")] += 1
            except OSError:
                mine["other"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                                  source_address=(source, 0))
        conn.close()
        with lock:
            for key, value in mine.items():
                counts[key] += value

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def survivors(server, cookie):
    """After a flood: the early session, /healthz, and a write to each other strategy."""
    kept = server.call("GET", "/api/server-session/items", cookie=cookie).json().get("items")
    health = server.call("GET", "/healthz").status
    others = [server.call("POST", f"/api/{slug}/items", item="after the flood").status
              for slug in ("global", "cookie-session")]
    return {"early_session_items": kept, "healthz": health, "other_strategies": others,
            "intact": kept == ["made before the flood"] and health == 200 and others == [201, 201]}


def one_setting(name, settings, args, load, start):
    server = start({"ROCKET_SESSION_STORE": args.store, **settings}, args.store)
    try:
        first = server.call("POST", "/api/server-session/items", item="made before the flood")
        cookie = "; ".join(f"{k}={v}" for k, v in first.cookies.items())
        base = server.memory_kib()["VmRSS"]
        server.reset_peak()
        seconds = 1.0 if args.smoke else args.duration
        one = wrk.run(server.url, wrk.Load(load.threads, load.connections, seconds), "flood.lua")
        after_one = server.sessions()
        many = many_clients(server.port, 20 if args.smoke else args.flood_clients, seconds)
        memory = server.memory_kib()
        row = {"setting": name, "one_client": one.counters, "one_client_rps": one.rps,
               "sessions_after_one": after_one, "many_clients": many,
               "sessions_after_many": server.sessions(), "rss_base_kib": base,
               "rss_peak_kib": memory["VmHWM"], **survivors(server, cookie)}
    finally:
        server.stop()
    c, m = row["one_client"], row["many_clients"]
    print(f"  {name}: one client {sum(c.values()):,} requests ({one.rps:,.0f} req/s): "
          f"{c['created']:,} created, {c['too_many']:,} x 429, {c['full']:,} x 503 -> "
          f"{row['sessions_after_one']:,} sessions; {args.flood_clients if not args.smoke else 20} "
          f"clients: {m['created']:,} created, {m['too_many']:,} x 429, {m['full']:,} x 503, "
          f"{m['other']} other -> {row['sessions_after_many']:,} sessions; VmRSS "
          f"{base / MIB:.1f} -> peak {memory['VmHWM'] / MIB:.1f} MiB; session made before: "
          f"{row['early_session_items']}, /healthz {row['healthz']}, other strategies "
          f"{row['other_strategies']}", flush=True)
    return row


def run(args, load, start) -> dict:
    print(f"\nflood scenario: store {args.store.split('@')[-1]}, load average "
          f"{report.load_average()}", flush=True)
    defaults = dict.fromkeys(OFF)  # None: the app's own defaults, not the benchmark's
    bounded = one_setting("bounds as configured", defaults, args, load, start)
    unbounded = one_setting("bounds out of reach", OFF, args, load, start)
    outcome = 0 if bounded["intact"] else 1
    if not bounded["intact"]:
        print("FAILED: with the bounds on, the flood hurt a visitor or another strategy")
    return {"bounded": bounded, "unbounded": unbounded, "outcome": outcome}
