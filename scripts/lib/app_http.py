"""Talking to the app over HTTP, for every script that does (Python standard library only).

- `free_port()`: a loopback port nothing listens on right now.
- `request(port, ...)`: one request on a connection of its own; `send(conn, ...)`: one on a
  connection the caller keeps alive (JSON bodies); `exchange(conn, ...)`: the same with the
  caller's own headers and body. All answer a `Reply`.
- `Visitor`: one browser-like visitor at a base URL: a cookie jar that follows the app's
  `Set-Cookie`s, and redirects left unfollowed so each answer can be checked as it is.

The scripts' entry points (`scripts/*.sh`) put this folder on `PYTHONPATH`.
"""

import http.client
import http.cookiejar
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


def free_port() -> int:
    """A port the kernel has just given out and taken back: free now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: list  # (name, value) pairs, as sent: `Set-Cookie` may come several times
    body: str

    def header(self, name):
        """The first value of header `name` (any case), or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def set_cookies(self) -> list:
        """Every `Set-Cookie` header, attributes and all."""
        return [value for key, value in self.headers if key.lower() == "set-cookie"]

    @property
    def cookies(self) -> dict:
        """Name -> value of every `Set-Cookie` in the answer."""
        cookies = {}
        for header in self.set_cookies():
            name, _, value = header.split(";", 1)[0].partition("=")
            cookies[name.strip()] = value.strip()
        return cookies

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def exchange(conn, method, path, headers=None, data=None) -> Reply:
    """One request on `conn` (http or https), sent as given."""
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    return Reply(response.status, response.getheaders(), response.read().decode(errors="replace"))


def send(conn, method, path, body=None, cookie=None) -> Reply:
    """`body` (a dict) goes as JSON; `cookie` as the `Cookie` header."""
    headers = {"Cookie": cookie} if cookie else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return exchange(conn, method, path, headers, data)


def request(port, method, path, body=None, cookie=None, timeout=10) -> Reply:
    """One request to 127.0.0.1:`port`, on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return send(conn, method, path, body, cookie)
    finally:
        conn.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keeps a 303 a 303: a check looks at the answer of each request, not where it leads."""

    def redirect_request(self, *args, **kwargs):
        return None


class Visitor:
    """One visitor of the app at `base` (`http://host:port`), keeping its cookies."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        # No proxy from the environment: the app is on loopback.
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def call(self, method, path, data=None, headers=None) -> Reply:
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=10) as response:
                return Reply(response.status, response.headers.items(), response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers.items(), error.read().decode(errors="replace"))

    def add(self, slug, item) -> Reply:
        """Adds `item` to list `slug` through the JSON API; the answer, whatever its status."""
        body = json.dumps({"item": item}).encode()
        return self.call("POST", f"/api/{slug}/items", body, {"Content-Type": "application/json"})

    def form(self, path, fields, headers=None) -> Reply:
        """Posts an HTML form, as a browser would."""
        body = urllib.parse.urlencode(fields).encode()
        return self.call("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
