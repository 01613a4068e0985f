"""The display client's blueprint: the hall board page and its spoken announcements.

    GET /display/?board=<name>[&token=<display token>]   the board page (1920×1080)
    GET /display/audio?number=A-015&counter=7            chime + announcement as one WAV

The page is thin: it gets its state over Socket.IO (namespace ``/display``, a full
``snapshot`` on every connect, numbered events after it). The audio route is public on
purpose: it says nothing but a ticket number and a counter, both validated, and the
files are cached (see docs/display.md).
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template, request, send_file, url_for

from config.schema import CenterConfig
from display import voice

log = logging.getLogger(__name__)

bp = Blueprint("display", __name__, url_prefix="/display", template_folder="templates", static_folder="static",
               static_url_path="/static/display")

# A ticket number as the core makes it: one capital letter (Azerbaijani alphabet), a hyphen,
# ASCII digits ([0-9], not \d, which also takes Arabic-Indic and other digits).
NUMBER = re.compile(r"^[A-ZƏÇĞİÖŞÜ]-[0-9]{1,4}$")
_EXTENSION = "novbe-announcer"
_announcer_lock = threading.Lock()


def _cfg() -> CenterConfig:
    return current_app.extensions["novbe"].cfg  # type: ignore[no-any-return]


def board_areas(cfg: CenterConfig, name: str) -> list[str]:
    """The service areas whose waiting counts a board shows, in configuration order.

    A board's own ``areas`` win; otherwise the areas placed in the hall named like the board
    (``hall = "hall-2"`` on an area); otherwise the areas its counters serve; otherwise all.
    """
    board = next((b for b in cfg.boards if b.name == name), None)
    every = [a.code for a in cfg.areas]
    if board is None or board.single_counter is not None:
        return every if board is None else []
    if board.areas:
        return [a for a in every if a in board.areas]
    in_hall = [a.code for a in cfg.areas if a.hall == name]
    if in_hall:
        return in_hall
    if board.counters:
        served = {cfg.services_by_code[s].area for c in cfg.counters if c.number in board.counters
                  for s in c.services if s in cfg.services_by_code}
        return [a for a in every if a in served]
    return every


@bp.get("/")
def index() -> Any:
    cfg = _cfg()
    name = request.args.get("board", "")
    boards = {b.name: b for b in cfg.boards}
    if name not in boards:
        # No secrets here: only the names of the configured boards.
        return render_template("display/choose.html", center=cfg.center, boards=list(boards), asked=name), \
            (404 if name else 200)
    page = {
        "board": name,
        "areas": board_areas(cfg, name),
        "namespace": "/display",
        "audio": url_for("display.audio"),
        "chime": url_for("display.static", filename="display/chime.wav"),
        "timezone": cfg.center.timezone,
    }
    return render_template("display/board.html", center=cfg.center, board=boards[name], page=page)


def announcer() -> voice.Announcer:
    """The app's one Announcer (its cache is shared by every board), made on first use."""
    ext = current_app.extensions
    found = ext.get(_EXTENSION)
    if found is None:
        with _announcer_lock:
            found = ext.get(_EXTENSION)
            if found is None:
                cache = current_app.config.get("VOICE_CACHE") or Path(current_app.instance_path) / "voice-cache"
                found = ext[_EXTENSION] = voice.Announcer(Path(cache).resolve())
    return found  # type: ignore[no-any-return]


def _bad(message: str, field: str) -> Any:
    from server.api import error_response
    from server.core.errors import InvalidRequest

    return error_response(InvalidRequest(message, field=field))


@bp.get("/audio")
def audio() -> Any:
    """One call's announcement: the chime, then the call in each announce language (WAV)."""
    cfg = _cfg()
    number = request.args.get("number", "")
    raw_counter = request.args.get("counter", "")
    if not NUMBER.fullmatch(number):
        return _bad("number must be a ticket number such as A-015", "number")
    if not raw_counter.isascii() or not raw_counter.isdigit() or int(raw_counter) not in cfg.counters_by_number:
        return _bad("counter must be the number of a counter of this center", "counter")
    langs = [lang for lang in cfg.center.announce_languages if lang in voice.VOICES]
    a = announcer()
    try:
        path = a.audio_for(number, int(raw_counter), langs)
        response = send_file(path, mimetype="audio/wav", max_age=3600)
    except (voice.SpeechError, OSError):
        # The board must still hear the chime: speech trouble is logged once by the Announcer.
        log.warning("announcement for %s at counter %s failed; sending the chime", number, raw_counter,
                    exc_info=True)
        response = send_file(a.chime_path(), mimetype="audio/wav", max_age=60)
    return response
