"""Reports and ratings against hand-computed small days: real core verbs on a real store file.

The day below (Tuesday 24 November 2026, Baku), minute by minute:

    10:00  issue t1 EMP-1, t2 EMP-1, t3 PEN-1
    10:03  counter 2 (anar) calls t3 (wait 180 s), starts at 10:04
    10:05  counter 1 (leyla) calls t1 (wait 300 s), starts at 10:06
    10:08  counter 2 transfers t3 to EMP-1 (it keeps its 10:00 issue time)
    10:10  counter 1 finishes t1 (service 240 s)
    10:11  counter 1 calls t2 (wait 660 s); 10:12 no-show
    10:35  counter 1 calls t3 (wait 2100 s from the ORIGINAL issue: over EMP-1's 30-minute target)
    10:36  starts; 10:43 finishes (service 420 s)
    10:45  issue t4 EMP-2; 10:46 the citizen cancels it
    ratings: t1 5 (status page), t3 2 "long-wait" (rating screen of counter 1)

EMP-1 by hand: issued 2 (t1, t2: t3 was issued for PEN-1), served 2, no-show 1, waits 300, 660, 2100
(mean 1020, p50 660, p90 2100, max 2100), service 240, 420 (p50 240, p90 420), within 2 of 3, ratings 2
of which 1 satisfied (0.5), response rate 2/2.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from conftest import BAKU, Clock, mini_config
from server import reports
from server.core import queue, rating
from server.core.errors import (
    AlreadyRated, InvalidRequest, NotFinished, NothingToRate, RatingClosed, UnknownTicket,
)
from server.store import SQLiteStore

REASONS = {"reasons": [{"code": "long-wait", "name": {"az": "Çox gözlədim", "ru": "Долго", "en": "Long wait"}}],
           "window_hours": 24, "screen_seconds": 90}
DAY = "2026-11-24"


@pytest.fixture
def cfg():
    return mini_config(ratings=REASONS)


def at(clock: Clock, hh: int, mm: int, day: int = 24) -> None:
    clock.now = datetime(2026, 11, day, hh, mm, tzinfo=BAKU).timestamp()


@pytest.fixture
def day(store: SQLiteStore, clock: Clock) -> dict[str, object]:
    at(clock, 10, 0)
    t1 = queue.issue_ticket(store, "EMP-1").ticket
    t2 = queue.issue_ticket(store, "EMP-1").ticket
    t3 = queue.issue_ticket(store, "PEN-1").ticket
    queue.open_counter(store, 1, operator="leyla")
    queue.open_counter(store, 2, operator="anar")
    at(clock, 10, 3)
    assert queue.call_next(store, 2, actor="anar").id == t3.id
    at(clock, 10, 4)
    queue.start_service(store, 2, actor="anar")
    at(clock, 10, 5)
    assert queue.call_next(store, 1, actor="leyla").id == t1.id
    at(clock, 10, 6)
    queue.start_service(store, 1, actor="leyla")
    at(clock, 10, 8)
    queue.transfer(store, 2, service="EMP-1", actor="anar")
    at(clock, 10, 10)
    queue.finish(store, 1, actor="leyla")
    at(clock, 10, 11)
    assert queue.call_next(store, 1, actor="leyla").id == t2.id
    at(clock, 10, 12)
    queue.mark_no_show(store, 1, actor="leyla")
    at(clock, 10, 35)
    assert queue.call_next(store, 1, actor="leyla").id == t3.id
    at(clock, 10, 36)
    queue.start_service(store, 1, actor="leyla")
    at(clock, 10, 43)
    queue.finish(store, 1, actor="leyla@keypad")
    at(clock, 10, 44)
    rating.rate_at_counter(store, 1, 2, ticket_id=t3.id, reason="long-wait")
    at(clock, 10, 45)
    t4 = queue.issue_ticket(store, "EMP-2").ticket
    at(clock, 10, 46)
    queue.cancel_ticket(store, t4.token)
    rating.rate_ticket(store, t1.token, 5, comment="  Çox sağ olun  ")
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4}


def rows(store: SQLiteStore, by: str, first: str = DAY, last: str = DAY) -> dict[object, dict[str, object]]:
    body = reports.report(store, first, last, by)
    return {r["key"]: r for r in body["rows"]} | {"total": body["total"]}


def test_by_service_hand_computed(store, day):
    r = rows(store, "service")
    emp = r["EMP-1"]
    assert {k: emp[k] for k in reports.FIGURES} == {
        "issued": 2, "served": 2, "no_show": 1, "cancelled": 0, "transferred": 0, "refused": 0,
        "wait_mean": 1020, "wait_p50": 660, "wait_p90": 2100, "wait_max": 2100,
        "service_p50": 240, "service_p90": 420, "within_target": round(2 / 3, 4),
        "ratings": 2, "satisfied_share": 0.5, "response_rate": 1.0}
    assert emp["name"]["en"] == "Unemployment registration"
    pen = r["PEN-1"]   # issued here, transferred away from here: no wait, nothing served
    assert (pen["issued"], pen["transferred"], pen["served"], pen["wait_p50"], pen["within_target"]) == (1, 1, 0, None, None)
    assert (r["EMP-2"]["issued"], r["EMP-2"]["cancelled"], r["EMP-2"]["wait_mean"]) == (1, 1, None)
    total = r["total"]
    assert (total["issued"], total["served"], total["no_show"], total["cancelled"], total["transferred"]) == (4, 2, 1, 1, 1)
    assert (total["ratings"], total["satisfied_share"], total["response_rate"]) == (2, 0.5, 1.0)


def test_by_counter_operator_area_priority_hour_day(store, day):
    c = rows(store, "counter")
    assert (c[1]["served"], c[1]["no_show"], c[1]["wait_p90"]) == (2, 1, 2100)
    assert (c[2]["transferred"], c[2]["served"]) == (1, 0)   # the transfer counts where it happened
    assert c[None]["cancelled"] == 1                         # never called: no counter
    op = rows(store, "operator")
    assert (op["leyla"]["served"], op["leyla"]["no_show"], op["leyla"]["ratings"]) == (2, 1, 2)   # "@keypad" is Leyla
    assert op["anar"]["transferred"] == 1
    area = rows(store, "area")
    assert (area["employment"]["issued"], area["pension"]["issued"], area["employment"]["served"]) == (3, 1, 2)
    assert rows(store, "priority")[None]["issued"] == 4
    hour = rows(store, "hour")
    assert list(k for k in hour if k != "total") == [10] and hour[10]["issued"] == 4
    d = rows(store, "day")
    assert d[DAY]["issued"] == 4 and d[DAY]["satisfied_share"] == 0.5


def test_rollup_gives_the_same_figures_and_a_late_rating_redoes_it(store, clock, day):
    live = {by: reports.report(store, DAY, DAY, by) for by in reports.GROUPINGS}
    at(clock, 9, 0, day=25)
    assert reports.rollup(store) == [DAY]
    assert store.rolled_days(DAY, DAY) == {DAY}
    for by in reports.GROUPINGS:
        assert reports.report(store, DAY, DAY, by) == live[by], by
    assert reports.rollup(store) == []   # nothing left to do
    # t3 rated already; t1 too: nothing else was served. A rating of the day drops its rollup.
    with pytest.raises(AlreadyRated):
        rating.rate_ticket(store, day["t1"].token, 4)
    store.put_rollup(DAY, [("center", "", reports.Agg().dumps())])
    assert reports.report(store, DAY, DAY, "day")["total"]["issued"] == 0   # the report reads the rollup
    reports.rollup(store, again=True)
    assert reports.report(store, DAY, DAY, "day")["total"]["issued"] == 4


def test_satisfaction_and_percentiles_by_hand():
    assert reports.percentile([], 0.5) is None
    assert reports.percentile([7], 0.9) == 7
    assert reports.percentile(list(range(1, 11)), 0.9) == 9     # nearest rank: the 9th of 10
    assert reports.percentile(list(range(1, 11)), 0.5) == 5
    assert reports.percentile([1, 2, 3, 4], 0.5) == 2
    assert [rating.satisfied(s) for s in range(1, 6)] == [False, False, False, True, True]


def test_refusals_are_counted_by_reason(store, clock, day):
    at(clock, 11, 0)
    for _ in range(4):
        queue.issue_ticket(store, "EMP-2")
    store.note_refusal(DAY, clock(), "service", service="EMP-2", area="employment", priority=None, kiosk="kiosk-1")
    at(clock, 21, 0)
    store.note_refusal(DAY, clock(), "closed", service="PEN-1", area="pension", priority="disability", kiosk="kiosk-1")
    body = reports.report(store, DAY, DAY, "service")
    r = {x["key"]: x for x in body["rows"]}
    assert r["EMP-2"]["refused"] == 1 and r["PEN-1"]["refused"] == 1
    assert body["total"]["refused"] == 2 and body["refused_by"] == {"service": 1, "closed": 1}
    assert rows(store, "priority")["disability"]["refused"] == 1
    assert rows(store, "hour")[21]["refused"] == 1


def test_a_ticket_served_across_midnight_belongs_to_its_day(store, clock):
    at(clock, 19, 40, day=24)
    queue.open_counter(store, 2, operator="anar")
    t = queue.issue_ticket(store, "PEN-1").ticket
    at(clock, 19, 45, day=24)
    queue.call_next(store, 2, actor="anar")
    queue.start_service(store, 2, actor="anar")
    at(clock, 0, 5, day=25)
    assert reports.settled_days(store) == []          # still at the counter: not rolled up yet
    assert reports.report(store, DAY, DAY, "day")["total"]["served"] == 0
    at(clock, 0, 10, day=25)
    queue.finish(store, 2, actor="anar")
    r = reports.report(store, DAY, "2026-11-25", "day")
    assert [x["key"] for x in r["rows"]] == [DAY]      # nothing on the 25th
    assert (r["rows"][0]["served"], r["rows"][0]["wait_p50"], r["rows"][0]["service_p50"]) == (1, 300, 4 * 3600 + 25 * 60)
    assert rows(store, "hour")[19]["served"] == 1
    rating.rate_ticket(store, t.token, 4)              # rated the next day: counted on its visit's day
    assert reports.settled_days(store) == [DAY]
    reports.rollup(store)
    assert reports.report(store, DAY, DAY, "day")["total"]["satisfied_share"] == 1.0


def test_arrivals_heat_map(store, day, clock):
    at(clock, 9, 0, day=25)
    reports.rollup(store)
    at(clock, 15, 0, day=25)
    queue.issue_ticket(store, "PEN-2")
    body = reports.arrivals(store, DAY, "2026-11-25")
    assert body["grid"][1][10] == 4 and body["grid"][2][15] == 1 and body["days"] == 2
    assert sum(map(sum, body["grid"])) == 5


def test_rating_refusals(store, clock, day):
    t2, t4 = day["t2"], day["t4"]
    with pytest.raises(NotFinished):
        rating.rate_ticket(store, t2.token, 5)           # a no-show
    with pytest.raises(NotFinished):
        rating.rate_ticket(store, t4.token, 5)           # cancelled
    with pytest.raises(UnknownTicket):
        rating.rate_ticket(store, "no-such-token", 5)
    for bad in (0, 6, True, "5"):
        with pytest.raises(InvalidRequest):
            rating.rate_ticket(store, t2.token, bad)     # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        rating.rate_ticket(store, t2.token, 3, reason="rude")
    with pytest.raises(InvalidRequest):
        rating.rate_ticket(store, t2.token, 3, comment="x" * 501)
    with pytest.raises(InvalidRequest):
        rating.rate_ticket(store, t2.token, 3, comment="hi", source="screen")   # comments: status page only
    # the rating screen: only the counter's last finished ticket, only for screen_seconds
    with pytest.raises(NothingToRate):
        rating.rate_at_counter(store, 1, 4)               # counter 1 finished t3 three minutes ago
    with pytest.raises(NothingToRate):
        rating.rate_at_counter(store, 2, 4)               # counter 2 finished nothing
    assert rating.pending_at_counter(store, 1) is None    # rated already


def test_rating_windows(store, clock):
    at(clock, 10, 0)
    a = queue.issue_ticket(store, "EMP-1").ticket
    b = queue.issue_ticket(store, "EMP-1").ticket
    queue.open_counter(store, 1, operator="leyla")
    for _ in range(2):
        queue.call_next(store, 1, actor="leyla")
        queue.finish(store, 1, actor="leyla")
    assert rating.pending_at_counter(store, 1).id == b.id
    with pytest.raises(NothingToRate):
        rating.rate_at_counter(store, 1, 5, ticket_id=a.id)   # the screen asked about a, the counter has moved on
    assert rating.rate_at_counter(store, 1, 4, ticket_id=b.id).source == "screen"
    with pytest.raises(AlreadyRated):
        rating.rate_at_counter(store, 1, 5)
    with pytest.raises(AlreadyRated):
        rating.rate_ticket(store, b.token, 5)                 # one rating per visit, whichever way
    assert rating.pending_at_counter(store, 1) is None
    clock.advance(91)
    assert rating.pending_at_counter(store, 1) is None
    with pytest.raises(NothingToRate):
        rating.rate_at_counter(store, 1, 5)
    r = rating.rate_ticket(store, a.token, 1, reason="long-wait")   # the status page still may
    assert (r.score, r.satisfied, r.operator, r.counter, r.area, r.source) == (1, False, "leyla", 1, "employment", "status")
    c = queue.issue_ticket(store, "EMP-1").ticket
    queue.call_next(store, 1, actor="leyla")
    queue.finish(store, 1, actor="leyla")
    assert rating.rating_state(store, c.token).can_rate and rating.rating_state(store, b.token).rated
    clock.advance(24 * 3600 + 1)
    with pytest.raises(RatingClosed):
        rating.rate_ticket(store, c.token, 5)
    assert not rating.rating_state(store, c.token).can_rate


def test_purge_removes_comments_and_status_tokens_only(tmp_path, clock):
    cfg = mini_config(ratings=REASONS, retention={"rating_comments_days": 10, "status_tokens_days": 20})
    store = SQLiteStore(tmp_path / "p.db", cfg, clock=clock)
    try:
        at(clock, 10, 0)
        t = queue.issue_ticket(store, "EMP-1").ticket
        queue.open_counter(store, 1, operator="leyla")
        queue.call_next(store, 1)
        queue.finish(store, 1)
        rating.rate_ticket(store, t.token, 5, comment="Əla")
        assert reports.purge(store) == {"comments": 0, "tokens": 0}
        assert store.rating_comments(DAY, DAY)[0]["comment"] == "Əla"
        clock.advance(11 * 86400)
        assert reports.purge(store) == {"comments": 1, "tokens": 0}
        assert store.rating_comments(DAY, DAY) == []
        assert queue.position(store, t.token).ticket.id == t.id
        clock.advance(10 * 86400)
        assert reports.purge(store) == {"comments": 0, "tokens": 1}
        with pytest.raises(UnknownTicket):
            queue.position(store, t.token)                 # the old QR code leads nowhere
        assert reports.report(store, DAY, DAY, "day")["total"]["ratings"] == 1   # figures untouched
        assert reports.purge(store) == {"comments": 0, "tokens": 0}
    finally:
        store.close()


def test_period_parsing():
    assert reports.parse_period(None, None, DAY) == (DAY, DAY)
    assert reports.parse_period("2026-11-01", None, DAY) == ("2026-11-01", "2026-11-01")
    for a, b in (("2026-11-31", None), ("26-11-01", None), ("2026-11-02", "2026-11-01"), ("2020-01-01", "2026-01-01"),
                 ("x", "y"), ("2026-1-01", None)):
        with pytest.raises(InvalidRequest):
            reports.parse_period(a, b, DAY)
    with pytest.raises(InvalidRequest):
        reports.report(None, DAY, DAY, "weekday")


def test_files_hold_the_same_table(store, day):
    body = reports.report(store, DAY, DAY, "service")
    header, table = reports.table(body, "en")
    back = reports.read_xlsx(reports.to_xlsx(header, table, title="by-service", about={"from": DAY}))
    assert back[0] == header
    assert [[("" if v is None else v) for v in r] for r in back[1:]] == [[("" if v is None else v) for v in r] for r in table]
    text = reports.to_csv(header, table).decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(header)
    assert "Unemployment registration" in text
