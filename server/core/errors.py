"""Every error the queue can raise, each with a stable code for the API.

    QueueError
    ├── InvalidRequest          (400) the request itself is malformed
    ├── UnknownService          (404)
    ├── UnknownCounter          (404)
    ├── UnknownTicket           (404)
    ├── CapacityReached         (409) center / service / counters / closing time
    ├── CenterClosed            (409)
    ├── NoTicketsWaiting        (409)
    ├── IllegalTransition       (409) e.g. finishing a ticket that was never called
    ├── CounterClosed           (409)
    ├── CounterPaused           (409)
    ├── CounterBusy             (409) the counter still has a ticket in hand
    ├── CounterIdle             (409) the counter has no ticket in hand
    ├── CounterLimitReached     (409)
    ├── RecallLimitReached      (409)
    ├── NotFinished             (409) rating a ticket that was not served
    ├── AlreadyRated            (409) a ticket is rated once
    ├── RatingClosed            (409) rated too long after the visit
    ├── NothingToRate           (409) a counter's rating screen has no ticket to ask about
    ├── NotAllowed              (403) configuration forbids it (e.g. calling out of order)
    ├── UnknownUser             (404) administration: no such staff account
    ├── UnknownDevice           (404) no such device token, or a device the center file does not list
    ├── UserExists              (409) creating an account whose name is taken
    ├── LastAdmin               (409) the change would leave no enabled admin
    ├── Unauthorized            (401)
    ├── Forbidden               (403) wrong role or someone else's counter
    ├── CallNotFound            (404) the board's audio: no such call today
    ├── AnnouncementExpired     (410) the board's audio: a call too old to be spoken now
    ├── RateLimited             (429)
    ├── SpeechUnavailable       (503) espeak-ng could not speak (the kiosk's accessible mode)
    └── StorageError            (503) the store cannot keep what it is given right now
        ├── StorageFull             the disk is full
        ├── StorageReadOnly         the database file or its folder cannot be written
        └── StorageUnavailable      locked too long, I/O error, cannot open, damaged

The storage errors sit in this tree, although the core never raises them itself, because
they are part of what the store port (:mod:`server.core.ports`) may answer: the store maps
its own library's errors onto them, and then every transport (the HTTP error handler, the
``/counter`` socket acks, the keypad) already turns a ``QueueError`` into the one error
shape without knowing about SQLite.
"""
from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """Something the queue refused; ``code`` is stable, ``message`` is for people."""

    code = "queue_error"
    status = 400

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"ok": False, "error": self.code, "message": self.message, **self.details}


class InvalidRequest(QueueError):
    """The request is not valid."""

    code, status = "invalid_request", 400


class UnknownService(QueueError):
    """No such service at this center."""

    code, status = "unknown_service", 404


class UnknownCounter(QueueError):
    """No such counter at this center."""

    code, status = "unknown_counter", 404


class UnknownTicket(QueueError):
    """No such ticket."""

    code, status = "unknown_ticket", 404


class CapacityReached(QueueError):
    """No more tickets can be issued for this today."""

    code, status = "capacity_reached", 409


class CenterClosed(QueueError):
    """The center is closed now."""

    code, status = "center_closed", 409


class NoTicketsWaiting(QueueError):
    """Nobody is waiting for this counter's services."""

    code, status = "nothing_waiting", 409


class IllegalTransition(QueueError):
    """The ticket is not in a state that allows this."""

    code, status = "illegal_transition", 409


class CounterClosed(QueueError):
    """The counter is closed: open it first."""

    code, status = "counter_closed", 409


class CounterPaused(QueueError):
    """The counter is paused: resume it first."""

    code, status = "counter_paused", 409


class CounterBusy(QueueError):
    """The counter still has a ticket: finish, transfer, park or mark it no-show first."""

    code, status = "counter_busy", 409


class CounterIdle(QueueError):
    """The counter has no ticket in hand."""

    code, status = "counter_idle", 409


class CounterLimitReached(QueueError):
    """This counter has reached its daily limit."""

    code, status = "counter_limit_reached", 409


class RecallLimitReached(QueueError):
    """The ticket was recalled as often as allowed: mark it as no-show."""

    code, status = "recall_limit_reached", 409


class NotFinished(QueueError):
    """Only a ticket that was served can be rated."""

    code, status = "not_finished", 409


class AlreadyRated(QueueError):
    """This visit has already been rated."""

    code, status = "already_rated", 409


class RatingClosed(QueueError):
    """This visit can no longer be rated."""

    code, status = "rating_closed", 409


class NothingToRate(QueueError):
    """This counter has no visit to rate right now."""

    code, status = "nothing_to_rate", 409


class NotAllowed(QueueError):
    """The center's configuration does not allow this."""

    code, status = "not_allowed", 403


class UnknownUser(QueueError):
    """No staff account has this name."""

    code, status = "unknown_user", 404


class UnknownDevice(QueueError):
    """No such device: it holds no token, or the center file does not list it."""

    code, status = "unknown_device", 404


class UserExists(QueueError):
    """A staff account with this name exists already."""

    code, status = "user_exists", 409


class LastAdmin(QueueError):
    """This would leave the center without an enabled admin account."""

    code, status = "last_admin", 409


class Unauthorized(QueueError):
    """Log in (or present a device token) first."""

    code, status = "unauthorized", 401


class Forbidden(QueueError):
    """Your role does not allow this."""

    code, status = "forbidden", 403


class CallNotFound(QueueError):
    """No such call was made today: ask for a ticket number called at that counter."""

    code, status = "call_not_found", 404


class AnnouncementExpired(QueueError):
    """That call was made too long ago: its announcement is no longer kept."""

    code, status = "announcement_expired", 410


class RateLimited(QueueError):
    """Too many requests: wait a moment."""

    code, status = "rate_limited", 429


class SpeechUnavailable(QueueError):
    """espeak-ng could not speak (not installed, voice missing): the kiosk stays silent."""

    code, status = "speech_unavailable", 503


class StorageError(QueueError):
    """The server cannot save anything right now: try again in a moment, or ask staff."""

    code, status = "storage_unavailable", 503


class StorageFull(StorageError):
    """The server's disk is full: nothing new can be saved until space is freed."""

    code = "storage_full"


class StorageReadOnly(StorageError):
    """The database cannot be written (read-only file, folder or disk)."""

    code = "storage_read_only"


class StorageUnavailable(StorageError):
    """The database cannot be used right now (locked too long, I/O error or damaged)."""

    code = "storage_unavailable"
