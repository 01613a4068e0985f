"""How close to the truth can a forecast told at the kiosk be? The floor, by simulation.

A citizen is told their wait at the moment of issuing. What happens after that moment is
not yet decided: who else comes (and whether a şəhid family member or a citizen of a
service the counter prefers is among them), how long the services under way and all later
ones take, who does not show up. For a sample of citizens of a simulated day, the day is
forked at their issuing (:class:`server.sim.day.Fork`) and played on many times with
fresh chance; the spread of their call times over the forks is what no forecast made at
that moment can beat.

For each sampled citizen: the median of the forks is the best central figure there is
(for the mean absolute error); the figures report
- the floor: the mean absolute error of that median against the forks, and the share of
  forks called more than 10 minutes later than it;
- the forecast: the same two figures for what the citizen was actually told, against the
  same forks (so both are measured on the same futures).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from config.schema import CenterConfig
from server.sim.day import Fork, run_day
from server.sim.demand import Demand


@dataclass(frozen=True)
class Sampled:
    """One citizen's told wait and the waits of its forks (minutes)."""

    seed: int
    ticket_id: int
    told: float
    forks: tuple[float, ...]


def sample(cfg: CenterConfig, demand: Demand, seed: int, *, citizens: int = 30, forks: int = 16,
           progress: Callable[[int, int], None] | None = None) -> list[Sampled]:
    """Fork the day of ``seed`` at ``citizens`` evenly spread issuings, ``forks`` times each."""
    base = run_day(cfg, demand, seed)
    issued_at = sorted(t.issued for t in base.told)
    if not issued_at:
        return []
    # Which arrival (counting refusals) issued each sampled ticket: arrivals are numbered in time order.
    arrivals_at = sorted([t.issued for t in base.told] + [r[0] for r in base.refusals])
    by_time = {t.issued: t for t in base.told}
    step = max(1, len(issued_at) // citizens)
    picks = issued_at[step // 2::step][:citizens]
    out = []
    for i, at in enumerate(picks):
        told = by_time[at]
        after = arrivals_at.index(at) + 1
        waits = []
        for k in range(forks):
            day = run_day(cfg, demand, seed, fork=Fork(after=after, again=1_000_003 * seed + 1009 * after + k))
            mine = next((t for t in day.told if t.ticket_id == told.ticket_id), None)
            if mine is not None and mine.called is not None:
                waits.append((mine.called - mine.issued) / 60)
        if waits and told.eta_minutes is not None:
            out.append(Sampled(seed, told.ticket_id, float(told.eta_minutes), tuple(waits)))
        if progress:
            progress(i + 1, len(picks))
    return out


def summarise(samples: Sequence[Sampled]) -> dict[str, Any]:
    """The floor and the forecast, measured on the same forks."""
    floor_err, told_err, floor_late, told_late, spread = [], [], [], [], []
    for s in samples:
        mid = statistics.median(s.forks)
        for w in s.forks:
            floor_err.append(abs(w - mid))
            told_err.append(abs(w - s.told))
            floor_late.append(w > mid + 10)
            told_late.append(w > s.told + 10)
        spread.append(max(s.forks) - min(s.forks))
    n = len(floor_err) or 1
    return {
        "citizens": len(samples),
        "futures": len(floor_err),
        "floor_mae_minutes": round(sum(floor_err) / n, 2),
        "floor_late_over_10_share": round(sum(floor_late) / n, 3),
        "forecast_mae_minutes": round(sum(told_err) / n, 2),
        "forecast_late_over_10_share": round(sum(told_late) / n, 3),
        "spread_minutes_median": round(statistics.median(spread), 1) if spread else 0.0,
    }
