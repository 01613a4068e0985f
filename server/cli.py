"""The ``novbe`` command."""
from __future__ import annotations

import os

if os.environ.get("NOVBE_ASYNC_MODE") == "gevent":   # must happen before anything imports threading or socket
    from gevent import monkey

    monkey.patch_all()

import errno
import fcntl
import json
import logging
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from config import loader

DEFAULT_DB = Path(__file__).resolve().parent.parent / "instance" / "novbe.db"


def _load(config: str | None) -> Any:
    try:
        return loader.load(config)
    except loader.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store(config: str | None, db: str | None) -> Any:
    from server.store import SQLiteStore

    path = db or os.environ.get("NOVBE_DATABASE") or DEFAULT_DB
    cfg = _load(config)
    with _storage_exit():
        return SQLiteStore(path, cfg)


@contextmanager
def _storage_exit() -> Iterator[None]:
    """An unusable database file ends the command with one line on stderr and status 1, not a traceback
    (the store's messages name the file)."""
    from server.core.errors import StorageError

    try:
        yield
    except StorageError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from None


_LOCK: list[int] = []   # the lock file's descriptor, held open for the life of the process


def lock_database(db: str | Path, host: str, port: int) -> Path:
    """Make this the only ``novbe run`` on ``db``: an exclusive ``flock`` on ``<db>.lock`` that records
    who holds it. The kernel drops the lock when the process ends, however it ends (even SIGKILL),
    so a stale lock file is harmless. ClickException naming the running server if it is taken."""
    from server.core.errors import StorageReadOnly, StorageUnavailable

    path = Path(f"{db}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        fault = StorageReadOnly if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else StorageUnavailable
        with _storage_exit():
            raise fault(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode("utf-8", "replace")
        os.close(fd)
        try:
            who = json.loads(holder)
            named = (f"pid {who['pid']} on {who['host']} serving http://{who['address']}:{who['port']}/, "
                     f"started {who['started']}")
        except (ValueError, KeyError, TypeError):
            named = f"lock file {path}"
        raise click.ClickException(
            f"another novbe server is already running on {db} ({named}): one server per database. "
            "Stop it first, or run this one with another --db.") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "address": host, "port": port,
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
    _LOCK.append(fd)
    return path


config_option = click.option("--config", "config", metavar="PATH|NAME", default=None,
                             envvar="NOVBE_CENTER", help="Center configuration: a TOML path or a name "
                             "from config/centers (default: absheron).")
db_option = click.option("--db", "db", metavar="PATH", default=None, envvar="NOVBE_DATABASE",
                         help="SQLite database file (default: instance/novbe.db).")


@click.group()
@click.version_option(package_name="novbe")
def main() -> None:
    """Növbə: queue management for DOST service centers."""


def bootstrap(store: Any) -> dict[str, Any]:
    """On a fresh database: a first admin with a generated password and the configured devices' tokens."""
    from server import auth

    made: dict[str, Any] = {"admin": None, "devices": []}
    if store.count_users() == 0:
        password = auth.generate_password()
        auth.add_user(store, "admin", password, "admin")
        made["admin"] = password
    known = {(d["kind"], d["name"]) for d in store.devices()}
    for kind, names in (("kiosk", [k.name for k in store.cfg.kiosks]), ("display", [b.name for b in store.cfg.boards])):
        for name in names:
            if (kind, name) not in known:
                made["devices"].append((kind, name, auth.add_device(store, kind, name)))
    return made


@main.command()
@config_option
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def run(config: str | None, db: str | None, host: str, port: int) -> None:
    """Run the center's server (threading mode; see docs/install.md for production)."""
    from server.app import create_app, production_mode
    from server.realtime import socketio

    cfg = _load(config)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    path = str(db or DEFAULT_DB)
    lock_database(path, host, port)
    with _storage_exit():
        app = create_app({"CENTER_CONFIG": cfg, "DATABASE": path, "ASYNC_MODE": production_mode(),
                          "PUBLIC_URL": cfg.center.base_url or (_lan_url(port) if host in ("0.0.0.0", "::") else base)})
    store = app.extensions["novbe"].store
    with _storage_exit():
        made = bootstrap(store)
    click.echo(f"Növbə {cfg.center.name.az} — {store.path}")
    if made["admin"]:
        click.echo(click.style(f"  First admin account: admin / {made['admin']}  (shown once: write it down)", bold=True))
    tokens = {(k, n): t for k, n, t in made["devices"]}
    for k in cfg.kiosks:
        tok = tokens.get(("kiosk", k.name))
        click.echo(f"  kiosk {k.name}: {base}/kiosk/" + (f"?token={tok}" if tok else "  (token shown at creation; "
                   f"`novbe device add kiosk {k.name}` makes a new one)"))
    for b in cfg.boards:
        tok = tokens.get(("display", b.name))
        click.echo(f"  board {b.name}: {base}/display/?board={b.name}" + (f"&token={tok}" if tok else
                   f"  (token shown at creation; `novbe device add display {b.name}` makes a new one)"))
    click.echo(f"  counter: {base}/counter/   supervisor: {base}/counter/supervisor   API: {base}/api/openapi.json")
    sys.stdout.flush()
    if not os.environ.get("NOVBE_ACCESS_LOG"):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)   # one line per request costs throughput
    if production_mode() == "gevent":
        _serve_gevent(app, host, port)
    else:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)


def _serve_gevent(app: Any, host: str, port: int) -> None:
    """gevent's WSGI server on a listener with TCP_NODELAY (without it, a response written in two
    pieces waits for the client's delayed ACK: 40 ms per request)."""
    import socket

    from gevent import pywsgi

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(1024)
    pywsgi.WSGIServer(listener, app, log=None).serve_forever()


def _lan_url(port: int) -> str:
    """This machine's LAN address for the ticket QR codes (set center.base_url to override)."""
    import socket

    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError:
        addr = "127.0.0.1"
    return f"http://{addr}:{port}"


@main.command("init-db")
@config_option
@db_option
def init_db(config: str | None, db: str | None) -> None:
    """Create the database or apply pending migrations."""
    store = _store(config, db)
    click.echo(f"{store.path}: schema version {store.version}")


@main.command("check-config")
@config_option
def check_config(config: str | None) -> None:
    """Validate a center configuration and summarise it."""
    cfg = _load(config)
    click.echo(f"{cfg.center.name.az}: {len(cfg.areas)} areas, {len(cfg.services)} services, "
               f"{len(cfg.counters)} counters, {len(cfg.kiosks)} kiosks, {len(cfg.boards)} boards, "
               + (f"daily ceiling {cfg.center.daily_capacity}" if cfg.center.daily_capacity
                  else "no daily ceiling (capacity is counter time)"))


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "supervisor", "admin"]), required=True, help="The account's role.")
@click.option("--password", default=None, help="The password (read from standard input when omitted).")
@config_option
@db_option
def user_add(name: str, role: str, password: str | None, config: str | None, db: str | None) -> None:
    """Create a staff account (or reset its password and role)."""
    from server import auth

    if password is None:
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else \
            click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        auth.add_user(_store(config, db), name, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{role} {name}: saved")


def _set_disabled(name: str, disabled: bool, config: str | None, db: str | None) -> None:
    if not _store(config, db).set_user_disabled(name, disabled):
        raise click.ClickException(f"no staff account named {name!r} (`novbe user list` shows them)")
    click.echo(f"{name}: {'disabled, every session of it has ended' if disabled else 'enabled'}")


@user.command("disable")
@click.argument("name")
@config_option
@db_option
def user_disable(name: str, config: str | None, db: str | None) -> None:
    """Disable a staff account: it cannot log in, and its open sessions end at once."""
    _set_disabled(name, True, config, db)


@user.command("enable")
@click.argument("name")
@config_option
@db_option
def user_enable(name: str, config: str | None, db: str | None) -> None:
    """Enable a disabled staff account again (with its old password)."""
    _set_disabled(name, False, config, db)


@user.command("list")
@config_option
@db_option
def user_list(config: str | None, db: str | None) -> None:
    """List the staff accounts with their roles and whether they are disabled."""
    from datetime import datetime

    users = _store(config, db).users()
    for u in users:
        made = datetime.fromtimestamp(u["created_at"]).strftime("%Y-%m-%d") if u["created_at"] else "-"
        click.echo(f"{u['username']:<24} {u['role']:<10} {'disabled' if u['disabled'] else 'enabled':<8}  since {made}")
    if not users:
        click.echo("no staff accounts yet (`novbe user add NAME --role admin`)")


@main.group()
def device() -> None:
    """Kiosks and display boards."""


@device.command("add")
@click.argument("kind", type=click.Choice(["kiosk", "display"]))
@click.argument("name")
@config_option
@db_option
def device_add(kind: str, name: str, config: str | None, db: str | None) -> None:
    """Create a device (or give it a new token) and print its token."""
    from server import auth

    click.echo(auth.add_device(_store(config, db), kind, name))


@main.command("print-test")
@click.argument("printer_url")
@click.option("--profile", default="TM-T88V", show_default=True, help="python-escpos printer profile.")
@click.option("--paper", type=click.Choice(["80mm", "58mm"]), default="80mm", show_default=True, help="Paper width.")
def print_test(printer_url: str, profile: str, paper: str) -> None:
    """Print a sample ticket with every Azerbaijani letter, and lines both as text and as images.

    Reports the code pages the profile declares: a line goes as text only in one of them.
    """
    from printers import PrinterError, send
    from printers.testpage import render_test_page

    try:
        page = render_test_page(profile=profile, paper=paper)
    except PrinterError as exc:   # an unknown profile: the message names the nearest ones
        raise click.ClickException(str(exc)) from None
    click.echo(f"profile {profile} declares code pages: {', '.join(page.code_pages) or 'none'}")
    for line, encoding in page.text_lines.items():
        how = f"text in {encoding}, then as an image" if encoding else "as an image only (no declared code page has it)"
        click.echo(f"  {line!r}: {how}")
    click.echo("  lines with ə/Ə: as images (no ESC/POS code page has ə)")
    click.echo("  the text and image copies must read alike; if not, this profile does not fit the printer")
    started = time.perf_counter()
    try:
        status = send(printer_url, page.data, profile=profile)
    except Exception as exc:  # printer errors are the user's answer here
        state = getattr(exc, "state", "error")
        raise click.ClickException(f"{printer_url}: {state}: {exc}") from None
    said = f"; printer state: {status.state}" + (f" ({status.detail})" if status.detail else "") if status else ""
    click.echo(f"sent to {printer_url} in {(time.perf_counter() - started) * 1000:.0f} ms{said}")


@main.command()
@config_option
def voices(config: str | None) -> None:
    """Prepare the chime and check the offline speech voices for announcements."""
    from display.voice import Announcer

    cfg = _load(config)
    cache = Path(__file__).resolve().parent.parent / "instance" / "voice-cache"
    report = Announcer(cache).prepare(list(cfg.center.announce_languages))
    for lang, state in report.items():
        click.echo(f"{lang}: {state}")


def _add_sim_commands() -> None:
    from server.sim.cli import plan, simulate

    main.add_command(simulate)
    main.add_command(plan)


_add_sim_commands()

if __name__ == "__main__":
    main()
