"""A real server on a loopback port, in its own process, for integration and browser tests.

The database is prepared from the test process first (staff accounts and device tokens
with known values), then ``novbe run`` serves it. The center clock is shifted so that it
is always 10:00 on a working day in Baku, whatever time CI runs at.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

from config import loader

ROOT = Path(__file__).resolve().parent.parent
PASSWORDS = {"admin": "admin-pass-1", "boss": "boss-pass-1", "op1": "op1-pass-1", "op2": "op2-pass-1"}
ROLES = {"admin": "admin", "boss": "supervisor", "op1": "operator", "op2": "operator"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def open_hours_offset(center: str = "absheron", hour: int = 10) -> float:
    """Seconds to add to real time so that the center's clock reads a working day at ``hour``:00."""
    cfg = loader.load(center)
    now = datetime.now(cfg.tz)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    while cfg.center.hours[days[target.weekday()]].opens is None or target.weekday() >= 5:
        target += timedelta(days=1)
    return target.timestamp() - now.timestamp()


class LiveServer:
    """``novbe run`` on 127.0.0.1:<port> over a prepared database; restartable."""

    def __init__(self, tmp: Path, *, center: str = "absheron", port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        from server import auth
        from server.store import SQLiteStore

        self.tmp = tmp
        self.center = center
        self.db = tmp / "novbe.db"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.offset = open_hours_offset(center)
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        store = SQLiteStore(self.db, loader.load(center))
        for name, role in ROLES.items():
            auth.add_user(store, name, PASSWORDS[name], role)
        self.tokens = {("kiosk", k.name): auth.add_device(store, "kiosk", k.name) for k in store.cfg.kiosks}
        self.tokens.update({("display", b.name): auth.add_device(store, "display", b.name) for b in store.cfg.boards})
        store.close()
        self.log = tmp / "server.log"

    def kiosk_token(self, name: str = "kiosk-1") -> str:
        return self.tokens[("kiosk", name)]

    def display_token(self, name: str = "hall-1") -> str:
        return self.tokens[("display", name)]

    def start(self, *, gevent: bool = False) -> "LiveServer":
        env = {**os.environ, "NOVBE_CLOCK_OFFSET": str(self.offset), "NOVBE_RATELIMIT_ENABLED": "false",
               "PYTHONUNBUFFERED": "1", **self.extra_env}
        if gevent:
            env["NOVBE_ASYNC_MODE"] = "gevent"
        self.gevent = gevent
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "run", "--config", self.center, "--db", str(self.db),
                 "--port", str(self.port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        """Wait until the started server answers /api/health (RuntimeError with its log's tail if it does not)."""
        assert self.proc is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/api/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start(gevent=getattr(self, "gevent", False))

    def login(self, username: str = "op1") -> requests.Session:
        """A requests session logged in as ``username``, with the CSRF header set."""
        s = requests.Session()
        r = s.post(self.url + "/api/login", json={"username": username, "password": PASSWORDS[username]}, timeout=5)
        r.raise_for_status()
        s.headers["X-CSRFToken"] = r.json()["csrf_token"]
        return s

    def issue(self, service: str, *, kiosk: str = "kiosk-1", **body: object) -> requests.Response:
        return requests.post(self.url + "/api/tickets", json={"service": service, **body},
                             headers={"Authorization": f"Bearer {self.kiosk_token(kiosk)}"}, timeout=5)
