"""The app through AWS Lambda's emulator (`cargo lambda watch`): what CI checks of the Lambda
entry point. Run by `scripts/lambda.sh check` after the build; each part starts its own
emulator and prints one line. Fails (exit 1) on the first broken rule."""

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from emulator import Emulator, Failed

KEY = base64.b64encode(secrets.token_bytes(32)).decode()
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
JSON = {"Content-Type": "application/json"}


def expect(condition, message):
    if not condition:
        raise Failed(message)


def strategies_cookies_and_refusals():
    with Emulator({"ROCKET_SECRET_KEY": KEY}) as app:
        visitor = app.visitor()
        slugs = ["global", "server-session", "cookie-session", "signed-session"]
        for slug in slugs:
            added = visitor.add(slug, f"milk {slug}")
            expect(added.status == 201, f"add to {slug}: {added}")
            expect(visitor.items(slug) == [f"milk {slug}"], f"{slug} lost its item")
            for cookie in added.set_cookies():
                expect(all(a in cookie for a in ["HttpOnly", "SameSite=Lax", "Path=/"]), cookie)
        for name in ["session_id", "cookie_session", "signed_session"]:
            expect(name in visitor.jar, f"no {name} cookie came back: {visitor.jar}")
        for slug in slugs:
            removed = visitor.send("DELETE", f"/api/{slug}/items")
            expect(removed.status == 200 and visitor.items(slug) == [], f"clear {slug}: {removed}")
        page = visitor.form("/cookie-session/items", {"item": "tea", "return_to": "/"})
        expect(page.status == 303 and visitor.items("cookie-session") == ["tea"], f"the form: {page}")
        expect(visitor.send("GET", "/").status == 200, "the page")
        head = visitor.send("HEAD", "/")
        expect(head.status == 200 and head.body == "", f"HEAD: {head}")
        before = visitor.items("global")
        forged = visitor.add("global", "forged", {"Origin": "https://evil.example"})
        fetched = visitor.add("global", "forged", {"Sec-Fetch-Site": "cross-site"})
        expect(forged.status == 403 and fetched.status == 403, f"cross-site writes: {forged} {fetched}")
        expect(visitor.items("global") == before, "a refused write changed the list")
        wrong = app.request("PUT", "/api/global/items")
        expect(wrong.status == 405 and "POST" in (wrong.header("allow") or ""), f"405: {wrong}")
        options = app.request("OPTIONS", "/api/global/items")
        expect(options.status == 204 and options.header("allow"), f"OPTIONS: {options}")
        big = app.request("POST", "/api/global/items", JSON, json.dumps({"item": "a" * 5000}))
        expect(big.status == 413 and "error" in big.json(), f"a 5 KB body: {big}")
        full = None
        for n in range(40):
            full = visitor.add("cookie-session", f"{n:03} " + "w" * 190)
            if full.status != 201:
                break
        expect(full.status == 422 and "4096" in full.body, f"the 4 KB wall: {full}")
        expect(len(visitor.items("cookie-session")) == n + 1, "the refused add lost the old cookie")
        bad = app.request("GET", "/%zz")
        expect(bad.status in (400, 404), f"a malformed path: {bad}")
        print(f"ok: four strategies, form, HEAD, cookie attributes, 403 cross-site, 405/OPTIONS, 413, "
              f"the 4 KB wall after {n} items, {bad.status} for a malformed path")


def events_that_are_not_requests():
    """Invoked directly (Lambda's Invoke API, as `cargo lambda invoke` does) with no HTTP event."""
    with Emulator({"ROCKET_SECRET_KEY": KEY}) as app:
        path = "/2015-03-31/functions/server-side-sessions/invocations"
        broken = app.request("POST", path, JSON, '{"not": "an http event"}')
        expect(broken.status >= 400, f"a broken event: {broken}")
        expect("not a function-URL request" in app.logs(), "the broken event was not logged")
        expect(app.request("GET", "/livez").status == 200, "the function died on a broken event")
        print(f"ok: a non-HTTP event is logged and answered with an error ({broken.status}); "
              f"the function keeps serving")


def rate_by_source_address():
    env = {"ROCKET_SECRET_KEY": KEY, "ROCKET_SESSION_RATE_PER_MINUTE": "1", "ROCKET_SESSION_RATE_BURST": "3",
           # Even when told to trust a header, the Lambda entry point keys on sourceIp.
           "ROCKET_IP_HEADER": "X-Real-IP"}
    with Emulator(env) as app:
        statuses = []
        for n in range(4):
            spoof = {"X-Real-IP": f"203.0.113.{n}", "X-Forwarded-For": f"198.51.100.{n}"}
            statuses.append(app.visitor().add("server-session", "milk", spoof).status)
        expect(statuses == [201, 201, 201, 429], f"new sessions with spoofed addresses: {statuses}")
        expect("`ip_header` is ignored on Lambda" in app.logs(), "no warning about the ignored ip_header")
        print(f"ok: the rate keys on sourceIp, spoofed headers ignored: {statuses}")


def throwaway_tls(directory):
    """A CA and a certificate for 127.0.0.1 signed by it (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=throwaway CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "req.csr")
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "san.ext", "-out", "cert.pem")
    return tuple(os.path.join(directory, name) for name in ["cert.pem", "key.pem", "ca.pem"])


def release_profile_over_https():
    with tempfile.TemporaryDirectory() as directory:
        env = {"ROCKET_SECRET_KEY": KEY, "ROCKET_PROFILE": "release"}
        with Emulator(env, tls=throwaway_tls(directory)) as app:
            visitor = app.visitor()
            added = visitor.add("server-session", "milk")
            cookie = added.set_cookies()[0] if added.set_cookies() else ""
            expect(added.status == 201 and cookie.startswith("__Host-session_id="), f"{added} {cookie}")
            expect("Secure" in cookie and "HttpOnly" in cookie, cookie)
            hsts = added.header("strict-transport-security") or ""
            expect("max-age" in hsts, f"no HSTS: {added.headers}")
            expect(visitor.items("server-session") == ["milk"], "the __Host- cookie did not come back")
            print(f"ok: release over https: {cookie.split('=')[0]} with Secure, HSTS `{hsts}`")


class StandInExtension(BaseHTTPRequestHandler):
    """Answers as AWS's Parameters and Secrets extension does (`GET
    /secretsmanager/get?secretId=...` with the session token in a header, a GetSecretValue
    JSON back). The real one is an AWS layer that runs only on Lambda."""
    token, secrets, asked = "", {}, []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        secret_id = urllib.parse.parse_qs(url.query).get("secretId", [""])[0]
        self.asked.append(secret_id)
        if self.headers.get("X-Aws-Parameters-Secrets-Token") != self.token:
            status, body = 401, {"message": "not authorized"}
        elif url.path != "/secretsmanager/get" or secret_id not in self.secrets:
            status, body = 400, {"message": "secret not found"}
        else:
            status, body = 200, {"Name": secret_id, "SecretString": self.secrets[secret_id]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def secret_key_from_secrets_manager():
    StandInExtension.token = secrets.token_hex(16)
    StandInExtension.secrets = {"server-side-sessions/secret-key": KEY}
    extension = ThreadingHTTPServer(("127.0.0.1", 0), StandInExtension)
    threading.Thread(target=extension.serve_forever, daemon=True).start()
    env = {"ROCKET_PROFILE": "release", "ROCKET_SECRET_KEY": None,
           "SECRET_KEY_SECRET_ID": "server-side-sessions/secret-key", "AWS_SESSION_TOKEN": StandInExtension.token,
           "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.server_address[1])}
    try:
        with Emulator(env) as from_secret, Emulator({"ROCKET_PROFILE": "release", "ROCKET_SECRET_KEY": KEY}) as plain:
            visitor = from_secret.visitor()
            expect(visitor.add("cookie-session", "milk").status == 201, "add on the Secrets Manager instance")
            other = plain.visitor()
            other.jar = dict(visitor.jar)
            expect(other.items("cookie-session") == ["milk"], "the cookie did not open under the stored key")
        expect(StandInExtension.asked == ["server-side-sessions/secret-key"], f"asked {StandInExtension.asked}")
        print("ok: the release key read once from Secrets Manager (through a stand-in for AWS's extension) "
              "seals cookies that open under that key")
    finally:
        extension.shutdown()


def frozen_instance_refuses_a_family_signed_out_elsewhere():
    env = {"ROCKET_SECRET_KEY": KEY, "ROCKET_SESSION_STORE": REDIS, "ROCKET_SESSION_IDLE_TIMEOUT": "300"}
    with Emulator(env) as a, Emulator(env) as b:
        thief = a.visitor()
        expect(thief.add("cookie-session", "milk").status == 201, "add on A")
        copy = dict(thief.jar)
        expect(thief.items("cookie-session") == ["milk"], "A reads its own cookie")
        wait_for_live_copy(a)
        [pid] = a.functions()
        os.kill(pid, signal.SIGSTOP)
        try:
            owner = b.visitor()
            owner.jar = dict(copy)
            out = owner.form("/cookie-session/sign-out-everywhere", {"return_to": "/cookie-session"})
            expect(out.status == 303, f"sign out everywhere on B: {out}")
            time.sleep(3)
        finally:
            os.kill(pid, signal.SIGCONT)
        thief.jar = dict(copy)
        after = thief.items("cookie-session")
        expect(after == [], f"the first read after the thaw accepted a signed-out cookie: {after}")
        print("ok: frozen 3 s while the family signed out on another instance; "
              "the first read after SIGCONT refused the copy")


def wait_for_live_copy(app):
    deadline = time.time() + 20
    while time.time() < deadline:
        if app.request("GET", "/api/inspect").json().get("revocation", {}).get("live"):
            return
        time.sleep(0.2)
    raise Failed("the revocation copy never went live")


def burst(app, visitor, slug, rounds=20, width=12):
    """Concurrent reads of one visitor's list, in bursts, until at least two instances have
    answered: {instance id: [items seen]}."""
    seen = {}
    for _ in range(rounds):
        with ThreadPoolExecutor(width) as pool:
            replies = list(pool.map(lambda _: visitor.app.request(
                "GET", f"/api/{slug}/items", {"Cookie": cookie_header(visitor)}), range(width)))
        for reply in replies:
            seen.setdefault(reply.instance(), []).append(tuple(reply.json()["items"]) if reply.status == 200 else None)
        if len(seen) >= 2:
            return seen
    raise Failed(f"{rounds} bursts of {width} concurrent requests reached one instance only")


def cookie_header(visitor):
    return "; ".join(f"{n}={v}" for n, v in visitor.jar.items())


def concurrency(store):
    env = {"ROCKET_SECRET_KEY": KEY, "ROCKET_SESSION_STORE": store, "LAMBDA_CONCURRENCY": "3",
           "ROCKET_SESSION_IDLE_TIMEOUT": "300"}
    with Emulator(env) as app:
        visitor = app.visitor()
        results = {}
        for slug in ["global", "server-session", "cookie-session"]:
            first = visitor.add(slug, f"tea {store[:5]}")
            expect(first.status == 201, f"add to {slug}: {first}")
            seen = burst(app, visitor, slug)
            mine = first.instance()
            results[slug] = {i: sorted(set(v)) for i, v in seen.items()}
            others = [v for i, v in seen.items() if i != mine]
            if slug == "cookie-session" or (slug == "server-session" and store != "memory"):
                expect(all(items == (f"tea {store[:5]}",) for v in seen.values() for items in v),
                       f"{slug} did not follow the visitor across instances: {results[slug]}")
            else:
                expect(others and all(items != (f"tea {store[:5]}",) for v in others for items in v),
                       f"{slug} was the same on other instances: {results[slug]}")
        instances = len(set().union(*[r.keys() for r in results.values()]))
        print(f"ok: --concurrency 3, store {store.split(':')[0]}: {instances} instances answered; "
              f"global per instance, server session {'follows' if store != 'memory' else 'per instance'}, "
              f"private cookie follows")
        for slug, seen in results.items():
            print(f"    {slug}: " + ", ".join(f"{i}: {v}" for i, v in seen.items()))


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parts = [strategies_cookies_and_refusals, events_that_are_not_requests, rate_by_source_address,
             release_profile_over_https, secret_key_from_secrets_manager, frozen_instance_refuses_a_family_signed_out_elsewhere,
             lambda: concurrency("memory"), lambda: concurrency(REDIS)]
    try:
        for part in parts:
            part()
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print("lambda check: all parts passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
