"""Runs wrk with one of the Lua scripts beside this file and reads the BENCH line that
report.lua prints when wrk finishes."""

import signal
import subprocess
from dataclasses import dataclass, field

LUA = "scripts/bench/"


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    socket_errors: int  # connect, read, write and timeout errors
    status_errors: int  # answers with a 4xx or 5xx status
    counters: dict = field(default_factory=dict)  # the script's own counters

    @staticmethod
    def parse(output: str) -> "Result":
        line = next((l for l in output.splitlines() if l.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError("wrk printed no BENCH line:\n" + output[-2000:])
        values = dict(pair.split("=", 1) for pair in line.split()[1:])
        number = {key: float(value) for key, value in values.items()}
        standard = {"requests", "duration_us", "rps", "p50_us", "p99_us", "max_us",
                    "connect", "read", "write", "status", "timeout"}
        return Result(
            rps=number["rps"],
            p50_ms=number["p50_us"] / 1000,
            p99_ms=number["p99_us"] / 1000,
            requests=int(number["requests"]),
            seconds=number["duration_us"] / 1e6,
            socket_errors=int(sum(number[k] for k in ("connect", "read", "write", "timeout"))),
            status_errors=int(number["status"]),
            counters={k: int(v) for k, v in number.items() if k not in standard},
        )


@dataclass
class Load:
    """How hard and how long wrk pushes: `threads` threads, `connections` in all."""
    threads: int = 2
    connections: int = 32
    seconds: float = 5.0


def command(url, load, script, seconds, path="/", headers=(), args=()):
    cmd = ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds:g}s",
           "--timeout", "5s", "-s", LUA + script]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(url + path)
    if args:
        cmd += ["--", *map(str, args)]
    return cmd


def run(url, load, script="report.lua", path="/", headers=(), args=()) -> Result:
    """One bounded run: `load.seconds` of traffic, then the parsed BENCH line."""
    cmd = command(url, load, script, load.seconds, path, headers, args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=load.seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    return Result.parse(done.stdout)


def run_quota(url, load, script, args, limit_seconds) -> Result:
    """A run whose script stops each thread after its quota (printing THREAD_DONE): waits
    for every thread, then interrupts wrk so that it reports at once."""
    cmd = command(url, load, script, limit_seconds, "/", (), args)
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, finished = [], 0
    for line in wrk.stdout:  # ends when wrk exits: at the latest after `limit_seconds`
        lines.append(line)
        if line.startswith("THREAD_DONE"):
            finished += 1
            if finished == load.threads:
                wrk.send_signal(signal.SIGINT)  # wrk prints its summary and exits
    wrk.wait()
    result = Result.parse("".join(lines))
    if finished < load.threads:
        raise RuntimeError(f"only {finished} of {load.threads} wrk threads finished their "
                           f"quota within {limit_seconds} s:\n" + "".join(lines[-20:]))
    return result
