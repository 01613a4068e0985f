"""One simulated day on the real core and a real SQLite store with a simulated clock.

The operators' behaviour, in order:

1. Every counter opens at opening time and calls the next ticket whenever it is free (at
   once, and again whenever a citizen of its services arrives, or is transferred to one of
   them, while it is idle: the first idle desk serving that service calls).
2. A called citizen walks to the counter (``walk_seconds``, ±50 %) and service starts; its
   length is drawn from a lognormal around the service's *true* mean, which differs from
   the configured target by up to ``speed_spread`` (so the forecast has to learn it).
3. A no-show is recalled once after a minute, then marked no-show a minute later.
4. A transfer happens halfway through a service, to another service of the same area
   (or any other), and the ticket waits again with its original issue time.
5. A counter takes its planned breaks (``breaks`` in the center file): paused at the
   break's start, or when its current citizen leaves; resumed at the break's end.
6. After closing, counters serve whoever is still waiting, then close: the time past
   closing is the day's overtime.
"""
from __future__ import annotations

import heapq
import math
import os
import random
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime
from pathlib import Path
from statistics import NormalDist
from typing import Any

from config.schema import CenterConfig
from server.core import clock as bday
from server.core import queue
from server.core.errors import (
    CapacityReached, CounterLimitReached, NoTicketsWaiting, QueueError,
)
from server.sim.demand import Arrival, Demand, arrivals


class SimClock:
    """The store's clock during a simulation."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Told:
    """What a citizen was told at the kiosk, and what happened."""

    ticket_id: int
    service: str
    group: str
    issued: float
    ahead: int
    eta_minutes: int | None          # None: told "waiting for a counter to open" (no figure to judge)
    eta_high: int = 0                # the top of the range the citizen was shown
    called: float | None = None


@dataclass
class Desk:
    """A counter during the simulation."""

    number: int
    state: str = "closed"           # closed | idle | busy | break | done
    break_pending: bool = False
    busy: list[tuple[float, float]] = field(default_factory=list)
    since: float = 0.0
    last_free: float = 0.0
    opened: float = 0.0
    breaks: list[tuple[float, float]] = field(default_factory=list)
    limit_at: float | None = None   # when it had handled its daily_limit (its operator then takes nobody more)
    services: tuple[str, ...] = ()
    handled: int = 0
    limit: int = 0                  # its daily_limit (0: none)


@dataclass
class DayResult:
    """Everything a simulated day measured."""

    center: str
    citizens: int
    seed: int
    opens: float
    closes: float
    told: list[Told]
    refusals: list[tuple[float, str, str]]          # (time, service, scope)
    desks: dict[int, Desk]
    overtime_minutes: float
    wrongful_refusals: int
    # How long after closing the services already under way at closing ran (the longest, minutes): the part of
    # the overtime that no judgement made at closing time could still prevent.
    overtime_underway_minutes: float = 0.0
    elapsed_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _spans(cfg: CenterConfig, number: int, day: date) -> list[tuple[float, float]]:
    conf = cfg.counters_by_number[number]
    out = []
    for text in getattr(conf, "breaks", ()):
        a, b = text.split("-")
        t0 = datetime.combine(day, dtime.fromisoformat(a), tzinfo=cfg.tz).timestamp()
        t1 = datetime.combine(day, dtime.fromisoformat(b), tzinfo=cfg.tz).timestamp()
        out.append((t0, t1))
    return sorted(out)


@dataclass(frozen=True)
class Fork:
    """Play the day as seed ``seed`` says up to its ``after``-th arrival, then on with a new chance.

    After that arrival, everything not yet known at that moment is drawn again from
    ``Random(again)``: the arrivals still to come, what is left of the services under way
    (given how long they have run), and all later services, no-shows and transfers. Many
    forks of one moment give the spread of what could still happen: the best any forecast
    made then can do (see ``novbe simulate --floor``).
    """

    after: int
    again: int


def run_day(cfg: CenterConfig, demand: Demand, seed: int, *, day: date = date(2026, 12, 1),
            counters: list[int] | None = None, workdir: str | None = None, keep_db: str | None = None,
            fork: Fork | None = None) -> DayResult:
    """Play one day; ``counters`` limits which counters are staffed (default: all).

    ``keep_db``: copy the day's database there (to look at every ticket and event).
    ``fork``: see :class:`Fork`.
    """
    import time as wall

    from server.store import SQLiteStore

    started = wall.perf_counter()
    rng = random.Random(seed)
    hours = cfg.center.hours[("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]]
    assert hours.opens and hours.closes, f"{cfg.center.id} is closed on {day}"
    opens = datetime.combine(day, hours.opens, tzinfo=cfg.tz).timestamp()
    closes = datetime.combine(day, hours.closes, tzinfo=cfg.tz).timestamp()
    true_mean = {s.code: s.target_minutes * 60 * rng.uniform(1 - demand.speed_spread, 1 + demand.speed_spread)
                 for s in cfg.services}
    sigma = math.sqrt(math.log(1 + demand.service_cv ** 2))
    staffed = counters if counters is not None else [c.number for c in cfg.counters]
    same_area = {s.code: [o.code for o in cfg.services if o.area == s.area and o.code != s.code]
                 for s in cfg.services}
    served_by: dict[str, list[int]] = {}
    for n in staffed:
        for code in cfg.counters_by_number[n].services:
            served_by.setdefault(code, []).append(n)

    tmp = tempfile.TemporaryDirectory(dir=workdir or _scratch())
    sim_clock = SimClock(opens - 60)
    store = SQLiteStore(Path(tmp.name) / "sim.db", cfg, clock=sim_clock, synchronous="OFF")
    events: list[tuple[float, int, str, Any]] = []
    order = 0

    def push(at: float, kind: str, data: Any = None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, data))

    desks = {n: Desk(n, breaks=_spans(cfg, n, day), services=tuple(cfg.counters_by_number[n].services),
                     limit=cfg.counters_by_number[n].daily_limit or 0) for n in staffed}
    # How many tickets of each service wait: what the counter screen shows its operator, who
    # presses "next" only when one of theirs waits (or when at the day's limit, to be told so).
    waiting_n: dict[str, int] = dict.fromkeys(served_by, 0)
    told: dict[int, Told] = {}
    refusals: list[tuple[float, str, str]] = []
    for n, desk in desks.items():
        push(opens, "open", n)
        for b0, b1 in desk.breaks:
            push(b0, "break-start", n)
            push(b1, "break-end", n)
    for i, comer in enumerate(arrivals(cfg, demand, opens, closes, rng)):
        push(comer.at, "arrive", (i, comer))

    serving: dict[int, tuple[float, str, int]] = {}       # counter -> (service start, service, ticket id)
    arrived = 0
    # Each citizen's own chance (walk, no-show, service lengths, transfer) comes from a generator
    # of its own, keyed by its place in the day's arrivals: a change to the core that calls
    # citizens in another order still plays each citizen's same visit (common random numbers),
    # so two versions of the core are compared on the same day, not on two different days.
    chance_base = seed
    place: dict[int, int] = {}                         # ticket id -> arrival index
    chances: dict[int, random.Random] = {}             # ticket id -> its citizen's generator

    def chance(ticket_id: int) -> random.Random:
        r = chances.get(ticket_id)
        if r is None:
            r = chances[ticket_id] = random.Random(f"{chance_base}/{place.get(ticket_id, -ticket_id)}")
        return r

    def service_length(r: random.Random, service: str, at_least: float = 0.0) -> float:
        """A service's length, lognormal around its true mean; longer than ``at_least`` (drawn from the tail)."""
        mu = math.log(true_mean[service]) - sigma ** 2 / 2
        if at_least <= 0 or sigma == 0:
            return max(r.lognormvariate(mu, sigma), at_least)
        dist = NormalDist(mu, sigma)
        low = dist.cdf(math.log(at_least))
        u = low + (1 - low) * r.random()
        return math.exp(dist.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))) if low < 1 - 1e-12 else at_least * 1.05

    def branch(t: float) -> None:
        """Draw again everything not yet known at ``t`` (see :class:`Fork`)."""
        nonlocal rng, events, chance_base
        assert fork is not None
        rng = random.Random(fork.again)
        chance_base = fork.again
        chances.clear()
        kept = [e for e in events if e[2] not in ("arrive", "finish", "transfer")]
        later = [comer for comer in arrivals(cfg, demand, opens, closes, rng) if comer.at > t]
        for i, comer in enumerate(later, start=arrived):
            kept.append((comer.at, 0, "arrive", (i, comer)))
        for n, (began, service, tid) in serving.items():
            r = chance(tid)
            length = service_length(r, service, t - began)
            if r.random() < demand.transfer and began + length / 2 > t:
                kept.append((began + length / 2, 0, "transfer", (n, service, tid)))
            else:
                kept.append((began + length, 0, "finish", n))
        events = []
        for at, _, kind, data in sorted(kept, key=lambda e: (e[0], e[1])):
            push(at, kind, data)

    def in_break(desk: Desk, t: float) -> bool:
        return any(b0 <= t < b1 for b0, b1 in desk.breaks)

    def try_call(desk: Desk, t: float) -> bool:
        """An idle desk calls its next ticket; True if it called one."""
        if desk.state != "idle":
            return False
        if not (desk.limit and desk.handled >= desk.limit) and not any(waiting_n.get(s) for s in desk.services):
            if t >= closes:
                queue.close_counter(store, desk.number, actor="sim")
                desk.state = "done"
            return False
        try:
            ticket = queue.call_next(store, desk.number, actor="sim")
        except NoTicketsWaiting:
            if t >= closes:
                queue.close_counter(store, desk.number, actor="sim")
                desk.state = "done"
            return False
        except CounterLimitReached:
            desk.state, desk.limit_at = "done", t
            return False
        desk.state, desk.since = "busy", t
        desk.handled += 1
        waiting_n[ticket.service] -= 1
        record = told.get(ticket.id)
        if record is not None and record.called is None:
            record.called = t
        r = chance(ticket.id)
        if r.random() < demand.no_show:
            push(t + 60, "recall", desk.number)
            return True
        walk = demand.walk_seconds * r.uniform(0.5, 1.5)
        push(t + walk, "start", (desk.number, ticket.service, ticket.id))
        return True

    def poke(service: str, t: float) -> None:
        """A new ticket of ``service`` waits: the first idle desk that serves it calls (an idle desk had nothing else)."""
        for n in served_by.get(service, ()):
            if try_call(desks[n], t):
                return

    def free(desk: Desk, t: float) -> None:
        desk.busy.append((desk.since, t))
        desk.last_free = t
        desk.state = "idle"
        if desk.break_pending or in_break(desk, t):
            desk.break_pending = False
            if in_break(desk, t):
                queue.pause_counter(store, desk.number, reason="break", actor="sim")
                desk.state = "break"
                return
        try_call(desk, t)

    while events:
        t, _, kind, data = heapq.heappop(events)
        sim_clock.now = t
        if kind == "arrive":
            index, a = data
            try:
                got = queue.issue_ticket(store, a.service, priority=a.priority, kiosk="sim")
                place[got.ticket.id] = index
                waiting_n[a.service] = waiting_n.get(a.service, 0) + 1
                told[got.ticket.id] = Told(got.ticket.id, a.service, a.priority or "ordinary", t, got.ahead,
                                           got.eta_minutes, got.eta_high)
                poke(a.service, t)
            except CapacityReached as exc:
                refusals.append((t, a.service, str(exc.details.get("scope"))))
            arrived += 1
            if fork is not None and arrived == fork.after:
                branch(t)
        elif kind == "open":
            queue.open_counter(store, data, operator=f"op{data}")
            desks[data].state, desks[data].opened = "idle", t
            try_call(desks[data], t)
        elif kind == "start":
            n, service, tid = data
            queue.start_service(store, n, actor="sim")
            serving[n] = (t, service, tid)
            r = chance(tid)
            length = service_length(r, service)
            if r.random() < demand.transfer and (same_area[service] or len(cfg.services) > 1):
                push(t + length / 2, "transfer", (n, service, tid))
            else:
                push(t + length, "finish", n)
        elif kind == "finish":
            serving.pop(data, None)
            queue.finish(store, data, actor="sim")
            free(desks[data], t)
        elif kind == "transfer":
            n, service, tid = data
            serving.pop(n, None)
            choices = [c for c in same_area[service] if c in served_by] or \
                [c for c in served_by if c != service]
            target = chance(tid).choice(choices)
            queue.transfer(store, n, service=target, actor="sim")
            waiting_n[target] = waiting_n.get(target, 0) + 1
            free(desks[n], t)
            poke(target, t)     # the operators serving it see the transferred citizen waiting
        elif kind == "recall":
            queue.recall(store, data, actor="sim")
            push(t + 60, "no-show", data)
        elif kind == "no-show":
            queue.mark_no_show(store, data, actor="sim")
            free(desks[data], t)
        elif kind == "break-start":
            desk = desks[data]
            if desk.state == "idle":
                queue.pause_counter(store, data, reason="break", actor="sim")
                desk.state = "break"
            elif desk.state == "busy":
                desk.break_pending = True
        elif kind == "break-end":
            desk = desks[data]
            desk.break_pending = False
            if desk.state == "break":
                queue.resume_counter(store, data, actor="sim")
                desk.state = "idle"
                try_call(desk, t)
        # After closing, an idle counter with nothing left closes for the day.
        if t >= closes:
            for desk in desks.values():
                if desk.state == "idle":
                    try_call(desk, t)
    overtime = max([0.0] + [d.last_free - closes for d in desks.values()]) / 60
    if keep_db:
        _copy(store.path, keep_db)
    store.close()
    tmp.cleanup()
    result = DayResult(center=cfg.center.id, citizens=demand.citizens, seed=seed, opens=opens, closes=closes,
                       told=list(told.values()), refusals=refusals, desks=desks, overtime_minutes=overtime,
                       wrongful_refusals=0)
    result.wrongful_refusals = _wrongful(cfg, result, true_mean, served_by)
    result.overtime_underway_minutes = max([0.0] + [b - closes for desk in desks.values() for a, b in desk.busy
                                                    if a < closes < b]) / 60
    result.elapsed_seconds = wall.perf_counter() - started
    return result


#: a day's database and its WAL stay far below this (about 5 MB); less free in /dev/shm: the usual temp folder
_SCRATCH_BYTES = 256 << 20


def _scratch() -> str | None:
    """Where a day's throw-away database goes: memory (/dev/shm) when there is room, else the temp folder.

    It is the real store, file and WAL as at a center, only on a file system whose writes cost no
    disk bookkeeping (ext4's write path was about a tenth of a simulated day's CPU, by perf).
    """
    try:
        fs = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if fs.f_bavail * fs.f_frsize >= _SCRATCH_BYTES and os.access("/dev/shm", os.W_OK) else None


def _copy(path: str, target: str) -> None:
    import sqlite3

    src, dst = sqlite3.connect(path), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


def _wrongful(cfg: CenterConfig, r: DayResult, true_mean: dict[str, float], served_by: dict[str, list[int]]) -> int:
    """Refusals while a counter serving the service then stayed idle for over twice its service time before closing.

    A counter that has handled its ``daily_limit`` is not idle from then on: the limit is the center's
    policy, like a service's quota (a refusal for ``counters`` is what it looks like to a citizen).
    """
    bad = 0
    for t, service, scope in r.refusals:
        if scope == "service":       # a service's quota is policy, not counter time
            continue
        for n in served_by.get(service, ()):
            desk = r.desks[n]
            end = r.closes if desk.limit_at is None else max(t, min(r.closes, desk.limit_at))
            busy = sum(max(0.0, min(b, end) - max(a, t)) for a, b in desk.busy)
            pauses = sum(max(0.0, min(b1, end) - max(b0, t)) for b0, b1 in desk.breaks)
            if end - t - busy - pauses > 2 * true_mean[service]:
                bad += 1
                break
    return bad
