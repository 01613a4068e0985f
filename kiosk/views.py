"""The kiosk client's blueprint, and the citizen's status page.

Thin on purpose: the kiosk page and the status page call the JSON API and listen on
Socket.IO. The views only render the page shell with what it needs to start (the UI
strings, the idle timeout, the first state of a ticket) and draw QR codes as SVG, so
that the kiosk needs no QR library of its own and no internet.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import threading
import wave
from functools import partial
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, abort, current_app, render_template, request

import i18n
from config.schema import WEEKDAYS
from server import api
from server.device_health import heartbeat_seconds, page_version
from server.core.errors import InvalidRequest, SpeechUnavailable, Unauthorized, UnknownTicket

from kiosk.voice_cache import DEFAULT_BUDGET_MB, VoiceCache

log = logging.getLogger(__name__)
_voice_cache_lock = threading.Lock()

LANGS = ("az", "ru", "en")

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates", static_folder="static",
               static_url_path="/static")
status_bp = Blueprint("status", __name__, template_folder="templates")
extra_blueprints = [status_bp]

# What a status token looks like (secrets.token_urlsafe): the QR route draws nothing else.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")


def catalog() -> dict[str, dict[str, Any]]:
    """Every UI string of the kiosk and the status page, in az, ru and en (the ``kiosk`` part of the catalogues)."""
    return i18n.section("kiosk")


def _novbe() -> Any:
    return current_app.extensions["novbe"]


def _base_url() -> str:
    return (_novbe().cfg.center.base_url or request.host_url).rstrip("/")


@bp.get("/")
def index() -> Any:
    """The kiosk page, with its strings and the idle timeout; it finds its data through the API."""
    cfg = _novbe().cfg
    boot = {
        "idle_seconds": cfg.policy.kiosk_idle_seconds,
        "languages": [lang for lang in LANGS if lang in cfg.center.languages],
        "center": {"az": cfg.center.name.az, "ru": cfg.center.name.get("ru"), "en": cfg.center.name.get("en")},
        "i18n": catalog(),
        "version": page_version("kiosk"),   # reported in the heartbeat: an old page shows as such
        "heartbeat_seconds": heartbeat_seconds(current_app.config),
    }
    resp = Response(render_template("kiosk/index.html", boot=boot))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/qr.svg")
def qr_svg() -> Any:
    """A QR code of one of this server's status-page addresses, as SVG (nothing else is drawn)."""
    data = request.args.get("data", "")
    prefix = _base_url() + "/t/"
    if not data.startswith(prefix) or not _TOKEN.fullmatch(data[len(prefix):]):
        abort(404)
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    resp = Response(img.to_string(encoding="unicode"), mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


# --- spoken guidance of the accessible mode ------------------------------------------------

# A ticket number as the kiosk shows it (the board's pattern): "number:A-015" says "your number, A 15".
_NUMBER = re.compile(r"[A-ZƏÇĞİÖŞÜ]-[0-9]{1,4}")
SPEAK_CACHE_VERSION = 1


def _catalog_phrase(key: str, lang: str) -> str | None:
    """A kiosk catalogue string that stands alone (no placeholder left to fill), or None."""
    value = catalog().get(lang, {}).get(key)
    if not isinstance(value, str) or "{" in value or key.startswith(("st_", "nf_")):
        return None
    return value


# Phrases with placeholders the kiosk may have spoken, and the query parameters that fill them. Every value
# comes from a small set checked below, so the voice cache stays bounded: per language, idle_spoken 121
# files (s = 0..120, or up to the ticket screen's longest countdown) and next_opening at most 9 days x the
# center's distinct opening times (<= 7): <= 63. The ticket screen's boxes: ahead_spoken one file per n =
# 1..max_ahead (the center's tickets a day: Abşeron 1152, Füzuli 224), eta_spoken one per m = 1..max_minutes
# (the longest opening day plus the closing grace: 550 for 09:00-18:00), and eta_range_spoken, whose pairs
# would be ~max_minutes^2 / 2 files (a forecast's range has no width bound), is made of two pieces cached
# apart (the text up to {b}, and from {b} on): 2 x max_minutes. At most max_ahead + 3 x max_minutes + 184
# (Abşeron: 2,986 files of ~0.15 MB, if every value were ever asked for; a day asks for a few hundred). The folder
# is also kept within a byte budget, least recently used out first (kiosk/voice_cache.py).
FILLED = {"idle_spoken": ("s",), "next_opening": ("day", "time"), "ahead_spoken": ("n",), "eta_spoken": ("m",),
          "eta_range_spoken": ("a", "b")}
FILLS = ("s", "day", "time", "n", "m", "a", "b")
DAYS = ("today", "tomorrow", *WEEKDAYS)
MAX_SECONDS = 120


def max_seconds(idle_seconds: int) -> int:
    """The most seconds idle_spoken may say: the ticket screen of an unprinted ticket stays up 4 x the kiosk's idle
    time, at least 120 s (kiosk.js's ticketSeconds), and its countdown is spoken in the accessible mode."""
    return max(MAX_SECONDS, 4 * idle_seconds)


def max_ahead(cfg: Any) -> int:
    """The most people ahead a ticket can have: fewer than the tickets of a day, which the services' quotas (and
    the optional daily ceiling, when lower) limit."""
    total = sum(s.quota for s in cfg.services)
    return min(total, cfg.center.daily_capacity) if cfg.center.daily_capacity else total


def max_minutes(cfg: Any) -> int:
    """The longest wait in minutes a ticket can be told: a ticket is issued only if its service should end by
    closing plus the grace, so no wait outlasts the longest opening day plus the grace; nor does a range's high end
    (one sigma) while policy.closing_confidence asks for more than one sigma (>= 0.85; 0.95 by default). Beyond it
    the phrase is refused and the kiosk, which skips a phrase it cannot fetch, only shows the figure."""
    spans = [(h.closes.hour * 60 + h.closes.minute) - (h.opens.hour * 60 + h.opens.minute)
             for h in cfg.center.hours.values() if h.opens is not None and h.closes is not None]
    return max(spans, default=0) + cfg.policy.closing_grace_minutes


def _whole(given: dict[str, str], name: str, low: int, most: int, what: str) -> int:
    """A fill that must be a whole number (ASCII digits) from low to most, or InvalidRequest naming it."""
    v = given[name]
    if not (v.isascii() and v.isdigit() and len(v) <= len(str(most)) and low <= int(v) <= most):
        raise InvalidRequest(f"{name} must be a whole number of {what} from {low} to {most}", field=name)
    return int(v)


_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def _fill(text_id: str, lang: str, given: dict[str, str]) -> list[str]:
    """A phrase of FILLED with its placeholders filled from validated values, in the pieces it is spoken and cached
    in (InvalidRequest names the bad value)."""
    cfg = _novbe().cfg
    texts = catalog()[lang]
    for name in FILLS:
        if name in given and name not in FILLED[text_id]:
            raise InvalidRequest(f"{text_id} takes no {name}", field=name)
        if name not in given and name in FILLED[text_id]:
            raise InvalidRequest(f"{text_id} needs {name}", field=name)
    if text_id == "idle_spoken":
        s, most = given["s"], max_seconds(cfg.policy.kiosk_idle_seconds)
        if not (s.isascii() and s.isdigit() and len(s) <= len(str(most)) and int(s) <= most):
            raise InvalidRequest(f"s must be a whole number of seconds from 0 to {most}", field="s")
        return [str(texts["idle_spoken"]).format(s=int(s))]
    # The ticket screen's boxes: 0 people and 0 minutes have phrases of their own (ahead_none, eta_now).
    if text_id == "ahead_spoken":
        return [str(texts["ahead_spoken"]).format(n=_whole(given, "n", 1, max_ahead(cfg), "people"))]
    if text_id == "eta_spoken":
        return [str(texts["eta_spoken"]).format(m=_whole(given, "m", 1, max_minutes(cfg), "minutes"))]
    if text_id == "eta_range_spoken":
        most = max_minutes(cfg)
        a = _whole(given, "a", 0, most, "minutes")
        b = _whole(given, "b", 0, most, "minutes")
        if b <= a + 1:   # the screen shows a range only when it is wider than a minute (kiosk.js's renderTicket)
            raise InvalidRequest("b must be more than a + 1 (a narrower wait is eta_spoken)", field="b")
        template = str(texts["eta_range_spoken"])
        cut = template.index("{b}")
        return [template[:cut].rstrip().format(a=a), template[cut:].format(b=b)]
    day, hhmm = given["day"], given["time"]
    if day not in DAYS:
        raise InvalidRequest("day must be today, tomorrow or a weekday (mon..sun)", field="day")
    m = _TIME.fullmatch(hhmm)
    opening_times = {h.opens.strftime("%H:%M") for h in cfg.center.hours.values() if h.opens is not None}
    if m is None or hhmm not in opening_times:
        raise InvalidRequest("time must be one of the center's opening times (HH:MM)", field="time")
    # "9:00" is read "nine zero zero": a full hour is said as the hour alone.
    spoken = str(int(m[1])) if m[2] == "00" else f"{int(m[1])}:{m[2]}"
    if day in ("today", "tomorrow"):
        when = str(texts[f"{day}_at"]).format(time=spoken)
    else:
        when = str(texts["weekday_at"]).format(weekday=texts["weekdays"][WEEKDAYS.index(day)], time=spoken)
    return [str(texts["next_opening"]).format(when=when)]


def speak_text(text_id: str, lang: str, given: dict[str, str] | None = None) -> str | None:
    """What the kiosk may say for a text id, as one text (see speak_parts)."""
    parts = speak_parts(text_id, lang, given)
    return " ".join(parts) if parts else None


def speak_parts(text_id: str, lang: str, given: dict[str, str] | None = None) -> list[str] | None:
    """What the kiosk may say for a text id, in the pieces each synthesized and cached on its own: its own catalogue
    (placeholders only from FILLED's checked values) and the center's names, nothing else. None: not a phrase;
    InvalidRequest: a fill that is not allowed."""
    from display import voice

    cfg = _novbe().cfg
    given = given or {}
    if text_id in FILLED:
        return _fill(text_id, lang, given)
    if given:
        name = next(iter(given))
        raise InvalidRequest(f"{name} fills nothing in this phrase", field=name)
    kind, _, code = text_id.partition(":")
    text: str | None = None
    if not code:
        text = _catalog_phrase(text_id, lang)
    elif kind in ("svc", "area", "group"):
        names = {"svc": cfg.services_by_code, "area": cfg.areas_by_code, "group": cfg.groups_by_code}[kind]
        item = names.get(code)
        text = item.name.get(lang) if item is not None else None
    elif kind == "number" and _NUMBER.fullmatch(code):
        text = f"{catalog()[lang]['your_number']}: {voice.speakable_number(code, lang)}."
    return [text] if text else None


def _joined(pieces: list[bytes]) -> bytes:
    """WAV files of one voice (same rate, width and channels) as one WAV: a phrase spoken in cached pieces."""
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        for i, piece in enumerate(pieces):
            with wave.open(io.BytesIO(piece), "rb") as w:
                if i == 0:
                    joined.setparams(w.getparams())
                joined.writeframes(w.readframes(w.getnframes()))
    return out.getvalue()


def voice_cache(folder: Path) -> VoiceCache:
    """The app's one kiosk phrase cache, made on first use (budget: NOVBE_KIOSK_VOICE_CACHE_MB, default 256)."""
    ext = current_app.extensions
    with _voice_cache_lock:
        found = ext.get("novbe-kiosk-voice")
        if found is None:
            raw = current_app.config.get("KIOSK_VOICE_CACHE_MB", DEFAULT_BUDGET_MB)
            try:
                mb = float(raw)
                if not (mb > 0 and math.isfinite(mb)):
                    raise ValueError(raw)
            except (TypeError, ValueError):
                log.warning("NOVBE_KIOSK_VOICE_CACHE_MB=%r is not a positive number of megabytes; using %d",
                            raw, DEFAULT_BUDGET_MB)
                mb = DEFAULT_BUDGET_MB
            found = ext["novbe-kiosk-voice"] = VoiceCache(folder, int(mb * 1_000_000))
    return found  # type: ignore[no-any-return]


@bp.get("/speak")
def speak() -> Any:
    """One phrase of the accessible mode as WAV (kiosk device token; catalogue and center names only)."""
    from display import voice
    from display.views import announcer
    from server import auth
    from server.api import error_response

    try:
        auth.require_device(_novbe().store, "kiosk")
        unknown = sorted(set(request.args) - {"text", "lang", *FILLS})
        if unknown:
            raise InvalidRequest(f"unknown parameter {unknown[0][:40]!r}", field=unknown[0][:40])
        lang = request.args.get("lang", "")
        if lang not in LANGS:
            raise InvalidRequest("lang must be az, ru or en", field="lang")
        text_id = request.args.get("text", "")
        given = {name: request.args.get(name, "") for name in FILLS if name in request.args}
        parts = speak_parts(text_id[:80], lang, given) if len(text_id) <= 80 else None
        if not parts:
            raise InvalidRequest("text must be a phrase of the kiosk or a name of this center", field="text")
    except (InvalidRequest, Unauthorized) as exc:
        return error_response(exc)
    # One file per piece, voice and speed, beside the board's calls (its pruning does not reach here: the
    # kiosk's folder has its own byte budget).
    cache = voice_cache(announcer().cache_dir / "kiosk")
    try:
        pieces = []
        for text in parts:
            key = hashlib.sha256(json.dumps([SPEAK_CACHE_VERSION, lang, voice.SPEED, text],
                                            ensure_ascii=False).encode()).hexdigest()[:24]
            pieces.append(cache.read(key, partial(voice.synthesize, text, lang)))
        data = pieces[0] if len(pieces) == 1 else _joined(pieces)
    except (voice.SpeechError, OSError, wave.Error) as exc:
        log.warning("kiosk speech for %r in %s failed: %s", text_id, lang, exc)
        return error_response(SpeechUnavailable(f"speech is not available: {exc}"))
    # A phrase is a few hundred kB at most: read whole, no file handle left to the response.
    resp = Response(data, mimetype="audio/wav")
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


# --- the citizen's status page ------------------------------------------------------------

def _status_strings(lang: str) -> dict[str, str]:
    """Only what the status page says, to keep the page small on a slow line."""
    return {k: v for k, v in catalog()[lang].items() if k.startswith("st_")}


@status_bp.get("/t/<token>")
def status(token: str) -> Any:
    """The citizen's live status page (the ticket's QR code), in the ticket's language."""
    try:
        data = api.ticket_status(token=token).get_json()
    except UnknownTicket:
        # Only an unknown ticket is "not found": a storage fault must not tell a citizen
        # their ticket is gone (it answers 503 through the app's error handler).
        # A friendly page in the three languages, not the API's JSON.
        lang = request.args.get("lang")
        resp = Response(render_template("kiosk/status_404.html", i18n=catalog(),
                                        first=lang if lang in LANGS else "az"), status=404)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    lang = request.args.get("lang")
    if lang not in LANGS:
        lang = data.get("lang") if data.get("lang") in LANGS else "az"
    cfg = _novbe().cfg
    center = cfg.center.name.get(lang)
    resp = Response(render_template("kiosk/status.html", token=token, data=data, lang=lang,
                                    t=_status_strings(lang), center=center))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp
