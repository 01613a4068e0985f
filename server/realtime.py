"""Socket.IO: namespaces, rooms, snapshots on connect, and committed events as messages.

Namespaces and who may join:

    /display  a display board's device token      room "hall": every public event
    /kiosk    a kiosk's device token               room "hall"
    /status   anyone holding a ticket's token      room "hall" + "ticket-<id>" for its own updates
    /counter  a logged-in operator or higher,      room "staff": events with the actor
              with ``auth={"csrf_token": ...}``

Kiosks and boards also send a ``heartbeat`` (page version, sound, print outcome; see
:mod:`server.device_health`); each connect, heartbeat and disconnect of one is sent to the
supervisors (room ``supervisors`` of ``/counter``) as ``device-health`` with that device's row.

A ``/counter`` socket lives only as long as its staff session: when the session ends (logout,
a new password or role, the account disabled, or idle too long) the socket is sent
``session-ended`` ``{"reason": ...}`` and disconnected by the server (:class:`StaffSockets`).

Every connect (and reconnect) gets a full ``snapshot`` first; every event carries ``seq``,
so a client that sees a gap emits ``snapshot`` to ask for a fresh one. Events reach the
sockets through one publisher task, in commit order, after the commit. Every namespace takes
connections only from pages of this server (the origin check in :mod:`server.app`).
"""
from __future__ import annotations

import logging
import queue
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_socketio import SocketIO, join_room
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from server import auth, snapshots
from server.device_health import DeviceHealth, parse_heartbeat, printer_rows, silent_after
from server.core.errors import QueueError
from server.core.model import Event, TicketEvent

log = logging.getLogger(__name__)
socketio = SocketIO()

PUBLIC_NAMESPACES = ("/display", "/kiosk", "/status")


class Publisher:
    """Carries committed events to the sockets from one background task, in order."""

    def __init__(self, sio: SocketIO) -> None:
        self.sio = sio
        self.queue: queue.Queue[list[Event] | None] = queue.Queue()
        self.listeners: list[Any] = []   # in-process hooks (LED displays, print spool)
        self._started = False

    def enqueue(self, events: list[Event]) -> None:
        """Called by the store after a commit, under its write lock: cheap."""
        self.queue.put(events)

    def start(self) -> None:
        """Start the publishing task once."""
        if not self._started:
            self._started = True
            self.sio.start_background_task(self._run)

    def stop(self) -> None:
        """Let the task end."""
        self.queue.put(None)

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            for event in batch:
                try:
                    self.publish(event)
                except Exception:  # a broken socket must never stop the hall's updates
                    log.exception("could not publish %s", event.name)

    def publish(self, event: Event) -> None:
        """Send one event to every room that should see it."""
        public = event.public()
        for ns in PUBLIC_NAMESPACES:
            self.sio.emit(event.name, public, namespace=ns, to="hall")
        self.sio.emit(event.name, {**public, "actor": event.actor}, namespace="/counter", to="staff")
        if isinstance(event, TicketEvent) and event.ticket_id:
            self.sio.emit("ticket-update", public, namespace="/status", to=f"ticket-{event.ticket_id}")
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("listener failed on %s", event.name)


# --- staff sockets end with their session -------------------------------------------------------

@dataclass(frozen=True)
class _Tie:
    """What a /counter socket was opened with."""

    username: str
    generation: int
    key: str        # the session's key (server.auth), for its last use
    since: float    # when it connected (center clock)


class StaffSockets:
    """Which ``/counter`` socket belongs to which staff session, so that the session's end reaches it.

    An account change that ends sessions (logout, password, role, disabling) calls
    :meth:`account_changed` through :data:`server.auth.on_sessions_ended`, right after its commit:
    that account's sockets are told ``session-ended`` and disconnected at once.

    Idle expiry has no such moment (nothing happens when a session goes stale), so a sweep runs
    while any staff socket is open, every :attr:`every` seconds (30, or a tenth of the idle limit
    when that is shorter). Checking each socket before every staff broadcast instead would put
    a check in front of every emit to the staff rooms (the publisher, device health, the print
    spool's notices) and would still leave a stale socket open in a quiet hall; the sweep is one
    pass over a few dozen sockets and one account read per user, and it also ends the sockets of
    accounts changed by another process (``novbe user disable`` on the same database), which no
    hook here hears. Its lag of at most 30 s is small against an idle limit of hours.
    """

    def __init__(self, sio: SocketIO, store: Any, idle: float) -> None:
        # A weak reference: the registry is looked up by its store (a WeakKeyDictionary) and must not keep it alive.
        self._store = weakref.ref(store)
        self.sio, self.idle = sio, idle
        self.every = max(0.2, min(30.0, idle / 10))
        self._lock = threading.Lock()
        self._ties: dict[str, _Tie] = {}
        self._sweeping = False

    @property
    def store(self) -> Any:
        """The store whose accounts these sockets belong to."""
        store = self._store()
        if store is None:
            raise RuntimeError("the store of these staff sockets is gone")
        return store

    def add(self, sid: str, tie: _Tie) -> None:
        """Tie a socket to its session (and start the sweep if it is not running)."""
        with self._lock:
            self._ties[sid] = tie
            start, self._sweeping = not self._sweeping, True
        if start:
            self.sio.start_background_task(self._sweep_loop)

    def remove(self, sid: str) -> None:
        """Forget a socket (it disconnected)."""
        with self._lock:
            self._ties.pop(sid, None)

    def sids(self, username: str) -> list[str]:
        """The open sockets of one account."""
        with self._lock:
            return [sid for sid, tie in self._ties.items() if tie.username == username]

    def account_changed(self, username: str, reason: str) -> None:
        """End every socket of ``username`` whose session the change ended (all of them: the generation moved on)."""
        account = self.store.user(username)
        with self._lock:
            doomed = [sid for sid, tie in self._ties.items() if tie.username == username
                      and not _still_valid(account, tie)]
        for sid in doomed:
            self.end(sid, reason)

    def end(self, sid: str, reason: str) -> None:
        """Tell one socket why its session ended, then disconnect it (server side: the client does not reconnect)."""
        self.remove(sid)
        try:
            self.sio.emit("session-ended", {"reason": reason}, namespace="/counter", to=sid)
        finally:
            # socketio.server, not flask_socketio.disconnect(): that one needs a request of this socket.
            self.sio.server.disconnect(sid, namespace="/counter")

    def sweep(self) -> None:
        """End the sockets whose session went idle too long or whose account changed elsewhere."""
        now = self.store.clock()
        with self._lock:
            ties = list(self._ties.items())
        accounts: dict[str, dict[str, Any] | None] = {}
        for sid, tie in ties:
            if tie.username not in accounts:
                accounts[tie.username] = self.store.user(tie.username)
            account = accounts[tie.username]
            if not _still_valid(account, tie):
                reason = "disabled" if account is not None and account["disabled"] else "ended"
            elif now - max(tie.since, auth.last_used(tie.key) or 0.0) > self.idle:
                reason = "expired"
            else:
                continue
            self.end(sid, reason)

    def _sweep_loop(self) -> None:
        while True:
            self.sio.sleep(self.every)
            with self._lock:
                # No staff socket left: stop (the next connect starts it again); no store: the app is gone.
                if not self._ties or self._store() is None:
                    self._sweeping = False
                    return
            try:
                self.sweep()
            except Exception:   # e.g. a storage fault: try again next time
                log.exception("could not check the staff sockets")


def _still_valid(account: dict[str, Any] | None, tie: _Tie) -> bool:
    return (account is not None and not account["disabled"] and account["generation"] == tie.generation
            and account["role"] in auth.ROLES)


_staff_sockets: "weakref.WeakKeyDictionary[Any, StaffSockets]" = weakref.WeakKeyDictionary()


def staff_sockets() -> StaffSockets:
    """This app's registry of /counter sockets, made on first use."""
    store = _store()
    found = _staff_sockets.get(store)
    if found is None:
        found = _staff_sockets.setdefault(store, StaffSockets(socketio, store, auth.idle_seconds(current_app)))
    return found


def _sessions_ended(store: Any, username: str, reason: str) -> None:
    found = _staff_sockets.get(store)
    if found is not None:
        found.account_changed(username, reason)


auth.on_sessions_ended.append(_sessions_ended)


def _sid() -> str:
    """The Socket.IO session id of the current event (Flask-SocketIO sets it on the request)."""
    return str(getattr(request, "sid"))


def _store() -> Any:
    return current_app.extensions["novbe"].store


def _token(auth_data: Any) -> str | None:
    if isinstance(auth_data, dict) and isinstance(auth_data.get("token"), str):
        return auth_data["token"]
    return request.args.get("token")


# --- device health: heartbeats of kiosks and boards ------------------------------------------

def device_health() -> DeviceHealth:
    """The app's device registry, made on first use."""
    extras = current_app.extensions["novbe"].extras
    found = extras.get("device_health")
    if found is None:
        found = extras.setdefault("device_health", DeviceHealth(_store(), silent_after(current_app.config)))
    return found  # type: ignore[no-any-return]


def health_rows() -> list[dict[str, Any]]:
    """Every configured device's health, as the supervisor view lists it."""
    store = _store()
    tokens = {(d["kind"], d["name"]) for d in store.devices()}
    return device_health().rows(store.cfg, store.clock(), printer_rows(store.cfg, store.printers()), tokens)


def _tell_supervisors(key: tuple[str, str] | None) -> None:
    if key is None:
        return
    store = _store()
    row = device_health().row(store.cfg, key[0], key[1], store.clock(),
                              {p["name"]: p for p in printer_rows(store.cfg, store.printers())})
    socketio.emit("device-health", row, namespace="/counter", to="supervisors")


def _device_connected(device: dict[str, Any]) -> None:
    device_health().connected(device["kind"], device["name"], _sid(), _store().clock(), request.remote_addr)
    _tell_supervisors((device["kind"], device["name"]))


def _heartbeat(data: Any) -> dict[str, Any]:
    report = parse_heartbeat(data)
    if report is None:
        return {"ok": False, "error": "invalid_request", "message": "a heartbeat is a JSON object"}
    key = device_health().heartbeat(_sid(), report, _store().clock())
    _tell_supervisors(key)
    return {"ok": key is not None}


def _device_gone() -> None:
    _tell_supervisors(device_health().disconnected(_sid(), _store().clock()))


@socketio.on("connect", namespace="/display")
def display_connect(auth_data: Any = None) -> bool:
    device = auth.device_for(_store(), _token(auth_data), "display")
    if device is None:
        return False
    join_room("hall")
    socketio.emit("snapshot", snapshots.display(_store()), namespace="/display", to=_sid())
    _device_connected(device)
    return True


@socketio.on("heartbeat", namespace="/display")
def display_heartbeat(data: Any = None) -> dict[str, Any]:
    return _heartbeat(data)


@socketio.on("disconnect", namespace="/display")
def display_disconnect(*_reason: Any) -> None:
    _device_gone()


@socketio.on("snapshot", namespace="/display")
def display_snapshot(_data: Any = None) -> dict[str, Any]:
    return snapshots.display(_store())


@socketio.on("connect", namespace="/kiosk")
def kiosk_connect(auth_data: Any = None) -> bool:
    device = auth.device_for(_store(), _token(auth_data), "kiosk")
    if device is None:
        return False
    join_room("hall")
    socketio.emit("snapshot", {"seq": _store().last_seq(), **snapshots.services(_store())},
                  namespace="/kiosk", to=_sid())
    _device_connected(device)
    return True


@socketio.on("heartbeat", namespace="/kiosk")
def kiosk_heartbeat(data: Any = None) -> dict[str, Any]:
    return _heartbeat(data)


@socketio.on("disconnect", namespace="/kiosk")
def kiosk_disconnect(*_reason: Any) -> None:
    _device_gone()


@socketio.on("snapshot", namespace="/kiosk")
def kiosk_snapshot(_data: Any = None) -> dict[str, Any]:
    return {"seq": _store().last_seq(), **snapshots.services(_store())}


@socketio.on("connect", namespace="/status")
def status_connect(auth_data: Any = None) -> bool:
    from server.core import queue as q

    token = _token(auth_data)
    if not token:
        return False
    try:
        pos = q.position(_store(), token)
    except QueueError:
        return False
    join_room("hall")
    join_room(f"ticket-{pos.ticket.id}")
    return True


def _csrf_ok(auth_data: Any) -> bool:
    """Whether the handshake's ``auth`` carries this session's CSRF token (``{"csrf_token": ...}``)."""
    token = auth_data.get("csrf_token") if isinstance(auth_data, dict) else None
    if not isinstance(token, str) or not token:
        return False
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


@socketio.on("connect", namespace="/counter")
def counter_connect(auth_data: Any = None) -> bool:
    # A login_required decorator cannot refuse a socket: the handler must return False.
    user = auth.current_user()
    if user is None:
        return False
    # The session cookie reaches a WebSocket from any page of the same site (another port of this
    # host too): the page must also prove it read the CSRF token from /api/login or /api/me.
    if not _csrf_ok(auth_data):
        return False
    generation, key = auth.session_mark()
    tie, registry = _Tie(user["username"], generation, key, _store().clock()), staff_sockets()
    registry.add(_sid(), tie)
    # An account change committed after the check above but before add() told nobody about this
    # socket: look once more (a change after add() finds it in the registry).
    if not _still_valid(_store().user(tie.username), tie):
        registry.remove(_sid())
        return False
    join_room("staff")
    if auth.role_at_least(user.get("role"), "supervisor"):
        join_room("supervisors")   # device health (heartbeats of kiosks and boards)
    socketio.emit("snapshot", snapshots.staff(_store()), namespace="/counter", to=_sid())
    return True


@socketio.on("disconnect", namespace="/counter")
def counter_disconnect(*_reason: Any) -> None:
    staff_sockets().remove(_sid())


@socketio.on("snapshot", namespace="/counter")
def counter_snapshot(_data: Any = None) -> dict[str, Any] | None:
    if auth.current_user() is None:
        return None
    return snapshots.staff(_store())
