"""The queue's verbs: one function per state change, each one store transaction.

Each verb takes the store first, raises a :class:`~server.core.errors.QueueError` when the
change is refused (then nothing is written and nothing is published), and appends its
domain events to the store's event log inside the same transaction. Permissions, HTTP and
Socket.IO live elsewhere.
"""
from __future__ import annotations

import secrets
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from config.schema import CenterConfig, Service
from server.core import capacity, clock, estimate, forecast, machine
from server.core.errors import (
    QueueError, CapacityReached, CenterClosed, CounterBusy, CounterClosed, CounterIdle, CounterLimitReached,
    CounterPaused, IllegalTransition, InvalidRequest, NoTicketsWaiting, NotAllowed,
    RecallLimitReached, UnknownCounter, UnknownService, UnknownTicket,
)
from server.core.model import (
    Counter, CounterChanged, CounterState, Issued, PriorityVerified, ServiceStarted, Status,
    Ticket, TicketCalled, TicketCancelled, TicketFinished, TicketIssued, TicketNoShow,
    TicketEvent, TicketParked, TicketRecalled, TicketReturned, TicketTransferred,
)
from server.core import housekeeping
from server.core.ports import Store, Tx
from server.core.routing import eligible, pick_next

# --- helpers ---------------------------------------------------------------


def _service(cfg: CenterConfig, code: str) -> Service:
    try:
        return cfg.services_by_code[code]
    except KeyError:
        from difflib import get_close_matches

        near = get_close_matches(code, list(cfg.services_by_code), n=1)
        raise UnknownService(
            f"no service {code!r} at this center" + (f" (did you mean {near[0]!r}?)" if near else ""),
            service=code,
        ) from None


def _check_counter_number(cfg: CenterConfig, number: int) -> None:
    if number not in cfg.counters_by_number:
        raise UnknownCounter(f"no counter {number} at this center", counter=number)


def _fresh(cfg: CenterConfig, c: Counter, day: str) -> Counter:
    """The counter as of ``day``: a new business day resets its figures and its services."""
    if c.day == day:
        return c
    return c.with_(day=day, handled_today=0, priority_streak=0, services=cfg.counters_by_number[c.number].services)


def _today_counter(cfg: CenterConfig, tx: Tx, number: int, day: str) -> Counter:
    """The counter, with its daily figures reset when the business day has turned."""
    return _fresh(cfg, tx.get_counter(number), day)


def live_counters(cfg: CenterConfig, tx: Tx, day: str, service: str | None = None) -> list[Counter]:
    """Every configured counter as of ``day`` (only those serving ``service``, if given)."""
    out = []
    for c in tx.counters(service):
        conf = cfg.counters_by_number.get(c.number)
        if conf is None:
            continue
        if service is not None and service not in (c.services if c.day == day else conf.services):
            continue
        out.append(_fresh(cfg, c, day))
    return out


# --- the hall forecast's inputs --------------------------------------------------

_durations: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()
_forecasts: "weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], forecast.Forecast]]" = weakref.WeakKeyDictionary()


#: Below this many finished tickets today, every finish teaches the forecast at once.
RELEARN_EVERY_UNTIL = 30


def learned_durations(store: Store, tx: Tx, day: str) -> estimate.Durations:
    """Slot durations learned from today's and recent days' finished tickets (cached per store)."""
    cfg = store.cfg
    memo = _durations.setdefault(store, {})
    # One immutable entry, replaced whole: request threads may read it while another replaces it.
    hit = memo.get("durations")
    if hit is None or hit[0] != day:
        first = (date.fromisoformat(day) - timedelta(days=cfg.policy.history_days)).isoformat()
        past = tx.finished_slots(first, day) if cfg.policy.history_days else []
        hit = (day, past, None, None, 0.0)
    count = tx.count_finished(day)
    value = hit[3]
    now = store.clock()
    # Learned again after each finished ticket while there are few; then once a tenth more have
    # finished, or ten minutes on (one more of hundreds of slots moves the means by little, and
    # learning costs a scan of the day).
    if value is None or (hit[2] != count and (count < RELEARN_EVERY_UNTIL or count >= 1.1 * (hit[2] or 0)
                                              or now - hit[4] >= 600)):
        value = estimate.learn(cfg, [*tx.finished_slots(day, None), *hit[1]])
        memo["durations"] = (day, hit[1], count, value, now)
    return value  # type: ignore[no-any-return]


def expected(store: Store, tx: Tx, now: float, day: str) -> Sequence[Ticket]:
    """Tickets expected later today at today's rate (worked out again every five minutes, per store)."""
    cfg = store.cfg
    closes = clock.closing_time(cfg, now)
    if closes is None or now >= closes.timestamp():
        return []
    # Rates move slowly (an hour's window): the expected arrivals are worked out every five minutes;
    # those whose time has passed are left out by the play.
    key = (day, int(now // 300))
    memo = _durations.setdefault(store, {})
    hit = memo.get("expected")
    if hit is not None and hit[0] == key:
        return hit[1]  # type: ignore[no-any-return]
    value = forecast.expected_arrivals(cfg, tx.issued_today(day), now, closes.timestamp())
    memo["expected"] = (key, value)
    return value


def hall_forecast(store: Store, tx: Tx, now: float, day: str, *, ghosts: Sequence[Ticket] = (),
                  only_ghosts: bool = False, horizon: float | None = None,
                  with_arrivals: bool = True, counters: list[Counter] | None = None,
                  extra: Sequence[Ticket] = (), watch: Sequence[int] = ()) -> forecast.Forecast:
    """The forecast of the whole hall as stored in ``tx`` (see :mod:`server.core.forecast`).

    ``with_arrivals``: count on the citizens expected later today at today's rate (what a
    citizen should be told); without, the play knows only who is here now.
    """
    if counters is None:
        counters = tx.counters()
    held = tx.held_tickets()
    coming = expected(store, tx, now, day) if with_arrivals else []
    waiting = tx.waiting_all(day)
    if extra:
        waiting = [*waiting, *extra]
    return forecast.play(store.cfg, now, counters, held, waiting, learned_durations(store, tx, day),
                         ghosts=ghosts, only_ghosts=only_ghosts, today=day, horizon=horizon, arrivals=coming,
                         watch=watch)


def cached_forecast(store: Store, tx: Tx, now: float, day: str) -> forecast.Forecast:
    """The hall forecast for read-only screens: played again after every event, or every 15 s."""
    key = (tx.last_seq(), day, int(now // 15))
    hit = _forecasts.get(store)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = hall_forecast(store, tx, now, day)
    _forecasts[store] = (key, value)
    return value


# Why a wait has no figure, as the API says it (``eta_reason``): only a counter that has not opened
# yet, though it was due, would call it (when is not known); or no counter will call it today as
# things stand (its counters are out for the day or at their daily limit, or the day is over).
COUNTER_NOT_OPEN = "counter_not_open"
NO_COUNTER_TODAY = "no_counter_today"


@dataclass(frozen=True)
class Wait:
    """What a citizen is told: people ahead and the wait as a central figure and a range."""

    ahead: int
    eta_minutes: int | None       # None: see reason
    low: int | None = None
    high: int | None = None
    at: float | None = None       # forecast call time, epoch seconds
    reason: str | None = None     # COUNTER_NOT_OPEN or NO_COUNTER_TODAY when eta_minutes is None


def wait_of(fc: forecast.Forecast, ticket_id: int) -> Wait:
    """The wait of one ticket (or ghost) in a forecast."""
    call = fc.calls.get(ticket_id)
    if call is None:
        return Wait(ahead=0, eta_minutes=None, reason=NO_COUNTER_TODAY)
    if call.standby:        # only a counter that has not opened serves it: when is not known
        return Wait(ahead=call.ahead, eta_minutes=None, reason=COUNTER_NOT_OPEN)
    central, low, high = estimate.minutes_range(call.at - fc.now, call.sigma)
    return Wait(ahead=call.ahead, eta_minutes=central, low=low, high=high, at=call.at)


def ghost(service: str, now: float, *, priority: str | None = None, ghost_id: int = forecast.GHOST) -> Ticket:
    """A would-be ticket of ``service`` issued now, for "what if" forecasts."""
    return Ticket(id=ghost_id, token="", day="", letter="", seq_no=0, number="", service=service,
                  original_service=service, status=Status.WAITING, issued_at=now, priority=priority)


def service_waits(store: Store, tx: Tx, now: float, day: str) -> dict[str, Wait]:
    """For every service: the wait of a new ordinary ticket issued now (cached like the forecast)."""
    return {code: w for code, (w, _) in service_outlook(store, tx, now, day).items()}


def service_outlook(store: Store, tx: Tx, now: float, day: str) -> dict[str, tuple[Wait, capacity.Refusal | None]]:
    """For every service: a new ordinary ticket's wait, and the refusal issuing it now would meet (if any).

    The rules of :mod:`server.core.capacity`, in their order, from today's counts and one play
    with a ghost per service; cached per event and 15 s.
    """
    cfg = store.cfg
    key = ("services", tx.last_seq(), day, int(now // 15))
    memo = _durations.setdefault(store, {})
    hit = memo.get("service_outlook")
    if hit is not None and hit[0] == key:
        return hit[1]  # type: ignore[no-any-return]
    codes = [s.code for s in cfg.services]
    ghosts = [ghost(code, now, ghost_id=forecast.GHOST + i) for i, code in enumerate(codes)]
    closes = clock.closing_time(cfg, now)
    horizon = closes.timestamp() + cfg.policy.closing_grace_minutes * 60 if closes else None
    counters = tx.counters()
    fc = hall_forecast(store, tx, now, day, ghosts=ghosts, only_ghosts=True, horizon=horizon, counters=counters)
    issued_today = tx.daily_count(day, "center", "")
    closes_at = closes.timestamp() if closes else None
    servers = {code: {c.number for c in counters if code in _services_today(cfg, c, day)} for code in codes}
    # As issuing judges: a refusal by counter time needs the citizens who are here, not those expected.
    doubtful = [g for code, g in zip(codes, ghosts) if capacity.judge_ghost(cfg, fc, g.id, servers[code], closes_at)]
    doubtful_ids = {g.id for g in doubtful}
    bare = hall_forecast(store, tx, now, day, ghosts=doubtful, only_ghosts=True, horizon=horizon, counters=counters,
                         with_arrivals=False) if doubtful else fc
    value = {}
    for code, g in zip(codes, ghosts):
        svc = cfg.services_by_code[code]
        refusal = (capacity.judge_counts(cfg, svc, issued_today, tx.daily_count(day, "service", code))
                   or capacity.judge_ghost(cfg, bare if g.id in doubtful_ids else fc, g.id, servers[code], closes_at))
        value[code] = (wait_of(fc if g.id in fc.calls else bare, g.id), refusal)
    memo["service_outlook"] = (key, value)
    return value


# --- issuing -----------------------------------------------------------------


@dataclass(frozen=True)
class IssueRequest:
    """One citizen's request for a ticket (see :func:`issue_tickets`)."""

    service: str
    kiosk: str | None = None
    lang: str = "az"
    priority: str | None = None
    printer: str | None = None
    large_print: bool = False      # the print job prints the number in large type (accessible mode)


def issue_ticket(
    store: Store, service: str, *, kiosk: str | None = None, lang: str = "az",
    priority: str | None = None, printer: str | None = None, large_print: bool = False,
) -> Issued:
    """Issue the next ticket for ``service`` if the day's limits and the counters' time allow it.

    ``large_print``: the print job prints the number in large type (the accessible kiosk mode),
    decided in the same transaction so the printer never sees the job without it.
    """
    got = issue_tickets(store, [IssueRequest(service, kiosk, lang, priority, printer, large_print)])[0]
    if isinstance(got, QueueError):
        raise got
    return got


def _check_request(cfg: CenterConfig, r: IssueRequest) -> Service:
    svc = _service(cfg, r.service)
    if r.lang not in cfg.center.languages:
        raise InvalidRequest(f"language {r.lang!r} is not offered here", field="lang")
    if r.priority is not None:
        if r.priority not in cfg.groups_by_code:
            raise InvalidRequest(f"unknown priority group {r.priority!r}", field="priority")
        if r.priority not in svc.priority_groups:
            raise InvalidRequest(f"priority group {r.priority!r} does not apply to {svc.code}", field="priority")
    return svc


def issue_tickets(store: Store, requests: Sequence[IssueRequest]) -> list[Issued | QueueError]:
    """Issue tickets for requests that arrived together (kiosks racing), in order, in one transaction.

    Each request gets its ticket or its own refusal: a bad request does not affect the others.
    The rules are :mod:`server.core.capacity`'s, judged inside the write transaction, so
    kiosks racing for the last slot cannot both get it. The tickets being issued are placed
    by one play of the hall forecast as real tickets, so each citizen is told the call that
    the hall forecast right after issuing has: a priority citizen of the same moment goes
    first there, as in the hall. (For one request this is the same as placing it as a ghost.)
    If the play refuses one, it is refused and the rest are played again without it.
    Requests judged together share one play and one commit: that is what keeps issuing fast
    when kiosks race.
    """
    cfg = store.cfg
    out: list[Issued | QueueError | None] = [None] * len(requests)
    services: dict[int, Service] = {}
    for i, r in enumerate(requests):
        try:
            services[i] = _check_request(cfg, r)
        except QueueError as exc:
            out[i] = exc
    now = store.clock()
    if services and not clock.is_open(cfg, now):
        opening = clock.next_opening(cfg, now)
        for i in services:
            out[i] = CenterClosed(next_opening=opening.isoformat() if opening else None)
        services = {}
    if not services:
        return out  # type: ignore[return-value]
    day = clock.business_day(now, cfg.tz)
    closes = clock.closing_time(cfg, now)
    closes_at = closes.timestamp() if closes else None
    # No call after closing plus the grace can be admitted: the play need not go further.
    horizon = closes_at + cfg.policy.closing_grace_minutes * 60 if closes_at is not None else None
    with store.write() as tx:
        centre_count = tx.daily_count(day, "center", "")
        service_counts = {code: tx.daily_count(day, "service", code) for code in {s.code for s in services.values()}}
        counters = tx.counters()
        play_refusals: dict[int, capacity.Refusal] = {}
        while True:
            # Rules 1-2 in order, counting the requests before each one that are still in.
            judged: dict[int, QueueError] = {}
            drafts: dict[int, Ticket] = {}
            centre, per_service = centre_count, dict(service_counts)
            for i, svc in services.items():
                if i in play_refusals:
                    continue
                policy = capacity.judge_counts(cfg, svc, centre, per_service[svc.code])
                if policy is not None:
                    details = {"service": svc.code} if policy.scope == "service" else {}
                    judged[i] = CapacityReached(policy.message, scope=policy.scope,
                                                next_opening=_next_day_opening(cfg, now), **details)
                    continue
                centre += 1
                per_service[svc.code] += 1
                r = requests[i]
                drafts[i] = Ticket(
                    id=forecast.GHOST + i, token=secrets.token_urlsafe(12), day=day, letter=svc.letter, seq_no=0,
                    number="", service=svc.code, original_service=svc.code, status=Status.WAITING, issued_at=now,
                    lang=r.lang, priority=r.priority, kiosk=r.kiosk,
                )
            if not drafts:
                break
            fc = hall_forecast(store, tx, now, day, extra=list(drafts.values()), watch=[d.id for d in drafts.values()],
                               only_ghosts=True, horizon=horizon, counters=counters)
            bare = fc
            refused = _first_refusal(cfg, fc, drafts, counters, day, closes_at)
            if refused is not None:
                # Turning a citizen away needs real evidence: the counters booked by the citizens who are
                # here, not by those expected later at today's rate (who may not come, and would take a
                # counter that prefers their service before this one). Judged again without them.
                bare = hall_forecast(store, tx, now, day, extra=list(drafts.values()),
                                     watch=[d.id for d in drafts.values()], only_ghosts=True, horizon=horizon,
                                     counters=counters, with_arrivals=False)
                refused = _first_refusal(cfg, bare, drafts, counters, day, closes_at)
            if refused is None:
                break
            play_refusals[refused[0]] = refused[1]
        for i, refusal in play_refusals.items():
            out[i] = CapacityReached(refusal.message, scope=refusal.scope, service=services[i].code,
                                     next_opening=_next_day_opening(cfg, now))
        for i, error in judged.items():
            out[i] = error
        for i, draft in drafts.items():
            r = requests[i]
            # What to tell: the forecast with the expected arrivals, unless only the judgement without
            # them placed this ticket today.
            wait = wait_of(fc if draft.id in fc.calls else bare, draft.id)
            seq_no = tx.next_number(day, draft.letter)
            ticket = tx.insert_ticket(draft.with_(id=0, seq_no=seq_no, number=f"{draft.letter}-{seq_no:03d}"))
            tx.bump_daily(day, "center", "")
            tx.bump_daily(day, "service", draft.service)
            event = tx.append(TicketIssued(at=now, actor=r.kiosk, ticket_id=ticket.id, number=ticket.number,
                                           service=draft.service, priority=r.priority is not None))
            if r.printer:
                tx.add_print_job(ticket.id, r.printer, large=r.large_print)
            out[i] = Issued(ticket=ticket, ahead=wait.ahead, eta_minutes=wait.eta_minutes, seq=event.seq,
                            eta_low=wait.low or 0, eta_high=wait.high or 0, eta_at=wait.at, eta_reason=wait.reason)
    return out  # type: ignore[return-value]


def _first_refusal(cfg: CenterConfig, fc: forecast.Forecast, drafts: dict[int, Ticket], counters: list[Counter],
                   day: str, closes_at: float | None) -> tuple[int, capacity.Refusal] | None:
    """The first of the tickets being issued that ``fc`` says cannot be served today, with why."""
    for i, d in drafts.items():
        # Which counters serve it tells why nobody will call it; a ticket that is called needs no such look.
        servers = {c.number for c in counters if d.service in _services_today(cfg, c, day)} \
            if d.id not in fc.calls else set()
        refusal = capacity.judge_ghost(cfg, fc, d.id, servers, closes_at)
        if refusal is not None:
            return i, refusal
    return None


def _services_today(cfg: CenterConfig, c: Counter, day: str) -> tuple[str, ...]:
    conf = cfg.counters_by_number.get(c.number)
    if conf is None:
        return ()
    return c.services if c.day == day else conf.services


def _next_day_opening(cfg: CenterConfig, now: float) -> str | None:
    closes = clock.closing_time(cfg, now)
    after = closes.timestamp() if closes else now
    opening = clock.next_opening(cfg, max(now, after))
    return opening.isoformat() if opening else None


def cancel_ticket(store: Store, token: str) -> Ticket:
    """The citizen gives up a waiting ticket (from the status page)."""
    now = store.clock()
    with store.write() as tx:
        t = _by_token(tx, token)
        done = t.with_(status=machine.check(t, "cancel"), finished_at=now)
        tx.save_ticket(done)
        tx.append(TicketCancelled(at=now, actor="citizen", ticket_id=t.id, number=t.number, service=t.service))
    return done


def _by_token(tx: Tx, token: str) -> Ticket:
    t = tx.ticket_by_token(token)
    if t is None:
        raise UnknownTicket()
    return t


# --- counters ----------------------------------------------------------------


def _held(tx: Tx, c: Counter) -> Ticket:
    if c.ticket_id is None:
        raise CounterIdle(counter=c.number)
    t = tx.get_ticket(c.ticket_id)
    assert t is not None, "a counter holds a ticket that does not exist"
    return t


def _ready(c: Counter) -> None:
    if c.state == CounterState.CLOSED:
        raise CounterClosed(counter=c.number)
    if c.state == CounterState.PAUSED:
        raise CounterPaused(counter=c.number, reason=c.reason)
    if c.ticket_id is not None:
        raise CounterBusy(counter=c.number)


def _ready_to_call(cfg: CenterConfig, tx: Tx, counter: int, day: str) -> Counter:
    """The counter, if it is open, free, and under its daily limit."""
    c = _today_counter(cfg, tx, counter, day)
    _ready(c)
    limit = cfg.counters_by_number[counter].daily_limit
    if limit and c.handled_today >= limit:
        raise CounterLimitReached(f"counter {counter} has served its daily limit of {limit}", counter=counter)
    return c


def call_next(store: Store, counter: int, *, actor: str | None = None) -> Ticket:
    """Call the next ticket for ``counter`` by the routing rules."""
    cfg = store.cfg
    _check_counter_number(cfg, counter)
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.write() as tx:
        c = _ready_to_call(cfg, tx, counter, day)
        t = pick_next(cfg, c, tx.waiting(day, c.services, counter), now)
        if t is None:
            raise NoTicketsWaiting(counter=counter)
        return _call(tx, c, t, now, actor, specific=False)


def call_ticket(store: Store, counter: int, number: str, *, actor: str | None = None) -> Ticket:
    """Call one waiting ticket out of order, where the configuration allows it (recorded)."""
    cfg = store.cfg
    if not cfg.policy.allow_call_specific:
        raise NotAllowed("this center does not allow calling a ticket out of order")
    _check_counter_number(cfg, counter)
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.write() as tx:
        c = _ready_to_call(cfg, tx, counter, day)
        t = tx.find_ticket(day, number)
        if t is None:
            raise UnknownTicket(f"no ticket {number} today", ticket=number)
        machine.check(t, "call")
        if not eligible(t, counter, c.services):
            raise NotAllowed(f"counter {counter} does not serve ticket {number}", ticket=number)
        return _call(tx, c, t, now, actor, specific=True)


def _call(tx: Tx, c: Counter, t: Ticket, now: float, actor: str | None, *, specific: bool) -> Ticket:
    called = t.with_(status=machine.check(t, "call"), counter=c.number, called_at=now,
                     target_counter=None, recalls=0, specific_call=specific)
    tx.save_ticket(called)
    streak = c.priority_streak + 1 if t.priority else 0
    tx.save_counter(c.with_(ticket_id=t.id, handled_today=c.handled_today + 1, priority_streak=streak, since=now))
    tx.append(TicketCalled(at=now, actor=actor, ticket_id=t.id, number=t.number, service=t.service, counter=c.number))
    return called


def recall(store: Store, counter: int, *, actor: str | None = None) -> Ticket:
    """Call the counter's current ticket again, up to the configured recall limit."""
    cfg = store.cfg
    _check_counter_number(cfg, counter)
    now = store.clock()
    with store.write() as tx:
        c = tx.get_counter(counter)
        t = _held(tx, c)
        machine.check(t, "recall")
        if t.recalls >= cfg.policy.recall_limit:
            raise RecallLimitReached(ticket=t.number, recalls=t.recalls)
        again = t.with_(recalls=t.recalls + 1, called_at=now)
        tx.save_ticket(again)
        tx.append(TicketRecalled(at=now, actor=actor, ticket_id=t.id, number=t.number, service=t.service,
                                 counter=counter, recall=again.recalls))
    return again


def _act_on_held(store: Store, counter: int, verb: str, event: type[TicketEvent], *, actor: str | None,
                 free: bool, changes: Callable[[Ticket, float], dict[str, Any]] = lambda t, now: {},
                 **event_fields: Any) -> Ticket:
    """One verb on the ticket a counter holds: check the transition, save, maybe free the counter, log."""
    _check_counter_number(store.cfg, counter)
    now = store.clock()
    with store.write() as tx:
        c = tx.get_counter(counter)
        t = _held(tx, c)
        changed = t.with_(status=machine.check(t, verb), **changes(t, now))
        tx.save_ticket(changed)
        if free:
            tx.save_counter(c.with_(ticket_id=None, since=now))
        tx.append(event(at=now, actor=actor, ticket_id=t.id, number=t.number, service=changed.service,
                        counter=counter, **event_fields))
    return changed


def start_service(store: Store, counter: int, *, actor: str | None = None) -> Ticket:
    """The citizen has come to the counter: service starts."""
    return _act_on_held(store, counter, "start", ServiceStarted, actor=actor, free=False,
                        changes=lambda t, now: {"started_at": now})


def finish(store: Store, counter: int, *, outcome: str = "served", actor: str | None = None) -> Ticket:
    """Service is over, with an outcome from the configuration; the counter is free."""
    outcomes = store.cfg.policy.outcomes
    if outcome not in outcomes:
        raise InvalidRequest(f"unknown outcome {outcome!r}; use one of {', '.join(outcomes)}", field="outcome")
    return _act_on_held(store, counter, "finish", TicketFinished, actor=actor, free=True, outcome=outcome,
                        changes=lambda t, now: {"finished_at": now, "outcome": outcome,
                                                "started_at": t.started_at or t.called_at})


def mark_no_show(store: Store, counter: int, *, actor: str | None = None) -> Ticket:
    """The called citizen did not come; the counter is free."""
    return _act_on_held(store, counter, "no_show", TicketNoShow, actor=actor, free=True,
                        changes=lambda t, now: {"finished_at": now})


def transfer(
    store: Store, counter: int, *, service: str | None = None, to_counter: int | None = None,
    note: str | None = None, actor: str | None = None,
) -> Ticket:
    """Send the current ticket to another service or a named counter; it keeps its original issue time."""
    cfg = store.cfg
    _check_counter_number(cfg, counter)
    if (service is None) == (to_counter is None):
        raise InvalidRequest("transfer to exactly one of: a service or a counter", field="service")
    if service is not None:
        _service(cfg, service)
    if to_counter is not None:
        _check_counter_number(cfg, to_counter)
        if to_counter == counter:
            raise InvalidRequest("a ticket cannot be transferred to its own counter", field="counter")
    now = store.clock()
    with store.write() as tx:
        c = tx.get_counter(counter)
        t = _held(tx, c)
        moved = t.with_(status=machine.check(t, "transfer"), service=service or t.service,
                        target_counter=to_counter, counter=None, called_at=None, started_at=None,
                        recalls=0, note=note or t.note)
        tx.save_ticket(moved)
        tx.save_counter(c.with_(ticket_id=None, since=now))
        tx.append(TicketTransferred(at=now, actor=actor, ticket_id=t.id, number=t.number, service=moved.service,
                                    counter=counter, from_service=t.service, to_counter=to_counter))
    return moved


def park(store: Store, counter: int, *, actor: str | None = None) -> Ticket:
    """Set the current ticket aside (the citizen fetches a document); the counter is free."""
    return _act_on_held(store, counter, "park", TicketParked, actor=actor, free=True)


def return_parked(store: Store, counter: int, number: str, *, actor: str | None = None) -> Ticket:
    """Take a parked ticket back to the counter that parked it."""
    cfg = store.cfg
    _check_counter_number(cfg, counter)
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.write() as tx:
        c = _today_counter(cfg, tx, counter, day)
        _ready(c)
        t = tx.find_ticket(day, number)
        if t is None or t.status != Status.PARKED:
            # Parked before midnight: still this counter's to take back (server.core.housekeeping).
            t = housekeeping.parked_held_over(tx, counter, number, day) or t
        if t is None:
            raise UnknownTicket(f"no ticket {number} today", ticket=number)
        target = machine.check(t, "return")
        if t.counter != counter:
            raise IllegalTransition(f"ticket {number} was parked at counter {t.counter}", ticket=number)
        back = t.with_(status=target, called_at=now)
        tx.save_ticket(back)
        tx.save_counter(c.with_(ticket_id=t.id, since=now))
        tx.append(TicketReturned(at=now, actor=actor, ticket_id=t.id, number=t.number, service=t.service, counter=counter))
    return back


def verify_priority(store: Store, number: str, *, actor: str) -> Ticket:
    """Record that staff checked the citizen's priority documents."""
    now = store.clock()
    day = clock.business_day(now, store.cfg.tz)
    with store.write() as tx:
        t = tx.find_ticket(day, number)
        if t is None:
            raise UnknownTicket(f"no ticket {number} today", ticket=number)
        if not t.priority:
            raise InvalidRequest(f"ticket {number} has no priority mark", ticket=number)
        checked = t.with_(priority_verified_by=actor)
        tx.save_ticket(checked)
        tx.append(PriorityVerified(at=now, actor=actor, ticket_id=t.id, number=t.number, service=t.service,
                                   counter=t.counter))
    return checked


def _set_counter(store: Store, counter: int, actor: str | None, change) -> Counter:  # type: ignore[no-untyped-def]
    cfg = store.cfg
    _check_counter_number(cfg, counter)
    now = store.clock()
    day = clock.business_day(now, cfg.tz)
    with store.write() as tx:
        c = _today_counter(cfg, tx, counter, day)
        new = change(c).with_(since=now)
        tx.save_counter(new)
        tx.append(CounterChanged(at=now, actor=actor, counter=counter, state=new.state.value,
                                 reason=new.reason, services=new.services))
    return new


def open_counter(store: Store, counter: int, *, operator: str) -> Counter:
    """An operator takes a counter (opening it, or taking over an open one)."""
    return _set_counter(store, counter, operator,
                        lambda c: c.with_(state=CounterState.OPEN if c.state == CounterState.CLOSED else c.state,
                                          operator=operator))


def pause_counter(store: Store, counter: int, *, reason: str, actor: str | None = None) -> Counter:
    """Pause a counter with a reason; it keeps no ticket in hand."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("a pause needs a reason", field="reason")

    def change(c: Counter) -> Counter:
        if c.state == CounterState.CLOSED:
            raise CounterClosed(counter=c.number)
        if c.ticket_id is not None:
            raise CounterBusy(counter=c.number)
        return c.with_(state=CounterState.PAUSED, reason=reason[:200])

    return _set_counter(store, counter, actor, change)


def resume_counter(store: Store, counter: int, *, actor: str | None = None) -> Counter:
    """End a pause."""
    def change(c: Counter) -> Counter:
        if c.state != CounterState.PAUSED:
            raise IllegalTransition(f"counter {c.number} is {c.state.value}, not paused", counter=c.number)
        return c.with_(state=CounterState.OPEN, reason=None)

    return _set_counter(store, counter, actor, change)


def close_counter(store: Store, counter: int, *, actor: str | None = None) -> Counter:
    """Close a counter for the day (it must not hold a ticket)."""
    def change(c: Counter) -> Counter:
        if c.ticket_id is not None:
            raise CounterBusy(counter=c.number)
        return c.with_(state=CounterState.CLOSED, reason=None, operator=None)

    return _set_counter(store, counter, actor, change)


def assign_services(store: Store, counter: int, services: list[str], *, actor: str | None = None) -> Counter:
    """Change which services a counter serves, in preference order; it takes effect at once."""
    if not services:
        raise InvalidRequest("a counter must serve at least one service", field="services")
    for code in services:
        _service(store.cfg, code)
    if len(set(services)) != len(services):
        raise InvalidRequest("a service is listed twice", field="services")
    return _set_counter(store, counter, actor, lambda c: c.with_(services=tuple(services)))


# --- reading -----------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a ticket stands now."""

    ticket: Ticket
    ahead: int
    eta_minutes: int | None    # None: no counter will call it today as things stand, or only one not yet open
    expired: bool = False      # still "waiting" from an earlier business day: never to be called
    eta_low: int | None = None
    eta_high: int | None = None
    eta_at: float | None = None
    eta_reason: str | None = None   # why eta_minutes is None (Wait.reason)


def position(store: Store, token: str) -> Position:
    """The ticket behind a status-page token, with people ahead and the forecast wait."""
    cfg = store.cfg
    now = store.clock()
    with store.read() as tx:
        t = _by_token(tx, token)
        if t.status != Status.WAITING:
            return Position(t, 0, 0)
        if t.day != clock.business_day(now, cfg.tz):
            return Position(t, 0, 0, expired=True)
        w = wait_of(cached_forecast(store, tx, now, t.day), t.id)
        return Position(t, w.ahead, w.eta_minutes, eta_low=w.low, eta_high=w.high, eta_at=w.at, eta_reason=w.reason)
