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

Every connect (and reconnect) gets a full ``snapshot`` first; every event carries ``seq``,
so a client that sees a gap emits ``snapshot`` to ask for a fresh one. Events reach the
sockets through one publisher task, in commit order, after the commit. Every namespace takes
connections only from pages of this server (the origin check in :mod:`server.app`).
"""
from __future__ import annotations

import logging
import queue
from typing import Any

from flask import current_app, request
from flask_socketio import SocketIO, join_room
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from server import auth, snapshots
from server.device_health import DeviceHealth, parse_heartbeat, silent_after
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
    return device_health().rows(store.cfg, store.clock(), store.printers(), tokens)


def _tell_supervisors(key: tuple[str, str] | None) -> None:
    if key is None:
        return
    store = _store()
    row = device_health().row(store.cfg, key[0], key[1], store.clock(),
                              {p["url"]: p for p in store.printers()})
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
    join_room("staff")
    if auth.role_at_least(user.get("role"), "supervisor"):
        join_room("supervisors")   # device health (heartbeats of kiosks and boards)
    socketio.emit("snapshot", snapshots.staff(_store()), namespace="/counter", to=_sid())
    return True


@socketio.on("snapshot", namespace="/counter")
def counter_snapshot(_data: Any = None) -> dict[str, Any] | None:
    if auth.current_user() is None:
        return None
    return snapshots.staff(_store())
