"""The app in AWS Lambda's emulator (`scripts/lambda.sh serve`, i.e. `cargo lambda watch`), and
a visitor that keeps cookies the way a browser does, for scripts/lambda/check.py.

Requests and replies are the shared ones (scripts/lib/app_http.py). The visitor here is its
own: it speaks https with the check's own CA too, and its jar is a plain dict a check can copy
to a second visitor (a cookie replayed elsewhere)."""

import http.client
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.parse

import app_http
from app_http import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Failed(Exception):
    pass


class Reply(app_http.Reply):
    def instance(self):
        """The id of the instance that answered (its `X-Instance` header's first word)."""
        return (self.header("x-instance") or "?").split()[0]


class Emulator:
    """`scripts/lambda.sh serve` on a free port with `env` on top; stopped with SIGTERM."""

    def __init__(self, env, tls=None):
        self.port = free_port()
        self.tls = tls  # (cert, key, ca) for https
        self.log = tempfile.NamedTemporaryFile(prefix="lambda-emulator-", suffix=".log", delete=False)
        full = dict(os.environ, PORT=str(self.port), ROCKET_LOG_LEVEL="normal", **env)
        full = {name: value for name, value in full.items() if value is not None}  # None unsets
        if tls:
            full.update(LAMBDA_TLS_CERT=tls[0], LAMBDA_TLS_KEY=tls[1])
        self.process = subprocess.Popen([f"{REPO}/scripts/lambda.sh", "serve"], env=full, cwd=REPO,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def __enter__(self):
        deadline = time.time() + 180  # the first start may compile
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failed(f"the emulator exited: {self.logs()[-1500:]}")
            try:
                if self.request("GET", "/livez", timeout=5).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise Failed(f"the emulator never answered on port {self.port}: {self.logs()[-1500:]}")

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def logs(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def functions(self):
        """PIDs of the function instances the emulator runs (its child processes)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                with open(f"/proc/{entry}/comm") as f:
                    name = f.read().strip()
                if int(fields[1]) == self.process.pid and name.startswith("server-side"):
                    pids.append(int(entry))
        return pids

    def request(self, method, path, headers=None, body=None, timeout=30):
        if self.tls:
            context = ssl.create_default_context(cafile=self.tls[2])
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            reply = app_http.exchange(conn, method, path, headers, body)
            return Reply(reply.status, reply.headers, reply.body)
        finally:
            conn.close()

    def visitor(self):
        return Visitor(self)


class Visitor:
    """One browser: keeps the cookies the app sets (by name) and sends them back."""

    def __init__(self, app):
        self.app, self.jar = app, {}

    def send(self, method, path, headers=None, body=None):
        headers = dict(headers or {})
        if self.jar:
            headers["Cookie"] = "; ".join(f"{n}={v}" for n, v in self.jar.items())
        reply = self.app.request(method, path, headers, body)
        for cookie in reply.set_cookies():
            pair = cookie.split(";", 1)[0]
            name, value = pair.split("=", 1)
            if value == "" or "Max-Age=0" in cookie:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return reply

    def add(self, slug, item, headers=None):
        body = json.dumps({"item": item})
        return self.send("POST", f"/api/{slug}/items", {"Content-Type": "application/json", **(headers or {})}, body)

    def items(self, slug):
        reply = self.send("GET", f"/api/{slug}/items")
        if reply.status != 200:
            raise Failed(f"GET /api/{slug}/items: {reply}")
        return reply.json()["items"]

    def form(self, path, fields, headers=None):
        body = urllib.parse.urlencode(fields)
        return self.send("POST", path, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}, body)

