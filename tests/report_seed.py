"""A month of history played through the real core with a hand-moved clock, for the reports page.

Each working day: counters 1, 2, 5 and 6 open at 09:05 (operators op1, op2, boss, admin), citizens
arrive through the morning for the services those counters serve, and each counter calls, starts
and finishes in turn; about one in ten does not come, one in twenty is transferred, one in twelve
cancels; about six in ten served citizens rate the visit. Deterministic for a seed.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from server.core import queue, rating
from server.core.errors import QueueError

COUNTERS = {1: "op1", 2: "op2", 5: "boss", 6: "admin"}


class HandClock:
    """A clock moved by hand (epoch seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seed_days(store: Any, clock: HandClock, days: list[date], *, per_day: int = 14, seed: int = 7) -> int:
    """Play ``per_day`` citizens on each of ``days``; how many tickets were issued."""
    cfg = store.cfg
    rng = random.Random(seed)
    reasons = [r.code for r in cfg.ratings.reasons]
    services = sorted({code for n in COUNTERS for code in cfg.counters_by_number[n].services[:4]})
    issued = 0
    for day in days:
        start = datetime.combine(day, time(9, 5), tzinfo=cfg.tz).timestamp()
        clock.now = start
        for n, who in COUNTERS.items():
            queue.open_counter(store, n, operator=who)
        tokens = {}
        arrivals = sorted(start + rng.uniform(0, 4 * 3600) for _ in range(per_day + rng.randint(-3, 3)))
        free = {n: start for n in COUNTERS}
        for at in arrivals:
            clock.now = at
            try:
                t = queue.issue_ticket(store, rng.choice(services), kiosk="kiosk-1", lang=rng.choice(["az", "ru", "en"]),
                                       priority=None).ticket
            except QueueError:
                continue
            tokens[t.id] = t.token
            issued += 1
            # Every free counter takes the next citizen in turn, as a day at the counters would go.
            for n in COUNTERS:
                if free[n] > at:
                    continue
                clock.now = max(at, free[n]) + rng.uniform(30, 600)
                try:
                    called = queue.call_next(store, n, actor=COUNTERS[n])
                except QueueError:
                    continue
                roll = rng.random()
                if roll < 0.1:
                    clock.now += 120
                    queue.mark_no_show(store, n, actor=COUNTERS[n])
                elif roll < 0.15:
                    clock.now += 60
                    queue.start_service(store, n, actor=COUNTERS[n])
                    clock.now += rng.uniform(60, 240)
                    other = [c for c in cfg.counters_by_number[n].services if c != called.service][0]
                    queue.transfer(store, n, service=other, actor=COUNTERS[n])
                else:
                    clock.now += 45
                    queue.start_service(store, n, actor=COUNTERS[n])
                    clock.now += rng.lognormvariate(6.0, 0.5)
                    queue.finish(store, n, actor=COUNTERS[n])
                    if rng.random() < 0.6:
                        score = rng.choices([1, 2, 3, 4, 5], weights=[2, 2, 4, 20, 72])[0]
                        clock.now += 20
                        rating.rate_ticket(store, tokens[called.id], score,
                                           reason=rng.choice(reasons) if score <= 3 and reasons else None,
                                           comment="Növbə uzun idi" if score <= 2 else None)
                free[n] = clock.now
        # Whoever is left is called before closing; a few cancel instead.
        clock.now = max(free.values()) + 60
        for n in COUNTERS:
            while True:
                try:
                    queue.call_next(store, n, actor=COUNTERS[n])
                except QueueError:
                    break
                clock.now += rng.uniform(200, 500)
                queue.finish(store, n, actor=COUNTERS[n])
                clock.now += 30
            queue.close_counter(store, n, actor=COUNTERS[n])
    return issued


def working_days_before(today: date, count: int) -> list[date]:
    """The ``count`` working days (Monday to Friday) before ``today``, oldest first."""
    out: list[date] = []
    d = today - timedelta(days=1)
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return sorted(out)
