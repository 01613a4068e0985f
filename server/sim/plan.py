"""The staffing planner: simulated days decide how many counters a demand needs.

1. Play the demand with every configured counter (``seeds`` days).
2. If that meets the goal (a ``share`` of citizens called within their service's target
   wait), find the fewest counters that still meet it: counters are left out least-used
   first (never the last one serving a service), and the number left out is found by
   bisection, each step judged on the same seeds.
3. If it does not, add counters one at a time: each option copies a counter whose services
   miss their targets most; the best option is kept, up to ``max_added``.

Every option tried is reported, so a supervisor sees what each one gives.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from config.schema import CenterConfig
from server.sim.day import DayResult, run_day
from server.sim.demand import Demand
from server.sim.report import summarise


@dataclass
class Option:
    """One staffing option and what simulated days gave."""

    label: str
    counters: list[int]
    summary: dict[str, Any]
    days: list[DayResult] = field(default_factory=list, repr=False)

    @property
    def share(self) -> float:
        return float(next(r for r in self.summary["groups"] if r["group"] == "all")["within_target"])


def with_counters(cfg: CenterConfig, numbers: Sequence[int], extra: Sequence[int] = ()) -> CenterConfig:
    """``cfg`` staffed by ``numbers`` only, plus copies of the counters in ``extra``."""
    data = cfg.model_dump()
    keep = [c for c in data["counters"] if c["number"] in set(numbers)]
    top = max(c["number"] for c in data["counters"])
    for i, src in enumerate(extra, start=1):
        copy = dict(next(c for c in data["counters"] if c["number"] == src))
        copy.update(number=top + i, name=None, display=None, buttons=None, rating_keypad=None)
        keep.append(copy)
    data["counters"] = keep
    data["boards"] = [dict(b, counters=[n for n in b["counters"] if n in {c["number"] for c in keep}],
                           single_counter=b["single_counter"] if b["single_counter"] in {c["number"] for c in keep}
                           else None) for b in data["boards"]]
    return CenterConfig.model_validate(data)


def evaluate(cfg: CenterConfig, demand: Demand, seeds: Sequence[int], label: str) -> Option:
    """Simulate ``seeds`` days of ``demand`` at ``cfg``."""
    days = [run_day(cfg, demand, seed) for seed in seeds]
    return Option(label, [c.number for c in cfg.counters], summarise(cfg, days), days)


def plan(cfg: CenterConfig, demand: Demand, *, share: float = 0.9, seeds: Sequence[int] = (1, 2, 3),
         max_added: int = 4, progress: Callable[[Option], None] | None = None) -> tuple[Option, list[Option]]:
    """The chosen option and every option tried."""
    tried: list[Option] = []

    def judge(option: Option) -> Option:
        tried.append(option)
        if progress:
            progress(option)
        return option

    full = judge(evaluate(cfg, demand, seeds, f"all {len(cfg.counters)} counters"))
    if full.share >= share:
        used = {n: 0.0 for n in full.counters}
        for d in full.days:
            for n, desk in d.desks.items():
                used[n] += sum(b - a for a, b in desk.busy)
        order = sorted(used, key=lambda n: used[n])
        removable = _removal_order(cfg, order)
        best, lo, hi = full, 0, len(removable)
        while lo < hi:                                  # most counters that can be left out
            mid = (lo + hi + 1) // 2
            keep = [n for n in full.counters if n not in set(removable[:mid])]
            option = judge(evaluate(with_counters(cfg, keep), demand, seeds, f"{len(keep)} counters"))
            if option.share >= share:
                best, lo = option, mid
            else:
                hi = mid - 1
        return best, tried
    best = full
    extra: list[int] = []
    for _ in range(max_added):
        candidates = _worst_counters(cfg, best)
        options = [judge(evaluate(with_counters(cfg, [c.number for c in cfg.counters], [*extra, n]), demand, seeds,
                                  f"add a copy of counter {n}" + (f" (after {extra})" if extra else "")))
                   for n in candidates]
        top = max(options, key=lambda o: o.share)
        if top.share <= best.share:
            break
        best = top
        extra.append(candidates[options.index(top)])
        if best.share >= share:
            break
    return best, tried


def _removal_order(cfg: CenterConfig, order: list[int]) -> list[int]:
    """Counters in ``order`` that can go without leaving a service unserved."""
    cover: dict[str, int] = {}
    for c in cfg.counters:
        for code in c.services:
            cover[code] = cover.get(code, 0) + 1
    out = []
    for n in order:
        services = cfg.counters_by_number[n].services
        if all(cover[code] > 1 for code in services):
            for code in services:
                cover[code] -= 1
            out.append(n)
    return out


def _worst_counters(cfg: CenterConfig, option: Option, limit: int = 3) -> list[int]:
    """Counters whose first-preference services miss their target wait most often."""
    misses: dict[str, int] = {}
    for d in option.days:
        for t in d.told:
            if t.called is not None and (t.called - t.issued) / 60 > cfg.services_by_code[t.service].target_wait:
                misses[t.service] = misses.get(t.service, 0) + 1
    picked: list[int] = []
    for code, _ in sorted(misses.items(), key=lambda kv: -kv[1]):
        for c in cfg.counters:
            if c.services[0] == code and c.number not in picked:
                picked.append(c.number)
                break
        if len(picked) >= limit:
            break
    return picked or [cfg.counters[0].number]


def hourly_waits(cfg: CenterConfig, days: Sequence[DayResult]) -> list[tuple[int, float, float, int]]:
    """(hour, mean wait, p90 wait, citizens) by the hour citizens took their ticket."""
    from datetime import datetime

    by_hour: dict[int, list[float]] = {}
    for d in days:
        for t in d.told:
            if t.called is not None:
                by_hour.setdefault(datetime.fromtimestamp(t.issued, cfg.tz).hour, []).append((t.called - t.issued) / 60)
    out = []
    for hour in sorted(by_hour):
        waits = sorted(by_hour[hour])
        out.append((hour, sum(waits) / len(waits), waits[min(len(waits) - 1, round(0.9 * (len(waits) - 1)))],
                    len(waits)))
    return out


def chart(cfg: CenterConfig, option: Option, path: str, *, target: float | None = None) -> None:
    """A PNG of waits by the hour of arrival for ``option`` (mean and p90 bars, the target line)."""
    from PIL import Image, ImageDraw, ImageFont

    rows = hourly_waits(cfg, option.days)
    width, height, left, bottom, top = 900, 480, 70, 60, 50
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font: Any
    bold: Any
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 15)
        bold = ImageFont.truetype("DejaVuSans-Bold.ttf", 17)
    except OSError:
        font = bold = ImageFont.load_default()
    peak = max([p90 for _, _, p90, _ in rows] + [target or 0, 10.0])
    scale = (height - bottom - top) / (peak * 1.1)
    draw.text((left, 12), f"{cfg.center.name.get('en')}: {option.label}, waits by hour of arrival (minutes)",
              fill="black", font=bold)
    draw.line((left, height - bottom, width - 20, height - bottom), fill="black", width=2)
    draw.line((left, top, left, height - bottom), fill="black", width=2)
    for v in range(0, int(peak * 1.1) + 1, max(5, int(peak / 6) // 5 * 5 or 5)):
        y = height - bottom - v * scale
        draw.line((left - 5, y, width - 20, y), fill="#dddddd")
        draw.text((left - 40, y - 8), f"{v:>3}", fill="black", font=font)
    if rows:
        slot = (width - 20 - left) / len(rows)
        for i, (hour, mean, p90, n) in enumerate(rows):
            x = left + i * slot + slot * 0.15
            w = slot * 0.32
            draw.rectangle((x, height - bottom - mean * scale, x + w, height - bottom), fill="#1f5fa8")
            draw.rectangle((x + w, height - bottom - p90 * scale, x + 2 * w, height - bottom), fill="#f0a020")
            draw.text((x, height - bottom + 8), f"{hour:02d}:00", fill="black", font=font)
            draw.text((x, height - bottom + 28), f"n={n}", fill="#555555", font=font)
    if target:
        y = height - bottom - target * scale
        draw.line((left, y, width - 20, y), fill="#c0262d", width=2)
        draw.text((width - 170, y - 20), f"target {target:g} min", fill="#c0262d", font=font)
    draw.rectangle((width - 250, 40, width - 236, 54), fill="#1f5fa8")
    draw.text((width - 230, 38), "mean", fill="black", font=font)
    draw.rectangle((width - 160, 40, width - 146, 54), fill="#f0a020")
    draw.text((width - 140, 38), "90th percentile", fill="black", font=font)
    img.save(path)
