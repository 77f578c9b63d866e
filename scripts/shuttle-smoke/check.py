#!/usr/bin/env python3
"""The HTTP checks of scripts/shuttle-smoke.sh, against an app that is already running.

    PYTHONPATH=scripts/lib python3 -B scripts/shuttle-smoke/check.py http://127.0.0.1:8000 [--expect-store postgres]

The smoke script starts the Shuttle entry point (Bash is for processes) and hands over to
this for everything spoken over HTTP, where JSON is parsed as JSON: the comparison page, a
private-cookie round trip (HttpOnly, opaque, private to the jar that holds it), a
server-side session round trip, and the store `/api/inspect` names. It talks through the
cookie-keeping client every script shares (scripts/lib/app_http.py). Prints one PASS or FAIL line per check; exit status 1 if any failed.
"""

import argparse
import json
import random
import sys

from app_http import Visitor


class Checks:
    def __init__(self):
        self.failures = 0

    def check(self, ok, message):
        print(f"{'PASS' if ok else 'FAIL'}: {message}", flush=True)
        self.failures += not ok


def items(answer):
    """The items of a list answer, or None when it is not one."""
    try:
        return json.loads(answer.body).get("items")
    except (ValueError, AttributeError):
        return None


def page(base, checks):
    answer = Visitor(base).call("GET", "/")
    ok = answer.status == 200 and "One list, kept three ways" in answer.body
    checks.check(ok, f'GET / is the comparison page ({answer.status}, "One list, kept three ways")')


def private_cookie(base, checks):
    item = f"smoke-{random.randrange(10**9)}"
    visitor = Visitor(base)
    added = visitor.add("cookie-session", item)
    checks.check(item in (items(added) or []), "POST /api/cookie-session/items answered 201 with the new item")
    cookies = [c for c in visitor.jar if c.name.removeprefix("__Host-") == "cookie_session"]
    if not cookies:
        checks.check(False, "the POST response set no cookie_session cookie")
        return
    cookie = cookies[-1]
    checks.check(cookie.has_nonstandard_attr("HttpOnly"), f"Set-Cookie for {cookie.name} carries HttpOnly")
    checks.check(item not in (cookie.value or ""), "the cookie value is opaque (the item does not appear in it)")
    mine = visitor.call("GET", "/api/cookie-session/items")
    checks.check(mine.status == 200 and item in (items(mine) or []),
                 f"GET /api/cookie-session/items with the cookie jar returns the item ({mine.status})")
    bare = Visitor(base).call("GET", "/api/cookie-session/items")
    checks.check(bare.status == 200 and item not in (items(bare) or []),
                 f"GET /api/cookie-session/items without the cookie does not see the item ({bare.status})")


def server_session(base, expect_store, checks):
    item = f"smoke-session-{random.randrange(10**9)}"
    visitor = Visitor(base)
    visitor.add("server-session", item)
    listed = visitor.call("GET", "/api/server-session/items")
    checks.check(item in (items(listed) or []),
                 f"a server-side session keeps its item across requests ({listed.status})")
    try:
        backend = json.loads(visitor.call("GET", "/api/inspect").body)["store"]["backend"]
    except (ValueError, KeyError, TypeError) as error:
        backend = f"unreadable ({error})"
    checks.check(backend == expect_store, f"the session store is {backend}, expected {expect_store}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base", help="the app's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--expect-store", default="memory", help="backend /api/inspect must name")
    args = parser.parse_args(argv)
    checks = Checks()
    for run in (lambda: page(args.base, checks), lambda: private_cookie(args.base, checks),
                lambda: server_session(args.base, args.expect_store, checks)):
        try:
            run()
        except Exception as error:  # a refused connection or a failed `add` is one failed check
            checks.check(False, f"{type(error).__name__}: {error}")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
