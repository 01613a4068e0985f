"""The store's reads of the hall: their order, and the hall kept between write transactions."""
from __future__ import annotations

from server.core import clock as center_clock
from server.core import queue


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
