"""The ticket state machine: which verb may move a ticket from which state."""
from __future__ import annotations

from server.core.errors import IllegalTransition
from server.core.model import Status, Ticket

W, C, S, P = Status.WAITING, Status.CALLED, Status.SERVING, Status.PARKED
D, N, X, E = Status.DONE, Status.NO_SHOW, Status.CANCELLED, Status.EXPIRED

#: verb -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "call": (frozenset({W}), C),
    "recall": (frozenset({C}), C),
    "start": (frozenset({C}), S),
    "finish": (frozenset({C, S}), D),
    "no_show": (frozenset({C}), N),
    "transfer": (frozenset({C, S}), W),
    "park": (frozenset({C, S}), P),
    "return": (frozenset({P}), C),
    "cancel": (frozenset({W, P}), X),
    "expire": (frozenset({W}), E),     # a waiting ticket of an earlier business day, at the day's start
}

_VERB_TEXT = {
    "call": "called", "recall": "recalled", "start": "started", "finish": "finished",
    "no_show": "marked as no-show", "transfer": "transferred", "park": "parked",
    "return": "returned", "cancel": "cancelled", "expire": "expired",
}


def check(ticket: Ticket, verb: str) -> Status:
    """The state ``verb`` leads ``ticket`` to, or IllegalTransition with a readable reason."""
    sources, target = TRANSITIONS[verb]
    if ticket.status not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise IllegalTransition(
            f"ticket {ticket.number} is {ticket.status.value}: it cannot be {_VERB_TEXT[verb]} "
            f"(only a ticket that is {allowed} can)",
            ticket=ticket.number, status=ticket.status.value, verb=verb,
        )
    return target


def is_open(status: Status) -> bool:
    """Whether a ticket in this state is still in the queue or in someone's hands."""
    return status in (W, C, S, P)
