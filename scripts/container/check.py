#!/usr/bin/env python3
"""The container checks (`scripts/container.sh check`, run by `.ci/run`).

Each check runs the real image in podman the way a serverless platform would (read-only root
filesystem, every capability dropped, an unprivileged user, the port from `PORT`, the key from
the environment) and fails if the property it names does not hold:

  contents     only the binary, its C libraries, templates, Rocket.toml and passwd/group; no
               shell, no package manager; the size, unpacked and compressed
  hardening    the process runs as 65532 with no capabilities, no-new-privileges and a
               read-only root, listening on 0.0.0.0 at PORT (ROCKET_PORT wins when set)
  release      no start without a secret key; Secure `__Host-` cookies, HSTS and
               X-Frame-Options; all of it turned off by ROCKET_COOKIE_SECURE=false
  strategies   page, add and read back for each strategy; the private cookie round trip
  redis        two containers sharing server-side sessions through the real Redis
  probes       /healthz 200, or 503 while the store is down; /livez 200 either way
  sigterm      SIGTERM under load: failed requests, a request in flight finishing, exit time

Redis comes from REDIS_URL (default redis://127.0.0.1:6379), reached from the container over
the host's network.
"""

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
from pathlib import Path

from app_http import free_port, request
from load import Load

HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
RESULTS = []


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def podman(*args, check=True, timeout=60, env=None):
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise Failed(f"podman {' '.join(args[:3])} ...: {result.stderr.strip()}")
    return result


def new_key():
    return base64.b64encode(os.urandom(32)).decode()


class Container:
    """One detached container of the image; removed on exit, also when a check fails."""

    def __init__(self, image, env=None, publish=None, network=None, hardened=True):
        self.image, self.env, self.publish, self.network = image, env or {}, publish, network
        self.hardened, self.id = hardened, None

    def __enter__(self):
        args = ["run", "-d"] + (HARDENED if self.hardened else [])
        if self.publish:
            args += ["-p", f"127.0.0.1:{self.publish[0]}:{self.publish[1]}"]
        if self.network:
            args += ["--network", self.network]
        # Values travel in podman's environment, not its command line (`ps` would show them).
        for name in self.env:
            args += ["-e", name]
        self.id = podman(*args, self.image, env=self.env).stdout.strip()
        return self

    def __exit__(self, *_):
        if self.id:
            podman("rm", "-f", "-t", "0", self.id, check=False)

    def inspect(self, template):
        return podman("inspect", "--format", template, self.id).stdout.strip()

    def logs(self):
        result = podman("logs", self.id, check=False)
        return result.stdout + result.stderr

    def wait_ready(self, port, path="/healthz", statuses=(200,)):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.inspect("{{.State.Running}}") != "true":
                raise Failed(f"the container exited: {self.logs()[-800:]}")
            try:
                if request(port, "GET", path).status in statuses:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failed(f"no answer on port {port} within 20 s: {self.logs()[-800:]}")


def app_env(**extra):
    return {"ROCKET_SECRET_KEY": new_key(), "ROCKET_LOG_LEVEL": "normal", **extra}


# --- the checks ---------------------------------------------------------------------------------

ALLOWED = ("app/", "lib/", "lib64/", "usr/lib/", "etc/passwd", "etc/group")


def check_contents(image):
    created = podman("create", image).stdout.strip()
    try:
        with tempfile.TemporaryFile() as archive:
            subprocess.run(["podman", "export", created], stdout=archive, check=True)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                files = [m for m in tar.getmembers() if m.isfile() or m.issym()]
    finally:
        podman("rm", created, check=False)
    names = sorted(m.name.lstrip("./") for m in files)
    strays = [n for n in names if not n.startswith(ALLOWED)]
    expect(not strays, f"files the app does not need: {strays[:10]}")
    for needed in ["app/server-side-sessions", "app/Rocket.toml", "app/templates/index.html.hbs",
                   "lib64/ld-linux-x86-64.so.2", "etc/passwd"]:
        expect(needed in names, f"{needed} is missing from the image")
    for absent in ["bin/sh", "bin/bash", "usr/bin/apt", "usr/bin/dpkg", "sbin/apk", "usr/bin/env"]:
        expect(absent not in names, f"{absent} is in the image")
    shell = podman("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true", check=False)
    expect(shell.returncode != 0, "a shell ran inside the image")
    unpacked = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    save = subprocess.run(f"podman save --format docker-archive {image} | gzip -c | wc -c",
                          shell=True, capture_output=True, text=True, check=True)
    compressed = int(save.stdout)
    return (f"{len(names)} files, no shell; {unpacked / 2**20:.1f} MiB unpacked, "
            f"{compressed / 2**20:.1f} MiB compressed")


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return fields


def check_hardening(image):
    port = free_port()
    with Container(image, app_env(), publish=(port, 8080)) as c:
        c.wait_ready(port)
        pid = c.inspect("{{.State.Pid}}")
        status = proc_status(pid)
        expect(status["Uid"] == ["65532"] * 4 and status["Gid"] == ["65532"] * 4,
               f"runs as uid {status['Uid']} gid {status['Gid']}")
        for caps in ["CapEff", "CapPrm", "CapBnd"]:
            expect(int(status[caps][0], 16) == 0, f"{caps} is {status[caps][0]}")
        expect(status["NoNewPrivs"] == ["1"], "no-new-privileges is off")
        root = [line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
                if line.split()[4] == "/"]
        expect(root and "ro" in root[0][5].split(","), f"the root filesystem is writable: {root}")
        expect("http://0.0.0.0:8080" in c.logs(), f"not listening on 0.0.0.0:8080: {c.logs()[-600:]}")
    platform, pinned = free_port(), free_port()
    with Container(image, app_env(PORT="9090"), publish=(platform, 9090)) as c:
        c.wait_ready(platform)
    with Container(image, app_env(PORT="9090", ROCKET_PORT="9191"), publish=(pinned, 9191)) as c:
        c.wait_ready(pinned)
    return "uid/gid 65532, no capabilities, no-new-privileges, read-only root; 0.0.0.0:PORT, ROCKET_PORT wins"


def check_release(image):
    name = f"sss-check-{os.getpid()}-no-key"
    try:
        refused = podman("run", "--rm", "--name", name, *HARDENED, image, check=False, timeout=30)
    finally:  # a build that starts anyway would still be running
        podman("rm", "-f", "-t", "0", name, check=False)
    output = refused.stdout + refused.stderr
    expect(refused.returncode != 0, "started without a secret key")
    expect("refusing to start" in output and "secret_key" in output, f"no clear refusal: {output[-600:]}")
    seen = {}
    for secure in [True, False]:
        port = free_port()
        env = app_env() if secure else app_env(ROCKET_COOKIE_SECURE="false")
        with Container(image, env, publish=(port, 8080)) as c:
            c.wait_ready(port)
            added = request(port, "POST", "/api/server-session/items", {"item": "x"})
            cookie = added.header("set-cookie") or ""
            hsts = added.header("strict-transport-security")
            frames = added.header("x-frame-options")
            expect(frames == "DENY", f"X-Frame-Options: {frames}")
            if secure:
                expect(cookie.startswith("__Host-session_id=") and "Secure" in cookie, f"Set-Cookie: {cookie}")
                expect(hsts and "max-age=" in hsts, f"no Strict-Transport-Security: {hsts}")
            else:
                expect(cookie.startswith("session_id=") and "Secure" not in cookie, f"Set-Cookie: {cookie}")
                expect(hsts is None, f"Strict-Transport-Security over plain http: {hsts}")
            seen[secure] = cookie.split("=", 1)[0]
    return (f"no key: exit {refused.returncode} with the message; secure: {seen[True]}, Secure, HSTS; "
            f"cookie_secure=false: {seen[False]}, no HSTS")


def round_trip(port, slug, secure_names=True):
    added = request(port, "POST", f"/api/{slug}/items", {"item": f"{slug} item"})
    expect(added.status == 201, f"{slug} add: {added.status} {added.body[:200]}")
    cookie = added.header("set-cookie")
    pair = cookie.split(";", 1)[0] if cookie else None
    read = request(port, "GET", f"/api/{slug}/items", cookie=pair)
    expect(f"{slug} item" in read.json()["items"], f"{slug} read back: {read.body[:200]}")
    return pair


def check_strategies(image):
    port = free_port()
    with Container(image, app_env(ROCKET_COOKIE_SECURE="false"), publish=(port, 8080)) as c:
        c.wait_ready(port)
        page = request(port, "GET", "/")
        expect(page.status == 200 and "Private cookie" in page.body, f"page: {page.status}")
        for slug in ["global", "server-session", "cookie-session"]:
            pair = round_trip(port, slug)
            if slug == "cookie-session":
                name, value = pair.split("=", 1)
                expect(name == "cookie_session" and "cookie-session item" not in urllib.parse.unquote(value),
                       "the private cookie is readable")
                fresh = request(port, "GET", f"/api/{slug}/items")
                expect(fresh.json()["items"] == [], "a visitor without the cookie sees the list")
    return "page 200; add + read back for global, server-session, cookie-session; private cookie opaque"


def check_redis(image, redis_url):
    first, second = free_port(), free_port()
    url = redis_url.rstrip("/") + "/14"
    key = new_key()
    env = lambda port: app_env(ROCKET_SECRET_KEY=key, ROCKET_PORT=str(port), ROCKET_ADDRESS="127.0.0.1",
                               ROCKET_SESSION_STORE=url, ROCKET_COOKIE_SECURE="false")
    with Container(image, env(first), network="host") as a, Container(image, env(second), network="host") as b:
        a.wait_ready(first)
        b.wait_ready(second)
        health = request(first, "GET", "/healthz").json()
        expect(health["store"] == {"backend": "redis", "up": True}, f"/healthz: {health}")
        pair = round_trip(first, "server-session")
        other = request(second, "GET", "/api/server-session/items", cookie=pair)
        expect(other.json()["items"] == ["server-session item"], f"second container: {other.body[:200]}")
    return f"a session written through one container reads back through another ({url})"


def check_probes(image):
    port = free_port()
    env = app_env(ROCKET_PORT=str(port), ROCKET_ADDRESS="127.0.0.1",
                  ROCKET_SESSION_STORE="redis://127.0.0.1:1")  # nothing listens there
    with Container(image, env, network="host") as c:
        c.wait_ready(port, statuses=(503,))
        health = request(port, "GET", "/healthz")
        expect(health.status == 503 and health.json()["status"] == "degraded", f"/healthz: {health.body}")
        live = request(port, "GET", "/livez")
        expect(live.status == 200, f"/livez with the store down: {live.status}")
        cookie = request(port, "POST", "/api/cookie-session/items", {"item": "still works"})
        expect(cookie.status == 201, f"the private cookie with the store down: {cookie.status}")
    return "store down: /healthz 503 degraded (out of rotation), /livez 200 (no restart), cookies work"


def check_sigterm(image, seconds):
    port = free_port()
    # Every add of the load starts a session from one address: lift the bounds on new
    # sessions, which this check is not about (the flood benchmark is).
    unbounded = dict(ROCKET_SESSION_LIMIT="100000000", ROCKET_SESSION_RATE_BURST="4000000000")
    with Container(image, app_env(ROCKET_COOKIE_SECURE="false", **unbounded), publish=(port, 8080)) as c:
        c.wait_ready(port)
        load = Load(port, workers=16)
        load.start()
        time.sleep(seconds)
        slow = socket.create_connection(("127.0.0.1", port))
        body = json.dumps({"item": "in flight"}).encode()
        slow.sendall(b"POST /api/global/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:5])
        time.sleep(0.2)  # the server has read the head and waits for the body
        sent = time.monotonic()
        load.terminating.set()
        podman("kill", "--signal", "TERM", c.id)
        time.sleep(0.3)
        slow.sendall(body[5:])
        slow.settimeout(5)
        answer = b""
        try:
            while chunk := slow.recv(4096):
                answer += chunk
        except OSError as error:
            answer += f" ({error})".encode()
        code = podman("wait", c.id, timeout=30).stdout.strip()
        exit_seconds = time.monotonic() - sent
        load.stop()
        counts = load.counts()
        expect(answer.startswith(b"HTTP/1.1 201"), f"the request in flight got: {answer[:120]!r}")
        expect(code == "0", f"exit status {code}: {c.logs()[-600:]}")
        expect(exit_seconds < 10, f"exited {exit_seconds:.1f} s after SIGTERM")
        expect(counts["ok"] > 100, f"the load hardly ran: {counts}")
        expect(counts["failed"] == 0, f"failed requests under SIGTERM: {counts} {load.failures[:5]}")
    return (f"{counts['ok']} ok, {counts['failed']} failed, {counts['resent']} resent on a fresh connection, "
            f"{counts['refused']} refused after the listener closed; in-flight POST 201; "
            f"exit 0 after {exit_seconds:.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="localhost/server-side-sessions:latest")
    parser.add_argument("--only", action="append", help="run only this check (repeatable)")
    parser.add_argument("--load-seconds", type=float, default=3.0)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    checks = {
        "contents": lambda: check_contents(args.image),
        "hardening": lambda: check_hardening(args.image),
        "release": lambda: check_release(args.image),
        "strategies": lambda: check_strategies(args.image),
        "redis": lambda: check_redis(args.image, redis_url),
        "probes": lambda: check_probes(args.image),
        "sigterm": lambda: check_sigterm(args.image, args.load_seconds),
    }
    failed = 0
    for name, check in checks.items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        try:
            outcome, ok = check(), True
        except (Failed, subprocess.SubprocessError, OSError, KeyError, ValueError) as error:
            outcome, ok = f"FAILED: {error}", False
            failed += 1
        print(f"{'ok  ' if ok else 'FAIL'} {name:<11} {time.monotonic() - started:5.1f} s  {outcome}", flush=True)
    total = sum(1 for n in checks if not args.only or n in args.only)
    print(f"container: {total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
