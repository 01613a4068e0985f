"""The display client's blueprint."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

bp = Blueprint("display", __name__, url_prefix="/display", template_folder="templates", static_folder="static",
               static_url_path="/static/display")


@bp.get("/")
def index() -> Any:
    return render_template("display/index.html")
