"""The hall forecast: hand-worked cases, and a property: played on without arrivals, the day
happens exactly as forecast (every ticket called at its forecast time, by its forecast counter)."""
from __future__ import annotations

import heapq
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BAKU, Clock, mini_config
from server.core import errors, estimate, queue, routing
from server.core.estimate import Durations, remaining
from server.core.forecast import play
from server.core.model import Counter, CounterState, Status, Ticket

DAY = "2026-11-24"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=BAKU).timestamp()
MIN = 60.0


def ticket(tid: int, service: str, *, ago: float = 0.0, priority: str | None = None,
           target: int | None = None, status: Status = Status.WAITING, called_ago: float | None = None) -> Ticket:
    return Ticket(id=tid, token=f"t{tid}", day=DAY, letter="A", seq_no=tid, number=f"A-{tid:03d}", service=service,
                  original_service=service, status=status, issued_at=NOW - ago, priority=priority,
                  target_counter=target, called_at=None if called_ago is None else NOW - called_ago)


def counter(number: int, services: tuple[str, ...], state: CounterState = CounterState.OPEN, **kw) -> Counter:
    return Counter(number=number, state=state, services=services, day=DAY, **kw)


# Fixed durations (no spread) so the cases can be worked by hand: EMP 10 min, PEN 15 min.
FIXED = Durations(per_service={"EMP-1": (600.0, 0.0), "EMP-2": (600.0, 0.0), "PEN-1": (900.0, 0.0),
                               "PEN-2": (600.0, 0.0)})


def test_a_busy_single_counter_is_not_zero_minutes():
    cfg = mini_config()
    # Counter 3 alone serves PEN-2; it called a ticket 4 minutes ago (a 10-minute slot).
    desks = [counter(3, ("PEN-2",), ticket_id=1)]
    held = {3: ticket(1, "PEN-2", ago=20 * MIN, status=Status.CALLED, called_ago=4 * MIN)}
    fc = play(cfg, NOW, desks, held, [ticket(2, "PEN-2")], FIXED, today=DAY)
    call = fc.calls[2]
    assert (call.at - NOW, call.counter, call.ahead) == (6 * MIN, 3, 0)


def test_a_counter_that_prefers_another_service():
    cfg = mini_config()
    # Counter 2 serves PEN-1 first, then PEN-2, then EMP-1. The EMP-1 ticket came first,
    # but the two PEN-1 tickets go before it: 15 + 15 minutes.
    desks = [counter(2, ("PEN-1", "PEN-2", "EMP-1"))]
    waiting = [ticket(1, "EMP-1", ago=5 * MIN), ticket(2, "PEN-1", ago=4 * MIN), ticket(3, "PEN-1", ago=3 * MIN)]
    fc = play(cfg, NOW, desks, {}, waiting, FIXED, today=DAY)
    assert fc.calls[2].at == NOW and fc.calls[3].at == NOW + 15 * MIN
    assert fc.calls[1].at == NOW + 30 * MIN and fc.calls[1].ahead == 2     # of another service


def test_paused_and_closed_counters():
    cfg = mini_config(policy__pause_minutes=15)
    # Counter 1 paused 5 minutes ago (expected back in 10); counter 2 closed after working today.
    desks = [counter(1, ("EMP-1", "EMP-2"), CounterState.PAUSED, since=NOW - 5 * MIN),
             counter(2, ("PEN-1", "PEN-2", "EMP-1"), CounterState.CLOSED, handled_today=7)]
    fc = play(cfg, NOW, desks, {}, [ticket(1, "EMP-1"), ticket(2, "PEN-1")], FIXED, today=DAY)
    assert fc.calls[1].at == NOW + 10 * MIN and fc.calls[1].counter == 1
    assert 2 in fc.unreachable                 # only counter 2 serves PEN-1, and it is out for the day


def test_a_counter_not_yet_opened_is_a_standby_for_what_nobody_else_serves():
    cfg = mini_config(policy__late_open_minutes=15)
    # 10:00, opened at 08:00: counter 3 never opened today. It takes PEN-2 (nobody open serves
    # it) 15 minutes from now, but not EMP-1, which the open counter 1 serves.
    desks = [counter(1, ("EMP-1", "EMP-2")),
             Counter(number=3, state=CounterState.CLOSED, services=("PEN-2", "EMP-1"), day="2026-11-23")]
    waiting = [ticket(1, "EMP-1"), ticket(2, "EMP-1"), ticket(3, "PEN-2")]
    fc = play(cfg, NOW, desks, {}, waiting, FIXED, today=DAY)
    assert [fc.calls[i].counter for i in (1, 2, 3)] == [1, 1, 3]
    assert fc.calls[2].at == NOW + 10 * MIN and fc.calls[3].at == NOW + 15 * MIN
    # "15 minutes from now" holds at every moment it is asked: the standby's call is marked, and the
    # citizen is told "waiting for a counter to open", not a time (queue.wait_of).
    assert fc.calls[3].standby and not fc.calls[1].standby and not fc.calls[2].standby
    assert queue.wait_of(fc, 3).eta_minutes is None and queue.wait_of(fc, 3).at is None
    assert queue.wait_of(fc, 2).eta_minutes == 10


def test_a_named_transfer_waits_for_its_counter():
    cfg = mini_config()
    desks = [counter(1, ("EMP-1", "EMP-2")), counter(2, ("PEN-1", "PEN-2", "EMP-1"), ticket_id=9)]
    held = {2: ticket(9, "PEN-1", ago=30 * MIN, status=Status.SERVING, called_ago=5 * MIN)}
    # Ticket 1 was sent to counter 2 by name: counter 1 is free but may not take it; it goes
    # before counter 2's other tickets (rule 4) when counter 2 is free in 10 minutes.
    waiting = [ticket(2, "PEN-1", ago=20 * MIN), ticket(1, "EMP-1", ago=10 * MIN, target=2)]
    fc = play(cfg, NOW, desks, held, waiting, FIXED, today=DAY)
    assert fc.calls[1].counter == 2 and fc.calls[1].at == NOW + 10 * MIN
    assert fc.calls[2].at == NOW + 20 * MIN


def test_a_planned_break_moves_the_next_call_to_its_end():
    cfg = mini_config(counters=[{"number": 1, "services": ["EMP-1", "EMP-2", "PEN-1", "PEN-2"],
                                 "breaks": ["10:05-10:45"]}])
    waiting = [ticket(1, "EMP-1", ago=2 * MIN), ticket(2, "EMP-1", ago=1 * MIN)]
    fc = play(cfg, NOW, [counter(1, ("EMP-1", "EMP-2", "PEN-1", "PEN-2"))], {}, waiting, FIXED, today=DAY)
    assert fc.calls[1].at == NOW                       # called before the break, served into it
    assert fc.calls[2].at == NOW + 45 * MIN            # 10:45, when the break ends


def test_a_priority_stream_cannot_starve_a_lower_rank():
    cfg = mini_config()     # EMP-1 target wait 30 minutes; shehid-qazi rank 1, disability rank 2
    c = counter(1, ("EMP-1",))
    disabled = ticket(1, "EMP-1", ago=20 * MIN, priority="disability")
    stream = [ticket(10 + i, "EMP-1", ago=(19 - i) * MIN, priority="shehid-qazi") for i in range(10)]
    # 20 minutes in: rank 1 goes first.
    assert routing.pick_next(cfg, c, [disabled, *stream], NOW).priority == "shehid-qazi"
    # 31 minutes in (past its target wait), it goes before every newer rank-1 ticket.
    assert routing.pick_next(cfg, c, [disabled, *stream], NOW + 11 * MIN) is disabled
    # In the forecast, with 10-minute slots, it is called at the first call after 10:10.
    fc = play(cfg, NOW, [c], {}, [disabled, *stream], FIXED, today=DAY)
    assert fc.calls[1].at == NOW + 20 * MIN


def test_ordinary_tickets_still_get_their_turn_in_a_priority_stream():
    cfg = mini_config(policy__priority_streak=2)
    c = counter(1, ("EMP-1",))
    waiting = [ticket(1, "EMP-1", ago=MIN)] + [ticket(10 + i, "EMP-1", priority="shehid-qazi") for i in range(5)]
    fc = play(cfg, NOW, [c], {}, waiting, FIXED, today=DAY)
    assert fc.calls[1].at == NOW + 20 * MIN        # after two priority calls in a row


def test_capacity_refusal_names_the_counters_daily_limit(store):
    queue.assign_services(store, 2, ["PEN-1", "EMP-1"])     # PEN-2: counter 3 alone, 3 a day
    queue.open_counter(store, 3, operator="op")
    for _ in range(3):
        queue.issue_ticket(store, "PEN-2")
    with pytest.raises(errors.CapacityReached) as exc:
        queue.issue_ticket(store, "PEN-2")
    assert exc.value.details["scope"] == "counters"


# --- the property: without arrivals, the day goes as forecast -----------------------------

SERVICES = ("EMP-1", "EMP-2", "PEN-1", "PEN-2")
GROUPS = (None, None, None, "shehid-qazi", "disability")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrivals=st.lists(st.tuples(st.sampled_from(SERVICES), st.sampled_from(GROUPS), st.integers(0, 600)),
                      min_size=1, max_size=25),
    opened=st.lists(st.sampled_from((1, 2, 3)), min_size=1, max_size=3, unique=True),
    busy=st.lists(st.sampled_from((1, 2, 3)), max_size=3, unique=True),
)
def test_played_on_without_arrivals_every_ticket_is_called_when_and_where_forecast(tmp_path_factory, arrivals,
                                                                                   opened, busy):
    from server.store import SQLiteStore

    clock = Clock(datetime(2026, 11, 24, 9, 0, tzinfo=BAKU))
    cfg = mini_config(**{"center__hours": {d: "08:00-23:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                         "policy__late_open_minutes": 0, "policy__closing_grace_minutes": 600})
    store = SQLiteStore(tmp_path_factory.mktemp("prop") / "p.db", cfg, clock=clock)
    for n in opened:
        queue.open_counter(store, n, operator=f"op{n}")
    for n in (1, 2, 3):
        if n not in opened:     # closed after working today: out for the day
            queue.open_counter(store, n, operator="x")
            queue.issue_ticket(store, cfg.counters_by_number[n].services[0])
            queue.call_next(store, n)
            queue.finish(store, n)
            queue.close_counter(store, n)
    for service, group, gap in arrivals:
        clock.advance(gap)
        priority = group if group in cfg.services_by_code[service].priority_groups else None
        try:
            queue.issue_ticket(store, service, priority=priority)
        except errors.CapacityReached:
            pass
    for n in busy:
        if n in opened:
            try:
                queue.call_next(store, n)
            except errors.NoTicketsWaiting:
                pass
    clock.advance(30)
    now = clock()
    with store.read() as tx:
        fc = queue.hall_forecast(store, tx, now, DAY, with_arrivals=False)
        durations = queue.learned_durations(store, tx, DAY)
        held = tx.held_tickets()
    # Play the day on with the real verbs: each slot lasts exactly its learned mean.
    heap: list[tuple[float, int]] = []
    for n in opened:
        if n in held:
            mean, var = durations.of(n, held[n].service)
            heap.append((now + remaining(mean, var, now - held[n].called_at)[0], n))
        else:
            heap.append((now, n))
    heapq.heapify(heap)
    seen: dict[int, tuple[float, int]] = {}
    holding = set(held)
    while heap:
        t, n = heapq.heappop(heap)
        clock.now = t
        if n in holding:
            queue.finish(store, n)
            holding.discard(n)
        try:
            called = queue.call_next(store, n)
        except (errors.NoTicketsWaiting, errors.CounterLimitReached):
            continue
        holding.add(n)
        seen[called.id] = (t, n)
        heapq.heappush(heap, (t + durations.of(n, called.service)[0], n))
    assert set(seen) == set(fc.calls), "the forecast places exactly the tickets that get called"
    for tid, (t, n) in seen.items():
        assert fc.calls[tid].counter == n, f"ticket {tid}"
        assert fc.calls[tid].at == pytest.approx(t, abs=1e-6), f"ticket {tid}"
    store.close()


# --- expected arrivals -------------------------------------------------------------------------

def test_expected_arrivals_follow_todays_rate_and_mix():
    from server.core.forecast import expected_arrivals

    cfg = mini_config()
    # 40 tickets in the last hour, one in ten for the disability group.
    issued = [(NOW - 3600 + 90 * i, "EMP-1", "disability" if i % 10 == 0 else None) for i in range(40)]
    coming = expected_arrivals(cfg, issued, NOW, NOW + 3600)
    assert 38 <= len(coming) <= 41                           # the same rate: 40 an hour
    assert all(NOW < t.issued_at < NOW + 3600 for t in coming)
    priority = [t for t in coming if t.priority == "disability"]
    assert 3 <= len(priority) <= 5 and priority[0].issued_at < NOW + 1200   # within the first 20 minutes
    assert expected_arrivals(cfg, [], NOW, NOW + 3600) == []                # nothing issued: nothing expected


def _one_expected_priority_citizen():
    """Two EMP-1 tickets waiting at one counter, played alone and with a disability citizen expected at 10:05."""
    cfg = mini_config()
    c = counter(1, ("EMP-1",))
    waiting = [ticket(1, "EMP-1", ago=MIN), ticket(2, "EMP-1")]
    coming = [Ticket(id=(1 << 59), token="", day=DAY, letter="", seq_no=0, number="", service="EMP-1",
                     original_service="EMP-1", status=Status.WAITING, issued_at=NOW + 5 * MIN, priority="disability")]
    return play(cfg, NOW, [c], {}, waiting, FIXED, today=DAY), play(cfg, NOW, [c], {}, waiting, FIXED, today=DAY,
                                                                      arrivals=coming)


def test_an_expected_priority_arrival_goes_before_an_ordinary_ticket():
    alone, told = _one_expected_priority_citizen()
    assert alone.calls[2].at == NOW + 10 * MIN
    assert told.calls[2].at == NOW + 20 * MIN          # the 10:05 priority citizen is called at 10:10
    assert (1 << 59) not in told.calls and told.calls[2].ahead == 1     # expected people are not "ahead"


def test_an_expected_citizen_who_goes_first_widens_the_range_by_a_whole_slot():
    """Expected citizens come as a Poisson count: the one expected at 10:05 may not come, or two may, so the
    ticket behind it is called 10 minutes early or late as often as not (a slot's mean, with fixed slots)."""
    alone, told = _one_expected_priority_citizen()
    assert alone.calls[2].sigma == 0.0                 # fixed slots, nobody expected: no doubt
    assert told.calls[2].at == NOW + 20 * MIN
    assert told.calls[2].sigma == pytest.approx(10 * MIN)
    assert told.calls[2].ends_sigma == pytest.approx(10 * MIN)


def test_a_learned_mean_that_is_off_moves_every_slot_of_its_service_alike():
    """Slots of 10 ± 5 minutes learned from 6 (the configured figure counting 3 more): the mean itself is off by
    about 5 / 3 minutes, the same for each slot, so the j-th slot ahead adds j² times its variance, not j."""
    cfg = mini_config()
    v = 300.0 ** 2
    learned = Durations(per_service={"EMP-1": (600.0, v)}, samples={"EMP-1": 6})
    assert learned.mean_var(1, "EMP-1") == pytest.approx(v / 9)
    waiting = [ticket(1, "EMP-1", ago=3 * MIN), ticket(2, "EMP-1", ago=2 * MIN), ticket(3, "EMP-1", ago=MIN)]
    fc = play(cfg, NOW, [counter(1, ("EMP-1",))], {}, waiting, learned, today=DAY)
    assert [fc.calls[i].at - NOW for i in (1, 2, 3)] == [0.0, 10 * MIN, 20 * MIN]
    assert fc.calls[1].sigma == 0.0
    assert fc.calls[2].sigma ** 2 == pytest.approx(v + v / 9)
    assert fc.calls[3].sigma ** 2 == pytest.approx(2 * v + 4 * v / 9)
    # learn() counts what each figure was learned from.
    slots = [("EMP-1", 1, 500.0), ("EMP-1", 2, 700.0), ("PEN-1", 1, 900.0)]
    d = estimate.learn(cfg, slots)
    assert d.samples == {"EMP-1": 2, "PEN-1": 1} and d.counter_samples == {}
    assert d.mean_var(1, "EMP-1") == pytest.approx(d.of(1, "EMP-1")[1] / 5)


# --- issuing together: kiosks racing share one play ----------------------------------------

def test_requests_issued_together_each_get_their_own_answer(store):
    """A batch in one transaction: numbers in order; a bad request and a quota refusal touch only
    themselves; each ticket is told what the hall forecast right after has (the priority citizen
    of the same moment goes first, so the ordinary one counts it ahead)."""
    queue.open_counter(store, 1, operator="op")
    for _ in range(4):                                        # EMP-2's quota is 5: room for one more
        queue.issue_ticket(store, "EMP-2")
    got = queue.issue_tickets(store, [
        queue.IssueRequest("EMP-1"), queue.IssueRequest("NOPE"), queue.IssueRequest("EMP-2"),
        queue.IssueRequest("EMP-2"), queue.IssueRequest("EMP-1", priority="shehid-qazi", kiosk="kiosk-1"),
    ])
    assert isinstance(got[1], errors.UnknownService)
    assert isinstance(got[3], errors.CapacityReached) and got[3].details["scope"] == "service"
    first, vacancy, prio = got[0], got[2], got[4]
    assert [x.ticket.number for x in (first, vacancy, prio)] == ["A-005", "A-006", "A-007"]
    assert prio.ticket.kiosk == "kiosk-1" and prio.ticket.priority == "shehid-qazi"
    assert prio.eta_at < first.eta_at and first.ahead == prio.ahead + 1
    with store.read() as tx:
        fc = queue.hall_forecast(store, tx, store.clock(), first.ticket.day)
    for x in (first, vacancy, prio):
        assert fc.calls[x.ticket.id].at == x.eta_at and fc.calls[x.ticket.id].ahead == x.ahead


def test_one_request_alone_is_told_what_the_forecast_after_it_says(store):
    queue.open_counter(store, 2, operator="op")
    for code in ("PEN-1", "EMP-1", "PEN-2", "PEN-1"):
        queue.issue_ticket(store, code)
    queue.call_next(store, 2)
    issued = queue.issue_ticket(store, "EMP-1")
    with store.read() as tx:
        fc = queue.hall_forecast(store, tx, store.clock(), issued.ticket.day)
    assert fc.calls[issued.ticket.id].at == issued.eta_at and issued.ahead == fc.calls[issued.ticket.id].ahead == 3


def test_a_batch_refused_at_closing_keeps_the_requests_that_fit(tmp_path):
    """Counter 1 alone, 10-minute slots, 35 minutes before closing (no grace), a slot's spread unknown: two more fit. Three
    requests together: the third is refused for closing, the first two are issued; then one alone is
    refused too, with nothing written for it."""
    from server.store import SQLiteStore

    cfg = mini_config(policy__closing_grace_minutes=0)            # open until 20:00
    clock = Clock(datetime(2026, 12, 1, 19, 25, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "n.db", cfg, clock=clock)
    try:
        queue.open_counter(store, 1, operator="op")
        got = queue.issue_tickets(store, [queue.IssueRequest("EMP-2") for _ in range(3)])
        assert [type(x).__name__ for x in got] == ["Issued", "Issued", "CapacityReached"]
        assert got[2].details["scope"] == "closing"
        with pytest.raises(errors.CapacityReached):
            queue.issue_ticket(store, "EMP-2")
        assert [t.number for t in store.tickets_of_day(got[0].ticket.day)] == ["A-001", "A-002"]
    finally:
        store.close()


def test_what_is_left_of_a_slot_grows_once_it_runs_past_its_mean():
    """A slot just begun has its mean left; one at its mean about 0.45 of it (not a fifth, as once
    assumed); one long past its mean still has a good part of a slot left (the long tail)."""
    assert remaining(600, 300 ** 2, 1)[0] == pytest.approx(599, abs=1)
    assert 0.40 * 600 < remaining(600, 300 ** 2, 600)[0] < 0.5 * 600
    assert remaining(600, 300 ** 2, 2400)[0] > remaining(600, 300 ** 2, 900)[0] > 0.4 * 600
    assert remaining(600, 0.0, 200) == (400, 0.0)                 # no spread: exactly what is left


def test_a_citizen_is_not_turned_away_for_citizens_only_expected(tmp_path):
    """Counter 2 prefers PEN-1, whose citizens came faster than it serves them this past hour; an EMP-1
    citizen (its last preference) at 19:20 would wait behind the PEN-1 citizens expected until closing.
    They may not come: a refusal needs the counters booked by citizens who are here (two waiting), so the
    ticket is issued, and the services list agrees."""
    from server.store import SQLiteStore

    cfg = mini_config(policy__closing_grace_minutes=0, policy__late_open_minutes=0)     # open until 20:00
    clock = Clock(datetime(2026, 12, 1, 18, 20, tzinfo=BAKU))
    store = SQLiteStore(tmp_path / "n.db", cfg, clock=clock)
    try:
        queue.open_counter(store, 2, operator="op")
        start = clock()
        # A PEN-1 citizen every 4 minutes since 18:20, each served in 5: counter 2 cannot keep up with PEN-1.
        events = sorted([(start + 240 * i, 1) for i in range(15)] + [(start + 300 * i, 0) for i in range(1, 13)])
        queue.issue_ticket(store, "PEN-1")
        queue.call_next(store, 2)
        for at, kind in events[1:]:
            clock.now = at
            if kind == 1:
                queue.issue_ticket(store, "PEN-1")
            else:
                queue.finish(store, 2)
                queue.call_next(store, 2)
        clock.now = start + 3600
        assert datetime.fromtimestamp(clock(), BAKU).strftime("%H:%M") == "19:20"
        with store.read() as tx:
            now, day = clock(), queue.clock.business_day(clock(), cfg.tz)
            coming = queue.expected(store, tx, now, day)
            assert sum(1 for t in coming if t.service == "PEN-1") >= 6          # PEN-1 keeps coming, as far as we know
            outlook = queue.service_outlook(store, tx, now, day)
        assert outlook["EMP-1"][1] is None                                     # the kiosk offers it
        issued = queue.issue_ticket(store, "EMP-1")
        assert issued.ticket.number == "A-001"
    finally:
        store.close()


# --- the play's shortcuts forecast what working everything out would -------------------------

def test_expected_arrivals_kept_for_many_plays_forecast_as_fresh_ones():
    """A play keeps what it derives from the expected arrivals and its desks on the Expected list, which
    lives for minutes: a hall that changed since (services reassigned, a counter closed, one on standby,
    a limit reached, a busy counter) must be forecast as with a fresh list."""
    from server.core.forecast import expected_arrivals

    cfg = mini_config(policy__late_open_minutes=15)          # counter 3 handles at most 3 a day
    issued = [(NOW - 3600 + 60 * i, ("EMP-1", "PEN-1", "PEN-2", "EMP-2")[i % 4], "disability" if i % 7 == 0 else None)
              for i in range(60)]
    coming = expected_arrivals(cfg, issued, NOW, NOW + 3600)
    waiting = [ticket(1, "EMP-1", ago=3 * MIN), ticket(2, "PEN-2", ago=2 * MIN), ticket(3, "PEN-1", target=2)]
    standby = Counter(number=3, state=CounterState.CLOSED, services=("PEN-2",), day="2026-11-23")
    halls = [
        [counter(1, ("EMP-1", "EMP-2")), counter(2, ("PEN-1", "PEN-2", "EMP-1")), counter(3, ("PEN-2",))],
        [counter(1, ("EMP-1", "EMP-2")), counter(2, ("PEN-1",)), counter(3, ("PEN-2",))],
        [counter(1, ("EMP-1", "EMP-2", "PEN-2")), counter(2, ("PEN-1", "PEN-2", "EMP-1")), standby],
        [counter(1, ("EMP-1", "EMP-2")), counter(2, ("PEN-1", "PEN-2", "EMP-1")), standby],
        [counter(1, ("EMP-1", "EMP-2")), counter(2, ("PEN-1", "PEN-2", "EMP-1")),
         counter(3, ("PEN-2",), handled_today=3)],
        [counter(1, ("EMP-1", "EMP-2"), ticket_id=9), counter(2, ("PEN-1", "PEN-2", "EMP-1")),
         counter(3, ("PEN-2",), CounterState.PAUSED, since=NOW - MIN)],
    ]
    held = {1: ticket(9, "EMP-1", ago=20 * MIN, status=Status.SERVING, called_ago=12 * MIN)}
    spread = Durations(per_service={"EMP-1": (600.0, 300.0 ** 2), "EMP-2": (500.0, 200.0 ** 2),
                                    "PEN-1": (900.0, 400.0 ** 2), "PEN-2": (600.0, 100.0 ** 2)})
    for desks in halls + halls[::-1]:
        kept = play(cfg, NOW, desks, held, waiting, spread, today=DAY, arrivals=coming)
        fresh = play(cfg, NOW, desks, held, waiting, spread, today=DAY, arrivals=list(coming))
        assert kept == fresh
        assert set(kept.calls) | kept.unreachable == {1, 2, 3}
