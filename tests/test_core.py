"""The domain core through plain function calls on a real (temporary) SQLite store."""
from __future__ import annotations

from datetime import datetime

import pytest

from conftest import BAKU, Clock, mini_config
from server.core import clock as bday
from server.core import errors, machine, queue
from server.core.model import CounterState, Status, Ticket
from server.store import SQLiteStore


def issue(store, service="EMP-1", **kw):
    return queue.issue_ticket(store, service, kiosk="kiosk-1", **kw).ticket


def opened(store, *numbers):
    for n in numbers:
        queue.open_counter(store, n, operator=f"op{n}")


# --- state machine ---------------------------------------------------------------

def test_full_lifecycle(store):
    t = issue(store)
    assert (t.number, t.status) == ("A-001", Status.WAITING)
    opened(store, 1)
    called = queue.call_next(store, 1, actor="op1")
    assert called.status == Status.CALLED and called.counter == 1
    assert queue.recall(store, 1).recalls == 1
    assert queue.start_service(store, 1).status == Status.SERVING
    done = queue.finish(store, 1, outcome="served")
    assert done.status == Status.DONE and done.outcome == "served"
    with store.read() as tx:
        assert tx.get_counter(1).ticket_id is None


@pytest.mark.parametrize("verb,start", [
    ("start", Status.WAITING), ("finish", Status.WAITING), ("no_show", Status.SERVING),
    ("recall", Status.SERVING), ("call", Status.CALLED), ("return", Status.WAITING), ("cancel", Status.DONE),
    ("park", Status.DONE), ("transfer", Status.NO_SHOW),
])
def test_illegal_transitions_are_refused_with_a_reason(verb, start):
    t = Ticket(id=1, token="x", day="d", letter="A", seq_no=1, number="A-001", service="S",
               original_service="S", status=start, issued_at=0)
    with pytest.raises(errors.IllegalTransition) as exc:
        machine.check(t, verb)
    assert "A-001" in exc.value.message and exc.value.code == "illegal_transition"


def test_every_verb_has_a_target_and_a_legal_source():
    for verb, (sources, target) in machine.TRANSITIONS.items():
        assert sources and target


def test_actions_need_an_open_counter_and_a_ticket_in_hand(store):
    issue(store)
    with pytest.raises(errors.CounterClosed):
        queue.call_next(store, 1)
    opened(store, 1)
    with pytest.raises(errors.CounterIdle):
        queue.start_service(store, 1)
    queue.call_next(store, 1)
    with pytest.raises(errors.CounterBusy):
        queue.call_next(store, 1)
    with pytest.raises(errors.CounterBusy):
        queue.pause_counter(store, 1, reason="lunch")


def test_recall_limit_then_no_show(store, cfg):
    issue(store)
    opened(store, 1)
    queue.call_next(store, 1)
    for _ in range(cfg.policy.recall_limit):
        queue.recall(store, 1)
    with pytest.raises(errors.RecallLimitReached):
        queue.recall(store, 1)
    assert queue.mark_no_show(store, 1).status == Status.NO_SHOW


def test_transfer_to_service_keeps_original_issue_time(store, clock):
    first = issue(store, "PEN-2")
    clock.advance(60)
    issue(store, "EMP-1")           # A-001 issued after Ə-001
    opened(store, 2, 1)
    queue.call_next(store, 2)       # counter 2 prefers PEN-1, PEN-2, EMP-1 → gets Ə-001 (PEN-2)
    moved = queue.transfer(store, 2, service="EMP-1", note="needs employment too")
    assert moved.status == Status.WAITING and moved.service == "EMP-1"
    assert moved.original_service == "PEN-2" and moved.issued_at == first.issued_at
    # Counter 1 now gets the transferred ticket first: it was issued earlier.
    assert queue.call_next(store, 1).number == first.number


def test_transfer_to_named_counter_is_for_that_counter_only(store):
    t = issue(store, "EMP-1")
    opened(store, 1, 2, 3)
    queue.call_next(store, 1)
    queue.transfer(store, 1, to_counter=3)
    with pytest.raises(errors.NoTicketsWaiting):
        queue.call_next(store, 2)    # counter 2 serves EMP-1 but the ticket is for counter 3
    assert queue.call_next(store, 3).number == t.number


def test_transfer_needs_exactly_one_target(store):
    issue(store)
    opened(store, 1)
    queue.call_next(store, 1)
    with pytest.raises(errors.InvalidRequest):
        queue.transfer(store, 1)
    with pytest.raises(errors.InvalidRequest):
        queue.transfer(store, 1, service="EMP-2", to_counter=2)
    with pytest.raises(errors.UnknownService):
        queue.transfer(store, 1, service="NOPE")


def test_park_and_return(store):
    t = issue(store)
    issue(store)
    opened(store, 1)
    queue.call_next(store, 1)
    assert queue.park(store, 1).status == Status.PARKED
    assert queue.call_next(store, 1).number == "A-002"     # the counter is free meanwhile
    queue.finish(store, 1)
    back = queue.return_parked(store, 1, t.number)
    assert back.status == Status.CALLED and back.counter == 1
    with pytest.raises(errors.CounterBusy):
        queue.return_parked(store, 1, "A-002")
    queue.finish(store, 1)
    with pytest.raises(errors.IllegalTransition):
        queue.return_parked(store, 1, "A-002")     # done, not parked


def test_pause_resume_close(store):
    opened(store, 1)
    issue(store)
    with pytest.raises(errors.InvalidRequest):
        queue.pause_counter(store, 1, reason="  ")
    c = queue.pause_counter(store, 1, reason="Nahar fasiləsi")
    assert c.state == CounterState.PAUSED and c.reason == "Nahar fasiləsi"
    with pytest.raises(errors.CounterPaused):
        queue.call_next(store, 1)
    assert queue.resume_counter(store, 1).state == CounterState.OPEN
    with pytest.raises(errors.IllegalTransition):
        queue.resume_counter(store, 1)
    assert queue.close_counter(store, 1).state == CounterState.CLOSED


def test_cancel_by_citizen(store):
    t = issue(store)
    assert queue.cancel_ticket(store, t.token).status == Status.CANCELLED
    with pytest.raises(errors.IllegalTransition):
        queue.cancel_ticket(store, t.token)
    with pytest.raises(errors.UnknownTicket):
        queue.cancel_ticket(store, "no-such-token")


def test_finish_outcome_must_be_configured(store):
    issue(store)
    opened(store, 1)
    queue.call_next(store, 1)
    with pytest.raises(errors.InvalidRequest):
        queue.finish(store, 1, outcome="whatever")


def test_call_specific_ticket_is_recorded_and_can_be_forbidden(tmp_path, clock):
    store = SQLiteStore(tmp_path / "a.db", mini_config(), clock=clock)
    issue(store)
    second = issue(store)
    opened(store, 1)
    called = queue.call_ticket(store, 1, second.number)
    assert called.specific_call and called.number == "A-002"
    strict = SQLiteStore(tmp_path / "b.db", mini_config(policy__allow_call_specific=False), clock=clock)
    issue(strict)
    opened(strict, 1)
    with pytest.raises(errors.NotAllowed):
        queue.call_ticket(strict, 1, "A-001")


# --- routing -----------------------------------------------------------------------

def test_first_come_first_served_within_a_service(store, clock):
    numbers = []
    for _ in range(3):
        numbers.append(issue(store).number)
        clock.advance(10)
    opened(store, 1)
    got = []
    for _ in range(3):
        got.append(queue.call_next(store, 1).number)
        queue.finish(store, 1)
    assert got == numbers


def test_service_preference_order(store, clock):
    issue(store, "EMP-1")
    clock.advance(10)
    issue(store, "PEN-1")            # Ə-001, later but preferred by counter 2
    opened(store, 2)
    assert queue.call_next(store, 2).service == "PEN-1"


def test_priority_first_by_rank(store, clock):
    issue(store, "EMP-1")
    clock.advance(5)
    issue(store, "EMP-1", priority="disability")
    clock.advance(5)
    shehid = issue(store, "EMP-1", priority="shehid-qazi")
    opened(store, 1)
    assert queue.call_next(store, 1).number == shehid.number
    queue.finish(store, 1)
    assert queue.call_next(store, 1).priority == "disability"


def test_anti_starvation_after_a_priority_streak(store, clock, cfg):
    ordinary = issue(store, "EMP-1")
    for _ in range(cfg.policy.priority_streak + 2):
        clock.advance(1)
        issue(store, "EMP-1", priority="shehid-qazi")
    opened(store, 1)
    got = []
    for _ in range(cfg.policy.priority_streak + 1):
        got.append(queue.call_next(store, 1))
        queue.finish(store, 1)
    assert all(t.priority for t in got[:-1])
    assert got[-1].number == ordinary.number      # the streak is broken by the ordinary ticket
    assert queue.call_next(store, 1).priority      # and priority resumes


def test_overdue_ticket_jumps_the_preference_order(store, clock, cfg):
    old = issue(store, "EMP-1")                    # counter 2's last preference
    clock.advance((cfg.policy.starvation_minutes + 1) * 60)
    issue(store, "PEN-1")                          # counter 2's first preference
    opened(store, 2)
    assert queue.call_next(store, 2).number == old.number


def test_two_counters_never_get_the_same_ticket(store):
    issue(store, "EMP-1")
    issue(store, "EMP-1")
    opened(store, 1, 2)
    a = queue.call_next(store, 1)
    b = queue.call_next(store, 2)
    assert a.id != b.id


def test_supervisor_can_reassign_services_immediately(store):
    issue(store, "PEN-2")
    opened(store, 1)
    with pytest.raises(errors.NoTicketsWaiting):
        queue.call_next(store, 1)
    queue.assign_services(store, 1, ["PEN-2", "EMP-1"], actor="boss")
    assert queue.call_next(store, 1).service == "PEN-2"
    with pytest.raises(errors.UnknownService):
        queue.assign_services(store, 1, ["NOPE"])


# --- capacity ----------------------------------------------------------------------

def test_service_quota(store):
    for _ in range(5):
        issue(store, "EMP-2")
    with pytest.raises(errors.CapacityReached) as exc:
        issue(store, "EMP-2")
    assert exc.value.details["scope"] == "service" and exc.value.details["next_opening"]


def test_center_daily_capacity(tmp_path, clock):
    store = SQLiteStore(tmp_path / "c.db", mini_config(center__daily_capacity=3), clock=clock)
    for code in ("EMP-1", "PEN-1", "PEN-2"):
        issue(store, code)
    with pytest.raises(errors.CapacityReached) as exc:
        issue(store, "EMP-1")
    assert exc.value.details["scope"] == "center"


def test_counter_daily_limit_on_calls_and_on_issuing(store):
    # Give PEN-2 to counter 3 alone (daily limit 3).
    queue.assign_services(store, 2, ["PEN-1", "EMP-1"])
    for _ in range(3):
        issue(store, "PEN-2")
    with pytest.raises(errors.CapacityReached) as exc:
        issue(store, "PEN-2")        # counter 3 can take only 3 a day, 3 are already waiting
    assert exc.value.details["scope"] == "counters"
    opened(store, 3)
    for _ in range(3):
        queue.call_next(store, 3)
        queue.finish(store, 3)
    with pytest.raises(errors.CounterLimitReached):
        queue.call_next(store, 3)


def test_time_aware_cutoff_counts_the_citizens_own_service(tmp_path):
    late = Clock(datetime(2026, 11, 24, 19, 40, tzinfo=BAKU))     # closes 20:00
    store = SQLiteStore(tmp_path / "d.db", mini_config(policy__closing_grace_minutes=0), clock=late)
    opened(store, 1)
    opened(store, 2)
    # Counters 1 and 2 serve EMP-1 at 10 minutes each (nothing learned yet: a spread of 5
    # minutes a slot). Tickets 1-2 are called at 19:40 and served by 19:50, 19:55 at one
    # deviation: allowed. A third would be called at 19:50 - well before closing - but its
    # own service ends at 20:00, 20:07 at one deviation (two slots): refused.
    for _ in range(2):
        issue(store, "EMP-1")
    with pytest.raises(errors.CapacityReached) as exc:
        issue(store, "EMP-1")
    assert exc.value.details["scope"] == "closing"
    # Counter 2 prefers PEN-2 to EMP-1: a PEN-2 ticket is called at 19:40 (behind nobody),
    # served by 19:50: issued.
    assert issue(store, "PEN-2").service == "PEN-2"


def test_closing_grace_lets_a_service_end_a_little_after_closing(tmp_path):
    late = Clock(datetime(2026, 11, 24, 19, 40, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "d2.db", mini_config(policy__closing_grace_minutes=15), clock=late)
    opened(store, 1)
    opened(store, 2)
    for _ in range(4):
        issue(store, "EMP-1")        # tickets 3-4 end at 20:00 (20:13 at the 0.95 level), within the grace
    with pytest.raises(errors.CapacityReached):
        issue(store, "EMP-1")


def test_closed_center_refuses_with_next_opening(tmp_path):
    night = Clock(datetime(2026, 11, 24, 22, 0, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "e.db", mini_config(), clock=night)
    with pytest.raises(errors.CenterClosed) as exc:
        issue(store)
    assert exc.value.details["next_opening"].startswith("2026-11-25T08:00")


def test_unknown_service_suggests_the_nearest(store):
    with pytest.raises(errors.UnknownService) as exc:
        issue(store, "EMP-3")
    assert "did you mean" in exc.value.message


def test_priority_group_must_exist_and_apply(store):
    with pytest.raises(errors.InvalidRequest):
        issue(store, "EMP-1", priority="vip")
    with pytest.raises(errors.InvalidRequest):
        issue(store, "PEN-2", priority="shehid-qazi")     # PEN-2 lists no priority groups
    assert issue(store, "EMP-1", priority="disability").priority == "disability"


# --- business day ---------------------------------------------------------------------

def test_numbering_resets_at_local_midnight_and_history_stays(tmp_path):
    evening = Clock(datetime(2026, 11, 24, 23, 30, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "f.db", mini_config(center__hours={d: "00:00-23:59" for d in
                                                                      ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                                       policy__closing_grace_minutes=240),
                        clock=evening)
    assert issue(store).number == "A-001"
    assert issue(store).number == "A-002"
    # 23:45 Baku is 19:45 UTC: still the same business day.
    evening.now = datetime(2026, 11, 24, 23, 45, tzinfo=BAKU).timestamp()
    assert issue(store).number == "A-003"
    evening.now = datetime(2026, 11, 25, 0, 0, 30, tzinfo=BAKU).timestamp()
    t = issue(store)
    assert (t.number, t.day) == ("A-001", "2026-11-25")
    assert len(store.tickets_of_day("2026-11-24")) == 3      # yesterday's history is kept


def test_business_day_is_in_baku_time():
    # 21:30 UTC on the 24th is 01:30 on the 25th in Baku (UTC+4).
    ts = datetime.fromisoformat("2026-11-24T21:30:00+00:00").timestamp()
    assert bday.business_day(ts, BAKU) == "2026-11-25"


def test_counter_figures_reset_on_a_new_day(tmp_path):
    c = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "g.db", mini_config(), clock=c)
    opened(store, 3)
    for _ in range(3):
        issue(store, "PEN-2")
        queue.call_next(store, 3)
        queue.finish(store, 3)
    c.advance(24 * 3600)
    issue(store, "PEN-2")
    assert queue.call_next(store, 3).number == "Ə-001"


# --- estimates --------------------------------------------------------------------------

def test_estimates_use_people_ahead_and_the_live_rate(store, clock):
    opened(store, 1)
    first = queue.issue_ticket(store, "EMP-2")
    assert (first.ahead, first.eta_minutes) == (0, 0)      # counter 1 is open and free
    second = queue.issue_ticket(store, "EMP-2")
    assert second.ahead == 1
    # Only counter 1 serves EMP-2 at a 10-minute target: one ahead is 10 minutes.
    assert second.eta_minutes == 10
    # Live rate: a 2-minute slot (call to finish) brings the forecast down, counted against three of the
    # configured 10 (estimate.PRIOR_WEIGHT): (2 + 3 × 10) / 4 = 8 minutes.
    queue.call_next(store, 1)
    queue.start_service(store, 1)
    clock.advance(120)
    queue.finish(store, 1)
    third = queue.issue_ticket(store, "EMP-2")
    assert third.ahead == 1 and third.eta_minutes == 8


def test_priority_ticket_sees_only_priority_ahead(store):
    issue(store, "EMP-1")
    issue(store, "EMP-1")
    got = queue.issue_ticket(store, "EMP-1", priority="shehid-qazi")
    assert got.ahead == 0


def test_events_are_appended_with_increasing_sequence(store):
    issue(store)
    opened(store, 1)
    queue.call_next(store, 1, actor="op1")
    events = store.events_since(0)
    assert [e["event"] for e in events] == ["ticket-issued", "counter-changed", "ticket-called"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert all("actor" not in e for e in events)   # public form
    audit = store.audit()
    assert audit[0]["actor"] == "op1" and audit[0]["counter"] == 1 and audit[0]["number"] == "A-001"


def test_every_event_logs_its_fields_in_order_and_shows_no_private_one():
    # record()/public() read the event's __dict__ (a hot path): it must be exactly the dataclass's
    # fields, in order, for every kind of event, and a copy with a new seq the same kind of event.
    import dataclasses
    import inspect

    from server.core import model

    kinds = [c for _, c in inspect.getmembers(model, inspect.isclass)
             if issubclass(c, model.Event) and c is not model.Event]
    assert len(kinds) > 10
    for kind in kinds:
        event = kind(at=1.5, actor="op1")
        names = [f.name for f in dataclasses.fields(event) if f.name != "actor"]
        assert list(event.record()) == [*names, "event"], kind
        assert list(event.public()) == [n for n in names if n not in kind.private] + ["event"], kind
        assert "actor" not in event.public() and not set(kind.private) & set(event.public())
        stored = event.with_(seq=7)
        assert type(stored) is kind and stored.seq == 7 and stored.record() == {**event.record(), "seq": 7}
