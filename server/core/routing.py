"""Which waiting ticket a counter gets next.

The rules, in order:

1. Only tickets the counter may take: its services, or tickets transferred to it by name.
   A ticket transferred to a named counter is for that counter only.
2. Priority groups first (lower rank first), but after ``priority_streak`` priority calls
   in a row at this counter, an ordinary ticket goes next if one waits, so ordinary
   tickets never starve behind a steady stream of priority ones.
3. Tickets transferred to this counter by name go before other tickets of the same kind.
4. Then the counter's service preference order, except that a ticket which has waited
   longer than ``starvation_minutes`` jumps the preference order (oldest first), so a
   counter's last-preference service is still served.
5. Then first come, first served by original issue time.
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
    preference = {code: i for i, code in enumerate(services)}
    starve_after = cfg.policy.starvation_minutes * 60
    ranks = {g.code: g.rank for g in cfg.priority_groups}
    priority: list[Ticket] = []
    ordinary: list[Ticket] = []
    for t in waiting:
        if not eligible(t, counter.number, services):
            continue
        (priority if t.priority else ordinary).append(t)

    def key(t: Ticket) -> tuple:
        overdue = now - t.issued_at > starve_after
        return (
            t.target_counter is None,                      # named transfers first
            0 if overdue else 1,                           # overdue tickets jump preference
            0 if overdue else preference.get(t.service, len(preference)),
            t.issued_at,
            t.id,
        )

    best_ordinary = min(ordinary, key=key, default=None)
    if priority:
        streak_over = counter.priority_streak >= cfg.policy.priority_streak
        if not (streak_over and best_ordinary is not None):
            return min(priority, key=lambda t: (ranks.get(t.priority or "", 99),) + key(t))
    return best_ordinary
