"""Start the device services next to the web server: print spool, LED counter displays, announcer."""
from __future__ import annotations

from typing import Any

from flask import Flask


def start(app: Flask, novbe: Any) -> None:
    """Start whatever devices the center configures (each is optional)."""
