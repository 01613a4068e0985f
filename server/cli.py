"""The ``novbe`` command."""
from __future__ import annotations

import os

if os.environ.get("NOVBE_ASYNC_MODE") == "gevent":   # must happen before anything imports threading or socket
    from gevent import monkey

    monkey.patch_all()

import errno
import fcntl
import gc
import json
import logging
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from config import loader

INSTANCE = Path(__file__).resolve().parent.parent / "instance"
#: the one default database before each center had its own (kept for an existing install of the default center)
LEGACY_DB = INSTANCE / "novbe.db"


def _load(config: str | None) -> Any:
    try:
        return loader.load(config)
    except loader.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def default_db(cfg: Any) -> Path:
    """``instance/<center>.db``; the default center keeps an older install's ``instance/novbe.db``."""
    path = INSTANCE / f"{cfg.center.id}.db"
    if cfg.center.id == loader.DEFAULT_CENTER and not path.exists() and LEGACY_DB.exists():
        return LEGACY_DB
    return path


def database_center(path: str | Path) -> str | None:
    """The center a database file belongs to (its ``center_id``, or for an older file the center of its
    last event); None for a new or empty file."""
    import sqlite3

    from server.store import file_facts

    if not Path(path).is_file():
        return None
    try:
        center = file_facts(path)["center"]
    except sqlite3.Error:
        return None   # not a database yet, or unreadable: the store names the problem
    return str(center) if center else None


def claim_center(path: str | Path, cfg: Any, force: bool = False) -> None:
    """Refuse a database file made for another center (one line), unless ``force``."""
    theirs = database_center(path)
    if theirs is not None and theirs != cfg.center.id and not force:
        raise click.ClickException(
            f"{path} is the database of center '{theirs}', not '{cfg.center.id}': run {cfg.center.id} on its own "
            f"database (the default is instance/{cfg.center.id}.db), or add --force-center to hand this file "
            f"and its tickets to {cfg.center.id}.")


def open_store(cfg: Any, db: str | Path | None, *, force_center: bool = False) -> Any:
    """The center's store on ``db`` (or its default file), which is marked as this center's."""
    from server.store import SQLiteStore

    path = db or default_db(cfg)
    claim_center(path, cfg, force_center)
    with _storage_exit():
        store = SQLiteStore(path, cfg)
        if store.meta("center_id") != cfg.center.id:
            store.set_meta("center_id", cfg.center.id)
    return store


def _store(config: str | None, db: str | None) -> Any:
    return open_store(_load(config), db or os.environ.get("NOVBE_DATABASE"))


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


def lock_database(db: str | Path, host: str, port: int, *, restoring: bool = False) -> Path:
    """Make this the only ``novbe run`` (or ``novbe restore``) on ``db``: an exclusive ``flock`` on
    ``<db>.lock`` that records who holds it. The kernel drops the lock when the process ends, however
    it ends (even SIGKILL), so a stale lock file is harmless. ClickException naming the holder if taken."""
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
            doing = "restoring a backup" if who.get("restoring") else f"serving http://{who['address']}:{who['port']}/"
            named = f"pid {who['pid']} on {who['host']} {doing}, started {who['started']}"
        except (ValueError, KeyError, TypeError, AttributeError):
            named = f"lock file {path}"
        if restoring:
            raise click.ClickException(
                f"a novbe server is running on {db} ({named}): stop it before restoring "
                "(systemctl stop novbe), then restore and start it again.") from None
        raise click.ClickException(
            f"another novbe server is already running on {db} ({named}): one server per database. "
            "Stop it first, or run this one with another --db.") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "address": host, "port": port,
                             "started": time.strftime("%Y-%m-%d %H:%M:%S"), "restoring": restoring}).encode())
    _LOCK.append(fd)
    return path


config_option = click.option("--config", "config", metavar="PATH|NAME", default=None,
                             envvar="NOVBE_CENTER", help="Center configuration: a TOML path or a name "
                             "from config/centers (default: absheron).")
db_option = click.option("--db", "db", metavar="PATH", default=None, envvar="NOVBE_DATABASE",
                         help="SQLite database file (default: instance/<center>.db; an older install of the "
                              "default center keeps instance/novbe.db).")


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


force_center_option = click.option("--force-center", is_flag=True, help="Use a database file made for another "
                                   "center: it becomes this center's, tickets and all.")


@main.command()
@config_option
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="NOVBE_HOST",
              help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=5000, show_default=True, type=int, envvar="NOVBE_PORT", help="Port to listen on.")
@click.option("--base-url", metavar="URL", default=None, envvar="NOVBE_BASE_URL",
              help="The address phones and other PCs reach this server at (QR codes, printed device addresses). "
                   "Default: center.base_url, else this machine's LAN address when listening beyond loopback.")
@force_center_option
def run(config: str | None, db: str | None, host: str, port: int, base_url: str | None, force_center: bool) -> None:
    """Run the center's server (threading mode; see docs/install.md for production)."""
    from server.app import create_app, production_mode
    from server.realtime import socketio

    cfg = _load(config)
    public, source = public_address(cfg, host, port, base_url)
    # One address for QR codes, the kiosk's QR check, device addresses and the socket origin check.
    cfg = cfg.model_copy(update={"center": cfg.center.model_copy(update={"base_url": public})})
    path = Path(db or default_db(cfg))
    lock_database(path, host, port)
    _check_port(host, port)
    claim_center(path, cfg, force_center)
    with _storage_exit():
        app = create_app({"CENTER_CONFIG": cfg, "DATABASE": str(path), "ASYNC_MODE": production_mode(),
                          "PUBLIC_URL": public})
        store = app.extensions["novbe"].store
        if store.meta("center_id") != cfg.center.id:
            store.set_meta("center_id", cfg.center.id)
        made = bootstrap(store)
    # The start-up objects (Flask, the center's validated configuration, pydantic's models) live as
    # long as the server: kept out of the collector, a full collection takes about 1 ms instead of
    # 38-77 ms that every request waiting meanwhile would feel (bench/issue_http.py --trace).
    gc.collect()
    gc.freeze()
    lines, warning = _start_report(cfg, store, made, public, source, host, config, db)
    if warning:
        click.echo(click.style(warning, fg="red", bold=True), err=True)
    _log_setup()
    if not os.environ.get("NOVBE_ACCESS_LOG"):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)   # one line per request costs throughput
    # Printed once the server accepts connections, so that it is the last thing on the screen.
    threading.Thread(target=_print_when_listening, args=(host, port, _framed(lines)), daemon=True).start()
    if production_mode() == "gevent":
        _serve_gevent(app, host, port)
    else:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)


class _NotAWarning(logging.Filter):
    """Drops Werkzeug's "appears to be used in a production deployment": the threading server is the documented
    way to run a center (docs/install.md), and an IT person reading the log would take it for a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Werkzeug appears to be used in a production deployment")


def _log_setup() -> None:
    """The server's log (stderr, so journald under systemd): time, level, where, what; faults staff must hear of
    (a printer out of paper or not answering, a full disk) and their end, not one line per request."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").addFilter(_NotAWarning())


def _start_report(cfg: Any, store: Any, made: dict[str, Any], public: str, source: str, host: str,
                  config: str | None, db: str | None) -> tuple[list[str], str | None]:
    """The lines shown at start (password, addresses, how to call novbe) and a warning, if any."""
    lines = [f"Növbə {cfg.center.name.az} — {store.path}",
             f"Listening on {host}; QR codes and device addresses use {public} ({SOURCES[source]})"]
    warning = None
    if not is_loopback(host) and is_loopback(urlsplit(public).hostname or ""):
        warning = (f"WARNING: the server listens on {host}, but QR codes and device addresses point at {public}, "
                   f"which phones and other PCs cannot reach: set center.base_url in the center file "
                   f"(or --base-url http://<this server's LAN address>:{urlsplit(public).port or 80}).")
        lines.append(warning)
    if made["admin"]:
        keep = write_first_password(Path(f"{store.path}.admin-password"), made["admin"], public)
        if os.environ.get("JOURNAL_STREAM"):   # under systemd: keep the password out of the journal
            lines.append(f"First admin account: admin — its password is in {keep} (readable only by "
                         "the server's user): read it, write it down, delete the file")
        else:
            lines.append(f"First admin account: admin / {made['admin']}   (shown once: write it down; "
                         f"also in {keep}, readable only by its owner: delete it when noted)")
    elif Path(f"{store.path}.admin-password").exists():
        # Shown at every start until it is gone: a password in a file is only as safe as the machine's backups.
        lines.append(f"The first admin password is still in {store.path}.admin-password: once it is noted (and "
                     "changed on the admin page), delete that file")
    tokens = {(k, n): t for k, n, t in made["devices"]}
    for k in cfg.kiosks:
        tok = tokens.get(("kiosk", k.name))
        lines.append(f"kiosk {k.name}: {public}/kiosk/" + (f"?token={tok}" if tok else "  (token shown at creation; "
                     f"`novbe device add kiosk {k.name}` makes a new one)"))
    for b in cfg.boards:
        tok = tokens.get(("display", b.name))
        lines.append(f"board {b.name}: {public}/display/?board={b.name}" + (f"&token={tok}" if tok else
                     f"  (token shown at creation; `novbe device add display {b.name}` makes a new one)"))
    lines.append(f"counter: {public}/counter/   supervisor: {public}/counter/supervisor   "
                 f"API: {public}/api/openapi.json")
    novbe = _novbe_command()
    where = (f" --config {config}" if config else "") + (f" --db {db}" if db else "")
    lines.append(f"Staff accounts: {novbe} user add NAME --role operator{where}   (all commands: {novbe} --help)")
    center_now = store.clock()
    offset = round(center_now - time.time())
    if offset:      # a demo or test clock: say so, or the hall's times look wrong to whoever reads them
        shifted = datetime.fromtimestamp(center_now, cfg.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(f"Clock shifted by NOVBE_CLOCK_OFFSET={offset} s: the center's time reads {shifted} "
                     f"(commands run outside this server keep the real time)")
    return lines, warning


SOURCES = {
    "option": "from --base-url",
    "center": "center.base_url of the center file",
    "derived": "this machine's LAN address; set center.base_url if phones reach it by another",
    "loopback": "this machine only: --host 0.0.0.0 (make run HOST=0.0.0.0) serves the LAN",
    "host": "the address it listens on",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}" + ("" if port == 80 else f":{port}")


def public_address(cfg: Any, host: str, port: int, base_url: str | None) -> tuple[str, str]:
    """The address put into QR codes and printed for devices, and where it came from (a key of SOURCES)."""
    given = base_url or cfg.center.base_url
    if given:
        parts = urlsplit(given.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.ClickException(f"{given!r} is not a base URL: write it as http://ADDRESS:PORT "
                                       "(the address phones reach this server at)")
        return given.strip().rstrip("/"), "option" if base_url else "center"
    if is_loopback(host):
        return _url(host, port), "loopback"
    if host in ("0.0.0.0", "::", ""):
        return _url(lan_address(), port), "derived"
    return _url(host, port), "host"


def lan_address() -> str:
    """This machine's address on the LAN: the source address of its default route (nothing is sent),
    else a non-loopback address of its host name, else 127.0.0.1."""
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addr = str(s.getsockname()[0])
            if not is_loopback(addr):
                return addr
        except OSError:
            continue
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM):
            addr = str(info[4][0])
            if not is_loopback(addr) and not addr.startswith("fe80"):
                return addr
    except OSError:
        pass
    return "127.0.0.1"


def _check_port(host: str, port: int) -> None:
    """One line instead of a traceback when the port is taken (before anything is written)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another "
                                       "port with --port, e.g. make run PORT=5001)") from None


def write_first_password(path: Path, password: str, public: str) -> Path:
    """Keep the first admin password in ``path`` with mode 0600 (replacing a file left by an older database)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"# Növbə: the first admin account, made {time.strftime('%Y-%m-%d %H:%M %z')}. Log in at "
                f"{public}/counter/, write the password down, then delete this file.\nadmin {password}\n")
    os.replace(tmp, path)
    return path


def _framed(lines: list[str]) -> str:
    rule = "━" * min(100, max(len(line) for line in lines) + 2)
    return "\n".join([rule, *(f"┃ {line}" for line in lines), rule])


def _print_when_listening(host: str, port: int, text: str, wait: float = 30.0) -> None:
    """Print ``text`` once the server accepts connections (or after ``wait`` seconds)."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            socket.create_connection((target, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    click.echo(text)
    sys.stdout.flush()


def _novbe_command() -> str:
    """How to call ``novbe`` from here: its name if it is on PATH, else its path (``.venv/bin/novbe``)."""
    exe = Path(sys.executable).parent / "novbe"
    if shutil.which("novbe") == str(exe):
        return "novbe"
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


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


@main.command("init-db")
@config_option
@db_option
@force_center_option
def init_db(config: str | None, db: str | None, force_center: bool) -> None:
    """Create the database or apply pending migrations."""
    store = open_store(_load(config), db, force_center=force_center)
    click.echo(f"{store.path}: schema version {store.version} (center {store.cfg.center.id})")


@main.command("check-config")
@config_option
def check_config(config: str | None) -> None:
    """Validate a center configuration and summarise it."""
    cfg = _load(config)

    def n(count: int, what: str) -> str:
        return f"{count} {what}" + ("" if count == 1 else "s")

    click.echo(f"{cfg.center.name.az}: {n(len(cfg.areas), 'area')}, {n(len(cfg.services), 'service')}, "
               f"{n(len(cfg.counters), 'counter')}, {n(len(cfg.kiosks), 'kiosk')}, {n(len(cfg.boards), 'board')}, "
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
    from server.core.errors import QueueError

    try:
        auth.add_user(_store(config, db), name, password, role, actor=_cli_actor())
    except (ValueError, QueueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{role} {name}: saved")


def _cli_actor() -> str:
    """Who made a change from the command line, as the audit records it (``cli:<system user>``)."""
    import getpass

    try:
        return "cli:" + (os.environ.get("SUDO_USER") or getpass.getuser())
    except (OSError, KeyError):   # no login name and no passwd entry (some containers)
        return f"cli:uid-{os.getuid()}"


def _set_disabled(name: str, disabled: bool, config: str | None, db: str | None) -> None:
    from server import auth
    from server.core.errors import QueueError, UnknownUser

    try:
        auth.change_user(_store(config, db), name, disabled=disabled, actor=_cli_actor())
    except UnknownUser:
        raise click.ClickException(f"no staff account named {name!r} (`novbe user list` shows them)") from None
    except QueueError as exc:
        raise click.ClickException(str(exc)) from None
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

    store = _store(config, db)
    users = store.users()
    for u in users:   # the center's date, as the admin page shows it, not the machine's (often UTC)
        made = datetime.fromtimestamp(u["created_at"], store.cfg.tz).strftime("%Y-%m-%d") if u["created_at"] else "-"
        click.echo(f"{u['username']:<24} {u['role']:<10} {'disabled' if u['disabled'] else 'enabled':<8}  since {made}")
    if not users:
        click.echo("no staff accounts yet (`novbe user add NAME --role admin`)")


@main.group()
def device() -> None:
    """Kiosks, display boards and counter rating screens (a rating screen is named counter-N)."""


@device.command("add")
@click.argument("kind", type=click.Choice(["kiosk", "display", "rating"]))
@click.argument("name")
@config_option
@db_option
def device_add(kind: str, name: str, config: str | None, db: str | None) -> None:
    """Create a device (or give it a new token) and print its token."""
    from server import auth

    from server.core.errors import QueueError

    cfg = _load(config)
    try:
        click.echo(auth.issue_device_token(open_store(cfg, db or os.environ.get("NOVBE_DATABASE")), kind, name,
                                           actor=_cli_actor()))
    except QueueError as exc:
        raise click.ClickException(exc.message) from None


@device.command("list")
@config_option
@db_option
def device_list(config: str | None, db: str | None) -> None:
    """List the center file's kiosks and boards and every device holding a token, with its state."""
    from server import auth

    cfg = _load(config)
    store = open_store(cfg, db or os.environ.get("NOVBE_DATABASE"))

    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, cfg.tz).strftime("%Y-%m-%d %H:%M") if ts else "never"

    for d in auth.device_list(store):   # the admin page's list (GET /api/devices)
        kind, name = d["kind"], d["name"]
        state = {"no_token": f"no token yet (`novbe device add {kind} {name}`)",
                 "refused": f"REFUSED: not in the center file (`novbe device revoke {name}` removes its token)",
                 }.get(d["state"], "ok")
        made = when(d["created_at"]) if d["token"] else "-"
        seen = when(d["last_seen"]) if d["token"] else "-"
        click.echo(f"{kind:<8} {name:<20} token since {made:<16}  last seen {seen:<16}  {state}")


@device.command("revoke")
@click.argument("name")
@click.option("--kind", default=None, help="kiosk, display, … (needed only when two kinds share the name).")
@config_option
@db_option
def device_revoke(name: str, kind: str | None, config: str | None, db: str | None) -> None:
    """Delete a device's token: it is refused (a running server notices within 30 s)."""
    from server import auth

    store = _store(config, db)
    kinds = sorted({d["kind"] for d in store.devices() if d["name"] == name and kind in (None, d["kind"])})
    if not kinds:
        raise click.ClickException(f"no device named {name!r}" + (f" of kind {kind}" if kind else "")
                                   + " (`novbe device list` shows them)")
    if len(kinds) > 1:
        raise click.ClickException(f"{name!r} is a {' and a '.join(kinds)}: say which with --kind")
    auth.revoke_device(store, kinds[0], name, actor=_cli_actor())
    click.echo(f"{kinds[0]} {name}: token revoked (refused from now on; `novbe device add {kinds[0]} {name}` "
               "makes a new one)")


@main.command("backup")
@click.argument("dest", metavar="PATH")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="When PATH is a folder: keep only this many newest backups of the center there.")
@config_option
@db_option
def backup_cmd(dest: str, keep: int | None, config: str | None, db: str | None) -> None:
    """Copy the database to PATH (a file, or a folder for dated files) while the server runs, with its secret file."""
    from server import backup

    cfg = _load(config)
    path = Path(db or os.environ.get("NOVBE_DATABASE") or default_db(cfg))
    claim_center(path, cfg)
    try:
        made = backup.backup(path, dest, center=cfg.center.id, keep=keep, tz=cfg.tz)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    secret = Path(f"{made.path}.secret")
    click.echo(f"backup {made.line()}, integrity ok, in {made.seconds:.2f} s"
               + (f"; session secret in {secret}" if secret.exists() else ""))


@main.command("restore")
@click.argument("source", metavar="PATH", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@db_option
@force_center_option
def restore_cmd(source: Path, config: str | None, db: str | None, force_center: bool) -> None:
    """Put a backup in place of the database (the server must be stopped; the old file is kept aside)."""
    from server import backup
    from server.store import MIGRATIONS

    cfg = _load(config)
    path = Path(db or os.environ.get("NOVBE_DATABASE") or default_db(cfg))
    lock_database(path, "-", 0, restoring=True)
    try:
        theirs = backup.summarise(source)
        if theirs.center and theirs.center != cfg.center.id and not force_center:
            raise click.ClickException(f"{source} is a backup of center '{theirs.center}', not '{cfg.center.id}' "
                                       "(--config names the center; --force-center restores it anyway)")
        summary, kept = backup.restore(source, path, schema=len(MIGRATIONS))
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        os.close(_LOCK.pop())
    click.echo(f"restored {path} from {summary.line()}")
    if kept:
        click.echo(f"the database it replaced is kept as {kept}")
    click.echo("start the server again (systemctl start novbe, or novbe run)")


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
    # The same cache the server uses: NOVBE_VOICE_CACHE (as in the systemd unit) or instance/voice-cache.
    cache = Path(os.environ.get("NOVBE_VOICE_CACHE") or Path(__file__).resolve().parent.parent / "instance" / "voice-cache")
    click.echo(f"voice cache: {cache}")
    report = Announcer(cache.resolve()).prepare(list(cfg.center.announce_languages))
    for lang, state in report.items():
        click.echo(f"{lang}: {state}")


def _add_sim_commands() -> None:
    from server.sim.cli import plan, simulate

    main.add_command(simulate)
    main.add_command(plan)


_add_sim_commands()


def _add_report_commands() -> None:
    from server.report_cli import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_report_commands()

if __name__ == "__main__":
    main()
