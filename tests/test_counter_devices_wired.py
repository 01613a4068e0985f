"""The server drives serial counter devices over real socat pseudo-terminal pairs:
a call (from the page's API) writes the number on the counter's LED display, and a key
press on the counter's keypad calls the next ticket."""
from __future__ import annotations

import time

import pytest

from conftest import mini_config
from server import auth
from server.app import create_app
from server.core import queue
from server.core.model import Status
from test_counter_devices import SOCAT, PtyPair, read_exactly


@pytest.fixture
def pairs(tmp_path):
    if SOCAT is None:
        pytest.skip("socat is not installed (Debian package `socat`)")
    made = []
    for name in ("led", "keys"):
        (tmp_path / name).mkdir()
        pair = PtyPair(tmp_path / name)
        pair.start()
        made.append(pair)
    yield made
    for pair in made:
        pair.stop()


def test_calls_reach_the_led_and_the_keypad_calls_next(tmp_path, clock, pairs):
    led, keys = pairs
    cfg = mini_config(counters=[
        {"number": 1, "services": ["EMP-1", "EMP-2"], "display": led.a, "buttons": keys.a},
        {"number": 2, "services": ["PEN-1", "PEN-2", "EMP-1"]},
        {"number": 3, "services": ["PEN-2"]},
    ])
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "dev.db"), "CENTER_CONFIG": cfg, "CLOCK": clock})
    novbe = app.extensions["novbe"]
    store = novbe.store
    try:
        token = auth.add_device(store, "kiosk", "kiosk-1")
        auth.add_user(store, "op1", "op1-password", "operator")
        client = app.test_client()
        for _ in range(2):
            assert client.post("/api/tickets", json={"service": "EMP-1"},
                               headers={"Authorization": f"Bearer {token}"}).status_code == 201
        csrf = client.post("/api/login", json={"username": "op1", "password": "op1-password"}).json["csrf_token"]
        assert client.post("/api/counters/1/open", headers={"X-CSRFToken": csrf}).status_code == 200
        assert client.post("/api/counters/1/call-next", headers={"X-CSRFToken": csrf}).json["number"] == "A-001"
        assert read_exactly(led.far, len(b"A-001 1\r\n")) == b"A-001 1\r\n"

        client.post("/api/counters/1/finish", json={"outcome": "served"}, headers={"X-CSRFToken": csrf})
        assert novbe.extras["buttons"][0].wait_connected(3)
        keys.far.write(b"N")
        keys.far.flush()
        deadline = time.monotonic() + 5
        called = None
        while time.monotonic() < deadline:
            with store.read() as tx:
                t = tx.find_ticket("2026-11-24", "A-002")
            if t and t.status == Status.CALLED:
                called = t
                break
            time.sleep(0.05)
        assert called is not None and called.counter == 1, "the keypad's N did not call the next ticket"
        assert read_exactly(led.far, len(b"A-002 1\r\n")) == b"A-002 1\r\n"
        audit = store.audit()
        assert audit[0]["event"] == "ticket-called" and audit[0]["actor"] == "op1@keypad"
        # A key the center did not wire is ignored; an empty queue is not an error for a keypad.
        queue.finish(store, 1)
        keys.far.write(b"N")
        keys.far.flush()
        time.sleep(0.3)
    finally:
        for b in novbe.extras.get("buttons", []):
            b.stop()
        leds = novbe.extras.get("leds")
        if leds is not None:
            leds.close_all()
