"""The application factory.

Configuration comes in layers: the defaults below, then ``NOVBE_*`` environment variables
(``NOVBE_CENTER``, ``NOVBE_DATABASE``, ``NOVBE_ASYNC_MODE``…), then the ``test_config``
mapping. The center file is loaded and validated once, here.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import i18n
from config import loader
from config.schema import CenterConfig
from server import api, auth, localise
from server.combine import Combiner
from server.core import queue
from server.core.errors import QueueError
from server.core.model import Issued
from server.core.queue import IssueRequest
from server.realtime import Publisher, socketio
from server.store import SQLiteStore, storage_error

log = logging.getLogger(__name__)
VERSION = "0.1.0"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Novbe:
    """What the views need: the center, its store, and the device services."""

    cfg: CenterConfig
    store: SQLiteStore
    publisher: Publisher
    limits: Any = None
    version: str = VERSION
    openapi: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    issuer: Combiner[IssueRequest, Issued] = field(init=False)

    def __post_init__(self) -> None:
        store = self.store
        self.issuer = Combiner(lambda requests: queue.issue_tickets(store, requests))

    def wake_printer(self) -> None:
        """Tell the print spool a job is waiting (after the ticket is committed)."""
        spool = self.extras.get("spool")
        if spool is not None:
            spool.wake()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app for one center."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"), static_folder="static",
                static_url_path="/static")
    app.config.from_mapping(
        CENTER=None,
        DATABASE=str(ROOT / "instance" / "novbe.db"),
        ASYNC_MODE="threading",
        SYNCHRONOUS="FULL",
        START_DEVICES=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=14),
        WTF_CSRF_TIME_LIMIT=None,     # an operator's session lasts a working day
        WTF_CSRF_SSL_STRICT=False,    # center LANs often run plain HTTP
        WTF_CSRF_CHECK_DEFAULT=False,  # checked after login instead: server.auth.require_role
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.config.from_prefixed_env("NOVBE")
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    cfg = app.config.get("CENTER_CONFIG") or loader.load(app.config["CENTER"])
    store = SQLiteStore(app.config["DATABASE"], cfg, synchronous=app.config["SYNCHRONOUS"], clock=_clock(app))
    auth.init_sessions(app, store)   # the session secret (file beside the database, or NOVBE_SECRET_KEY)

    publisher = Publisher(socketio)
    store.subscribe(publisher.enqueue)
    novbe = Novbe(cfg=cfg, store=store, publisher=publisher,
                  limits=api.RateLimits(enabled=bool(app.config.get("RATELIMIT_ENABLED", True))))
    app.extensions["novbe"] = novbe

    auth.csrf.init_app(app)
    _register_errors(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(localise.bp)
    _register_clients(app)
    # Sockets only from pages of this server: the Host the browser used, or the configured public
    # address (an empty list would switch engineio's origin check off; see PITFALLS.md).
    socketio.init_app(app, async_mode=app.config["ASYNC_MODE"], cors_allowed_origins=_origin_check(app, cfg),
                      ping_interval=10, ping_timeout=10, max_http_buffer_size=64 * 1024)
    if app.config.get("PROXY"):
        # Behind one reverse proxy (NOVBE_PROXY=1): trust its X-Forwarded-* headers for the client
        # address, scheme and host. Outermost, so Socket.IO's origin check sees the public host too.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    _register_headers(app)
    publisher.start()
    if app.config["START_DEVICES"]:
        from server import devices

        devices.start(app, novbe)
    return app


def _clock(app: Flask) -> Callable[[], float]:
    """The center's clock: real time, or shifted by ``CLOCK_OFFSET`` seconds for demos and tests."""
    if app.config.get("CLOCK"):
        return app.config["CLOCK"]  # type: ignore[no-any-return]
    offset = float(app.config.get("CLOCK_OFFSET") or 0)
    if not offset:
        return time.time
    return lambda: time.time() + offset


def _register_clients(app: Flask) -> None:
    from counter import views as counter_views
    from display import views as display_views
    from kiosk import views as kiosk_views

    for module in (kiosk_views, display_views, counter_views):
        app.register_blueprint(module.bp)
        for extra in getattr(module, "extra_blueprints", ()):
            app.register_blueprint(extra)

    @app.get("/")
    def index() -> Any:
        from flask import render_template

        return render_template("index.html", center=app.extensions["novbe"].cfg.center, front=i18n.section("front"))

    @app.get("/favicon.ico")
    def favicon() -> Any:
        """The app's icon, served by the center itself: browsers ask for it on every page (a 404 is a console error)."""
        return app.send_static_file("icon.ico")


# One policy for every response: no inline script or style anywhere (pages keep their scripts in
# static files and pass server data in <script type="application/json"> blocks, which are not
# executed). 'self' covers the same-origin ws:/wss: of Socket.IO in CSP3 browsers (Chromium does);
# blob: is the board's silent sound probe; data: is the favicon placeholder. Nothing is framed.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "media-src 'self' blob:", "font-src 'self'", "connect-src 'self'", "object-src 'none'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _register_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if request.path.startswith("/t/"):   # the citizen's status page: its address is the ticket's secret
            resp.headers["Referrer-Policy"] = "no-referrer"
        return resp


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL as a browser sends it in ``Origin`` (no default port)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _origin_check(app: Flask, cfg: CenterConfig) -> Callable[[str, dict[str, Any]], bool]:
    """Socket.IO's origin check: the page's own origin (as the browser reached this server), or the
    center's ``base_url`` / ``PUBLIC_URL``."""
    configured = {o for o in (_origin(cfg.center.base_url or ""), _origin(app.config.get("PUBLIC_URL") or "")) if o}

    def allowed(origin: str, environ: dict[str, Any]) -> bool:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in configured

    return allowed


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _register_errors(app: Flask) -> None:
    @app.errorhandler(QueueError)
    def queue_error(exc: QueueError) -> Any:
        # StorageError (503 storage_full / storage_read_only / storage_unavailable) lands here too:
        # the store has logged it in one line; the client gets the one error shape, no traceback.
        return api.error_response(exc)

    @app.errorhandler(sqlite3.Error)
    def sqlite_error(exc: sqlite3.Error) -> Any:
        # A storage fault met outside the store's transactions (e.g. through store.db()) is still a 503.
        fault = storage_error(exc, app.extensions["novbe"].store.path)
        if fault is not None:
            log.warning("storage fault %s on %s %s: %s", fault.code, request.method, request.path, exc)
            return api.error_response(fault)
        return unexpected(exc)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> Any:
        resp = jsonify(localise.localised_error({
            "ok": False, "error": "csrf_failed",
            "message": f"{exc.description} (send the X-CSRFToken header from /api/login or /api/me)"}))
        resp.status_code = 400
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if (exc.code or 500) < 400:
            return exc
        if not _wants_json():
            # A browser gets a short page in its language (not Flask's English HTML); the API keeps JSON.
            return localise.error_page(exc.code or 500)
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = jsonify(localise.localised_error({"ok": False, "error": code, "message": exc.description or exc.name}))
        resp.status_code = exc.code or 500
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not _wants_json():
            return localise.error_page(500)
        resp = jsonify(localise.localised_error({"ok": False, "error": "internal_error",
                                                 "message": "something went wrong on the server; it was logged"}))
        resp.status_code = 500
        return resp


def production_mode() -> str:
    """The async mode for ``novbe run``: ``NOVBE_ASYNC_MODE`` or threading."""
    return os.environ.get("NOVBE_ASYNC_MODE", "threading")
