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

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from config import loader
from config.schema import CenterConfig
from server import api, auth
from server.core.errors import QueueError
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
    _register_clients(app)
    socketio.init_app(app, async_mode=app.config["ASYNC_MODE"], cors_allowed_origins=[],
                      ping_interval=10, ping_timeout=10, max_http_buffer_size=64 * 1024)
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

        return render_template("index.html", center=app.extensions["novbe"].cfg.center)


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
        resp = jsonify(ok=False, error="csrf_failed", message=f"{exc.description} (send the X-CSRFToken header "
                                                               "from /api/login or /api/me)")
        resp.status_code = 400
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = jsonify(ok=False, error=code, message=exc.description or exc.name)
        resp.status_code = exc.code or 500
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        resp = jsonify(ok=False, error="internal_error", message="something went wrong on the server; it was logged")
        resp.status_code = 500
        return resp


def production_mode() -> str:
    """The async mode for ``novbe run``: ``NOVBE_ASYNC_MODE`` or threading."""
    return os.environ.get("NOVBE_ASYNC_MODE", "threading")
