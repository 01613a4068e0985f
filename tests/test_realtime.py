"""A real server on a loopback port with real python-socketio clients."""
from __future__ import annotations

import threading
import time

import pytest
import socketio


class Board:
    """A python-socketio client on /display that records what it receives."""

    def __init__(self, url: str, token: str) -> None:
        self.snapshots: list[dict] = []
        self.calls: list[dict] = []
        self.changed = threading.Event()
        self.sio = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=0.5)
        self.sio.on("snapshot", self._snap, namespace="/display")
        self.sio.on("ticket-called", self._call, namespace="/display")
        self.sio.connect(url, namespaces=["/display"], auth={"token": token}, transports=["websocket"],
                         wait_timeout=5)

    def _snap(self, data: dict) -> None:
        self.snapshots.append(data)
        self.changed.set()

    def _call(self, data: dict) -> None:
        self.calls.append(data)
        self.changed.set()

    def wait(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.changed.wait(0.1)
            self.changed.clear()
        return predicate()

    def close(self) -> None:
        self.sio.disconnect()


def test_a_call_reaches_the_display_and_a_restart_brings_a_fresh_snapshot(live_server):
    board = Board(live_server.url, live_server.display_token())
    staff = live_server.login("op1")
    try:
        assert board.wait(lambda: board.snapshots), "no snapshot on connect"
        assert live_server.issue("EMP-01").status_code == 201
        assert staff.post(live_server.url + "/api/counters/1/open").ok
        r = staff.post(live_server.url + "/api/counters/1/call-next")
        assert r.json()["number"] == "A-001"
        assert board.wait(lambda: board.calls), "ticket-called never arrived"
        call = board.calls[0]
        assert (call["number"], call["counter"]) == ("A-001", 1) and call["seq"] > board.snapshots[0]["seq"]
        assert "actor" not in call and "token" not in call      # nothing personal on a public screen

        before = len(board.snapshots)
        live_server.restart()
        assert board.wait(lambda: len(board.snapshots) > before, 20), "no fresh snapshot after restart"
        fresh = board.snapshots[-1]
        assert fresh["seq"] >= call["seq"]
        assert [c["number"] for c in fresh["calls"]] == ["A-001"]
        # The session cookie survives the restart (the secret key is in the database).
        staff.post(live_server.url + "/api/counters/1/finish", json={"outcome": "served"}).raise_for_status()
    finally:
        board.close()
        staff.close()


def test_display_namespace_refuses_a_bad_token(live_server):
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(live_server.url, namespaces=["/display"], auth={"token": "wrong"}, transports=["websocket"],
                    wait_timeout=5)
    sio.disconnect()


def test_counter_namespace_refuses_anonymous_and_accepts_staff(live_server):
    anon = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anon.connect(live_server.url, namespaces=["/counter"], transports=["websocket"], wait_timeout=5)
    anon.disconnect()
    staff = live_server.login("op1")
    cookie = "; ".join(f"{c.name}={c.value}" for c in staff.cookies)
    got: list[dict] = []
    sio = socketio.Client(reconnection=False)
    sio.on("snapshot", got.append, namespace="/counter")
    try:
        sio.connect(live_server.url, namespaces=["/counter"], headers={"Cookie": cookie},
                    auth={"csrf_token": staff.headers["X-CSRFToken"]}, transports=["websocket"], wait_timeout=5)
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got and len(got[0]["counters"]) == 30
    finally:
        sio.disconnect()
        staff.close()


def test_production_mode_gevent_serves_api_and_sockets(tmp_path):
    """The documented production mode (NOVBE_ASYNC_MODE=gevent): issue, call, and the board hears it."""
    from live import LiveServer

    server = LiveServer(tmp_path).start(gevent=True)
    board = Board(server.url, server.display_token())
    staff = server.login("op1")
    try:
        assert server.issue("PEN-01").status_code == 201
        staff.post(server.url + "/api/counters/5/open").raise_for_status()
        number = staff.post(server.url + "/api/counters/5/call-next").json()["number"]
        assert number and board.wait(lambda: any(c["number"] == number for c in board.calls))
    finally:
        board.close()
        staff.close()
        server.stop()
