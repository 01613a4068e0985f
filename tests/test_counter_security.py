"""Who may do what at a counter, over HTTP and over Socket.IO, and the race of two counters.

The matrix: anonymous / operator holding the counter (op1) / operator not holding it (op2) /
supervisor (boss) / admin × every counter and supervisor action. Refused answers must be
401 (not logged in) or 403 (wrong role, someone else's counter); allowed ones 2xx, or a 409
when the domain refuses the move in the current state (which proves the checks let it through).
"""
from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server import auth
from server.app import create_app
from server.core import queue
from server.realtime import socketio

PASSWORD = "secret-pass-1"
USERS = {"op1": "operator", "op2": "operator", "boss": "supervisor", "admin": "admin"}
ROLES = ("anonymous", "op2", "op1", "boss", "admin")   # refused ones first: allowed ones change state


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the staff accounts, made once: password hashing is slow on purpose."""
    from config import loader
    from server.store import SQLiteStore

    path = tmp_path_factory.mktemp("template") / "novbe.db"
    store = SQLiteStore(path, loader.load(None))
    for name, role in USERS.items():
        auth.add_user(store, name, PASSWORD, role)
    store.close()
    return path


def make_app(path: Path, clock: Any, template: Path) -> Any:
    shutil.copyfile(template, path)
    return create_app({"DATABASE": str(path), "TESTING": True, "START_DEVICES": False, "CLOCK": clock})


@pytest.fixture
def app(tmp_path: Path, clock: Any, template_db: Path) -> Any:
    app = make_app(tmp_path / "novbe.db", clock, template_db)
    yield app
    app.extensions["novbe"].store.close()


def login(app: Any, name: str) -> Any:
    """A test client logged in as ``name``, sending the CSRF header on every request."""
    client = app.test_client()
    r = client.post("/api/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.json
    client.environ_base["HTTP_X_CSRFTOKEN"] = r.json["csrf_token"]
    return client


def client_for(app: Any, role: str) -> Any:
    return app.test_client() if role == "anonymous" else login(app, role)


# --- the state every case starts from ------------------------------------------------------

@dataclass
class World:
    """Counter 1 held by op1, counter 3 by op2, tickets waiting (one with a priority mark)."""

    app: Any
    store: Any
    waiting: list[str] = field(default_factory=list)
    priority: str = ""
    parked: str = ""
    job: int = 0

    def issue(self, service: str = "EMP-01", **kw: Any) -> str:
        return queue.issue_ticket(self.store, service, kiosk="kiosk-1", **kw).ticket.number


def world(app: Any) -> World:
    store = app.extensions["novbe"].store
    w = World(app, store)
    queue.open_counter(store, 1, operator="op1")
    queue.open_counter(store, 3, operator="op2")
    w.waiting = [w.issue() for _ in range(6)]
    w.priority = w.issue(priority="disability")
    issued = queue.issue_ticket(store, "EMP-02", kiosk="kiosk-1", printer="kiosk-1-printer")
    w.waiting.append(issued.ticket.number)
    w.job = store.print_jobs(1)[0]["id"]
    return w


def hold_ticket(w: World) -> None:
    queue.call_next(w.store, 1, actor="op1")


def park_one(w: World) -> None:
    w.parked = queue.call_next(w.store, 1, actor="op1").number
    queue.park(w.store, 1, actor="op1")


def paused(w: World) -> None:
    queue.pause_counter(w.store, 1, reason="Nahar", actor="op1")


def failed_job(w: World) -> None:
    w.store.finish_print_job(w.job, "failed", "paper out")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    kind: str                                 # counter | open | supervisor | admin | staff
    body: Callable[[World], Any] | None = None
    setup: Callable[[World], None] | None = None
    before_each: Callable[[World], None] | None = None


C = "/api/counters/1"
CASES = [
    Case("open", "POST", f"{C}/open", "open"),
    Case("close", "POST", f"{C}/close", "counter"),
    Case("pause", "POST", f"{C}/pause", "counter", body=lambda w: {"reason": "Nahar fasiləsi"}),
    Case("resume", "POST", f"{C}/resume", "counter", setup=paused),
    Case("call-next", "POST", f"{C}/call-next", "counter"),
    Case("call", "POST", f"{C}/call", "counter", body=lambda w: {"number": w.waiting[-2]}),
    Case("recall", "POST", f"{C}/recall", "counter", setup=hold_ticket),
    Case("start", "POST", f"{C}/start", "counter", setup=hold_ticket),
    Case("finish", "POST", f"{C}/finish", "counter", body=lambda w: {"outcome": "served"}, setup=hold_ticket),
    Case("no-show", "POST", f"{C}/no-show", "counter", setup=hold_ticket),
    Case("transfer-service", "POST", f"{C}/transfer", "counter", body=lambda w: {"service": "PEN-01", "note": "sənəd"},
         setup=hold_ticket),
    Case("transfer-counter", "POST", f"{C}/transfer", "counter", body=lambda w: {"counter": 2}, setup=hold_ticket),
    Case("park", "POST", f"{C}/park", "counter", setup=hold_ticket),
    Case("return", "POST", f"{C}/return", "counter", body=lambda w: {"number": w.parked}, setup=park_one),
    Case("services", "PUT", f"{C}/services", "supervisor", body=lambda w: {"services": ["EMP-02", "EMP-01"]}),
    Case("verify-priority", "POST", "/api/tickets/verify-priority", "staff", body=lambda w: {"number": w.priority}),
    Case("staff-snapshot", "GET", "/api/staff/snapshot", "staff"),
    Case("me", "GET", "/api/me", "staff"),
    Case("print-jobs", "GET", "/api/print-jobs", "staff"),
    Case("reprint", "POST", "/api/print-jobs/{job}/reprint", "supervisor", before_each=failed_job),
    Case("audit", "GET", "/api/audit", "supervisor"),
    Case("users-list", "GET", "/api/users", "admin"),
    Case("users-create", "POST", "/api/users", "admin",
         body=lambda w: {"username": "newop", "password": "new-password-1", "role": "operator"}),
    Case("devices", "POST", "/api/devices", "admin", body=lambda w: {"kind": "kiosk", "name": "kiosk-2"}),
]

ALLOWED = {
    "counter": {"op1", "boss", "admin"},
    "open": {"op1", "boss", "admin"},
    "supervisor": {"boss", "admin"},
    "admin": {"admin"},
    "staff": {"op1", "op2", "boss", "admin"},
}


def expected(kind: str, role: str) -> str:
    if role == "anonymous":
        return "401"
    return "ok" if role in ALLOWED[kind] else "403"


def verdict(status: int) -> str:
    if status == 401 or status == 403:
        return str(status)
    if 200 <= status < 300 or status == 409:
        return "ok"
    return f"unexpected {status}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_http_matrix(app: Any, case: Case) -> None:
    w = world(app)
    if case.setup:
        case.setup(w)
    got, want = {}, {}
    for role in ROLES:
        if case.before_each:
            case.before_each(w)
        client = client_for(app, role)
        path = case.path.format(job=w.job)
        body = case.body(w) if case.body else None
        r = client.open(path, method=case.method, json=body)
        got[role], want[role] = verdict(r.status_code), expected(case.kind, role)
        if got[role] in ("401", "403"):
            assert r.json["ok"] is False and r.json["error"] in ("unauthorized", "forbidden"), r.json
            assert r.json["message"]
    assert got == want


def test_the_allowed_actions_really_happen_and_are_audited(app: Any) -> None:
    """The operator's own moves succeed (2xx, not merely 409) and each lands in the audit trail with its actor."""
    w = world(app)
    op1, boss = login(app, "op1"), login(app, "boss")
    called = op1.post(f"{C}/call-next").json
    assert called["number"] == w.priority                   # the priority ticket goes first
    assert op1.post("/api/tickets/verify-priority", json={"number": w.priority}).json["ticket"]["priority_verified_by"] == "op1"
    assert op1.post(f"{C}/recall").json["ticket"]["recalls"] == 1
    assert op1.post(f"{C}/start").status_code == 200
    assert op1.post(f"{C}/finish", json={"outcome": "documents-missing"}).status_code == 200
    assert boss.post(f"{C}/call-next").json["number"] == w.waiting[0]       # a supervisor acts for counter 1
    assert boss.post(f"{C}/no-show").status_code == 200
    assert boss.put(f"{C}/services", json={"services": ["EMP-02"]}).json["services"] == ["EMP-02"]
    # Reassignment takes effect at once: counter 1 now only calls the EMP-02 ticket.
    assert op1.post(f"{C}/call-next").json["number"] == w.waiting[-1]
    events = boss.get("/api/audit").json["events"]
    seen = [(e["event"], e["actor"], e["counter"], e["number"]) for e in reversed(events)]
    assert ("ticket-called", "op1", 1, w.priority) in seen
    assert ("priority-verified", "op1", 1, w.priority) in seen
    assert ("ticket-recalled", "op1", 1, w.priority) in seen
    assert ("ticket-finished", "op1", 1, w.priority) in seen
    assert ("ticket-called", "boss", 1, w.waiting[0]) in seen
    assert ("ticket-no-show", "boss", 1, w.waiting[0]) in seen
    assert ("counter-changed", "boss", 1, None) in seen
    assert all(isinstance(e["at"], float) for e in events)


def test_an_operator_cannot_touch_another_operators_counter(app: Any) -> None:
    world(app)
    op1 = login(app, "op1")
    for action in ("call-next", "recall", "start", "no-show", "park", "close", "resume"):
        r = op1.post(f"/api/counters/3/{action}")                    # held by op2
        assert r.status_code == 403 and r.json["error"] == "forbidden", (action, r.json)
    assert op1.post("/api/counters/3/open").status_code == 403        # cannot take it over either
    r = op1.post("/api/counters/2/call-next")                          # nobody holds it
    assert r.status_code == 403 and "open counter 2 first" in r.json["message"]
    assert login(app, "boss").post("/api/counters/999/call-next").status_code == 404


def test_post_without_the_csrf_header_is_refused(app: Any) -> None:
    world(app)
    op1 = login(app, "op1")
    del op1.environ_base["HTTP_X_CSRFTOKEN"]
    r = op1.post(f"{C}/call-next")
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"
    r = op1.put(f"{C}/services", json={"services": ["EMP-01"]})
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"
    r = app.test_client().post(f"{C}/call-next")          # anonymous: the login check answers first
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
    op1.environ_base["HTTP_X_CSRFTOKEN"] = "forged"
    assert op1.post(f"{C}/call-next").json["error"] == "csrf_failed"


def test_logout_ends_the_session(app: Any) -> None:
    world(app)
    op1 = login(app, "op1")
    assert op1.get("/api/me").json["username"] == "op1"
    assert op1.post("/api/logout").status_code == 200
    assert op1.get("/api/me").status_code == 401
    assert op1.get("/api/staff/snapshot").status_code == 401


# --- Socket.IO ----------------------------------------------------------------------------

def socket_for(app: Any, role: str) -> Any:
    flask_client = app.test_client() if role == "anonymous" else login(app, role)
    csrf = flask_client.environ_base.get("HTTP_X_CSRFTOKEN")   # the page sends it in the handshake's auth
    return socketio.test_client(app, namespace="/counter", flask_test_client=flask_client,
                                auth={"csrf_token": csrf} if csrf else None)


def test_counter_namespace_refuses_anonymous_and_accepts_staff(app: Any) -> None:
    world(app)
    anon = socket_for(app, "anonymous")
    assert not anon.is_connected("/counter")
    for role in ("op1", "boss", "admin"):
        sc = socket_for(app, role)
        try:
            assert sc.is_connected("/counter")
            first = sc.get_received("/counter")[0]
            assert first["name"] == "snapshot" and len(first["args"][0]["counters"]) == 30
            snap = sc.emit("snapshot", None, namespace="/counter", callback=True)
            assert snap["seq"] == first["args"][0]["seq"]
        finally:
            sc.disconnect("/counter")


SOCKET_CASES = [
    ("open", {}, None), ("close", {}, None), ("pause", {"reason": "Nahar"}, None), ("resume", {}, paused),
    ("call-next", {}, None), ("recall", {}, hold_ticket), ("start", {}, hold_ticket),
    ("finish", {"outcome": "served"}, hold_ticket), ("no-show", {}, hold_ticket),
    ("transfer", {"service": "PEN-01", "note": "x"}, hold_ticket), ("park", {}, hold_ticket),
    ("return", {"number": "parked"}, park_one), ("call", {"number": "waiting"}, None),
    ("services", {"services": ["EMP-01"]}, None), ("verify-priority", {"number": "priority"}, None),
]


@pytest.mark.parametrize("action,extra,setup", SOCKET_CASES, ids=[c[0] for c in SOCKET_CASES])
def test_socket_matrix(app: Any, action: str, extra: dict[str, Any], setup: Any) -> None:
    w = world(app)
    if setup:
        setup(w)
    kind = {"open": "open", "services": "supervisor", "verify-priority": "staff"}.get(action, "counter")
    substitute = {"parked": lambda: w.parked, "waiting": lambda: w.waiting[-2], "priority": lambda: w.priority}
    body = {k: substitute[v]() if isinstance(v, str) and v in substitute else v for k, v in extra.items()}
    got, want = {}, {}
    for role in ROLES[1:]:        # anonymous cannot even connect (above)
        sc = socket_for(app, role)
        try:
            ack = sc.emit(action, {"counter": 1, **body}, namespace="/counter", callback=True)
        finally:
            sc.disconnect("/counter")
        got[role] = "ok" if ack["ok"] or ack.get("status") == 409 else str(ack.get("status"))
        want[role] = expected(kind, role)
    assert got == want


def test_socket_actions_answer_like_http(app: Any) -> None:
    w = world(app)
    sc = socket_for(app, "op1")
    try:
        ack = sc.emit("call-next", {"counter": 1}, namespace="/counter", callback=True)
        assert ack["ok"] and ack["number"] == w.priority and ack["ticket"]["status"] == "called"
        assert sc.emit("call-next", {"counter": 1}, namespace="/counter", callback=True)["error"] == "counter_busy"
        bad = sc.emit("transfer", {"counter": 1, "to_counter": 1}, namespace="/counter", callback=True)
        assert bad["ok"] is False and bad["status"] == 400
        moved = sc.emit("transfer", {"counter": 1, "to_counter": 2, "note": "bax"}, namespace="/counter", callback=True)
        assert moved["ok"] and moved["ticket"]["status"] == "waiting"
        assert sc.emit("call-next", {"counter": "1"}, namespace="/counter", callback=True)["error"] == "invalid_request"
        assert sc.emit("pause", {"counter": 1}, namespace="/counter", callback=True)["error"] == "invalid_request"
        # The staff room hears the committed events (sent by the publisher task), with their sequence numbers and actor.
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            events += [m for m in sc.get_received("/counter") if m["name"] == "ticket-called"]
            time.sleep(0.02)
        assert events and events[0]["args"][0]["actor"] == "op1" and events[0]["args"][0]["seq"] > 0
    finally:
        sc.disconnect("/counter")


def test_counter_snapshot_is_cut_for_one_counter_and_follows_events(app: Any) -> None:
    w = world(app)
    store = app.extensions["novbe"].store
    sc = socket_for(app, "op1")
    try:
        view = sc.emit("counter-snapshot", {"counter": 1}, namespace="/counter", callback=True)
        assert view["scope"] == 1 and view["seq"] == store.last_seq()
        mine = next(c for c in view["counters"] if c["number"] == 1)
        other = next(c for c in view["counters"] if c["number"] == 5)
        assert mine["operator"] == "op1" and "services" in mine and "services" not in other
        assert {t["number"] for t in view["waiting"]} == set(w.waiting) | {w.priority}
        assert all("service_name" not in t for t in view["waiting"])
        pension = w.issue("PEN-01")                                  # counter 1 does not serve it; counter 5 does
        again = sc.emit("counter-snapshot", {"counter": 1}, namespace="/counter", callback=True)
        assert again["seq"] == store.last_seq() > view["seq"]     # a new event: not the cached copy
        assert pension not in {t["number"] for t in again["waiting"]}
        five = sc.emit("counter-snapshot", {"counter": 5}, namespace="/counter", callback=True)
        assert pension in {t["number"] for t in five["waiting"]}
        full = sc.emit("counter-snapshot", {}, namespace="/counter", callback=True)
        assert "print_jobs" in full and len(full["waiting"]) == len(w.waiting) + 2
        assert sc.emit("counter-snapshot", {"counter": 999}, namespace="/counter", callback=True)["seq"] == full["seq"]
    finally:
        sc.disconnect("/counter")


def test_a_socket_whose_account_changed_is_refused(app: Any) -> None:
    world(app)
    sc = socket_for(app, "op1")
    try:
        # Role changed straight in the database, as `novbe` in another process does (a change made
        # through server.auth here would end the socket at once: tests/test_socket_sessions.py).
        app.extensions["novbe"].store.update_user("op1", role="supervisor")
        ack = sc.emit("call-next", {"counter": 1}, namespace="/counter", callback=True)
        assert ack["ok"] is False and ack["status"] == 401
    finally:
        sc.disconnect("/counter")


def test_socket_actions_are_rate_limited(app: Any) -> None:
    world(app)
    sc = socket_for(app, "op1")
    try:
        answers = [sc.emit("recall", {"counter": 1}, namespace="/counter", callback=True) for _ in range(15)]
    finally:
        sc.disconnect("/counter")
    assert {a.get("error") for a in answers[:10]} == {"counter_idle"}
    assert answers[-1]["error"] == "rate_limited" and answers[-1]["status"] == 429


# --- the race --------------------------------------------------------------------------------

def _race(clients: list[Any], stores: list[Any], counters: list[int]) -> list[str | None]:
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)
    errors: list[BaseException] = []

    def press(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            r = clients[i].post(f"/api/counters/{counters[i]}/call-next")
            assert r.status_code == 200, r.json
            results[i] = r.json["number"]
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            stores[i].close()          # this thread's SQLite connection

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors
    return results


@pytest.mark.parametrize("separate", [False, True], ids=["one-server", "two-servers-one-file"])
def test_two_counters_pressing_at_once_never_get_the_same_ticket(tmp_path: Path, clock: Any, template_db: Path,
                                                                separate: bool) -> None:
    """Counters 1 and 2 both serve EMP-01; one ticket waits; both press call-next at the same instant."""
    db = tmp_path / "race.db"
    app1 = make_app(db, clock, template_db)
    # Two stores on one file (as two server processes would be): only SQLite's BEGIN IMMEDIATE serialises them.
    app2 = create_app({"DATABASE": str(db), "TESTING": True, "START_DEVICES": False, "CLOCK": clock}) if separate else app1
    store = app1.extensions["novbe"].store
    try:
        queue.open_counter(store, 1, operator="op1")
        queue.open_counter(store, 2, operator="op2")
        op1, op2 = login(app1, "op1"), login(app2, "op2")
        s1, s2 = app1.extensions["novbe"].store, app2.extensions["novbe"].store
        for _ in range(15):
            number = queue.issue_ticket(store, "EMP-01", kiosk="kiosk-1").ticket.number
            got = _race([op1, op2], [s1, s2], [1, 2])
            assert sorted(got, key=str) == sorted([number, None], key=str), got
            winner = 1 if got[0] else 2
            queue.finish(store, winner, actor="test")
        done = [t for t in store.tickets_of_day(_day(store)) if t.status.value == "done"]
        assert len(done) == 15 and len({t.number for t in done}) == 15
    finally:
        store.close()
        if separate:
            app2.extensions["novbe"].store.close()


def _day(store: Any) -> str:
    from server.core import clock as center_clock

    return center_clock.business_day(store.clock(), store.cfg.tz)
