"""The hall forecast: when every waiting ticket will be called, and by which counter.

It plays the real routing forward in time (pure Python, no store):

1. Each counter becomes free at a known moment:
   - open with a ticket in hand: when that ticket's slot is expected to end: what is left of
     a slot of the learned length for its service at this counter that has already run so
     long (:func:`server.core.estimate.remaining`: one that is past its mean is likely a
     long one);
   - open and free: now;
   - paused: at the end of its planned break if the pause falls in one, else
     ``policy.pause_minutes`` after the pause began (at least a minute from now);
   - closed after calling citizens today: not at all (it is out for the day);
   - closed and not yet opened today: at opening time (or now), until
     ``policy.late_open_minutes`` after opening. Later it is a *standby* counter: taken to
     open ``late_open_minutes`` from now, and only for tickets that no open counter can
     serve (so an unstaffed desk neither makes the others' waits look short nor leaves a
     citizen of its services without an answer).
2. The counter that is free first (ties: the lower number) asks ``routing.pick_next`` for
   its next ticket among those still waiting, as of that moment, with its priority streak
   and its count of calls today as they will be then. Nothing eligible, or its daily limit
   reached: it drops out (the forecast knows of no future arrivals).
3. A called ticket occupies the counter for its learned slot; a counter never calls during
   one of its planned breaks (the call waits for the break's end).
4. "People ahead" of a ticket: the tickets called before it at the counters that can serve
   it, of any service.
5. The spread: each slot adds its variance to its counter's timeline, so a ticket's range
   widens with the number of slots ahead of it on the counter that takes it.

*Ghost* tickets ask "when would a new ticket of this service be called?": routing sees
them like real ones, but picking a ghost records the moment and does not occupy the
counter, so ghosts change nothing for the real tickets nor for each other. That is exact:
until a ticket is picked, its presence does not change any other pick.

The same play decides capacity (:mod:`server.core.capacity`) and is what
``novbe simulate`` measures against what then happens.
"""
from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from config.schema import CenterConfig
from server.core import clock
from server.core.estimate import Durations, remaining
from server.core.model import Counter, CounterState, Status, Ticket
from server.core.routing import pick_next


#: Expected (future) tickets' ids start here.
EXPECTED = 1 << 59
#: How far ahead expected arrivals are placed, and the window their rate is taken from.
EXPECT_HORIZON = 2 * 3600.0
RATE_WINDOW = 3600.0


Klass = tuple[str, "str | None", "int | None"]    # (service, priority group, named counter)


class Expected(list[Ticket]):
    """Expected tickets in order of issue time (then id), with what every play needs of them worked out once.

    The hall forecast's expected arrivals are kept for minutes and played on every issue:
    their issue times and their times per class are taken here once, not on each play.
    """

    def __init__(self, tickets: Iterable[Ticket] = ()) -> None:
        super().__init__(sorted(tickets, key=_issue_order))
        self.times = [t.issued_at for t in self]
        self.by_class: dict[Klass, list[float]] = {}
        for t in self:
            self.by_class.setdefault((t.service, t.priority, t.target_counter), []).append(t.issued_at)

    def after(self, now: float) -> list[Ticket]:
        """The tickets issued after ``now``, in order."""
        return self[bisect.bisect_right(self.times, now):]


def _issue_order(t: Ticket) -> tuple[float, int]:
    return t.issued_at, t.id


_by_service: dict[tuple[tuple[int, tuple[str, ...]], ...], dict[str, list[int]]] = {}


def _desks_of_service(desks: tuple[tuple[int, tuple[str, ...]], ...]) -> dict[str, list[int]]:
    """Service -> the desks (of ``desks``: number, services) that serve it; the same few sets all day."""
    hit = _by_service.get(desks)
    if hit is None:
        if len(_by_service) > 256:
            _by_service.clear()
        hit = _by_service[desks] = {}
        for n, services in desks:
            for code in services:
                hit.setdefault(code, []).append(n)
    return hit


def expected_arrivals(cfg: CenterConfig, issued: Sequence[tuple[float, str, str | None]], now: float,
                      until: float) -> Expected:
    """Tickets expected between now and ``until``, at today's rate, by service and priority group.

    ``issued`` are today's (issue time, service, priority group). The hall's rate is the
    last hour's (or since opening, at least a quarter of an hour); its mix is today's, with
    the services' quotas as a prior while the day is young. Arrivals are placed evenly
    (a class expected 2.4 times an hour comes every 25 minutes, the first after 12.5).
    """
    until = min(until, now + EXPECT_HORIZON)
    opens = clock.opening_time(cfg, now)
    if until <= now or opens is None:
        return Expected()
    window = max(900.0, min(RATE_WINDOW, now - opens))
    recent = sum(1 for at, _, _ in issued if now - window <= at <= now)
    if recent == 0:
        return Expected()
    rate = recent / window
    prior_weight = 10.0
    quotas = {s.code: float(s.quota) for s in cfg.services}
    total_quota = sum(quotas.values()) or 1.0
    counts: dict[tuple[str, str | None], float] = {}
    for _, service, priority in issued:
        counts[(service, priority)] = counts.get((service, priority), 0.0) + 1
    for code, q in quotas.items():
        counts[(code, None)] = counts.get((code, None), 0.0) + prior_weight * q / total_quota
    norm = len(issued) + prior_weight
    # One stream at the hall's rate; arrival i goes to the class whose next turn comes first,
    # a class with share p taking turns at 0.5/p, 1.5/p, ... (smooth weighted round robin):
    # a group that is 1 arrival in 20 is expected every 20th arrival from the start, not
    # once its own slow clock comes round.
    turns = [((0.5 * norm) / n, i, k) for i, (k, n) in enumerate(counts.items()) if n > 0]
    heapq.heapify(turns)
    out: list[Ticket] = []
    every = 1.0 / rate
    at = now + every / 2
    while at < until and turns:
        turn, i, (service, priority) = heapq.heappop(turns)
        heapq.heappush(turns, (turn + norm / counts[(service, priority)], i, (service, priority)))
        out.append(Ticket(id=EXPECTED + len(out), token="", day="", letter="", seq_no=0, number="",
                          service=service, original_service=service, status=Status.WAITING, issued_at=at,
                          priority=priority))
        at += every
    return Expected(out)


#: Ghost tickets' ids start here, above any real ticket's, so a ghost issued "now" is
#: behind every real ticket issued at the same second (first come, first served).
GHOST = 1 << 60


@dataclass(frozen=True)
class Call:
    """Where and when one ticket is forecast to be called."""

    ticket_id: int
    at: float            # epoch seconds
    counter: int
    ahead: int           # tickets called before it at the counters that can serve it
    sigma: float         # seconds: the spread of ``at``
    ends: float          # when its slot is expected to end (for capacity)
    ends_sigma: float = 0.0   # seconds: the spread of ``ends``


@dataclass(frozen=True)
class Forecast:
    """The outcome of one play: a call per reachable ticket, and the ones nobody will call."""

    now: float
    calls: dict[int, Call] = field(default_factory=dict)
    unreachable: frozenset[int] = frozenset()
    # Counters that dropped out at their daily limit.
    limited: frozenset[int] = frozenset()
    cut: bool = False      # the play stopped at its horizon with tickets still unplaced

    def wait_seconds(self, ticket_id: int) -> float | None:
        """Seconds from now to the ticket's call, or None if no counter will call it."""
        call = self.calls.get(ticket_id)
        return None if call is None else max(0.0, call.at - self.now)


@dataclass
class _Desk:
    """A counter's state during the play."""

    counter: Counter
    free_at: float
    var: float
    breaks: list[tuple[float, float]]
    limit: int
    standby: bool = False
    calls: int = 0

    def after_breaks(self, t: float) -> float:
        for b0, b1 in self.breaks:
            if b0 <= t < b1:
                t = b1
        return t


_spans: dict[tuple[tuple[str, ...], str, str], list[tuple[float, float]]] = {}


def break_spans(cfg: CenterConfig, number: int, now: float, today: str | None = None) -> list[tuple[float, float]]:
    """Counter ``number``'s planned breaks today (``today``: the business day of ``now``, if known), as epoch seconds."""
    conf = cfg.counters_by_number.get(number)
    if conf is None or not conf.breaks:
        return []
    if today is None:
        today = clock.local(now, cfg.tz).date().isoformat()
    key = (conf.breaks, cfg.center.timezone, today)
    hit = _spans.get(key)
    if hit is None:
        d = date.fromisoformat(today)
        if len(_spans) > 4096:
            _spans.clear()
        hit = _spans[key] = [(datetime.combine(d, a, tzinfo=cfg.tz).timestamp(),
                              datetime.combine(d, b, tzinfo=cfg.tz).timestamp()) for a, b in conf.break_spans]
    return hit


def counter_available(cfg: CenterConfig, c: Counter, held: Ticket | None, durations: Durations, now: float,
                      today: str, breaks: list[tuple[float, float]]) -> tuple[float, float, bool] | None:
    """(when the counter is free to call, variance of that moment, standby), or None if it will not call today."""
    p = cfg.policy
    if c.state == CounterState.CLOSED:
        if c.day == today and c.handled_today > 0:
            return None
        opens = clock.opening_time(cfg, now)
        if opens is None:
            return None
        late = p.late_open_minutes * 60
        if now <= opens + late:
            return max(now, opens), 0.0, False
        return now + late, late ** 2, True
    if c.state == CounterState.PAUSED:
        for b0, b1 in breaks:
            if b0 <= now < b1:
                return b1, 0.0, False
        return max(c.since + p.pause_minutes * 60, now + 60), (p.pause_minutes * 60 / 3) ** 2, False
    if held is not None and held.status in (Status.CALLED, Status.SERVING):
        mean, var = durations.of(c.number, held.service)
        left, var_left = remaining(mean, var, now - (held.called_at or c.since))
        return now + left, var_left, False
    return now, 0.0, False


def play(cfg: CenterConfig, now: float, counters: Sequence[Counter], held: dict[int, Ticket],
         waiting: Iterable[Ticket], durations: Durations, *, ghosts: Sequence[Ticket] = (),
         only_ghosts: bool = False, today: str | None = None, horizon: float | None = None,
         arrivals: Sequence[Ticket] = (), watch: Iterable[int] = ()) -> Forecast:
    """Play the routing forward from ``now`` and forecast every waiting ticket's call.

    ``counters`` are the counters' live states (``Counter.day`` as stored, so that a
    counter closed today is told from one not yet opened); ``held`` maps a counter number
    to the ticket in its hands. With ``only_ghosts``, the play stops once every ghost is
    placed, and so are the real tickets named in ``watch`` (tickets being issued: the issuing
    path needs no more); with ``horizon``, it stops at that moment
    (issuing needs no call later than closing time plus the grace). ``arrivals`` are
    *expected* tickets (issued in the future, e.g. at today's rate per service and priority
    group): each joins the queue at its issue time and takes a counter like a real one, so
    the forecast knows that a later priority citizen, or one of a service a counter prefers,
    will go first. They are not reported.
    """
    today = today or clock.business_day(now, cfg.tz)
    limited: set[int] = set()
    desks: dict[int, _Desk] = {}
    heap: list[tuple[float, int]] = []
    for c in counters:
        conf = cfg.counters_by_number.get(c.number)
        if conf is None:
            continue
        live = c if c.day == today else c.with_(priority_streak=0, handled_today=0, services=conf.services)
        breaks = break_spans(cfg, c.number, now, today)
        avail = counter_available(cfg, live, held.get(c.number), durations, now, today, breaks)
        if avail is None:
            continue
        free_at, var, standby = avail
        desk = _Desk(live, 0.0, var, breaks, conf.daily_limit, standby=standby)
        desk.free_at = desk.after_breaks(free_at)
        if desk.limit and live.handled_today >= desk.limit:
            limited.add(c.number)
            continue
        desks[c.number] = desk
        heapq.heappush(heap, (desk.free_at, c.number))

    tickets = list(waiting)
    ghost_ids = {g.id for g in ghosts}
    watched = set(watch) if only_ghosts else set()
    everyone = tickets + list(ghosts)
    if isinstance(arrivals, Expected):
        coming = arrivals.after(now)
    else:
        coming = sorted((a for a in arrivals if a.issued_at > now), key=_issue_order)
    expected_ids = {a.id for a in coming}
    # Tickets of one class (same service, priority group and named counter) are always
    # called oldest first: every routing key orders them by issue time. So each desk needs
    # to show routing only the head of each class it may take, which keeps a play of a
    # large hall to a few milliseconds.
    classes: dict[tuple[str, str | None, int | None], list[Ticket]] = {}
    for t in sorted(everyone, key=_issue_order):
        classes.setdefault((t.service, t.priority, t.target_counter), []).append(t)
    # When each class gets its next expected arrival. (An Expected list's also holds those
    # already past, which changes nothing: they are looked up after the moment asked.)
    by_class: dict[Klass, list[float]]
    if isinstance(arrivals, Expected):
        by_class = arrivals.by_class
    else:
        by_class = {}
        for t in coming:
            by_class.setdefault((t.service, t.priority, t.target_counter), []).append(t.issued_at)
    for k in by_class:
        classes.setdefault(k, [])
    head = {k: 0 for k in classes}
    active = [d for d in desks.values() if not d.standby]
    active_numbers = {d.counter.number for d in active}
    active_services = {code for d in active for code in d.counter.services}
    desk_classes: dict[int, list[tuple[str, str | None, int | None]]] = {n: [] for n in desks}
    desks_of_service = _desks_of_service(tuple((n, desk.counter.services) for n, desk in desks.items()))
    for k in classes:
        named = k[2]
        for n in ([named] if named is not None else desks_of_service.get(k[0], [])):
            desk_n = desks.get(n)
            if desk_n is None:
                continue
            if desk_n.standby and (named in active_numbers if named is not None else k[0] in active_services):
                continue
            desk_classes[n].append(k)
    # When each desk could next get an expected arrival (for a desk that finds nothing now).
    desk_arrivals: dict[int, list[float]] = {}

    def arrivals_for(n: int) -> list[float]:
        hit = desk_arrivals.get(n)
        if hit is None:
            hit = desk_arrivals[n] = sorted(x for k in desk_classes[n] for x in by_class.get(k, ()))
        return hit
    next_coming = 0

    def heads(n: int) -> list[Ticket]:
        out = []
        keep = []
        for k in desk_classes[n]:
            lst = classes[k]
            i = head[k]
            if i < len(lst):
                out.append(lst[i])
                keep.append(k)
            elif not by_class.get(k):
                continue        # exhausted for good: nothing more will join this class
            else:
                keep.append(k)
        if len(keep) != len(desk_classes[n]):
            desk_classes[n] = keep
        return out

    def take(t: Ticket) -> None:
        k = (t.service, t.priority, t.target_counter)
        assert classes[k][head[k]] is t, "routing picked a ticket behind an older one of its class"
        head[k] += 1

    # Which counters can serve a ticket: for "people ahead".
    serve_sets: dict[str, tuple[int, ...]] = {}
    all_numbers = [c.number for c in counters]
    services_of = {c.number: (c.services if c.day == today else cfg.counters_by_number[c.number].services)
                   for c in counters if c.number in cfg.counters_by_number}

    def servers(t: Ticket) -> tuple[int, ...]:
        if t.target_counter is not None:
            return (t.target_counter,)
        hit = serve_sets.get(t.service)
        if hit is None:
            hit = serve_sets[t.service] = tuple(n for n in all_numbers if t.service in services_of.get(n, ()))
        return hit

    calls: dict[int, Call] = {}
    called_at_counter: dict[int, int] = {}
    ghosts_left = len(ghost_ids) + len(watched)
    cut = False
    while heap:
        if only_ghosts and ghosts_left == 0:
            break
        if horizon is not None and heap[0][0] > horizon:
            cut = True
            break
        t_free, n = heapq.heappop(heap)
        desk = desks[n]
        while next_coming < len(coming) and coming[next_coming].issued_at <= t_free:
            a = coming[next_coming]
            classes[(a.service, a.priority, a.target_counter)].append(a)
            next_coming += 1
        while True:
            pick = pick_next(cfg, desk.counter, heads(n), t_free)
            if pick is None or pick.id not in ghost_ids:
                break
            # A ghost: note when it would be called, and let the counter pick again.
            take(pick)
            ghosts_left -= 1
            mean, var = durations.of(n, pick.service)
            ahead = sum(called_at_counter.get(m, 0) for m in servers(pick))
            calls[pick.id] = Call(pick.id, t_free, n, ahead, math.sqrt(desk.var), t_free + mean,
                                  math.sqrt(desk.var + var))
        if pick is None:
            later = arrivals_for(n) if coming else None
            if later:
                i = bisect.bisect_right(later, t_free)
                if i < len(later):
                    heapq.heappush(heap, (desk.after_breaks(later[i]), n))
            continue
        take(pick)
        mean, var = durations.of(n, pick.service)
        if pick.id not in expected_ids:     # an expected citizen takes the counter, is nobody's "ahead" yet
            if not only_ghosts or pick.id in watched:   # the issuing path needs only its own tickets' calls
                if only_ghosts:
                    ghosts_left -= 1
                ahead = sum(called_at_counter.get(m, 0) for m in servers(pick))
                calls[pick.id] = Call(pick.id, t_free, n, ahead, math.sqrt(desk.var), t_free + mean,
                                      math.sqrt(desk.var + var))
            called_at_counter[n] = called_at_counter.get(n, 0) + 1
        c = desk.counter
        streak = c.priority_streak + 1 if pick.priority else 0
        if streak != c.priority_streak:
            # A plain constructor: dataclasses.replace costs more than the routing itself here.
            # (Routing reads only the streak; the day's count is kept on the desk.)
            desk.counter = Counter(c.number, c.state, c.reason, c.operator, c.ticket_id, c.since, c.services,
                                   streak, c.handled_today, c.day)
        desk.var += var
        desk.calls += 1
        if desk.limit and desk.counter.handled_today + desk.calls >= desk.limit:
            limited.add(n)
            continue
        desk.free_at = desk.after_breaks(t_free + mean)
        heapq.heappush(heap, (desk.free_at, n))
    unreachable = frozenset(t.id for t in everyone if t.id not in calls) if not only_ghosts else \
        frozenset(g for g in ghost_ids | watched if g not in calls)
    return Forecast(now=now, calls=calls, unreachable=unreachable, limited=frozenset(limited), cut=cut)
