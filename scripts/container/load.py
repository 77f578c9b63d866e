"""A load generator for the container checks (Python stdlib only).

`Load` runs worker threads that each keep one connection alive and send requests in a loop
(page reads, API reads, adds), and counts how every request ended:

- ok:      a 2xx or 3xx answer
- failed:  any other status, a connection that broke after the server had started answering,
           or a fresh connection closed without an answer
- resent:  a request sent on a reused keep-alive connection that the server had closed before
           answering it, sent again once on a fresh connection. Browsers and HTTP libraries do
           the same (Chromium resends on a reused socket closed before any response byte):
           the server never saw such a request, it merely closed an idle connection
- refused: once the server has been told to stop (`terminating`), a new connection that it
           did not take: refused because it no longer listens, or reset before any byte of an
           answer because it was still queued in the kernel when the listener closed. On a
           platform the balancer has stopped routing to the instance by then; here the worker
           stops. Before `terminating` is set, the same errors count as failed.
"""

import http.client
import threading
from dataclasses import dataclass, field

from app_http import request, send


CLOSED_BEFORE_ANSWER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
REQUESTS = [("GET", "/api/global/items", None), ("GET", "/global", None),
            ("POST", "/api/server-session/items", {"item": "load"}), ("GET", "/healthz", None)]


@dataclass
class Load:
    port: int
    workers: int = 16
    stopping: threading.Event = field(default_factory=threading.Event)
    terminating: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tally: dict = field(default_factory=lambda: {"ok": 0, "failed": 0, "resent": 0, "refused": 0})
    failures: list = field(default_factory=list)
    threads: list = field(default_factory=list)

    def count(self, outcome, detail=None):
        with self.lock:
            self.tally[outcome] += 1
            if detail and len(self.failures) < 20:
                self.failures.append(detail)

    def worker(self, n):
        conn, reused = None, False
        k = n
        while not self.stopping.is_set():
            method, path, body = REQUESTS[k % len(REQUESTS)]
            k += 1
            if conn is None:
                conn, reused = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10), False
            try:
                reply = send(conn, method, path, body)
            except ConnectionRefusedError:
                self.count("refused")
                return
            except CLOSED_BEFORE_ANSWER as error:
                conn.close()
                conn = None
                if not reused:
                    if self.terminating.is_set():
                        self.count("refused")
                        return
                    self.count("failed", f"{method} {path}: {error!r} on a fresh connection")
                    continue
                self.count("resent")
                try:
                    reply = request(self.port, method, path, body, timeout=5)
                except ConnectionRefusedError:
                    self.count("refused")
                    return
                except CLOSED_BEFORE_ANSWER as again:
                    if self.terminating.is_set():
                        self.count("refused")
                        return
                    self.count("failed", f"{method} {path} resent: {again!r}")
                    continue
                except OSError as again:
                    self.count("failed", f"{method} {path} resent: {again!r}")
                    continue
            except OSError as error:
                self.count("failed", f"{method} {path}: {error!r}")
                conn.close()
                conn = None
                continue
            reused = True
            if 200 <= reply.status < 400:
                self.count("ok")
            else:
                self.count("failed", f"{method} {path}: {reply.status} {reply.body[:80]}")
            if (reply.header("connection") or "").lower() == "close":
                conn.close()
                conn = None

    def start(self):
        for n in range(self.workers):
            thread = threading.Thread(target=self.worker, args=(n,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def counts(self):
        with self.lock:
            return dict(self.tally)
