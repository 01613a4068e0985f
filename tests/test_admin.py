"""Administration: staff accounts and device tokens through the API, ``novbe`` and the admin page.

One code path (server/auth.py) for all three: the admin role is required, a device the center
file does not list gets no token, the last enabled admin stays, an account's sessions end when it
changes, and every change is recorded in the event log with who made it — the hall's screens get
the event's number but never the account's name. A device token is shown once and never stored in
clear. The admin page runs in Chromium in az/ru/en; the supervisor view speaks the operator's
language too (event names, print job and printer states, pause reasons, a labelled reprint button).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from playwright.sync_api import expect

from conftest import mini_config
from live import PASSWORDS
from server import auth
from server.app import create_app
from server.core.model import DeviceChanged, StaffChanged
from test_security_headers import check_headers, inline_parts

ADMIN_ROUTES = [
    ("GET", "/api/users", None), ("POST", "/api/users", {"username": "x1", "password": "12345678", "role": "admin"}),
    ("PATCH", "/api/users/op2", {"disabled": True}), ("GET", "/api/devices", None),
    ("POST", "/api/devices", {"kind": "kiosk", "name": "kiosk-1"}), ("DELETE", "/api/devices/kiosk/kiosk-1", None),
    ("GET", "/api/admin/audit", None),
]


@pytest.fixture
def app(tmp_path, clock):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "admin.db"), "CENTER_CONFIG": mini_config(),
                      "CLOCK": clock, "START_DEVICES": False, "PUBLIC_URL": "http://novbe.local"})
    store = app.extensions["novbe"].store
    for name, role in (("op1", "operator"), ("op2", "operator"), ("boss", "supervisor"), ("root", "admin")):
        auth.add_user(store, name, f"{name}-password", role)
    app.config["KIOSK_TOKEN"] = auth.add_device(store, "kiosk", "kiosk-1")
    app.config["DISPLAY_TOKEN"] = auth.add_device(store, "display", "hall-1")
    yield app
    app.extensions["novbe"].publisher.stop()


def login(app, name, password=None):
    client = app.test_client()
    r = client.post("/api/login", json={"username": name, "password": password or f"{name}-password"})
    assert r.status_code == 200, r.json
    client.environ_base["HTTP_X_CSRFTOKEN"] = r.json["csrf_token"]
    return client


def can_log_in(app, name, password=None) -> bool:
    r = app.test_client().post("/api/login", json={"username": name, "password": password or f"{name}-password"})
    return r.status_code == 200


def changes(client) -> list[tuple[str | None, str, str]]:
    events = client.get("/api/admin/audit").json["events"]
    return [(e["actor"], e["change"], e.get("username") or e.get("device")) for e in events]


# --- the API --------------------------------------------------------------------------------------------

def test_only_admins_reach_the_admin_routes(app):
    for name in ("op1", "boss"):
        client = login(app, name)
        for method, path, body in ADMIN_ROUTES:
            r = client.open(path, method=method, json=body)
            assert r.status_code == 403 and r.json["error"] == "forbidden", (name, method, path, r.json)
    anon = app.test_client()
    for method, path, body in ADMIN_ROUTES:
        assert anon.open(path, method=method, json=body).status_code == 401, (method, path)
    # Nothing changed: op2 still logs in, the kiosk's token still works, no change recorded.
    assert can_log_in(app, "op2")
    r = app.test_client().get("/api/services", headers={"Authorization": f"Bearer {app.config['KIOSK_TOKEN']}"})
    assert r.json["kiosk"]["name"] == "kiosk-1"
    assert changes(login(app, "root")) == []


def test_accounts_are_created_changed_and_every_change_recorded(app):
    root = login(app, "root")
    r = root.post("/api/users", json={"username": "op3", "password": "op3-password", "role": "operator",
                                      "only_new": True})
    assert r.status_code == 200 and r.json == {"ok": True, "username": "op3", "role": "operator", "created": True}
    # A second "create" of the same name is refused and changes nothing.
    r = root.post("/api/users", json={"username": "op3", "password": "other-password", "role": "admin",
                                      "only_new": True})
    assert r.status_code == 409 and r.json["error"] == "user_exists"
    assert can_log_in(app, "op3") and not can_log_in(app, "op3", "other-password")

    op3 = login(app, "op3")
    assert root.patch("/api/users/op3", json={"role": "supervisor"}).status_code == 200
    assert op3.get("/api/me").status_code == 401                      # the old session ended with the role
    assert login(app, "op3").get("/api/me").json["role"] == "supervisor"
    assert root.patch("/api/users/op3", json={"password": "op3-new-password"}).status_code == 200
    assert not can_log_in(app, "op3") and can_log_in(app, "op3", "op3-new-password")
    assert root.patch("/api/users/op3", json={"disabled": True}).status_code == 200
    assert not can_log_in(app, "op3", "op3-new-password")
    assert root.patch("/api/users/op3", json={"disabled": False}).status_code == 200
    assert can_log_in(app, "op3", "op3-new-password")
    users = {u["username"]: u for u in root.get("/api/users").json["users"]}
    assert users["op3"]["role"] == "supervisor" and users["op3"]["disabled"] == 0
    assert all("pw_hash" not in u for u in users.values())

    assert changes(root) == [("root", "enabled", "op3"), ("root", "disabled", "op3"), ("root", "password", "op3"),
                             ("root", "role", "op3"), ("root", "created", "op3")]
    role_change = next(e for e in root.get("/api/admin/audit").json["events"] if e["change"] == "role")
    assert role_change["role"] == "supervisor" and role_change["event"] == "staff-changed"
    # The supervisor's audit of the day has them too.
    assert {"staff-changed"} <= {e["event"] for e in login(app, "boss").get("/api/audit").json["events"]}


def test_refused_account_changes_say_why_and_record_nothing(app):
    root = login(app, "root")
    cases = [
        ("/api/users/nobody", {"disabled": True}, 404, "unknown_user"),
        ("/api/users/op1", {}, 400, "invalid_request"),
        ("/api/users/op1", {"role": "king"}, 400, "invalid_request"),
        ("/api/users/op1", {"password": "short"}, 400, "invalid_request"),
        ("/api/users/op1", {"disabled": "yes please"}, 400, "invalid_request"),
        ("/api/users/op1", {"password": "long-enough", "colour": "red"}, 400, "invalid_request"),
        # root is the only enabled admin: it cannot be demoted or disabled, by itself or anyone.
        ("/api/users/root", {"role": "supervisor"}, 409, "last_admin"),
        ("/api/users/root", {"disabled": True}, 409, "last_admin"),
    ]
    for path, body, status, code in cases:
        r = root.patch(path, json=body)
        assert (r.status_code, r.json["error"]) == (status, code), (path, body, r.json)
        assert r.json["message"]
    r = root.post("/api/users", json={"username": "root", "password": "root-password", "role": "operator"})
    assert (r.status_code, r.json["error"]) == (409, "last_admin")
    assert login(app, "root").get("/api/me").json["role"] == "admin"
    assert changes(root) == []
    # With a second admin, the first may step down (and its session ends).
    assert root.post("/api/users", json={"username": "root2", "password": "root2-password", "role": "admin"}).status_code == 200
    assert root.patch("/api/users/root", json={"role": "supervisor"}).status_code == 200
    assert root.get("/api/me").status_code == 401
    root2 = login(app, "root2")
    r = root2.patch("/api/users/root2", json={"disabled": True})
    assert (r.status_code, r.json["error"]) == (409, "last_admin")
    assert changes(root2) == [("root", "role", "root"), ("root", "created", "root2")]


def test_device_tokens_created_rotated_revoked_shown_once(app, tmp_path):
    root = login(app, "root")
    store = app.extensions["novbe"].store
    auth.add_device(store, "kiosk", "old-kiosk")          # a kiosk removed from the center file since
    listing = {(d["kind"], d["name"]): d for d in root.get("/api/devices").json["devices"]}
    assert {k: d["state"] for k, d in listing.items()} == {
        ("kiosk", "kiosk-1"): "ok", ("display", "hall-1"): "ok", ("kiosk", "old-kiosk"): "refused"}
    assert listing[("kiosk", "kiosk-1")]["configured"] and not listing[("kiosk", "old-kiosk")]["configured"]

    old = app.config["KIOSK_TOKEN"]
    r = root.post("/api/devices", json={"kind": "kiosk", "name": "kiosk-1"})
    assert r.status_code == 200 and r.json["token"].startswith("k_")
    new = r.json["token"]
    bearer = lambda t: {"Authorization": f"Bearer {t}"}   # noqa: E731
    assert app.test_client().post("/api/tickets", json={"service": "EMP-1"}, headers=bearer(old)).status_code == 401
    assert app.test_client().post("/api/tickets", json={"service": "EMP-1"}, headers=bearer(new)).status_code == 201

    r = root.post("/api/devices", json={"kind": "rating", "name": "counter-2"})
    assert r.status_code == 200 and r.json["token"].startswith("r_")
    rating = r.json["token"]
    for body in ({"kind": "kiosk", "name": "kiosk-9"}, {"kind": "rating", "name": "counter-99"},
                 {"kind": "display", "name": "kiosk-1"}):
        r = root.post("/api/devices", json=body)
        assert (r.status_code, r.json["error"]) == (404, "unknown_device"), body

    assert root.delete("/api/devices/display/hall-1").status_code == 200
    assert app.test_client().get("/api/display/snapshot",
                                 headers=bearer(app.config["DISPLAY_TOKEN"])).status_code == 401
    r = root.delete("/api/devices/display/hall-1")
    assert (r.status_code, r.json["error"]) == (404, "unknown_device")
    assert root.delete("/api/devices/kiosk/old-kiosk").status_code == 200
    listing = {(d["kind"], d["name"]): d["state"] for d in root.get("/api/devices").json["devices"]}
    assert listing == {("kiosk", "kiosk-1"): "ok", ("display", "hall-1"): "no_token", ("rating", "counter-2"): "ok"}

    assert changes(root) == [("root", "revoked", "old-kiosk"), ("root", "revoked", "hall-1"),
                             ("root", "token-created", "counter-2"), ("root", "token-rotated", "kiosk-1")]
    # Only the tokens' hashes are kept: neither the database nor its journal holds a token in clear.
    store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("admin.db*"))
    for token in (old, new, rating):
        assert token.encode() not in stored
        assert auth.hash_token(token).encode() in stored or token == old


def test_the_hall_gets_the_event_but_not_the_accounts_name():
    event = StaffChanged(seq=7, at=1.0, actor="root", change="role", username="leyla", role="admin")
    assert event.public() == {"seq": 7, "at": 1.0, "change": "role", "event": "staff-changed"}
    assert event.record()["username"] == "leyla" and event.record()["role"] == "admin"
    assert DeviceChanged(change="revoked", kind="kiosk", device="kiosk-2").public()["device"] == "kiosk-2"


def test_a_board_gets_the_change_numbered_without_the_name(live_server):
    import socketio

    got: list[tuple[str, dict]] = []
    seen = threading.Event()
    sio = socketio.Client(reconnection=False)

    @sio.on("*", namespace="/display")
    def _any(name, data=None):
        got.append((name, data))
        seen.set()

    sio.connect(live_server.url, namespaces=["/display"], auth={"token": live_server.display_token()},
                transports=["websocket"], wait_timeout=5)
    admin = live_server.login("admin")
    try:
        deadline = time.monotonic() + 5
        while not any(n == "snapshot" for n, _ in got) and time.monotonic() < deadline:
            seen.wait(0.1)
        snap_seq = next(d["seq"] for n, d in got if n == "snapshot")
        r = admin.post(live_server.url + "/api/users", json={"username": "leyla", "password": "leyla-pass-1",
                                                             "role": "supervisor"}, timeout=5)
        assert r.ok, r.text
        deadline = time.monotonic() + 5
        while not any(n == "staff-changed" for n, _ in got) and time.monotonic() < deadline:
            seen.wait(0.1)
        data = next(d for n, d in got if n == "staff-changed")
        assert data["seq"] == snap_seq + 1 and data["change"] == "created"     # numbered: no gap on the board
        assert "leyla" not in str(data) and "supervisor" not in str(data) and "actor" not in data
    finally:
        sio.disconnect()
        admin.close()


def test_the_command_line_goes_through_the_same_rules(tmp_path):
    from config import loader
    from server import cli
    from server.store import SQLiteStore

    db = tmp_path / "center.db"
    store = SQLiteStore(db, loader.load("absheron"))
    auth.add_user(store, "admin", "admin-pass-1", "admin")
    store.close()
    run = lambda *args: CliRunner().invoke(cli.main, [*args, "--db", str(db)], input="")   # noqa: E731
    r = run("user", "disable", "admin")
    assert r.exit_code != 0 and "only enabled admin" in r.output
    assert run("user", "add", "chief", "--role", "admin", "--password", "chief-pass-1").exit_code == 0
    assert run("user", "disable", "chief").exit_code == 0
    r = run("device", "add", "kiosk", "kiosk-99")
    assert r.exit_code != 0 and "has no kiosk named 'kiosk-99'" in r.output
    r = run("device", "add", "kiosk", "kiosk-2")
    assert r.exit_code == 0 and r.output.strip().startswith("k_")
    assert run("device", "revoke", "kiosk-2").exit_code == 0
    store = SQLiteStore(db, loader.load("absheron"))
    try:
        rows = store.audit(names=("staff-changed", "device-changed"))
        assert [(e["change"], e.get("username") or e.get("device")) for e in rows] == [
            ("revoked", "kiosk-2"), ("token-created", "kiosk-2"), ("disabled", "chief"), ("created", "chief")]
        assert all(e["actor"].startswith("cli:") for e in rows)
        listed = run("device", "list").output
        assert "kiosk-2" in listed and "no token yet" in listed
    finally:
        store.close()


# --- the pages ------------------------------------------------------------------------------------------

def test_the_admin_page_is_for_admins_only_and_has_no_inline_code(app):
    anon = app.test_client()
    r = anon.get("/counter/admin")
    assert r.status_code == 200 and b"admin.js" in r.data           # the login form, then the page
    for name in ("op1", "boss"):
        r = login(app, name).get("/counter/admin")
        assert r.status_code == 403 and b'data-i18n="not_allowed_admin"' in r.data and b"admin.js" not in r.data
    r = login(app, "root").get("/counter/admin")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    found, scripts = inline_parts(html)
    assert found == [], found
    assert '<script id="admin-boot" type="application/json">' in html


# --- in Chromium ----------------------------------------------------------------------------------------

VIEWPORT = {"width": 1366, "height": 900}


@contextmanager
def staff_page(browser: Any, url: str, username: str) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="az-AZ")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        page.locator("#login-form").wait_for()
        page.fill("#login-form input[name=username]", username)
        page.fill("#login-form input[name=password]", PASSWORDS[username])
        page.click("#login-form button[type=submit]")
        yield page
        assert errors == [], errors
    finally:
        context.close()


def confirm(page: Any) -> None:
    page.locator("#confirm-dialog [data-answer=yes]").click()
    page.wait_for_function("() => !document.querySelector('#confirm-dialog').open")


@pytest.mark.browser
def test_admin_page_in_the_browser(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    url = live_server.url
    old_kiosk = live_server.kiosk_token()
    with staff_page(browser, url + "/counter/admin", "admin") as page:
        page.locator("#admin-view").wait_for()
        page.locator("#users tr[data-user=op1]").wait_for()
        # A new operator with a generated password.
        form = page.locator("#user-form")
        form.locator("input[name=username]").fill("op3")
        form.locator("[data-generate]").click()
        password = form.locator("input[name=password]").input_value()
        assert len(password) == 12
        form.locator("button[type=submit]").click()
        page.locator("#users tr[data-user=op3]").wait_for()
        assert requests.post(url + "/api/login", json={"username": "op3", "password": password}, timeout=5).ok
        # op3 becomes a supervisor; op2 is disabled.
        page.locator("#users tr[data-user=op3] select.role-pick").select_option("supervisor")
        confirm(page)
        page.wait_for_function("() => document.querySelector('#users tr[data-user=op3] select').value === 'supervisor'")
        page.locator("#users tr[data-user=op2] [data-act=disable]").click()
        confirm(page)
        page.locator("#users tr[data-user=op2] [data-act=enable]").wait_for()
        assert requests.post(url + "/api/login", json={"username": "op2", "password": PASSWORDS["op2"]},
                             timeout=5).status_code == 401
        # Own row: no role change, no disable (the server keeps the last admin anyway).
        assert page.locator("#users tr[data-user=admin] select").is_disabled()
        assert page.locator("#users tr[data-user=admin] [data-act=disable]").count() == 0

        # kiosk-1 gets a new token: shown once with the kiosk's address; the old one is refused.
        page.locator("#devices tr[data-name=kiosk-1] [data-act=rotate]").click()
        confirm(page)
        page.locator("#token-dialog[open]").wait_for()
        address = page.locator("#token-address").input_value()
        token = page.locator("#token-value").input_value()
        assert address == f"{url}/kiosk/?token={token}" and token.startswith("k_")
        page.screenshot(path=str(screenshot_dir / "admin_token_az.png"))
        page.locator("#token-dialog [data-cancel]").click()
        assert page.locator("#token-value").input_value() == ""          # gone with the dialog
        assert requests.get(url + "/api/services", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).json()["kiosk"]["name"] == "kiosk-1"
        assert live_server.issue("EMP-01").status_code == 401              # the old token, at once
        assert requests.get(url + "/kiosk/", timeout=5).ok and old_kiosk != token
        # hall-1's token is revoked.
        page.locator("#devices tr[data-name=hall-1] [data-act=revoke]").click()
        confirm(page)
        page.locator("#devices tr[data-name=hall-1][data-state=no_token]").wait_for()

        # The log: four changes by admin, newest first, in words.
        page.wait_for_function("() => document.querySelectorAll('#admin-audit tbody tr[data-change]').length >= 5")
        rows = page.locator("#admin-audit tbody tr").all_inner_texts()
        assert "Token ləğv edildi" in rows[0] and "hall-1" in rows[0] and "admin" in rows[0]
        assert any("Hesab yaradıldı" in r and "op3" in r for r in rows)
        assert any("Rol dəyişdirildi" in r and "Nəzarətçi" in r for r in rows)
        page.screenshot(path=str(screenshot_dir / "admin_az.png"), full_page=True)

        page.locator(".lang [data-lang=en]").click()
        assert page.locator("#staff-card h2").inner_text().lower() == "staff accounts"
        assert "Supervisor" in page.locator("#users tr[data-user=op3]").inner_text()
        assert "Token revoked" in page.locator("#admin-audit tbody tr").first.inner_text()
        assert page.locator("#who").inner_text() == "admin · Administrator"
        page.screenshot(path=str(screenshot_dir / "admin_en.png"), full_page=True)
        page.locator(".lang [data-lang=ru]").click()
        assert "Отключена" in page.locator("#users tr[data-user=op2]").inner_text()
        assert "Токен отозван" in page.locator("#admin-audit tbody tr").first.inner_text()
        page.screenshot(path=str(screenshot_dir / "admin_ru.png"), full_page=True)

    # A supervisor gets the "not allowed" page.
    boss = live_server.login("boss")
    r = boss.get(url + "/counter/admin", timeout=5)
    assert r.status_code == 403 and 'data-i18n="not_allowed_admin"' in r.text
    check_headers(r)
    assert inline_parts(r.text)[0] == []


@pytest.mark.browser
def test_supervisor_view_speaks_the_operators_language(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    url = live_server.url
    boss = live_server.login("boss")
    assert live_server.issue("EMP-01").status_code == 201             # kiosk-1 prints (dummy printer)
    for action, body in (("open", None), ("call-next", None), ("start", None), ("finish", {"outcome": "served"}),
                         ("pause", {"reason": "Nahar fasiləsi"})):
        boss.post(url + f"/api/counters/1/{action}", json=body, timeout=5).raise_for_status()
    deadline = time.monotonic() + 10
    while not any(j["status"] == "printed" for j in boss.get(url + "/api/print-jobs", timeout=5).json()["jobs"]):
        assert time.monotonic() < deadline, "the ticket never printed"
        time.sleep(0.1)

    with staff_page(browser, url + "/counter/supervisor", "boss") as page:
        page.locator("#sup-view").wait_for()
        page.locator(".lang [data-lang=en]").click()
        row = page.locator("#counters tr[data-counter='1']")
        row.locator(".why").wait_for()
        assert "paused: Lunch break" in row.inner_text()

        page.locator("button[data-tab=printers]").click()
        job = page.locator("#tab-printers tr", has=page.locator("[data-reprint]")).first
        job.wait_for()
        assert "Printed" in job.inner_text() and "printed" not in job.inner_text()
        button = job.locator("[data-reprint]")
        assert button.inner_text() == "Reprint"
        assert button.get_attribute("aria-label").startswith("Ticket ") and "print again" in button.get_attribute("aria-label")
        page.wait_for_timeout(100)
        page.screenshot(path=str(screenshot_dir / "supervisor_printers_en.png"))
        button.click()
        page.locator(".toast.ok").first.wait_for()

        page.locator("button[data-tab=audit]").click()
        page.locator("#tab-audit tr[data-event='ticket-called']").first.wait_for()
        texts = {e: page.locator(f"#tab-audit tr[data-event='{e}']").first.inner_text()
                 for e in ("ticket-issued", "ticket-called", "ticket-finished", "counter-changed")}
        assert "Ticket issued" in texts["ticket-issued"] and "Called" in texts["ticket-called"]
        assert "Finished: Served" in texts["ticket-finished"]
        assert "Counter: Paused · Lunch break" in page.locator("#tab-audit table.audit").inner_text()
        body = page.locator("#tab-audit table.audit").inner_text()
        assert not any(code in body for code in ("ticket-", "counter-changed", "service-started")), body
        page.screenshot(path=str(screenshot_dir / "supervisor_audit_en.png"))

        page.locator(".lang [data-lang=ru]").click()
        expect(page.locator("#tab-audit table.audit")).to_contain_text("Окно: Перерыв · Обеденный перерыв")
        expect(row).to_contain_text("перерыв: Обеденный перерыв")
        expect(page.locator("#who")).to_have_text("boss · Супервайзер")
    boss.close()


# Names the one user-name rule takes and refuses: every alphabet's letters and digits, "-", "_", ".".
NAME_SAMPLES = ["ləman", "Ləman", "İlqar", "Лейла", "op-3", "a.b_c", "x" * 64, "x" * 65, "Ləman Əliyeva", "ləman@dost",
                "", "a/b", "tab\there", "e\u0301", "²", "李", "😀", "ş" * 64]


@pytest.mark.browser
def test_the_admin_form_follows_the_servers_user_name_rule(browser: Any, live_server: Any,
                                                            screenshot_dir: Path) -> None:
    url = live_server.url
    with staff_page(browser, url + "/counter/admin", "admin") as page:
        page.locator("#users tr[data-user=op1]").wait_for()
        # the page's rule and the server's agree on every sample
        page_says = page.evaluate("""(names) => { const re = new RegExp(JSON.parse(
            document.getElementById('admin-boot').textContent).username_pattern, 'u');
            return names.map(n => re.test(n)); }""", NAME_SAMPLES)
        assert page_says == [auth.valid_username(n) for n in NAME_SAMPLES], list(zip(NAME_SAMPLES, page_says))
        form = page.locator("#user-form")
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/api/users" in r.url else None)
        # refused with the rule in the page's language, nothing sent, no browser-English bubble
        form.locator("input[name=username]").fill("Ləman Əliyeva")
        form.locator("input[name=password]").fill("123")
        form.locator("button[type=submit]").click()
        error = page.locator("#user-error")
        expect(error).to_have_text("İstifadəçi adında yalnız hərflər (istənilən əlifbadan, məs. ləman), rəqəmlər və "
                                   "- _ . ola bilər, boşluqsuz, ən çox 64 simvol")
        assert "match" not in page.evaluate("() => document.querySelector('#user-form [name=username]').validationMessage")
        page.screenshot(path=str(screenshot_dir / "admin_name_refused_az.png"))
        # the same refusal in Russian, then the short password in English
        page.locator(".lang [data-lang=ru]").click()
        expect(error).to_have_text("Имя пользователя: только буквы (любого алфавита, напр. ləman), цифры и - _ . без "
                                   "пробелов, не более 64 символов")
        form.locator("input[name=username]").fill("ləman")
        page.locator(".lang [data-lang=en]").click()
        form.locator("button[type=submit]").click()
        expect(error).to_have_text("A password needs at least 8 characters")
        assert posts == []
        page.locator(".lang [data-lang=az]").click()
        # the Azerbaijani name goes through the form, and ləman can log in
        form.locator("input[name=password]").fill("ləman-parol-1")
        expect(error).to_have_text("")
        form.locator("button[type=submit]").click()
        page.locator('#users tr[data-user="ləman"]').wait_for()
        assert len(posts) == 1
        assert requests.post(url + "/api/login", json={"username": "ləman", "password": "ləman-parol-1"}, timeout=5).ok
        page.screenshot(path=str(screenshot_dir / "admin_name_accepted_az.png"))


def test_the_cli_lists_dates_in_the_centers_time_and_counts_in_words(tmp_path) -> None:
    """Found by trying it: `user list` printed the machine's UTC day ("since 2026-11-30") for an account the
    admin page shows as made 2026-12-01 (01:30 in Baku); `check-config` said "1 kiosks, 1 boards"."""
    from datetime import datetime, timezone

    from click.testing import CliRunner

    from config import loader
    from server import auth, cli
    from server.store import SQLiteStore

    db = tmp_path / "center.db"
    store = SQLiteStore(db, loader.load("absheron"))
    auth.add_user(store, "leyla", "leyla-pass-1", "operator")
    late = datetime(2026, 11, 30, 21, 30, tzinfo=timezone.utc).timestamp()      # 01:30 on 1 December in Baku
    store.connection().execute("UPDATE users SET created_at = ? WHERE username = 'leyla'", (late,))
    store.close()
    listed = CliRunner().invoke(cli.main, ["user", "list", "--config", "absheron", "--db", str(db)]).output
    assert "since 2026-12-01" in listed, listed
    checked = CliRunner().invoke(cli.main, ["check-config", "--config", "fuzuli"]).output
    assert " 1 kiosks" not in checked and " 1 boards" not in checked
    assert "services, " in checked and "counters, " in checked, checked
