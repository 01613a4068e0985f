"""Which waiting ticket a counter gets next.

The rules, in order:

1. Only tickets the counter may take: its services, or tickets transferred to it by name.
   A ticket transferred to a named counter is for that counter only.
2. Priority tickets go before ordinary ones, but after ``priority_streak`` priority calls
   in a row at this counter, an ordinary ticket goes next if one waits, so ordinary
   tickets never starve behind a steady stream of priority ones.
3. Among priority tickets, one that has waited longer than its service's ``target_wait``
   is *overdue* and goes before every priority ticket that is not, whatever the ranks
   (overdue ones among themselves: by the rules below, i.e. oldest first). Otherwise a
   lower rank goes first. So no rank starves either: a steady stream of şəhid families
   and qazi (rank 1) delays a disabled citizen (rank 2) by at most about its target wait,
   after which it is older than every newcomer it competes with.
4. Tickets transferred to this counter by name go before other tickets of the same kind.
5. Then the counter's service preference order, except that a ticket which has waited
   longer than ``starvation_minutes`` jumps the preference order (oldest first), so a
   counter's last-preference service is still served.
6. Then first come, first served by original issue time.

``pick_next`` is the only place these rules live: the hall forecast
(:mod:`server.core.forecast`) plays them forward in time by calling it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from config.schema import CenterConfig
from server.core.model import Counter, Ticket


def eligible(ticket: Ticket, counter_number: int, services: Sequence[str]) -> bool:
    """Whether this counter may take this ticket."""
    if ticket.target_counter is not None:
        return ticket.target_counter == counter_number
    return ticket.service in services


def pick_next(cfg: CenterConfig, counter: Counter, waiting: Iterable[Ticket], now: float) -> Ticket | None:
    """The ticket ``counter`` should call next from ``waiting``, or None."""
    services = counter.services
    number = counter.number
    starve_before = now - cfg.policy.starvation_minutes * 60
    best_ordinary: Ticket | None = None
    best_ordinary_key: tuple | None = None
    best_priority: Ticket | None = None
    best_priority_key: tuple | None = None
    ranks = cfg.rank_of
    targets = cfg.target_wait_s
    npref = len(services)
    for t in waiting:
        target = t.target_counter
        if target is not None:
            if target != number:
                continue
        elif t.service not in services:
            continue
        issued = t.issued_at
        overdue = issued < starve_before
        key = (target is None,                                   # 4: named transfers first
               0 if overdue else 1,                              # 5: long waits jump preference
               0 if overdue else (services.index(t.service) if target is None else npref),
               issued, t.id)                                     # 6: first come, first served
        if t.priority:
            aged = now - issued > targets.get(t.service, 1800.0)
            pkey = (0 if aged else 1, 0 if aged else ranks.get(t.priority, 99)) + key   # 3
            if best_priority_key is None or pkey < best_priority_key:
                best_priority, best_priority_key = t, pkey
        elif best_ordinary_key is None or key < best_ordinary_key:
            best_ordinary, best_ordinary_key = t, key
    if best_priority is not None:                                # 2
        if not (counter.priority_streak >= cfg.policy.priority_streak and best_ordinary is not None):
            return best_priority
    return best_ordinary
