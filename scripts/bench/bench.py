"""Load benchmark of the three strategies against the framework's floor.

Run it through scripts/bench.sh, from anywhere; it works from the repository root. See
BENCHMARKS.md for what it measures and how to read the table.

Exit status: 0 when every run finished (targets missed or not, unless --strict), 1 when wrk
saw answers with a 4xx/5xx status (or --strict and a target missed), 2 when the server did
not start or a visitor could not be prepared. Socket errors are reported, never fatal.
"""

import argparse
import json
import os
import resource
import sys
import time

import callgrind
import coldstart
import flood
import memory
import report
import roundtrips
import scenarios
import stores
import wrk
from server import BINARY, Server, StartFailed


def options(argv):
    p = argparse.ArgumentParser(prog="scripts/bench.sh", description=__doc__.split("\n")[0])
    p.add_argument("--no-build", action="store_true", help="use the existing release binary")
    p.add_argument("--smoke", action="store_true",
                   help="every scenario for about 1 s, and a small memory scenario; no targets")
    p.add_argument("--memory", action="store_true", help="run the memory scenario only")
    p.add_argument("--flood", action="store_true",
                   help="instead: the flood scenario, new sessions from one client and from many")
    p.add_argument("--flood-clients", type=int, default=200,
                   help="flood: source addresses flooding at once (200)")
    p.add_argument("--callgrind", action="store_true",
                   help="instead: instructions per request under valgrind (repeatable on a "
                        "busy machine)")
    p.add_argument("--callgrind-dir", metavar="DIR", help="where --callgrind keeps its dumps")
    p.add_argument("--coldstart", action="store_true",
                   help="instead: exec to the first answered page, the release HTTP server and "
                        "the Lambda bootstrap through cargo-lambda's emulator, alternating")
    p.add_argument("--coldstart-rounds", type=int, default=10, help="cold start: rounds (10)")
    p.add_argument("--store", default="memory", metavar="URL",
                   help="session store: memory (default), redis://..., postgres://...")
    p.add_argument("--stores", metavar="URL,URL",
                   help="instead: the stores scenario, one server per store (e.g. "
                        "memory,redis://127.0.0.1:6379/15), measured in alternation: what a "
                        "read costs with each store, as ratios")
    p.add_argument("--roundtrips", metavar="URL,URL",
                   help="instead: round trips to each network store per request, for each page "
                        "and API read, counted by a proxy between the app and the store (e.g. "
                        "redis://127.0.0.1:6379/15,postgres://postgres@127.0.0.1:5432/test)")
    p.add_argument("--before", metavar="BINARY",
                   help="with --stores: also run every store on this other build (e.g. a copy "
                        "of main's release binary), in the same alternation: before and after "
                        "in one run")
    p.add_argument("--build", action="append", default=[], metavar="LABEL=BINARY[:TEMPLATES]",
                   help="the table (or --only's part of it) also on another build, e.g. a copy "
                        "of main's release binary with its own templates directory; every "
                        "scenario runs on each build in turn, so their ratios come from one "
                        "run (repeatable)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per scenario (5)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the whole table N times and report each scenario's median "
                        "(a shared machine drifts; the spread is printed) (1)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--connections", type=int, default=32, help="connections in all (32)")
    p.add_argument("--only", metavar="TEXT", help="only scenarios whose name (kind, strategy, "
                   "items) contains TEXT, or one of several TEXT,TEXT (e.g. 'cookie-session', "
                   "'page read', 'api read global 10'); the floors and static always run")
    p.add_argument("--sessions", type=int, default=100_000, help="memory: sessions (100000)")
    p.add_argument("--items", type=int, default=10, help="memory: items per session (10)")
    p.add_argument("--cookieless", type=int, default=1_000_000,
                   help="memory: cookie-less requests (1000000)")
    p.add_argument("--idle", type=int, default=180,
                   help="memory: session idle timeout in seconds (180); must outlast the "
                        "creation and cookie-less phases")
    p.add_argument("--wait-load", type=float, metavar="LOAD",
                   help="first wait (up to 20 min) until the 1-minute load average is below LOAD")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def fail(message):
    """Stops the run: the server did not start, or a scenario could not run at all."""
    print(f"FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def wait_for_quiet(limit):
    deadline = time.monotonic() + 20 * 60
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        print(f"  load average {report.load_average()}: waiting for < {limit}", flush=True)
        time.sleep(30)


def redact(url):
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.split("@")[-1] if sep else url


def start(settings, store_url, binary=None) -> Server:
    """Starts the server, or explains why not. A store the server refuses (or that is down)
    is skipped with exit status 0: the backend may not exist yet on this checkout."""
    server = Server(settings, binary=binary)
    try:
        server.start()
        return server
    except StartFailed as failure:
        if store_url == "memory":
            fail(f"the server did not start: {failure}")
        try:
            with Server():
                pass
        except StartFailed as plain:
            fail(f"the server did not start, even with the memory store: {plain}")
        print(f"SKIPPED: the server does not run with ROCKET_SESSION_STORE={redact(store_url)} "
              f"({failure})")
        sys.exit(0)


def children_cpu() -> float:
    """CPU time of the finished child processes so far: here, the wrk runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def builds(args) -> dict:
    """The builds the table runs on: this checkout's, then each --build, as
    label -> (binary or None, ROCKET_TEMPLATE_DIR or None)."""
    found = {"this": (None, None)}
    for spec in args.build:
        label, sep, where = spec.partition("=")
        if not sep or not label or label in found:
            fail(f"--build {spec}: give LABEL=BINARY[:TEMPLATES] with a new label")
        binary, _, templates = where.partition(":")
        found[label] = (binary, templates or None)
    return found


def run_table(args, load) -> dict:
    """Each build's scenarios, label -> list, run in alternation: scenario by scenario, every
    build in turn."""
    tables = {}
    for label in builds(args):
        tables[label] = scenarios.selected(scenarios.table(load.connections), args.only)
    servers = {}
    try:
        for label, (binary, templates) in builds(args).items():
            settings = {"ROCKET_SESSION_STORE": args.store}
            if templates:
                settings["ROCKET_TEMPLATE_DIR"] = templates
            servers[label] = start(settings, args.store, binary)
            server = servers[label]
            print(f"server {label}: {server.url}, {server.binary}, store {redact(args.store)}, "
                  f"pid {server.proc.pid}")
        if args.store != "memory":
            print("note: /healthz pings the session store, so with a network store the floor "
                  "includes one round trip to it; compare ratios with a memory-store run")
        peak_known = {}
        for label, server in servers.items():
            wrk.run(server.url, wrk.Load(load.threads, load.connections, 1.0), path="/")  # warm-up
            peak_known[label] = server.reset_peak()
        for round_ in range(args.repeat):
            if args.repeat > 1:
                print(f"round {round_ + 1} of {args.repeat}", flush=True)
            for at in range(len(tables["this"])):
                for label, server in servers.items():
                    run_one(tables[label][at], server, load, peak_known[label],
                            label if len(servers) > 1 else "")
        for label, server in servers.items():
            if server.proc.poll() is not None:
                fail(f"the server of {label} died during the run:{server.output_tail()}")
    finally:
        for server in servers.values():
            server.stop()
    for runs in tables.values():
        for s in runs:
            s.combine()
    return tables


def run_one(s, server, load, peak_known, label=""):
    """One scenario once; its result joins the scenario's earlier rounds."""
    try:
        server_cpu, wrk_cpu = server.cpu_seconds(), children_cpu()
        r = s.run(server, load)
        cpu = (1e6 * (server.cpu_seconds() - server_cpu) / r.requests,
               1e6 * (children_cpu() - wrk_cpu) / r.requests)
    except RuntimeError as error:
        server.stop()
        fail(f"{s.kind} {s.strategy} {s.items}: {error}")
    peak = server.memory_kib()["VmHWM"] if peak_known else 0
    server.reset_peak()
    s.rounds.append((r, cpu, peak))
    print(f"  {label + ' ' if label else ''}{s.kind:<16} {s.strategy:<15} {str(s.items):<6} {r.rps:>9,.0f} req/s  "
          f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  CPU/req: server "
          f"{cpu[0]:5.1f} us, wrk {cpu[1]:5.1f} us  errors {report.errors(r)}", flush=True)


def main(argv):
    args = options(argv)
    if args.wait_load:
        wait_for_quiet(args.wait_load)
    seconds = 1.0 if args.smoke else args.duration
    load = wrk.Load(args.threads, args.connections, seconds)
    print("\n".join(report.machine()))
    how = ("callgrind, 1 connection" if args.callgrind else
           f"wrk -t{load.threads} -c{load.connections}, {seconds:g} s per scenario")
    print(f"load average at start: {report.load_average()}; {how}", flush=True)
    outcome, results = 0, {}
    if args.callgrind:
        try:
            results["callgrind"] = callgrind.run(args)
        except (RuntimeError, StartFailed) as error:
            fail(f"callgrind: {error}")
    elif args.coldstart:
        try:
            results["coldstart"] = coldstart.run(args.coldstart_rounds)
        except RuntimeError as error:
            fail(f"cold start: {error}")
    elif args.flood:
        results["flood"] = flood.run(args, load, start)
        outcome = results["flood"]["outcome"]
    elif args.roundtrips:
        try:
            results["roundtrips"] = roundtrips.run(args, start, redact)
        except RuntimeError as error:
            fail(f"round trips: {error}")
        print()
        print("\n".join(results["roundtrips"]["table"]))
        outcome = results["roundtrips"].pop("outcome")
    elif args.stores:
        try:
            results["stores"] = stores.run(args, load, start, redact)
        except RuntimeError as error:
            fail(f"stores scenario: {error}")
        print()
        print("\n".join(results["stores"]["table"]))
        print(f"\nratios of req/s (median of {args.repeat} same-round ratios), "
              f"{results['stores']['missed']} target(s) missed:")
        print("\n".join(results["stores"]["lines"]))
        if results["stores"]["missed"] and args.strict:
            outcome = 1
    elif not args.memory:
        tables = run_table(args, load)
        check = not args.smoke and args.store == "memory"
        for label, runs in tables.items():
            print()
            if len(tables) > 1:
                print(f"build {label}: {builds(args)[label][0] or BINARY}")
            print("\n".join(report.table(runs, check)))
            print("\n".join(report.notes(runs)))
            if any(s.result.status_errors for s in runs):
                print("FAILED: some answers had a 4xx/5xx status (see the errors column)")
                outcome = 1
            if check:
                lines, missed = report.targets(runs, load.connections)
                print(f"targets of the main table ({missed} missed):")
                print("\n".join(lines))
                if missed and args.strict:
                    outcome = 1
        if len(tables) > 1:
            print()
            print("\n".join(report.comparison(tables)))
        results["table"] = {label: [dict(kind=s.kind, strategy=s.strategy, items=str(s.items),
                                         peak_kib=s.peak_kib, server_cpu_us=s.cpu_us[0],
                                         wrk_cpu_us=s.cpu_us[1], **vars(s.result)) for s in runs]
                            for label, runs in tables.items()}
    if args.memory or (args.smoke and not args.callgrind):
        try:
            results["memory"] = memory.run(args, load, start)
        except RuntimeError as error:
            fail(f"memory scenario: {error}")
        outcome = max(outcome, results["memory"].pop("outcome", 0))
    if args.smoke and not args.callgrind and not args.flood:
        results["flood"] = flood.run(args, load, start)
        outcome = max(outcome, results["flood"]["outcome"])
        try:
            results["coldstart"] = coldstart.run(3)
        except RuntimeError as error:
            fail(f"cold start: {error}")
    print(f"load average at end: {report.load_average()}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return outcome


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
