"""``novbe backup`` and ``novbe restore`` against a real server that keeps issuing tickets.

The backups are taken by the real command (a separate process) while a thread issues tickets
through the real HTTP API; the restored database passes ``integrity_check`` and holds every
ticket acknowledged before the backup began, and the server serves it again.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from live import ROOT, LiveServer

pytestmark = pytest.mark.slow


def novbe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVBE_")}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def facts(path: Path) -> dict[str, object]:
    """integrity, tickets (by token), and whether each ticket has its event and its number, read directly."""
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        tokens = {r[0] for r in conn.execute("SELECT token FROM tickets")}
        without_event = conn.execute("SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM events e "
                                     "WHERE e.ticket_id = t.id AND e.name = 'ticket-issued')").fetchone()[0]
        numbering = conn.execute("SELECT count(*) FROM numbering n WHERE n.last_no != (SELECT max(seq_no) FROM "
                                 "tickets t WHERE t.day = n.day AND t.letter = n.letter)").fetchone()[0]
    finally:
        conn.close()
    return {"integrity": integrity, "tokens": tokens, "without_event": without_event, "numbering_off": numbering}


class Issuer(threading.Thread):
    """Issues tickets as fast as the server answers, remembering when each was acknowledged."""

    def __init__(self, server: LiveServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.acked: list[tuple[float, str]] = []   # (when acknowledged, status-page token)
        self.services = [s["code"] for s in requests.get(server.url + "/api/services", timeout=5).json()["services"]
                         if s["available"]]
        assert self.services

    def run(self) -> None:
        i = 0
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {self.server.kiosk_token()}"
            while not self.stop.is_set():
                r = http.post(self.server.url + "/api/tickets", json={"service": self.services[i % len(self.services)]},
                              timeout=10)
                i += 1
                if r.status_code == 201:
                    self.acked.append((time.time(), r.json()["status_url"].rsplit("/", 1)[1]))

    def before(self, moment: float) -> set[str]:
        return {token for at, token in self.acked if at < moment}


def test_backup_while_issuing_then_restore(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    folder = tmp_path / "backups"
    issuer = Issuer(server)
    try:
        staff = server.login("admin")
        issuer.start()
        while len(issuer.acked) < 20:
            time.sleep(0.05)
        taken = []
        for _ in range(3):
            started = time.time()
            r = novbe("backup", f"{folder}/", "--keep", "2", "--config", "absheron", "--db", str(server.db))
            assert r.returncode == 0, r.stderr
            assert "integrity ok" in r.stdout and "session secret in" in r.stdout
            taken.append((started, Path(r.stdout.split()[1].rstrip(":"))))
            time.sleep(1.1)   # dated names have one-second resolution
        issuer.stop.set()
        issuer.join(10)
        issued_in_all = len(issuer.acked)
        assert issued_in_all > 40, "the issuing thread hardly ran"

        # --keep 2: the oldest went, with its secret; what is left is readable only by its owner.
        assert not taken[0][1].exists() and not Path(f"{taken[0][1]}.secret").exists()
        assert sorted(folder.iterdir()) == sorted([taken[1][1], taken[2][1], Path(f"{taken[1][1]}.secret"),
                                                   Path(f"{taken[2][1]}.secret")])
        for f in folder.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f

        started, last = taken[2]
        copy = facts(last)
        assert copy["integrity"] == [("ok",)]
        assert issuer.before(started) <= copy["tokens"]          # every ticket acknowledged before it began
        assert copy["without_event"] == 0 and copy["numbering_off"] == 0   # one consistent snapshot
        assert len(copy["tokens"]) < issued_in_all               # and issuing went on meanwhile

        # A running server's database is not overwritten.
        r = novbe("restore", str(last), "--config", "absheron", "--db", str(server.db))
        assert r.returncode == 1
        assert "a novbe server is running on" in r.stderr and f"pid {server.proc.pid}" in r.stderr  # type: ignore[union-attr]
        assert len(facts(server.db)["tokens"]) == issued_in_all
        assert not list(tmp_path.glob("novbe.db.before-restore-*"))

        server.stop()
        Path(f"{server.db}.secret").unlink()   # lost with the disk: the backup's copy brings it back
        r = novbe("restore", str(last), "--config", "absheron", "--db", str(server.db))
        assert r.returncode == 0, r.stderr
        assert f"restored {server.db} from {last}" in r.stdout and "start the server again" in r.stdout
        kept = [p for p in tmp_path.glob("novbe.db.before-restore-*") if not p.name.endswith(("-wal", "-shm"))]
        assert len(kept) == 1 and len(facts(kept[0])["tokens"]) == issued_in_all   # the replaced one is kept

        restored = facts(server.db)
        assert restored["integrity"] == [("ok",)] and restored["tokens"] == copy["tokens"]
        server.start()
        for token in sorted(issuer.before(started))[:50]:
            assert requests.get(f"{server.url}/api/status/{token}", timeout=5).status_code == 200
        later = sorted(set(t for _, t in issuer.acked) - copy["tokens"])   # type: ignore[operator]
        assert later and requests.get(f"{server.url}/api/status/{later[0]}", timeout=5).status_code == 404
        # The session secret came back with the backup: the admin logged in before is still logged in.
        assert staff.get(server.url + "/api/me", timeout=5).status_code == 200
        assert server.issue(issuer.services[0]).status_code == 201
    finally:
        issuer.stop.set()
        server.stop()


def test_restore_refuses_a_damaged_backup_and_another_centers(tmp_path: Path) -> None:
    db = tmp_path / "absheron.db"
    assert novbe("init-db", "--config", "absheron", "--db", str(db)).returncode == 0
    good = tmp_path / "good.db"
    assert novbe("backup", str(good), "--config", "absheron", "--db", str(db)).returncode == 0

    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    data[4096 * 2: 4096 * 2 + 512] = os.urandom(512)    # a page of the tables torn
    damaged.write_bytes(bytes(data))
    r = novbe("restore", str(damaged), "--config", "absheron", "--db", str(db))
    assert r.returncode == 1 and ("is damaged" in r.stderr or "cannot be read" in r.stderr), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("absheron.db.before-restore-*"))       # nothing touched

    other = tmp_path / "fuzuli.db"
    assert novbe("init-db", "--config", "fuzuli", "--db", str(other)).returncode == 0
    fuzuli_copy = tmp_path / "fuzuli-copy.db"
    assert novbe("backup", str(fuzuli_copy), "--config", "fuzuli", "--db", str(other)).returncode == 0
    r = novbe("restore", str(fuzuli_copy), "--config", "absheron", "--db", str(db))
    assert r.returncode == 1 and "is a backup of center 'fuzuli', not 'absheron'" in r.stderr
    # A backup of another center's file is refused too, before anything is copied.
    r = novbe("backup", str(tmp_path / "x.db"), "--config", "absheron", "--db", str(other))
    assert r.returncode == 1 and "is the database of center 'fuzuli'" in r.stderr
    assert not (tmp_path / "x.db").exists()
    r = novbe("backup", str(tmp_path / "y.db"), "--config", "absheron", "--db", str(tmp_path / "missing.db"))
    assert r.returncode == 1 and "no such database" in r.stderr


def test_restore_by_root_gives_the_files_to_the_servers_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give files away")
    db = tmp_path / "fuzuli.db"
    assert novbe("init-db", "--config", "fuzuli", "--db", str(db)).returncode == 0
    Path(f"{db}.secret").write_text("s" * 64 + "\n")     # what the server's first start writes
    copy = tmp_path / "copy.db"
    assert novbe("backup", str(copy), "--config", "fuzuli", "--db", str(db)).returncode == 0
    for f in (db, Path(f"{db}.secret")):
        os.chown(f, 65534, 65534)          # the server's own user (nobody standing in for novbe)
    r = novbe("restore", str(copy), "--config", "fuzuli", "--db", str(db))
    assert r.returncode == 0, r.stderr
    for f in (db, Path(f"{db}.secret")):
        st = f.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600), f


def test_a_dated_backup_is_named_in_the_centers_time(tmp_path) -> None:
    """Found by trying it: at 00:57 in Baku a backup was named after the machine's UTC day before, beside
    "last day 2026-12-01". The name's date and hour are the center's (here a zone 14 hours from UTC, so that
    the two differ at any hour)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from server import backup as b

    far = ZoneInfo("Pacific/Kiritimati")
    before = datetime.now(far)
    path, into = b.backup_path(str(tmp_path) + "/", "lankaran", far)
    after = datetime.now(far)
    assert into and path.parent == tmp_path
    stamp = path.name.removeprefix("lankaran-").removesuffix(".db")
    assert stamp in {before.strftime("%Y-%m-%d-%H%M%S"), after.strftime("%Y-%m-%d-%H%M%S")} or \
        before - timedelta(seconds=1) <= datetime.strptime(stamp, "%Y-%m-%d-%H%M%S").replace(tzinfo=far) <= after
