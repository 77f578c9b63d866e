"""The scenarios of the main table, and the visitors they need.

A visitor is prepared through the API just before its scenario (so a private cookie is
always fresh: one older than a minute would be re-sealed on every read), and checked: a read
with its cookie must list exactly the expected items and set no cookie.

What "0 items" means differs by strategy, because each keeps an empty list differently:
- global: the shared list, cleared.
- server-session: a live session whose list was emptied (one add, then a clear): the
  cookie is sent and the store is asked, it just answers with an empty list.
- cookie-session: no cookie at all, since clearing the list deletes the cookie; this is the
  same request as a visitor who never wrote anything, and nothing is decrypted.
"""

import statistics
from dataclasses import dataclass, field

import wrk

STRATEGIES = ("global", "server-session", "cookie-session")
SIZES = (0, 10, 50)
CAP = 100  # items in one list, in every strategy


def add_limits(connections: int) -> tuple:
    """add.lua's RESET_AT and BRAKE_AT for `connections` (see the script): with 32, lists
    start over at 30 and the global list never holds more than 96 items."""
    brake_at = CAP - connections - 3
    return max(1, min(40, brake_at - connections - 3)), brake_at

# What each strategy should cost at most, as a ratio of req/s (memory store, 32
# connections). A read is measured against the floor, the cheapest answer the server has. A
# page is measured against `static`: the same server sending the compiled-in stylesheet, 8 KB
# from memory, about a page's size. Rocket's own cost of page-sized bytes is the most a page
# could reach, so only what the page adds on top of it is the page's.
P99_LIMIT_MS = 5.0
TARGETS = {
    ("api read", 10): 0.9,
    ("page read", 10): 0.6,
    ("page read", 50): 0.35,
    ("add", "server-session"): 0.7,
    ("add", "cookie-session"): 0.6,
}
STATIC_PATH = "/static/style.css"


@dataclass
class Scenario:
    kind: str  # floor, api read, page read, add, cookie-less
    strategy: str  # a slug, or "-" for the floor
    items: object  # 0, 10, 50, or a short text
    path: str
    script: str = "report.lua"
    args: tuple = ()
    prepare: object = None  # (server) -> Cookie header value or None
    note: str = ""  # what the request is, where kind/strategy/items do not say it
    result: object = None
    peak_kib: int = 0
    cpu_us: tuple = (0.0, 0.0)  # CPU time per request: (server, wrk), microseconds
    rounds: list = field(default_factory=list)  # (wrk.Result, cpu_us, peak_kib) per round

    @property
    def baseline(self) -> str:
        """The kind of scenario this one's targets are ratios to: `static` for HTML pages."""
        return "static" if self.kind == "page read" or self.path == "/" else "floor"

    @property
    def target(self):
        if self.kind == "add":
            return TARGETS.get(("add", self.strategy))
        if isinstance(self.items, int):
            return TARGETS.get((self.kind, self.items))
        return None

    def combine(self):
        """The scenario's numbers over all rounds: medians, errors and counters added up."""
        results = [r for r, _, _ in self.rounds]
        mid = lambda values: statistics.median(values)
        self.result = wrk.Result(
            rps=mid([r.rps for r in results]), p50_ms=mid([r.p50_ms for r in results]),
            p99_ms=mid([r.p99_ms for r in results]), requests=sum(r.requests for r in results),
            seconds=sum(r.seconds for r in results),
            socket_errors=sum(r.socket_errors for r in results),
            status_errors=sum(r.status_errors for r in results),
            counters={k: sum(r.counters.get(k, 0) for r in results) for k in results[0].counters})
        self.cpu_us = (mid([c[0] for _, c, _ in self.rounds]), mid([c[1] for _, c, _ in self.rounds]))
        self.peak_kib = max(p for _, _, p in self.rounds)

    def run(self, server, load):
        cookie = self.prepare(server) if self.prepare else None
        headers = [f"Cookie: {cookie}"] if cookie else []
        return wrk.run(server.url, load, self.script, self.path, headers, self.args)


def item_text(i: int) -> str:
    return f"bench item {i:03d}"


def visitor(slug: str, n: int):
    """A function that prepares a visitor of `slug` holding `n` items; returns its Cookie."""

    def prepare(server):
        if slug == "global":
            server.call("DELETE", "/api/global/items")
        cookies = {}
        for i in range(max(n, 1) if slug == "server-session" else n):
            reply = server.call("POST", f"/api/{slug}/items", item_text(i), header(cookies))
            expect(reply.status == 201, f"add to {slug} answered {reply.status}: {reply.body}")
            cookies.update(reply.cookies)
        if slug == "server-session" and n == 0:
            reply = server.call("DELETE", f"/api/{slug}/items", cookie=header(cookies))
            expect(reply.status == 200, f"clear answered {reply.status}")
        cookie = header(cookies)
        check = server.call("GET", f"/api/{slug}/items", cookie=cookie)
        count = check.json().get("count")
        expect(count == n, f"{slug} visitor should hold {n} items, holds {count}")
        expect(not check.cookies, f"a read of {slug} set a cookie: {check.cookies}")
        return cookie

    return prepare


def header(cookies: dict):
    return "; ".join(f"{k}={v}" for k, v in cookies.items()) or None


def expect(condition, message):
    if not condition:
        raise RuntimeError("visitor preparation: " + message)


def clear_global(server):
    server.call("DELETE", "/api/global/items")
    return None


def floor(label: str) -> Scenario:
    return Scenario("floor", "-", label, "/healthz", note="GET /healthz")


def static() -> Scenario:
    return Scenario("static", "-", "-", STATIC_PATH,
                    note=f"GET {STATIC_PATH} (8 KB compiled in: page-sized bytes, no template)")


BASELINES = ("floor", "static")  # what ratios are taken against: they always run


def selected(runs, only) -> list:
    """`runs` narrowed to --only's comma-separated TEXTs (matched against "kind strategy
    items"), with the baselines kept; all of them without --only."""
    wanted = only.split(",") if only else [""]
    return [s for s in runs if s.kind in BASELINES
            or any(w in f"{s.kind} {s.strategy} {s.items}" for w in wanted)]


def table(connections: int = 32) -> list:
    """Every scenario of the main table, in the order they run."""
    reset_at, brake_at = add_limits(connections)
    runs = [floor("start"), static()]
    runs.append(Scenario("floor + Lua hook", "-", "-", "/healthz", script="hook.lua",
                         note="wrk's cost of a Lua response() (as add.lua has)"))
    for slug in STRATEGIES:
        for n in SIZES:
            runs.append(Scenario("api read", slug, n, f"/api/{slug}/items",
                                 prepare=visitor(slug, n)))
            runs.append(Scenario("page read", slug, n, f"/{slug}", prepare=visitor(slug, n)))
    for slug in STRATEGIES:
        runs.append(Scenario("add", slug, f"1-{reset_at}", f"/api/{slug}/items",
                             script="add.lua", args=(slug, reset_at, brake_at),
                             prepare=clear_global if slug == "global" else None))
    runs.append(Scenario("cookie-less", "all", "-", "/", note="GET / (the comparison page)",
                         prepare=clear_global))
    runs.append(Scenario("cookie-less", "server-session", "-", "/api/server-session/items",
                         note="GET /api/server-session/items"))
    runs.append(floor("end"))
    return runs
