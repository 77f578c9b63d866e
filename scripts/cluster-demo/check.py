#!/usr/bin/env python3
"""The cluster demo's check (`scripts/cluster-demo.sh --check`, run by `.ci/run`).

For each combination of session store and keys it starts the real demo
(`scripts/cluster-demo.sh`: N release servers behind nginx), drives it through the balancer
over real HTTP with a cookie-keeping client, and counts, over a run of reads of
`/api/inspect`, on how many the server-session list, the private-cookie list and the
"could not be decrypted" notice appear, and which global list each instance shows. One
combination restarts an instance with `scripts/cluster-demo.sh --restart` in the middle.

The expected counts follow from the round robin: every write reports the instance that took
it (the `X-Instance` header), so the check knows, for every read, what that instance should
show. With 3 instances and 12 reads that is 4 of 12 for "only on the instance that took the
write", 12 of 12 for "everywhere". It prints a table of what it saw and exits non-zero if
any count is off. Every demo it starts is stopped, also on failure or Ctrl-C, and it
checks that none of the demo's processes (nginx, the instances) is left running.

With `--containers` every instance is a container of the image (`scripts/cluster-demo.sh
--containers`), and the check also makes sure no container is left behind.

Redis and Postgres come from REDIS_URL and DATABASE_URL; a combination whose URL is not set
is skipped with a SKIPPED line, or fails when REQUIRE_BACKENDS=1 (as in CI).
"""

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from app_http import Reply, Visitor

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "cluster-demo.sh"
RUN_ROOT = Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / f"server-side-sessions-cluster-{os.getuid()}"
NOT_DECRYPTED = "could not be decrypted"
X_INSTANCE = re.compile(r"^([0-9a-f]+) port (\d+) started (\S+)$")


class Failed(Exception):
    """An outcome was not the expected one, or the cluster did not behave."""


class Stopped(Exception):
    """SIGTERM: unwind so that every `finally` stops what it started."""


# --- one visitor: a cookie jar, plain HTTP through the balancer ---------------------------------

def instance(answer):
    """(id, port, started_at) of the instance that answered, from `X-Instance`."""
    value = answer.header("x-instance") or ""
    match = X_INSTANCE.match(value)
    if not match:
        raise Failed(f"no usable X-Instance header in the answer (got {value!r})")
    return match.group(1), int(match.group(2)), match.group(3)


def add(visitor, slug, item) -> Reply:
    answer = visitor.add(slug, item)
    expect(answer.status == 201, f"adding to {slug} answered {answer.status}: {answer.body[:200]}")
    return answer


def inspect(visitor) -> "Read":
    answer = visitor.call("GET", "/api/inspect")
    expect(answer.status == 200, f"/api/inspect answered {answer.status}: {answer.body[:200]}")
    body = answer.json()
    named = (body["instance"]["id"], body["instance"]["port"], body["instance"]["started_at"])
    expect(named == instance(answer), f"/api/inspect names instance {named}, its X-Instance header {instance(answer)}")
    server, cookie = body.get("server_session"), body.get("cookie_session")
    expect(server is not None, f"the session store could not be read: {body.get('store')}")
    expect(cookie is not None, "the private-cookie view is missing from /api/inspect")
    return Read(named, server["items"], cookie["items"], cookie.get("notice") or "", body["global"]["items"])


def expect(condition, message):
    if not condition:
        raise Failed(message)


@dataclass
class Read:
    instance: tuple  # (id, port, started_at)
    server_items: list
    cookie_items: list
    cookie_notice: str
    global_items: list

    @property
    def port(self):
        return self.instance[1]


# --- one cluster: the real demo script, started and stopped by process id ---------------------

def free_block(count) -> int:
    """A port P such that P .. P+count-1 are all free on loopback right now."""
    for _ in range(200):
        # Below Linux's ephemeral range (32768 up), so no outgoing connection takes one meanwhile.
        base = random.randrange(20000, 32000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise Failed("found no free block of ports")


def port_open(port) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Cluster:
    def __init__(self, instances, store, keys, containers=False):
        self.instances, self.store, self.keys, self.containers = instances, store, keys, containers
        self.port = free_block(instances + 1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ports = [self.port + i for i in range(1, instances + 1)]
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="cluster-demo-check.", suffix=".log", delete=False)
        self.children = {}  # "nginx"/"instance2" -> pid, as the demo last reported them

    def start(self):
        command = [str(DEMO), "--no-build", "--instances", str(self.instances), "--port", str(self.port),
                   "--store", self.store, "--keys", self.keys] + (["--containers"] if self.containers else [])
        self.proc = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.read_children()
            if f"Open {self.url}" in self.output():
                return
            if self.proc.poll() is not None:
                raise Failed(f"the demo exited with status {self.proc.returncode}:\n{self.output()[-1500:]}")
            time.sleep(0.1)
        raise Failed(f"the demo did not come up within 60 s:\n{self.output()[-1500:]}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def read_children(self):
        """The demo's own list of what it started (its temp folder's `pids`, via the run dir)."""
        try:
            demo_pid, tmp = (RUN_ROOT / str(self.port)).read_text().split()
            if int(demo_pid) != self.proc.pid:
                return
            for line in (Path(tmp) / "pids").read_text().splitlines():
                name, _, pid = line.partition(" ")
                if pid.strip().isdigit():
                    self.children[name] = int(pid)
        except (OSError, ValueError):
            pass

    def restart(self, which):
        self.read_children()
        result = subprocess.run([str(DEMO), "--restart", str(which), "--port", str(self.port)], cwd=REPO,
                                capture_output=True, text=True, timeout=90)
        self.read_children()
        expect(result.returncode == 0, f"--restart {which} failed: {result.stdout}{result.stderr}")
        return result.stdout.strip()

    def stop(self):
        """Stops the demo (which stops nginx and the instances), then makes sure it did."""
        if self.proc is None:
            return
        self.read_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        left = []
        for name, pid in self.children.items():
            for _ in range(50):
                if not alive(pid):
                    break
                time.sleep(0.1)
            if alive(pid):
                left.append(f"{name} (pid {pid})")
                os.kill(pid, signal.SIGKILL)
        busy = [port for port in [self.port, *self.ports] if port_open(port)]
        if self.containers:
            names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                                   text=True, timeout=30).stdout.split()
            stray = [n for n in names if n.startswith(f"sss-demo-{self.port}-")]
            for name in stray:
                subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=30)
            expect(not stray, f"the demo left containers behind (now removed): {stray}")
        os.unlink(self.log.name)
        self.proc = None
        expect(not left, f"the demo left processes running (now killed): {', '.join(left)}")
        expect(not busy, f"ports still answering after the demo stopped: {busy}")
        expect(len(self.children) >= self.instances + 1,
               f"the demo reported only {sorted(self.children)} as started")

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind, *rest):
        try:
            self.stop()
        except Failed:
            if kind is None:
                raise


# --- the combinations ---------------------------------------------------------------------------

@dataclass
class Combination:
    name: str
    store: str
    keys: str = "shared"
    restart: int = 0  # instance to restart between two rounds of reads (0: none)
    shared_store: bool = field(init=False)

    def __post_init__(self):
        self.shared_store = self.store != "memory"


@dataclass
class Row:
    name: str
    answered: str = ""
    server: str = ""
    cookie: str = ""
    notice: str = ""
    global_: str = ""
    problems: list = field(default_factory=list)


def fraction(count, total):
    return f"{count}/{total}"


def check_reads(combo, reads, expected_server, expected_cookie, global_lists, row, label):
    """Compares each read with what the instance that answered it should show."""
    total = len(reads)
    server_shown = sum(1 for r in reads if r.server_items)
    cookie_shown = sum(1 for r in reads if r.cookie_items)
    notices = sum(1 for r in reads if NOT_DECRYPTED in r.cookie_notice)
    want_server = sum(1 for r in reads if expected_server(r))
    want_cookie = sum(1 for r in reads if expected_cookie(r))
    row.server += f"{label}{fraction(server_shown, total)}"
    row.cookie += f"{label}{fraction(cookie_shown, total)}"
    row.notice += f"{label}{fraction(notices, total)}"
    for k, r in enumerate(reads, 1):
        where = f"{label}read {k} (instance {r.instance[0]} on port {r.port})"
        if expected_server(r):
            if r.server_items != ["server-session item"]:
                row.problems.append(f"{where}: server-session list {r.server_items}, expected it shown")
        elif r.server_items:
            row.problems.append(f"{where}: server-session list {r.server_items}, expected it empty")
        if expected_cookie(r):
            if r.cookie_items != ["private-cookie item"] or r.cookie_notice:
                row.problems.append(f"{where}: private-cookie list {r.cookie_items} ({r.cookie_notice!r}), "
                                    "expected it shown")
        elif r.cookie_items or NOT_DECRYPTED not in r.cookie_notice:
            row.problems.append(f"{where}: private-cookie list {r.cookie_items} ({r.cookie_notice!r}), "
                                "expected it empty with the could-not-be-decrypted notice")
        if r.global_items != global_lists.get(r.port):
            row.problems.append(f"{where}: global list {r.global_items}, expected {global_lists.get(r.port)}")
    # The headline counts, stated on their own so a wrong model cannot hide a wrong outcome.
    n = len({r.port for r in reads})
    if combo.shared_store and want_server != total:
        row.problems.append(f"{label}a shared store should show the session on every read")
    if combo.keys == "shared" and want_cookie != total:
        row.problems.append(f"{label}a shared key should open the cookie on every read")
    if combo.keys == "per-instance" and (want_cookie != total // n or notices != total - total // n):
        row.problems.append(f"{label}per-instance keys: the cookie should open on {total // n}/{total} reads "
                            f"and be refused on {total - total // n}/{total}")


def check_round_robin(reads, ports, row, label):
    per_port = {port: sum(1 for r in reads if r.port == port) for port in ports}
    row.answered += label + " ".join(str(per_port[p]) for p in ports)
    total, n = len(reads), len(ports)
    if total % n == 0 and set(per_port.values()) != {total // n}:
        row.problems.append(f"{label}not a round robin: reads per instance port {per_port}")
    for k in range(n, total):
        if reads[k].port != reads[k - n].port:
            row.problems.append(f"{label}read {k + 1} went to port {reads[k].port}, not {reads[k - n].port}: "
                                "the rotation is not regular")
            break


def run(combo, instances, reads_count, containers) -> Row:
    row = Row(combo.name)
    with Cluster(instances, combo.store, combo.keys, containers) as cluster:
        visitor = Visitor(cluster.url)
        owner_server = instance(add(visitor, "server-session", "server-session item"))
        owner_cookie = instance(add(visitor, "cookie-session", "private-cookie item"))
        global_lists = {port: [] for port in cluster.ports}
        for k in range(1, instances + 1):
            answer = add(visitor, "global", f"global item {k}")
            global_lists[instance(answer)[1]].append(f"global item {k}")
        expect(all(len(items) == 1 for items in global_lists.values()),
               f"{instances} global adds should land on {instances} different instances: {global_lists}")

        # A form post like the browser's, through nginx: Origin matches the Host nginx passes on.
        same_site = visitor.form("/global/items", {"item": "form item", "return_to": "/"},
                                 {"Origin": cluster.url, "Sec-Fetch-Site": "same-origin"})
        expect(same_site.status == 303 and same_site.header("location") == "/",
               f"a same-origin form post through nginx answered {same_site.status} {same_site.body[:200]}")
        global_lists[instance(same_site)[1]].append("form item")
        cross_site = visitor.form("/global/items", {"item": "evil", "return_to": "/"},
                                  {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        expect(cross_site.status == 403, f"a cross-site form post answered {cross_site.status}")

        # The page names the instance that answered it.
        page = visitor.call("GET", "/")
        expect(page.status == 200 and instance(page)[0] in page.body,
               f"the page does not name instance {instance(page)[0]} (status {page.status})")

        reads = [inspect(visitor) for _ in range(reads_count)]
        label = "before: " if combo.restart else ""
        check_round_robin(reads, cluster.ports, row, label)
        ids = {r.port: r.instance for r in reads}
        expect(len(set(i[0] for i in ids.values())) == instances, f"instances should have distinct ids: {ids}")
        check_reads(combo, reads,
                    lambda r: combo.shared_store or r.instance == owner_server,
                    lambda r: combo.keys == "shared" or r.port == owner_cookie[1],
                    global_lists, row, label)
        distinct = len({tuple(items) for items in global_lists.values()})
        row.global_ = f"{distinct} different lists"
        if distinct != instances:
            row.problems.append(f"global: {distinct} different lists on {instances} instances")

        if combo.restart:
            restarted_port = cluster.port + combo.restart
            message = cluster.restart(combo.restart)
            if "restarted" not in message:
                row.problems.append(f"--restart said: {message}")
            after = [inspect(visitor) for _ in range(reads_count)]
            row.answered += " / "
            check_round_robin(after, cluster.ports, row, "after: ")
            for r in after:
                old = ids[r.port]
                if r.port == restarted_port:
                    if r.instance[0] == old[0] or r.instance[2] < old[2]:
                        row.problems.append(f"port {r.port} still answers as {r.instance}, before {old}")
                elif r.instance != old:
                    row.problems.append(f"port {r.port} changed from {old} to {r.instance} without a restart")
            after_lists = dict(global_lists)
            after_lists[restarted_port] = []
            row.server += " / "
            row.cookie += " / "
            row.notice += " / "
            check_reads(combo, after,
                        lambda r: combo.shared_store or r.instance == owner_server,
                        lambda r: combo.keys == "shared" or r.port == owner_cookie[1],
                        after_lists, row, "after: ")
            empty = sum(1 for r in after if r.port == restarted_port and not r.global_items)
            unchanged = sum(1 for r in after if r.port != restarted_port and r.global_items == global_lists[r.port])
            on_restarted = sum(1 for r in after if r.port == restarted_port)
            row.global_ += (f"; after --restart {combo.restart}: empty on {empty}/{on_restarted} reads of "
                            f"instance {combo.restart}, unchanged on {unchanged}/{len(after) - on_restarted} "
                            "of the others")
    return row


def combinations(require_backends):
    redis, postgres = os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL")
    found, skipped = [Combination("memory store, shared key", "memory")], []
    for name, url, variable in [("Redis", redis, "REDIS_URL"), ("Postgres", postgres, "DATABASE_URL")]:
        if url:
            found.append(Combination(f"{name} store, shared key", url))
        else:
            skipped.append(f"{name} store: set {variable}")
    found.append(Combination("memory store, per-instance keys", "memory", keys="per-instance"))
    if redis:
        found.append(Combination("Redis store, shared key, --restart 2", redis, restart=2))
    else:
        found.append(Combination("memory store, shared key, --restart 2", "memory", restart=2))
    if skipped and require_backends:
        raise Failed("REQUIRE_BACKENDS=1, but " + "; ".join(skipped))
    for reason in skipped:
        print(f"SKIPPED: {reason}", file=sys.stderr)
    return found


def table(rows):
    headers = ["combination", "reads per instance", "server-session list shown", "private-cookie list shown",
               "\"could not be decrypted\"", "global"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [row.name, row.answered, row.server, row.cookie, row.notice, row.global_]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--reads", type=int, default=12)
    parser.add_argument("--containers", action="store_true", help="instances as containers of the image")
    args = parser.parse_args()

    def on_term(*_):
        raise Stopped()
    signal.signal(signal.SIGTERM, on_term)

    started = time.monotonic()
    rows, failures = [], 0
    try:
        for combo in combinations(os.environ.get("REQUIRE_BACKENDS") == "1"):
            t0 = time.monotonic()
            try:
                row = run(combo, args.instances, args.reads, args.containers)
            except Failed as failure:
                row = Row(combo.name, problems=[str(failure)])
            except (OSError, ValueError, KeyError, TypeError) as error:  # e.g. refused, bad JSON
                row = Row(combo.name, problems=[f"{type(error).__name__}: {error}"])
            rows.append(row)
            verdict = "ok" if not row.problems else "FAILED"
            print(f"{verdict}: {combo.name} ({time.monotonic() - t0:.1f} s)", flush=True)
            for problem in row.problems[:10]:
                print(f"    {problem}", flush=True)
            failures += bool(row.problems)
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stopped):
        print("interrupted; every cluster started was stopped", file=sys.stderr)
        return 130
    print()
    kind = "containers" if args.containers else "instances"
    print(f"{args.reads} reads of /api/inspect through nginx per round, {args.instances} {kind}, "
          "one visitor (one cookie jar):")
    print(table(rows))
    print(f"\n{len(rows) - failures} of {len(rows)} combinations as expected, "
          f"in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
