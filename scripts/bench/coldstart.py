"""Cold start: from the exec of a fresh process to its first answered page, for the release
HTTP server and for the Lambda bootstrap (the zip's, from `scripts/lambda.sh build`) behind
cargo-lambda's emulator of Lambda's runtime API. Both in one run, alternating, so the machine's
load falls on both alike; medians of the rounds.

For Lambda the emulator is started first and is not timed (on AWS the runtime API is already
there): the clock starts when the bootstrap is executed, with the invocation (`GET /`) already
waiting, and stops when the page comes back through the emulator. That is what Lambda calls
the init phase plus the first invocation, as far as the function controls it.
"""

import base64
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import zipfile

from app_http import free_port, request
from server import BINARY

ZIP = "target/lambda/server-side-sessions/bootstrap.zip"


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _env(extra):
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKET_")}
    env.update(ROCKET_SECRET_KEY=key, ROCKET_LOG_LEVEL="off", ROCKET_PROFILE="release", **extra)
    return env


def _stop(proc):
    proc.kill()
    proc.wait()


def http_server_once():
    """Exec of the release server to its first 200 for `GET /` (polling the port every 0.5 ms)."""
    port = free_port()
    env = _env({"ROCKET_PORT": str(port), "ROCKET_ADDRESS": "127.0.0.1"})
    started = time.perf_counter()
    proc = subprocess.Popen([BINARY], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = started + 20
        while time.perf_counter() < deadline:
            try:
                if request(port, "GET", "/").status == 200:
                    return (time.perf_counter() - started) * 1000, _rss_kib(proc.pid)
            except OSError:
                time.sleep(0.0005)
        raise RuntimeError("the HTTP server never answered")
    finally:
        _stop(proc)


def _wait_port(port, deadline):
    while time.perf_counter() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {port}")


def lambda_once(bootstrap_dir):
    """Exec of the bootstrap, an invocation already waiting, to the page through the emulator."""
    port = free_port()
    emulator = subprocess.Popen(
        ["cargo", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(port), "--disable-cors"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_port(port, time.perf_counter() + 30)
        answered = {}

        def invoke():
            try:
                answered["status"] = request(port, "GET", "/", timeout=30).status
            finally:
                answered["at"] = time.perf_counter()
        waiting = threading.Thread(target=invoke)
        waiting.start()
        time.sleep(0.05)  # the invocation is queued in the emulator before the function starts
        env = _env({"AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt", "AWS_LAMBDA_FUNCTION_NAME": "_",
                    "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
                    "ROCKET_CONFIG": "/dev/null"})
        started = time.perf_counter()
        function = subprocess.Popen([os.path.join(bootstrap_dir, "bootstrap")], env=env, cwd=bootstrap_dir,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            waiting.join(30)
            if answered.get("status") != 200:
                raise RuntimeError(f"the first invocation answered {answered.get('status')}")
            return (answered["at"] - started) * 1000, _rss_kib(function.pid)
        finally:
            _stop(function)
    finally:
        os.killpg(emulator.pid, 9)
        emulator.wait()


def run(rounds):
    bootstrap_dir = None
    if not os.path.exists(ZIP) or not shutil.which("cargo-lambda"):
        print(f"cold start: SKIPPED the Lambda half: no {ZIP} or no cargo-lambda "
              f"(scripts/lambda.sh build brings both)")
    else:
        bootstrap_dir = tempfile.mkdtemp(prefix="bootstrap-")
        with zipfile.ZipFile(ZIP) as archive:
            archive.extractall(bootstrap_dir)
        os.chmod(os.path.join(bootstrap_dir, "bootstrap"), 0o755)
    http_runs, lambda_runs = [], []
    for _ in range(rounds):
        http_runs.append(http_server_once())
        if bootstrap_dir:
            lambda_runs.append(lambda_once(bootstrap_dir))
    result = {"rounds": rounds, "http": _summary(http_runs)}
    print(f"cold start, median of {rounds} (exec to the first answered page):")
    print(f"  HTTP server:        {result['http']['ms']:6.1f} ms  (range {result['http']['range']}), "
          f"RSS {result['http']['rss_kib'] / 1024:.1f} MiB")
    if lambda_runs:
        result["lambda"] = _summary(lambda_runs)
        extra = result["lambda"]["ms"] - result["http"]["ms"]
        result["lambda_extra_ms"] = extra
        print(f"  Lambda (emulated):  {result['lambda']['ms']:6.1f} ms  (range {result['lambda']['range']}), "
              f"RSS {result['lambda']['rss_kib'] / 1024:.1f} MiB")
        target = "met" if extra <= result["http"]["ms"] / 2 else "MISSED"
        print(f"  the Lambda path adds {extra:+.1f} ms: target at most half the server's "
              f"({result['http']['ms'] / 2:.1f} ms) {target}")
    return result


def _summary(runs):
    times = [ms for ms, _ in runs]
    return {"ms": statistics.median(times), "range": f"{min(times):.1f}-{max(times):.1f}",
            "rss_kib": statistics.median(rss for _, rss in runs)}
