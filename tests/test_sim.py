"""``novbe simulate`` and ``novbe plan`` play real days on the real core (small ones here)."""
from __future__ import annotations

import json

from click.testing import CliRunner
from PIL import Image

from config import loader
from server.cli import main
from server.sim import day, demand, plan


def test_a_simulated_day_serves_everyone_it_issued_and_measures_the_forecast():
    cfg = loader.load("fuzuli")
    r = day.run_day(cfg, demand.default(cfg, 60), seed=7)
    called = [t for t in r.told if t.called is not None]
    assert len(r.told) + len(r.refusals) == 60
    assert len(called) == len(r.told), "every issued ticket is called by the end of the day"
    assert all(t.called >= t.issued for t in called)
    assert r.overtime_minutes >= 0


def test_simulate_prints_json_figures():
    result = CliRunner().invoke(main, ["simulate", "--config", "fuzuli", "--citizens", "60", "--seeds", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["center"] == "fuzuli" and data["days"] == 1
    assert {g["group"] for g in data["groups"]} >= {"ordinary", "all", "shehid-qazi"}
    assert set(data["forecast"]) == {"mae_minutes", "bias_minutes", "late_over_10_share",
                                     "late_over_10_past_range_share"}
    bad = CliRunner().invoke(main, ["simulate", "--config", "fuzuli", "--seeds", "x"])
    assert bad.exit_code != 0 and "seeds look like" in bad.output


def test_plan_finds_fewer_counters_for_a_light_day_and_draws_a_chart(tmp_path):
    png = tmp_path / "plan.png"
    result = CliRunner().invoke(main, ["plan", "--config", "fuzuli", "--citizens", "40", "--seeds", "1",
                                       "--chart", str(png), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["counters"]) < 8, "40 citizens a day do not need all 8 counters"
    assert data["options"][0]["label"] == "all 8 counters"
    with Image.open(png) as img:
        assert img.size == (900, 480)


def test_with_counters_keeps_a_valid_center():
    cfg = loader.load("fuzuli")
    smaller = plan.with_counters(cfg, [1, 3, 4, 5, 6, 7, 8], extra=[3])
    assert [c.number for c in smaller.counters] == [1, 3, 4, 5, 6, 7, 8, 9]
    assert smaller.counters_by_number[9].services == cfg.counters_by_number[3].services


def test_simulate_learns_the_day_from_a_centers_history(tmp_path):
    cfg = loader.load("fuzuli")
    db = tmp_path / "history.db"
    late = demand.Demand(citizens=50, hourly=demand.LATE_HOURLY)
    day.run_day(cfg, late, seed=3, keep_db=str(db))      # a past day: 50 citizens, most in the afternoon
    result = CliRunner().invoke(main, ["simulate", "--config", "fuzuli", "--history", str(db), "--seeds", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    from server.store import SQLiteStore
    store = SQLiteStore(db, cfg)
    history = store.issue_history()
    learned = demand.from_history(cfg, history)
    store.close()
    assert data["citizens"] == len(history) and 40 <= len(history) <= 50     # the tickets that day issued
    assert sum(learned.hourly[-4:]) > 0.5                 # the afternoon shape was learned


def test_a_fork_keeps_the_past_and_draws_the_future_again():
    """Forked at the 20th arrival: everything up to it is as in the day it came from (same tickets,
    same told waits); after it, two fresh chances give two different days."""
    cfg = loader.load("fuzuli")
    d = demand.default(cfg, 80)
    base = day.run_day(cfg, d, seed=3)
    a = day.run_day(cfg, d, seed=3, fork=day.Fork(after=20, again=1))
    b = day.run_day(cfg, d, seed=3, fork=day.Fork(after=20, again=2))
    cut = sorted([t.issued for t in base.told] + [r[0] for r in base.refusals])[19]
    before = [(t.ticket_id, t.issued, t.eta_minutes) for t in base.told if t.issued <= cut]
    assert len(before) >= 15
    for fork in (a, b):
        assert [(t.ticket_id, t.issued, t.eta_minutes) for t in fork.told if t.issued <= cut] == before
    later = lambda r: [(round(t.issued), t.called and round(t.called)) for t in r.told if t.issued > cut]  # noqa: E731
    assert later(a) != later(b) and later(a) != later(base)


def test_simulate_floor_reports_the_best_a_forecast_could_do():
    result = CliRunner().invoke(main, ["simulate", "--config", "fuzuli", "--citizens", "60", "--seeds", "1",
                                       "--floor", "3", "--json"])
    assert result.exit_code == 0, result.output
    fl = json.loads(result.output)["floor"]
    assert fl["citizens"] > 10 and fl["futures"] >= 3 * fl["citizens"] - 5
    # Per citizen, the median of its futures is the figure with the least mean absolute error over them.
    assert 0 <= fl["floor_mae_minutes"] <= fl["forecast_mae_minutes"]
    assert 0 <= fl["floor_late_over_10_share"] <= 1


def test_each_citizen_keeps_their_own_visit_whatever_order_they_are_called_in(tmp_path):
    """Common random numbers: with a counter fewer, citizens are called in another order, yet each
    citizen who is called in both days is a no-show, or is transferred, in both or in neither."""
    import sqlite3

    cfg = loader.load("fuzuli")
    d = demand.default(cfg, 120)
    staffed = [c.number for c in cfg.counters]
    fates = []
    for name, counters in (("all", staffed), ("fewer", staffed[1:])):
        path = tmp_path / f"{name}.db"
        day.run_day(cfg, d, seed=5, counters=counters, keep_db=str(path))
        db = sqlite3.connect(path)
        fates.append({issued: (status == "no_show", service != original)
                      for issued, status, service, original in
                      db.execute("SELECT issued_at, status, service, original_service FROM tickets "
                                 "WHERE called_at IS NOT NULL")})
        db.close()
    both = fates[0].keys() & fates[1].keys()
    assert len(both) > 80
    assert any(no_show for no_show, _ in fates[0].values()) and any(moved for _, moved in fates[0].values())
    assert {k: fates[0][k] for k in both} == {k: fates[1][k] for k in both}


def test_overtime_tells_the_services_under_way_at_closing_from_the_rest():
    """A late day at Füzuli (60 citizens, seed 2) runs past closing only by a service begun before it: the
    under-way part is the whole overtime, read from the counter's slot that spans closing time. The
    summary and the JSON carry it, and never more than the overtime."""
    from dataclasses import replace

    import pytest

    from server.sim import report

    cfg = loader.load("fuzuli")
    r = day.run_day(cfg, replace(demand.default(cfg, 60), hourly=demand.LATE_HOURLY), seed=2)
    spans = [(a, b) for desk in r.desks.values() for a, b in desk.busy if a < r.closes < b]
    assert spans and r.overtime_minutes > 0
    assert r.overtime_underway_minutes == pytest.approx((max(b for _, b in spans) - r.closes) / 60)
    assert r.overtime_underway_minutes == pytest.approx(r.overtime_minutes)
    calm = day.run_day(cfg, demand.default(cfg, 60), seed=3)
    s = report.summarise(cfg, [r, calm])
    assert s["overtime_underway_minutes_max"] == round(r.overtime_underway_minutes, 1)
    assert s["overtime_underway_minutes_mean"] <= s["overtime_minutes_mean"]
    assert s["days_over_15"] >= s["days_underway_over_15"] >= 0
    assert "services under way at closing" in report.table(s)


def test_a_counter_at_its_daily_limit_is_not_idle_for_nothing():
    """A refusal counts as "for nothing" when a counter for the service then idles for over twice its time before
    closing, but not the time after that counter had handled its daily limit (the center's policy, like a quota)."""
    cfg = loader.load("fuzuli")
    n = cfg.counters[0].number
    service = cfg.counters[0].services[0]
    closes = 10_000.0

    def result(limit_at: float | None) -> day.DayResult:
        desk = day.Desk(n, busy=[(0.0, 6_000.0)], limit_at=limit_at)
        return day.DayResult(center="fuzuli", citizens=1, seed=1, opens=0.0, closes=closes, told=[],
                             refusals=[(5_000.0, service, "counters")], desks={n: desk}, overtime_minutes=0.0,
                             wrongful_refusals=0)

    true_mean = {service: 600.0}             # idle 4,000 s after the refusal > 2 × 600 s
    assert day._wrongful(cfg, result(None), true_mean, {service: [n]}) == 1
    assert day._wrongful(cfg, result(6_000.0), true_mean, {service: [n]}) == 0     # at its limit from 6,000 s
    assert day._wrongful(cfg, result(9_000.0), true_mean, {service: [n]}) == 1     # idle 3,000 s before that
