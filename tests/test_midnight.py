"""The turn of the business day: held tickets stay with their counter, waiting ones expire.

Everything runs on the store's own clock (``SQLiteStore(clock=...)``): the test moves it
across local midnight in Baku, as a real night would.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from conftest import BAKU, Clock, mini_config

from server import snapshots
from server.core import errors, housekeeping, machine, queue
from server.core.model import Status, Ticket
from server.store import SQLiteStore

DAY1, DAY2 = "2026-11-24", "2026-11-25"


@pytest.fixture
def evening() -> Clock:
    return Clock(datetime(2026, 11, 24, 19, 0, tzinfo=BAKU))


@pytest.fixture
def night_store(tmp_path: Path, evening: Clock):
    s = SQLiteStore(tmp_path / "novbe.db", mini_config(), clock=evening)
    yield s
    s.close()


def _issue(store: SQLiteStore, service: str = "EMP-1") -> Ticket:
    return queue.issue_ticket(store, service, kiosk="kiosk-1").ticket


def _at(clock: Clock, day: int, hour: int, minute: int) -> None:
    clock.now = datetime(2026, 11, day, hour, minute, tzinfo=BAKU).timestamp()


def _ticket(store: SQLiteStore, ticket_id: int) -> Ticket:
    with store.read() as tx:
        t = tx.get_ticket(ticket_id)
    assert t is not None
    return t


def test_expire_is_a_transition_from_waiting_only() -> None:
    sources, target = machine.TRANSITIONS["expire"]
    assert sources == {Status.WAITING} and target == Status.EXPIRED
    t = Ticket(id=1, token="x", day=DAY1, letter="A", seq_no=1, number="A-001", service="EMP-1",
               original_service="EMP-1", status=Status.CALLED, issued_at=0)
    with pytest.raises(errors.IllegalTransition):
        machine.check(t, "expire")


def test_a_ticket_called_at_2358_is_shown_and_finishable_at_0002(night_store: SQLiteStore, evening: Clock) -> None:
    store = night_store
    queue.open_counter(store, 1, operator="op1")
    queue.open_counter(store, 2, operator="op2")
    held = _issue(store, "EMP-1")
    parked = _issue(store, "PEN-1")
    left = [_issue(store, "EMP-1"), _issue(store, "EMP-2")]
    _at(evening, 24, 23, 58)
    assert queue.call_next(store, 1).id == held.id
    assert queue.call_next(store, 2).id == parked.id
    queue.park(store, 2)

    _at(evening, 25, 0, 2)
    snap = snapshots.staff(store)
    assert snap["day"] == DAY2
    mine = next(c for c in snap["counters"] if c["number"] == 1)
    assert mine["ticket"] is not None and mine["ticket"]["number"] == held.number
    assert mine["ticket"]["day"] == DAY1 and mine["ticket"]["status"] == "called"
    assert [(p["number"], p["counter"], p["day"]) for p in snap["parked"]] == [(parked.number, 2, DAY1)]
    assert snap["waiting"] == []     # yesterday's queue is not today's

    done = queue.finish(store, 1)
    assert done.status == Status.DONE and done.id == held.id
    assert _ticket(store, held.id).status == Status.DONE
    assert next(c for c in snapshots.staff(store)["counters"] if c["number"] == 1)["ticket"] is None


def test_yesterdays_waiting_tickets_expire_with_an_event(night_store: SQLiteStore, evening: Clock) -> None:
    store = night_store
    waiting = [_issue(store, "EMP-1"), _issue(store, "PEN-2")]
    queue.open_counter(store, 1, operator="op1")
    called = queue.call_next(store, 1)   # held: must not expire
    assert called.id == waiting[0].id
    still = [_issue(store, "EMP-2")]
    assert housekeeping.expire_stale(store) == 0      # same day: nothing is stale

    _at(evening, 25, 0, 2)
    seq = store.last_seq()
    assert housekeeping.expire_stale(store) == 2
    assert housekeeping.expire_stale(store) == 0      # once only
    for t in (waiting[1], still[0]):
        after = _ticket(store, t.id)
        assert after.status == Status.EXPIRED and after.finished_at == evening.now
    assert _ticket(store, called.id).status == Status.CALLED
    events = store.events_since(seq)
    assert sorted((e["event"], e["number"]) for e in events) == sorted(
        ("ticket-expired", t.number) for t in (waiting[1], still[0]))
    assert queue.position(store, still[0].token).ticket.status == Status.EXPIRED
    with pytest.raises(errors.IllegalTransition):   # an expired ticket cannot be cancelled any more
        queue.cancel_ticket(store, still[0].token)


def test_a_ticket_parked_yesterday_is_returned_even_when_today_reuses_its_number(
        night_store: SQLiteStore, evening: Clock) -> None:
    store = night_store
    queue.open_counter(store, 2, operator="op2")
    old = _issue(store, "PEN-1")
    queue.call_next(store, 2)
    queue.park(store, 2)
    _at(evening, 25, 9, 0)
    today = _issue(store, "PEN-1")
    assert today.number == old.number and today.day == DAY2   # numbering starts afresh
    back = queue.return_parked(store, 2, old.number)
    assert back.id == old.id and back.status == Status.CALLED and back.counter == 2
    assert _ticket(store, today.id).status == Status.WAITING
    assert queue.finish(store, 2).id == old.id


def test_start_up_and_each_midnight_close_stale_tickets(tmp_path: Path, evening: Clock) -> None:
    from server.app import create_app

    cfg = mini_config()
    first = SQLiteStore(tmp_path / "novbe.db", cfg, clock=evening)
    stale = _issue(first, "EMP-1")
    first.close()
    _at(evening, 25, 8, 30)
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "novbe.db"), "CENTER_CONFIG": cfg,
                      "CLOCK": evening, "RATELIMIT_ENABLED": False})
    novbe = app.extensions["novbe"]
    try:
        client = app.test_client()
        body = client.get(f"/api/status/{stale.token}").get_json()
        assert body["status"] == "expired"
        assert _ticket(novbe.store, stale.id).status == Status.EXPIRED   # closed in the database, at start-up
        page = client.get(f"/t/{stale.token}")
        assert page.status_code == 200 and b"expired" in page.data

        turns = novbe.extras["day_turns"]
        late = _issue(novbe.store, "EMP-1")
        assert turns.check() == 0                     # the day has not turned since start-up
        _at(evening, 26, 0, 0)
        evening.advance(1)
        assert turns.check() == 1 and turns.check() == 0
        assert client.get(f"/api/status/{late.token}").get_json()["status"] == "expired"
    finally:
        novbe.store.close()


def test_seconds_to_next_day_follow_the_center_clock() -> None:
    at = datetime(2026, 11, 24, 23, 58, 30, tzinfo=BAKU).timestamp()
    assert housekeeping.seconds_to_next_day(at, BAKU) == 90
    assert housekeeping.held_over_since("2026-03-02") == "2026-02-23"
