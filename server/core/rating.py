"""The citizen's rating of the visit: one anonymous rating per served ticket.

Rules, in order:

1. The center collects ratings (``[ratings] enabled``), else ``not_allowed``.
2. The score is 1-5; a reason, if given, is one of the center's ``[[ratings.reasons]]`` codes; a free-text
   comment (at most 500 characters) comes only from the citizen's own status page.
3. Only a ticket that was served (``done``) can be rated, else ``not_finished``.
4. Once: a second rating of the same ticket, whichever way it comes, is ``already_rated``.
5. Within ``window_hours`` of the finish, else ``rating_closed``.
6. A counter's rating screen (or keypad) rates only the ticket that counter finished last, within
   ``screen_seconds`` of the finish (and, when the screen names it, that very ticket), else
   ``nothing_to_rate``: a tablet cannot rate another counter's visits or old ones.
7. A rating is tied to the ticket, its service, area, counter and the staff account that finished it
   (the operator); never to a person. Its day is the ticket's business day.
8. Satisfied means a score of 4 or 5: DOST's "share of satisfied citizens".

Each rating is one store transaction that also appends a ``ticket-rated`` event (without the score:
the hall's screens need not know it), so the supervisor's figures follow it live.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from config.schema import CenterConfig
from server.core.errors import (
    AlreadyRated, InvalidRequest, NotAllowed, NotFinished, NothingToRate, RatingClosed, UnknownTicket,
)
from server.core.model import Status, Ticket, TicketEvent
from server.core.ports import Tx

#: the scores that count as satisfied
SATISFIED = frozenset({4, 5})
SOURCES = ("status", "screen", "keypad")
COMMENT_MAX = 500


@dataclass(frozen=True)
class TicketRated(TicketEvent):
    name: ClassVar[str] = "ticket-rated"
    source: str = "status"


@dataclass(frozen=True)
class Rating:
    """One citizen's rating of one visit."""

    ticket_id: int
    day: str
    at: float
    score: int
    reason: str | None
    comment: str | None
    source: str
    service: str
    area: str
    counter: int | None
    operator: str | None
    seq: int = 0

    @property
    def satisfied(self) -> bool:
        """A score of 4 or 5."""
        return self.score in SATISFIED


class RatingTx(Tx, Protocol):
    """What rating needs from a store transaction, beyond the queue's."""

    def rating_score(self, ticket_id: int) -> int | None: ...
    def insert_rating(self, rating: Rating) -> None: ...
    def finished_by(self, ticket_id: int) -> str | None: ...
    def last_finished(self, counter: int) -> Ticket | None: ...


class RatingStore(Protocol):
    """A store whose transactions can hold ratings."""

    cfg: CenterConfig
    clock: Callable[[], float]

    def write(self) -> AbstractContextManager[RatingTx]: ...
    def read(self) -> AbstractContextManager[RatingTx]: ...


def satisfied(score: int) -> bool:
    """Whether a score counts as satisfied (4 or 5)."""
    return score in SATISFIED


def operator_of(actor: str | None) -> str | None:
    """The staff account behind an event's actor ("leyla@keypad" was Leyla at her keypad)."""
    if not actor:
        return None
    return actor.split("@", 1)[0] or None


def _check(cfg: CenterConfig, score: int, reason: str | None, comment: str | None, source: str) -> tuple[
        str | None, str | None]:
    if not cfg.ratings.enabled:
        raise NotAllowed("this center does not collect ratings")
    if source not in SOURCES:
        raise InvalidRequest(f"unknown rating source {source!r}", field="source")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidRequest("the score is a whole number from 1 to 5", field="score")
    reason = (reason or "").strip() or None
    if reason is not None and reason not in {r.code for r in cfg.ratings.reasons}:
        raise InvalidRequest(f"unknown reason {reason!r}", field="reason")
    comment = (comment or "").strip() or None
    if comment is not None:
        if source != "status":
            raise InvalidRequest("a comment can only be written on the status page", field="comment")
        if len(comment) > COMMENT_MAX:
            raise InvalidRequest(f"a comment has at most {COMMENT_MAX} characters", field="comment")
    return reason, comment


def _rate(cfg: CenterConfig, tx: RatingTx, t: Ticket, now: float, score: int, reason: str | None,
          comment: str | None, source: str) -> Rating:
    if t.status != Status.DONE:
        raise NotFinished(f"ticket {t.number} is {t.status.value}: only a served visit can be rated",
                          ticket=t.number, status=t.status.value)
    if tx.rating_score(t.id) is not None:
        raise AlreadyRated(ticket=t.number)
    if t.finished_at is None or now - t.finished_at > cfg.ratings.window_hours * 3600:
        raise RatingClosed(f"a visit can be rated for {cfg.ratings.window_hours} hours after it ends",
                           ticket=t.number)
    svc = cfg.services_by_code.get(t.service)
    rating = Rating(ticket_id=t.id, day=t.day, at=now, score=score, reason=reason, comment=comment, source=source,
                    service=t.service, area=svc.area if svc else "", counter=t.counter,
                    operator=operator_of(tx.finished_by(t.id)))
    tx.insert_rating(rating)
    event = tx.append(TicketRated(at=now, actor=source, ticket_id=t.id, number=t.number, service=t.service,
                                  counter=t.counter, source=source))
    return replace(rating, seq=event.seq)


def rate_ticket(store: RatingStore, token: str, score: int, *, reason: str | None = None,
                comment: str | None = None, source: str = "status") -> Rating:
    """The citizen rates the visit behind a status-page token (rules 1-5, 7)."""
    cfg = store.cfg
    reason, comment = _check(cfg, score, reason, comment, source)
    now = store.clock()
    with store.write() as tx:
        t = tx.ticket_by_token(token)
        if t is None:
            raise UnknownTicket()
        return _rate(cfg, tx, t, now, score, reason, comment, source)


@dataclass(frozen=True)
class RatingState:
    """Whether the visit behind a status-page token is rated, or could be now."""

    status: str
    rated: bool
    can_rate: bool


def rating_state(store: RatingStore, token: str) -> RatingState:
    """What the status page shows: a rating form (``can_rate``), a thank-you (``rated``) or nothing."""
    cfg = store.cfg
    now = store.clock()
    with store.read() as tx:
        t = tx.ticket_by_token(token)
        if t is None:
            raise UnknownTicket()
        rated = tx.rating_score(t.id) is not None
    open_ = t.status == Status.DONE and t.finished_at is not None \
        and now - t.finished_at <= cfg.ratings.window_hours * 3600
    return RatingState(status=t.status.value, rated=rated, can_rate=cfg.ratings.enabled and open_ and not rated)


def pending_at_counter(store: RatingStore, counter: int) -> Ticket | None:
    """The ticket a counter's rating screen asks about now: finished there last, recently, not yet rated."""
    now = store.clock()
    with store.read() as tx:
        t = tx.last_finished(counter)
        if t is None or t.finished_at is None or now - t.finished_at > store.cfg.ratings.screen_seconds:
            return None
        return None if tx.rating_score(t.id) is not None else t


def rate_at_counter(store: RatingStore, counter: int, score: int, *, ticket_id: int | None = None,
                    reason: str | None = None, source: str = "screen") -> Rating:
    """A counter's rating screen or keypad rates the visit that counter finished last (rule 6)."""
    cfg = store.cfg
    reason, _ = _check(cfg, score, reason, None, source)
    now = store.clock()
    with store.write() as tx:
        t = tx.last_finished(counter)
        if t is None or t.finished_at is None or now - t.finished_at > cfg.ratings.screen_seconds \
                or (ticket_id is not None and t.id != ticket_id):
            raise NothingToRate(f"counter {counter} has no visit to rate right now", counter=counter)
        return _rate(cfg, tx, t, now, score, reason, None, source)
