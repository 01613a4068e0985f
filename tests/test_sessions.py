"""Staff sessions that end when they should, and login throttling that cannot lock staff out.

Against a real ``novbe run`` on 127.0.0.1 with ``requests`` and a real Socket.IO client: old
cookies after logout, demotion, a new password or disabling; a cookie forged with the real
secret for an account that does not exist; 50 wrong passwords from 127.0.0.1 while staff log
in from 127.0.0.2 (a second loopback address, bound as the client socket's source); idle expiry.
"""
from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from requests.adapters import HTTPAdapter

from live import PASSWORDS, ROOT, LiveServer


class SourceAddress(HTTPAdapter):
    """A requests adapter whose connections leave from a chosen local address (e.g. 127.0.0.2)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(address: str) -> requests.Session:
    s = requests.Session()
    s.mount("http://", SourceAddress(address))
    return s


def login(server: LiveServer, username: str, password: str | None = None, *, session: requests.Session | None = None
          ) -> requests.Response:
    s = session or requests.Session()
    return s.post(server.url + "/api/login", json={"username": username, "password": password or PASSWORDS[username]},
                  timeout=10)


def copy_of(s: requests.Session) -> requests.Session:
    """Another client holding the same cookie (as if it had been copied off the staff PC)."""
    other = requests.Session()
    other.cookies.update(s.cookies)
    other.headers["X-CSRFToken"] = s.headers["X-CSRFToken"]
    return other


def cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args, "--config", server.center, "--db", str(server.db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = LiveServer(tmp_path_factory.mktemp("sessions")).start()
    yield srv
    srv.stop()


def test_an_old_cookie_dies_at_logout(server: LiveServer) -> None:
    s = server.login("op1")
    stolen = copy_of(s)
    assert stolen.get(server.url + "/api/me", timeout=5).status_code == 200
    assert s.post(server.url + "/api/logout", timeout=5).status_code == 200
    for path in ("/api/me", "/api/staff/snapshot", "/api/print-jobs"):
        r = stolen.get(server.url + path, timeout=5)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", path
    assert stolen.post(server.url + "/api/counters/1/open", timeout=5).status_code == 401
    assert server.login("op1").get(server.url + "/api/me", timeout=5).status_code == 200   # a new login works


def test_a_demoted_admin_loses_admin_rights_at_once(server: LiveServer) -> None:
    admin = server.login("admin")
    assert admin.post(server.url + "/api/users", json={"username": "chief", "password": "chief-pass-1",
                                                       "role": "admin"}, timeout=10).status_code == 200
    chief = requests.Session()
    chief.headers["X-CSRFToken"] = login(server, "chief", "chief-pass-1", session=chief).json()["csrf_token"]
    old = copy_of(chief)
    # An admin demotes chief to operator and gives a new password.
    r = admin.post(server.url + "/api/users", json={"username": "chief", "password": "chief-pass-2",
                                                    "role": "operator"}, timeout=10)
    assert r.status_code == 200
    new_admin = {"username": "intruder", "password": "intruder-pass", "role": "admin"}
    for client in (chief, old):
        assert client.get(server.url + "/api/users", timeout=5).status_code == 401
        assert client.post(server.url + "/api/users", json=new_admin, timeout=10).status_code == 401
        assert client.post(server.url + "/api/devices", json={"kind": "kiosk", "name": "rogue"},
                           timeout=10).status_code == 401
    # Logged in again, chief is an operator: still no admin rights.
    again = requests.Session()
    r = login(server, "chief", "chief-pass-2", session=again)
    assert r.json()["role"] == "operator"
    again.headers["X-CSRFToken"] = r.json()["csrf_token"]
    r = again.post(server.url + "/api/users", json=new_admin, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert login(server, "intruder", "intruder-pass").status_code == 401


def test_a_new_password_ends_the_old_sessions(server: LiveServer) -> None:
    admin = server.login("admin")
    admin.post(server.url + "/api/users", json={"username": "leyla", "password": "leyla-pass-1", "role": "supervisor"},
               timeout=10).raise_for_status()
    leyla = requests.Session()
    assert login(server, "leyla", "leyla-pass-1", session=leyla).status_code == 200
    assert leyla.get(server.url + "/api/audit", timeout=5).status_code == 200
    admin.post(server.url + "/api/users", json={"username": "leyla", "password": "leyla-pass-2", "role": "supervisor"},
               timeout=10).raise_for_status()
    assert leyla.get(server.url + "/api/audit", timeout=5).status_code == 401


def test_disable_and_enable_from_the_command_line(server: LiveServer) -> None:
    s = server.login("op2")
    assert s.get(server.url + "/api/me", timeout=5).status_code == 200
    r = cli(server, "user", "disable", "op2")
    assert r.returncode == 0, r.stderr
    assert s.get(server.url + "/api/me", timeout=5).status_code == 401
    assert login(server, "op2").status_code == 401
    listing = cli(server, "user", "list").stdout
    assert any(line.split()[:3] == ["op2", "operator", "disabled"] for line in listing.splitlines()), listing
    assert any(line.split()[:3] == ["op1", "operator", "enabled"] for line in listing.splitlines()), listing
    r = cli(server, "user", "disable", "nobody")
    assert r.returncode != 0 and "no staff account named 'nobody'" in r.stderr
    assert cli(server, "user", "enable", "op2").returncode == 0
    assert s.get(server.url + "/api/me", timeout=5).status_code == 401     # the old session stays dead
    assert login(server, "op2").status_code == 200


def _forge(secret: str, data: dict[str, Any]) -> str:
    app = Flask("forger")
    app.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return str(serializer.dumps(data))


def test_a_cookie_forged_with_the_real_secret_for_a_missing_user_is_refused(server: LiveServer) -> None:
    secret_file = Path(str(server.db) + ".secret")
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT count(*) FROM meta WHERE key = 'secret_key'").fetchone()[0] == 0
        gen = db.execute("SELECT generation FROM users WHERE username = 'boss'").fetchone()[0]
    now = time.time() + server.offset
    name = next(iter(server.login("op1").cookies.keys()))       # the session cookie's name
    ghost = _forge(secret, {"user": "ghost", "gen": 0, "seen": now})
    r = requests.get(server.url + "/api/me", cookies={name: ghost}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    old_style = _forge(secret, {"user": "ghost", "role": "admin"})     # the first wave's cookie shape
    assert requests.get(server.url + "/api/users", cookies={name: old_style}, timeout=5).status_code == 401
    stale = _forge(secret, {"user": "boss", "gen": gen - 1 if gen else gen + 1, "seen": now})
    assert requests.get(server.url + "/api/me", cookies={name: stale}, timeout=5).status_code == 401
    # The same forging with the account's current generation is accepted: the refusals above are the
    # account checks, not a badly made cookie.
    good = _forge(secret, {"user": "boss", "gen": gen, "seen": now})
    r = requests.get(server.url + "/api/me", cookies={name: good}, timeout=5)
    assert r.status_code == 200 and r.json()["username"] == "boss"


def test_a_socket_action_after_logout_is_refused(server: LiveServer) -> None:
    s = server.login("op1")
    s.post(server.url + "/api/counters/7/open", timeout=5).raise_for_status()
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    sio = socketio.Client(reconnection=False)
    ended: list[Any] = []
    sio.on("session-ended", ended.append, namespace="/counter")
    try:
        sio.connect(server.url, namespaces=["/counter"], headers={"Cookie": cookie},
                    auth={"csrf_token": s.headers["X-CSRFToken"]}, transports=["websocket"], wait_timeout=5)
        ack = sio.call("pause", {"counter": 7, "reason": "Nahar"}, namespace="/counter", timeout=5)
        assert ack["ok"] is True, ack
        assert s.post(server.url + "/api/logout", timeout=5).status_code == 200
        # The server ends the socket itself (tests/test_socket_sessions.py); a later action could not
        # even be sent. The action re-check itself: tests/test_counter_security.py.
        deadline = time.monotonic() + 5
        while sio.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sio.connected and ended == [{"reason": "logged_out"}]
    finally:
        sio.disconnect()


def test_hammering_one_address_never_locks_staff_out(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    attacker, staff_pc = client_from("127.0.0.1"), client_from("127.0.0.2")
    try:
        answers = [login(server, "admin", f"guess-{i}", session=attacker) for i in range(50)]
        codes = [r.status_code for r in answers]
        # Three real checks, then growing delays answered without looking at the password.
        assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}, codes
        assert all(int(r.headers["Retry-After"]) >= 1 for r in answers[3:])
        r = login(server, "admin", session=attacker)              # even the right password waits here
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        r = login(server, "admin", session=staff_pc)               # ...but not at the staff PC
        assert r.status_code == 200 and r.json()["username"] == "admin"
        # Spraying many names from one address is slowed down too, still only at that address.
        for i in range(7):                                         # 3 + 7 failures: the address's free ten
            assert login(server, f"user{i}", "guess", session=attacker).status_code == 401
        r = login(server, "op1", session=attacker)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert login(server, "op1", session=staff_pc).status_code == 200
        # The supervisor sees who tried what from where (never the password).
        boss = client_from("127.0.0.2")
        boss.headers["X-CSRFToken"] = login(server, "boss", session=boss).json()["csrf_token"]
        r = boss.get(server.url + "/api/login-failures", timeout=5)
        failures = r.json()["failures"]
        assert sum(f["username"] == "admin" and f["address"] == "127.0.0.1" for f in failures) == 3
        assert {f["username"] for f in failures} >= {"admin", "user0", "user6"}
        assert "guess" not in r.text
    finally:
        server.stop()


def test_an_idle_session_expires_and_an_active_one_does_not(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, env={"NOVBE_SESSION_IDLE_MINUTES": "0.05"}).start()   # 3 seconds
    try:
        active, idle = server.login("op1"), server.login("boss")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:                 # used every half second for longer than the idle time
            assert active.get(server.url + "/api/me", timeout=5).status_code == 200
            time.sleep(0.5)
        r = idle.get(server.url + "/api/me", timeout=5)
        assert r.status_code == 401 and "log in again" in r.json()["message"]
        time.sleep(3.5)
        assert active.get(server.url + "/api/me", timeout=5).status_code == 401
    finally:
        server.stop()


@pytest.mark.browser
def test_the_supervisor_sees_failed_logins(browser: Any, live_server: LiveServer, screenshot_dir: Path) -> None:
    for _ in range(2):
        assert login(live_server, "admin", "not-the-password").status_code == 401
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="az-AZ")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server.url + "/counter/supervisor")
        page.locator("#login-form").wait_for()
        page.fill("#login-form input[name=username]", "boss")
        page.fill("#login-form input[name=password]", PASSWORDS["boss"])
        page.click("#login-form button[type=submit]")
        page.locator(".tabs button[data-tab=audit]").click()
        rows = page.locator("#tab-audit table.login-failures tbody tr")
        rows.first.wait_for(timeout=5_000)
        assert rows.count() == 2
        assert "admin" in rows.first.inner_text() and "127.0.0.1" in rows.first.inner_text()
        assert page.locator("#tab-audit h3").inner_text() == "Uğursuz girişlər"
        page.screenshot(path=str(screenshot_dir / "counter-supervisor-login-failures.png"))
        assert errors == []
    finally:
        context.close()


def _app(db: Path, **extra: Any) -> Any:
    from server.app import create_app

    return create_app({"DATABASE": str(db), "TESTING": True, "START_DEVICES": False, **extra})


def test_an_old_install_keeps_its_secret_but_not_in_the_database(tmp_path: Path) -> None:
    from config import loader
    from server.store import SQLiteStore

    db = tmp_path / "novbe.db"
    store = SQLiteStore(db, loader.load(None))
    store.set_meta("secret_key", "the-first-wave-secret")        # where the first version kept it
    store.close()
    app = _app(db)
    secret_file = Path(str(db) + ".secret")
    assert app.config["SECRET_KEY"] == "the-first-wave-secret"    # old cookies stay valid
    assert secret_file.read_text().strip() == "the-first-wave-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert app.extensions["novbe"].store.meta("secret_key") is None
    app.extensions["novbe"].store.close()
    secret_file.chmod(0o644)                                     # loosened by a careless copy
    again = _app(db)
    assert again.config["SECRET_KEY"] == "the-first-wave-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    again.extensions["novbe"].store.close()


def test_a_secret_from_the_environment_wins_and_a_bad_idle_time_is_named(tmp_path: Path) -> None:
    app = _app(tmp_path / "a.db", SECRET_KEY=12345678901234567890)   # NOVBE_SECRET_KEY=digits arrives as a number
    assert app.config["SECRET_KEY"] == "12345678901234567890"
    assert not Path(str(tmp_path / "a.db") + ".secret").exists()
    app.extensions["novbe"].store.close()
    with pytest.raises(ValueError, match="SESSION_IDLE_MINUTES"):
        _app(tmp_path / "b.db", SESSION_IDLE_MINUTES="a day")
    with pytest.raises(ValueError, match="SESSION_IDLE_MINUTES"):
        _app(tmp_path / "c.db", SESSION_IDLE_MINUTES=0)
