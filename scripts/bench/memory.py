"""The memory scenario: what 100,000 server-side sessions cost, that cookie-less
traffic adds nothing, and that expired sessions give their memory back.

1. Create SESSIONS sessions of ITEMS items each through the API (sessions.lua), and read
   the server's resident memory (VmRSS) before and after: bytes per session.
2. Send COOKIELESS requests without cookies (cookieless.lua): `store.sessions` must not move.
3. Stop writing and wait: the sessions pass their idle timeout, the background purge (every
   min(idle/4, 60) s) frees them, and VmRSS should come back down.

The server runs with a short idle timeout for this, which must outlast phases 1 and 2 (else
sessions expire while they are counted); the scenario says so if it did not.
"""

import time

import report
import wrk

MIB = 1024


def run(args, load, start) -> dict:
    small = args.smoke
    total = 1_000 if small else args.sessions
    cookieless = 10_000 if small else args.cookieless
    # A network store is slower to fill: give the smoke run's sessions time to be counted.
    idle = (6 if args.store == "memory" else 20) if small else args.idle
    purge_every = min(max(idle / 4, 1), 60)
    limit = 60 if small else 1800  # seconds a phase may take before it counts as stuck
    settings = {"ROCKET_SESSION_STORE": args.store, "ROCKET_SESSION_IDLE_TIMEOUT": str(idle)}
    server = start(settings, args.store)
    out = {"sessions_target": total, "items": args.items, "idle_s": idle, "outcome": 0}
    try:
        print(f"\nmemory scenario: store {args.store.split('@')[-1]}, idle timeout {idle} s, "
              f"purge every {purge_every:g} s; load average {report.load_average()}", flush=True)
        wrk.run(server.url, wrk.Load(load.threads, load.connections, 1.0), path="/")
        base, before = server.memory_kib()["VmRSS"], server.sessions()
        out.update(rss_base_kib=base, sessions_before=before)
        print(f"  baseline after warm-up: VmRSS {base / MIB:.1f} MiB, store.sessions {before:,}"
              + (" (a shared store: counting from there)" if before else ""))

        began = time.monotonic()
        made = wrk.run_quota(server.url, load, "sessions.lua", (total, load.threads, args.items),
                             limit_seconds=limit)
        full, count = server.memory_kib(), server.sessions()
        grew = full["VmRSS"] - base
        out.update(create_s=made.seconds, create_rps=made.rps, sessions=count - before,
                   rss_full_kib=full["VmRSS"], peak_kib=full["VmHWM"],
                   bytes_per_session=grew * 1024 / max(count - before, 1), create=vars(made))
        print(f"  created {made.counters['created']:,} sessions ({made.counters['completed']:,} "
              f"with {args.items} items) in {made.seconds:.1f} s, {made.rps:,.0f} req/s, "
              f"p99 {made.p99_ms:.2f} ms, errors {report.errors(made)}")
        print(f"  store.sessions {count:,}; VmRSS {full['VmRSS'] / MIB:.1f} MiB "
              f"(+{grew / MIB:.1f} MiB = {out['bytes_per_session']:,.0f} bytes per session), "
              f"peak {full['VmHWM'] / MIB:.1f} MiB", flush=True)

        plain = wrk.run_quota(server.url, load, "cookieless.lua", (cookieless, load.threads),
                              limit_seconds=limit)
        after_plain, count_after = server.memory_kib(), server.sessions()
        out.update(cookieless=vars(plain), sessions_after_cookieless=count_after - before,
                   rss_after_cookieless_kib=after_plain["VmRSS"])
        print(f"  {plain.counters['answers']:,} cookie-less requests in {plain.seconds:.1f} s, "
              f"{plain.rps:,.0f} req/s: store.sessions {count:,} -> {count_after:,}, "
              f"cookies set {plain.counters['cookies_set']}, VmRSS "
              f"{after_plain['VmRSS'] / MIB:.1f} MiB, errors {report.errors(plain)}")
        written = time.monotonic() - began
        if written >= idle:
            print(f"  NOTE: phases 1-2 took {written:.0f} s, longer than the idle timeout "
                  f"({idle} s): raise --idle so no session expires while being counted")

        out.update(expire(server, idle, purge_every, began, before))
        report_targets(out, small, args.store == "memory")
        if made.status_errors or plain.status_errors:
            out["outcome"] = 1
    finally:
        server.stop()
    return out


def expire(server, idle, purge_every, began, before) -> dict:
    """Waits until the sessions made here have expired and a purge has run."""
    deadline = began + idle * 3 + purge_every + 120
    while server.sessions() > before and time.monotonic() < deadline:
        time.sleep(1)
    live_gone = time.monotonic() - began
    time.sleep(purge_every + 2)  # the next purge frees what expired
    samples = []
    for _ in range(3):
        samples.append(server.memory_kib()["VmRSS"])
        time.sleep(1)
    left = max(server.sessions() - before, 0)
    print(f"  store.sessions back to {before:,} after {live_gone:.0f} s; after the next purge: "
          f"VmRSS {samples[-1] / MIB:.1f} MiB")
    return {"rss_after_expiry_kib": samples[-1], "sessions_after_expiry": left}


def report_targets(out, small, in_process):
    base, full, after = out["rss_base_kib"], out["rss_full_kib"], out["rss_after_expiry_kib"]
    released = (full - after) / max(full - base, 1)
    out["released_fraction"] = released
    checks = [
        (f"{out['sessions']:,} sessions x {out['items']} items under 100 MiB RSS",
         full < 100 * MIB, f"{full / MIB:.1f} MiB"),
        ("cookie-less traffic: zero store growth",
         out["sessions_after_cookieless"] == out["sessions"] == out["sessions_target"]
         and out["cookieless"]["counters"]["cookies_set"] == 0,
         f"{out['sessions']:,} -> {out['sessions_after_cookieless']:,}"),
        ("expiry: every session made here is gone", out["sessions_after_expiry"] == 0,
         f"{out['sessions_after_expiry']:,} left"),
        ("expired sessions: memory released (>= 80% of the growth)", released >= 0.8,
         f"{released:.0%} of +{(full - base) / MIB:.1f} MiB released, "
         f"{after / MIB:.1f} MiB left (baseline {base / MIB:.1f} MiB)"),
    ]
    for label, passed, detail in checks:
        if "RSS" in label or "memory released" in label:
            if not in_process:  # the sessions live in Redis or Postgres, not in this process
                label += " (n/a: the store is another process)"
            elif small:
                label += " (smoke: too small to judge)"
        verdict = "ok" if passed else "MISS"
        if "(n/a" in label or "(smoke" in label:
            verdict = "-"
        print(f"  {verdict:<5} {label}: {detail}")
