"""The counter client's blueprint."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

bp = Blueprint("counter", __name__, url_prefix="/counter", template_folder="templates", static_folder="static",
               static_url_path="/static/counter")


@bp.get("/")
def index() -> Any:
    return render_template("counter/index.html")
