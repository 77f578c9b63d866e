"""Printing: the machine, the table of scenarios (absolute and as a ratio to the floor), and
which of the main table's targets pass (the ratios BENCHMARKS.md asks of each strategy)."""

import os
import platform
import statistics
import subprocess

from scenarios import BASELINES, P99_LIMIT_MS


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> list:
    """Lines that say what the numbers were measured on."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kib = int(info.readline().split()[1])
    commit = git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", "src") else ""
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return [
        f"machine: {os.cpu_count()} cores, {cpu}, {mem_kib / 1048576:.1f} GiB, "
        f"{platform.system()} {platform.release()}",
        f"code: commit {commit}{dirty}; load generator: {wrk_version.split(' [')[0].strip()}",
    ]


def git(*args) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def floor_of(runs):
    floors = [s.result for s in runs if s.kind == "floor" and s.result]
    mean = lambda values: sum(values) / len(values)
    return (mean([r.rps for r in floors]), mean([r.p50_ms for r in floors]),
            mean([r.p99_ms for r in floors]))


def verdict(scenario, runs, check_targets) -> str:
    result = scenario.result
    misses = []
    base = scenario.baseline
    if scenario.target is not None and ratio(scenario, runs, base) < scenario.target:
        misses.append(f"req/s < {scenario.target}x {base}")
    if result.p99_ms >= P99_LIMIT_MS:
        misses.append(f"p99 >= {P99_LIMIT_MS:g} ms")
    if not check_targets:
        return ""
    if misses:
        return "MISS: " + ", ".join(misses)
    if scenario.target is None:
        return "ok"
    return f"ok (>= {scenario.target}x{'' if base == 'floor' else ' ' + base})"


def round_ratios(scenario, runs, base="floor") -> list:
    """The scenario's req/s as a ratio to `base` (the floor, or `static`) in the same round,
    round by round; empty when the run has no such scenario."""
    bases = [s for s in runs if s.kind == base and s.rounds]
    if not bases:
        return []
    means = [statistics.mean(b.rounds[i][0].rps for b in bases)
             for i in range(len(scenario.rounds))]
    return [r.rps / mean for (r, _, _), mean in zip(scenario.rounds, means)]


def ratio(scenario, runs, base="floor") -> float:
    """req/s as a ratio to `base`: the median over rounds of the same-round ratios."""
    return statistics.median(round_ratios(scenario, runs, base) or [float("nan")])


def spread(scenario, runs, base="floor") -> str:
    """With several rounds, the lowest and highest same-round ratio."""
    ratios = round_ratios(scenario, runs, base)
    return f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""


def static_ratio(scenario, runs) -> str:
    """The x static cell: for an HTML page (and for `static` itself, 1.00), its req/s as a
    ratio to the compiled-in stylesheet's."""
    if scenario.baseline != "static" and scenario.kind != "static":
        return "-"
    if not round_ratios(scenario, runs, "static"):
        return "-"
    return f"{ratio(scenario, runs, 'static'):.2f}" + spread(scenario, runs, "static")


def errors(result) -> str:
    parts = []
    if result.status_errors:
        parts.append(f"{result.status_errors} 4xx/5xx")
    if result.socket_errors:
        parts.append(f"{result.socket_errors} socket")
    return ", ".join(parts) or "0"


def markdown(head, rows) -> list:
    """A Markdown table, its columns padded to line up."""
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(head), rule] + [line(row) for row in rows]


def table(runs, check_targets) -> list:
    """The table as Markdown lines, ready to paste into BENCHMARKS.md."""
    floor_rps, floor_p50, floor_p99 = floor_of(runs)
    floors = [s.cpu_us[0] for s in runs if s.kind == "floor" and s.result]
    floor_cpu = sum(floors) / len(floors) or 1.0
    rounds = len(runs[0].rounds)
    head = ["strategy", "scenario", "items", "req/s", "x floor", "x static", "p50 ms", "x floor",
            "p99 ms", "x floor", "server CPU us/req", "x floor", "peak RSS MiB", "errors",
            "target"]
    rows = []
    for s in runs:
        r = s.result
        if r is None:
            continue
        rows.append([
            s.strategy, s.kind + (f" ({s.items})" if s.kind == "floor" else ""),
            "-" if s.kind == "floor" else str(s.items),
            f"{r.rps:,.0f}", f"{ratio(s, runs):.2f}" + spread(s, runs), static_ratio(s, runs),
            f"{r.p50_ms:.2f}", f"{r.p50_ms / floor_p50:.2f}",
            f"{r.p99_ms:.2f}", f"{r.p99_ms / floor_p99:.2f}",
            f"{s.cpu_us[0]:.1f}", f"{s.cpu_us[0] / floor_cpu:.2f}",
            f"{s.peak_kib / 1024:.1f}" if s.peak_kib else "-",
            errors(r), verdict(s, runs, check_targets),
        ])
    out = markdown(head, rows)
    out.append("")
    if rounds > 1:
        out.append(f"{rounds} rounds: each number is the median of its rounds, each req/s ratio "
                   "the median of same-round ratios, (a-b) their lowest and highest; peak RSS "
                   "is the highest of the rounds (later rounds hold the sessions earlier ones "
                   "made)")
    out.append(f"floor = mean of the GET /healthz runs: {floor_rps:,.0f} req/s, "
               f"p50 {floor_p50:.2f} ms, p99 {floor_p99:.2f} ms")
    return out


def notes(runs) -> list:
    """What the scripts counted (resets, sessions created, cookies set)."""
    out = []
    for s in runs:
        if s.result and s.result.counters:
            counted = ", ".join(f"{k} {v:,}" for k, v in s.result.counters.items())
            out.append(f"{s.kind} {s.strategy}: {s.result.requests:,} requests; {counted}")
    return out


def targets(runs, connections) -> tuple:
    """The main table's targets, one line each, and how many were missed."""
    lines, missed = [], 0
    for s in runs:
        if s.result and s.target is not None:
            value = ratio(s, runs, s.baseline)
            ok = value >= s.target
            missed += not ok
            lines.append(f"  {'ok  ' if ok else 'MISS'} {s.kind} {s.strategy} {s.items}: "
                         f"{value:.2f}x the {s.baseline}'s req/s (target >= {s.target}x)")
    slow = [s for s in runs if s.result and s.result.p99_ms >= P99_LIMIT_MS]
    floors = ", ".join(f"{s.result.p99_ms:.2f}" for s in runs if s.kind == "floor" and s.result)
    missed += bool(slow)
    lines.append(f"  {'MISS' if slow else 'ok  '} p99 < {P99_LIMIT_MS:g} ms at "
                 f"{connections} connections: {len(slow)} of "
                 f"{sum(1 for s in runs if s.result)} scenarios at or over it "
                 f"(the floor's own p99: {floors} ms)")
    return lines, missed


def comparison(tables) -> list:
    """The builds side by side: each scenario's req/s ratio to its baseline (the floor, or
    `static` for a page), build by build, all from the same run."""
    labels = list(tables)
    head = ["strategy", "scenario", "items", "ratio to"] + labels
    rows = []
    for at, first in enumerate(tables[labels[0]]):
        if first.kind in BASELINES or first.result is None:
            continue
        base = first.baseline
        rows.append([first.strategy, first.kind, str(first.items), base]
                    + [f"{ratio(tables[l][at], tables[l], base):.2f}" for l in labels])
    return ["builds compared, req/s as a ratio to the same build's floor or static:"] + markdown(head, rows)
