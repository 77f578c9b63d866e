"""Round trips to the session store per request (`--roundtrips URL[,URL]`), counted on the
wire rather than read from the code.

For each store, a small TCP proxy (asyncio, in a thread) sits between the app and the store:
the app is started with its store URL pointed at the proxy's port. The proxy counts *turns*
on each connection: a send from the app that follows a reply from the store (or opens the
connection). A command and its reply is one turn; several commands written before the store
answers (a pipeline, or several protocol messages sent at once) are one turn too, which is
what a round trip costs in waiting.

Visitors hold 10 items in each strategy (prepared as the main table's are, and sent together,
as a browser would send all three cookies); each route gets a few warm-up requests, then
REQUESTS sequential ones on one keep-alive connection. The app also talks to the store in
the background (revocation epochs reloaded every 5 s, sessions recounted every 2 s, and with
Postgres expired ones purged); an idle window of the same length right after each route is
counted too and subtracted, the connection of the revocation feed (pub/sub or LISTEN)
included.

It checks itself: a server-side session read with a network store must ask the store at
least once (nothing caches sessions in the app), so fewer than one turn per such read means
the proxy is not where the app's store calls go, and the run fails.
"""

import asyncio
import http.client
import threading
import time
import urllib.parse

import scenarios
from app_http import send

REQUESTS = 1000  # one background query in the window then moves the result by < 0.01
WARM_UP = 5
ITEMS = 10
ROUTES = (("page", "/global"), ("page", "/server-session"), ("page", "/cookie-session"),
          ("page", "/"), ("api read", "/api/global/items"), ("api read", "/api/server-session/items"),
          ("api read", "/api/cookie-session/items"))
DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "postgres": 5432, "postgresql": 5432}


class CountingProxy:
    """Forwards 127.0.0.1:`port` to `upstream` and counts turns over all connections."""

    def __init__(self, host, port):
        self.upstream = (host, port)
        self.turns = 0
        self.port = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def start(self):
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the counting proxy did not start")

    def serve(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self.relay, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()
        # The app's connections may still be open: end their relays before the loop goes.
        relays = asyncio.all_tasks(self.loop)
        for relay in relays:
            relay.cancel()
        self.loop.run_until_complete(asyncio.gather(*relays, return_exceptions=True))
        self.loop.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def relay(self, app_reader, app_writer):
        try:
            store_reader, store_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            app_writer.close()
            return
        last = [None]  # who sent last on this connection: "app" or "store"

        async def pump(reader, writer, side):
            try:
                while data := await reader.read(65536):
                    if side == "app" and last[0] != "app":
                        self.turns += 1  # only this thread writes it
                    last[0] = side
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        try:
            await asyncio.gather(pump(app_reader, store_writer, "app"),
                                 pump(store_reader, app_writer, "store"))
        except asyncio.CancelledError:
            pass  # the proxy is stopping


def through(url, port) -> str:
    """`url` with its host and port replaced by 127.0.0.1:`port` (user and password kept)."""
    parts = urllib.parse.urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=(user + "@" if user else "") + f"127.0.0.1:{port}").geturl()


def prepare(server) -> str:
    """One visitor holding ITEMS items in every strategy: its Cookie header."""
    cookies = [scenarios.visitor(slug, ITEMS)(server) for slug in scenarios.STRATEGIES]
    return "; ".join(c for c in cookies if c)


def count(server, proxy, path, cookie) -> float:
    """Turns per request on `path`, background subtracted."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(WARM_UP):
            send(conn, "GET", path, cookie=cookie)
        before, started = proxy.turns, time.monotonic()
        for _ in range(REQUESTS):
            reply = send(conn, "GET", path, cookie=cookie)
            if reply.status != 200:
                raise RuntimeError(f"GET {path} answered {reply.status}: {reply.body[:200]}")
        busy, elapsed = proxy.turns - before, time.monotonic() - started
    finally:
        conn.close()
    before = proxy.turns
    time.sleep(elapsed)
    idle = proxy.turns - before
    return round((busy - idle) / REQUESTS, 2) + 0.0  # + 0.0: no "-0.00"


def backend(url) -> str:
    return "postgres" if url.startswith("postgres") else "redis"


def run(args, start, redact) -> dict:
    counts, outcome = {}, 0
    for url in args.roundtrips.split(","):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise RuntimeError(f"--roundtrips: {redact(url)} is not a network store")
        proxy = CountingProxy(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
        proxy.start()
        server = None
        try:
            store = through(url, proxy.port)
            server = start({"ROCKET_SESSION_STORE": store}, store)
            print(f"{redact(url)} through the counting proxy on port {proxy.port}; app "
                  f"{server.url}", flush=True)
            cookie = prepare(server)
            name = backend(url)
            if any(seen == name for seen, _ in counts):  # a second URL of the same kind
                name = redact(url)
            for kind, path in ROUTES:
                counts[(name, path)] = count(server, proxy, path, cookie)
                print(f"  {kind:<9} {path:<27} {counts[(name, path)]:5.2f} round trips/request",
                      flush=True)
            if counts[(name, "/api/server-session/items")] < 0.95:
                print(f"FAILED: a server-side session read with {name} made fewer than one "
                      "round trip to the store: the proxy does not see the app's store calls")
                outcome = 1
        finally:
            if server:
                server.stop()
            proxy.stop()
    names = list(dict.fromkeys(name for name, _ in counts))
    table = ["| route | " + " | ".join(f"{n} round trips/request" for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for kind, path in ROUTES:
        table.append(f"| {kind} `GET {path}` | "
                     + " | ".join(f"{counts[(n, path)]:.2f}" for n in names) + " |")
    return {"table": table, "outcome": outcome,
            "counts": {f"{n} {p}": v for (n, p), v in counts.items()}}
