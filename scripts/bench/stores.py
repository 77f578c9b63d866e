"""The stores scenario (`--stores memory,redis://...,postgres://...`): what the session store
costs each read, one server per store, all started at once and measured in alternation.

Per store, four API reads with 10 items: the floor (`GET /healthz`), the global list, the
private cookie and the server-side session. Each round runs them on every server in turn,
so a drift of the shared machine hits every store alike; with `--repeat` each number is the
median over rounds of the same-round ratio. Ratios printed, with their targets:

- private cookie / global, on the same server, for every store (>= 0.9x): a private-cookie
  read must not wait on the store;
- server-side session / floor, memory store (>= 0.9x);
- server-side session on a network store / the same read on the memory server (Redis
  >= 0.6x): the price of one round trip to the store. Redis runs on the same two cores as
  the app and wrk, so its own work per round trip (mostly the kernel's, for its socket) is
  in the price too; BENCHMARKS.md ("Redis reads, profiled") has where the rest goes.

With `--before BINARY`, every store also gets a server running that other build (an older
commit's), measured in the same alternation, and each ratio is printed for both builds: a
before/after comparison that the machine's drift cannot skew.

Note that with a network store `/healthz` pings the store, so its floor is not the app's.
"""

import statistics

import scenarios
import wrk
from server import Server

READS = (("floor", "-"), ("api read", "global"), ("api read", "cookie-session"),
         ("api read", "server-session"))
ITEMS = 10
TARGETS = {"cookie/global": 0.9, "server/floor memory": 0.9, "server vs memory redis": 0.6}


def scenario(kind, slug):
    if kind == "floor":
        return scenarios.floor("-")
    return scenarios.Scenario(kind, slug, ITEMS, f"/api/{slug}/items",
                              prepare=scenarios.visitor(slug, ITEMS))


def backend_of(store):
    label = BEFORE if store.startswith(BEFORE) else ""
    store = store.removeprefix(BEFORE)
    for prefix, name in (("redis", "redis"), ("postgres", "postgres")):
        if store.startswith(prefix):
            return label + name
    return label + store


BEFORE = "before "  # the label prefix of a server running the --before build


def run(args, load, start, redact):
    stores = args.stores.split(",")
    if args.before:
        stores += [BEFORE + store for store in stores]
    servers = {}
    try:
        for store in stores:
            url = store.removeprefix(BEFORE)
            binary = args.before if store.startswith(BEFORE) else None
            servers[store] = start({"ROCKET_SESSION_STORE": url}, url, binary)
            print(f"server for {redact(store)}: {servers[store].url}", flush=True)
        for server in servers.values():
            wrk.run(server.url, wrk.Load(load.threads, load.connections, 1.0), path="/healthz")
        rps = {(store, read): [] for store in stores for read in READS}
        for round_ in range(args.repeat):
            print(f"round {round_ + 1} of {args.repeat}", flush=True)
            for read in READS:
                for store in stores:
                    result = scenario(*read).run(servers[store], load)
                    rps[(store, read)].append(result.rps)
                    print(f"  {backend_of(store):<16} {read[0]:<9} {read[1]:<15} {result.rps:>9,.0f} req/s"
                          f"  p99 {result.p99_ms:6.2f} ms  errors {result.status_errors + result.socket_errors}",
                          flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return report(stores, rps, args.repeat)


def ratio(rps, a, b, rounds):
    """The median over rounds of rps[a] / rps[b] in the same round."""
    return statistics.median(rps[a][i] / rps[b][i] for i in range(rounds))


def report(stores, rps, rounds):
    floor, glob, cookie, server = READS
    lines, missed = [], 0

    def line(name, value, target):
        nonlocal missed
        ok = target is None or value >= target
        missed += not ok
        mark = "" if target is None else (" ok  " if ok else " MISS") + f" (target >= {target}x)"
        lines.append(f"  {name:<66} {value:5.2f}x{mark}")

    for store in stores:
        name = backend_of(store)
        line(f"{name}: private cookie / global, api read {ITEMS}",
             ratio(rps, (store, cookie), (store, glob), rounds), TARGETS["cookie/global"])
        line(f"{name}: server session / floor, api read {ITEMS}",
             ratio(rps, (store, server), (store, floor), rounds),
             TARGETS["server/floor memory"] if name.removeprefix(BEFORE) == "memory" else None)
    for label in ("", BEFORE):
        memory = label + "memory"
        same_build = [s for s in stores if s.startswith(BEFORE) == bool(label) and s != memory]
        for store in same_build if memory in stores else []:
            name = backend_of(store)
            line(f"{name} server session / memory server session, api read {ITEMS}",
                 ratio(rps, (store, server), (memory, server), rounds),
                 TARGETS.get(f"server vs memory {name.removeprefix(BEFORE)}"))
    medians = {key: statistics.median(values) for key, values in rps.items()}
    table = ["| store | " + " | ".join(f"{k} {s}" for k, s in READS) + " |",
             "|---" * (len(READS) + 1) + "|"]
    for store in stores:
        table.append(f"| {backend_of(store)} | "
                     + " | ".join(f"{medians[(store, read)]:,.0f}" for read in READS) + " |")
    return {"lines": lines, "missed": missed, "table": table,
            "rps": {f"{backend_of(s)} {k} {g}": v for (s, (k, g)), v in rps.items()}}
