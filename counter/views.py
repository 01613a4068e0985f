"""The counter client's blueprint: the operator's counter page and the supervisor view.

Both pages are thin: they log in through ``/api/login``, act through ``/api/counters/N/*``
and follow the hall live on the ``/counter`` Socket.IO namespace (where
:mod:`counter.sockets` also accepts the same actions).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

import i18n
from counter import sockets  # noqa: F401  (registers the /counter Socket.IO actions at import time)
from counter import rating
from server import auth

# Files in counter/static/counter/ are served at /counter/static/<file>.
bp = Blueprint("counter", __name__, url_prefix="/counter", template_folder="templates",
               static_folder="static/counter", static_url_path="/static")
extra_blueprints = [rating.bp]   # /rate/: the counter-side rating screen


def _center() -> Any:
    return current_app.extensions["novbe"].cfg.center


def _not_allowed(user: dict[str, Any], why: str) -> Any:
    """The "not allowed" page (403) saying why (a staff catalogue key); the page's script switches its language."""
    return render_template("counter/forbidden.html", center=_center(), user=user, page="forbidden", why=why,
                           title=i18n.text("staff", "not_allowed_title"), why_text=i18n.text("staff", why)), 403


@bp.get("/")
def index() -> Any:
    """The operator's counter page (1366×768)."""
    return render_template("counter/index.html", center=_center(), page="counter")


@bp.get("/supervisor")
def supervisor() -> Any:
    """The supervisor view; an operator gets a clear "not allowed" screen."""
    user = auth.current_user()
    if user is not None and not auth.role_at_least(user["role"], "supervisor"):
        return _not_allowed(user, "not_allowed_text")
    cfg = current_app.extensions["novbe"].cfg
    # the kiosks that have a printer: the printers tile counts them all, those not heard from yet too
    from server.reports import today_of

    # the center's day and zone: the audit's day picker reads "today" there, and refuses a later day
    boot = {"kiosk_printers": [k.name for k in cfg.kiosks if k.printer],
            "today": today_of(current_app.extensions["novbe"].store), "tz": cfg.tz.key}
    return render_template("counter/supervisor.html", center=_center(), page="supervisor", boot=boot)


@bp.get("/admin")
def admin() -> Any:
    """The admin page: staff accounts and device tokens (admins only; others get the "not allowed" page)."""
    user = auth.current_user()
    if user is not None and not auth.role_at_least(user["role"], "admin"):
        return _not_allowed(user, "not_allowed_admin")
    cfg = current_app.extensions["novbe"].cfg
    # The page's data (no inline script under the CSP): what it needs to name devices and build their addresses.
    boot = {"kiosks": [k.name for k in cfg.kiosks], "boards": [b.name for b in cfg.boards],
            "counters": [c.number for c in cfg.counters], "base_url": current_app.config.get("PUBLIC_URL")
            or cfg.center.base_url or None,
            # the server's own rules, so that the form refuses exactly what the server would
            "username_pattern": auth.USERNAME_JS, "password_min": auth.PASSWORD_MIN}
    return render_template("counter/admin.html", center=_center(), page="admin", boot=boot)


@bp.get("/reports")
def reports() -> Any:
    """Reports over any period (supervisors and admins), with charts and CSV/XLSX files."""
    user = auth.current_user()
    if user is not None and not auth.role_at_least(user["role"], "supervisor"):
        return _not_allowed(user, "rp_not_allowed")
    cfg = current_app.extensions["novbe"].cfg
    from server.reports import today_of

    boot = {"today": today_of(current_app.extensions["novbe"].store), "target_share": cfg.reports.target_share,
            "chart": "/static/vendor/chart.umd.min.js"}
    return render_template("counter/reports.html", center=_center(), page="reports", boot=boot)
