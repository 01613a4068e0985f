"""The counter-side rating screen: a small tablet at counter N (``/rate/?counter=N&token=r_…``).

The tablet holds a rating device's token named ``counter-N`` (``novbe device add rating counter-N``).
It joins the ``/rate`` Socket.IO namespace for its counter; the moment that counter finishes a
ticket, the screen is sent the question (``ask``), and when the visit is rated, from the screen or
the citizen's phone, it is told (``rated``). It rates through ``POST /api/rate/N`` (the core verb
:func:`server.core.rating.rate_at_counter`). On every (re)connect it gets what it should ask now.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_socketio import join_room

from server import api, auth
from server.core.model import Event, TicketFinished
from server.core.rating import TicketRated
from server.realtime import socketio

bp = Blueprint("rate", __name__, url_prefix="/rate", template_folder="templates")


@bp.get("/")
def screen() -> Any:
    """The rating screen page; it reads its counter and token from its own address."""
    cfg = current_app.extensions["novbe"].cfg
    boot = {"center": {"az": cfg.center.name.az, "ru": cfg.center.name.get("ru"), "en": cfg.center.name.get("en")},
            "languages": list(cfg.center.languages)}
    resp = current_app.make_response(render_template("counter/rate.html", boot=boot, center=cfg.center))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _room(counter: int) -> str:
    return f"rate-{counter}"


@socketio.on("connect", namespace="/rate")
def rate_connect(auth_data: Any = None) -> bool:
    """A rating screen joins its counter's room if its token is that counter's rating device."""
    store = current_app.extensions["novbe"].store
    if not isinstance(auth_data, dict):
        return False
    counter = auth_data.get("counter")
    if isinstance(counter, str) and counter.isdigit():
        counter = int(counter)
    if not isinstance(counter, int) or counter not in store.cfg.counters_by_number:
        return False
    token = auth_data.get("token")
    device = auth.device_for(store, token if isinstance(token, str) else None, "rating")
    if device is None or device["name"] != f"counter-{counter}":
        return False
    join_room(_room(counter))
    socketio.emit("ask", {"question": api.screen_question(counter)}, namespace="/rate",
                  to=str(getattr(request, "sid")))
    return True


def listener(cfg: Any) -> Any:
    """The publisher hook: a finish asks counter N's screen at once; a rating tells it."""
    def on_event(event: Event) -> None:
        if isinstance(event, TicketFinished) and event.counter is not None and cfg.ratings.enabled:
            svc = cfg.services_by_code.get(event.service)
            name = {"az": svc.name.az, "ru": svc.name.get("ru"), "en": svc.name.get("en")} if svc else {}
            question = {"ticket": event.ticket_id, "number": event.number, "service": event.service,
                        "service_name": name, "finished_at": event.at,
                        "until": event.at + cfg.ratings.screen_seconds}
            socketio.emit("ask", {"question": question, "seq": event.seq}, namespace="/rate",
                          to=_room(event.counter))
        elif isinstance(event, TicketRated) and event.counter is not None:
            socketio.emit("rated", {"ticket": event.ticket_id, "seq": event.seq}, namespace="/rate",
                          to=_room(event.counter))
    return on_event


def _attach(state: BlueprintSetupState) -> None:
    novbe = state.app.extensions["novbe"]
    novbe.publisher.listeners.append(listener(novbe.cfg))


bp.record_once(_attach)
