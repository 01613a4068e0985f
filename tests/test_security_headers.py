"""Sockets and pages locked to the center's own origin (issue 9, item 3), against a real server.

- every Socket.IO namespace refuses a handshake whose ``Origin`` is another origin (another port
  of the same host included), on the WebSocket and the polling transport alike;
- a ``/counter`` socket needs, besides the session cookie, the session's CSRF token in the
  handshake's ``auth`` (a page of another origin has the cookie but cannot read the token);
- every page and API answer carries the security headers, and no page has inline script or
  style for the Content-Security-Policy to block (the browser tests run the pages under it).
"""
from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from live import PASSWORDS, LiveServer, free_port

FOREIGN = "http://127.0.0.1:{port}"   # the same host, another port: the case cookies do not tell apart


def cookie_of(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def connect(url: str, namespace: str, *, origin: str | None = None, transport: str = "websocket",
            auth: dict[str, Any] | None = None, cookie: str | None = None, host: str | None = None) -> socketio.Client:
    """A python-socketio client connected to ``namespace``; raises ConnectionError when refused.

    ``origin`` is sent as the browser would: the WebSocket handshake's own Origin header (not a
    second one), or a header on every polling request.
    """
    options: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if cookie:
        headers["Cookie"] = cookie
    if origin is not None:
        if transport == "websocket":
            options["origin"] = origin
        else:
            headers["Origin"] = origin
    if host is not None:
        options["host"] = host
        headers["Host"] = host
    sio = socketio.Client(reconnection=False, websocket_extra_options=options)
    sio.on("snapshot", lambda *_: None, namespace=namespace)
    try:
        sio.connect(url, namespaces=[namespace], headers=headers, auth=auth, transports=[transport], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        sio.disconnect()
        raise
    return sio


def refused(url: str, namespace: str, **kw: Any) -> bool:
    try:
        sio = connect(url, namespace, **kw)
    except socketio.exceptions.ConnectionError:
        return True
    sio.disconnect()
    return False


# --- the origin check -----------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_sockets_from_another_origin_are_refused(live_server: Any, transport: str) -> None:
    foreign = FOREIGN.format(port=free_port())
    staff = live_server.login("op1")
    board = {"token": live_server.display_token()}
    kiosk = {"token": live_server.kiosk_token()}
    counter = {"csrf_token": staff.headers["X-CSRFToken"]}
    try:
        # The same handshakes are accepted from the server's own origin (the test could fail)...
        for ns, auth, cookie in (("/display", board, None), ("/kiosk", kiosk, None), ("/counter", counter, cookie_of(staff))):
            connect(live_server.url, ns, origin=live_server.url, transport=transport, auth=auth, cookie=cookie).disconnect()
        # ...and refused from another port of the same host, cookie and tokens notwithstanding.
        for ns, auth, cookie in (("/display", board, None), ("/kiosk", kiosk, None), ("/counter", counter, cookie_of(staff))):
            assert refused(live_server.url, ns, origin=foreign, transport=transport, auth=auth, cookie=cookie), ns
        # A client that sends no Origin at all (not a browser) still needs the token or session.
        connect(live_server.url, "/display", auth=board, transport=transport).disconnect()
    finally:
        staff.close()


def test_foreign_origin_gets_no_cors_grant_on_polling(live_server: Any) -> None:
    foreign = FOREIGN.format(port=free_port())
    r = requests.get(live_server.url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": foreign}, timeout=5)
    assert r.status_code == 400 and "Access-Control-Allow-Origin" not in r.headers
    own = requests.get(live_server.url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": live_server.url},
                       timeout=5)
    assert own.status_code == 200 and own.headers["Access-Control-Allow-Origin"] == live_server.url


def test_the_public_address_is_an_accepted_origin(live_server: Any) -> None:
    """A page loaded from the configured public address (PUBLIC_URL, here http://127.0.0.1:<port>)
    may open a socket even when the server is reached under another name (Host: localhost:<port>)."""
    board = {"token": live_server.display_token()}
    localhost = live_server.url.replace("127.0.0.1", "localhost")
    connect(localhost, "/display", origin=live_server.url, auth=board).disconnect()
    connect(localhost, "/display", origin=localhost, auth=board).disconnect()   # its own Host
    assert refused(localhost, "/display", origin=f"http://localhost:{free_port()}", auth=board)


def test_behind_a_reverse_proxy_the_forwarded_host_is_the_origin(tmp_path: Path) -> None:
    """With NOVBE_PROXY=1 the proxy's X-Forwarded-Host/-Proto name the page's origin; without it they are ignored."""
    proxied = {"X-Forwarded-Host": "novbe.example", "X-Forwarded-Proto": "https"}
    path = "/socket.io/?EIO=4&transport=polling"
    (tmp_path / "plain").mkdir()
    plain = LiveServer(tmp_path / "plain").start()
    try:
        r = requests.get(plain.url + path, headers={**proxied, "Origin": "https://novbe.example"}, timeout=5)
        assert r.status_code == 400   # a client cannot name its own origin by sending forwarding headers
    finally:
        plain.stop()
    (tmp_path / "proxy").mkdir()
    server = LiveServer(tmp_path / "proxy", env={"NOVBE_PROXY": "1"}).start()
    try:
        r = requests.get(server.url + path, headers={**proxied, "Origin": "https://novbe.example"}, timeout=5)
        assert r.status_code == 200, r.text
        r = requests.get(server.url + path, headers={**proxied, "Origin": "http://novbe.example"}, timeout=5)
        assert r.status_code == 400   # the page was served over HTTPS: plain http is another origin
    finally:
        server.stop()


# --- the CSRF token of a /counter socket -------------------------------------------------------

def test_counter_socket_needs_the_sessions_csrf_token(live_server: Any) -> None:
    op1, op2 = live_server.login("op1"), live_server.login("op2")
    try:
        cookie = cookie_of(op1)
        assert refused(live_server.url, "/counter", cookie=cookie)                               # no auth at all
        assert refused(live_server.url, "/counter", cookie=cookie, auth={"token": "x"})          # no csrf_token
        assert refused(live_server.url, "/counter", cookie=cookie, auth={"csrf_token": "forged"})
        assert refused(live_server.url, "/counter", cookie=cookie, auth={"csrf_token": ["a"]})
        # A valid token of another session (op2's) does not open op1's socket.
        assert refused(live_server.url, "/counter", cookie=cookie, auth={"csrf_token": op2.headers["X-CSRFToken"]})
        # The token without the session is no login either.
        assert refused(live_server.url, "/counter", auth={"csrf_token": op1.headers["X-CSRFToken"]})
        # The page's way: the token from /api/login (or /api/me) in the handshake's auth.
        for token in (op1.headers["X-CSRFToken"], op1.get(live_server.url + "/api/me", timeout=5).json()["csrf_token"]):
            got: list[dict] = []
            sio = socketio.Client(reconnection=False)
            sio.on("snapshot", got.append, namespace="/counter")
            sio.connect(live_server.url, namespaces=["/counter"], headers={"Cookie": cookie},
                        auth={"csrf_token": token}, transports=["websocket"], wait_timeout=5)
            try:
                view = sio.call("counter-snapshot", {"counter": 1}, namespace="/counter", timeout=5)
                assert got and view["scope"] == 1
            finally:
                sio.disconnect()
    finally:
        op1.close()
        op2.close()


# --- headers and pages ------------------------------------------------------------------------

class _Inline(HTMLParser):
    """Finds what a script-src/style-src 'self' policy would block in a page's markup."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.found += [f"<{tag} {k}=...>" for k in a if k.startswith("on") or k == "style"]
        if any((v or "").strip().lower().startswith("javascript:") for v in a.values()):
            self.found.append(f"<{tag}> with a javascript: URL")
        if tag == "style":
            self.found.append("<style> block")
        if tag == "script":
            self.scripts += 1
            if not a.get("src") and a.get("type") != "application/json":
                self._in = "script"

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def inline_parts(html: str) -> tuple[list[str], int]:
    p = _Inline()
    p.feed(html)
    return p.found, p.scripts


def check_headers(r: requests.Response, *, referrer: str = "same-origin") -> None:
    where = f"{r.request.method} {r.url} ({r.status_code})"
    csp = {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else ""
           for d in (part.strip() for part in r.headers.get("Content-Security-Policy", "").split(";")) if d}
    assert csp.get("script-src") == "'self'", where
    assert csp.get("style-src") == "'self'", where
    assert csp.get("default-src") == "'self'", where
    assert csp.get("connect-src") == "'self'", where
    assert csp.get("frame-ancestors") == "'none'", where
    assert csp.get("object-src") == "'none'", where
    assert r.headers.get("X-Frame-Options") == "DENY", where
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Referrer-Policy") == referrer, where


def test_every_page_and_api_answer_carries_the_headers(live_server: Any) -> None:
    url = live_server.url
    issued = live_server.issue("EMP-01")
    assert issued.status_code == 201
    status_url = issued.json()["status_url"]
    status_path = status_url[status_url.index("/t/"):]
    op1, boss = live_server.login("op1"), live_server.login("boss")
    anon = requests.Session()
    pages = [
        (anon, "/", 200), (anon, f"/kiosk/?token={live_server.kiosk_token()}", 200), (anon, "/kiosk/", 200),
        (anon, status_path, 200), (anon, status_path + "?lang=ru", 200), (anon, "/t/no-such-ticket", 404),
        (anon, f"/display/?board=hall-1&token={live_server.display_token()}", 200), (anon, "/display/", 200),
        (anon, "/display/?board=nowhere", 404), (anon, "/counter/", 200), (anon, "/counter/supervisor", 200),
        (op1, "/counter/", 200), (op1, "/counter/supervisor", 403), (boss, "/counter/supervisor", 200),
        (anon, "/no-such-page", 404),
    ]
    try:
        for session, path, status in pages:
            r = session.get(url + path, timeout=5)
            assert r.status_code == status, (path, r.status_code)
            check_headers(r, referrer="no-referrer" if path.startswith("/t/") else "same-origin")
            if "text/html" in r.headers["Content-Type"]:
                found, _ = inline_parts(r.text)
                assert found == [], (path, found)
        kiosk = {"Authorization": f"Bearer {live_server.kiosk_token()}"}
        answers = [
            anon.get(url + "/api/health", timeout=5), anon.get(url + "/api/openapi.json", timeout=5),
            anon.get(url + "/api/me", timeout=5), anon.get(url + "/api/services", headers=kiosk, timeout=5),
            anon.post(url + "/api/tickets", json={"service": "nope"}, headers=kiosk, timeout=5),
            anon.get(url + "/api/no-such-route", timeout=5), op1.get(url + "/api/me", timeout=5),
            op1.post(url + "/api/counters/1/open", timeout=5),
            op1.post(url + "/api/counters/1/open", headers={"X-CSRFToken": "wrong"}, timeout=5),   # csrf_failed
            anon.get(url + "/api/status/" + status_path[3:], timeout=5),
            anon.get(url + "/kiosk/qr.svg", params={"data": status_url}, timeout=5),
            anon.get(url + "/static/vendor/socket.io.min.js", timeout=5),
            anon.get(url + "/kiosk/static/kiosk/status.js", timeout=5),
            anon.get(url + "/counter/static/common.js", timeout=5),
        ]
        assert [a.status_code for a in answers] == [200, 200, 401, 200, 404, 404, 200, 200, 400, 200, 200, 200, 200,
                                                    200], [(a.url, a.status_code) for a in answers]
        for a in answers:
            check_headers(a)
    finally:
        op1.close()
        boss.close()


def test_pages_keep_server_data_out_of_executed_script(live_server: Any) -> None:
    """Server data reaches the scripts in JSON blocks, HTML-escaped, so markup in a name cannot run."""
    issued = live_server.issue("EMP-01").json()
    r = requests.get(issued["status_url"], timeout=5)
    found, scripts = inline_parts(r.text)
    assert found == [] and scripts == 3     # the JSON block, status.js and rating.js
    assert '<script id="status-boot" type="application/json">' in r.text
    block = r.text.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block    # tojson escapes them: the block cannot end early


def test_session_cookie_can_be_marked_secure(tmp_path: Path) -> None:
    """NOVBE_SESSION_COOKIE_SECURE=true (HTTPS behind a reverse proxy) marks the session cookie Secure."""
    for env, secure in (({}, False), ({"NOVBE_SESSION_COOKIE_SECURE": "true", "NOVBE_PROXY": "1"}, True)):
        folder = tmp_path / ("secure" if secure else "plain")
        folder.mkdir()
        server = LiveServer(folder, env=env).start()
        try:
            r = requests.post(server.url + "/api/login", json={"username": "op1", "password": PASSWORDS["op1"]},
                              headers={"X-Forwarded-Proto": "https"}, timeout=5)
            assert r.status_code == 200
            cookie = r.headers["Set-Cookie"]
            assert ("; Secure" in cookie) is secure, cookie
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        finally:
            server.stop()


def test_browser_guard_catches_an_inline_script(browser: Any, live_server: Any) -> None:
    """The CSP guard of the browser fixture (tests/conftest.py) sees a blocked inline script."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran") is None          # the policy blocked it
    context.close()
    # Chromium 156 says "Executing inline script violates the following Content Security Policy directive".
    assert any("inline script" in v and "Content Security Policy" in v for v in browser.csp.violations), \
        browser.csp.violations
    browser.csp.violations.clear()


# --- in Chromium: the operator's own browser, visiting a page on another port ---------------------

ATTACKER_PAGE = """<!doctype html><meta charset="utf-8"><title>elsewhere</title>
<script src="{server}/static/vendor/socket.io.min.js"></script>
<script>
window.result = {{}};
function attempt(name, transports) {{
  var s = io("{server}/counter", {{ transports: transports, reconnection: false, auth: {{ csrf_token: "guess" }} }});
  s.on("connect", function () {{ window.result[name] = "connected"; }});
  s.on("connect_error", function (e) {{ window.result[name] = "refused: " + e.message; }});
}}
attempt("websocket", ["websocket"]);
attempt("polling", ["polling"]);
fetch("{server}/api/me", {{ credentials: "include" }}).then(function (r) {{ return r.json(); }})
  .then(function (d) {{ window.result.me = "read " + JSON.stringify(d); }},
        function (e) {{ window.result.me = "unreadable: " + e.message; }});
</script>"""


def serve_once(html: str) -> tuple[str, Any]:
    """A page on another port of the same host (what a foreign site on the LAN looks like)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/", httpd


def test_a_page_on_another_port_cannot_drive_the_operators_counter(browser: Any, live_server: Any) -> None:
    context = browser.new_context()
    httpd = None
    try:
        page = context.new_page()
        page.goto(live_server.url + "/counter/")
        page.fill("#login-form input[name=username]", "op1")
        page.fill("#login-form input[name=password]", PASSWORDS["op1"])
        page.click("#login-form button[type=submit]")
        # The real page connects over WebSocket under its CSP ('self' covers same-origin ws:).
        page.wait_for_function("() => window.Novbe && Novbe.live.connected", timeout=10_000)
        assert page.evaluate("() => Novbe.live.socket.io.engine.transport.name") == "websocket"
        # The same browser, cookie and all, on a page of another port of the same host.
        url, httpd = serve_once(ATTACKER_PAGE.format(server=live_server.url))
        other = context.new_page()
        other.goto(url)
        other.wait_for_function("() => ['websocket', 'polling', 'me'].every(k => window.result[k])", timeout=10_000)
        result = other.evaluate("() => window.result")
        # Refused at the handshake by the origin check ("websocket error"), before the namespace's
        # CSRF check would say "Connection rejected by server"; polling is refused (and unreadable).
        assert result["websocket"] == "refused: websocket error", result
        assert result["polling"].startswith("refused"), result
        assert result["me"].startswith("unreadable"), result   # no CORS grant: the CSRF token stays unread
        assert page.evaluate("() => Novbe.live.connected") is True   # the operator's own page is untouched
    finally:
        context.close()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()


def test_pages_use_websocket_under_the_policy(browser: Any, live_server: Any) -> None:
    """The board and the status page upgrade to WebSocket: the CSP's connect-src 'self' lets ws: through."""
    context = browser.new_context()
    try:
        opened: dict[str, list[str]] = {"board": [], "status": []}
        board = context.new_page()
        board.on("websocket", lambda ws: opened["board"].append(ws.url))
        board.goto(f"{live_server.url}/display/?board=hall-1&token={live_server.display_token()}")
        board.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
        status = context.new_page()
        status.on("websocket", lambda ws: opened["status"].append(ws.url))
        status.goto(live_server.issue("EMP-01").json()["status_url"])
        status.locator("#live:not(.off)").wait_for(timeout=10_000)
        # Engine.IO upgrades its first polling connection to WebSocket shortly after connecting.
        for name, page in (("board", board), ("status", status)):
            deadline = time.monotonic() + 10
            while not opened[name] and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            assert [u for u in opened[name] if u.startswith(live_server.url.replace("http:", "ws:"))], (name, opened)
    finally:
        context.close()
