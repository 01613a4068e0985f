"""Device health: which kiosks and boards are alive, what they report, which went quiet.

Kiosk and board pages send a ``heartbeat`` over their Socket.IO namespace (on connect, every
15 s, and when something they report changes): their page version, whether a board's sound
is unlocked, the kiosk's last print outcome. This registry keeps, per device, the last time it
was heard from, its sockets and its last report, in memory; the time it was last seen is
also written to the ``devices`` table (at most once a minute per device, and on every
connect and disconnect) so it survives a restart and the admin page can show it.

The rules for a device's state, in order:

1. never heard from since the database was made: ``never`` (flagged);
2. nothing heard for more than ``SILENT_AFTER`` seconds (connected or not): ``silent`` (flagged);
3. anything else wrong — socket gone for less than a minute, a page older than the server's,
   a board whose sound is blocked or that has not synced, a kiosk whose printer is not ok
   (the spool's state; the page's own report only while the spool knows nothing):
   ``warning``, with the reasons in ``problems``;
4. otherwise ``ok``.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.schema import CenterConfig
from server.core.errors import StorageError

SILENT_AFTER = 60.0          # seconds without a heartbeat before a device is flagged (DEVICE_SILENT_SECONDS)
PERSIST_EVERY = 60.0         # at most one write of last_seen per device per this many seconds
ROOT = Path(__file__).resolve().parent.parent
# The files a device's page is made of: a change in any of them is a new page version.
PAGE_FILES = {
    "display": ("display/static/display/board.js", "display/static/display/board.css",
                "display/templates/display/board.html"),
    "kiosk": ("kiosk/static/kiosk/kiosk.js", "kiosk/static/kiosk/kiosk.css", "kiosk/templates/kiosk/index.html",
              *(f"i18n/{lang}/LC_MESSAGES/messages.po" for lang in ("az", "ru", "en"))),
}
PRINTER_OK = ("ok",)
log = logging.getLogger(__name__)


def silent_after(config: Mapping[str, Any]) -> float:
    """Seconds without a heartbeat before a device is flagged: ``DEVICE_SILENT_SECONDS``, default 60."""
    raw = config.get("DEVICE_SILENT_SECONDS")
    if raw is None:
        return SILENT_AFTER
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = 0.0
    if not 1.0 <= value <= 3600.0:
        log.warning("NOVBE_DEVICE_SILENT_SECONDS=%r is not a number of seconds from 1 to 3600: using %d",
                    raw, SILENT_AFTER)
        return SILENT_AFTER
    return value


def heartbeat_seconds(config: Mapping[str, Any]) -> float:
    """How often a page sends its heartbeat: four times within the silence limit."""
    return silent_after(config) / 4


@lru_cache(maxsize=4)
def page_version(kind: str) -> str:
    """The version of the page this server gives a kiosk or board: release + a hash of its files."""
    from server.app import VERSION

    digest = hashlib.sha256()
    for name in PAGE_FILES.get(kind, ()):
        try:
            digest.update((ROOT / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return f"{VERSION}+{digest.hexdigest()[:8]}"


class Heartbeat(BaseModel):
    """What a device page reports; anything else it sends is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str = Field(default="", max_length=64)
    sound: Literal["unlocked", "blocked", "silent"] | None = None     # boards
    synced: bool | None = None                                        # boards: a snapshot applied
    queue: int | None = Field(default=None, ge=0, le=10_000)          # boards: announcements waiting
    printer: Literal["ok", "delayed", "failed"] | None = None         # kiosks: the last ticket's print


def parse_heartbeat(data: Any) -> Heartbeat | None:
    """The report in a heartbeat message, or None when it is not one."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None
    try:
        return Heartbeat.model_validate(data)
    except ValidationError:
        return None


@dataclass
class _Device:
    kind: str
    name: str
    sids: set[str] = field(default_factory=set)
    last_seen: float | None = None
    connected_since: float | None = None
    report: Heartbeat | None = None
    address: str | None = None
    persisted: float = 0.0


class DeviceHealth:
    """The live registry of kiosks and boards (one per app, shared by every socket handler)."""

    def __init__(self, store: Any, silent_after: float = SILENT_AFTER) -> None:
        self.store = store
        self.silent_after = silent_after
        self._lock = threading.Lock()
        self._devices: dict[tuple[str, str], _Device] = {}
        self._by_sid: dict[str, tuple[str, str]] = {}
        self._stored: dict[tuple[str, str], float] | None = None

    def _stored_seen(self) -> dict[tuple[str, str], float]:
        if self._stored is None:
            try:
                self._stored = self.store.devices_last_seen()
            except StorageError as exc:
                log.warning("could not read when devices were last seen: %s", exc)
                return {}
        return self._stored

    def _get(self, kind: str, name: str) -> _Device:
        key = (kind, name)
        dev = self._devices.get(key)
        if dev is None:
            dev = self._devices[key] = _Device(kind, name)
        return dev

    def _persist(self, dev: _Device, now: float, *, force: bool) -> None:
        if not force and now - dev.persisted < PERSIST_EVERY:
            return
        dev.persisted = now
        try:
            self.store.touch_device(dev.kind, dev.name, now)
        except StorageError as exc:
            # A full or read-only disk must not keep a board or kiosk off the hall: the live
            # registry still knows the device; only the stored time waits for the next write.
            log.warning("could not record when %s %s was last seen: %s", dev.kind, dev.name, exc)

    def connected(self, kind: str, name: str, sid: str, now: float, address: str | None = None) -> None:
        """A device's socket connected."""
        with self._lock:
            dev = self._get(kind, name)
            if not dev.sids:
                dev.connected_since = now
            dev.sids.add(sid)
            self._by_sid[sid] = (kind, name)
            dev.last_seen = now
            dev.address = address
        self._persist(dev, now, force=True)

    def heartbeat(self, sid: str, report: Heartbeat, now: float) -> tuple[str, str] | None:
        """A heartbeat on a known socket; returns the device's (kind, name), or None for an unknown socket."""
        with self._lock:
            key = self._by_sid.get(sid)
            if key is None:
                return None
            dev = self._get(*key)
            dev.last_seen = now
            dev.report = report
        self._persist(dev, now, force=False)
        return key

    def disconnected(self, sid: str, now: float) -> tuple[str, str] | None:
        """A device's socket went away; returns the device's (kind, name)."""
        with self._lock:
            key = self._by_sid.pop(sid, None)
            if key is None:
                return None
            dev = self._get(*key)
            dev.sids.discard(sid)
            dev.last_seen = now
            if not dev.sids:
                dev.connected_since = None
        self._persist(dev, now, force=True)
        return key

    def row(self, cfg: CenterConfig, kind: str, name: str, now: float,
            printers: dict[str, dict[str, Any]] | None = None, *, has_token: bool = True) -> dict[str, Any]:
        """One device as the supervisor sees it (see the rules in the module docstring)."""
        with self._lock:
            dev = self._devices.get((kind, name))
            sids = len(dev.sids) if dev else 0
            last = dev.last_seen if dev else None
            since = dev.connected_since if dev else None
            report = dev.report if dev else None
            address = dev.address if dev else None
        stored = self._stored_seen().get((kind, name))
        if last is None or (stored is not None and stored > last):
            last = stored
        configured = (kind == "kiosk" and name in {k.name for k in cfg.kiosks}) or \
                     (kind == "display" and name in {b.name for b in cfg.boards})
        current = page_version(kind)
        problems: list[str] = []
        printer: dict[str, Any] | None = None
        if kind == "kiosk":
            url = next((k.printer for k in cfg.kiosks if k.name == name), None)
            known = (printers or {}).get(name) if url else None   # the spool knows a kiosk's printer by its name
            printer = {"url": url, "state": known.get("state") if known else None,
                       "detail": known.get("detail") if known else None,
                       "updated_at": known.get("updated_at") if known else None,
                       "page": report.printer if report else None}
        if not configured:
            problems.append("not_configured")
        if not has_token:
            problems.append("no_token")
        if last is None:
            state = "never"
            problems.append("never_seen")
        elif now - last > self.silent_after:
            state = "silent"
            problems.append("silent")
        else:
            state = "ok"
            if not sids:
                problems.append("disconnected")
        if sids and report is not None:
            if report.version and report.version != current:
                problems.append("old_page")
            if kind == "display" and report.sound == "blocked":
                problems.append("sound_blocked")
            if kind == "display" and report.synced is False:
                problems.append("not_synced")
        if printer is not None:
            # The spool's state (it polls idle printers) is the truth; the page's own report of its
            # last ticket counts only while the server knows nothing of that printer.
            if printer["state"] and printer["state"] not in PRINTER_OK:
                problems.append("printer")
            elif not printer["state"] and sids and printer["page"] in ("delayed", "failed"):
                problems.append("printer")
        if state == "ok" and problems:
            state = "warning"
        return {
            "kind": kind, "name": name, "configured": configured, "state": state,
            "flagged": state in ("never", "silent"), "problems": problems,
            "connected": sids > 0, "sockets": sids, "last_seen": last, "connected_since": since,
            "silent_for": None if last is None else max(0.0, now - last),
            "version": report.version if report else None, "server_version": current,
            "sound": report.sound if report and kind == "display" else None,
            "queue": report.queue if report and kind == "display" else None,
            "printer": printer, "address": address,
        }

    def rows(self, cfg: CenterConfig, now: float, printers: list[dict[str, Any]] | None = None,
             tokens: set[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """Every configured device (kiosks, then boards), then any other device connected now."""
        by_name = {p["name"]: p for p in printers or []}
        keys = [("kiosk", k.name) for k in cfg.kiosks] + [("display", b.name) for b in cfg.boards]
        with self._lock:
            extra = sorted(k for k, d in self._devices.items() if k not in keys and d.sids)
        return [self.row(cfg, kind, name, now, by_name, has_token=tokens is None or (kind, name) in tokens)
                for kind, name in keys + extra]


def printer_rows(cfg: CenterConfig, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each kiosk printer's last known state (the store's rows, kept by the spool under the kiosk's name) in the
    center file's order, with its kiosk's ``name`` and its address ``url``; a printer no kiosk is configured with,
    or a row kept by address before, is left out."""
    known = {row["url"]: row for row in stored}
    return [{**known[k.name], "name": k.name, "url": k.printer}
            for k in cfg.kiosks if k.printer and k.name in known]
