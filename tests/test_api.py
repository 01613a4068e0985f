"""The JSON API through Flask's test client: the contract, roles, and bad input that never gives a 500."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from conftest import BAKU, mini_config
from server import auth
from server.app import create_app


@pytest.fixture
def app(tmp_path, clock):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "api.db"), "CENTER_CONFIG": mini_config(),
                      "CLOCK": clock, "START_DEVICES": False, "PUBLIC_URL": "http://novbe.local"})
    store = app.extensions["novbe"].store
    for name, role in (("op1", "operator"), ("op2", "operator"), ("boss", "supervisor"), ("root", "admin")):
        auth.add_user(store, name, f"{name}-password", role)
    app.config["KIOSK_TOKEN"] = auth.add_device(store, "kiosk", "kiosk-1")
    app.config["DISPLAY_TOKEN"] = auth.add_device(store, "display", "hall-1")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def kiosk(app):
    return {"Authorization": f"Bearer {app.config['KIOSK_TOKEN']}"}


def login(client, name):
    r = client.post("/api/login", json={"username": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.json
    return {"X-CSRFToken": r.json["csrf_token"]}


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json["ok"] is True and r.json["center"] == "test"
    assert r.json["time"].endswith("+04:00")          # center time, Asia/Baku


def test_services_list_has_capacity_and_wait(client):
    r = client.get("/api/services?lang=az")
    assert r.status_code == 200
    emp2 = next(s for s in r.json["services"] if s["code"] == "EMP-2")
    # No counter is open yet at 10:00, two hours after opening: a new ticket waits for one to open
    # (policy.late_open_minutes) and may be issued, but is told neither "0 min" nor a guess that moves on
    # with the clock.
    assert emp2["remaining"] == 5 and emp2["waiting"] == 0 and emp2["wait_minutes"] is None
    assert emp2["available"] is True and emp2["unavailable"] is None
    assert emp2["name"] == {"az": "Vakansiyalar", "ru": "Вакансии", "en": "Vacancies"}
    assert client.get("/api/services?lang=xx").status_code == 400


def test_issue_contract(app, client):
    r = client.post("/api/tickets", json={"service": "PEN-1", "lang": "az", "priority": None}, headers=kiosk(app))
    assert r.status_code == 201, r.json
    body = r.json
    assert body["number"] == "Ə-001" and body["service"] == "PEN-1"
    # Nobody ahead, but no counter is open yet, two hours after opening: no figure.
    assert body["ahead"] == 0 and body["eta_minutes"] is None and body["eta_at"] is None
    assert body["eta_reason"] == "counter_not_open"
    assert body["status_url"].startswith("http://novbe.local/t/") and "Ə" not in body["status_url"]
    status = client.get("/api/status/" + body["status_url"].rsplit("/", 1)[1])
    assert status.json["number"] == "Ə-001" and status.json["status"] == "waiting"
    again = client.post("/api/tickets", json={"service": "PEN-1"}, headers=kiosk(app))
    assert again.json["number"] == "Ə-002" and again.json["ahead"] == 1
    # Counter 2 (PEN-1 first) opens: now there is a wait to tell, from now.
    h = login(client, "op1")
    assert client.post("/api/counters/2/open", headers=h).status_code == 200
    third = client.post("/api/tickets", json={"service": "PEN-1"}, headers=kiosk(app)).json
    assert third["ahead"] == 2 and third["eta_minutes"] >= 15 and third["eta_at"].endswith("+04:00")
    assert third["eta_low"] <= third["eta_minutes"] <= third["eta_high"] and third["eta_reason"] is None


def test_a_service_no_open_counter_serves_is_never_told_a_wait_that_moves_on_with_the_clock(app, client, clock):
    """Found by trying it: a ticket of a service whose counters never opened read "about 15 minutes" at
    10:03 and still "1-30 minutes" at 17:44: the play took the unopened counter to open 15 minutes from
    *now*, every time it was asked."""
    body = client.post("/api/tickets", json={"service": "PEN-2"}, headers=kiosk(app)).json
    token = body["status_url"].rsplit("/", 1)[1]
    assert body["eta_minutes"] is None
    h = login(client, "op1")
    assert client.post("/api/counters/1/open", headers=h).status_code == 200     # EMP only
    start = clock.now
    for hours in (1, 4, 7.5):
        clock.now = start + hours * 3600
        status = client.get(f"/api/status/{token}").json
        assert status["status"] == "waiting" and status["eta_minutes"] is None and status["eta_at"] is None
        assert status["eta_reason"] == "counter_not_open"
        pen2 = next(s for s in client.get("/api/services").json["services"] if s["code"] == "PEN-2")
        assert pen2["wait_minutes"] is None and pen2["wait_reason"] == "counter_not_open"


def test_a_ticket_no_counter_will_call_today_is_not_told_a_counter_will_open(app, client):
    """EMP-2 is counter 1's alone. Counter 1 serves one citizen and closes for the day: the next EMP-2 ticket has
    no figure, and the reason is that no counter will call it today, not that one is about to open (the status
    page asks the citizen to see a member of staff)."""
    h = login(client, "op1")
    assert client.post("/api/counters/1/open", headers=h).status_code == 200
    client.post("/api/tickets", json={"service": "EMP-2"}, headers=kiosk(app))
    left = client.post("/api/tickets", json={"service": "EMP-2"}, headers=kiosk(app)).json
    assert left["eta_minutes"] is not None and left["eta_reason"] is None
    assert client.post("/api/counters/1/call-next", headers=h).json["number"] == "A-001"
    assert client.post("/api/counters/1/finish", json={"outcome": "served"}, headers=h).status_code == 200
    assert client.post("/api/counters/1/close", headers=h).status_code == 200
    status = client.get("/api/status/" + left["status_url"].rsplit("/", 1)[1]).json
    assert status["status"] == "waiting" and status["eta_minutes"] is None and status["eta_at"] is None
    assert status["eta_reason"] == "no_counter_today"


def test_capacity_reached_is_409_with_code(app, client):
    for _ in range(5):
        assert client.post("/api/tickets", json={"service": "EMP-2"}, headers=kiosk(app)).status_code == 201
    r = client.post("/api/tickets", json={"service": "EMP-2"}, headers=kiosk(app))
    assert r.status_code == 409 and r.json["error"] == "capacity_reached" and r.json["ok"] is False
    assert r.json["next_opening"]
    emp2 = next(s for s in client.get("/api/services").json["services"] if s["code"] == "EMP-2")
    assert emp2["available"] is False and emp2["unavailable"] == "service"     # the list says why, beforehand


def test_issue_needs_a_kiosk_token(app, client):
    assert client.post("/api/tickets", json={"service": "EMP-1"}).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/api/tickets", json={"service": "EMP-1"}, headers=bad).json["error"] == "unauthorized"
    display = {"Authorization": f"Bearer {app.config['DISPLAY_TOKEN']}"}
    assert client.post("/api/tickets", json={"service": "EMP-1"}, headers=display).status_code == 401


@pytest.mark.parametrize("body", [
    None, "text", [], 5, {}, {"service": 5}, {"service": None}, {"service": ""}, {"service": "x" * 100},
    {"service": "EMP-1", "lang": "fr"}, {"service": "EMP-1", "priority": 3}, {"service": "EMP-1", "extra": 1},
    {"service": ["EMP-1"]}, {"service": {"a": 1}}, {"service": "NOPE"}, {"service": "EMP-1", "priority": "vip"},
    {"service": "\u0000"}, {"service": "EMP-1", "lang": None},
])
def test_bad_ticket_bodies_are_clear_4xx(app, client, body):
    data = body if isinstance(body, str) else json.dumps(body)
    r = client.post("/api/tickets", data=data, content_type="application/json", headers=kiosk(app))
    assert 400 <= r.status_code < 500, (body, r.status_code, r.json)
    assert r.json["ok"] is False and r.json["error"] in ("invalid_request", "unknown_service")
    assert r.json["message"]


def test_wrong_content_type_and_huge_body(app, client):
    r = client.post("/api/tickets", data="service=EMP-1", headers=kiosk(app))
    assert r.status_code == 400 and r.json["error"] == "invalid_request"
    r = client.post("/api/tickets", data="x" * 100_000, content_type="application/json", headers=kiosk(app))
    assert r.status_code == 413 and r.json["ok"] is False


def test_unknown_routes_and_methods_answer_json(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and r.json["error"] == "not_found"
    r = client.get("/api/tickets")
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed"


def test_login_logout_and_growing_delays(app, client, clock):
    assert client.post("/api/login", json={"username": "op1", "password": "wrong"}).status_code == 401
    assert client.post("/api/login", json={"username": "nobody", "password": "x"}).json["error"] == "unauthorized"
    for _ in range(3):
        assert client.post("/api/login", json={"username": "op2", "password": "wrong"}).status_code == 401
    # The fourth attempt from this address waits, right password or not: no hard lock, a delay.
    r = client.post("/api/login", json={"username": "op2", "password": "op2-password"})
    assert r.status_code == 429 and r.json["error"] == "rate_limited" and r.headers["Retry-After"] == "2"
    # Another address is not slowed down by this one's failures.
    other = app.test_client()
    r = other.post("/api/login", json={"username": "op2", "password": "op2-password"},
                   environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert r.status_code == 200, r.json
    clock.advance(2.5)
    assert client.post("/api/login", json={"username": "op2", "password": "op2-password"}).status_code == 200
    headers = login(client, "op1")
    assert client.get("/api/me").json["username"] == "op1"
    assert client.post("/api/logout", headers=headers).json["ok"] is True
    assert client.get("/api/me").status_code == 401


def test_failed_logins_are_shown_to_supervisors(app, client):
    client.post("/api/login", json={"username": "root", "password": "guess-1"}, environ_base={"REMOTE_ADDR": "10.0.0.66"})
    client.post("/api/login", json={"username": "ghost", "password": "guess-2"}, environ_base={"REMOTE_ADDR": "10.0.0.66"})
    login(client, "op1")
    assert client.get("/api/login-failures").status_code == 403
    login(client, "boss")
    r = client.get("/api/login-failures")
    assert r.status_code == 200
    got = [(f["username"], f["address"]) for f in r.json["failures"]]
    assert got == [("ghost", "10.0.0.66"), ("root", "10.0.0.66")]       # newest first; no passwords anywhere
    assert "guess" not in r.get_data(as_text=True)


def test_csrf_is_required_for_session_posts(app, client):
    login(client, "op1")
    r = client.post("/api/counters/1/open")
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"


def test_counter_flow_over_http(app, client):
    client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app))
    h = login(client, "op1")
    assert client.post("/api/counters/1/open", headers=h).json["state"] == "open"
    r = client.post("/api/counters/1/call-next", headers=h)
    assert r.status_code == 200 and r.json["number"] == "A-001"
    assert client.post("/api/counters/1/recall", headers=h).json["ticket"]["recalls"] == 1
    assert client.post("/api/counters/1/start", headers=h).json["ticket"]["status"] == "serving"
    assert client.post("/api/counters/1/finish", json={"outcome": "served"}, headers=h).json["ticket"]["status"] == "done"
    nothing = client.post("/api/counters/1/call-next", headers=h)
    assert nothing.status_code == 200 and nothing.json["number"] is None and nothing.json["message"] == "nothing waiting"
    assert client.post("/api/counters/1/pause", json={"reason": "Nahar"}, headers=h).json["state"] == "paused"
    assert client.post("/api/counters/1/call-next", headers=h).json["error"] == "counter_paused"
    assert client.post("/api/counters/1/resume", headers=h).json["state"] == "open"


def test_transfer_and_park_over_http(app, client):
    for _ in range(2):
        client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app))
    h = login(client, "op1")
    client.post("/api/counters/1/open", headers=h)
    client.post("/api/counters/1/call-next", headers=h)
    r = client.post("/api/counters/1/transfer", json={"service": "PEN-1", "note": "pensiya"}, headers=h)
    assert r.json["ticket"]["service"] == "PEN-1" and r.json["ticket"]["status"] == "waiting"
    assert client.post("/api/counters/1/transfer", json={}, headers=h).status_code in (400, 409)
    client.post("/api/counters/1/call-next", headers=h)
    assert client.post("/api/counters/1/park", headers=h).json["ticket"]["status"] == "parked"
    r = client.post("/api/counters/1/return", json={"number": "A-002"}, headers=h)
    assert r.json["ticket"]["status"] == "called"


def test_roles_and_counter_ownership(app, client):
    client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app))
    assert client.post("/api/counters/1/call-next").status_code == 401
    h1 = login(client, "op1")
    client.post("/api/counters/1/open", headers=h1)
    other = app.test_client()
    h2 = login(other, "op2")
    r = other.post("/api/counters/1/call-next", headers=h2)
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    assert other.post("/api/counters/1/open", headers=h2).status_code == 403
    assert other.put("/api/counters/1/services", json={"services": ["EMP-1"]}, headers=h2).status_code == 403
    assert other.get("/api/audit").status_code == 403
    boss = app.test_client()
    hb = login(boss, "boss")
    r = boss.post("/api/counters/1/call-next", headers=hb)     # a supervisor acts for the counter
    assert r.status_code == 200 and r.json["number"] == "A-001"
    audit = boss.get("/api/audit").json["events"]
    assert audit[0]["actor"] == "boss" and audit[0]["counter"] == 1
    assert boss.post("/api/users", json={"username": "x", "password": "12345678", "role": "operator"},
                     headers=hb).status_code == 403
    root = app.test_client()
    hr = login(root, "root")
    assert root.post("/api/users", json={"username": "op3", "password": "op3-password", "role": "operator"},
                     headers=hr).status_code == 200
    r = root.post("/api/devices", json={"kind": "kiosk", "name": "kiosk-1"}, headers=hr)
    assert r.status_code == 200 and r.json["token"].startswith("k_")
    # A device the center file does not list gets no token (its token would be refused anyway).
    r = root.post("/api/devices", json={"kind": "kiosk", "name": "kiosk-9"}, headers=hr)
    assert r.status_code == 404 and r.json["error"] == "unknown_device"


def test_unknown_counter_and_bad_path(app, client):
    h = login(client, "boss")
    assert client.post("/api/counters/99/call-next", headers=h).status_code == 404
    assert client.post("/api/counters/abc/call-next", headers=h).status_code == 404


@pytest.mark.parametrize("path,body", [
    ("/api/counters/1/pause", {"reason": ""}), ("/api/counters/1/pause", {"reason": 5}),
    ("/api/counters/1/finish", {"outcome": 7}), ("/api/counters/1/transfer", {"counter": "x"}),
    ("/api/counters/1/transfer", {"counter": -1}), ("/api/counters/1/call", {"number": None}),
    ("/api/counters/1/return", {}), ("/api/tickets/verify-priority", {"number": "Z-999"}),
    ("/api/login", {"username": 1, "password": []}), ("/api/users", {"role": "king"}),
    ("/api/devices", {"kind": "toaster", "name": "X Y"}),
])
def test_bad_staff_bodies_never_500(app, client, path, body):
    h = login(client, "root")
    client.post("/api/counters/1/open", headers=h)
    r = client.post(path, json=body, headers=h)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.json)
    assert r.json["ok"] is False and r.json["error"]


def test_openapi_document(client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/tickets" in doc["paths"] and "/api/counters/{counter}/call-next" in doc["paths"]
    post = doc["paths"]["/api/tickets"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("TicketRequest")
    assert set(post["responses"]) >= {"201", "400", "401", "409", "429"}
    assert "TicketRequest" in doc["components"]["schemas"]


def test_rate_limit_per_kiosk(tmp_path, clock):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "rl.db"), "START_DEVICES": False, "CLOCK": clock,
                      "CENTER_CONFIG": mini_config(policy__kiosk_rate_limit="3 per minute",
                                                   kiosks=[{"name": "kiosk-1"}, {"name": "kiosk-2"}])})
    store = app.extensions["novbe"].store
    a = {"Authorization": "Bearer " + auth.add_device(store, "kiosk", "kiosk-1")}
    b = {"Authorization": "Bearer " + auth.add_device(store, "kiosk", "kiosk-2")}
    c = app.test_client()
    codes = [c.post("/api/tickets", json={"service": "EMP-1"}, headers=a).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    r = c.post("/api/tickets", json={"service": "EMP-1"}, headers=a)
    assert r.json["error"] == "rate_limited"
    assert c.post("/api/tickets", json={"service": "EMP-1"}, headers=b).status_code == 201   # another kiosk


def test_cancel_from_status_page(app, client):
    token = client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app)).json["status_url"].rsplit("/", 1)[1]
    assert client.post(f"/api/status/{token}/cancel").json["ok"] is True
    assert client.post(f"/api/status/{token}/cancel").status_code == 409
    assert client.get("/api/status/unknown").status_code == 404


def test_a_kiosk_sees_only_its_areas(tmp_path, clock):
    cfg = mini_config(kiosks=[{"name": "kiosk-1", "areas": ["pension"]}, {"name": "kiosk-2"}])
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "k.db"), "CENTER_CONFIG": cfg, "CLOCK": clock,
                      "START_DEVICES": False})
    store = app.extensions["novbe"].store
    one = {"Authorization": "Bearer " + auth.add_device(store, "kiosk", "kiosk-1")}
    two = {"Authorization": "Bearer " + auth.add_device(store, "kiosk", "kiosk-2")}
    c = app.test_client()
    mine = c.get("/api/services", headers=one).json
    assert [a["code"] for a in mine["areas"]] == ["pension"] and {s["area"] for s in mine["services"]} == {"pension"}
    assert mine["kiosk"]["name"] == "kiosk-1"
    assert len(c.get("/api/services", headers=two).json["areas"]) == 2
    assert "kiosk" not in c.get("/api/services").json


def test_yesterdays_waiting_ticket_reads_as_expired(app, client, clock):
    token = client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app)).json["status_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/status/{token}").json["status"] == "waiting"
    clock.advance(24 * 3600)
    body = client.get(f"/api/status/{token}").json
    assert body["status"] == "expired" and body["ahead"] == 0
    page = client.get(f"/t/{token}?lang=az")
    assert page.status_code == 200 and "keçmiş günə" in page.get_data(as_text=True)


def test_the_audit_of_an_earlier_day(app, client, clock):
    """Found by trying it: a manager could see who handled today's tickets, not yesterday's. /api/audit?day= gives
    one business day's events (center time, midnight to midnight); a malformed day is a clear 400."""
    h = login(client, "op1")
    client.post("/api/tickets", json={"service": "EMP-1"}, headers=kiosk(app))
    assert client.post("/api/counters/1/open", headers=h).status_code == 200
    assert client.post("/api/counters/1/call-next", headers=h).json["number"] == "A-001"
    yesterday = datetime.fromtimestamp(clock.now, BAKU).date().isoformat()
    clock.advance(24 * 3600)
    client.post("/api/tickets", json={"service": "EMP-2"}, headers=kiosk(app))
    login(client, "boss")
    today = client.get("/api/audit").json
    assert today["day"] != yesterday and [e["event"] for e in today["events"]] == ["ticket-issued"]
    before = client.get(f"/api/audit?day={yesterday}").json
    assert before["day"] == yesterday
    assert {(e["event"], e["number"]) for e in before["events"]} >= {("ticket-issued", "A-001"), ("ticket-called", "A-001")}
    assert max(e["seq"] for e in before["events"]) < today["events"][0]["seq"]     # none of today's
    for bad in ("2026-13-01", "yesterday", "2026-1-1", "%00"):
        r = client.get(f"/api/audit?day={bad}")
        assert r.status_code == 400 and r.json["error"] == "invalid_request" and r.json["field"] == "day", bad
    assert client.get("/api/audit?day=2001-01-01").json["events"] == []
