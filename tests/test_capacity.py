"""Capacity's closing rules, hand-worked: a newcomer who would push a citizen already waiting past closing
is refused (rule 5), and is not blamed for one who was late without it; what is learned of a service
is drawn towards its configured figure."""
from __future__ import annotations

from datetime import datetime

import pytest

from conftest import BAKU, Clock, mini_config
from server.core import capacity, errors, estimate, queue
from server.core.forecast import Call, Forecast

MIN = 60.0


@pytest.fixture()
def evening(tmp_path):
    """Open until 20:00, no counter opening late; counter 2 (PEN-1 first, then PEN-2, then EMP-1) serves alone.

    Nothing is learned yet: EMP-1 takes 10 minutes, PEN-1 15, each with a spread of half of it.
    At 19:20 counter 2 calls an EMP-1 citizen; at 19:21 another EMP-1 citizen (B) takes a ticket.
    """
    from server.store import SQLiteStore

    def make(grace: int):
        cfg = mini_config(policy__closing_grace_minutes=grace, policy__late_open_minutes=0)
        clock = Clock(datetime(2026, 12, 1, 19, 20, tzinfo=BAKU))
        store = SQLiteStore(tmp_path / f"n{grace}.db", cfg, clock=clock)
        stores.append(store)
        queue.open_counter(store, 2, operator="op")
        queue.issue_ticket(store, "EMP-1")
        queue.call_next(store, 2)
        clock.advance(MIN)
        b = queue.issue_ticket(store, "EMP-1")
        clock.advance(MIN)
        return store, b
    stores: list = []
    yield make
    for s in stores:
        s.close()


def _late_end(store, ticket_id: int) -> float:
    now = store.clock()
    with store.read() as tx:
        fc = queue.hall_forecast(store, tx, now, queue.clock.business_day(now, store.cfg.tz), with_arrivals=False)
    return capacity.late_end(fc.calls[ticket_id], store.cfg.policy.closing_confidence)


def test_a_priority_citizen_who_would_push_an_earlier_one_past_closing_is_refused(evening):
    """At 19:22 B is called about 19:30 and ends, nineteen times in twenty, before 19:53: in time. A şəhid
    family's EMP-1 citizen would go first and end about as late as B would have (in time, by its own
    end alone), but B would then end after 20:00. The newcomer is refused; B keeps its turn."""
    store, b = evening(0)
    closes = datetime(2026, 12, 1, 20, 0, tzinfo=BAKU).timestamp()
    assert _late_end(store, b.ticket.id) < closes - 5 * MIN
    with pytest.raises(errors.CapacityReached) as refused:
        queue.issue_ticket(store, "EMP-1", priority="shehid-qazi")
    assert refused.value.details["scope"] == "closing"
    assert _late_end(store, b.ticket.id) < closes - 5 * MIN
    assert [t.number for t in store.tickets_of_day(b.ticket.day)] == ["A-001", "A-002"]


def test_a_service_a_counter_prefers_is_refused_when_it_would_push_the_others_out(evening):
    """With a grace of 5 minutes (limit 20:05): a PEN-1 citizen at 19:22 would be called first by counter 2
    (its first preference) and end, by its own end alone, by 20:05; but B, called after it, would end about
    20:13. The services list says so, and issuing agrees."""
    store, b = evening(5)
    now = store.clock()
    with store.read() as tx:
        outlook = queue.service_outlook(store, tx, now, queue.clock.business_day(now, store.cfg.tz))
    assert outlook["PEN-1"][1] is not None and outlook["PEN-1"][1].scope == "closing"
    assert outlook["EMP-1"][1] is None                                # behind B: pushes nobody
    with pytest.raises(errors.CapacityReached):
        queue.issue_ticket(store, "PEN-1")
    assert queue.issue_ticket(store, "EMP-1").ticket.number == "A-003"


def test_a_newcomer_is_not_blamed_for_a_citizen_already_late_without_it():
    """Ticket 1 would end at 20:20 without the newcomer (limit 20:00): it is late anyway, and does not count.
    Ticket 2 ends in time both ways: nothing to refuse. Ticket 2 pushed to 20:05: refused."""
    cfg = mini_config(policy__closing_grace_minutes=0)
    closes = datetime(2026, 12, 1, 20, 0, tzinfo=BAKU).timestamp()
    at = closes - 40 * MIN

    def call(tid: int, starts: float, ends: float) -> Call:
        return Call(tid, at + starts * MIN, 2, 0, 0.0, at + ends * MIN, 0.0)
    before = Forecast(now=at, calls={1: call(1, 10, 60), 2: call(2, 0, 30)})
    new = {99}
    after = Forecast(now=at, calls={99: call(99, 0, 10), 1: call(1, 20, 70), 2: call(2, 0, 30)})
    assert capacity.judge_displacement(cfg, before, after, new, closes) is None
    pushed = Forecast(now=at, calls={**after.calls, 2: call(2, 10, 45)})
    assert capacity.judge_displacement(cfg, before, pushed, new, closes) == capacity.Refusal(
        "closing", "the counters for this service are booked until closing time")


def test_one_no_show_does_not_teach_that_a_service_takes_a_minute():
    """PEN-1 is configured at 15 minutes. One slot of a minute (a no-show, recalled once) counts against three
    of the configured 15: (1 + 3 × 15) / 4 = 11.5 minutes, and the spread keeps the configured one's
    weight: (0.5 × 15 min)² × 3 plus the slot's own deviation, over 3."""
    cfg = mini_config()
    mean, var = estimate.learn(cfg, [("PEN-1", 2, 60.0)]).per_service["PEN-1"]
    assert mean == pytest.approx(11.5 * MIN)
    assert var == pytest.approx(((10.5 * MIN) ** 2 + 3 * (7.5 * MIN) ** 2) / 3)
    # A full window of slots (the most recent ``service_window``) outweighs the configured figure.
    w = cfg.policy.service_window
    mean, _ = estimate.learn(cfg, [("PEN-1", 2, 300.0)] * 200).per_service["PEN-1"]
    assert mean == pytest.approx((w * 300 + 3 * 900) / (w + 3))
