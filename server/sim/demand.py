"""What a simulated day brings: how many citizens, when, for what, and how they behave.

The demand comes from the center file's ``[demand]`` section when it has one, else from
these defaults (a DOST-like day: a morning peak, a dip at lunch), or is learned from the
history in a center's database (:func:`from_history`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from config.schema import CenterConfig

# Share of the day's arrivals per opening hour, 09:00-18:00 at a DOST center: people come
# early, fewer at lunch, a small second wave, little in the last hour.
DEFAULT_HOURLY = (0.13, 0.16, 0.15, 0.12, 0.09, 0.11, 0.11, 0.08, 0.05)
# A day of late arrivals: most come in the afternoon.
LATE_HOURLY = (0.04, 0.05, 0.06, 0.08, 0.10, 0.14, 0.17, 0.19, 0.17)


@dataclass(frozen=True)
class Demand:
    """One day's demand and citizens' behaviour."""

    citizens: int
    hourly: tuple[float, ...] = DEFAULT_HOURLY
    mix: dict[str, float] = field(default_factory=dict)          # service -> weight (default: quota)
    priority: dict[str, float] = field(default_factory=dict)     # group -> share of arrivals it applies to
    no_show: float = 0.05
    transfer: float = 0.03
    service_cv: float = 0.5          # spread of service times (lognormal)
    speed_spread: float = 0.3        # true mean = target × U(1 - s, 1 + s), drawn per service and seed
    walk_seconds: float = 40.0

    def scaled(self, factor: float) -> "Demand":
        """The same day with ``factor`` times the citizens."""
        return replace(self, citizens=max(1, round(self.citizens * factor)))


def default(cfg: CenterConfig, citizens: int | None = None) -> Demand:
    """The center file's demand (``[demand]``), or defaults sized by its daily capacity."""
    conf: Any = getattr(cfg, "demand", None)
    n = citizens or (conf.citizens if conf else None) or cfg.center.daily_capacity or 120
    if conf is None:
        groups = {g.code: 0.05 for g in cfg.priority_groups}
        return Demand(citizens=n, priority=groups)
    return Demand(citizens=n, hourly=tuple(conf.hourly) or DEFAULT_HOURLY, mix=dict(conf.mix),
                  priority=dict(conf.priority), no_show=conf.no_show, transfer=conf.transfer,
                  service_cv=conf.service_cv)


def from_history(cfg: CenterConfig, rows: list[tuple[float, str]], citizens: int | None = None) -> Demand:
    """Demand shaped like the history: ``rows`` are (issued_at, service) of past tickets."""
    base = default(cfg, citizens)
    if not rows:
        return base
    hours: dict[int, int] = {}
    mix: dict[str, float] = {}
    days = set()
    for issued_at, service in rows:
        t = datetime.fromtimestamp(issued_at, cfg.tz)
        days.add(t.date())
        hours[t.hour] = hours.get(t.hour, 0) + 1
        mix[service] = mix.get(service, 0) + 1
    first, last = min(hours), max(hours)
    total = sum(hours.values())
    hourly = tuple(hours.get(h, 0) / total for h in range(first, last + 1))
    return replace(base, citizens=citizens or round(total / max(1, len(days))), hourly=hourly, mix=mix)


@dataclass(frozen=True)
class Arrival:
    """One citizen coming to a kiosk."""

    at: float
    service: str
    priority: str | None


def arrivals(cfg: CenterConfig, demand: Demand, opens: float, closes: float, rng: random.Random) -> list[Arrival]:
    """The day's arrivals between opening and closing, in time order."""
    codes = [s.code for s in cfg.services]
    weights = [demand.mix.get(c, 0.0) if demand.mix else float(cfg.services_by_code[c].quota) for c in codes]
    if not any(weights):
        weights = [1.0] * len(codes)
    span = closes - opens
    slots = len(demand.hourly)
    out = []
    for _ in range(demand.citizens):
        slot = rng.choices(range(slots), weights=demand.hourly)[0]
        at = opens + (slot + rng.random()) * span / slots
        service = rng.choices(codes, weights=weights)[0]
        svc = cfg.services_by_code[service]
        priority = None
        for group, share in demand.priority.items():
            if group in svc.priority_groups and rng.random() < share:
                priority = group
                break
        out.append(Arrival(at=min(at, closes - 1), service=service, priority=priority))
    out.sort(key=lambda a: a.at)
    return out
