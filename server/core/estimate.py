"""Wait estimates from the live service rate."""
from __future__ import annotations

import math
from collections.abc import Sequence


def service_minutes(recent_durations: Sequence[float], target_minutes: int) -> float:
    """Average minutes per citizen: the median of recent services, else the configured target."""
    if not recent_durations:
        return float(target_minutes)
    ordered = sorted(recent_durations)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return max(median / 60.0, 0.5)


def eta_minutes(ahead: int, minutes_each: float, counters: int) -> int:
    """Minutes until a ticket with ``ahead`` people before it is called."""
    if ahead <= 0:
        return 0
    return math.ceil(ahead * minutes_each / max(counters, 1))
