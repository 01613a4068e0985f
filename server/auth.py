"""Staff accounts, roles, sessions, login throttling and device tokens.

Roles are ordered: operator < supervisor < admin. Passwords are hashed with Werkzeug (scrypt).

A session cookie carries the user name, the account's session *generation* and when the session
was last used. :func:`current_user` — the one check behind every staff HTTP view and every
``/counter`` Socket.IO action — compares it with the account on each call: the account exists,
is enabled, its generation matches, and the session has not been idle too long; the role comes
from the database, never from the cookie. Logout, a new password or role, and disabling bump
the generation, so every older cookie dies, copied ones included; :data:`on_sessions_ended` then
tells :mod:`server.realtime`, which ends that account's open ``/counter`` sockets at once.

A session's last use is the later of the time in its cookie and the last time this process
saw it (:func:`last_used`): a socket's session is Flask-SocketIO's copy of the cookie, whose
updates never reach the browser, so socket actions and HTTP requests keep one session alive
together, and the sockets of an idle session can be ended.

Wrong passwords slow down whoever types them instead of locking the account: after
``PAIR_FREE`` failures for one name from one address (or ``ADDRESS_FREE`` from one address for
any names) within ``WINDOW``, each further attempt must wait twice as long as the last, up to
``MAX_DELAY``, and is answered ``429 rate_limited`` without the password being looked at. A
staff PC at another address keeps logging in while someone hammers the account. The state is
the table of failed attempts, which is also the supervisor's audit of them: the ``limits``
library counts fixed rates in windows, while a growing delay needs the number and time of the
failures, which that table holds anyway (and it survives a restart).

The secret that signs the cookies lives in a file readable only by its owner beside the
database (``<database>.secret``, or ``SECRET_KEY_FILE``), or comes from ``NOVBE_SECRET_KEY``;
never in the database, so a copy of the database cannot forge sessions.

Kiosks and display boards present a device token (only its SHA-256 is stored).

Administration — accounts created, passwords reset, roles changed, accounts disabled or enabled,
device tokens made, rotated or revoked — goes through the functions here whether it comes from
the admin page, the API or ``novbe``: the same rules, and each change is recorded in the event
log by whoever made it (``staff-changed`` / ``device-changed``, in the change's own transaction).
The last enabled admin cannot be demoted or disabled.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from server.core.errors import Forbidden, InvalidRequest, RateLimited, Unauthorized, UnknownDevice
from server.core.model import DeviceChanged, StaffChanged
from server.store import SQLiteStore

log = logging.getLogger(__name__)
ROLES = ("operator", "supervisor", "admin")
# CSRF is checked after the login check (WTF_CSRF_CHECK_DEFAULT is off), so an anonymous
# request gets 401 and a logged-in one without the X-CSRFToken header gets csrf_failed.
csrf = CSRFProtect()
_SAFE = ("GET", "HEAD", "OPTIONS")
F = TypeVar("F", bound=Callable[..., Any])

#: failures allowed for one name from one address, and from one address in all, before delays start
PAIR_FREE, ADDRESS_FREE = 3, 10
#: the longest wait between attempts, and how long a failure counts
MAX_DELAY, WINDOW = 300.0, 3600.0
#: how long failed attempts are kept for the audit
KEEP_FAILURES = 90 * 86400.0
#: a session unused this long ends (``SESSION_IDLE_MINUTES``): a working day
IDLE_MINUTES = 600

#: why a session ended, as a ``/counter`` socket is told (``session-ended``); ``expired``: idle too long,
#: ``ended``: any other end (e.g. the account changed by ``novbe`` in another process)
END_REASONS = ("logged_out", "password_changed", "role_changed", "disabled", "expired", "ended")
#: told ``(store, username, reason)`` after a change that ended every session of an account (the
#: generation moved on); :mod:`server.realtime` ends the account's sockets from here.
on_sessions_ended: list[Callable[[SQLiteStore, str, str], None]] = []
# Each session's last use in this process, by the random key in its cookie (see the module docstring).
_last_used: dict[str, float] = {}

# A hash to compare against when the user does not exist, so a login for an unknown
# name costs the same time as one with a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))


def role_at_least(role: str | None, needed: str) -> bool:
    """Whether ``role`` is ``needed`` or higher."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def generate_password() -> str:
    """A random password that a person can type (for the first admin account)."""
    return secrets.token_urlsafe(12)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")


#: The one rule for a staff user name, kept by the API, ``novbe user add`` and the admin page: 1-64
#: letters or digits of any alphabet ("ləman", "Лейла"), "-", "_" or "." (``\w`` is str.isalnum()
#: plus "_"). The page checks USERNAME_JS, the same rule in JavaScript (a test compares the two).
USERNAME_RE = re.compile(r"[\w.-]{1,64}")
USERNAME_JS = r"^[\p{L}\p{N}_.\-]{1,64}$"
PASSWORD_MIN = 8


def valid_username(username: str) -> bool:
    """Whether ``username`` follows the user-name rule (:data:`USERNAME_RE`)."""
    return USERNAME_RE.fullmatch(username) is not None


def _check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"a password needs at least {PASSWORD_MIN} characters")


def add_user(store: SQLiteStore, username: str, password: str, role: str, *, actor: str | None = None,
             only_new: bool = False) -> bool:
    """Create a staff account or reset its password and role (its open sessions end); True if created.

    ``actor`` records the change in the event log (the API and ``novbe`` always name one);
    ``only_new`` refuses an existing name (UserExists) instead of resetting that account.
    """
    _check_role(role)
    if not valid_username(username):
        raise ValueError("a username is 1-64 letters, digits, '-', '_' or '.'")
    _check_password(password)

    def audit(created: bool) -> StaffChanged:
        return StaffChanged(at=store.clock(), actor=actor, change="created" if created else "reset",
                            username=username, role=role)
    old = None if only_new else store.user(username)
    created = store.put_user(username, generate_password_hash(password), role, only_new=only_new,
                             audit=audit if actor else None)
    if not created:
        sessions_ended(store, username, "role_changed" if old and old["role"] != role else "password_changed")
    return created


def change_user(store: SQLiteStore, username: str, *, password: str | None = None, role: str | None = None,
                disabled: bool | None = None, actor: str | None = None) -> None:
    """Give an existing account a new password, role or access (its sessions end at once), each change recorded.

    UnknownUser if there is no such account, LastAdmin if no enabled admin would be left,
    ValueError for a role or password that is not valid.
    """
    if role is not None:
        _check_role(role)
    if password is not None:
        _check_password(password)
    changes = [c for c, v in (("password", password), ("role", role)) if v is not None]
    if disabled is not None:
        changes.append("disabled" if disabled else "enabled")
    if not changes:
        raise ValueError("say what to change: password, role or disabled")
    now = store.clock()
    events = [StaffChanged(at=now, actor=actor, change=c, username=username, role=(role or "") if c == "role" else "")
              for c in changes] if actor else []
    store.update_user(username, pw_hash=None if password is None else generate_password_hash(password), role=role,
                      disabled=disabled, audit=events)
    sessions_ended(store, username, "disabled" if disabled else "role_changed" if role is not None
                   else "password_changed" if password is not None else "ended")


def sessions_ended(store: SQLiteStore, username: str, reason: str) -> None:
    """Tell :data:`on_sessions_ended` that every session of ``username`` has just ended (after the commit)."""
    for hook in on_sessions_ended:
        try:
            hook(store, username, reason)
        except Exception:   # the change is committed: a socket that could not be told must not undo the answer
            log.exception("could not end the sockets of %s", username)


# --- login and its throttle ------------------------------------------------------------

def login_delay(pair_n: int, pair_last: float, address_n: int, address_last: float, now: float) -> float:
    """Seconds a client must still wait before its next attempt, from its recent failures (0: try now)."""
    def one(n: int, last: float, free: int) -> float:
        if n < free:
            return 0.0
        return last + min(2.0 ** (n - free + 1), MAX_DELAY) - now
    return max(0.0, one(pair_n, pair_last, PAIR_FREE), one(address_n, address_last, ADDRESS_FREE))


def authenticate(store: SQLiteStore, username: str, password: str, address: str) -> dict[str, Any]:
    """The account for a correct password from ``address``; RateLimited or Unauthorized otherwise."""
    now = store.clock()
    attempt, wait = store.begin_login(
        username[:64], address[:64], now, window=WINDOW, keep=KEEP_FAILURES,
        wait=lambda pn, pl, an, al: login_delay(pn, pl, an, al, now))
    if wait:
        seconds = math.ceil(wait)
        raise RateLimited(f"too many wrong passwords: try again in {seconds} s", retry_after=seconds)
    user = store.user(username)
    ok = False
    try:
        if user is None or user["disabled"] or user["role"] not in ROLES:
            check_password_hash(_DUMMY_HASH, password)
        else:
            ok = check_password_hash(user["pw_hash"], password)
    finally:
        store.end_login(attempt, ok)
    if not ok or user is None:
        raise Unauthorized("wrong username or password")
    return user


# --- sessions ----------------------------------------------------------------------

def _store() -> SQLiteStore:
    return current_app.extensions["novbe"].store  # type: ignore[no-any-return]


def idle_seconds(app: Flask) -> float:
    """How long a session may go unused (``SESSION_IDLE_MINUTES``)."""
    minutes = app.config.get("SESSION_IDLE_MINUTES")
    return float(IDLE_MINUTES if minutes is None or minutes == "" else minutes) * 60


def start_session(user: dict[str, Any]) -> None:
    """Log ``user`` in on this client: a fresh session bound to the account's current generation."""
    session.clear()
    now = _store().clock()
    session["user"], session["gen"], session["seen"] = user["username"], user["generation"], now
    session["key"] = key = _new_key()
    session.permanent = True
    # Forget the sessions that have been idle too long (a few logins a day: a short pass).
    oldest = now - idle_seconds(current_app)
    for old in [k for k, t in list(_last_used.items()) if t < oldest]:   # list(): other threads add keys
        _last_used.pop(old, None)
    _last_used[key] = now


def _new_key() -> str:
    return secrets.token_urlsafe(16)


def last_used(key: str | None) -> float | None:
    """When this process last saw the session with this key accepted (HTTP or socket); None if never."""
    return _last_used.get(key) if key else None


def session_mark() -> tuple[int, str]:
    """The accepted session's generation and key (call after :func:`current_user`): what a socket is tied to."""
    return int(session["gen"]), str(session["key"])


def end_session() -> None:
    """Log out: every session of this account ends (the generation moves on), not just this cookie."""
    user = current_user()
    if user is not None:
        _store().end_sessions(user["username"])
        sessions_ended(_store(), user["username"], "logged_out")
    session.clear()


def current_user(*, touch: bool = True) -> dict[str, str] | None:
    """The staff member of this request or socket action, checked against their account now; None if none.

    ``touch=False``: a page asking on its own (a snapshot after every event in the hall), not its
    user: it does not count as use, so an unattended page still goes idle and its session ends.
    """
    name, gen, seen = session.get("user"), session.get("gen"), session.get("seen")
    if not isinstance(name, str) or not isinstance(gen, int) or not isinstance(seen, (int, float)):
        if session:
            session.clear()   # a cookie from before generations, or not ours
        return None
    store = _store()
    now, idle = store.clock(), idle_seconds(current_app)
    key = session.get("key")
    used = max(seen, _last_used.get(key, 0.0)) if isinstance(key, str) else seen
    account = store.user(name) if now - used <= idle else None
    if account is None or account["disabled"] or account["generation"] != gen or account["role"] not in ROLES:
        session.clear()
        return None
    if not isinstance(key, str):
        key = session["key"] = _new_key()   # a session from before keys
    if not touch:
        return {"username": name, "role": account["role"]}
    _last_used[key] = now
    # Last use is also kept in the cookie (for another process, or after a restart); rewritten at most once a minute.
    if now - seen > min(60.0, idle / 10):
        session["seen"] = now
    return {"username": name, "role": account["role"]}


def require_role(needed: str) -> dict[str, str]:
    """The current user if their role is at least ``needed``; Unauthorized/Forbidden otherwise."""
    had_session = "user" in session
    user = current_user()
    if user is None:
        raise Unauthorized("your session has ended (logged out, idle, or the account changed): log in again"
                           if had_session else None)
    if request.method not in _SAFE:
        csrf.protect()
    if not role_at_least(user["role"], needed):
        raise Forbidden(f"this needs the {needed} role", needed=needed)
    return user


def login_required(needed: str = "operator") -> Callable[[F], F]:
    """A view decorator: the user must be logged in with at least this role."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            g.user = require_role(needed)
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorate


def init_sessions(app: Flask, store: SQLiteStore) -> None:
    """Set the session secret (environment, else the file beside the database) and check the idle time."""
    try:
        idle = idle_seconds(app)
    except (TypeError, ValueError):
        raise ValueError(f"SESSION_IDLE_MINUTES must be a number of minutes, not {app.config['SESSION_IDLE_MINUTES']!r}") from None
    if idle <= 0:
        raise ValueError("SESSION_IDLE_MINUTES must be more than 0")
    # The cookie itself must outlive the idle time, or it would be dropped first.
    app.permanent_session_lifetime = max(app.permanent_session_lifetime, timedelta(seconds=idle))
    old = store.meta("secret_key")
    if app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = str(app.config["SECRET_KEY"])   # NOVBE_SECRET_KEY=123 arrives as a number
    elif store.path == ":memory:":
        app.config["SECRET_KEY"] = old or secrets.token_hex(32)
    else:
        path = Path(app.config.get("SECRET_KEY_FILE") or store.path + ".secret")
        app.config["SECRET_KEY"] = secret_file(path, old or secrets.token_hex(32))
    if old is not None:
        store.delete_meta("secret_key")   # an older install kept it here: moved out, sessions survive


def secret_file(path: Path, new: str) -> str:
    """The secret kept in ``path`` (made owner-only if it was not), or ``new`` written there with mode 0600."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if text:
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s was readable by others: made owner-only (0600)", path)
            os.chmod(path, 0o600)
        return text
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)   # create only if absent: two servers starting at once agree on one secret
        except FileExistsError:
            theirs = path.read_text(encoding="utf-8").strip()
            if theirs:
                return theirs
            os.replace(tmp, path)   # an empty file left by a crash
        except OSError:
            os.replace(tmp, path)   # a file system without hard links
    finally:
        tmp.unlink(missing_ok=True)
    return new


# --- device tokens ------------------------------------------------------------

def hash_token(token: str) -> str:
    """The stored form of a device token."""
    return hashlib.sha256(token.encode()).hexdigest()


DEVICE_KINDS = ("kiosk", "display", "rating")


def add_device(store: SQLiteStore, kind: str, name: str, *, actor: str | None = None) -> str:
    """Create a kiosk, display or rating-screen device (or rotate its token); returns the new token.

    Only the token's hash is kept: the token is shown once, by whoever asked for it. ``actor``
    records the change in the event log.
    """
    if kind not in DEVICE_KINDS:
        raise ValueError("a device is a kiosk, a display or a rating screen")
    token = f"{kind[0]}_{secrets.token_urlsafe(24)}"

    def audit(new: bool) -> DeviceChanged:
        return DeviceChanged(at=store.clock(), actor=actor, change="token-created" if new else "token-rotated",
                             kind=kind, device=name)
    store.put_device(kind, name, hash_token(token), audit=audit if actor else None)
    _device_cache.clear()
    return token


def issue_device_token(store: SQLiteStore, kind: str, name: str, *, actor: str) -> str:
    """A new token for a device the center file lists (UnknownDevice otherwise: its token would be refused)."""
    if kind not in DEVICE_KINDS:
        raise InvalidRequest("a device is a kiosk, a display or a rating screen", field="kind")
    if not configured(store.cfg, kind, name):
        hint = " (a rating screen is named counter-N)" if kind == "rating" else ""
        raise UnknownDevice(f"the center file of {store.cfg.center.id} has no {kind} named {name!r}: add it there "
                            f"first (a token of a device it does not list is refused){hint}", kind=kind, name=name)
    return add_device(store, kind, name, actor=actor)


def device_list(store: SQLiteStore) -> list[dict[str, Any]]:
    """The center file's kiosks and boards and every device holding a token, by kind and name.

    ``state``: ``ok``, ``no_token`` (listed, no token yet) or ``refused`` (holds a token the file
    does not list: refused until revoked or added to the file).
    """
    cfg = store.cfg
    have = {(d["kind"], d["name"]): d for d in store.devices()}
    listed = {("kiosk", k.name) for k in cfg.kiosks} | {("display", b.name) for b in cfg.boards}
    rows = []
    for kind, name in sorted(listed | set(have)):
        d = have.get((kind, name))
        ok = configured(cfg, kind, name)
        rows.append({"kind": kind, "name": name, "configured": ok, "token": d is not None,
                     "created_at": d["created_at"] if d else None, "last_seen": d.get("last_seen") if d else None,
                     "state": "no_token" if d is None else "ok" if ok else "refused"})
    return rows


_DEVICE_TTL = 30.0
_device_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def device_for(store: SQLiteStore, token: str | None, kind: str) -> dict[str, Any] | None:
    """The device of this kind holding ``token``, or None."""
    if not token or len(token) > 200:
        return None
    key = hash_token(token)
    now = time.monotonic()
    hit = _device_cache.get(key)
    # Kiosks ask on every ticket: remember answers briefly (a rotated token stops working
    # at once in this process, within 30 s in another).
    if hit is None or hit[0] < now:
        if len(_device_cache) > 1000:
            _device_cache.clear()
        hit = (now + _DEVICE_TTL, store.device_by_hash(key))
        _device_cache[key] = hit
    device = hit[1]
    if device is None or device["kind"] != kind or not configured(store.cfg, kind, device["name"]):
        return None
    return device


def configured(cfg: Any, kind: str, name: str) -> bool:
    """Whether the center file has this device: a token of a kiosk or board it no longer lists is refused."""
    if kind == "kiosk":
        return any(k.name == name for k in cfg.kiosks)
    if kind == "display":
        return any(b.name == name for b in cfg.boards)
    if kind == "rating":
        return any(f"counter-{c.number}" == name for c in cfg.counters)
    return False


def revoke_device(store: SQLiteStore, kind: str, name: str, *, actor: str | None = None) -> bool:
    """Delete a device's token (refused at once in this process, within 30 s in another); False if none."""
    audit = DeviceChanged(at=store.clock(), actor=actor, change="revoked", kind=kind, device=name) if actor else None
    gone = store.delete_device(kind, name, audit=audit)
    _device_cache.clear()
    return gone


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_device(store: SQLiteStore, kind: str) -> dict[str, Any]:
    """The device presenting a bearer token of this kind; Unauthorized otherwise."""
    device = device_for(store, bearer_token(), kind)
    if device is None:
        raise Unauthorized(f"a valid {kind} token is required (Authorization: Bearer ...)")
    return device
