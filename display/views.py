"""The display client's blueprint: the hall board page and its spoken announcements.

    GET /display/?board=<name>[&token=<display token>]   the board page (1920×1080)
    GET /display/audio?number=A-015&counter=7            chime + announcement as one WAV

The page is thin: it gets its state over Socket.IO (namespace ``/display``, a full
``snapshot`` on every connect, numbered events after it).

The audio route needs no token for a call that was really made today (the ``<audio>``
element cannot send a header, and a token in a URL ends up in logs): anything else is
refused before any speech is made, unless a board presents its device token
(``Authorization: Bearer``). Each call's announcement is made once, in the background as
soon as the call is committed while a board is listening, and cached per call; an
anonymous request never removes anything from the cache (see docs/display.md).
"""
from __future__ import annotations

import io
import logging
import queue
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request, send_file, url_for
from flask.blueprints import BlueprintSetupState

import i18n
from config.schema import CenterConfig
from display import voice
from server.core.errors import AnnouncementExpired, CallNotFound, QueueError
from server.device_health import heartbeat_seconds, page_version
from server.core.model import Event, TicketCalled

log = logging.getLogger(__name__)

bp = Blueprint("display", __name__, url_prefix="/display", template_folder="templates", static_folder="static",
               static_url_path="/static/display")

# A ticket number as the core makes it: one capital letter (Azerbaijani alphabet), a hyphen,
# ASCII digits ([0-9], not \d, which also takes Arabic-Indic and other digits).
NUMBER = re.compile(r"^[A-ZƏÇĞİÖŞÜ]-[0-9]{1,4}$")
_EXTENSION = "novbe-announcer"
_announcer_lock = threading.Lock()
# An anonymous request may have a call's announcement made only this long after the call
# (the board asks at once; a reconnecting board catches up on the last 120 s). Older calls
# are served from the cache or not at all, so nobody can make the server speak the whole day again.
FRESH_SECONDS = 600


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
    texts = board_texts(cfg)
    if name not in boards:
        # No secrets here: only the names of the configured boards.
        return render_template("display/choose.html", center=cfg.center, boards=list(boards), asked=name,
                               texts=texts, others=list(texts)[1:]), (404 if name else 200)
    page = {
        "board": name,
        "areas": board_areas(cfg, name),
        "namespace": "/display",
        "audio": url_for("display.audio"),
        "chime": url_for("display.static", filename="display/chime.wav"),
        "timezone": cfg.center.timezone,
        "version": page_version("display"),   # reported in the heartbeat: an old page shows as such
        "heartbeat_seconds": heartbeat_seconds(current_app.config),
        "texts": texts,
        # The date stays in Azerbaijani, like the center's name: the kiosk's month and weekday names.
        "date": {key: i18n.section("kiosk")["az"][key] for key in ("months", "weekdays")},
    }
    return render_template("display/board.html", center=cfg.center, board=boards[name], page=page,
                           texts=texts, others=list(texts)[1:])


def board_texts(cfg: CenterConfig) -> dict[str, dict[str, Any]]:
    """The board's own texts (the ``board`` part of the catalogues) in its languages, Azerbaijani first.

    The page is Azerbaijani; each label is followed by the center's other languages, each marked with its lang.
    """
    section = i18n.section("board")
    return {lang: section[lang] for lang in i18n.LANGS if lang == i18n.DEFAULT or lang in cfg.center.languages}


def announcer(app: Flask | None = None) -> voice.Announcer:
    """The app's one Announcer (its cache is shared by every board), made on first use."""
    app = app or current_app
    ext = app.extensions
    found = ext.get(_EXTENSION)
    if found is None:
        with _announcer_lock:
            found = ext.get(_EXTENSION)
            if found is None:
                cache = app.config.get("VOICE_CACHE") or Path(app.instance_path) / "voice-cache"
                found = ext[_EXTENSION] = voice.Announcer(Path(cache).resolve())
    return found  # type: ignore[no-any-return]


def _languages(cfg: CenterConfig) -> list[str]:
    return [lang for lang in cfg.center.announce_languages if lang in voice.VOICES]


def _boards_listening() -> bool:
    """Whether any board is connected to ``/display`` (nobody else needs the audio soon)."""
    from server.realtime import socketio

    try:
        return any(True for _ in socketio.server.manager.get_participants("/display", "hall"))
    except (AttributeError, KeyError, TypeError):
        return False


class Prewarmer:
    """Makes each call's announcement in the background as soon as the call is committed.

    A publisher listener: it only queues (the publisher must stay quick); one worker thread,
    started on the first call, does the speaking. When its queue is full, or no board is
    listening, the call is skipped: the board's own request makes the file then.
    """

    def __init__(self, get_announcer: Callable[[], voice.Announcer], langs: list[str],
                 listening: Callable[[], bool] = _boards_listening) -> None:
        self.get_announcer = get_announcer
        self.langs = langs
        self.listening = listening
        self.queue: queue.Queue[tuple[str, int, float]] = queue.Queue(maxsize=64)
        self.made = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Queue the announcement of a call, recall or return."""
        if not isinstance(event, TicketCalled) or event.counter is None or not self.langs:
            return
        if not NUMBER.fullmatch(event.number) or not self.listening():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="novbe-announcer", daemon=True)
                self._thread.start()
        try:
            self.queue.put_nowait((event.number, event.counter, event.at))
        except queue.Full:
            pass

    def _run(self) -> None:
        while True:
            number, counter, at = self.queue.get()
            try:
                self.get_announcer().audio_for(number, counter, self.langs, at=at)
                self.made += 1
            except (voice.SpeechError, OSError) as exc:
                log.warning("could not prepare the announcement of %s at counter %s: %s", number, counter, exc)


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    # At start-up: an unwritable voice cache is reported now, once, not on the first call.
    app: Any = state.app
    novbe = app.extensions.get("novbe")
    if novbe is None:
        return
    a = announcer(app)
    novbe.extras["prewarmer"] = prewarmer = Prewarmer(lambda: a, _languages(novbe.cfg))
    novbe.publisher.listeners.append(prewarmer)


@lru_cache(maxsize=1)
def _chime_bytes() -> bytes:
    return voice.chime_wav()


def _bad(message: str, field: str) -> Any:
    from server.api import error_response
    from server.core.errors import InvalidRequest

    return error_response(InvalidRequest(message, field=field))


@bp.get("/audio")
def audio() -> Any:
    """One call's announcement: the chime, then the call in each announce language (WAV)."""
    from server import auth
    from server.api import error_response
    from server.core.errors import Unauthorized

    novbe = current_app.extensions["novbe"]
    cfg: CenterConfig = novbe.cfg
    number = request.args.get("number", "")
    raw_counter = request.args.get("counter", "")
    if not NUMBER.fullmatch(number):
        return _bad("number must be a ticket number such as A-015", "number")
    if not raw_counter.isascii() or not raw_counter.isdigit() or int(raw_counter) not in cfg.counters_by_number:
        return _bad("counter must be the number of a counter of this center", "counter")
    counter = int(raw_counter)
    langs = _languages(cfg)
    a = announcer()
    store = novbe.store
    token = auth.bearer_token()
    board = auth.device_for(store, token, "display") if token else None
    try:
        if board is not None:
            # A board may have anything spoken (a sound check); its files count like calls.
            path = a.audio_for(number, counter, langs, at=store.clock())
        else:
            called_at = store.last_call_at(number, counter)
            if called_at is None:
                if token:
                    raise Unauthorized("the display token was not accepted")
                raise CallNotFound(f"{number} was not called to counter {counter} today", field="number")
            found = a.cached(number, counter, langs)
            if found is not None:
                path = found
            elif store.clock() - called_at <= FRESH_SECONDS:
                # Made now for a real, recent call; removes nothing from the cache.
                path = a.audio_for(number, counter, langs, at=called_at, prune=False)
            else:
                raise AnnouncementExpired(f"the call of {number} to counter {counter} was "
                                          f"more than {FRESH_SECONDS // 60} minutes ago")
        return send_file(path, mimetype="audio/wav", max_age=3600)
    except QueueError as exc:
        return error_response(exc)
    except (voice.SpeechError, OSError):
        # The board must still hear the chime: speech trouble is logged once by the Announcer.
        log.warning("announcement for %s at counter %s failed; sending the chime", number, counter, exc_info=True)
        return send_file(io.BytesIO(_chime_bytes()), mimetype="audio/wav", max_age=60)
