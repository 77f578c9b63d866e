"""The release server under test: started on a free loopback port with a fresh key, talked
to over plain HTTP, and watched through /proc (its resident memory)."""

import base64
import os
import subprocess
import tempfile
import time

from app_http import Reply, free_port, request

# BENCH_BINARY picks another build, e.g. a copy of an older one to compare with (run the
# script from the checkout whose templates/ that build expects).
BINARY = os.environ.get("BENCH_BINARY", "target/release/server-side-sessions")


# The load scenarios start many sessions from one address; they measure the strategies, not
# the bounds on new sessions, which these settings put out of reach (the flood scenario
# measures the bounds, with and without them).
UNBOUNDED = {"ROCKET_SESSION_LIMIT": "100000000", "ROCKET_SESSION_RATE_PER_MINUTE": "4000000000",
             "ROCKET_SESSION_RATE_BURST": "4000000000"}


class StartFailed(Exception):
    """The server exited or never answered /healthz; the message holds its last output."""


class Server:
    """One server process. `settings` are extra ROCKET_* variables (store, lifetimes)."""

    def __init__(self, settings=None, log_level="off", binary=None):
        self.binary = binary or BINARY
        self.port = free_port()
        self.settings = dict(settings or {})
        self.log_level = log_level
        self.proc = None
        self.log = tempfile.TemporaryFile()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict:
        env = dict(os.environ)
        env.update(
            ROCKET_ADDRESS="127.0.0.1",
            ROCKET_PORT=str(self.port),
            ROCKET_SECRET_KEY=base64.b64encode(os.urandom(32)).decode(),
            ROCKET_LOG_LEVEL=self.log_level,
            ROCKET_COOKIE_SECURE="false",  # plain http on loopback: plain cookie names
            **UNBOUNDED,
        )
        env.update(self.settings)
        # A setting of None removes the variable: the app's own default applies.
        return {name: value for name, value in env.items() if value is not None}

    def start(self, timeout=30.0):
        if not os.access(self.binary, os.X_OK):
            raise StartFailed(f"{self.binary} is missing: run `cargo build --release` first")
        self.proc = subprocess.Popen([self.binary], env=self.environment(), stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartFailed(f"the server exited with status {self.proc.returncode}"
                                  + self.output_tail())
            try:
                reply = self.call("GET", "/healthz")
                if reply.status == 200:
                    return
                raise StartFailed(f"/healthz answered {reply.status}: {reply.body}")
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise StartFailed(f"no answer on {self.url} within {timeout:.0f} s" + self.output_tail())

    def output_tail(self, lines=15) -> str:
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip().splitlines()[-lines:]
        return ("\n  " + "\n  ".join(text)) if text else " (it printed nothing)"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- HTTP, one short connection per call (only for setting up and checking) ---

    def call(self, method, path, item=None, cookie=None) -> Reply:
        return request(self.port, method, path, None if item is None else {"item": item}, cookie)

    def sessions(self) -> int:
        """Live server-side sessions, as /api/inspect reports them (`store.sessions`)."""
        return self.call("GET", "/api/inspect").json()["store"]["sessions"]

    # --- memory, from /proc ---

    def memory_kib(self) -> dict:
        """VmRSS (resident now) and VmHWM (peak resident since start or the last reset)."""
        found = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
        return found

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far, user plus system (kernel work for its
        sockets counts here), from /proc/PID/stat."""
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak(self) -> bool:
        """Starts a new VmHWM measurement (Linux: `5` in clear_refs); False if not allowed."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            return True
        except OSError:
            return False
