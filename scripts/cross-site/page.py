#!/usr/bin/env python3
"""Serves an attacker's page on another origin than the app (scripts/cross-site.sh).

The page tries, against each strategy's list, what another site can make your browser do:

- a forged form post (`<form method=post action=APP/<slug>/items>`): the browser sends it with
  your cookies and shows the app's answer, its 403 page with the reason;
- a fetch() of the same form, `mode: "no-cors"`, with your cookies: the browser sends it, the
  app answers 403, and the page is not allowed to read the answer (devtools > Network and the
  app's log show it);
- a fetch() of JSON to the API: the browser asks the app first (a CORS preflight), the app
  grants no other origin anything, and the browser never sends the write.

Every attempt plants an item; the app's lists show afterwards that none arrived.
"""

import argparse
import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STRATEGIES = (("global", "Global state"), ("server-session", "Server-side session"), ("cookie-session", "Private cookie"))

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Another site</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d232b; background: #fff8f0; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ border: 1px solid #d9c9b5; padding: .5rem; text-align: left; vertical-align: top; }}
  output {{ display: block; margin-top: .4rem; font-size: .9rem; }}
  code {{ font-size: .9em; }}
</style></head>
<body>
<h1>Another site</h1>
<p>This page comes from <code id="here"></code>, another origin than the app at
<code>{app}</code>. Everything below tries to add an item to your lists there, in the browser you
use the app in, so with your cookies. The app refuses every write whose <code>Sec-Fetch-Site</code>
is not <code>same-origin</code> or <code>none</code>: here it says <code>same-site</code> or
<code>cross-site</code>. (A browser without that header is judged by <code>Origin</code>.)</p>
<table>
<thead><tr><th scope="col">List</th><th scope="col">A forged form post</th><th scope="col">fetch() of the same form</th><th scope="col">fetch() of JSON to the API</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p>A form post shows the app's answer in place of this page: its 403 page says why. Press Back
to return. A fetch() cannot show you the answer: the browser keeps another origin's answer
from this page. Open devtools &gt; Network to see each one, and the terminal running the app,
which logs every refusal.</p>
<p>Then <a id="check" href="{app}/">open the app</a>: none of the planted items is there.</p>
<script>
document.getElementById("here").textContent = location.origin;
const APP = {app_json};
async function formFetch(slug, out) {{
  const body = new URLSearchParams({{ item: "planted by fetch()", return_to: "/" }});
  try {{
    await fetch(APP + "/" + slug + "/items", {{ method: "POST", mode: "no-cors", credentials: "include", body }});
    out.textContent = "Sent, with your cookies. The app answered 403 (devtools > Network); this page may not read it.";
  }} catch (error) {{
    out.textContent = "The browser did not send it: " + error.message;
  }}
}}
async function jsonFetch(slug, out) {{
  try {{
    const answer = await fetch(APP + "/api/" + slug + "/items", {{
      method: "POST", credentials: "include",
      headers: {{ "Content-Type": "application/json" }}, body: JSON.stringify({{ item: "planted by JSON fetch()" }}),
    }});
    out.textContent = "Answered " + answer.status + ": the app let another origin read its answer.";
  }} catch (error) {{
    out.textContent = "Blocked before the write was sent: the browser asked first (CORS preflight) and the app allows no other origin (" + error.message + ").";
  }}
}}
for (const button of document.querySelectorAll("button[data-fetch]")) {{
  button.addEventListener("click", () => {{
    const out = document.getElementById(button.dataset.fetch + "-" + button.dataset.slug);
    out.textContent = "sending...";
    (button.dataset.fetch === "form" ? formFetch : jsonFetch)(button.dataset.slug, out);
  }});
}}
</script>
</body>
</html>
"""

ROW = """<tr>
  <th scope="row">{title}</th>
  <td><form method="post" action="{app}/{slug}/items"><input type="hidden" name="item" value="planted by a form">
    <input type="hidden" name="return_to" value="/"><button id="post-{slug}" type="submit">Post the form</button></form></td>
  <td><button id="fetch-form-{slug}" type="button" data-fetch="form" data-slug="{slug}">Send</button><output id="form-{slug}"></output></td>
  <td><button id="fetch-json-{slug}" type="button" data-fetch="json" data-slug="{slug}">Send</button><output id="json-{slug}"></output></td>
</tr>"""


def page(app: str) -> bytes:
    quoted = html.escape(app)
    rows = "\n".join(ROW.format(app=quoted, slug=slug, title=title) for slug, title in STRATEGIES)
    # The app's URL goes into a script: as JSON, with "<" escaped so it cannot close the tag.
    app_json = json.dumps(app).replace("<", "\\u003c")
    return PAGE.format(app=quoted, rows=rows, app_json=app_json).encode()


def handler(body: bytes) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self.answer(200, "text/html; charset=utf-8", body)
            elif self.path == "/favicon.ico":
                self.answer(204, "text/plain", b"")
            else:
                self.answer(404, "text/plain; charset=utf-8", b"not here\n")

        def answer(self, status: int, kind: str, content: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="http://127.0.0.1:8000", help="the app's origin (default %(default)s)")
    parser.add_argument("--port", type=int, default=8090, help="this page's port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args()
    app = args.app.rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(page(app)))
    print(f"another site: http://127.0.0.1:{server.server_port}/ (attacking {app}); Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
