"""A staff socket dies with its session: logout, disabling, a role or password change, idle expiry.

Against a real ``novbe run`` on 127.0.0.1 (threading and gevent) with real python-socketio clients:
each socket first gets a staff broadcast (a ticket issued at a kiosk), then its session is ended,
and it is told ``session-ended`` with the reason, disconnected by the server, and gets no later
broadcast, while another operator's socket goes on receiving them. In Chromium, the desk page goes
back to the login form with the reason in the page's language when an admin disables the account.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import socketio

from live import PASSWORDS, ROOT, LiveServer
from test_sessions import cli, copy_of


class StaffSocket:
    """A /counter socket opened with a logged-in requests session's cookie and CSRF token."""

    def __init__(self, server: LiveServer, s: requests.Session) -> None:
        self.issued: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []
        self.lost = threading.Event()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("ticket-issued", self.issued.append, namespace="/counter")
        self.sio.on("session-ended", self.ended.append, namespace="/counter")
        self.sio.on("disconnect", lambda *_: self.lost.set(), namespace="/counter")
        cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
        self.sio.connect(server.url, namespaces=["/counter"], headers={"Cookie": cookie},
                         auth={"csrf_token": s.headers["X-CSRFToken"]}, transports=["websocket"], wait_timeout=5)

    def close(self) -> None:
        self.sio.disconnect()


def until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def issue(server: LiveServer) -> str:
    r = server.issue("EMP-01")
    assert r.status_code == 201, r.text
    return str(r.json()["number"])


def got(sock: StaffSocket, number: str) -> bool:
    return any(e.get("number") == number for e in sock.issued)


@pytest.fixture(scope="module", params=["threading", "gevent"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = LiveServer(tmp_path_factory.mktemp(f"socket-sessions-{request.param}")).start(
        gevent=request.param == "gevent")
    yield srv
    srv.stop()


def _account(server: LiveServer, admin: requests.Session, name: str, role: str = "operator") -> requests.Session:
    """A fresh account ``name``, logged in."""
    r = admin.post(server.url + "/api/users", json={"username": name, "password": f"{name}-pass-1", "role": role},
                   timeout=10)
    assert r.status_code == 200, r.text
    s = requests.Session()
    r = s.post(server.url + "/api/login", json={"username": name, "password": f"{name}-pass-1"}, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRFToken"] = r.json()["csrf_token"]
    return s


def _ends(server: LiveServer, victim: StaffSocket, bystander: StaffSocket, end: Callable[[], None],
          reason: str) -> None:
    """Both sockets get a broadcast; ``end()``; the victim is told ``reason`` and cut off, the bystander is not."""
    first = issue(server)
    assert until(lambda: got(victim, first) and got(bystander, first)), "no broadcast before the end"
    end()
    assert victim.lost.wait(5), "the server did not disconnect the socket"
    assert victim.ended == [{"reason": reason}]
    assert not victim.sio.connected
    after = issue(server)
    assert until(lambda: got(bystander, after)), "the other operator's socket stopped receiving"
    assert not got(victim, after)
    assert bystander.sio.connected and bystander.ended == [] and not bystander.lost.is_set()


def test_logout_in_another_tab_ends_the_socket(server: LiveServer) -> None:
    tab = server.login("op1")
    other_tab = copy_of(tab)                       # the same cookie: another tab of the same browser
    victim, bystander = StaffSocket(server, tab), StaffSocket(server, server.login("op2"))
    try:
        _ends(server, victim, bystander,
              lambda: other_tab.post(server.url + "/api/logout", timeout=5).raise_for_status(), "logged_out")
    finally:
        victim.close()
        bystander.close()


@pytest.mark.parametrize("change, reason", [
    ({"disabled": True}, "disabled"),
    ({"role": "supervisor"}, "role_changed"),
    ({"password": "a-new-pass-2"}, "password_changed"),
])
def test_an_admins_change_ends_the_accounts_sockets(server: LiveServer, change: dict[str, Any], reason: str) -> None:
    admin = server.login("admin")
    name = f"acc-{reason.replace('_', '-')}"
    s = _account(server, admin, name)
    victims = [StaffSocket(server, s), StaffSocket(server, copy_of(s))]   # two pages of one session
    bystander = StaffSocket(server, server.login("op2"))
    try:
        def end() -> None:
            r = admin.patch(server.url + f"/api/users/{name}", json=change, timeout=10)
            assert r.status_code == 200, r.text
        _ends(server, victims[0], bystander, end, reason)
        assert victims[1].lost.wait(5) and victims[1].ended == [{"reason": reason}]
        assert s.get(server.url + "/api/me", timeout=5).status_code == 401    # and over HTTP, as before
    finally:
        for sock in (*victims, bystander):
            sock.close()


def test_a_password_reset_through_the_create_route_ends_the_sockets(server: LiveServer) -> None:
    admin = server.login("admin")
    s = _account(server, admin, "reset-me")
    victim, bystander = StaffSocket(server, s), StaffSocket(server, server.login("op2"))
    try:
        _ends(server, victim, bystander, lambda: admin.post(
            server.url + "/api/users", json={"username": "reset-me", "password": "reset-me-pass-2", "role": "admin"},
            timeout=10).raise_for_status(), "role_changed")
    finally:
        victim.close()
        bystander.close()


def test_a_socket_of_an_ended_session_cannot_connect_again(server: LiveServer) -> None:
    s = server.login("op1")
    stale = copy_of(s)
    s.post(server.url + "/api/logout", timeout=5).raise_for_status()
    with pytest.raises(socketio.exceptions.ConnectionError):
        StaffSocket(server, stale)


def test_an_idle_session_loses_its_socket_and_a_change_from_another_process_too(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, env={"NOVBE_SESSION_IDLE_MINUTES": "0.05"}).start()   # 3 seconds
    try:
        idle_s, active_s, boss_s = server.login("op1"), server.login("op2"), server.login("boss")
        active, boss = StaffSocket(server, active_s), StaffSocket(server, boss_s)
        idle = StaffSocket(server, idle_s)
        t0 = time.monotonic()                  # op1's session was last used by this connect
        first = issue(server)
        assert until(lambda: all(got(x, first) for x in (idle, active, boss)))
        # op2 and boss use their sockets (an action re-checks the session and counts as use); op1's page only
        # asks for its counter's snapshot by itself, as after every event in a busy hall: that is not use.
        stop = threading.Event()

        def use() -> None:
            while not stop.is_set():
                for sock in (active, boss):
                    if sock.sio.connected:
                        sock.sio.call("snapshot", None, namespace="/counter", timeout=5)
                if idle.sio.connected:
                    try:
                        idle.sio.call("counter-snapshot", {"counter": 1}, namespace="/counter", timeout=5)
                    except Exception:   # noqa: BLE001 - ended meanwhile
                        pass
                stop.wait(0.4)
        user = threading.Thread(target=use)
        user.start()
        try:
            assert idle.lost.wait(8), "the idle session's socket was not ended"
            took = time.monotonic() - t0       # 3 s idle, then within one sweep (0.3 s)
            assert idle.ended == [{"reason": "expired"}] and 2.8 < took < 4.5, took
            after = issue(server)
            assert until(lambda: got(active, after) and got(boss, after))
            assert not got(idle, after) and active.sio.connected and boss.sio.connected
            # `novbe user disable` runs in another process: no hook hears it, the sweep does.
            r = cli(server, "user", "disable", "boss")
            assert r.returncode == 0, r.stderr
            assert boss.lost.wait(5) and boss.ended == [{"reason": "disabled"}]
            assert active.sio.connected and active.ended == []
        finally:
            stop.set()
            user.join(10)
        # HTTP agrees: the idle session is over, the socket-only user's session is not.
        assert idle_s.get(server.url + "/api/me", timeout=5).status_code == 401
        assert active_s.get(server.url + "/api/me", timeout=5).status_code == 200
        for sock in (idle, active, boss):
            sock.close()
    finally:
        server.stop()


def test_every_reason_has_a_text_on_the_staff_pages() -> None:
    import i18n
    from server import auth

    script = (ROOT / "counter/static/counter/common.js").read_text(encoding="utf-8")
    for reason in auth.END_REASONS:
        key = f"session_ended_{reason}"
        assert f'{reason}: "{key}"' in script, reason
        for lang in ("az", "ru", "en"):
            assert i18n.section("staff")[lang].get(key), (lang, key)


@pytest.mark.browser
def test_the_desk_returns_to_the_login_form_when_the_account_is_disabled(
        browser: Any, live_server: LiveServer, screenshot_dir: Path) -> None:
    admin = live_server.login("admin")
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.add_init_script("localStorage.setItem('novbe.staff.lang', 'ru')")
        page.goto(live_server.url + "/counter/")
        page.locator("#login-form").wait_for()
        page.fill("#login-form input[name=username]", "op1")
        page.fill("#login-form input[name=password]", PASSWORDS["op1"])
        page.click("#login-form button[type=submit]")
        page.locator("#conn.up").wait_for(timeout=10_000)
        assert page.locator("#login-view").is_hidden()
        opened = len(sockets)
        r = admin.patch(live_server.url + "/api/users/op1", json={"disabled": True}, timeout=10)
        assert r.status_code == 200, r.text
        page.locator("#login-view").wait_for(state="visible", timeout=5_000)
        message = page.locator("#login-error")
        assert message.inner_text() == "Администратор отключил вашу учётную запись."
        page.screenshot(path=str(screenshot_dir / "counter-session-ended-disabled.png"))
        page.click(".lang button[data-lang=en]")           # the message follows the page's language
        assert message.inner_text() == "An administrator disabled your account."
        page.wait_for_timeout(4_000)                       # no reconnect loop with the dead cookie
        assert len(sockets) == opened, sockets
        assert errors == []
    finally:
        context.close()
        admin.patch(live_server.url + "/api/users/op1", json={"disabled": False}, timeout=10)
