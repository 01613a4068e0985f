"""The kiosk client's blueprint."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates", static_folder="static",
               static_url_path="/static/kiosk")


@bp.get("/")
def index() -> Any:
    return render_template("kiosk/index.html")
