"""A citizen's rating keypad at a counter, over a real socat pseudo-terminal pair: a key 1-5
rates the visit that counter finished last (once), the counter's rating screen is told, and
a key with nothing to rate is dropped while the pad keeps working."""
from __future__ import annotations

import sqlite3
import time

import pytest

from conftest import mini_config
from counter.devices import RatingKeypad
from server import auth
from server.app import create_app
from server.realtime import socketio
from test_counter_devices import SOCAT, PtyPair


@pytest.fixture
def pad(tmp_path):
    if SOCAT is None:
        pytest.skip("socat is not installed (Debian package `socat`)")
    (tmp_path / "pad").mkdir()
    pair = PtyPair(tmp_path / "pad")
    pair.start()
    yield pair
    pair.stop()


def ratings(db: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT ticket_id, score, source, counter, operator FROM ratings "
                           "ORDER BY ticket_id").fetchall()
    finally:
        con.close()


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def ticket_id(store, number: str) -> int:
    with store.read() as tx:
        return tx.find_ticket("2026-11-24", number).id


def press(pad: PtyPair, key: bytes) -> None:
    assert pad.far is not None
    pad.far.write(key)
    pad.far.flush()


def test_rating_keypad_rates_the_visit_just_finished_once(tmp_path, clock, pad):
    cfg = mini_config(counters=[
        {"number": 1, "services": ["EMP-1", "EMP-2"], "rating_keypad": pad.a},
        {"number": 2, "services": ["PEN-1", "PEN-2", "EMP-1"]},
        {"number": 3, "services": ["PEN-2"]},
    ])
    db = str(tmp_path / "pad.db")
    app = create_app({"TESTING": True, "DATABASE": db, "CENTER_CONFIG": cfg, "CLOCK": clock})
    novbe = app.extensions["novbe"]
    store = novbe.store
    keypads = novbe.extras["rating_keypads"]
    screen = None
    try:
        assert len(keypads) == 1 and isinstance(keypads[0], RatingKeypad)
        assert keypads[0].wait_connected(3)
        kiosk = auth.add_device(store, "kiosk", "kiosk-1")
        auth.add_user(store, "op1", "op1-password", "operator")
        screen_token = auth.add_device(store, "rating", "counter-1")
        screen = socketio.test_client(app, namespace="/rate", auth={"counter": 1, "token": screen_token})
        assert screen.is_connected("/rate")
        client = app.test_client()
        for _ in range(2):
            assert client.post("/api/tickets", json={"service": "EMP-1"},
                               headers={"Authorization": f"Bearer {kiosk}"}).status_code == 201
        csrf = client.post("/api/login", json={"username": "op1", "password": "op1-password"}).json["csrf_token"]
        h = {"X-CSRFToken": csrf}
        assert client.post("/api/counters/1/open", headers=h).status_code == 200

        # Nothing finished at counter 1 yet: the key is dropped, nothing stored, the pad still reads.
        press(pad, b"5")
        time.sleep(0.5)
        assert ratings(db) == []
        assert keypads[0].running

        first = ticket_id(store, client.post("/api/counters/1/call-next", headers=h).json["number"])
        assert client.post("/api/counters/1/finish", json={"outcome": "served"}, headers=h).status_code == 200
        screen.get_received("/rate")
        press(pad, b"4")
        assert wait_until(lambda: ratings(db) != []), "the keypad's 4 was not stored"
        assert ratings(db) == [(first, 4, "keypad", 1, "op1")]
        # Published after the commit like every verb: counter 1's rating screen is told at once.
        got: list[dict] = []
        assert wait_until(lambda: bool(got.extend(m for m in screen.get_received("/rate") if m["name"] == "rated")
                                       or got)), "the rating screen was not told"
        assert got[0]["args"][0]["ticket"] == first
        audit = store.audit()
        assert audit[0]["event"] == "ticket-rated" and audit[0]["actor"] == "keypad"

        # A second key for the same visit is refused (already rated): nothing stored twice.
        press(pad, b"1")
        time.sleep(0.5)
        assert ratings(db) == [(first, 4, "keypad", 1, "op1")]
        assert keypads[0].running

        # Keys that are not scores are ignored; the pad still rates the next visit.
        second = ticket_id(store, client.post("/api/counters/1/call-next", headers=h).json["number"])
        assert client.post("/api/counters/1/finish", json={"outcome": "served"}, headers=h).status_code == 200
        press(pad, b"0 9N\r\n2")
        assert wait_until(lambda: len(ratings(db)) == 2), "the next visit's rating was not stored"
        assert ratings(db)[1] == (second, 2, "keypad", 1, "op1")
    finally:
        if screen is not None and screen.is_connected("/rate"):
            screen.disconnect("/rate")
        for k in keypads:
            k.stop()


def test_a_ticket_finished_at_another_counter_is_not_rated_by_this_pad(tmp_path, clock, pad):
    cfg = mini_config(counters=[
        {"number": 1, "services": ["EMP-1", "EMP-2"], "rating_keypad": pad.a},
        {"number": 2, "services": ["PEN-1", "PEN-2", "EMP-1"]},
        {"number": 3, "services": ["PEN-2"]},
    ])
    db = str(tmp_path / "pad2.db")
    app = create_app({"TESTING": True, "DATABASE": db, "CENTER_CONFIG": cfg, "CLOCK": clock})
    novbe = app.extensions["novbe"]
    keypads = novbe.extras["rating_keypads"]
    try:
        assert keypads[0].wait_connected(3)
        store = novbe.store
        kiosk = auth.add_device(store, "kiosk", "kiosk-1")
        auth.add_user(store, "op2", "op2-password", "operator")
        client = app.test_client()
        assert client.post("/api/tickets", json={"service": "EMP-1"},
                           headers={"Authorization": f"Bearer {kiosk}"}).status_code == 201
        csrf = client.post("/api/login", json={"username": "op2", "password": "op2-password"}).json["csrf_token"]
        h = {"X-CSRFToken": csrf}
        assert client.post("/api/counters/2/open", headers=h).status_code == 200
        assert client.post("/api/counters/2/call-next", headers=h).status_code == 200
        assert client.post("/api/counters/2/finish", json={"outcome": "served"}, headers=h).status_code == 200
        press(pad, b"5")
        time.sleep(0.5)
        assert ratings(db) == []
        assert keypads[0].running
    finally:
        for k in keypads:
            k.stop()
