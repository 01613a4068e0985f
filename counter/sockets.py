"""Counter actions over Socket.IO (namespace ``/counter``), with the same checks as the HTTP API.

Each event takes ``{"counter": N, ...}`` with the same fields as the HTTP body of the
matching ``/api/counters/N/<action>`` route (for ``transfer`` the target counter is
``to_counter``, since ``counter`` names the acting one) and answers through the ack with the
HTTP answer's JSON: ``{"ok": true, ...}`` or ``{"ok": false, "error", "message", "status"}``.

    call-next  call {number}  recall  start  finish {outcome}  no-show
    transfer {service | to_counter, note}  park  return {number}
    open  close  pause {reason}  resume  services {services}  verify-priority {number}

``counter-snapshot`` ``{"counter": N}`` answers the staff snapshot cut down to what one counter
page shows (its counter in full, the others' names and states, its waiting and parked tickets);
without a counter, the whole staff snapshot. Either is built once per event sequence number
and shared by every page that asks (30 pages re-asking after each event would otherwise build
and send 30 full snapshots).

Who may do what is decided by :func:`server.api.authorize_counter` (login, role, and "an
operator acts only on the counter they hold"), exactly as for the HTTP views; through
:func:`server.auth.current_user`, the handshake's session is re-checked against the account on
every action, because a socket outlives an HTTP logout or a role change.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from pydantic import BaseModel

from server import api, auth, snapshots
from server.core import queue
from server.core.errors import InvalidRequest, QueueError, RateLimited
from server.realtime import socketio
from server.schemas import FinishRequest, NumberRequest, PauseRequest, ServicesRequest, TransferRequest

log = logging.getLogger(__name__)
NS = "/counter"

#: at most this many actions per connection in any one-second window (Flask-Limiter does not see sockets)
ACTIONS_PER_SECOND = 10

Handler = Callable[[Any, int, dict[str, str], Any], dict[str, Any]]


def _ticket(t: Any) -> dict[str, Any]:
    return {"ok": True, "number": t.number if t else None, "ticket": api._staff_ticket(t), "message": None}


def _counter(c: Any) -> dict[str, Any]:
    return {"ok": True, "counter": c.number, "state": c.state.value, "reason": c.reason,
            "services": list(c.services), "operator": c.operator}


def _call_next(store: Any, n: int, user: dict[str, str], _body: Any) -> dict[str, Any]:
    from server.core.errors import NoTicketsWaiting

    try:
        return _ticket(queue.call_next(store, n, actor=user["username"]))
    except NoTicketsWaiting:
        return {**_ticket(None), "message": "nothing waiting"}


def _transfer(store: Any, n: int, user: dict[str, str], b: TransferRequest) -> dict[str, Any]:
    return _ticket(queue.transfer(store, n, service=b.service, to_counter=b.counter, note=b.note,
                                  actor=user["username"]))


#: event name -> (role needed, operator must hold the counter, body schema, handler)
ACTIONS: dict[str, tuple[str, bool, type[BaseModel] | None, Handler]] = {
    "call-next": ("operator", True, None, _call_next),
    "call": ("operator", True, NumberRequest,
             lambda s, n, u, b: _ticket(queue.call_ticket(s, n, b.number, actor=u["username"]))),
    "recall": ("operator", True, None, lambda s, n, u, b: _ticket(queue.recall(s, n, actor=u["username"]))),
    "start": ("operator", True, None, lambda s, n, u, b: _ticket(queue.start_service(s, n, actor=u["username"]))),
    "finish": ("operator", True, FinishRequest,
               lambda s, n, u, b: _ticket(queue.finish(s, n, outcome=b.outcome, actor=u["username"]))),
    "no-show": ("operator", True, None, lambda s, n, u, b: _ticket(queue.mark_no_show(s, n, actor=u["username"]))),
    "transfer": ("operator", True, TransferRequest, _transfer),
    "park": ("operator", True, None, lambda s, n, u, b: _ticket(queue.park(s, n, actor=u["username"]))),
    "return": ("operator", True, NumberRequest,
               lambda s, n, u, b: _ticket(queue.return_parked(s, n, b.number, actor=u["username"]))),
    "open": ("operator", False, None, lambda s, n, u, b: _counter(api.take_counter(n, u))),
    "close": ("operator", True, None, lambda s, n, u, b: _counter(queue.close_counter(s, n, actor=u["username"]))),
    "pause": ("operator", True, PauseRequest,
              lambda s, n, u, b: _counter(queue.pause_counter(s, n, reason=b.reason, actor=u["username"]))),
    "resume": ("operator", True, None, lambda s, n, u, b: _counter(queue.resume_counter(s, n, actor=u["username"]))),
    "services": ("supervisor", False, ServicesRequest,
                 lambda s, n, u, b: _counter(queue.assign_services(s, n, b.services, actor=u["username"]))),
}


class _Budget:
    """A per-connection action budget: a stuck key or a script cannot flood the queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[float]] = {}

    def spend(self, sid: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._seen.get(sid, ()) if now - t < 1.0]
            if len(recent) >= ACTIONS_PER_SECOND:
                self._seen[sid] = recent
                raise RateLimited("too many actions in a second: wait a moment", retry_after=1)
            recent.append(now)
            self._seen[sid] = recent
            if len(self._seen) > 1000:   # forget connections idle for a second (gone or quiet)
                self._seen = {k: v for k, v in self._seen.items() if now - v[-1] < 1.0}


budget = _Budget()


def _body(schema: type[BaseModel] | None, data: dict[str, Any]) -> Any:
    if schema is None:
        return None
    fields = {k: v for k, v in data.items() if k not in ("counter", "to_counter")}
    if schema is TransferRequest and "to_counter" in data:
        fields["counter"] = data["to_counter"]
    return api.validate(schema, fields)


def _error(exc: QueueError) -> dict[str, Any]:
    return {**exc.to_dict(), "status": exc.status}


def perform(action: str, data: Any) -> dict[str, Any]:
    """Run one counter action for the socket's user; the answer has the HTTP JSON shape."""
    try:
        needed, own, schema, handler = ACTIONS[action]
        if not isinstance(data, dict):
            raise InvalidRequest("send an object: {\"counter\": N, ...}")
        counter = data.get("counter")
        if not isinstance(counter, int) or isinstance(counter, bool):
            raise InvalidRequest("counter must be a number", field="counter")
        budget.spend(request.sid)  # type: ignore[attr-defined]
        user = api.authorize_counter(counter, needed, own=own)
        body = _body(schema, data)
        return handler(current_app.extensions["novbe"].store, counter, user, body)
    except QueueError as exc:
        return _error(exc)
    except Exception:  # the operator sees a message, never a stack trace
        log.exception("counter socket action %s failed", action)
        return {"ok": False, "error": "internal_error", "message": "something went wrong on the server; it was logged",
                "status": 500}


def _register(action: str) -> None:
    def handler(data: Any = None) -> dict[str, Any]:
        return perform(action, data)

    handler.__name__ = "counter_" + action.replace("-", "_")
    socketio.on_event(action, handler, namespace=NS)


for _action in ACTIONS:
    _register(_action)


@socketio.on("verify-priority", namespace=NS)
def verify_priority(data: Any = None) -> dict[str, Any]:
    """Record that a ticket's priority documents were checked (any logged-in staff member)."""
    try:
        budget.spend(request.sid)  # type: ignore[attr-defined]
        user = auth.require_role("operator")
        body = _body(NumberRequest, data if isinstance(data, dict) else {})
        store = current_app.extensions["novbe"].store
        return _ticket(queue.verify_priority(store, body.number, actor=user["username"]))
    except QueueError as exc:
        return _error(exc)
    except Exception:
        log.exception("verify-priority failed")
        return {"ok": False, "error": "internal_error", "message": "something went wrong on the server; it was logged",
                "status": 500}


# --- snapshots for counter pages ------------------------------------------------------------

class _SnapshotCache:
    """The staff snapshot of the newest event, built once and shared (for at most a second)."""

    MAX_AGE = 1.0   # waits and "over target" marks move with the clock, not only with events

    def __init__(self) -> None:
        self._lock = threading.Lock()   # 30 pages asking at once wait for one build
        self._entry: tuple[Any, int, float, dict[str, Any]] | None = None

    def get(self, store: Any) -> dict[str, Any]:
        with self._lock:
            seq = store.last_seq()
            hit = self._entry
            if hit and hit[0] is store and hit[1] == seq and time.monotonic() - hit[2] < self.MAX_AGE:
                return hit[3]
            snap = snapshots.staff(store)
            self._entry = (store, snap["seq"], time.monotonic(), snap)
            return snap


staff_cache = _SnapshotCache()
# What a counter page needs of the other counters (picker, transfer dialog; names come with the
# full snapshot sent on connect) and of the tickets in its lists. Every byte is sent to every
# page after every event, so the cut is tight.
_BRIEF_COUNTER = ("number", "state", "operator", "waiting")
_LIST_TICKET = ("number", "service", "priority", "priority_verified_by", "issued_at", "target_counter",
                "over_target", "counter")


def counter_view(full: dict[str, Any], number: int, now: float) -> dict[str, Any] | None:
    """What one counter page shows, cut from the staff snapshot; None for an unknown counter."""
    mine = next((c for c in full["counters"] if c["number"] == number), None)
    if mine is None:
        return None
    services = set(mine["services"])

    def for_me(t: dict[str, Any]) -> bool:
        return t["target_counter"] == number if t["target_counter"] is not None else t["service"] in services

    def brief(t: dict[str, Any]) -> dict[str, Any]:
        return {k: t[k] for k in _LIST_TICKET}

    held = mine["ticket"]
    counters = [{**c, "ticket": {k: v for k, v in held.items() if k != "service_name"} if held else None}
                if c["number"] == number else {k: c[k] for k in _BRIEF_COUNTER} for c in full["counters"]]
    return {
        **{k: full[k] for k in ("seq", "day", "outcomes", "recall_limit", "allow_call_specific")},
        "now": now, "scope": number, "counters": counters,
        "waiting": [brief(t) for t in full["waiting"] if for_me(t)],
        "parked": [brief(t) for t in full["parked"] if t["counter"] == number],
    }


@socketio.on("counter-snapshot", namespace=NS)
def counter_snapshot(data: Any = None) -> dict[str, Any] | None:
    """The staff snapshot for one counter page (``{"counter": N}``), or whole; None when not logged in."""
    # The page asks after every event in the hall by itself: that is not its user at work.
    if auth.current_user(touch=False) is None:
        return None
    store = current_app.extensions["novbe"].store
    full = staff_cache.get(store)
    now = store.clock()   # fresh: pages set their clock from it, and the cached copy may be a second old
    number = data.get("counter") if isinstance(data, dict) else None
    if isinstance(number, int) and not isinstance(number, bool):
        view = counter_view(full, number, now)
        if view is not None:
            return view
    return {**full, "now": now}
