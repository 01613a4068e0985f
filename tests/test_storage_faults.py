"""Storage faults with real files: a full disk, a read-only database, a second server, an unusable file.

Each fault is made for real (a tiny tmpfs filled up, ``chattr +i``, a second ``novbe run``)
against a real server on a loopback port; afterwards the database passes
``PRAGMA integrity_check`` and holds every ticket the server acknowledged. We run as root in
CI, which ignores file modes: a read-only file is made with the immutable attribute.
"""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from conftest import BAKU, Clock, mini_config
from datetime import datetime
from live import ROOT, LiveServer, free_port

from server.core import errors, queue
from server.store import SQLiteStore

SERVICE = "EMP-01"


def _sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 4 MiB tmpfs of our own, so that filling it fills nothing else."""
    disk = tmp_path / "disk"
    disk.mkdir()
    r = _sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk))
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'mount failed'}): needs root in a "
                    "container that allows mounts")
    try:
        yield disk
    finally:
        _sh("umount", "-l", str(disk))


@pytest.fixture
def immutable(tmp_path: Path):
    """Set and clear the immutable attribute (what makes a file read-only even for root); always cleared."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed: cannot make a file read-only for root")
    probe = tmp_path / "probe"
    probe.touch()
    r = _sh("chattr", "+i", str(probe))
    if r.returncode != 0:
        pytest.skip(f"this file system does not take the immutable attribute ({r.stderr.strip()})")
    _sh("chattr", "-i", str(probe))
    marked: list[Path] = []

    def mark(*paths: Path, on: bool = True) -> None:
        for p in paths:
            r = _sh("chattr", "+i" if on else "-i", str(p))
            assert r.returncode == 0, r.stderr
            if on:
                marked.append(p)
    yield mark
    for p in marked:
        _sh("chattr", "-i", str(p))


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte with a file of its own (removing it frees the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
    return filler


def _check_database(db: Path, acknowledged: list[str]) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        numbers = {r[0] for r in conn.execute("SELECT number FROM tickets")}
    finally:
        conn.close()
    assert acknowledged and set(acknowledged) <= numbers, set(acknowledged) - numbers


def _health(server: LiveServer) -> requests.Response:
    return requests.get(server.url + "/api/health", timeout=10)


def _wait_health(server: LiveServer, ok: bool, seconds: float = 15) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        r = _health(server)
        if r.json()["ok"] is ok or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def _counter_socket(server: LiveServer, staff: requests.Session) -> socketio.Client:
    cookie = "; ".join(f"{c.name}={c.value}" for c in staff.cookies)
    sio = socketio.Client(reconnection=False)
    sio.connect(server.url, namespaces=["/counter"], headers={"Cookie": cookie},
                auth={"csrf_token": staff.headers["X-CSRFToken"]}, transports=["websocket"], wait_timeout=5)
    return sio


def _no_traceback(server: LiveServer) -> str:
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    return text


def test_disk_full_is_503_storage_full_then_recovers_with_nothing_lost(tiny_disk: Path, tmp_path: Path) -> None:
    server = LiveServer(tiny_disk)
    server.log = tmp_path / "server.log"          # the log must not be on the disk we fill
    server.start()
    sio = None
    try:
        acknowledged = []
        for _ in range(3):
            r = server.issue(SERVICE)
            assert r.status_code == 201, r.text
            acknowledged.append(r.json()["number"])
        staff = server.login("op1")
        assert staff.post(server.url + "/api/counters/1/open").ok
        sio = _counter_socket(server, staff)

        services = [s["code"] for s in requests.get(server.url + "/api/services", timeout=5).json()["services"]
                    if s["available"]]
        filler = _fill(tiny_disk)
        refused = None
        for i in range(400):           # the WAL may still have room for a few: until it has none
            r = server.issue(services[i % len(services)])
            assert r.status_code in (201, 503), r.text
            if r.status_code == 201:
                acknowledged.append(r.json()["number"])
                continue
            refused = r
            break
        assert refused is not None, "the full disk never refused a ticket"
        body = refused.json()
        assert body["ok"] is False and body["error"] == "storage_full" and "disk is full" in body["message"]
        assert refused.headers["Retry-After"] == "5"
        # The server stays up. A refused commit leaves its partial frames at the WAL's end, so a
        # smaller one after it may fit: every answer is a durable ticket or storage_full.
        for i in range(30):
            r = server.issue(services[i % len(services)])
            assert r.status_code in (201, 503), r.text
            if r.status_code == 201:
                acknowledged.append(r.json()["number"])
            else:
                assert r.json()["error"] == "storage_full"

        health = _health(server)
        assert health.status_code == 503
        assert health.json()["ok"] is False and health.json()["error"] == "storage_full"
        assert health.json()["center"] == "absheron"

        # The counter socket answers the fault as its ack, like the HTTP API (pause and resume
        # until one does not fit).
        paused, acks = False, []
        for _ in range(50):
            ack = sio.call("resume" if paused else "pause", {"counter": 1, **({} if paused else {"reason": "tea"})},
                           namespace="/counter", timeout=10)
            acks.append(ack)
            if ack["ok"]:
                paused = not paused
            else:
                break
        assert acks[-1]["ok"] is False, acks
        assert acks[-1]["error"] == "storage_full" and acks[-1]["status"] == 503, acks[-1]

        filler.unlink()                 # space again: the server recovers by itself
        health = _wait_health(server, ok=True)
        assert health.status_code == 200 and health.json()["ok"] is True
        r = server.issue(SERVICE)
        assert r.status_code == 201, r.text
        acknowledged.append(r.json()["number"])
        if paused:
            assert sio.call("resume", {"counter": 1}, namespace="/counter", timeout=10)["ok"]
        ack = sio.call("call-next", {"counter": 1}, namespace="/counter", timeout=10)
        assert ack["ok"] is True and ack["number"], ack
    finally:
        if sio is not None:
            sio.disconnect()
        server.stop()
    log = _no_traceback(server)
    assert "storage fault storage_full" in log
    _check_database(server.db, acknowledged)


def test_read_only_database_is_503_storage_read_only_then_recovers(tmp_path: Path, immutable: Any) -> None:
    server = LiveServer(tmp_path).start()
    db = server.db
    try:
        acknowledged = [server.issue(SERVICE).json()["number"]]
        # Not the -shm file: SQLite maps it into memory, and an immutable mapping ends the process
        # with SIGBUS; a read-only database file and WAL are the fault a real disk or an admin makes.
        immutable(db, Path(f"{db}-wal"))
        for _ in range(3):
            r = server.issue(SERVICE)
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "storage_read_only" and "cannot be written" in r.json()["message"]
        health = _health(server)
        assert health.status_code == 503 and health.json()["error"] == "storage_read_only"

        immutable(db, Path(f"{db}-wal"), on=False)
        # No connection opened during the fault is reused: the very next ticket works.
        r = server.issue(SERVICE)
        assert r.status_code == 201, r.text
        acknowledged.append(r.json()["number"])
        assert _wait_health(server, ok=True).status_code == 200
    finally:
        server.stop()
    _no_traceback(server)
    _check_database(db, acknowledged)


def test_a_second_server_on_the_same_database_is_refused_naming_the_first(live_server: LiveServer) -> None:
    port = free_port()
    second = subprocess.run(
        [sys.executable, "-m", "server.cli", "run", "--config", "absheron", "--db", str(live_server.db),
         "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "already running" in lines[0] and f"pid {live_server.proc.pid}" in lines[0]
    assert f"127.0.0.1:{live_server.port}" in lines[0]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    assert _health(live_server).ok

    # The lock dies with its process, however it dies: after SIGKILL a new server starts.
    assert live_server.proc is not None
    live_server.proc.send_signal(signal.SIGKILL)
    live_server.proc.wait(10)
    live_server.proc = None
    live_server.start()
    assert _health(live_server).json()["ok"] is True


def _unusable(kind: str, tmp_path: Path, immutable: Any) -> Path:
    if kind == "folder":
        path = tmp_path / "a-folder.db"
        path.mkdir()
    elif kind == "not-sqlite":
        path = tmp_path / "notes.db"
        path.write_text("these are not the tables you are looking for\n" * 100)
    elif kind == "read-only":
        path = tmp_path / "ro.db"
        SQLiteStore(path, mini_config()).close()
        immutable(path)
    else:   # a new database in a folder that cannot be written
        folder = tmp_path / "locked"
        folder.mkdir()
        immutable(folder)
        path = folder / "novbe.db"
    return path


@pytest.mark.parametrize("kind", ["folder", "not-sqlite", "read-only", "folder-not-writable"])
@pytest.mark.parametrize("command", ["init-db", "run"])
def test_start_up_on_an_unusable_database_is_one_line(kind: str, command: str, tmp_path: Path, immutable: Any) -> None:
    path = _unusable(kind, tmp_path, immutable)
    args = [sys.executable, "-m", "server.cli", command, "--config", "absheron", "--db", str(path)]
    if command == "run":
        args += ["--port", str(free_port())]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    expected = {"folder": "is a folder", "not-sqlite": "not a SQLite database",
                "read-only": "cannot be written", "folder-not-writable": ""}[kind]
    assert lines[0].startswith("Error: ") and expected in lines[0]
    assert ("[storage_read_only]" if kind in ("read-only", "folder-not-writable") else "[storage_unavailable]") in lines[0]


def test_locked_too_long_is_storage_unavailable_and_the_store_recovers(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "novbe.db", mini_config(), clock=clock, busy_timeout_ms=200)
    other = sqlite3.connect(tmp_path / "novbe.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")          # another process holding the write lock
        started = time.monotonic()
        with pytest.raises(errors.StorageUnavailable) as exc:
            queue.issue_ticket(store, "EMP-1")
        assert time.monotonic() - started < 5
        assert exc.value.code == "storage_unavailable" and exc.value.status == 503
        assert "locked" in exc.value.message and exc.value.details["sqlite"] == "SQLITE_BUSY"
        other.execute("ROLLBACK")
        assert queue.issue_ticket(store, "EMP-1").ticket.number == "A-001"
        assert store.check_storage(max_age=0) is None
    finally:
        other.close()
        store.close()


def test_a_failed_commit_is_not_hidden_by_a_second_rollback(tiny_disk: Path) -> None:
    """The first wave saw "cannot rollback - no transaction is active" instead of the disk-full error."""
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))
    store = SQLiteStore(tiny_disk / "novbe.db", mini_config(), clock=clock)
    try:
        filler = _fill(tiny_disk)
        fault = None
        for i in range(2000):          # a few may still fit in the WAL's last pages
            try:
                store.set_meta(f"note-{i}", "x" * 3000)
            except errors.StorageError as exc:
                fault = exc
                break
        assert fault is not None and fault.code == "storage_full" and fault.status == 503
        assert isinstance(fault.__cause__, sqlite3.OperationalError)
        assert fault.details["sqlite"] == "SQLITE_FULL"
        assert store.check_storage(max_age=0) is not None
        filler.unlink()
        store.set_meta("after", "the disk has room again")
        assert store.meta("after") and store.integrity_ok()
    finally:
        store.close()


def test_health_probe_is_cached(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "novbe.db", mini_config(), clock=clock)
    try:
        assert store.check_storage() is None
        probed = store.meta("health_probe")
        assert probed is not None
        for _ in range(50):
            assert store.check_storage() is None
        assert store.meta("health_probe") == probed        # 50 checks, one write
        assert store.check_storage(max_age=0) is None and store.meta("health_probe") != probed
    finally:
        store.close()


def test_threads_keep_working_through_a_fault(tmp_path: Path, immutable: Any) -> None:
    """Eight threads writing while the file turns read-only and back: every answer is a commit or a
    storage fault, never anything else, and the store serves again at once afterwards."""
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))
    db = tmp_path / "novbe.db"
    store = SQLiteStore(db, mini_config(), clock=clock)
    issued: list[str] = []
    other: list[BaseException] = []
    stop = threading.Event()
    count = iter(range(10**9))

    def worker() -> None:
        while not stop.is_set():
            key = f"k{next(count)}"
            try:
                store.set_meta(key, "v")
                issued.append(key)
            except errors.StorageError:
                time.sleep(0.01)
            except BaseException as exc:  # anything else is a failure of this test
                other.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        immutable(db, Path(f"{db}-wal"))
        time.sleep(0.5)
        during = len(issued)
        time.sleep(0.3)
        assert len(issued) == during          # nothing is acknowledged while the file is read-only
        immutable(db, Path(f"{db}-wal"), on=False)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    try:
        assert not other, other
        assert len(issued) > during
        store.set_meta("last", "v")
        assert store.integrity_ok()
        conn = sqlite3.connect(db)
        keys = {r[0] for r in conn.execute("SELECT key FROM meta")}
        conn.close()
        assert set(issued) <= keys
    finally:
        store.close()
