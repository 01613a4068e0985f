"""Backups of a center's database while its server runs, and their restore.

A backup is taken with SQLite's online backup API (``sqlite3.Connection.backup``) in one step: it
reads one consistent snapshot of the database (in WAL mode the server keeps writing meanwhile), so
every ticket in it has its events and its number, whatever was being issued at that moment. The copy
is switched to a self-contained single file (rollback journal), checked with ``PRAGMA
integrity_check``, written beside its destination and renamed into place, readable only by its owner
(it holds password hashes). The session secret beside the database (``<db>.secret``) is copied next
to it as ``<backup>.secret``.

A restore checks the backup first (integrity, schema not newer than this version), keeps the
current files as ``<db>.before-restore-<time>`` (with their ``-wal``), and copies the backup into
place with the same API. The caller makes sure no server runs on the database meanwhile
(``novbe restore`` holds the server's lock).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from server.store import file_facts


class BackupError(Exception):
    """A backup cannot be taken or restored (the message says why, in one line)."""


@dataclass(frozen=True)
class Summary:
    """What a database file holds, in a few figures."""

    path: Path
    center: str | None
    tickets: int
    last_day: str | None
    events: int
    schema: int
    size: int
    seconds: float = 0.0

    def line(self) -> str:
        """One line for a person."""
        return (f"{self.path}: center {self.center or '?'}, {self.tickets} tickets (last day {self.last_day or '-'}), "
                f"{self.events} events, schema {self.schema}, {self.size / 1e6:.1f} MB")


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro" if readonly else str(path)
    return sqlite3.connect(uri, uri=readonly, timeout=30, isolation_level=None)


def summarise(path: Path, *, check: bool = True) -> Summary:
    """Figures of a database file; BackupError if it is not a sound Növbə database."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        facts = file_facts(path, check=check)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a database: {exc}") from None
    if check and facts["integrity"] != ["ok"]:
        raise BackupError(f"{path} is damaged (integrity_check: {'; '.join(facts['integrity'])})")
    if not facts["tables"]:
        raise BackupError(f"{path} is not a Növbə database (no tickets or events table)")
    return Summary(path, facts["center"], facts["tickets"], facts["last_day"], facts["events"], facts["schema"],
                   path.stat().st_size)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_secret(source: Path, target: Path) -> bool:
    """Copy a secret file owner-only (0600); False if there is none."""
    if not source.is_file():
        return False
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(source.read_bytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return True


def _snapshot(source: sqlite3.Connection, target: Path, *, journal: str) -> None:
    """Copy ``source`` into ``target`` (a new file) in one consistent step, then set its journal mode."""
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(dest)   # pages=-1: one step, one read transaction, one snapshot
        dest.execute(f"PRAGMA journal_mode = {journal}")
        ok = dest.execute("PRAGMA integrity_check(5)").fetchall()
        if [r[0] for r in ok] != ["ok"]:
            raise BackupError(f"the copy failed its integrity check: {ok}")
    finally:
        dest.close()
    with open(target, "rb") as f:
        os.fsync(f.fileno())


def backup_path(dest: str | Path, center: str, tz: tzinfo | None = None) -> tuple[Path, bool]:
    """The backup file for ``dest`` (itself, or ``<center>-<YYYY-mm-dd-HHMMSS>.db`` inside a folder: an
    existing one, or a path ending in ``/``) and whether it goes into a folder. The time is the center's
    (``tz``), as the day the backup reports, not the machine's (often UTC)."""
    if str(dest).endswith(os.sep) or Path(dest).is_dir():
        return Path(dest) / f"{center}-{datetime.now(tz).strftime('%Y-%m-%d-%H%M%S')}.db", True
    return Path(dest), False


def backup(db: Path, dest: str | Path, *, center: str, keep: int | None = None,
           tz: tzinfo | None = None) -> Summary:
    """Copy the database ``db`` (while its server runs) to ``dest`` (a file, or a folder for dated files)."""
    started = time.perf_counter()
    if not db.is_file():
        raise BackupError(f"{db}: no such database")
    target, into_folder = backup_path(dest, center, tz)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    old_umask = os.umask(0o077)   # the copy holds password hashes: owner-only from its first byte
    try:
        source = _connect(db)
        try:
            _snapshot(source, tmp, journal="DELETE")
        finally:
            source.close()
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {db} to {target} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        os.umask(old_umask)
        tmp.unlink(missing_ok=True)
    _copy_secret(Path(f"{db}.secret"), Path(f"{target}.secret"))
    if keep is not None and into_folder:
        prune(target.parent, center, keep)
    s = summarise(target, check=False)
    return Summary(s.path, s.center, s.tickets, s.last_day, s.events, s.schema, s.size, time.perf_counter() - started)


def prune(folder: Path, center: str, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest dated backups of ``center`` in ``folder`` (and their secrets)."""
    dated = sorted(folder.glob(f"{center}-????-??-??-??????.db"))
    gone = dated[:-keep] if keep > 0 else dated
    for path in gone:
        path.unlink(missing_ok=True)
        Path(f"{path}.secret").unlink(missing_ok=True)
    return gone


def restore(source: Path, db: Path, *, schema: int) -> tuple[Summary, Path | None]:
    """Put the backup ``source`` in place of ``db`` (no server may run on it); returns the restored
    figures and where the previous database was kept (None if there was none)."""
    summary = summarise(source)
    if summary.schema > schema:
        raise BackupError(f"{source} has schema {summary.schema}, newer than this version of Növbə ({schema}): "
                          "upgrade first")
    owner = db.stat() if db.exists() else (db.parent.stat() if db.parent.exists() else None)
    kept: Path | None = None
    if db.exists():
        kept = Path(f"{db}.before-restore-{time.strftime('%Y-%m-%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):   # the file and its WAL stay a pair under the new name
            if Path(f"{db}{suffix}").exists():
                os.replace(f"{db}{suffix}", f"{kept}{suffix}")
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.restore")
    old_umask = os.umask(0o077)
    try:
        conn = _connect(source, readonly=True)
        try:
            _snapshot(conn, tmp, journal="WAL")
        finally:
            conn.close()
        os.replace(tmp, db)
        _fsync_dir(db.parent)
    except (sqlite3.Error, OSError) as exc:
        if kept is not None and not db.exists():   # put the old database back rather than leave none
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{kept}{suffix}").exists():
                    os.replace(f"{kept}{suffix}", f"{db}{suffix}")
            kept = None
        raise BackupError(f"restore of {source} to {db} failed: {exc}") from None
    finally:
        os.umask(old_umask)
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}-wal").unlink(missing_ok=True)
        Path(f"{tmp}-shm").unlink(missing_ok=True)
    _copy_secret(Path(f"{source}.secret"), Path(f"{db}.secret"))   # staff sessions of the backup stay valid
    if owner is not None and os.geteuid() == 0:
        # restored by root for a server that runs as its own user: give the files to that user
        for path in (db, Path(f"{db}.secret")):
            if path.exists():
                os.chown(path, owner.st_uid, owner.st_gid)
    return summary, kept

