"""The turn of the business day: what happens to tickets that outlive their day.

Rules, in order:

1. A ticket still *waiting* when its business day ends will never be called (numbering and
   queues start afresh each day): at the next day's start it is closed as ``expired``, with
   a ``ticket-expired`` event in the log. History is kept; nothing is deleted.
2. A ticket a counter *holds* (called or serving) stays with that counter across midnight:
   the counter can still finish it, mark it no-show, park or transfer it, and staff views
   show it.
3. A *parked* ticket stays parked across midnight and can still be taken back by the
   counter that parked it, for :data:`HELD_OVER_DAYS` days; staff views list it as long.

:func:`expire_stale` applies rule 1; it runs at start-up and after each local midnight
(:mod:`server.devices`). Rules 2 and 3 are kept by the verbs and by the snapshots.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.core import clock, machine
from server.core.model import Status, Ticket, TicketExpired
from server.core.ports import Store, Tx

#: how many earlier days a parked or held ticket is still looked for
HELD_OVER_DAYS = 7


def expire_stale(store: Store) -> int:
    """Close as expired every ticket still waiting from an earlier business day; returns how many."""
    now = store.clock()
    today = clock.business_day(now, store.cfg.tz)
    with store.write() as tx:
        stale = tx.stale_waiting(today)
        for t in stale:
            tx.save_ticket(t.with_(status=machine.check(t, "expire"), finished_at=now))
            tx.append(TicketExpired(at=now, actor="system", ticket_id=t.id, number=t.number, service=t.service))
    return len(stale)


def held_over_since(day: str) -> str:
    """The first business day whose parked and held tickets are still shown and returnable on ``day``."""
    return (date.fromisoformat(day) - timedelta(days=HELD_OVER_DAYS)).isoformat()


def held_over(tx: Tx, day: str) -> list[Ticket]:
    """Tickets of earlier days still called, serving or parked (rules 2 and 3), oldest first."""
    return tx.held_over(day, held_over_since(day))


def parked_held_over(tx: Tx, counter: int, number: str, day: str) -> Ticket | None:
    """A ticket parked at ``counter`` before ``day`` began, by its number (the newest if several)."""
    found = [t for t in held_over(tx, day) if t.status == Status.PARKED and t.number == number and t.counter == counter]
    return found[-1] if found else None


def seconds_to_next_day(now: float, tz: ZoneInfo) -> float:
    """Seconds from ``now`` until the next local midnight (the business day's turn)."""
    local = clock.local(now, tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return max(0.0, midnight.timestamp() - now)
