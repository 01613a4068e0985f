"""The figures of simulated days, as tables for people and as JSON for machines."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from config.schema import CenterConfig
from server.sim.day import DayResult


def _p(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def summarise(cfg: CenterConfig, days: Sequence[DayResult]) -> dict[str, Any]:
    """Waits per group, refusals, utilisation, overtime and forecast accuracy over ``days``."""
    groups: dict[str, list[tuple[float, float]]] = {}
    errors: list[float] = []
    late = late_range = 0
    for d in days:
        for t in d.told:
            if t.called is None:
                continue
            wait = (t.called - t.issued) / 60
            target = cfg.services_by_code[t.service].target_wait
            groups.setdefault(t.group, []).append((wait, target))
            groups.setdefault("all", []).append((wait, target))
            if t.eta_minutes is None:
                continue                # no figure was told
            err = wait - t.eta_minutes
            errors.append(err)
            if err > 10:
                late += 1
            if wait - max(t.eta_high, t.eta_minutes) > 10:
                late_range += 1
    rows = []
    order = ["ordinary"] + [g.code for g in cfg.priority_groups] + ["all"]
    for name in order:
        items = groups.get(name, [])
        waits = [w for w, _ in items]
        rows.append({
            "group": name, "called": len(items),
            "wait_mean": round(statistics.fmean(waits), 1) if waits else 0.0,
            "wait_p90": round(_p(waits, 0.9), 1), "wait_max": round(max(waits, default=0.0), 1),
            "within_target": round(sum(1 for w, tgt in items if w <= tgt) / len(items), 3) if items else 1.0,
            "within_15": round(sum(1 for w in waits if w <= 15) / len(waits), 3) if waits else 1.0,
        })
    refusals: dict[str, int] = {}
    first_refusal: dict[str, float] = {}
    for d in days:
        for at, _service, scope in d.refusals:
            refusals[scope] = refusals.get(scope, 0) + 1
            first_refusal[scope] = min(first_refusal.get(scope, 1e18), at - d.opens)
    busy = open_time = 0.0
    for d in days:
        for desk in d.desks.values():
            busy += sum(b - a for a, b in desk.busy)
            breaks = sum(b - a for a, b in desk.breaks)
            open_time += max(d.closes, desk.last_free) - d.opens - breaks
    n = max(1, len(days))
    told = sum(len(d.told) for d in days)
    return {
        "center": cfg.center.id, "days": len(days), "citizens": days[0].citizens if days else 0,
        "seeds": [d.seed for d in days],
        "groups": rows,
        "issued_per_day": round(told / n, 1),
        "refused_per_day": round(sum(len(d.refusals) for d in days) / n, 1),
        "refusals": {k: round(v / n, 1) for k, v in sorted(refusals.items())},
        "first_refusal": {k: _clock(days[0].opens + v, cfg) for k, v in first_refusal.items()} if days else {},
        "wrongful_refusals_per_day": round(sum(d.wrongful_refusals for d in days) / n, 1),
        "utilisation": round(busy / open_time, 3) if open_time else 0.0,
        "overtime_minutes_mean": round(statistics.fmean([d.overtime_minutes for d in days]), 1) if days else 0.0,
        "overtime_minutes_max": round(max((d.overtime_minutes for d in days), default=0.0), 1),
        "overtime_underway_minutes_mean": round(statistics.fmean([d.overtime_underway_minutes for d in days]), 1)
        if days else 0.0,
        "overtime_underway_minutes_max": round(max((d.overtime_underway_minutes for d in days), default=0.0), 1),
        "days_over_15": sum(1 for d in days if d.overtime_minutes > 15),
        "days_underway_over_15": sum(1 for d in days if d.overtime_underway_minutes > 15),
        "forecast": {
            "mae_minutes": round(statistics.fmean(abs(e) for e in errors), 2) if errors else 0.0,
            "bias_minutes": round(statistics.fmean(errors), 2) if errors else 0.0,
            "late_over_10_share": round(late / len(errors), 3) if errors else 0.0,
            "late_over_10_past_range_share": round(late_range / len(errors), 3) if errors else 0.0,
        },
        "seconds_per_day": round(statistics.median([d.elapsed_seconds for d in days]), 3) if days else 0.0,
    }


def _clock(ts: float, cfg: CenterConfig) -> str:
    return datetime.fromtimestamp(ts, cfg.tz).strftime("%H:%M")


def table(summary: dict[str, Any]) -> str:
    """A plain-text report of :func:`summarise`'s figures."""
    s = summary
    lines = [f"{s['center']}: {s['citizens']} citizens a day, {s['days']} day(s), seeds {s['seeds']}",
             "",
             f"{'group':<14}{'called':>8}{'mean':>8}{'p90':>8}{'max':>8}{'≤target':>9}{'≤15 min':>9}"]
    for r in s["groups"]:
        lines.append(f"{r['group']:<14}{r['called']:>8}{r['wait_mean']:>8.1f}{r['wait_p90']:>8.1f}"
                     f"{r['wait_max']:>8.1f}{r['within_target']:>9.1%}{r['within_15']:>9.1%}")
    f = s["forecast"]
    refused = ", ".join(f"{k} {v}" + (f" (from {s['first_refusal'][k]})" if k in s["first_refusal"] else "")
                        for k, v in s["refusals"].items()) or "none"
    lines += ["",
              f"issued a day {s['issued_per_day']}, refused a day {s['refused_per_day']}: {refused}",
              f"refused while a counter for the service then idled > 2 services: {s['wrongful_refusals_per_day']} a day",
              f"counter utilisation {s['utilisation']:.1%}; overtime after closing: mean "
              f"{s['overtime_minutes_mean']} min, max {s['overtime_minutes_max']} min; of it, services under way "
              f"at closing: mean {s['overtime_underway_minutes_mean']} min, max {s['overtime_underway_minutes_max']} "
              f"min; days over 15 min: {s['days_over_15']} ({s['days_underway_over_15']} by services under way alone)",
              f"forecast: mean absolute error {f['mae_minutes']} min, bias {f['bias_minutes']:+} min, "
              f"called >10 min later than told {f['late_over_10_share']:.1%} "
              f"(than the top of the range shown: {f['late_over_10_past_range_share']:.1%})",
              f"{s['seconds_per_day']} s per simulated day (median)"]
    fl = s.get("floor")
    if fl:
        lines += [f"on {fl['futures']} forked futures of {fl['citizens']} citizens (spread of a citizen's call, median: "
                  f"{fl['spread_minutes_median']} min):",
                  f"  the best any forecast could do: mean absolute error {fl['floor_mae_minutes']} min, "
                  f"called >10 min later than told {fl['floor_late_over_10_share']:.1%}",
                  f"  what the citizens were told:     mean absolute error {fl['forecast_mae_minutes']} min, "
                  f"called >10 min later than told {fl['forecast_late_over_10_share']:.1%}"]
    return "\n".join(lines)
