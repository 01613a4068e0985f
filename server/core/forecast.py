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
     citizen of its services without a place). Its calls are marked ``standby``: that
     guess moves on with the clock, so a citizen is told "waiting for a counter to open",
     never a time.
2. The counter that is free first (ties: the lower number) asks ``routing.pick_next`` for
   its next ticket among those still waiting, as of that moment, with its priority streak
   and its count of calls today as they will be then. Nothing eligible, or its daily limit
   reached: it drops out (the forecast knows of no future arrivals).
3. A called ticket occupies the counter for its learned slot; a counter never calls during
   one of its planned breaks (the call waits for the break's end).
4. "People ahead" of a ticket: the tickets called before it at the counters that can serve
   it, of any service.
5. The spread: each slot adds its variance to its counter's timeline, so a ticket's range
   widens with the number of slots ahead of it on the counter that takes it. Two more
   sources widen it with the horizon: an expected citizen may not come, or two may (a
   Poisson count: each adds its slot's mean squared as well as its variance), and the
   learned mean slot may itself be off, by the same amount for every slot of the service
   (:meth:`server.core.estimate.Durations.mean_var`), so ``c`` slots of it are off by ``c``
   times as much.

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
from collections import Counter as Tally, deque
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from operator import attrgetter, itemgetter
from typing import overload

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


class Expected(Sequence[Ticket]):
    """Expected tickets in order of issue time (then id), with what every play needs of them worked out once.

    The hall forecast's expected arrivals are kept for minutes and played on every issue:
    their issue times, their times per class and which desks may take them are taken here
    once, not on each play. Those of :meth:`stream` are made only when first asked for: a
    play mostly stops a few arrivals ahead, and a hundred tickets made every five minutes
    cost more than the plays that use them.
    """

    def __init__(self, tickets: Iterable[Ticket] = ()) -> None:
        made = sorted(tickets, key=_issue_order)
        self._made: list[Ticket | None] = list(made)
        self._kinds: list[tuple[str, str | None]] = []     # (service, priority group) of a stream's tickets
        self.times = [t.issued_at for t in made]
        self.ids: Container[int] = {t.id for t in made}
        self.by_class = _by_class(self.times, [(t.service, t.priority, t.target_counter) for t in made])
        # The desks' signature (number, services, standby) -> what the play derives from it and these
        # arrivals: the same few signatures come back on every issue for minutes.
        self.desks_seen: dict[tuple[tuple[int, tuple[str, ...], bool], ...], _DeskPlan] = {}

    @classmethod
    def stream(cls, times: list[float], kinds: list[tuple[str, str | None]]) -> Expected:
        """Tickets numbered ``EXPECTED + i``, issued at ``times[i]`` (in order), of ``kinds[i]`` (service,
        priority group)."""
        self = cls()
        self.times, self._kinds, self._made = times, kinds, [None] * len(times)
        self.ids = range(EXPECTED, EXPECTED + len(times))
        self.by_class = _by_class(times, [(service, priority, None) for service, priority in kinds])
        return self

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, i: int) -> Ticket: ...
    @overload
    def __getitem__(self, i: slice) -> list[Ticket]: ...

    def __getitem__(self, i: int | slice) -> Ticket | list[Ticket]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        t = self._made[i]
        if t is None:
            service, priority = self._kinds[i]
            t = self._made[i] = _blank((service, priority)).with_(id=EXPECTED + i, issued_at=self.times[i])
        return t

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None     # type: ignore[assignment]    # (like a list's)

    def first_after(self, now: float) -> int:
        """The index of the first ticket issued after ``now`` (the length if none is)."""
        return bisect.bisect_right(self.times, now)

    def after(self, now: float) -> list[Ticket]:
        """The tickets issued after ``now``, in order."""
        return self[self.first_after(now):]


#: (issue time, id): first come, first served. (A C-level key: plays sort on every issue.)
_issue_order = attrgetter("issued_at", "id")


def _by_class(times: Iterable[float], keys: Iterable[Klass]) -> dict[Klass, list[float]]:
    """Class -> its tickets' issue times, in order."""
    out: dict[Klass, list[float]] = {}
    for at, k in zip(times, keys):
        mine = out.get(k)
        if mine is None:
            mine = out[k] = []
        mine.append(at)
    return out


DeskSig = tuple[tuple[int, tuple[str, ...], bool], ...]    # (number, services, standby) of each desk in play


@dataclass(frozen=True)
class _Routes:
    """Who may take what, for one set of desks (see :func:`_routes`)."""

    # service -> the desks that may take its unnamed tickets (a standby desk: only if no active desk serves it)
    takers: dict[str, list[int]]
    # service -> every desk that serves it (for "people ahead")
    serving: dict[str, frozenset[int]]


_routes_memo: dict[DeskSig, _Routes] = {}


def _routes(sig: DeskSig) -> _Routes:
    """Who may take what among the desks of ``sig``: the same few signatures come back all day."""
    hit = _routes_memo.get(sig)
    if hit is None:
        if len(_routes_memo) > 256:
            _routes_memo.clear()
        active = {code for _, services, standby in sig if not standby for code in services}
        takers: dict[str, list[int]] = {}
        serving: dict[str, set[int]] = {}
        for n, services, standby in sig:
            for code in services:
                serving.setdefault(code, set()).add(n)
                if not (standby and code in active):
                    takers.setdefault(code, []).append(n)
        hit = _routes_memo[sig] = _Routes(takers, {code: frozenset(ns) for code, ns in serving.items()})
    return hit


_blanks: dict[tuple[str, str | None], Ticket] = {}


def _blank(k: tuple[str, str | None]) -> Ticket:
    """An expected ticket of class ``k`` (service, priority group), to be copied: copies of one blank ticket
    cost a third of a frozen dataclass's constructor, and about a hundred are made every five minutes."""
    hit = _blanks.get(k)
    if hit is None:
        if len(_blanks) > 4096:
            _blanks.clear()
        hit = _blanks[k] = Ticket(id=EXPECTED, token="", day="", letter="", seq_no=0, number="", service=k[0],
                                  original_service=k[0], status=Status.WAITING, issued_at=0.0, priority=k[1])
    return hit


_quotas_memo: tuple[CenterConfig, dict[str, float], float] | None = None


def _quotas(cfg: CenterConfig) -> tuple[dict[str, float], float]:
    """The services' quotas and their sum (at least 1), for the expected mix's prior."""
    global _quotas_memo
    hit = _quotas_memo
    if hit is None or hit[0] is not cfg:
        quotas = {s.code: float(s.quota) for s in cfg.services}
        hit = _quotas_memo = (cfg, quotas, sum(quotas.values()) or 1.0)
    return hit[1], hit[2]


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
    since = now - window
    recent = sum(1 for at, _, _ in issued if since <= at <= now)
    if recent == 0:
        return Expected()
    rate = recent / window
    prior_weight = 10.0
    quotas, total_quota = _quotas(cfg)
    counts: dict[tuple[str, str | None], float] = dict(Tally(map(itemgetter(1, 2), issued)))
    for code, q in quotas.items():
        counts[(code, None)] = counts.get((code, None), 0.0) + prior_weight * q / total_quota
    norm = len(issued) + prior_weight
    # One stream at the hall's rate; arrival i goes to the class whose next turn comes first,
    # a class with share p taking turns at 0.5/p, 1.5/p, ... (smooth weighted round robin):
    # a group that is 1 arrival in 20 is expected every 20th arrival from the start, not
    # once its own slow clock comes round.
    turns = [((0.5 * norm) / n, i, k) for i, (k, n) in enumerate(counts.items()) if n > 0]
    heapq.heapify(turns)
    times: list[float] = []
    kinds: list[tuple[str, str | None]] = []
    every = 1.0 / rate
    at = now + every / 2
    while at < until and turns:
        turn, i, k = turns[0]
        heapq.heapreplace(turns, (turn + norm / counts[k], i, k))   # (i is unique: the same turns as pop and push)
        times.append(at)
        kinds.append(k)
        at += every
    return Expected.stream(times, kinds)


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
    # Called by a counter that has not opened though it was due (a standby): when is unknown, so the
    # citizen is told "waiting for a counter to open", not the play's guess (which moves on with the clock).
    standby: bool = False


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


@dataclass(slots=True)
class _Desk:
    """A counter's state during the play."""

    counter: Counter
    free_at: float
    var: float
    breaks: list[tuple[float, float]]
    limit: int
    standby: bool = False
    calls: int = 0
    # The earliest start and the latest end of its breaks: a moment outside them needs no look at each.
    b_from: float = math.inf
    b_to: float = -math.inf
    load: dict[str, int] = field(default_factory=dict)    # service -> slots of it played on this desk

    def after_breaks(self, t: float) -> float:
        if not self.b_from <= t < self.b_to:
            return t
        for b0, b1 in self.breaks:
            if b0 <= t < b1:
                t = b1
        return t


@dataclass
class _DeskPlan:
    """What a play derives from its desks and the expected arrivals alone (kept on the :class:`Expected`)."""

    routes: _Routes
    classes: dict[int, list[Klass]]     # desk -> the expected arrivals' classes it may take
    arrivals: dict[int, list[float]] = field(default_factory=dict)   # desk -> those classes' times, sorted


_spans: dict[tuple[tuple[str, ...], str, str], list[tuple[float, float]]] = {}
DayBreaks = dict[int, tuple[list[tuple[float, float]], float, float]]
_day_breaks_memo: tuple[CenterConfig, str, DayBreaks] | None = None


def _day_breaks(cfg: CenterConfig, today: str) -> DayBreaks:
    """Counter number -> (its planned breaks on ``today``, their earliest start, their latest end); counters
    with none are left out. Every play asks, for every counter."""
    global _day_breaks_memo
    hit = _day_breaks_memo
    if hit is None or hit[0] is not cfg or hit[1] != today:
        table = {n: (spans, min(b0 for b0, _ in spans), max(b1 for _, b1 in spans))
                 for n in cfg.counters_by_number if (spans := break_spans(cfg, n, 0.0, today))}
        hit = _day_breaks_memo = (cfg, today, table)
    return hit[2]


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
    sig: list[tuple[int, tuple[str, ...], bool]] = []
    day_breaks = _day_breaks(cfg, today)
    by_number = cfg.counters_by_number
    for c in counters:
        number = c.number
        conf = by_number.get(number)
        if conf is None:
            continue
        live = c if c.day == today else c.with_(priority_streak=0, handled_today=0, services=conf.services)
        planned = day_breaks.get(number)
        breaks = planned[0] if planned is not None else []
        hand = held.get(number)
        if hand is None and live.state == CounterState.OPEN:
            # counter_available's answer for an open, free counter, without the call (every counter, every issue).
            free_at, var, standby = now, 0.0, False
        else:
            avail = counter_available(cfg, live, hand, durations, now, today, breaks)
            if avail is None:
                continue
            free_at, var, standby = avail
        desk = _Desk(live, free_at, var, breaks, conf.daily_limit, standby)
        if planned is not None:
            desk.b_from, desk.b_to = planned[1], planned[2]
            desk.free_at = desk.after_breaks(free_at)
        if desk.limit and live.handled_today >= desk.limit:
            limited.add(number)
            continue
        desks[number] = desk
        heap.append((desk.free_at, number))
        sig.append((number, live.services, standby))
    heapq.heapify(heap)     # keys (time, number) are unique: the same pops as pushing one by one

    ghost_ids = {g.id for g in ghosts}
    watched = set(watch) if only_ghosts else set()
    everyone = [*waiting, *ghosts]
    if not isinstance(arrivals, Expected):
        arrivals = Expected(a for a in arrivals if a.issued_at > now)
    # The expected tickets still to come are arrivals[next_coming:], issued at arrival_times[next_coming:].
    next_coming = arrivals.first_after(now)
    arrival_times = arrivals.times
    coming = next_coming < len(arrival_times)
    expected_ids = arrivals.ids
    # Tickets of one class (same service, priority group and named counter) are always
    # called oldest first: every routing key orders them by issue time. So each desk needs
    # to show routing only the head of each class it may take, which keeps a play of a
    # large hall to a few milliseconds.
    classes: dict[Klass, deque[Ticket]] = {}
    for t in sorted(everyone, key=_issue_order):
        k = (t.service, t.priority, t.target_counter)
        q = classes.get(k)
        if q is None:
            q = classes[k] = deque()
        q.append(t)
    # When each class gets its next expected arrival. (An Expected list's also holds those
    # already past, which changes nothing: they are looked up after the moment asked.)
    by_class = arrivals.by_class
    # Which classes each desk may take: the expected arrivals' part depends only on the desks
    # and the arrivals, so it is worked out once per Expected list (which lives for minutes);
    # the classes of the tickets here now are added per play. (Their order does not matter:
    # routing's keys end with the ticket id, so no two tickets tie.)
    desk_sig = tuple(sig)
    plan = arrivals.desks_seen.get(desk_sig)
    if plan is None:
        routes = _routes(desk_sig)
        plan_classes: dict[int, list[Klass]] = {n: [] for n in desks}
        for k in by_class:
            for n in ([k[2]] if k[2] is not None else routes.takers.get(k[0], ())):
                if n in plan_classes:
                    plan_classes[n].append(k)
        plan = _DeskPlan(routes, plan_classes)
        if len(arrivals.desks_seen) > 64:
            arrivals.desks_seen.clear()
        arrivals.desks_seen[desk_sig] = plan
    routes = plan.routes
    takers = routes.takers
    desk_classes = dict(plan.classes)     # (the lists are shared: a desk's list is replaced, never changed)
    for k in classes:
        if k in by_class:
            continue
        for n in ([k[2]] if k[2] is not None else takers.get(k[0], ())):
            mine = desk_classes.get(n)
            if mine is not None:
                desk_classes[n] = [*mine, k]
    # When each desk could next get an expected arrival (for a desk that finds nothing now).
    desk_arrivals = plan.arrivals

    def heads(n: int) -> list[Ticket]:
        # (A used-up class of the tickets here now stays listed: a few empty looks cost less than pruning.)
        return [q[0] for k in desk_classes[n] if (q := classes.get(k))]

    def take(t: Ticket) -> None:
        q = classes[(t.service, t.priority, t.target_counter)]
        assert q[0] is t, "routing picked a ticket behind an older one of its class"
        q.popleft()

    def ahead_of(t: Ticket) -> int:
        """Tickets called so far at the counters that can serve ``t`` (only desks call)."""
        if t.target_counter is not None:
            return called_at_counter.get(t.target_counter, 0)
        serving = routes.serving.get(t.service, frozenset())
        return sum(v for m, v in called_at_counter.items() if m in serving)

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
        while next_coming < len(arrival_times) and arrival_times[next_coming] <= t_free:
            a = arrivals[next_coming]
            k = (a.service, a.priority, a.target_counter)
            q = classes.get(k)
            if q is None:
                q = classes[k] = deque()
            q.append(a)
            next_coming += 1
        while True:
            shown = heads(n)
            pick = pick_next(cfg, desk.counter, shown, t_free) if shown else None
            if pick is None or pick.id not in ghost_ids:
                break
            # A ghost: note when it would be called, and let the counter pick again.
            take(pick)
            ghosts_left -= 1
            mean, var = durations.of(n, pick.service)
            ahead = ahead_of(pick)
            calls[pick.id] = Call(pick.id, t_free, n, ahead, math.sqrt(desk.var), t_free + mean,
                                  math.sqrt(desk.var + var), desk.standby)
        if pick is None:
            if not coming:
                continue
            later = desk_arrivals.get(n)
            if later is None:
                later = desk_arrivals[n] = sorted(chain.from_iterable([by_class[k] for k in plan.classes[n]]))
            if later:
                i = bisect.bisect_right(later, t_free)
                if i < len(later):
                    heapq.heappush(heap, (desk.after_breaks(later[i]), n))
            continue
        take(pick)
        mean, var, mean_var = durations.slot(n, pick.service)
        is_expected = pick.id in expected_ids
        if not is_expected:     # an expected citizen takes the counter, is nobody's "ahead" yet
            if not only_ghosts or pick.id in watched:   # the issuing path needs only its own tickets' calls
                if only_ghosts:
                    ghosts_left -= 1
                ahead = ahead_of(pick)
                calls[pick.id] = Call(pick.id, t_free, n, ahead, math.sqrt(desk.var), t_free + mean,
                                      math.sqrt(desk.var + var), desk.standby)
            called_at_counter[n] = called_at_counter.get(n, 0) + 1
        c = desk.counter
        streak = c.priority_streak + 1 if pick.priority else 0
        if streak != c.priority_streak:
            # A plain constructor: dataclasses.replace costs more than the routing itself here.
            # (Routing reads only the streak; the day's count is kept on the desk.)
            desk.counter = Counter(c.number, c.state, c.reason, c.operator, c.ticket_id, c.since, c.services,
                                   streak, c.handled_today, c.day)
        # The spread of the desk's timeline (see the module's docstring, 5): each slot's own variance; an
        # expected citizen's count too (a Poisson count of mean c with slots of (mean, var) varies by
        # c (mean² + var), a compound Poisson sum, so each one the desk takes adds mean², not nought); and the
        # learned mean's own error, the same for every slot of the service, so c slots of it are off by c
        # times it: going from c to c + 1 adds (2c + 1) times its variance.
        load = desk.load
        c_s = load.get(pick.service, 0)
        load[pick.service] = c_s + 1
        desk.var += var + (2 * c_s + 1) * mean_var + (mean * mean if is_expected else 0.0)
        desk.calls += 1
        if desk.limit and desk.counter.handled_today + desk.calls >= desk.limit:
            limited.add(n)
            continue
        desk.free_at = desk.after_breaks(t_free + mean)
        heapq.heappush(heap, (desk.free_at, n))
    unreachable = frozenset(t.id for t in everyone if t.id not in calls) if not only_ghosts else \
        frozenset(g for g in ghost_ids | watched if g not in calls)
    return Forecast(now=now, calls=calls, unreachable=unreachable, limited=frozenset(limited), cut=cut)
