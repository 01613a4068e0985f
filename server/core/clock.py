"""The business day: the center's local date, its opening hours and closing time."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from config.schema import WEEKDAYS, CenterConfig


def local(now: float, tz: ZoneInfo) -> datetime:
    """The center's wall-clock time for an epoch timestamp."""
    return datetime.fromtimestamp(now, tz)


def business_day(now: float, tz: ZoneInfo) -> str:
    """The business day (ISO date) in the center's time zone: it turns at local midnight."""
    return local(now, tz).date().isoformat()


def closing_time(cfg: CenterConfig, now: float) -> datetime | None:
    """Today's closing time, or None when the center does not open today."""
    t = local(now, cfg.tz)
    hours = cfg.center.hours[WEEKDAYS[t.weekday()]]
    if hours.closes is None:
        return None
    return datetime.combine(t.date(), hours.closes, tzinfo=cfg.tz)


def opening_time(cfg: CenterConfig, now: float) -> float | None:
    """Today's opening time (epoch seconds), or None when the center does not open today."""
    t = local(now, cfg.tz)
    hours = cfg.center.hours[WEEKDAYS[t.weekday()]]
    if hours.opens is None:
        return None
    return datetime.combine(t.date(), hours.opens, tzinfo=cfg.tz).timestamp()


def is_open(cfg: CenterConfig, now: float) -> bool:
    """Whether the center is open at this moment."""
    t = local(now, cfg.tz)
    hours = cfg.center.hours[WEEKDAYS[t.weekday()]]
    return hours.opens is not None and hours.closes is not None and hours.opens <= t.time() < hours.closes


def next_opening(cfg: CenterConfig, now: float) -> datetime | None:
    """The next moment the center opens (today later, or a coming day), None if never."""
    t = local(now, cfg.tz)
    for offset in range(0, 8):
        d: date = t.date() + timedelta(days=offset)
        hours = cfg.center.hours[WEEKDAYS[d.weekday()]]
        if hours.opens is None:
            continue
        start = datetime.combine(d, hours.opens, tzinfo=cfg.tz)
        if start > t:
            return start
    return None
