"""The SQLite store: schema, numbered migrations, transactions and the append-only event log.

Only this module names tables. Every state change is one ``BEGIN IMMEDIATE`` transaction
(a deferred transaction that reads and then writes fails under contention), taken under an
in-process lock so threads queue politely instead of spinning in SQLite's busy handler;
``BEGIN IMMEDIATE`` with a busy timeout still serialises separate processes. After a
commit, the events the transaction appended go to the subscribers, in commit order.

Write transactions run on one connection and keep the hall (counters, waiting and held
tickets, today's counts) in memory between them, read again only when another connection
has committed (see :class:`_Hall`).
"""
from __future__ import annotations

import bisect
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite_utils

from config.schema import CenterConfig
from server.core.errors import (
    LastAdmin, StorageError, StorageFull, StorageReadOnly, StorageUnavailable, UnknownUser, UserExists,
)
from server.core.model import Counter, CounterState, Event, Status, Ticket

Subscriber = Callable[[list[Event]], None]
log = logging.getLogger(__name__)


# --- storage faults -------------------------------------------------------------
# SQLite primary result codes (the low byte of an extended code; https://sqlite.org/rescode.html).
# FULL and READONLY have codes of their own; the rest mean "cannot use the file right now".
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN = 13, 8, 10, 14
_UNAVAILABLE = {3: "permission denied", 5: "locked by another process for too long", 6: "locked for too long",
                10: "I/O error", 11: "the file is damaged", 14: "cannot open the file", 15: "locking failed",
                26: "not a SQLite database"}
#: less free space than this on the database's disk counts as full (the WAL grows in page-sized steps)
LOW_SPACE_BYTES = 1 << 20


def free_bytes(path: str) -> int | None:
    """Free space for unprivileged writers on the file system holding ``path``, None if unknown."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _writable(path: str) -> bool:
    """Whether the database file (and its WAL, and a folder to create them in) can be written."""
    folder = os.path.dirname(os.path.abspath(path))
    files = [f for f in (path, path + "-wal") if os.path.exists(f)]
    return all(os.access(f, os.W_OK) for f in files) and (bool(files) or os.access(folder, os.W_OK))


def storage_error(exc: BaseException, path: str | None = None) -> StorageError | None:
    """The storage fault behind a SQLite error, or None for one that is not (a bug, a constraint)."""
    if isinstance(exc, StorageError):
        return exc
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, (sqlite3.IntegrityError,
                                                                       sqlite3.ProgrammingError)):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    name = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    text = str(exc)
    where = f" ({path})" if path else ""
    if primary == _SQLITE_FULL or "disk is full" in text:
        return StorageFull(f"the server's disk is full{where}: nothing new can be saved until space is freed",
                           sqlite=name)
    if primary == _SQLITE_READONLY or "readonly database" in text:
        return StorageReadOnly(f"the database cannot be written{where}: read-only file, folder or disk",
                               sqlite=name)
    if primary is None:
        if "unable to open database" in text:
            primary = _SQLITE_CANTOPEN
        elif "not a database" in text:
            primary = 26
    if primary not in _UNAVAILABLE:
        return None
    if path and primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        # An I/O error is often the disk or a permission seen from below: name the cause when we can.
        if os.path.isdir(path):
            return StorageUnavailable(f"{path} is a folder, not a database file", sqlite=name)
        if not _writable(path):
            return StorageReadOnly(f"the database cannot be written{where}: read-only file, folder or disk",
                                   sqlite=name)
        free = free_bytes(path)
        if free is not None and free < LOW_SPACE_BYTES:
            return StorageFull(f"the server's disk is full{where}: nothing new can be saved until space is freed",
                               sqlite=name)
    return StorageUnavailable(f"the database cannot be used{where}: {_UNAVAILABLE[primary]}", sqlite=name)

_TICKET_FIELDS = tuple(Ticket.__dataclass_fields__)


_COLUMNS = tuple(f for f in _TICKET_FIELDS if f != "id")
_SELECT_TICKET = ", ".join(_TICKET_FIELDS)
_INSERT_TICKET = f"INSERT INTO tickets ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_UPDATE_TICKET = f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in _COLUMNS)} WHERE id = ?"


@lru_cache(maxsize=256)
def _update_ticket(columns: tuple[str, ...]) -> str:
    return f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


def _column_values(ticket: Ticket, columns: tuple[str, ...]) -> list[Any]:
    values = [getattr(ticket, c) for c in columns]
    for i, c in enumerate(columns):
        if c == "status":
            values[i] = ticket.status.value
        elif c == "specific_call":
            values[i] = int(ticket.specific_call)
    return values


def _ticket_values(ticket: Ticket) -> tuple[Any, ...]:
    # Plain getattr: dataclasses.asdict deep-copies every field, which shows on the hot path.
    values = [getattr(ticket, c) for c in _COLUMNS]
    values[_COLUMNS.index("status")] = ticket.status.value
    values[_COLUMNS.index("specific_call")] = int(ticket.specific_call)
    return tuple(values)


# Rows read again and again (every issue reads every counter and the tickets in hand) are
# built once: tickets and counters are immutable, so one object per distinct row is shared.
_ROWS_KEPT = 4096
_built_tickets: dict[tuple[Any, ...], Ticket] = {}
_built_counters: dict[tuple[Any, ...], Counter] = {}


def _ticket(row: sqlite3.Row) -> Ticket:
    key = tuple(row)
    hit = _built_tickets.get(key)
    if hit is not None:
        return hit
    data = dict(row)
    data["status"] = Status(data["status"])
    data["specific_call"] = bool(data["specific_call"])
    built = Ticket(**{k: data[k] for k in _TICKET_FIELDS})
    if len(_built_tickets) >= _ROWS_KEPT:
        _built_tickets.clear()
    _built_tickets[key] = built
    return built


@lru_cache(maxsize=1024)
def _services(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


@lru_cache(maxsize=1024)
def _services_text(services: tuple[str, ...]) -> str:
    return json.dumps(list(services))


#: an event's payload (json.dumps with an argument builds a new encoder on every call)
_payload = json.JSONEncoder(ensure_ascii=False).encode


def _counter(row: sqlite3.Row) -> Counter:
    key = tuple(row)
    hit = _built_counters.get(key)
    if hit is not None:
        return hit
    built = Counter(
        number=row["number"], state=CounterState(row["state"]), reason=row["reason"],
        operator=row["operator"], ticket_id=row["ticket_id"], since=row["since"],
        services=_services(row["services"]), priority_streak=row["priority_streak"],
        handled_today=row["handled_today"], day=row["day"],
    )
    if len(_built_counters) >= _ROWS_KEPT:
        _built_counters.clear()
    _built_counters[key] = built
    return built


# --- migrations ---------------------------------------------------------------

def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("tickets").create({
        "id": int, "token": str, "day": str, "letter": str, "seq_no": int, "number": str,
        "service": str, "original_service": str, "status": str, "issued_at": float,
        "lang": str, "priority": str, "priority_verified_by": str, "kiosk": str,
        "counter": int, "target_counter": int, "called_at": float, "started_at": float,
        "finished_at": float, "recalls": int, "outcome": str, "note": str, "specific_call": int,
    }, pk="id", not_null={"token", "day", "letter", "seq_no", "number", "service", "status", "issued_at"},
        defaults={"recalls": 0, "specific_call": 0, "lang": "az"})
    db.table("tickets").create_index(["token"], unique=True)
    db.table("tickets").create_index(["day", "letter", "seq_no"], unique=True)
    db.table("tickets").create_index(["day", "number"], unique=True)
    db.table("tickets").create_index(["day", "status", "service"])
    db.table("numbering").create({"day": str, "letter": str, "last_no": int}, pk=("day", "letter"))
    db.table("daily_counts").create({"day": str, "kind": str, "key": str, "n": int}, pk=("day", "kind", "key"))
    db.table("counters").create({
        "number": int, "state": str, "reason": str, "operator": str, "ticket_id": int, "since": float,
        "services": str, "priority_streak": int, "handled_today": int, "day": str,
    }, pk="number", defaults={"priority_streak": 0, "handled_today": 0, "day": "", "since": 0.0})
    db.table("events").create({
        "seq": int, "center": str, "name": str, "at": float, "actor": str, "ticket_id": int,
        "counter": int, "payload": str,
    }, pk="seq")
    db.table("events").create_index(["ticket_id"])
    db.table("users").create({
        "username": str, "pw_hash": str, "role": str, "failed": int, "locked_until": float,
        "created_at": float, "disabled": int,
    }, pk="username", defaults={"failed": 0, "locked_until": 0.0, "disabled": 0})
    db.table("devices").create({
        "id": int, "kind": str, "name": str, "token_hash": str, "created_at": float, "last_seen": float,
    }, pk="id")
    db.table("devices").create_index(["kind", "name"], unique=True)
    db.table("devices").create_index(["token_hash"], unique=True)
    db.table("print_jobs").create({
        "id": int, "ticket_id": int, "printer": str, "status": str, "attempts": int, "next_try": float,
        "error": str, "created_at": float, "updated_at": float,
    }, pk="id", defaults={"attempts": 0, "status": "pending"})
    db.table("print_jobs").create_index(["status", "next_try"])
    db.table("printers").create({"url": str, "state": str, "detail": str, "updated_at": float}, pk="url")


# AUTOINCREMENT keeps sequence numbers strictly increasing even if the newest event row
# were ever removed; sqlite-utils cannot ask for it, so this one table is plain SQL.
def _m2_event_autoincrement(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE events RENAME TO events_old")
    db.execute("""CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, center TEXT, name TEXT,
                  at FLOAT, actor TEXT, ticket_id INTEGER, counter INTEGER, payload TEXT)""")
    db.execute("INSERT INTO events SELECT * FROM events_old")
    db.execute("DROP TABLE events_old")
    db.execute("CREATE INDEX idx_events_ticket_id ON events (ticket_id)")


# "How many are ahead of me" runs on every issue: a covering index answers it from the index alone.
def _m3_waiting_index(db: sqlite_utils.Database) -> None:
    db.table("tickets").create_index(["day", "status", "service", "issued_at", "priority"],
                                     index_name="idx_tickets_waiting")


# Sessions die with the account: a generation number compared on every request, bumped by
# logout, password or role change and disabling. Login attempts replace the hard lock-out:
# they are the audit of failures and the state of the growing delays (server.auth).
def _m4_sessions(db: sqlite_utils.Database) -> None:
    db.table("users").add_column("generation", int, not_null_default=0)
    db.execute("UPDATE users SET failed = 0, locked_until = 0")
    db.table("login_attempts").create({
        "id": int, "at": float, "username": str, "address": str, "state": str, "cleared": int,
    }, pk="id", defaults={"cleared": 0})
    db.table("login_attempts").create_index(["address", "at"])
    db.table("login_attempts").create_index(["username", "address", "at"])
    db.table("login_attempts").create_index(["at"])


# Printers keep their last error after they recover (staff see what happened and when); a job
# reprinted by staff is aged from the reprint, not from the ticket (server.printing holds old jobs).
def _m5_printer_health(db: sqlite_utils.Database) -> None:
    db.table("printers").add_column("last_error", str)
    db.table("printers").add_column("last_error_at", float)
    db.table("print_jobs").add_column("queued_at", float)


# Reports: the citizens' ratings (one per ticket), refused issues (nothing else records them),
# and the daily rollups that keep a year's report from reading a year of events (server.reports).
def _m6_reports(db: sqlite_utils.Database) -> None:
    db.table("ratings").create({
        "ticket_id": int, "day": str, "at": float, "score": int, "reason": str, "comment": str, "source": str,
        "service": str, "area": str, "counter": int, "operator": str,
    }, pk="ticket_id", not_null={"day", "at", "score", "source"})
    db.table("ratings").create_index(["day"])
    db.table("refusals").create({
        "id": int, "day": str, "at": float, "service": str, "area": str, "priority": str, "reason": str,
        "kiosk": str,
    }, pk="id", not_null={"day", "at", "reason"})
    db.table("refusals").create_index(["day"])
    db.table("report_days").create({"day": str, "kind": str, "key": str, "data": str},
                                   pk=("day", "kind", "key"), not_null={"data"})
    # The rating screens ask for the ticket a counter finished last.
    db.table("tickets").create_index(["counter", "finished_at"], index_name="idx_tickets_counter_finished")


# The accessible kiosk mode prints the number in large type: a mark on the ticket's print job.
def _m7_large_print(db: sqlite_utils.Database) -> None:
    db.table("print_jobs").add_column("large", int, not_null_default=0)


# idx_tickets_day_status_service is a prefix of idx_tickets_waiting (migration 3), which answers every
# query it did; each issue, call and finish paid for both (about 4 % of a simulated day's CPU).
def _m8_drop_prefix_index(db: sqlite_utils.Database) -> None:
    db.execute("DROP INDEX IF EXISTS idx_tickets_day_status_service")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m1_initial, _m2_event_autoincrement, _m3_waiting_index,
                                                              _m4_sessions, _m5_printer_health, _m6_reports,
                                                              _m7_large_print, _m8_drop_prefix_index]


def file_facts(path: str | Path, *, check: bool = False) -> dict[str, Any]:
    """What a database file says about itself, read without the store (for ``novbe run`` / ``backup`` /
    ``restore``): its center (``meta.center_id``, else the center of its last event in an older file),
    tickets, last day, events, schema version, and with ``check`` the first ``integrity_check`` lines.
    Raises sqlite3.DatabaseError for a file that is not a database; ``novbe`` tables missing → ``tables`` False."""
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        facts: dict[str, Any] = {"integrity": [r[0] for r in conn.execute("PRAGMA integrity_check(5)")] if check else None,
                                 "schema": conn.execute("PRAGMA user_version").fetchone()[0]}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        facts["tables"] = {"meta", "tickets", "events"} <= tables
        if not facts["tables"]:
            return {**facts, "center": None, "tickets": 0, "last_day": None, "events": 0}
        row = conn.execute("SELECT value FROM meta WHERE key = 'center_id'").fetchone() or \
            conn.execute("SELECT center FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        facts["center"] = row[0] if row and row[0] else None
        facts["tickets"], facts["last_day"] = conn.execute("SELECT count(*), max(day) FROM tickets").fetchone()
        facts["events"] = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return facts
    finally:
        conn.close()


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the numbered migrations not yet applied; returns the schema version."""
    db = sqlite_utils.Database(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return len(MIGRATIONS)


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: a failed COMMIT (disk full, I/O error) may already
    have been rolled back by SQLite, and a second ROLLBACK would hide the real error."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:   # the connection is discarded by _borrow: it is still in a transaction
        log.warning("rollback failed: %s", exc)


class _Rows(list):  # type: ignore[type-arg]
    """Fetched rows that still answer ``fetchone()`` / ``fetchall()`` like the cursor they came from."""

    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


#: what an audit row shows beside the event's name: a finish's outcome, a transfer's counter, a counter's new
#: state and pause reason, the account or device an admin changed
_AUDIT_DETAILS = ("outcome", "to_counter", "state", "reason", "change", "username", "role", "kind", "device")


def _keep_an_admin(conn: sqlite3.Connection, username: str, old: Any) -> None:
    """LastAdmin if ``username`` is the last enabled admin (checked inside the change's own transaction)."""
    if old["role"] == "admin" and not old["disabled"] and not conn.execute(
            "SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND username != ?", (username,)).fetchone():
        raise LastAdmin(f"{username} is the only enabled admin: make another admin first", username=username)


_FINISHED = (Status.DONE, Status.NO_SHOW)


def _issue_key(t: Ticket) -> tuple[float, int]:
    return t.issued_at, t.id


def _slot_key(entry: tuple[float, int, tuple[str, int | None, float]]) -> tuple[float, int]:
    return -entry[0], -entry[1]


def _as_stored(t: Ticket) -> Ticket:
    """The ticket as reading its row back would build it."""
    return t if type(t.specific_call) is bool else t.with_(specific_call=bool(t.specific_call))


def _counter_as_stored(c: Counter) -> Counter:
    """The counter as reading its row back would build it."""
    return c if type(c.services) is tuple else c.with_(services=tuple(c.services))


class _Hall:
    """The hall as this store's last write transaction left it: what issuing and calling read, in memory.

    Every issue and every call used to read all counters, the tickets in hand, every waiting
    ticket and today's counts back from SQLite (about 10 statements and 100 rows an issue; two
    thirds of a simulated day's SQL). Only write transactions use it, under the store's lock
    and on its one writing connection, so it is valid as long as no *other* connection has
    committed: SQLite's ``PRAGMA data_version`` on that connection changes exactly then, and the
    hall is dropped. The transaction's own writes keep it up to date (the ``Tx`` methods that
    write the hall's tables); raw SQL through ``tx.conn`` or a rollback after a change drops it
    whole. Each part is read from SQLite when first needed and kept from then on.
    """

    def __init__(self) -> None:
        self.version: int | None = None
        self.clear()

    def clear(self) -> None:
        """Forget everything: the next reads go to SQLite."""
        self.counters: dict[int, Counter] | None = None
        self.daily: dict[tuple[str, str, str], int] = {}
        self.on_day(None)

    def at(self, day: str) -> None:
        """Hold ``day``'s parts from now on (those of another day are dropped)."""
        if day != self.day:
            self.on_day(day)

    def on_day(self, day: str | None) -> None:
        """Keep the day's parts for ``day`` (a new business day starts them afresh)."""
        self.day = day
        # Tickets too (every ticket read or written since, as stored): a server runs for months,
        # and yesterday's are read again if still in hand.
        self.tickets: dict[int, Ticket] = {}
        self.waiting: dict[int, Ticket] | None = None     # the day's waiting tickets by id
        self.in_order: list[Ticket] | None = None         # ... in issue order (issued_at, id)
        self.issued: list[tuple[float, str, str | None]] | None = None
        self.finished: int | None = None
        # today's finished slots, newest first: (finished_at, id, slot), kept in that order as they come
        self.slots: list[tuple[float, int, tuple[str, int | None, float]]] | None = None

    def put(self, t: Ticket, *, new: bool = False) -> None:
        """Note a ticket as now stored (``new``: just inserted)."""
        old = self.tickets.get(t.id)
        self.tickets[t.id] = t
        if t.day != self.day:
            return
        if self.waiting is not None:
            if t.status == Status.WAITING:
                self.waiting[t.id] = t
                self.in_order = None
            elif self.waiting.pop(t.id, None) is not None:
                self.in_order = None
        if new:
            if self.issued is not None:
                self.issued.append((float(t.issued_at), t.original_service, t.priority))
        elif old is None or (old.issued_at, old.original_service, old.priority) != \
                (t.issued_at, t.original_service, t.priority):
            self.issued = None
        was = (not new) and (old is None or old.status in _FINISHED)
        now = t.status in _FINISHED
        if not was and not now:
            return
        if old is None and not new or was:
            # A change to (or out of) a finished ticket, or one whose old state is unknown: count again.
            self.finished = self.slots = None
            return
        if self.finished is not None:
            self.finished += 1
        if self.slots is not None and t.called_at is not None and t.finished_at is not None:
            bisect.insort(self.slots, (t.finished_at, t.id, (t.service, t.counter, float(t.finished_at - t.called_at))),
                          key=_slot_key)


class SQLiteTx:
    """One transaction on one connection (see :class:`server.core.ports.Tx`).

    In a write transaction, ``hall`` is the store's :class:`_Hall`: the hall's reads come from it
    and its writes keep it true. ``side`` is the connection for tables the hall does not keep
    (users, meta, devices, print jobs, login attempts); ``conn`` is the raw connection for anything
    else, and using it drops the hall after the transaction.
    """

    def __init__(self, conn: sqlite3.Connection, center: str, hall: _Hall | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.side = conn
        self.center = center
        self.clock = clock        # the center's clock (the store's)
        self.events: list[Event] = []
        self._ex = conn.execute
        self.hall = hall
        self.raw = False          # ``conn`` was used: the hall cannot know what changed
        self.changed = False      # the hall was changed (a rollback must drop it)

    @property
    def conn(self) -> sqlite3.Connection:
        """The raw connection (the hall is dropped after this transaction)."""
        self.raw = True
        return self.side

    # numbering and daily counts
    def next_number(self, day: str, letter: str) -> int:
        row = self._ex(
            "INSERT INTO numbering (day, letter, last_no) VALUES (?, ?, 1) "
            "ON CONFLICT(day, letter) DO UPDATE SET last_no = last_no + 1 RETURNING last_no",
            (day, letter),
        ).fetchone()
        return int(row[0])

    def daily_count(self, day: str, kind: str, key: str) -> int:
        hall = self.hall
        if hall is not None:
            n = hall.daily.get((day, kind, key))
            if n is not None:
                return n
        row = self._ex("SELECT n FROM daily_counts WHERE day = ? AND kind = ? AND key = ?", (day, kind, key)).fetchone()
        n = int(row[0]) if row else 0
        if hall is not None:
            hall.daily[(day, kind, key)] = n
        return n

    def bump_daily(self, day: str, kind: str, key: str) -> None:
        self._ex("INSERT INTO daily_counts (day, kind, key, n) VALUES (?, ?, ?, 1) "
                 "ON CONFLICT(day, kind, key) DO UPDATE SET n = n + 1", (day, kind, key))
        hall = self.hall
        if hall is not None:
            self.changed = True
            n = hall.daily.get((day, kind, key))
            if n is not None:
                hall.daily[(day, kind, key)] = n + 1

    # tickets
    def insert_ticket(self, ticket: Ticket) -> Ticket:
        cur = self._ex(_INSERT_TICKET, _ticket_values(ticket))
        stored = ticket.with_(id=int(cur.lastrowid or 0))
        if self.hall is not None:
            self.changed = True
            self.hall.put(_as_stored(stored), new=True)
        return stored

    def save_ticket(self, ticket: Ticket) -> None:
        hall = self.hall
        old = hall.tickets.get(ticket.id) if hall is not None else None
        if old is None:
            cur = self._ex(_UPDATE_TICKET, (*_ticket_values(ticket), ticket.id))
            if hall is None or not cur.rowcount:
                return
        else:
            # Only the columns that changed: an UPDATE of every column rewrites all five of the
            # table's index entries, and a call or a finish changes three or four columns.
            before, after = old.__dict__, ticket.__dict__
            changed = tuple([c for c in _COLUMNS if before[c] != after[c]])
            if changed:
                self._ex(_update_ticket(changed), (*_column_values(ticket, changed), ticket.id))
        assert hall is not None
        self.changed = True
        hall.put(_as_stored(ticket))

    def _kept(self, row: sqlite3.Row | None) -> Ticket | None:
        if row is None:
            return None
        t = _ticket(row)
        if self.hall is not None:
            self.hall.tickets.setdefault(t.id, t)
        return t

    def get_ticket(self, ticket_id: int) -> Ticket | None:
        if self.hall is not None:
            hit = self.hall.tickets.get(ticket_id)
            if hit is not None:
                return hit
        return self._kept(self._ex("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone())

    def find_ticket(self, day: str, number: str) -> Ticket | None:
        return self._kept(self._ex("SELECT * FROM tickets WHERE day = ? AND number = ?", (day, number)).fetchone())

    def ticket_by_token(self, token: str) -> Ticket | None:
        return self._kept(self._ex("SELECT * FROM tickets WHERE token = ?", (token,)).fetchone())

    def _waiting_in_order(self, day: str) -> list[Ticket] | None:
        """The hall's waiting tickets of ``day`` in issue order (read once), or None outside a write transaction."""
        hall = self.hall
        if hall is None:
            return None
        hall.at(day)
        if hall.waiting is None:
            hall.waiting = {t.id: t for t in self._waiting_all(day)}
            hall.in_order = None
        if hall.in_order is None:
            hall.in_order = sorted(hall.waiting.values(), key=_issue_key)
        return hall.in_order

    def waiting(self, day: str, services: Iterable[str], counter: int | None = None) -> list[Ticket]:
        kept = self._waiting_in_order(day)
        if kept is not None:
            wanted = set(services)
            mark = counter if counter is not None else -1
            return [t for t in kept if t.service in wanted or t.target_counter == mark]
        codes = list(services)
        marks = ", ".join("?" * len(codes)) or "NULL"
        rows = self._ex(
            f"SELECT * FROM tickets WHERE day = ? AND status = 'waiting' AND "
            f"(service IN ({marks}) OR target_counter = ?) ORDER BY issued_at, id",
            (day, *codes, counter if counter is not None else -1),
        ).fetchall()
        return [_ticket(r) for r in rows]

    def stale_waiting(self, day: str) -> list[Ticket]:
        rows = self._ex("SELECT * FROM tickets WHERE day < ? AND status = 'waiting' ORDER BY id", (day,)).fetchall()
        return [_ticket(r) for r in rows]

    def held_over(self, day: str, since: str) -> list[Ticket]:
        # A day range on the leading column of idx_tickets_waiting: cheap, however long the history.
        rows = self._ex("SELECT * FROM tickets WHERE day >= ? AND day < ? AND status IN ('called', 'serving', 'parked') "
                        "ORDER BY id", (since, day)).fetchall()
        return [_ticket(r) for r in rows]

    def waiting_all(self, day: str) -> list[Ticket]:
        kept = self._waiting_in_order(day)
        return list(kept) if kept is not None else self._waiting_all(day)

    def _waiting_all(self, day: str) -> list[Ticket]:
        # The forecast reads every waiting ticket on every issue: build them positionally.
        rows = self._ex(f"SELECT {_SELECT_TICKET} FROM tickets WHERE day = ? AND status = 'waiting' "
                        "ORDER BY issued_at, id", (day,)).fetchall()
        waiting, specific = Status.WAITING, _TICKET_FIELDS.index("specific_call")
        status = _TICKET_FIELDS.index("status")
        out = []
        for r in rows:
            values = list(r)
            values[status], values[specific] = waiting, bool(values[specific])
            out.append(Ticket(*values))
        return out

    def held_tickets(self) -> dict[int, Ticket]:
        if self.hall is not None:
            out = {}
            for c in self._counters():
                if c.ticket_id is not None:
                    t = self.get_ticket(c.ticket_id)
                    if t is not None:
                        out[c.number] = t
            return out
        rows = self._ex("SELECT c.number AS held_by, t.* FROM counters c JOIN tickets t ON t.id = c.ticket_id").fetchall()
        return {r["held_by"]: _ticket(r) for r in rows}

    def finished_slots(self, first_day: str, before_day: str | None) -> list[tuple[str, int | None, float]]:
        """(service, counter, seconds from call to finish) of done and no-show tickets, newest first.

        ``before_day`` None: the one day ``first_day``; else the days from ``first_day`` up to
        ``before_day`` (excluded).
        """
        args: tuple[str, ...]
        hall = self.hall
        if before_day is None and hall is not None:
            hall.at(first_day)
            if hall.slots is None:
                rows = self._ex(
                    "SELECT finished_at, id, service, counter, finished_at - called_at FROM tickets WHERE day = ? "
                    "AND status IN ('done', 'no_show') AND called_at IS NOT NULL AND finished_at IS NOT NULL",
                    (first_day,)).fetchall()
                hall.slots = sorted(((r[0], r[1], (r[2], r[3], float(r[4]))) for r in rows), key=_slot_key)
            return [slot for _, _, slot in hall.slots]
        if before_day is None:
            where, args = "day = ?", (first_day,)
        else:
            where, args = "day >= ? AND day < ?", (first_day, before_day)
        rows = self._ex(
            f"SELECT service, counter, finished_at - called_at FROM tickets WHERE {where} "
            "AND status IN ('done', 'no_show') AND called_at IS NOT NULL AND finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, id DESC", args).fetchall()
        return [(r[0], r[1], float(r[2])) for r in rows]

    def issued_today(self, day: str) -> list[tuple[float, str, str | None]]:
        hall = self.hall
        if hall is not None:
            hall.at(day)
            if hall.issued is not None:
                return list(hall.issued)
        # In issue order: the expected arrivals' classes take turns in the order they first appear.
        rows = self._ex("SELECT issued_at, original_service, priority FROM tickets WHERE day = ? ORDER BY id",
                        (day,)).fetchall()
        out = [(float(r[0]), r[1], r[2]) for r in rows]
        if hall is not None:
            hall.issued = list(out)
        return out

    def count_finished(self, day: str) -> int:
        hall = self.hall
        if hall is not None:
            hall.at(day)
            if hall.finished is not None:
                return hall.finished
        n = int(self._ex("SELECT count(*) FROM tickets WHERE day = ? AND status IN ('done', 'no_show')",
                         (day,)).fetchone()[0])
        if hall is not None:
            hall.finished = n
        return n

    def last_seq(self) -> int:
        return int(self._ex("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    # counters
    def _counters(self) -> list[Counter]:
        """Every counter row, in number order (the hall's, read once)."""
        hall = self.hall
        assert hall is not None
        if hall.counters is None:
            hall.counters = {c.number: c for c in
                             (_counter(r) for r in self._ex("SELECT * FROM counters ORDER BY number").fetchall())}
        return list(hall.counters.values())

    def get_counter(self, number: int) -> Counter:
        if self.hall is not None:
            self._counters()
            assert self.hall.counters is not None
            return self.hall.counters[number]
        row = self._ex("SELECT * FROM counters WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise KeyError(number)
        return _counter(row)

    def counters(self, service: str | None = None) -> list[Counter]:
        if self.hall is not None:
            every = self._counters()
            return every if service is None else [c for c in every if service in c.services]
        if service is None:
            return [_counter(r) for r in self._ex("SELECT * FROM counters ORDER BY number").fetchall()]
        # The services column is a JSON list: match the quoted code.
        rows = self._ex("SELECT * FROM counters WHERE instr(services, ?) ORDER BY number", (json.dumps(service),))
        return [_counter(r) for r in rows.fetchall()]

    def save_counter(self, counter: Counter) -> None:
        self._ex(
            "UPDATE counters SET state = ?, reason = ?, operator = ?, ticket_id = ?, since = ?, services = ?, "
            "priority_streak = ?, handled_today = ?, day = ? WHERE number = ?",
            (counter.state.value, counter.reason, counter.operator, counter.ticket_id, counter.since,
             _services_text(tuple(counter.services)), counter.priority_streak, counter.handled_today,
             counter.day, counter.number),
        )
        hall = self.hall
        if hall is not None:
            self.changed = True
            if hall.counters is not None and counter.number in hall.counters:
                hall.counters[counter.number] = _counter_as_stored(counter)

    # events and print jobs
    def append(self, event: Event) -> Event:
        # The indexed columns as the public form has them (no event keeps them private).
        cur = self._ex(
            "INSERT INTO events (center, name, at, actor, ticket_id, counter, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.center, event.name, event.at, event.actor, getattr(event, "ticket_id", None),
             getattr(event, "counter", None), _payload(event.record())),
        )
        stored = event.with_(seq=int(cur.lastrowid or 0))
        self.events.append(stored)
        return stored

    def add_print_job(self, ticket_id: int, printer: str, large: bool = False) -> int:
        # Times shown to staff and the job's age are on the center's clock, like the audit; when to try
        # next is the spool's schedule, on the machine's.
        now = self.clock()
        cur = self._ex("INSERT INTO print_jobs (ticket_id, printer, status, attempts, next_try, created_at, updated_at, "
                       "large) VALUES (?, ?, 'pending', 0, ?, ?, ?, ?)", (ticket_id, printer, time.time(), now, now,
                                                                         int(large)))
        return int(cur.lastrowid or 0)

    # ratings (server.core.rating)
    def rating_score(self, ticket_id: int) -> int | None:
        row = self._ex("SELECT score FROM ratings WHERE ticket_id = ?", (ticket_id,)).fetchone()
        return None if row is None else int(row[0])

    def insert_rating(self, rating: Any) -> None:
        self._ex("INSERT INTO ratings (ticket_id, day, at, score, reason, comment, source, service, area, counter, "
                 "operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (rating.ticket_id, rating.day, rating.at, rating.score, rating.reason, rating.comment,
                  rating.source, rating.service, rating.area, rating.counter, rating.operator))
        # A late rating changes its day's figures: that day's rollup is made again (server.reports).
        self._ex("DELETE FROM report_days WHERE day = ?", (rating.day,))

    def finished_by(self, ticket_id: int) -> str | None:
        row = self._ex("SELECT actor FROM events WHERE ticket_id = ? AND name = 'ticket-finished' "
                       "ORDER BY seq DESC LIMIT 1", (ticket_id,)).fetchone()
        return None if row is None else row[0]

    def last_finished(self, counter: int) -> Ticket | None:
        row = self._ex("SELECT * FROM tickets WHERE counter = ? AND finished_at IS NOT NULL AND status = 'done' "
                       "ORDER BY finished_at DESC, id DESC LIMIT 1", (counter,)).fetchone()
        return _ticket(row) if row else None


def _unusable(conn: sqlite3.Connection, broken: bool) -> bool:
    """A connection that met a storage fault, could not roll back, or was opened on a file it may not
    write (SQLite then quietly opened it read-only) may be in a bad state: it is not used again."""
    return broken or conn.in_transaction or not getattr(conn, "writable", True)


class _Conn(sqlite3.Connection):
    """A connection that remembers whether the file was writable when it was opened."""

    writable = True


class SQLiteStore:
    """A center's SQLite database (WAL, ``synchronous=FULL`` by default).

    SQLite errors that mean the storage itself failed (disk full, read-only file, locked too
    long, I/O error, damaged or unopenable file) leave every method as a
    :class:`~server.core.errors.StorageError`; the connection that met one is closed, not reused.
    """

    def __init__(self, path: str | Path, cfg: CenterConfig, *, clock: Callable[[], float] = time.time,
                 synchronous: str = "FULL", busy_timeout_ms: int = 30_000) -> None:
        self.path = str(path)
        self.cfg = cfg
        self.clock = clock
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._pool: queue.Queue[sqlite3.Connection] = queue.Queue()
        self._spare: list[sqlite3.Connection] = []
        self.pool_size = 8
        self._lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._hall = _Hall()
        self._subscribers: list[Subscriber] = []
        self._health_lock = threading.Lock()
        self._health: tuple[float, StorageError | None] | None = None
        self._opened = False
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the folder of {self.path}: {exc.strerror or exc}") from exc
        try:
            # The database holds staff password hashes: a new one is made readable by its owner only
            # (SQLite gives its -wal and -shm files the database's mode), whatever the umask.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError:
            pass                # there already, or not writable: opening it says what is wrong
        with self._borrow() as conn, self._faults():
            self.version = migrate(conn)
        self._seed_counters()
        self._opened = True

    # Connections come from a small pool and are lent to one thread (or greenlet) at a time:
    # the threaded server runs each request in a new thread, so per-thread connections would
    # be opened once per request and, as measured, never closed.
    def _open(self) -> sqlite3.Connection:
        with self._faults():
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000,
                                   check_same_thread=False, factory=_Conn)
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
                conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
                conn.execute("PRAGMA foreign_keys = ON")
            except BaseException:
                conn.close()
                raise
        # SQLite quietly opens a file it may not write as read-only: such a connection must not
        # stay in the pool, or writes would keep failing after the file is writable again.
        conn.writable = _writable(self.path)
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection while it is inside a transaction, else one lent from the pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._open()
        with self._lent(conn, self._give_back):
            yield conn

    @contextmanager
    def _lent(self, conn: sqlite3.Connection,
              release: Callable[[sqlite3.Connection, bool], None]) -> Iterator[sqlite3.Connection]:
        """Lend ``conn`` to this thread; then ``release(conn, broken)`` (broken: it met a storage fault)."""
        self._local.conn = conn
        broken = False
        try:
            yield conn
        except BaseException as exc:
            broken = storage_error(exc) is not None
            raise
        finally:
            self._local.conn = None
            release(conn, broken)

    def _give_back(self, conn: sqlite3.Connection, broken: bool) -> None:
        """Return a pooled connection, or close it if it cannot be trusted (and the idle ones too, if broken)."""
        if _unusable(conn, broken) or self._pool.qsize() >= self.pool_size:
            conn.close()
            if broken:
                self._drain()
        else:
            self._pool.put(conn)

    def _drain(self) -> None:
        """Close every idle pooled connection."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Turn SQLite errors that are storage faults into StorageError (logged, one line)."""
        try:
            yield
        except sqlite3.Error as exc:
            fault = self._fault(exc)
            if fault is None:
                raise
            raise fault from exc

    def _fault(self, exc: sqlite3.Error) -> StorageError | None:
        fault = storage_error(exc, self.path)
        if fault is not None and self._opened:
            # One line, no traceback: the client gets the fault as a 503 (at start-up, the caller reports it).
            log.warning("storage fault %s: %s [%s]", fault.code, exc, getattr(exc, "sqlite_errorname", "?"))
            self._health = (time.monotonic(), fault)
        return fault

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> "_Rows":
        with self._borrow() as conn:
            try:   # inline rather than self._faults(): a context manager costs 3 µs on every read
                return _Rows(conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                fault = self._fault(exc)
                if fault is None:
                    raise
                raise fault from exc

    def connection(self) -> sqlite3.Connection:
        """A connection of this store's own (for diagnostics and tests; closed by :meth:`close`)."""
        conn = self._open()
        self._spare.append(conn)
        return conn

    def db(self) -> sqlite_utils.Database:
        """A connection wrapped by sqlite-utils, for reports and admin queries."""
        return sqlite_utils.Database(self.connection())

    def close(self) -> None:
        """Close every idle pooled connection, the writing one and the ones handed out by :meth:`connection`."""
        self._drain()
        if self._lock.acquire(blocking=False):     # not while a write transaction is under way
            try:
                self._close_writer()
            finally:
                self._lock.release()
        for conn in self._spare:
            conn.close()
        self._spare.clear()

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(events)`` after every commit that appended events, in commit order."""
        self._subscribers.append(callback)

    @contextmanager
    def _writer(self) -> Iterator[sqlite3.Connection]:
        """The store's one writing connection (the caller holds the lock), lent to this thread.

        One connection for every write of this store, so that its ``PRAGMA data_version``
        changes only when another connection (another process, a tool) has committed: that is
        when the hall kept in memory (:class:`_Hall`) must be read again.
        """
        conn = self._write_conn
        if conn is None:
            conn = self._write_conn = self._open()
            self._hall.clear()
            self._hall.version = None
        with self._lent(conn, self._release_writer):
            yield conn

    def _release_writer(self, conn: sqlite3.Connection, broken: bool) -> None:
        if _unusable(conn, broken):
            self._close_writer()
            if broken:
                self._drain()

    def _close_writer(self) -> None:
        """Close the writing connection (the caller holds the lock); the hall goes with it."""
        conn, self._write_conn = self._write_conn, None
        self._hall.clear()
        self._hall.version = None
        if conn is not None:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[SQLiteTx]:
        """One ``BEGIN IMMEDIATE`` transaction; events are published only after it commits."""
        with self._lock, self._writer() as conn:
            hall = self._hall
            try:
                conn.execute("BEGIN IMMEDIATE")
                # Another connection committed since this one last wrote: what the hall holds may be old.
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != hall.version:
                    hall.clear()
                    hall.version = version
                tx = SQLiteTx(conn, self.cfg.center.id, hall, self.clock)
                try:
                    yield tx
                    conn.execute("COMMIT")
                except BaseException:
                    if tx.changed or tx.raw:
                        hall.clear()
                    _rollback(conn)
                    raise
                if tx.raw:
                    hall.clear()
            except sqlite3.Error as exc:
                fault = self._fault(exc)
                if fault is None:
                    raise
                raise fault from exc
            # Still under the lock, so subscribers see events in sequence order.
            if tx.events:
                for callback in self._subscribers:
                    callback(tx.events)

    @contextmanager
    def read(self) -> Iterator[SQLiteTx]:
        """A read transaction: every query inside sees the same snapshot."""
        with self._borrow() as conn, self._faults():
            conn.execute("BEGIN")
            try:
                yield SQLiteTx(conn, self.cfg.center.id)
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")

    def check_storage(self, max_age: float = 5.0) -> StorageError | None:
        """Whether the store can take writes now: a real write probe (and the disk's free space),
        at most once per ``max_age`` seconds; a fault met by any write in between counts too."""
        with self._health_lock:
            seen = self._health
            if seen is not None and time.monotonic() - seen[0] < max_age:
                return seen[1]
            fault: StorageError | None = None
            try:
                free = free_bytes(self.path)
                if free is not None and free < LOW_SPACE_BYTES:
                    raise StorageFull(f"the server's disk is full ({self.path}): {free // 1024} KiB left",
                                      free_bytes=free)
                with self.write() as tx:
                    tx.side.execute("INSERT INTO meta (key, value) VALUES ('health_probe', ?) "
                                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (repr(time.time()),))
            except StorageError as exc:
                fault = exc
            self._health = (time.monotonic(), fault)
            return fault

    def _seed_counters(self) -> None:
        """Give every configured counter a row; a counter not yet used today takes its configured services."""
        from server.core.clock import business_day

        today = business_day(self.clock(), self.cfg.tz)
        with self.write() as tx:
            for c in self.cfg.counters:
                services = json.dumps(list(c.services))
                tx.conn.execute(
                    "INSERT OR IGNORE INTO counters (number, state, services, since) VALUES (?, 'closed', ?, ?)",
                    (c.number, services, self.clock()),
                )
                tx.conn.execute("UPDATE counters SET services = ? WHERE number = ? AND day != ?",
                                (services, c.number, today))

    # --- reads for snapshots, reports and staff screens ---------------------

    def last_seq(self) -> int:
        """The newest event's sequence number."""
        row = self._query("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def events_since(self, seq: int, limit: int = 500) -> list[dict[str, Any]]:
        """Events after ``seq`` (public form), oldest first."""
        rows = self._query(
            "SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
        return [{**json.loads(r["payload"]), "seq": r["seq"]} for r in rows]

    def audit(self, *, day_start: float = 0.0, day_end: float = math.inf, limit: int = 200,
              names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The audit trail: who did what to which ticket at which counter (or to which account or device), newest
        first, from ``day_start`` until before ``day_end``."""
        only = list(names or ())
        where = f" AND name IN ({', '.join('?' * len(only))})" if only else ""
        rows = self._query(
            f"SELECT seq, name, at, actor, ticket_id, counter, payload FROM events WHERE at >= ? AND at < ?{where} "
            "ORDER BY seq DESC LIMIT ?", (day_start, day_end if math.isfinite(day_end) else 1e300, *only,
                                          limit)).fetchall()
        out = []
        for r in rows:
            payload = json.loads(r["payload"])
            out.append({"seq": r["seq"], "event": r["name"], "at": r["at"], "actor": r["actor"],
                        "counter": r["counter"], "number": payload.get("number"),
                        **{k: payload[k] for k in _AUDIT_DETAILS if payload.get(k) not in (None, "")}})
        return out

    def tickets_of_day(self, day: str, statuses: Iterable[str] | None = None) -> list[Ticket]:
        """Tickets of one business day, oldest first."""
        if statuses is None:
            rows = self._query("SELECT * FROM tickets WHERE day = ? ORDER BY id", (day,)).fetchall()
        else:
            st = list(statuses)
            rows = self._query(
                f"SELECT * FROM tickets WHERE day = ? AND status IN ({', '.join('?' * len(st))}) ORDER BY id",
                (day, *st)).fetchall()
        return [_ticket(r) for r in rows]

    def recent_calls(self, day: str, limit: int = 10) -> list[Ticket]:
        """The most recently called tickets still at a counter or served, newest first."""
        rows = self._query(
            "SELECT * FROM tickets WHERE day = ? AND called_at IS NOT NULL AND status IN ('called', 'serving', 'done') "
            "ORDER BY called_at DESC LIMIT ?", (day, limit)).fetchall()
        return [_ticket(r) for r in rows]

    def last_call_at(self, number: str, counter: int) -> float | None:
        """When ticket ``number`` was last called (or recalled, returned) to ``counter`` today, or None."""
        from datetime import datetime, timedelta

        from server.core.model import TicketCalled, TicketRecalled, TicketReturned

        midnight = datetime.fromtimestamp(self.clock(), self.cfg.tz).replace(hour=0, minute=0, second=0,
                                                                                microsecond=0)
        # Yesterday's tickets too: one held by a counter across midnight can be recalled today.
        days = (midnight.date().isoformat(), (midnight.date() - timedelta(days=1)).isoformat())
        row = self._query(
            "SELECT max(at) FROM events WHERE ticket_id IN (SELECT id FROM tickets WHERE day IN (?, ?) AND number = ?) "
            "AND counter = ? AND name IN (?, ?, ?) AND at >= ?",
            (*days, number, counter, TicketCalled.name, TicketRecalled.name, TicketReturned.name,
             midnight.timestamp())).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def waiting_counts(self, day: str) -> dict[str, int]:
        """Waiting tickets per service."""
        rows = self._query(
            "SELECT service, count(*) FROM tickets WHERE day = ? AND status = 'waiting' GROUP BY service", (day,))
        return {r[0]: r[1] for r in rows}

    def daily_counts(self, day: str, kind: str) -> dict[str, int]:
        """Issued-ticket counts for one day, per key of ``kind`` ('center' or 'service')."""
        rows = self._query("SELECT key, n FROM daily_counts WHERE day = ? AND kind = ?", (day, kind))
        return {r[0]: r[1] for r in rows}

    # meta
    def meta(self, key: str) -> str | None:
        """A stored setting (e.g. the session secret)."""
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self.write() as tx:
            tx.side.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            (key, value))

    def delete_meta(self, key: str) -> None:
        """Forget a setting (e.g. a session secret moved out of the database)."""
        with self.write() as tx:
            tx.side.execute("DELETE FROM meta WHERE key = ?", (key,))

    # users and devices (hashes only; the auth module decides)
    def user(self, username: str) -> dict[str, Any] | None:
        """A staff account row."""
        row = self._query("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        return dict(row) if row else None

    def users(self) -> list[dict[str, Any]]:
        """All staff accounts (without password hashes)."""
        rows = self._query("SELECT username, role, disabled, created_at FROM users ORDER BY username")
        return [dict(r) for r in rows]

    def put_user(self, username: str, pw_hash: str, role: str, *, only_new: bool = False,
                 audit: Callable[[bool], Event] | None = None) -> bool:
        """Create a staff account, or give it a new password and role (ending its sessions); True if created.

        ``only_new`` refuses (UserExists) instead of changing an existing account; ``audit(created)``
        is the event recorded in the same transaction. The last enabled admin keeps the admin role.
        """
        with self.write() as tx:
            old = tx.side.execute("SELECT role, disabled FROM users WHERE username = ?", (username,)).fetchone()
            if old is not None and only_new:
                raise UserExists(f"there is already a staff account named {username!r}", username=username)
            if old is not None and role != "admin":
                _keep_an_admin(tx.side, username, old)
            tx.side.execute(
                "INSERT INTO users (username, pw_hash, role, created_at, disabled, generation) "
                "VALUES (?, ?, ?, ?, 0, 0) ON CONFLICT(username) DO UPDATE SET pw_hash = excluded.pw_hash, "
                "role = excluded.role, generation = generation + 1", (username, pw_hash, role, time.time()))
            if audit is not None:
                tx.append(audit(old is None))
            return old is None

    def update_user(self, username: str, *, pw_hash: str | None = None, role: str | None = None,
                    disabled: bool | None = None, audit: Iterable[Event] = ()) -> None:
        """Change an existing account's password, role or access at once (its sessions end), with its audit events.

        UnknownUser if there is none; LastAdmin if it would leave no enabled admin.
        """
        with self.write() as tx:
            old = tx.side.execute("SELECT role, disabled FROM users WHERE username = ?", (username,)).fetchone()
            if old is None:
                raise UnknownUser(f"no staff account named {username!r}", username=username)
            if (role is not None and role != "admin") or disabled:
                _keep_an_admin(tx.side, username, old)
            sets = [(col, value) for col, value in (("pw_hash", pw_hash), ("role", role),
                                                     ("disabled", None if disabled is None else int(disabled)))
                    if value is not None]
            tx.side.execute(f"UPDATE users SET {''.join(c + ' = ?, ' for c, _ in sets)}generation = generation + 1 "
                            "WHERE username = ?", (*(v for _, v in sets), username))
            for event in audit:
                tx.append(event)

    def end_sessions(self, username: str) -> None:
        """Bump the account's session generation: every session it holds ends (logout)."""
        with self.write() as tx:
            tx.side.execute("UPDATE users SET generation = generation + 1 WHERE username = ?", (username,))

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        """Disable an account (ending its sessions) or enable it; False if there is no such account."""
        try:
            self.update_user(username, disabled=disabled)
        except UnknownUser:
            return False
        return True

    def begin_login(self, username: str, address: str, now: float, *, window: float, keep: float,
                    wait: Callable[[int, float, int, float], float]) -> tuple[int, float]:
        """Reserve one login attempt, or say how long the client must wait first: (id, 0) or (0, seconds).

        ``wait(pair_n, pair_last, address_n, address_last)`` decides from the uncleared failures
        (attempts in flight included, so parallel guesses count) of this name from this address
        and of this address, over the last ``window`` seconds. Attempts older than ``keep`` go.
        """
        since = now - window
        with self.write() as tx:
            pair = tx.side.execute(
                "SELECT count(*), max(at) FROM login_attempts WHERE username = ? AND address = ? AND at > ? "
                "AND cleared = 0", (username, address, since)).fetchone()
            addr = tx.side.execute(
                "SELECT count(*), max(at) FROM login_attempts WHERE address = ? AND at > ? AND cleared = 0",
                (address, since)).fetchone()
            delay = wait(pair[0], pair[1] or 0.0, addr[0], addr[1] or 0.0)
            if delay > 0:
                return 0, delay
            cur = tx.side.execute("INSERT INTO login_attempts (at, username, address, state) VALUES (?, ?, ?, 'pending')",
                                  (now, username, address))
            tx.side.execute("DELETE FROM login_attempts WHERE at < ?", (now - keep,))
            return int(cur.lastrowid or 0), 0.0

    def end_login(self, attempt: int, ok: bool) -> None:
        """Settle a reserved attempt: a failure stays (audit, delays); a success clears that name's failures from that address."""
        with self.write() as tx:
            if not ok:
                tx.side.execute("UPDATE login_attempts SET state = 'failed' WHERE id = ?", (attempt,))
                return
            row = tx.side.execute("SELECT username, address FROM login_attempts WHERE id = ?", (attempt,)).fetchone()
            tx.side.execute("DELETE FROM login_attempts WHERE id = ?", (attempt,))
            if row is not None:
                tx.side.execute("UPDATE login_attempts SET cleared = 1 WHERE username = ? AND address = ?",
                                (row[0], row[1]))

    def login_failures(self, *, since: float = 0.0, limit: int = 200) -> list[dict[str, Any]]:
        """Failed logins (name tried, client address, when; ``cleared``: a correct login followed), newest first."""
        rows = self._query(
            "SELECT at, username, address, cleared FROM login_attempts WHERE state = 'failed' AND at >= ? "
            "ORDER BY at DESC, id DESC LIMIT ?", (since, limit))
        return [{"at": r["at"], "username": r["username"], "address": r["address"], "cleared": bool(r["cleared"])}
                for r in rows]

    def count_users(self) -> int:
        """How many staff accounts exist."""
        return int(self._query("SELECT count(*) FROM users").fetchone()[0])

    def put_device(self, kind: str, name: str, token_hash: str, *,
                   audit: Callable[[bool], Event] | None = None) -> bool:
        """Create a kiosk or display device, or give it a new token; True if it is new (``audit(new)`` recorded too)."""
        with self.write() as tx:
            new = tx.side.execute("SELECT 1 FROM devices WHERE kind = ? AND name = ?", (kind, name)).fetchone() is None
            tx.side.execute(
                "INSERT INTO devices (kind, name, token_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind, name) DO UPDATE SET token_hash = excluded.token_hash",
                (kind, name, token_hash, time.time()))
            if audit is not None:
                tx.append(audit(new))
            return new

    def device_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The device holding a token (by its hash)."""
        row = self._query("SELECT id, kind, name FROM devices WHERE token_hash = ?", (token_hash,)).fetchone()
        return dict(row) if row else None

    def devices(self) -> list[dict[str, Any]]:
        """All devices."""
        return [dict(r) for r in self._query("SELECT kind, name, created_at, last_seen FROM devices ORDER BY kind, name")]

    def delete_device(self, kind: str, name: str, *, audit: Event | None = None) -> bool:
        """Remove a device and so its token; False if there was none (then nothing is recorded)."""
        with self.write() as tx:
            gone = tx.side.execute("DELETE FROM devices WHERE kind = ? AND name = ?", (kind, name)).rowcount > 0
            if gone and audit is not None:
                tx.append(audit)
            return gone

    # print spool (the printers package's JobQueue protocol is adapted in server.printing)
    # A claimed job stays 'pending', not due again for this long: the spool works through its batch
    # one job at a time (a printer that does not answer takes seconds per job), and a job only
    # becomes 'sending' when its bytes are about to go out (start_print_job). A stop in between
    # leaves the untried ones pending, to print after the restart, not "uncertain" for staff.
    CLAIM_LEASE_S = 300.0

    def claim_print_jobs(self, limit: int = 10) -> list[dict[str, Any]]:
        """Pending print jobs that are due, oldest first, held for the spool (still pending)."""
        due, now = time.time(), self.clock()      # the spool's schedule; the center's clock for staff
        with self.write() as tx:
            rows = tx.side.execute(
                "SELECT * FROM print_jobs WHERE status = 'pending' AND next_try <= ? ORDER BY id LIMIT ?",
                (due, limit)).fetchall()
            for r in rows:
                tx.side.execute("UPDATE print_jobs SET attempts = attempts + 1, next_try = ?, updated_at = ? "
                                "WHERE id = ?", (due + self.CLAIM_LEASE_S, now, r["id"]))
        return [dict(r, attempts=r["attempts"] + 1) for r in rows]

    def start_print_job(self, job_id: int) -> bool:
        """Mark a claimed job as being sent, just before its bytes go out; False if it is no longer pending."""
        with self.write() as tx:
            return tx.side.execute("UPDATE print_jobs SET status = 'sending', updated_at = ? "
                                   "WHERE id = ? AND status = 'pending'", (self.clock(), job_id)).rowcount == 1

    def finish_print_job(self, job_id: int, status: str = "printed", error: str | None = None,
                         delay_s: float = 0.0) -> None:
        """Record a print job's outcome: printed, failed (staff must look) or pending again after a delay."""
        with self.write() as tx:
            tx.side.execute("UPDATE print_jobs SET status = ?, error = ?, next_try = ?, updated_at = ? WHERE id = ?",
                            (status, error, time.time() + delay_s, self.clock(), job_id))

    def recover_print_jobs(self) -> None:
        """At start-up, jobs left 'sending' by a crash may or may not have printed: staff must decide.
        Jobs claimed but not yet tried are pending: they are due now."""
        with self.write() as tx:
            tx.side.execute("UPDATE print_jobs SET status = 'failed', error = 'uncertain: server stopped while sending' "
                            "WHERE status = 'sending'")
            tx.side.execute("UPDATE print_jobs SET next_try = 0 WHERE status = 'pending'")

    def requeue_print_job(self, job_id: int) -> bool:
        """Send a job again (a supervisor's reprint; held jobs too, aged from now)."""
        with self.write() as tx:
            cur = tx.side.execute("UPDATE print_jobs SET status = 'pending', next_try = 0, error = NULL, queued_at = ? "
                                  "WHERE id = ? AND status IN ('failed', 'printed', 'held')", (self.clock(), job_id))
            return cur.rowcount == 1

    def print_jobs(self, limit: int = 50, day: str | None = None) -> list[dict[str, Any]]:
        """Recent print jobs with their ticket number and kiosk, newest first (of one business day's tickets)."""
        rows = self._query(
            "SELECT j.id, j.printer, j.status, j.attempts, j.error, j.created_at, j.updated_at, t.number, t.kiosk "
            "FROM print_jobs j JOIN tickets t ON t.id = j.ticket_id "
            + ("WHERE t.day = ? " if day else "") + "ORDER BY j.id DESC LIMIT ?",
            ((day, limit) if day else (limit,)))
        return [dict(r) for r in rows]

    def print_job_large(self, job_id: int) -> bool:
        """Whether a print job prints the number in large type."""
        row = self._query("SELECT large FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def print_job_ticket(self, job_id: int) -> Ticket | None:
        """The ticket a print job prints."""
        row = self._query(
            "SELECT t.* FROM print_jobs j JOIN tickets t ON t.id = j.ticket_id WHERE j.id = ?", (job_id,)).fetchone()
        return _ticket(row) if row else None

    def set_printer_status(self, printer: str, state: str, detail: str) -> None:
        """Remember a printer's last known state; any state but ok also becomes its last error."""
        now = self.clock()      # the center's clock, as the audit beside it on the supervisor's page
        error, error_at = (None, None) if state == "ok" else (detail or state, now)
        with self.write() as tx:
            tx.side.execute("INSERT INTO printers (url, state, detail, updated_at, last_error, last_error_at) "
                            "VALUES (?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT(url) DO UPDATE SET state = excluded.state, detail = excluded.detail, "
                            "updated_at = excluded.updated_at, "
                            "last_error = coalesce(excluded.last_error, printers.last_error), "
                            "last_error_at = coalesce(excluded.last_error_at, printers.last_error_at)",
                            (printer, state, detail, now, error, error_at))

    def printers(self) -> list[dict[str, Any]]:
        """Every printer's last known state."""
        return [dict(r) for r in self._query("SELECT * FROM printers ORDER BY url")]

    def issue_history(self, days: int = 60) -> list[tuple[float, str]]:
        """(issued_at, original service) of the tickets of the last ``days`` business days (for simulations)."""
        rows = self._query("SELECT issued_at, original_service FROM tickets WHERE day IN "
                           "(SELECT DISTINCT day FROM tickets ORDER BY day DESC LIMIT ?)", (days,))
        return [(float(r[0]), r[1]) for r in rows]

    def integrity_ok(self) -> bool:
        """``PRAGMA integrity_check`` says ok."""
        return self._query("PRAGMA integrity_check").fetchone()[0] == "ok"

    # --- reports, rollups, refusals, retention (server.reports) ------------------

    def note_refusal(self, day: str, at: float, reason: str, *, service: str | None, area: str | None,
                     priority: str | None, kiosk: str | None) -> None:
        """Record a ticket the kiosk could not issue (capacity, closed): reports count refusals by reason."""
        with self.write() as tx:
            tx.side.execute("INSERT INTO refusals (day, at, service, area, priority, reason, kiosk) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", (day, at, service, area, priority, reason, kiosk))

    def report_day(self, day: str) -> tuple[list[Ticket], list[tuple[Any, ...]], dict[int, int], list[dict[str, Any]]]:
        """One business day's raw material, read in one snapshot: its tickets; the calls, transfers and
        finishes of those tickets (``ticket_id, name, at, actor, counter, payload``, in order, whenever
        they happened); their ratings (ticket id -> score); the day's refusals."""
        with self.read() as tx:
            ex = tx.side.execute
            tickets = [_ticket(r) for r in ex("SELECT * FROM tickets WHERE day = ? ORDER BY id", (day,))]
            events = [tuple(r) for r in ex(
                "SELECT ticket_id, name, at, actor, counter, CASE WHEN name = 'ticket-transferred' THEN payload END "
                "FROM events WHERE ticket_id IN (SELECT id FROM tickets WHERE day = ?) AND name IN "
                "('ticket-called', 'ticket-transferred', 'ticket-finished', 'ticket-no-show') ORDER BY seq", (day,))]
            ratings = {r[0]: r[1] for r in ex("SELECT ticket_id, score FROM ratings WHERE day = ?", (day,))}
            refusals = [dict(r) for r in ex("SELECT at, service, area, priority, reason FROM refusals WHERE day = ?",
                                            (day,))]
        return tickets, events, ratings, refusals

    def report_data_days(self, first: str, last: str) -> list[str]:
        """The business days from ``first`` to ``last`` (included) that have tickets or refusals."""
        rows = self._query("SELECT DISTINCT day FROM tickets WHERE day BETWEEN ? AND ? UNION "
                           "SELECT DISTINCT day FROM refusals WHERE day BETWEEN ? AND ? ORDER BY 1",
                           (first, last, first, last))
        return [r[0] for r in rows]

    def open_days(self, before: str) -> set[str]:
        """Days before ``before`` that still have a ticket waiting, at a counter or parked."""
        rows = self._query("SELECT DISTINCT day FROM tickets WHERE day < ? AND status IN "
                           "('waiting', 'called', 'serving', 'parked')", (before,))
        return {r[0] for r in rows}

    def rollup_rows(self, first: str, last: str, kinds: Iterable[str]) -> list[tuple[str, str, str, str]]:
        """Stored daily rollups ``(day, kind, key, data JSON)`` of the given kinds, from ``first`` to ``last``."""
        kinds = list(kinds)
        rows = self._query(f"SELECT day, kind, key, data FROM report_days WHERE day BETWEEN ? AND ? "
                           f"AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY day", (first, last, *kinds))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def rolled_days(self, first: str, last: str) -> set[str]:
        """Days from ``first`` to ``last`` whose rollup is stored (every rolled day has a 'center' row)."""
        rows = self._query("SELECT day FROM report_days WHERE kind = 'center' AND day BETWEEN ? AND ?",
                           (first, last))
        return {r[0] for r in rows}

    def put_rollup(self, day: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Replace one day's rollup by ``(kind, key, data JSON)`` rows, in one transaction."""
        with self.write() as tx:
            tx.side.execute("DELETE FROM report_days WHERE day = ?", (day,))
            tx.side.executemany("INSERT INTO report_days (day, kind, key, data) VALUES (?, ?, ?, ?)",
                                [(day, kind, key, data) for kind, key, data in rows])

    def drop_rollups(self, first: str, last: str) -> int:
        """Forget the rollups of a period (they are made again from the tickets and events)."""
        with self.write() as tx:
            return int(tx.side.execute("DELETE FROM report_days WHERE day BETWEEN ? AND ?", (first, last)).rowcount)

    def purge(self, *, comments_before: float | None, tokens_before_day: str | None) -> dict[str, int]:
        """Remove what is personal and old: rating comments written before ``comments_before`` (epoch s),
        and the status-page tokens of finished tickets of days before ``tokens_before_day`` (each replaced
        by a random value nobody holds, so the old QR code leads nowhere). Figures are untouched."""
        done = {"comments": 0, "tokens": 0}
        with self.write() as tx:
            if comments_before is not None:
                done["comments"] = tx.side.execute(
                    "UPDATE ratings SET comment = NULL WHERE comment IS NOT NULL AND at < ?",
                    (comments_before,)).rowcount
            if tokens_before_day is not None:
                done["tokens"] = tx.conn.execute(
                    "UPDATE tickets SET token = '~' || lower(hex(randomblob(16))) WHERE day < ? AND "
                    "substr(token, 1, 1) != '~' AND status NOT IN ('waiting', 'called', 'serving', 'parked')",
                    (tokens_before_day,)).rowcount
        return done

    def rating_comments(self, first: str, last: str) -> list[dict[str, Any]]:
        """Ratings with a comment or a reason in a period, newest first (no ticket number, no person)."""
        rows = self._query("SELECT day, at, score, reason, comment, service, area, counter FROM ratings "
                           "WHERE day BETWEEN ? AND ? AND (comment IS NOT NULL OR reason IS NOT NULL) "
                           "ORDER BY at DESC LIMIT 200", (first, last))
        return [dict(r) for r in rows]

    # device health (server.device_health keeps the live state; only "last seen" is stored)
    def touch_device(self, kind: str, name: str, at: float) -> None:
        """Record when a kiosk or board was last heard from."""
        with self.write() as tx:
            tx.side.execute("UPDATE devices SET last_seen = ? WHERE kind = ? AND name = ?", (at, kind, name))

    def devices_last_seen(self) -> dict[tuple[str, str], float]:
        """When each device was last heard from, by (kind, name); devices never heard from are left out."""
        rows = self._query("SELECT kind, name, last_seen FROM devices WHERE last_seen IS NOT NULL")
        return {(r["kind"], r["name"]): float(r["last_seen"]) for r in rows}
