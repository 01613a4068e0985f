"""The queue's data: tickets, counters and the domain events they produce."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar


class Status(StrEnum):
    """Where a ticket is in its life."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    PARKED = "parked"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"         # still waiting when its business day ended: closed at the next day's start


class CounterState(StrEnum):
    """Whether a counter takes citizens."""

    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


_T = TypeVar("_T")


def _changed(obj: _T, changes: dict[str, Any]) -> _T:
    """``dataclasses.replace`` for these plain frozen records, at a quarter of its cost (a hot path).

    Valid only for dataclasses without ``__post_init__``, init-only or non-init fields.
    """
    known = obj.__dataclass_fields__.keys()  # type: ignore[attr-defined]
    if not changes.keys() <= known:     # (a subset test builds no set: half the cost of the difference)
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(changes.keys() - known))}")
    new = object.__new__(type(obj))
    state = new.__dict__
    state.update(obj.__dict__)
    state.update(changes)
    return new


@dataclass(frozen=True)
class Ticket:
    """One citizen's place in the queue."""

    id: int
    token: str                  # opaque, for the citizen's status page
    day: str                    # business day, ISO date in the center's time zone
    letter: str
    seq_no: int
    number: str                 # "A-001"
    service: str
    original_service: str
    status: Status
    issued_at: float            # epoch seconds; kept on transfer so the ticket keeps its place
    lang: str = "az"
    priority: str | None = None
    priority_verified_by: str | None = None
    kiosk: str | None = None
    counter: int | None = None  # the counter holding it (called/serving/parked) or that last held it
    target_counter: int | None = None
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    recalls: int = 0
    outcome: str | None = None
    note: str | None = None
    specific_call: bool = False

    def with_(self, **changes: Any) -> "Ticket":
        """A copy with some fields changed."""
        return _changed(self, changes)


@dataclass(frozen=True)
class Counter:
    """A counter's live state (its configuration lives in ``config``)."""

    number: int
    state: CounterState = CounterState.CLOSED
    reason: str | None = None
    operator: str | None = None
    ticket_id: int | None = None
    since: float = 0.0
    services: tuple[str, ...] = ()     # in preference order; may be reassigned by a supervisor
    priority_streak: int = 0
    handled_today: int = 0
    day: str = ""

    def with_(self, **changes: Any) -> "Counter":
        """A copy with some fields changed."""
        return _changed(self, changes)


@dataclass(frozen=True)
class Issued:
    """What a kiosk gets back for a new ticket."""

    ticket: Ticket
    ahead: int
    eta_minutes: int | None         # None: only a counter that has not opened yet serves it
    seq: int
    eta_low: int = 0
    eta_high: int = 0
    eta_at: float | None = None     # forecast call time, epoch seconds
    eta_reason: str | None = None   # why eta_minutes is None: see queue.Wait.reason


# --- Domain events -------------------------------------------------------
# Small frozen dataclasses with a kebab-case name on the class. ``public()``
# is what may reach a hall display: number, counter and service only.

@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "event"
    seq: int = 0
    at: float = 0.0
    actor: str | None = field(default=None, repr=False)

    #: fields the event log keeps for the audit but never sends to displays and kiosks
    private: ClassVar[tuple[str, ...]] = ()

    # An event's __dict__ is its fields, in field order (frozen, no other attribute): read whole, it
    # costs a tenth of dataclasses.fields() on every event logged.
    def public(self) -> dict[str, Any]:
        """The event as sent to displays and kiosks: nothing that identifies a person."""
        data = {k: v for k, v in self.__dict__.items() if k != "actor" and k not in self.private}
        data["event"] = self.name
        return data

    def record(self) -> dict[str, Any]:
        """The event as the log keeps it: the public form and the private fields (the actor has its own column)."""
        data = dict(self.__dict__)
        del data["actor"]
        data["event"] = self.name
        return data

    def with_(self, **changes: Any) -> Self:
        """A copy with some fields changed."""
        return _changed(self, changes)


@dataclass(frozen=True)
class TicketEvent(Event):
    ticket_id: int = 0
    number: str = ""
    service: str = ""
    counter: int | None = None


@dataclass(frozen=True)
class TicketIssued(TicketEvent):
    name: ClassVar[str] = "ticket-issued"
    priority: bool = False


@dataclass(frozen=True)
class TicketCalled(TicketEvent):
    name: ClassVar[str] = "ticket-called"
    recall: int = 0


@dataclass(frozen=True)
class TicketRecalled(TicketCalled):
    name: ClassVar[str] = "ticket-recalled"


@dataclass(frozen=True)
class ServiceStarted(TicketEvent):
    name: ClassVar[str] = "service-started"


@dataclass(frozen=True)
class TicketFinished(TicketEvent):
    name: ClassVar[str] = "ticket-finished"
    outcome: str = "served"


@dataclass(frozen=True)
class TicketNoShow(TicketEvent):
    name: ClassVar[str] = "ticket-no-show"


@dataclass(frozen=True)
class TicketTransferred(TicketEvent):
    name: ClassVar[str] = "ticket-transferred"
    from_service: str = ""
    to_counter: int | None = None


@dataclass(frozen=True)
class TicketParked(TicketEvent):
    name: ClassVar[str] = "ticket-parked"


@dataclass(frozen=True)
class TicketReturned(TicketCalled):
    name: ClassVar[str] = "ticket-returned"


@dataclass(frozen=True)
class TicketCancelled(TicketEvent):
    name: ClassVar[str] = "ticket-cancelled"


@dataclass(frozen=True)
class TicketExpired(TicketEvent):
    name: ClassVar[str] = "ticket-expired"


@dataclass(frozen=True)
class PriorityVerified(TicketEvent):
    name: ClassVar[str] = "priority-verified"


@dataclass(frozen=True)
class CounterChanged(Event):
    name: ClassVar[str] = "counter-changed"
    counter: int = 0
    state: str = ""
    reason: str | None = None
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class StaffChanged(Event):
    """An admin created a staff account or changed its password, role or access (audit; the hall sees no name)."""

    name: ClassVar[str] = "staff-changed"
    private: ClassVar[tuple[str, ...]] = ("username", "role")
    change: str = ""       # created, password, role, disabled, enabled
    username: str = ""
    role: str = ""


@dataclass(frozen=True)
class DeviceChanged(Event):
    """An admin gave a kiosk, board or rating screen a token, a new one, or took it away (audit)."""

    name: ClassVar[str] = "device-changed"
    change: str = ""       # token-created, token-rotated, revoked
    kind: str = ""
    device: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (TicketIssued, TicketCalled, TicketRecalled, ServiceStarted, TicketFinished,
                TicketNoShow, TicketTransferred, TicketParked, TicketReturned, TicketCancelled,
                TicketExpired, PriorityVerified, CounterChanged, StaffChanged, DeviceChanged)
}
