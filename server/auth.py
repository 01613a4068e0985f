"""Staff accounts, roles, browser sessions and device tokens.

Roles are ordered: operator < supervisor < admin. Passwords are hashed with Werkzeug
(scrypt); five wrong passwords lock an account for fifteen minutes. Kiosks and display
boards present a device token (only its SHA-256 is stored). The same checks guard HTTP
views and Socket.IO connections.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from server.core.errors import AccountLocked, Forbidden, Unauthorized
from server.store import SQLiteStore

ROLES = ("operator", "supervisor", "admin")
# CSRF is checked after the login check (WTF_CSRF_CHECK_DEFAULT is off), so an anonymous
# request gets 401 and a logged-in one without the X-CSRFToken header gets csrf_failed.
csrf = CSRFProtect()
_SAFE = ("GET", "HEAD", "OPTIONS")
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
F = TypeVar("F", bound=Callable[..., Any])

# A hash to compare against when the user does not exist, so a login for an unknown
# name costs the same time as one with a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))


def role_at_least(role: str | None, needed: str) -> bool:
    """Whether ``role`` is ``needed`` or higher."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def generate_password() -> str:
    """A random password that a person can type (for the first admin account)."""
    return secrets.token_urlsafe(12)


def add_user(store: SQLiteStore, username: str, password: str, role: str) -> None:
    """Create a staff account or reset its password and role."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("a username is 1-64 letters, digits, '-', '_' or '.'")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    store.put_user(username, generate_password_hash(password), role)


def authenticate(store: SQLiteStore, username: str, password: str) -> dict[str, Any]:
    """The account for a correct password; Unauthorized or AccountLocked otherwise."""
    user = store.user(username)
    if user is None or user["disabled"]:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized("wrong username or password")
    if user["locked_until"] and user["locked_until"] > time.time():
        raise AccountLocked(retry_after=int(user["locked_until"] - time.time()) + 1)
    ok = check_password_hash(user["pw_hash"], password)
    store.login_result(username, ok, max_failures=MAX_FAILURES, lock_seconds=LOCK_SECONDS)
    if not ok:
        raise Unauthorized("wrong username or password")
    return user


def current_user() -> dict[str, str] | None:
    """The logged-in staff member of this request or socket handshake, if any."""
    name, role = session.get("user"), session.get("role")
    if not name or role not in ROLES:
        return None
    return {"username": name, "role": role}


def require_role(needed: str) -> dict[str, str]:
    """The current user if their role is at least ``needed``; Unauthorized/Forbidden otherwise."""
    user = current_user()
    if user is None:
        raise Unauthorized()
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


# --- device tokens ------------------------------------------------------------

def hash_token(token: str) -> str:
    """The stored form of a device token."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_device(store: SQLiteStore, kind: str, name: str) -> str:
    """Create a kiosk or display device (or rotate its token); returns the new token."""
    if kind not in ("kiosk", "display"):
        raise ValueError("a device is a kiosk or a display")
    token = f"{kind[0]}_{secrets.token_urlsafe(24)}"
    store.put_device(kind, name, hash_token(token))
    _device_cache.clear()
    return token


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
    if device is None or device["kind"] != kind:
        return None
    return device


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
