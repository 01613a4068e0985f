"""The store's reads of the hall: their order, and the hall kept between write transactions."""
from __future__ import annotations

import pytest

from server.core import clock as center_clock
from server.core import errors, queue
from server.core.model import Status


def _day(store) -> str:
    return center_clock.business_day(store.clock(), store.cfg.tz)


def test_issued_today_is_in_issue_order_whatever_the_tickets_status(store, clock):
    # The expected arrivals' classes take turns in the order they first appear: that order must
    # be the order of issue, not the order of an index (status, service, ...).
    for code in ("PEN-1", "EMP-1", "PEN-1"):
        queue.issue_ticket(store, code)
        clock.advance(60)
    queue.open_counter(store, 1, operator="op")
    assert queue.call_next(store, 1).service == "EMP-1"       # the second ticket is now "called"
    with store.read() as tx:
        issued = tx.issued_today(_day(store))
    assert [service for _, service, _ in issued] == ["PEN-1", "EMP-1", "PEN-1"]
    assert [at for at, _, _ in issued] == sorted(at for at, _, _ in issued)


def test_finished_slots_break_ties_newest_ticket_first(store, clock):
    for code in ("EMP-1", "PEN-1"):
        queue.issue_ticket(store, code)
    queue.open_counter(store, 1, operator="a")
    queue.open_counter(store, 2, operator="b")
    first = queue.call_next(store, 1)
    second = queue.call_next(store, 2)
    clock.advance(300)
    queue.finish(store, 1)          # both finish in the same second
    queue.finish(store, 2)
    with store.read() as tx:
        slots = tx.finished_slots(_day(store), None)
    assert [(s, c) for s, c, _ in slots] == [(second.service, 2), (first.service, 1)]


# --- the hall kept in memory between write transactions --------------------------------------

def _reads(tx, day: str, services: list[str]) -> dict:
    """Every answer the hall gives a write transaction, as plain values."""
    return {
        "counters": tx.counters(), "held": tx.held_tickets(), "waiting": tx.waiting_all(day),
        "waiting_some": [tx.waiting(day, services[:2], counter) for counter in (None, 1)],
        "by_service": [tx.counters(code) for code in services],
        "issued": tx.issued_today(day), "finished": tx.count_finished(day),
        "slots": tx.finished_slots(day, None),
        "daily": [tx.daily_count(day, kind, key) for kind, key in [("center", ""), *(("service", c) for c in services)]],
    }


@pytest.fixture
def hall_checked(monkeypatch):
    """At the end of every write transaction, the hall's answers compared with SQLite's; counts the checks."""
    from contextlib import contextmanager

    from server.store import SQLiteStore, SQLiteTx

    original = SQLiteStore.write
    checked = {"n": 0}

    @contextmanager
    def write(self):
        with original(self) as tx:
            yield tx
            if tx.hall is not None and not tx.raw:
                today = _day(self)
                services = [s.code for s in self.cfg.services]
                bare = SQLiteTx(tx.side, tx.center)          # no hall: every read is SQL
                assert _reads(tx, today, services) == _reads(bare, today, services)
                checked["n"] += 1

    monkeypatch.setattr(SQLiteStore, "write", write)
    return checked


def test_the_hall_answers_as_sqlite_after_every_write_of_a_simulated_day(hall_checked):
    # A whole day (issues, calls, starts, finishes, no-shows, recalls, transfers, pauses,
    # refusals that roll back) with, at the end of every write transaction, the hall's answers
    # compared with SQLite's.
    from config import loader
    from server.sim import day as sim_day, demand

    cfg = loader.load("fuzuli")
    r = sim_day.run_day(cfg, demand.default(cfg, 140), seed=4)
    assert r.refusals, "the day should meet refusals (a rolled-back write) too"
    assert hall_checked["n"] > 500


def test_the_hall_answers_as_sqlite_through_the_staffs_other_verbs(store, clock, hall_checked):
    # What a simulated day does not do: a ticket called out of order, parked and taken back (also
    # across midnight), a priority checked, a ticket cancelled by its citizen, a named transfer,
    # a counter's services changed, yesterday's waiting tickets expired.
    from server.core import housekeeping

    tickets = [queue.issue_ticket(store, code, priority="disability" if code == "PEN-1" else None).ticket
               for code in ("EMP-1", "EMP-1", "PEN-1", "PEN-2", "EMP-2", "PEN-2")]
    for n in (1, 2, 3):
        queue.open_counter(store, n, operator=f"op{n}")
    queue.call_ticket(store, 1, tickets[1].number)
    queue.park(store, 1)
    queue.verify_priority(store, tickets[2].number, actor="op2")
    queue.call_next(store, 2)
    queue.transfer(store, 2, to_counter=3)
    queue.cancel_ticket(store, tickets[4].token)
    queue.assign_services(store, 1, ["EMP-2", "EMP-1"])
    queue.return_parked(store, 1, tickets[1].number)
    queue.start_service(store, 1)
    queue.finish(store, 1)
    queue.call_next(store, 1)
    queue.park(store, 1)                       # parked at the end of the day
    queue.call_next(store, 3)                  # and one still in hand at counter 3
    clock.advance(23 * 3600)                   # the next morning, 09:00
    assert housekeeping.expire_stale(store) > 0
    queue.return_parked(store, 1, tickets[0].number)
    fresh = queue.issue_ticket(store, "EMP-1").ticket
    queue.finish(store, 1)
    assert queue.call_next(store, 1).id == fresh.id
    assert hall_checked["n"] > 15


def test_a_write_by_another_connection_is_seen(tmp_path, cfg, clock):
    from server.store import SQLiteStore

    a = SQLiteStore(tmp_path / "h.db", cfg, clock=clock)
    b = SQLiteStore(tmp_path / "h.db", cfg, clock=clock)
    first = queue.issue_ticket(a, "EMP-1").ticket
    queue.open_counter(a, 1, operator="a")          # a's hall now holds the counter and the waiting ticket
    queue.call_next(b, 1)                            # another process calls it
    queue.finish(b, 1)
    second = queue.issue_ticket(a, "EMP-1").ticket   # a must see: counter 1 free, first ticket done
    assert queue.call_next(a, 1).id == second.id
    with a.read() as tx:
        assert tx.get_ticket(first.id).status.value == "done"
    a.close()
    b.close()


def test_raw_sql_in_a_write_drops_the_hall(store, clock):
    queue.issue_ticket(store, "EMP-1")
    queue.open_counter(store, 1, operator="a")
    with store.write() as tx:
        tx.conn.execute("UPDATE tickets SET status = 'cancelled'")   # what the hall cannot follow
    with pytest.raises(errors.NoTicketsWaiting):
        queue.call_next(store, 1)


def test_a_rolled_back_write_leaves_nothing_in_the_hall(store, clock):
    ticket = queue.issue_ticket(store, "EMP-1").ticket
    queue.open_counter(store, 1, operator="a")
    with pytest.raises(RuntimeError):
        with store.write() as tx:
            tx.save_ticket(tx.get_ticket(ticket.id).with_(status=Status.CANCELLED))
            raise RuntimeError("the transaction fails after a change")
    assert queue.call_next(store, 1).id == ticket.id     # still waiting, as in the database


def test_a_new_business_day_starts_the_hall_afresh(store, clock):
    queue.issue_ticket(store, "EMP-1")
    queue.open_counter(store, 1, operator="a")
    clock.advance(24 * 3600)
    fresh = queue.issue_ticket(store, "EMP-1").ticket
    assert set(store._hall.tickets) == {fresh.id}, "yesterday's tickets are not kept for months"
    assert fresh.number.endswith("001")
    with store.write() as tx:
        assert [t.id for t in tx.waiting_all(_day(store))] == [fresh.id]
        assert tx.daily_count(_day(store), "center", "") == 1
        assert len(tx.issued_today(_day(store))) == 1
