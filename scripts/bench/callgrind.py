"""Instructions per request, scenario by scenario, with the server under callgrind.

req/s on a shared 2-core machine moves with whatever else runs; the number of instructions
the server executes for one request does not (valgrind counts them, the same for the same
binary and input). This mode runs the table's scenarios with one connection, counts the
server's instructions (user space only: the kernel's share of a request is not in them)
and divides by the requests wrk completed. Slow (valgrind runs the server ~50x slower), so
each scenario gets a few seconds whatever --duration says. The dumps stay in OUT_DIR for
callgrind_annotate, which names the functions that cost the most.
"""

import glob
import os
import subprocess
import tempfile
import time

import scenarios
import wrk
from server import BINARY, Server, StartFailed


class CallgrindServer(Server):
    """The server under `valgrind --tool=callgrind`, counting only when told to."""

    def __init__(self, out_dir, settings=None):
        super().__init__(settings)
        self.out_dir = out_dir

    def start(self, timeout=120.0):
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={self.out_dir}/callgrind.out.%p", BINARY]
        self.proc = subprocess.Popen(command, env=self.environment(), stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.call("GET", "/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise StartFailed("the server did not start under valgrind" + self.output_tail())

    def control(self, *args):
        subprocess.run(["callgrind_control", *args, str(self.proc.pid)],
                       capture_output=True, check=True)

    def count(self, label, action) -> int:
        """Instructions the server executes while `action()` runs."""
        before = set(glob.glob(f"{self.out_dir}/callgrind.out.*"))
        self.control("--instr=on")
        self.control("--zero")
        action()
        self.control(f"--dump={label}")
        self.control("--instr=off")
        new = set()
        for _ in range(50):  # the dump is written by the server: wait until it is there
            new = set(glob.glob(f"{self.out_dir}/callgrind.out.*")) - before
            if new:
                break
            time.sleep(0.1)
        total = 0
        for path in new:
            with open(path) as dump:
                for line in dump:
                    if line.startswith("summary:"):
                        total += int(line.split()[1])
        return total


def run(args, seconds=3.0) -> list:
    out_dir = args.callgrind_dir or tempfile.mkdtemp(prefix="bench-callgrind-")
    os.makedirs(out_dir, exist_ok=True)
    server = CallgrindServer(out_dir, {"ROCKET_SESSION_STORE": args.store})
    load = wrk.Load(threads=1, connections=1, seconds=seconds)
    rows = []
    try:
        server.start()
        wrk.run(server.url, load, path="/")  # warm-up, not counted
        for s in scenarios.selected(scenarios.table(load.connections), args.only):
            cookie = s.prepare(server) if s.prepare else None
            headers = [f"Cookie: {cookie}"] if cookie else []
            holder = {}
            label = f"{s.kind}_{s.strategy}_{s.items}".replace(" ", "-")
            instructions = server.count(label, lambda: holder.update(
                result=wrk.run(server.url, load, s.script, s.path, headers, s.args)))
            requests = max(holder["result"].requests, 1)
            rows.append((s, instructions / requests))
            print(f"  {s.kind:<16} {s.strategy:<15} {str(s.items):<6} "
                  f"{instructions / requests:>11,.0f} instructions/request "
                  f"({requests:,} requests)", flush=True)
    finally:
        server.stop()
    floor = [per for s, per in rows if s.kind == "floor"]
    floor = sum(floor) / len(floor)
    static = next(per for s, per in rows if s.kind == "static")
    print(f"\ninstructions per request, as a multiple of the floor ({floor:,.0f}) and, for "
          f"HTML pages, of static ({static:,.0f}):")
    for s, per in rows:
        pages = f"  {per / static:5.2f}x static" if s.baseline == "static" else ""
        print(f"  {s.kind:<16} {s.strategy:<15} {str(s.items):<6} {per / floor:5.2f}x{pages}")
    print(f"callgrind dumps (one per scenario): {out_dir}; read one with\n"
          f"  callgrind_annotate --inclusive=yes {out_dir}/callgrind.out.<pid>.<n> | head -60")
    return [dict(kind=s.kind, strategy=s.strategy, items=str(s.items), instructions=per)
            for s, per in rows]
