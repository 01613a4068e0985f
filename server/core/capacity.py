"""Capacity as counter time: whether a new ticket can still be served today.

The rules, in order (a refusal names the first that applies):

1. ``center.daily_capacity``, when set, is a hard ceiling of tickets a day (scope ``center``).
2. A service's ``quota`` is policy: no more tickets of it a day (scope ``service``).
3. The hall forecast (:mod:`server.core.forecast`) places the new ticket as a ghost. If no
   counter will call it: because the counters that serve it reach their daily limits
   first (scope ``counters``), or because none of them is open or expected today (scope
   ``unstaffed``).
4. If it would be called so late that its own service may well end after closing time
   plus ``policy.closing_grace_minutes`` (scope ``closing``): the end is taken at the
   ``policy.closing_confidence`` level (0.95: nineteen times in twenty it ends sooner), from the
   spread of its call (the slots before it vary) and of its own service at the counter that
   takes it (lognormal: a few services take twice their mean and more). That keeps a day of
   late arrivals from running counters long past closing; the grace keeps the rule from
   turning away the last citizens of a day that is going to plan.

Rules 3-4 are judged on the forecast that counts on the citizens expected later today (what
the citizen is told); a ticket refused there is judged again on the citizens who are here
alone, and refused only if that says so too: expected citizens may not come, and must not
turn away one who has.

Otherwise the ticket is issued. So a center stops issuing when its counters' time is
booked, not at a fixed count, and stops exactly for the services whose counters are full.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from config.schema import CenterConfig, Service
from server.core import estimate
from server.core.forecast import Call, Forecast


@dataclass(frozen=True)
class Refusal:
    """Why a ticket cannot be issued now."""

    scope: str
    message: str


def judge_counts(cfg: CenterConfig, svc: Service, issued_today: int, issued_service: int) -> Refusal | None:
    """Rules 1-2: the optional daily ceiling and the service's quota, from today's counts."""
    ceiling = cfg.center.daily_capacity
    if ceiling is not None and issued_today >= ceiling:
        return Refusal("center", "the center has issued all of today's tickets")
    if issued_service >= svc.quota:
        return Refusal("service", "this service has no tickets left today")
    return None


def judge_ghost(cfg: CenterConfig, forecast: Forecast, ghost_id: int, servers: set[int],
                closes: float | None) -> Refusal | None:
    """The refusal for a would-be ticket placed as ``ghost_id`` in ``forecast``, or None to issue it.

    ``servers`` are the counters that serve the ticket's service.
    """
    call = forecast.calls.get(ghost_id)
    if call is None and forecast.cut:
        return Refusal("closing", "the counters for this service are booked until closing time")
    if call is None:
        if servers & forecast.limited:
            return Refusal("counters", "the counters for this service have reached their daily limits")
        return Refusal("unstaffed", "no counter serves this service for the rest of today")
    if closes is not None and late_end(call, cfg.policy.closing_confidence) > closes + cfg.policy.closing_grace_minutes * 60:
        return Refusal("closing", "the counters for this service are booked until closing time")
    return None


def late_end(call: Call, p: float) -> float:
    """When a called ticket's service ends at the ``p`` level: its call's spread and its own (lognormal)
    service's, each at that level, added as independent deviations."""
    own_mean = call.ends - call.at
    own_var = max(call.ends_sigma ** 2 - call.sigma ** 2, 0.0)
    late_call = NormalDist().inv_cdf(p) * call.sigma
    late_own = estimate.quantile(own_mean, own_var, p) - own_mean
    return call.ends + math.hypot(late_call, max(late_own, 0.0))
