"""The JSON API. Views are thin: check who is asking, validate the body, call one domain verb.

Every error has one shape, ``{"ok": false, "error": "<stable code>", "message": "..."}``,
made by :func:`error_response`; the OpenAPI document is built from the same registrations.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache, wraps
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_wtf.csrf import generate_csrf
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from pydantic import BaseModel, ValidationError

from server import auth, device_health, localise, reports, snapshots
from server.core import queue, rating
from server.core.errors import (
    CapacityReached, CenterClosed, Forbidden, InvalidRequest, NoTicketsWaiting, QueueError, RateLimited,
    StorageError, UnknownCounter, UnknownDevice,
)
from server.core.model import Ticket
from server.schemas import (
    CounterActionResponse, CounterStateResponse, DeviceRequest, DeviceResponse, FinishRequest,
    HealthResponse, LoginRequest, LoginResponse, NumberRequest, OkResponse, PauseRequest,
    ServicesRequest, ServicesResponse, TicketIssuedResponse, TicketRequest, TicketStatusResponse,
    TransferRequest, UserRequest, build_openapi,
)
from server.schemas import (
    AdminAuditResponse, DevicesResponse, UserChangeRequest, UserSavedResponse, UsersResponse,
)
from server.schemas import (
    ArrivalsResponse, RatingRequest, RatingResponse, RatingStateResponse, ReportResponse, ScreenRatingRequest,
    ScreenStateResponse,
)

bp = Blueprint("api", __name__, url_prefix="/api")


class RateLimits:
    """Per-key request limits in memory (the ``limits`` library's sliding-window counters).

    Used directly rather than through Flask-Limiter, whose before-request hook cost 14% of a
    ticket request's server time under load; the limits themselves come from configuration.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def check(self, rate: str, key: str) -> None:
        """Count one request for ``key``; RateLimited when ``rate`` (e.g. "20 per minute") is exceeded."""
        if not self.enabled:
            return
        item = parse_rate(rate)
        if not self._limiter.hit(item, key):
            reset = self._limiter.get_window_stats(item, key).reset_time
            raise RateLimited(f"too many requests ({rate}): wait a moment",
                              retry_after=max(1, int(reset - time.time()) + 1))


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> RateLimitItem:
    """A rate such as "20 per minute", parsed once."""
    return parse(rate)
ROUTES: list[dict[str, Any]] = []
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _app() -> Any:
    return current_app.extensions["novbe"]


def endpoint(rule: str, methods: tuple[str, ...] = ("GET",), *, summary: str, tag: str,
             body: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
             status: int = 200, errors: tuple[int, ...] = (), security: str | None = None,
             query: dict[str, dict[str, Any]] | None = None,
             produces: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view with its schemas: the body is validated and passed as ``body``.

    ``query`` documents optional query parameters (name -> JSON Schema); the view reads them.
    ``produces`` names media types the success answer may also have (files: CSV, XLSX).
    """
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "integer" if conv == "int" else "string"}}
              for conv, name in _CONVERTER.findall(rule)]
    params += [{"name": name, "in": "query", "required": False, "schema": schema}
               for name, schema in (query or {}).items()]
    ROUTES.append({"path": "/api" + _CONVERTER.sub(r"{\2}", rule), "methods": methods, "summary": summary,
                   "tag": tag, "body": body, "response": response, "status": status,
                   # Any route that touches the store can meet a storage fault (503 storage_*).
                   "errors": tuple(sorted(set(errors) | ({400} if body else set()) | {503})),
                   "security": security, "parameters": params, "produces": produces})

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if body is not None:
                kwargs["body"] = parse_body(body)
            return view(**kwargs)
        bp.add_url_rule(rule, view_func=wrapped, methods=list(methods))
        return wrapped
    return decorate


def parse_body(model: type[BaseModel]) -> Any:
    """The request's JSON body validated by ``model``; InvalidRequest naming the fields otherwise."""
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidRequest("the body must be a JSON object (Content-Type: application/json)")
    return validate(model, data)


def validate(model: type[BaseModel], data: Any) -> Any:
    """``data`` validated by ``model`` (for HTTP bodies and Socket.IO payloads alike)."""
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(x) for x in e["loc"]) or "(body)", "message": e["msg"]}
                  for e in exc.errors(include_url=False, include_input=False)]
        raise InvalidRequest("; ".join(f"{f['field']}: {f['message']}" for f in fields), fields=fields) from None


def error_response(exc: QueueError) -> Any:
    """The one JSON error shape, with the error's HTTP status."""
    resp = jsonify(localise.localised_error(exc.to_dict()))
    resp.status_code = exc.status
    if exc.status == 429 and "retry_after" in exc.details:
        resp.headers["Retry-After"] = str(exc.details["retry_after"])
    if exc.status == 503:   # a storage fault: worth trying again soon, it may have been fixed
        resp.headers["Retry-After"] = "5"
    return resp


def _local_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, _app().cfg.tz).isoformat(timespec="seconds")


def status_url(ticket: Ticket) -> str:
    """The citizen's status page address (what the ticket's QR code holds)."""
    base = current_app.config.get("PUBLIC_URL") or _app().cfg.center.base_url or request.host_url
    return base.rstrip("/") + f"/t/{ticket.token}"


def _staff_ticket(t: Ticket | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"id": t.id, "number": t.number, "service": t.service, "status": t.status.value,
            "priority": t.priority, "counter": t.counter, "recalls": t.recalls,
            "priority_verified_by": t.priority_verified_by, "issued_at": t.issued_at,
            "called_at": t.called_at, "started_at": t.started_at}


# --- public --------------------------------------------------------------------

@endpoint("/health", summary="Liveness, storage (a real write probe, at most every 5 s) and the newest event "
          "number; 503 with the storage error's code when the database cannot take writes", tag="public",
          response=HealthResponse)
def health() -> Any:
    store = _app().store
    fault = store.check_storage()
    try:
        seq: int | None = store.last_seq()
    except StorageError as exc:
        fault, seq = fault or exc, None
    body = {"center": store.cfg.center.id, "seq": seq, "version": _app().version, "time": _local_iso(store.clock())}
    if fault is None:
        return jsonify(ok=True, **body)
    resp = jsonify(**fault.to_dict(), **body)   # the one error shape, with the health fields beside it
    resp.status_code, resp.headers["Retry-After"] = fault.status, "5"
    return resp


@endpoint("/services", summary="Areas and services with remaining capacity and current wait", tag="public",
          response=ServicesResponse, errors=(400,), query={"lang": {"type": "string", "enum": ["az", "ru", "en"]}})
def list_services() -> Any:
    lang = request.args.get("lang") or None
    if lang is not None and lang not in ("az", "ru", "en"):
        raise InvalidRequest("lang must be az, ru or en", field="lang")
    data = snapshots.services(_app().store, lang)
    # A kiosk sees only the areas configured for it (e.g. the coordination desk's own kiosk).
    device = auth.device_for(_app().store, auth.bearer_token(), "kiosk")
    kiosk = next((k for k in _app().cfg.kiosks if device and k.name == device["name"]), None)
    if kiosk is not None:
        data["kiosk"] = {"name": kiosk.name, "areas": list(kiosk.areas), "printer": bool(kiosk.printer)}
        if kiosk.areas:
            data["areas"] = [a for a in data["areas"] if a["code"] in kiosk.areas]
            data["services"] = [x for x in data["services"] if x["area"] in kiosk.areas]
    return jsonify(data)


@endpoint("/tickets", ("POST",), summary="Issue a ticket (kiosk device token)", tag="kiosk",
          body=TicketRequest, response=TicketIssuedResponse, status=201, errors=(401, 404, 409, 429),
          security="device")
def issue(body: TicketRequest) -> Any:
    app = _app()
    device = auth.require_device(app.store, "kiosk")
    app.limits.check(app.cfg.policy.kiosk_rate_limit, "kiosk:" + device["name"])
    kiosk = next((k for k in app.cfg.kiosks if k.name == device["name"]), None)
    printer = kiosk.printer if kiosk and kiosk.printer else None
    try:
        # Kiosks racing are served together: one transaction and one forecast play per batch.
        issued = app.issuer.submit(queue.IssueRequest(body.service, kiosk=device["name"], lang=body.lang,
                                                      priority=body.priority, printer=printer,
                                                      large_print=bool(body.large_print)))
    except (CapacityReached, CenterClosed) as exc:
        note_refusal(body.service, body.priority, device["name"], exc)
        raise
    if printer:
        app.wake_printer()
    t = issued.ticket
    svc = app.cfg.services_by_code[t.service]
    resp = jsonify(ok=True, number=t.number, service=t.service, service_name=svc.name.get(body.lang),
                   ahead=issued.ahead, eta_minutes=issued.eta_minutes, eta_low=issued.eta_low,
                   eta_high=issued.eta_high, eta_at=_local_iso(issued.eta_at) if issued.eta_at else None,
                   eta_reason=issued.eta_reason, status_url=status_url(t),
                   issued_at=_local_iso(t.issued_at), priority=t.priority, seq=issued.seq,
                   printing=bool(printer), token=t.token)
    resp.status_code = 201
    return resp


@endpoint("/status/<token>", summary="A ticket's live position (for the citizen's status page)", tag="public",
          response=TicketStatusResponse, errors=(404,))
def ticket_status(token: str) -> Any:
    pos = queue.position(_app().store, token[:64])
    t = pos.ticket
    svc = _app().cfg.services_by_code.get(t.service)
    return jsonify(ok=True, number=t.number, service=t.service,
                   service_name=snapshots._names(svc.name) if svc else {},
                   status="expired" if pos.expired else t.status.value,
                   counter=t.counter, ahead=pos.ahead, eta_minutes=pos.eta_minutes, eta_low=pos.eta_low,
                   eta_high=pos.eta_high, eta_at=_local_iso(pos.eta_at) if pos.eta_at else None,
                   eta_reason=pos.eta_reason, lang=t.lang,
                   issued_at=_local_iso(t.issued_at))


@endpoint("/status/<token>/cancel", ("POST",), summary="The citizen gives up a waiting ticket", tag="public",
          response=OkResponse, errors=(404, 409))
def cancel(token: str) -> Any:
    queue.cancel_ticket(_app().store, token[:64])
    return jsonify(ok=True)


# --- staff login ------------------------------------------------------------------

@endpoint("/login", ("POST",), summary="Staff login: sets the session cookie, returns a CSRF token", tag="staff",
          body=LoginRequest, response=LoginResponse, errors=(401, 429))
def login(body: LoginRequest) -> Any:
    address = request.remote_addr or "unknown"
    _app().limits.check("30 per minute", "login:" + address)
    user = auth.authenticate(_app().store, body.username, body.password, address)
    auth.start_session(user)
    return jsonify(ok=True, username=user["username"], role=user["role"], csrf_token=generate_csrf())


@endpoint("/logout", ("POST",), summary="End the session (every session of this account)", tag="staff",
          response=OkResponse, errors=(400,))
def logout() -> Any:
    if auth.current_user() is not None:
        auth.csrf.protect()
    auth.end_session()
    return jsonify(ok=True)


@endpoint("/me", summary="Who is logged in, with a fresh CSRF token", tag="staff", response=LoginResponse,
          errors=(401,), security="session")
@auth.login_required("operator")
def me() -> Any:
    return jsonify(ok=True, username=g.user["username"], role=g.user["role"], csrf_token=generate_csrf())


@endpoint("/staff/snapshot", summary="Every counter, the waiting list and today's figures", tag="staff",
          errors=(401, 403), security="session")
@auth.login_required("operator")
def staff_snapshot() -> Any:
    return jsonify(ok=True, **snapshots.staff(_app().store))


@endpoint("/display/snapshot", summary="A display board's state (display device token)", tag="display",
          errors=(401,), security="device")
def display_snapshot() -> Any:
    auth.require_device(_app().store, "display")
    return jsonify(ok=True, **snapshots.display(_app().store))


# --- counters -------------------------------------------------------------------------

def authorize_counter(counter: int, needed: str = "operator", *, own: bool = True) -> dict[str, str]:
    """The current user if they may act on ``counter`` (HTTP views and Socket.IO handlers alike).

    Operators act only on the counter they hold; supervisors and admins on any (recorded).
    """
    user = auth.require_role(needed)
    store = _app().store
    if counter not in store.cfg.counters_by_number:
        raise UnknownCounter(f"no counter {counter} at this center", counter=counter)
    if own and not auth.role_at_least(user["role"], "supervisor"):
        with store.read() as tx:
            holder = tx.get_counter(counter).operator
        if holder != user["username"]:
            raise Forbidden(f"counter {counter} is held by another operator" if holder
                            else f"open counter {counter} first", counter=counter)
    return user


def take_counter(counter: int, user: dict[str, str]) -> Any:
    """Open ``counter`` for ``user``; an operator cannot take one another operator holds."""
    store = _app().store
    with store.read() as tx:
        holder = tx.get_counter(counter).operator
    if holder and holder != user["username"] and not auth.role_at_least(user["role"], "supervisor"):
        raise Forbidden(f"counter {counter} is held by {holder}; a supervisor can hand it over", counter=counter)
    return queue.open_counter(store, counter, operator=user["username"])


def counter_action(needed: str = "operator", *, own: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Operators act only on the counter they hold; supervisors and admins on any (recorded)."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(counter: int, **kwargs: Any) -> Any:
            user = g.user = authorize_counter(counter, needed, own=own)
            return view(counter=counter, actor=user["username"], **kwargs)
        return wrapped
    return decorate


def _ticket_answer(t: Ticket | None, message: str | None = None) -> Any:
    return jsonify(ok=True, number=t.number if t else None, ticket=_staff_ticket(t), message=message)


def _counter_answer(c: Any) -> Any:
    return jsonify(ok=True, counter=c.number, state=c.state.value, reason=c.reason, services=list(c.services),
                   operator=c.operator)


_C = "/counters/<int:counter>"
_CERR = (401, 403, 404, 409)


@endpoint(f"{_C}/open", ("POST",), summary="Take (open) a counter", tag="counter",
          response=CounterStateResponse, errors=_CERR, security="session")
@counter_action(own=False)
def counter_open(counter: int, actor: str) -> Any:
    return _counter_answer(take_counter(counter, g.user))


@endpoint(f"{_C}/close", ("POST",), summary="Close a counter", tag="counter",
          response=CounterStateResponse, errors=_CERR, security="session")
@counter_action()
def counter_close(counter: int, actor: str) -> Any:
    return _counter_answer(queue.close_counter(_app().store, counter, actor=actor))


@endpoint(f"{_C}/pause", ("POST",), summary="Pause with a reason", tag="counter", body=PauseRequest,
          response=CounterStateResponse, errors=_CERR, security="session")
@counter_action()
def counter_pause(counter: int, actor: str, body: PauseRequest) -> Any:
    return _counter_answer(queue.pause_counter(_app().store, counter, reason=body.reason, actor=actor))


@endpoint(f"{_C}/resume", ("POST",), summary="End a pause", tag="counter",
          response=CounterStateResponse, errors=_CERR, security="session")
@counter_action()
def counter_resume(counter: int, actor: str) -> Any:
    return _counter_answer(queue.resume_counter(_app().store, counter, actor=actor))


@endpoint(f"{_C}/call-next", ("POST",), summary="Call the next ticket by the routing rules", tag="counter",
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_call_next(counter: int, actor: str) -> Any:
    try:
        return _ticket_answer(queue.call_next(_app().store, counter, actor=actor))
    except NoTicketsWaiting:
        return _ticket_answer(None, "nothing waiting")


@endpoint(f"{_C}/call", ("POST",), summary="Call a specific waiting ticket (if the center allows)", tag="counter",
          body=NumberRequest, response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_call(counter: int, actor: str, body: NumberRequest) -> Any:
    return _ticket_answer(queue.call_ticket(_app().store, counter, body.number, actor=actor))


@endpoint(f"{_C}/recall", ("POST",), summary="Call the current ticket again", tag="counter",
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_recall(counter: int, actor: str) -> Any:
    return _ticket_answer(queue.recall(_app().store, counter, actor=actor))


@endpoint(f"{_C}/start", ("POST",), summary="The citizen arrived: start service", tag="counter",
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_start(counter: int, actor: str) -> Any:
    return _ticket_answer(queue.start_service(_app().store, counter, actor=actor))


@endpoint(f"{_C}/finish", ("POST",), summary="Finish with an outcome", tag="counter", body=FinishRequest,
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_finish(counter: int, actor: str, body: FinishRequest) -> Any:
    return _ticket_answer(queue.finish(_app().store, counter, outcome=body.outcome, actor=actor))


@endpoint(f"{_C}/no-show", ("POST",), summary="The called citizen did not come", tag="counter",
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_no_show(counter: int, actor: str) -> Any:
    return _ticket_answer(queue.mark_no_show(_app().store, counter, actor=actor))


@endpoint(f"{_C}/transfer", ("POST",), summary="Transfer to a service or a named counter", tag="counter",
          body=TransferRequest, response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_transfer(counter: int, actor: str, body: TransferRequest) -> Any:
    return _ticket_answer(queue.transfer(_app().store, counter, service=body.service, to_counter=body.counter,
                                         note=body.note, actor=actor))


@endpoint(f"{_C}/park", ("POST",), summary="Set the current ticket aside", tag="counter",
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_park(counter: int, actor: str) -> Any:
    return _ticket_answer(queue.park(_app().store, counter, actor=actor))


@endpoint(f"{_C}/return", ("POST",), summary="Take a parked ticket back", tag="counter", body=NumberRequest,
          response=CounterActionResponse, errors=_CERR, security="session")
@counter_action()
def counter_return(counter: int, actor: str, body: NumberRequest) -> Any:
    return _ticket_answer(queue.return_parked(_app().store, counter, body.number, actor=actor))


@endpoint(f"{_C}/services", ("PUT",), summary="Reassign a counter's services (supervisor)", tag="supervisor",
          body=ServicesRequest, response=CounterStateResponse, errors=_CERR, security="session")
@counter_action("supervisor", own=False)
def counter_services(counter: int, actor: str, body: ServicesRequest) -> Any:
    return _counter_answer(queue.assign_services(_app().store, counter, body.services, actor=actor))


@endpoint("/tickets/verify-priority", ("POST",), summary="Record that a ticket's priority documents were checked",
          tag="counter", body=NumberRequest, response=CounterActionResponse, errors=(401, 403, 404), security="session")
@auth.login_required("operator")
def verify_priority(body: NumberRequest) -> Any:
    return _ticket_answer(queue.verify_priority(_app().store, body.number, actor=g.user["username"]))


# --- supervision and administration -------------------------------------------------------

@endpoint("/audit", summary="A day's audit trail, today's by default (supervisor)", tag="supervisor",
          errors=(400, 401, 403), security="session",
          query={"day": {"type": "string", "format": "date", "examples": ["2026-11-27"]}})
@auth.login_required("supervisor")
def audit() -> Any:
    store = _app().store
    day = request.args.get("day") or reports.today_of(store)
    if len(day) != 10 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise InvalidRequest("day must be a date, YYYY-MM-DD", field="day")
    try:
        first = datetime.fromisoformat(day).replace(tzinfo=store.cfg.tz)     # the center's midnight, to the next
    except ValueError:
        raise InvalidRequest("day must be a date, YYYY-MM-DD", field="day") from None
    start, end = first.timestamp(), (first + timedelta(days=1)).timestamp()
    return jsonify(ok=True, day=day, events=store.audit(day_start=start, day_end=end, limit=500))


@endpoint("/login-failures", summary="Failed staff logins of the last week: name tried, address, time (supervisor)",
          tag="supervisor", errors=(401, 403), security="session")
@auth.login_required("supervisor")
def login_failures() -> Any:
    store = _app().store
    return jsonify(ok=True, failures=store.login_failures(since=store.clock() - 7 * 86400, limit=200))


@endpoint("/devices/health", summary="Every configured kiosk and board: last seen, connected, page version, sound, "
          "printer; flagged when silent over a minute (supervisor)", tag="supervisor", errors=(401, 403),
          security="session")
@auth.login_required("supervisor")
def devices_health() -> Any:
    from server import realtime

    store = _app().store
    return jsonify(ok=True, now=store.clock(), silent_after=device_health.silent_after(current_app.config),
                   devices=realtime.health_rows())


@endpoint("/print-jobs", summary="Recent print jobs and printer states", tag="supervisor", errors=(401, 403),
          security="session")
@auth.login_required("operator")
def print_jobs() -> Any:
    store = _app().store
    printers = device_health.printer_rows(store.cfg, store.printers())
    return jsonify(ok=True, jobs=store.print_jobs(100), printers=printers)


@endpoint("/print-jobs/<int:job>/reprint", ("POST",), summary="Print a ticket again (supervisor)", tag="supervisor",
          response=OkResponse, errors=(401, 403, 404, 409), security="session")
@auth.login_required("supervisor")
def reprint(job: int) -> Any:
    if not _app().store.requeue_print_job(job):
        raise InvalidRequest(f"print job {job} is not finished or does not exist", job=job)
    _app().wake_printer()
    return jsonify(ok=True)


# Every change below goes through server.auth (as `novbe user …` / `novbe device …` do) and is
# recorded in the event log under the admin's name.

@endpoint("/users", ("POST",), summary="Create a staff account, or reset its password and role (admin); "
          "only_new: 409 user_exists instead; 409 last_admin if no enabled admin would be left", tag="admin",
          body=UserRequest, response=UserSavedResponse, errors=(401, 403, 409), security="session")
@auth.login_required("admin")
def create_user(body: UserRequest) -> Any:
    try:
        created = auth.add_user(_app().store, body.username, body.password, body.role, actor=g.user["username"],
                                only_new=body.only_new)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    return jsonify(ok=True, username=body.username, role=body.role, created=created)


@endpoint("/users", summary="Staff accounts (admin)", tag="admin", response=UsersResponse, errors=(401, 403),
          security="session")
@auth.login_required("admin")
def list_users() -> Any:
    return jsonify(ok=True, users=_app().store.users())


@endpoint("/users/<username>", ("PATCH",), summary="Change a staff account: new password, role, disabled or "
          "enabled (admin); its sessions end at once; 409 last_admin if no enabled admin would be left", tag="admin",
          body=UserChangeRequest, response=OkResponse, errors=(401, 403, 404, 409), security="session")
@auth.login_required("admin")
def change_user(username: str, body: UserChangeRequest) -> Any:
    try:
        auth.change_user(_app().store, username[:64], password=body.password, role=body.role,
                         disabled=body.disabled, actor=g.user["username"])
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    return jsonify(ok=True)


@endpoint("/devices", summary="The center file's kiosks and boards and every device holding a token: state "
          "(ok, no_token, refused), token since, last seen (admin)", tag="admin", response=DevicesResponse,
          errors=(401, 403), security="session")
@auth.login_required("admin")
def list_devices() -> Any:
    return jsonify(ok=True, devices=auth.device_list(_app().store))


@endpoint("/devices", ("POST",), summary="Create a kiosk, display or rating screen the center file lists, or "
          "rotate its token (admin): the token is in this answer only; 404 unknown_device if the file does not "
          "list it", tag="admin", body=DeviceRequest, response=DeviceResponse, errors=(401, 403, 404),
          security="session")
@auth.login_required("admin")
def create_device(body: DeviceRequest) -> Any:
    token = auth.issue_device_token(_app().store, body.kind, body.name, actor=g.user["username"])
    return jsonify(ok=True, kind=body.kind, name=body.name, token=token)


@endpoint("/devices/<kind>/<name>", ("DELETE",), summary="Revoke a device's token: it is refused from now on "
          "(admin); 404 unknown_device if it holds none", tag="admin", response=OkResponse, errors=(401, 403, 404),
          security="session")
@auth.login_required("admin")
def revoke_device(kind: str, name: str) -> Any:
    if not auth.revoke_device(_app().store, kind[:16], name[:64], actor=g.user["username"]):
        raise UnknownDevice(f"no {kind[:16]} named {name[:64]!r} holds a token", kind=kind[:16], name=name[:64])
    return jsonify(ok=True)


@endpoint("/admin/audit", summary="Changes to staff accounts and device tokens, newest first, with who made "
          "them (admin)", tag="admin", response=AdminAuditResponse, errors=(401, 403), security="session")
@auth.login_required("admin")
def admin_audit() -> Any:
    from server.core.model import DeviceChanged, StaffChanged

    return jsonify(ok=True, events=_app().store.audit(names=(StaffChanged.name, DeviceChanged.name), limit=300))


@bp.get("/openapi.json")
def openapi() -> Any:
    app = _app()
    if app.openapi is None:
        app.openapi = build_openapi(ROUTES, app.version)
    return jsonify(app.openapi)


# --- the citizen's rating (server.core.rating) -----------------------------------------------

def _reasons() -> list[dict[str, Any]]:
    return [{"code": r.code, "name": snapshots._names(r.name)} for r in _app().cfg.ratings.reasons]


@endpoint("/status/<token>/rating", ("POST",), summary="The citizen rates a served visit, once (4-5 count as "
          "satisfied); 409 not_finished, already_rated or rating_closed", tag="public", body=RatingRequest,
          response=RatingResponse, status=201, errors=(403, 404, 409))
def rate(token: str, body: RatingRequest) -> Any:
    r = rating.rate_ticket(_app().store, token[:64], body.score, reason=body.reason, comment=body.comment)
    resp = jsonify(ok=True, score=r.score, satisfied=r.satisfied, seq=r.seq)
    resp.status_code = 201
    return resp


@endpoint("/status/<token>/rating", summary="Whether a visit can be rated now, and the reasons offered",
          tag="public", response=RatingStateResponse, errors=(404,))
def rating_state(token: str) -> Any:
    store = _app().store
    state = rating.rating_state(store, token[:64])
    return jsonify(ok=True, rated=state.rated, can_rate=state.can_rate, status=state.status, reasons=_reasons())


def _screen(counter: int) -> None:
    """The rating screen of ``counter``: a rating device named ``counter-<N>``."""
    device = auth.require_device(_app().store, "rating")
    if counter not in _app().cfg.counters_by_number:
        raise UnknownCounter(f"no counter {counter} at this center", counter=counter)
    if device["name"] != f"counter-{counter}":
        raise Forbidden(f"this rating screen is {device['name']}, not counter-{counter}", counter=counter)


def screen_question(counter: int) -> dict[str, Any] | None:
    """What counter ``counter``'s rating screen asks now (None: nothing)."""
    store = _app().store
    t = rating.pending_at_counter(store, counter)
    if t is None or t.finished_at is None:
        return None
    svc = store.cfg.services_by_code.get(t.service)
    return {"ticket": t.id, "number": t.number, "service": t.service,
            "service_name": snapshots._names(svc.name) if svc else {}, "finished_at": t.finished_at,
            "until": t.finished_at + store.cfg.ratings.screen_seconds}


@endpoint("/rate/<int:counter>", summary="What a counter's rating screen asks now (rating device token "
          "of counter-N)", tag="rating", response=ScreenStateResponse, errors=(401, 403, 404), security="device")
def rate_screen_state(counter: int) -> Any:
    _screen(counter)
    return jsonify(ok=True, counter=counter, question=screen_question(counter), reasons=_reasons())


@endpoint("/rate/<int:counter>", ("POST",), summary="A counter's rating screen rates the visit that counter "
          "finished last; 409 nothing_to_rate or already_rated", tag="rating", body=ScreenRatingRequest,
          response=RatingResponse, status=201, errors=(401, 403, 404, 409), security="device")
def rate_at_screen(counter: int, body: ScreenRatingRequest) -> Any:
    _screen(counter)
    r = rating.rate_at_counter(_app().store, counter, body.score, ticket_id=body.ticket, reason=body.reason)
    resp = jsonify(ok=True, score=r.score, satisfied=r.satisfied, seq=r.seq)
    resp.status_code = 201
    return resp


def note_refusal(service: str, priority: str | None, kiosk: str, exc: QueueError) -> None:
    """Keep a refused issue for the reports; a storage fault here must not hide the refusal itself."""
    store = _app().store
    svc = store.cfg.services_by_code.get(service)
    reason = "closed" if isinstance(exc, CenterClosed) else str(exc.details.get("scope") or "capacity")
    try:
        store.note_refusal(reports.today_of(store), store.clock(), reason,
                           service=svc.code if svc else None, area=svc.area if svc else None,
                           priority=priority, kiosk=kiosk)
    except StorageError:
        pass


# --- reports (server.reports) --------------------------------------------------------------------

_PERIOD = {"from": {"type": "string", "format": "date", "examples": ["2026-11-01"]},
           "to": {"type": "string", "format": "date", "examples": ["2026-11-30"]}}
_FILE = {"format": {"type": "string", "enum": ["json", "csv", "xlsx"]},
         "lang": {"type": "string", "enum": ["az", "ru", "en"]}}
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period() -> tuple[str, str]:
    return reports.parse_period(request.args.get("from"), request.args.get("to"), reports.today_of(_app().store))


def _file_or_json(body: dict[str, Any], name: str, header: list[str], rows: list[list[Any]]) -> Any:
    fmt = request.args.get("format") or "json"
    if fmt == "json":
        return jsonify(body)
    if fmt not in ("csv", "xlsx"):
        raise InvalidRequest("format must be json, csv or xlsx", field="format")
    store = _app().store
    filename = f"novbe-{store.cfg.center.id}-{name}-{body['from']}-{body['to']}.{fmt}"
    if fmt == "csv":
        data, mimetype = reports.to_csv(header, rows), "text/csv"    # Flask adds "; charset=utf-8" to text/*
    else:
        data = reports.to_xlsx(header, rows, title=name, about={
            "center": store.cfg.center.id, "from": body["from"], "to": body["to"], "report": name,
            "generated": reports.generated_at(store), "times": "seconds", "shares": "0-1"})
        mimetype = _XLSX
    resp = current_app.response_class(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def _lang() -> str:
    lang = request.args.get("lang") or "az"
    if lang not in ("az", "ru", "en"):
        raise InvalidRequest("lang must be az, ru or en", field="lang")
    return lang


@endpoint("/reports", summary="Figures of a period grouped by service, area, counter, operator, priority, hour "
          "or day (supervisor); format=csv or xlsx for the same table as a file", tag="reports",
          response=ReportResponse, errors=(400, 401, 403), security="session", produces=("text/csv", _XLSX),
          query={**_PERIOD, "by": {"type": "string", "enum": list(reports.GROUPINGS)}, **_FILE})
@auth.login_required("supervisor")
def report() -> Any:
    first, last = _period()
    lang = _lang()
    body = reports.report(_app().store, first, last, request.args.get("by") or "service")
    header, rows = reports.table(body, lang)
    return _file_or_json(body, f"by-{body['by']}", header, rows)


@endpoint("/reports/arrivals", summary="Tickets issued per weekday and hour over a period: the heat map "
          "(supervisor); format=csv or xlsx as a file", tag="reports", response=ArrivalsResponse,
          errors=(400, 401, 403), security="session", produces=("text/csv", _XLSX), query={**_PERIOD, **_FILE})
@auth.login_required("supervisor")
def report_arrivals() -> Any:
    first, last = _period()
    _lang()
    body = reports.arrivals(_app().store, first, last)
    header, rows = reports.grid_table(body)
    return _file_or_json(body, "arrivals", header, rows)


@endpoint("/reports/comments", summary="Low-rating reasons and comments of a period, newest first, no ticket "
          "or person (supervisor)", tag="reports", errors=(400, 401, 403), security="session", query=_PERIOD)
@auth.login_required("supervisor")
def report_comments() -> Any:
    first, last = _period()
    cfg = _app().cfg
    reasons = {r.code: snapshots._names(r.name) for r in cfg.ratings.reasons}
    rows = [{**c, "reason_name": reasons.get(c["reason"]), "service_name": reports.names(cfg, "service", c["service"])}
            for c in _app().store.rating_comments(first, last)]
    return jsonify(ok=True, comments=rows)
