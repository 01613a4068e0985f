"""The store against real files: races, crashes, migrations."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import mini_config
from server.core import errors, queue
from server.store import MIGRATIONS, SQLiteStore


def test_wal_and_full_sync(store):
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2        # FULL
    assert store.version == len(MIGRATIONS)


def test_migrations_are_idempotent(tmp_path, cfg):
    a = SQLiteStore(tmp_path / "m.db", cfg)
    a.close()
    b = SQLiteStore(tmp_path / "m.db", cfg)
    assert b.connection().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    b.close()


def test_50_threads_race_for_the_last_5_slots(store):
    # EMP-2 has a quota of 5.
    barrier = threading.Barrier(50)
    results: list[str] = []
    refused: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(queue.issue_ticket(store, "EMP-2").ticket.number)
        except errors.CapacityReached:
            refused.append("full")
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [f"A-{i:03d}" for i in range(1, 6)]
    assert len(refused) == 45


def _racer(path: str, barrier: "mp.synchronize.Barrier", out: "mp.Queue[str]") -> None:
    from conftest import Clock, mini_config, BAKU
    from datetime import datetime

    store = SQLiteStore(path, mini_config(), clock=Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU)))
    barrier.wait()
    try:
        out.put(queue.issue_ticket(store, "EMP-2").ticket.number)
    except errors.CapacityReached:
        out.put("full")
    store.close()


def _clean_context() -> "mp.context.BaseContext":
    """Processes forked from a fresh server process, not from pytest's.

    By now pytest's process holds a hundred threads left by earlier tests (publishers, print
    spools, pollers); a plain fork copies whatever lock one of them held at that instant, and
    a child can wait on it forever (seen here: 50 racers stuck in futex_wait).
    """
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["test_store"])
    return ctx


def test_50_processes_race_for_the_last_5_slots(tmp_path, clock):
    path = str(tmp_path / "race.db")
    SQLiteStore(path, mini_config(), clock=clock).close()
    ctx = _clean_context()
    barrier = ctx.Barrier(50)
    out: mp.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(path, barrier, out)) for _ in range(50)]
    for p in procs:
        p.start()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert sorted(x for x in got if x != "full") == [f"A-{i:03d}" for i in range(1, 6)]
    assert got.count("full") == 45


def _issue_forever(path: str) -> None:
    from conftest import Clock, BAKU
    from datetime import datetime

    store = SQLiteStore(path, _big_config(), clock=Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU)))
    while True:
        # Cancel each ticket so the queue never grows past the closing-time cut-off.
        queue.cancel_ticket(store, queue.issue_ticket(store, "EMP-1").ticket.token)


def _big_config():
    cfg = mini_config(center__daily_capacity=1_000_000)
    raw = cfg.model_dump(mode="json")
    for s in raw["services"]:
        s["quota"] = 1_000_000
    raw["center"]["hours"] = {d: "00:00-23:59" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    raw["services"][0]["target_minutes"] = 1
    for c in raw["counters"]:
        c["daily_limit"] = 0
    from config import loader

    return loader.parse(raw)


@pytest.mark.slow
def test_sigkill_in_the_middle_of_issuing_leaves_no_gap_or_duplicate(tmp_path, clock):
    path = str(tmp_path / "kill.db")
    SQLiteStore(path, _big_config(), clock=clock).close()
    def issued() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0])

    for round_ in range(3):
        ctx = _clean_context()
        p = ctx.Process(target=_issue_forever, args=(path,))
        p.start()
        # Killed while issuing: once it has issued a few more (starting a process takes long on a busy
        # machine, so a fixed sleep could kill it before its first ticket), a little later each round.
        before, deadline = issued(), time.monotonic() + 60
        while issued() < before + 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05 * round_)
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    store = SQLiteStore(path, _big_config(), clock=clock)
    assert store.integrity_ok()
    tickets = store.tickets_of_day("2026-11-24")
    numbers = [t.seq_no for t in tickets]
    assert len(numbers) > 50, "the writer should have issued tickets before being killed"
    assert sorted(numbers) == list(range(1, len(numbers) + 1))      # no duplicate, no gap
    # The numbering row agrees with the tickets, so the next ticket continues the sequence.
    assert queue.issue_ticket(store, "EMP-1").ticket.seq_no == len(numbers) + 1
    # The event log has exactly one ticket-issued per ticket.
    issued = [e for e in store.events_since(0, limit=10_000_000) if e["event"] == "ticket-issued"]
    assert len(issued) == len(numbers) + 1


def test_a_failed_transaction_writes_nothing_and_publishes_nothing(store):
    seen: list = []
    store.subscribe(seen.append)
    with pytest.raises(errors.CapacityReached):
        for _ in range(6):
            queue.issue_ticket(store, "EMP-2")
    assert len(seen) == 5 and store.last_seq() == 5
    with pytest.raises(ZeroDivisionError):
        with store.write() as tx:
            tx.next_number("2026-11-24", "Z")
            1 / 0
    with store.write() as tx:
        assert tx.next_number("2026-11-24", "Z") == 1


def test_read_snapshot_is_consistent_while_another_thread_writes(store):
    queue.issue_ticket(store, "EMP-1")
    with store.read():
        before = store.last_seq()
        t = threading.Thread(target=lambda: (queue.issue_ticket(store, "EMP-1"), store.close()))
        t.start()
        t.join()
        assert store.last_seq() == before          # still the snapshot we started with
    assert store.last_seq() == before + 1


def test_database_is_a_plain_sqlite_file(store, tmp_path):
    queue.issue_ticket(store, "EMP-1")
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT number FROM tickets").fetchone()[0] == "A-001"
    conn.close()


def test_no_index_is_a_prefix_of_another(store):
    # Every index costs each write of its table; one that is the start of another answers nothing the
    # longer one does not.
    conn = store.connection()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        indexes = {}
        for _, name, unique, *_ in conn.execute(f"PRAGMA index_list('{table}')"):
            columns = tuple(r[2] for r in conn.execute(f"PRAGMA index_info('{name}')"))
            indexes[name] = (columns, unique)
        for a, (cols_a, unique_a) in indexes.items():
            for b, (cols_b, _) in indexes.items():
                if a != b and not unique_a and cols_b[:len(cols_a)] == cols_a:
                    raise AssertionError(f"{table}: {a} {cols_a} is a prefix of {b} {cols_b}")


def test_a_new_database_and_its_wal_are_readable_by_their_owner_only(tmp_path, cfg, clock):
    """Found by trying `make run`: the database (staff password hashes) was 0644 under a usual umask."""
    import os
    import stat

    from server.store import SQLiteStore

    old = os.umask(0o022)
    try:
        s = SQLiteStore(tmp_path / "new.db", cfg, clock=clock)
        with s.write() as tx:
            tx.bump_daily("2026-11-24", "center", "")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("new.db")]
        assert {p.name for p in files} >= {"new.db", "new.db-wal", "new.db-shm"}
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), \
            {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
        s.close()
    finally:
        os.umask(old)
