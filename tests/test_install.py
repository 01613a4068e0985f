"""Installing a center as the README and docs/install.md say: a fresh clone's ``make run``, a database
per center, the address in the QR codes, devices the center file does not list, the systemd units
(verified by ``systemd-analyze`` and their commands run as an unprivileged user), the kiosk launcher.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio
from click.testing import CliRunner
from live import ROOT, LiveServer, free_port, open_hours_offset

from config import loader
from server import cli

RULE = "━"
DOC = ROOT / "docs" / "install.md"
LAUNCHER = ROOT / "kiosk" / "launch-kiosk.sh"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person at a terminal: no NOVBE_* left over, no virtualenv active."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVBE_", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env.update({"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra})
    return env


class Run:
    """A server command (``make run``, ``novbe run``) in its own process group, its output collected."""

    def __init__(self, argv: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env or clean_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def frame(self, timeout: float = 60) -> list[str]:
        """The framed start-up report (its lines without the frame), once printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rules = [i for i, line in enumerate(self.lines) if line.startswith(RULE * 10)]
            if len(rules) >= 2:
                return [line[2:] for line in self.lines[rules[0] + 1:rules[1]]]
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError("exited before the report:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.1)
        raise AssertionError("no report in time:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def novbe(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=clean_env(), check=False)


def line_with(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert found, f"no line starting with {start!r} in {lines}"
    return found[0]


def service_code(center: str) -> str:
    return loader.load(center).services[0].code


# --- the README's make run, on a fresh clone ---------------------------------------------

@pytest.mark.slow
def test_fresh_clone_make_run_on_a_port_for_fuzuli(tmp_path: Path) -> None:
    if not shutil.which("git") or not shutil.which("make"):
        pytest.skip("git and make are needed for a fresh clone")
    clone = tmp_path / "novbe"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    port = free_port()
    run = Run(["make", "run", f"PORT={port}", "CENTER=fuzuli"], cwd=clone,
              env=clean_env(NOVBE_CLOCK_OFFSET=str(open_hours_offset("fuzuli"))))
    try:
        report = run.frame(timeout=900)     # a whole virtualenv is installed first
        time.sleep(1.0)
        start = run.lines.index(RULE * min(100, max(len(x) for x in report) + 2))
        before = run.lines[:start]
        # A quiet install: the set-up line, make's command line, the web server's two lines; no warnings of ours.
        assert len(before) <= 8, "\n".join(before)
        assert not [x for x in run.lines if "setuptools" in x or "absent from the" in x or "Traceback" in x]
        assert run.lines[-1].startswith(RULE), "the report is not the last thing printed"

        assert line_with(report, "Növbə Füzuli").endswith("instance/fuzuli.db")
        password = re.search(r"First admin account: admin / (\S+) ", line_with(report, "First admin account")).group(1)
        secret_file = clone / "instance" / "fuzuli.db.admin-password"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        # The database holds the staff password hashes: its owner's only too (it was 0644 under make run).
        assert stat.S_IMODE((clone / "instance" / "fuzuli.db").stat().st_mode) == 0o600
        # A shifted clock is said, or a demo's times look wrong to whoever reads them.
        assert line_with(report, "Clock shifted by NOVBE_CLOCK_OFFSET=").endswith(
            "(commands run outside this server keep the real time)")
        assert f"admin {password}\n" in secret_file.read_text(encoding="utf-8")
        url = f"http://127.0.0.1:{port}"
        kiosk = re.fullmatch(rf"kiosk kiosk-1: {url}/kiosk/\?token=(k_\S+)", line_with(report, "kiosk kiosk-1")).group(1)
        assert re.fullmatch(rf"board hall: {url}/display/\?board=hall&token=d_\S+", line_with(report, "board hall"))
        assert line_with(report, "Staff accounts:").startswith(
            "Staff accounts: .venv/bin/novbe user add NAME --role operator --config fuzuli")

        assert requests.post(url + "/api/login", json={"username": "admin", "password": password}, timeout=5).ok
        r = requests.post(url + "/api/tickets", json={"service": service_code("fuzuli")},
                          headers={"Authorization": f"Bearer {kiosk}"}, timeout=5)
        assert r.status_code == 201, r.text
        assert r.json()["status_url"].startswith(url + "/t/")
        # The README's way to call novbe, from the clone.
        listed = subprocess.run([".venv/bin/novbe", "device", "list", "--config", "fuzuli"], cwd=clone, text=True,
                                capture_output=True, env=clean_env(), timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert re.search(r"^kiosk\s+kiosk-1\s+token since .* ok$", listed.stdout, re.M), listed.stdout
    finally:
        run.stop()
    # Our packaging makes setuptools say nothing, even when pip shows the build's output.
    verbose = subprocess.run([str(clone / ".venv/bin/pip"), "install", "-v", "--no-deps", "-e", str(clone)],
                             capture_output=True, text=True, env=clean_env(), timeout=600)
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert "absent from the `packages` configuration" not in verbose.stdout + verbose.stderr


# --- a database per center -----------------------------------------------------------------

def test_default_database_per_center_and_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "INSTANCE", tmp_path)
    monkeypatch.setattr(cli, "LEGACY_DB", tmp_path / "novbe.db")
    absheron, fuzuli = loader.load("absheron"), loader.load("fuzuli")
    assert cli.default_db(absheron) == tmp_path / "absheron.db"
    assert cli.default_db(fuzuli) == tmp_path / "fuzuli.db"

    # An install from before: one instance/novbe.db, no center recorded, Abşeron's events in it.
    legacy = tmp_path / "novbe.db"
    assert CliRunner().invoke(cli.main, ["init-db", "--db", str(legacy)]).exit_code == 0
    conn = sqlite3.connect(legacy)
    conn.execute("DELETE FROM meta WHERE key = 'center_id'")
    conn.execute("INSERT INTO events (center, name, at) VALUES ('absheron', 'ticket-issued', 0)")
    conn.commit()
    conn.close()
    assert cli.database_center(legacy) == "absheron"
    assert cli.default_db(absheron) == legacy          # the default center keeps its file
    assert cli.default_db(fuzuli) == tmp_path / "fuzuli.db"
    refused = CliRunner().invoke(cli.main, ["user", "list", "--config", "fuzuli", "--db", str(legacy)])
    assert refused.exit_code == 1
    assert "is the database of center 'absheron', not 'fuzuli'" in refused.output
    ok = CliRunner().invoke(cli.main, ["init-db"])     # the default center, on its old default file
    assert ok.exit_code == 0 and str(legacy) in ok.output
    (tmp_path / "absheron.db").touch()
    assert cli.default_db(absheron) == tmp_path / "absheron.db"   # once moved, the new name wins


@pytest.mark.slow
def test_another_centers_database_is_refused_and_its_devices_too(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, center="absheron").start()
    try:
        assert server.issue(service_code("absheron"), kiosk="kiosk-2").status_code == 201
    finally:
        server.stop()
    port = free_port()
    argv = [sys.executable, "-m", "server.cli", "run", "--config", "fuzuli", "--db", str(server.db), "--port", str(port)]
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"Error: {server.db} is the database of center 'absheron', not 'fuzuli': run fuzuli on its own database "
        "(the default is instance/fuzuli.db), or add --force-center to hand this file and its tickets to fuzuli."]
    assert cli.database_center(server.db) == "absheron"

    run = Run([*argv, "--force-center"], env=clean_env(NOVBE_CLOCK_OFFSET=str(open_hours_offset("fuzuli"))))
    try:
        report = run.frame()
        assert cli.database_center(server.db) == "fuzuli"
        url = f"http://127.0.0.1:{port}"
        issue = {"service": service_code("fuzuli")}
        # Füzuli has a kiosk-1 but no kiosk-2 and no hall-1: those tokens are refused everywhere.
        ok = requests.post(url + "/api/tickets", json=issue, headers={"Authorization": f"Bearer {server.kiosk_token()}"},
                           timeout=5)
        assert ok.status_code == 201, ok.text
        gone = requests.post(url + "/api/tickets", json=issue, timeout=5,
                             headers={"Authorization": f"Bearer {server.kiosk_token('kiosk-2')}"})
        assert gone.status_code == 401 and gone.json()["error"] == "unauthorized"
        for namespace, token in (("/kiosk", server.kiosk_token("kiosk-2")), ("/display", server.display_token("hall-1"))):
            sio = socketio.Client(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                sio.connect(url, namespaces=[namespace], auth={"token": token}, transports=["websocket"], wait_timeout=5)
            sio.disconnect()
        hall = re.search(r"board hall: \S+&token=(d_\S+)", "\n".join(report))
        assert hall, report            # Füzuli's own board got its token at start

        listed = novbe("device", "list", "--config", "fuzuli", "--db", str(server.db)).stdout
        assert re.search(r"^kiosk\s+kiosk-2\s+.*REFUSED: not in the center file", listed, re.M), listed
        assert re.search(r"^display\s+hall-1\s+.*REFUSED", listed, re.M) and re.search(r"^display\s+hall\s+.* ok$", listed, re.M)
        revoked = novbe("device", "revoke", "kiosk-2", "--config", "fuzuli", "--db", str(server.db))
        assert revoked.returncode == 0 and "kiosk kiosk-2: token revoked" in revoked.stdout
        assert "kiosk-2" not in novbe("device", "list", "--config", "fuzuli", "--db", str(server.db)).stdout
        again = novbe("device", "revoke", "kiosk-2", "--config", "fuzuli", "--db", str(server.db))
        assert again.returncode == 1 and "no device named 'kiosk-2'" in again.stderr
        unknown = novbe("device", "add", "kiosk", "kiosk-9", "--config", "fuzuli", "--db", str(server.db))
        assert unknown.returncode == 1 and "has no kiosk named 'kiosk-9'" in unknown.stderr
    finally:
        run.stop()


def test_a_revoked_token_is_refused_at_once(tmp_path: Path, clock) -> None:
    from server.app import create_app

    db = tmp_path / "fuzuli.db"
    app = create_app({"TESTING": True, "DATABASE": str(db), "CENTER_CONFIG": loader.load("fuzuli"), "CLOCK": clock,
                      "START_DEVICES": False})
    made = CliRunner().invoke(cli.main, ["device", "add", "kiosk", "kiosk-1", "--config", "fuzuli", "--db", str(db)])
    assert made.exit_code == 0, made.output
    headers = {"Authorization": f"Bearer {made.output.strip()}"}
    client = app.test_client()
    issue = {"service": service_code("fuzuli")}
    assert client.post("/api/tickets", json=issue, headers=headers).status_code == 201
    r = CliRunner().invoke(cli.main, ["device", "revoke", "kiosk-1", "--config", "fuzuli", "--db", str(db)])
    assert r.exit_code == 0 and "kiosk kiosk-1: token revoked" in r.output
    refused = client.post("/api/tickets", json=issue, headers=headers)
    assert refused.status_code == 401 and refused.json["error"] == "unauthorized"


# --- the address in the QR codes ------------------------------------------------------------

@pytest.mark.slow
def test_lan_install_derives_and_prints_the_address(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(NOVBE_CLOCK_OFFSET=str(open_hours_offset("fuzuli")))
    run = Run([sys.executable, "-m", "server.cli", "run", "--config", "fuzuli", "--db", str(tmp_path / "f.db"),
               "--host", "0.0.0.0", "--port", str(port)], env=env)
    lan = cli.lan_address()
    try:
        report = run.frame()
        if cli.is_loopback(lan):
            pytest.skip("this machine has no LAN address to derive")
        public = f"http://{lan}:{port}"
        assert line_with(report, "Listening on 0.0.0.0") == (
            f"Listening on 0.0.0.0; QR codes and device addresses use {public} (this machine's LAN address; "
            "set center.base_url if phones reach it by another)")
        assert not [x for x in run.lines if "WARNING: the server listens" in x]
        kiosk = re.fullmatch(rf"kiosk kiosk-1: {re.escape(public)}/kiosk/\?token=(k_\S+)",
                             line_with(report, "kiosk kiosk-1")).group(1)
        assert line_with(report, "counter:").startswith(f"counter: {public}/counter/")
        r = requests.post(f"http://127.0.0.1:{port}/api/tickets", json={"service": service_code("fuzuli")},
                          headers={"Authorization": f"Bearer {kiosk}"}, timeout=5)
        assert r.status_code == 201, r.text
        status_url = r.json()["status_url"]
        assert status_url.startswith(public + "/t/")
        # The kiosk draws the same address as a QR code (the page may be opened at 127.0.0.1 or the LAN address).
        qr = requests.get(f"http://127.0.0.1:{port}/kiosk/qr.svg", params={"data": status_url}, timeout=5)
        assert qr.status_code == 200 and qr.headers["Content-Type"].startswith("image/svg+xml")
    finally:
        run.stop()


@pytest.mark.slow
def test_loopback_qr_codes_on_a_lan_server_are_warned_loudly(tmp_path: Path) -> None:
    port = free_port()
    run = Run([sys.executable, "-m", "server.cli", "run", "--config", "fuzuli", "--db", str(tmp_path / "f.db"),
               "--host", "0.0.0.0", "--port", str(port), "--base-url", f"http://127.0.0.1:{port}"])
    try:
        report = run.frame()
        warning = (f"WARNING: the server listens on 0.0.0.0, but QR codes and device addresses point at "
                   f"http://127.0.0.1:{port}, which phones and other PCs cannot reach: set center.base_url in the "
                   f"center file (or --base-url http://<this server's LAN address>:{port}).")
        assert warning in report                          # in the framed report, last on the screen
        assert run.lines.count(warning) == 1              # and once on stderr when it starts (the log)
    finally:
        run.stop()
    loop = Run([sys.executable, "-m", "server.cli", "run", "--config", "fuzuli", "--db", str(tmp_path / "f.db"),
                "--port", str(port)])
    try:
        assert "(this machine only: --host 0.0.0.0 (make run HOST=0.0.0.0) serves the LAN)" in \
            line_with(loop.frame(), "Listening on 127.0.0.1")
        assert not [x for x in loop.lines if "WARNING" in x and "QR codes" in x]
    finally:
        loop.stop()
    bad = novbe("run", "--config", "fuzuli", "--db", str(tmp_path / "f.db"), "--port", str(port),
                "--base-url", "192.168.1.5:5000")
    assert bad.returncode == 1 and "'192.168.1.5:5000' is not a base URL" in bad.stderr


def test_a_taken_port_is_one_line_before_anything_is_written(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = novbe("run", "--config", "fuzuli", "--db", str(tmp_path / "f.db"), "--port", str(port))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
                                             "(choose another port with --port, e.g. make run PORT=5001)"]
    assert not (tmp_path / "f.db").exists()


# --- systemd ---------------------------------------------------------------------------------

def doc_units() -> dict[str, str]:
    """The unit files of docs/install.md: ```ini blocks whose first line names /etc/systemd/system/<unit>."""
    units = {}
    for block in re.findall(r"```ini\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        first, _, body = block.partition("\n")
        m = re.fullmatch(r"# /etc/systemd/system/(\S+)", first)
        if m:
            units[m.group(1)] = body
    return units


def for_here(text: str, data: Path, backups: Path, port: int) -> str:
    """A unit or command of the doc pointed at this checkout, a temporary data folder and a free port."""
    return (text.replace("/opt/novbe", str(ROOT)).replace("/var/lib/novbe", str(data))
            .replace("/var/backups/novbe", str(backups)).replace("--port 5000", f"--port {port}")
            .replace("lankaran", "fuzuli"))


def test_the_doc_has_the_units() -> None:
    assert set(doc_units()) == {"novbe.service", "novbe-backup.service", "novbe-backup.timer"}


def test_systemd_units_verify(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    paths = []
    for name, body in doc_units().items():
        path = tmp_path / name
        path.write_text(for_here(body, Path("/var/lib/novbe"), Path("/var/backups/novbe"), 5000), encoding="utf-8")
        paths.append(str(path))
    r = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
    ours = [x for x in (r.stdout + r.stderr).splitlines() if "novbe" in x]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def unit_service(body: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    section = ""
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#") and section == "[Service]":
            k, _, v = line.partition("=")
            keys.setdefault(k, []).append(v)
    return keys


AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def nobody_can_run_novbe() -> bool:
    """Whether the user nobody can start this checkout's novbe (not when the interpreter is under /root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    probe = subprocess.run([*AS_NOBODY, "sh", "-c", 'exec "$0" --version', str(ROOT / ".venv" / "bin" / "novbe")],
                           capture_output=True, timeout=60, cwd="/")
    return probe.returncode == 0


def as_unit(service: dict[str, list[str]], command: str, *, nobody: bool, **env: str) -> list[str]:
    """``command`` as systemd would start it for this [Service]: its umask, environment and folder, as the
    user nobody standing in for the unit's ``User=novbe`` when ``nobody``."""
    environment = dict(e.split("=", 1) for e in service.get("Environment", []))
    environment.update(env)
    return [*(AS_NOBODY if nobody else []), "env", "-i", f"PATH={os.environ['PATH']}", "PYTHONUNBUFFERED=1",
            *(f"{k}={v}" for k, v in environment.items()),
            "sh", "-c", f'umask {service.get("UMask", ["0022"])[0]} && cd "$0" && exec "$@"',
            service["WorkingDirectory"][0], *shlex.split(command)]


@pytest.mark.slow
def test_the_documented_service_backup_and_restore_as_the_service_user(tmp_path: Path) -> None:
    """What `systemctl enable --now novbe`, the backup timer and the restore procedure run, run here with
    the units' umask and environment (no systemd here to start them), as the unprivileged user nobody
    when it can reach this checkout's interpreter (not when Python lives under /root: then as ourselves,
    and ownership is not checked)."""
    nobody = nobody_can_run_novbe()
    owner = 65534 if nobody else os.geteuid()
    data, backups = tmp_path / "data", tmp_path / "backups"
    for folder, mode in ((data, 0o750), (backups, 0o700)):      # what the doc's install -d does
        folder.mkdir()
        os.chown(folder, owner, owner)
        folder.chmod(mode)
    tmp_path.chmod(0o755)
    port = free_port()
    units = {name: for_here(body, data, backups, port) for name, body in doc_units().items()}
    server = unit_service(units["novbe.service"])
    offset = str(open_hours_offset("fuzuli"))
    start = as_unit(server, server["ExecStart"][0], nobody=nobody, JOURNAL_STREAM="8:12345", NOVBE_CLOCK_OFFSET=offset)
    run = Run(start)
    db = data / "fuzuli.db"
    url = f"http://127.0.0.1:{port}"
    try:
        report = run.frame()
        # Under systemd the password stays out of the journal: the report says where it is.
        assert line_with(report, "First admin account") == (
            f"First admin account: admin — its password is in {db}.admin-password (readable only by the server's "
            "user): read it, write it down, delete the file")
        assert not [x for x in run.lines if "admin / " in x]
        for f in (db, Path(f"{db}.secret"), Path(f"{db}.admin-password")):
            st = f.stat()
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (owner, 0o600), f
        password = Path(f"{db}.admin-password").read_text(encoding="utf-8").splitlines()[-1].split()[1]
        assert requests.post(url + "/api/login", json={"username": "admin", "password": password}, timeout=5).ok
        kiosk = re.search(r"kiosk kiosk-1: \S+\?token=(k_\S+)", "\n".join(report)).group(1)
        issue = {"service": service_code("fuzuli")}
        numbers = [requests.post(url + "/api/tickets", json=issue, headers={"Authorization": f"Bearer {kiosk}"},
                                 timeout=5).json()["number"] for _ in range(5)]

        backup = unit_service(units["novbe-backup.service"])
        took = subprocess.run(as_unit(backup, backup["ExecStart"][0], nobody=nobody), capture_output=True, text=True,
                              timeout=120)
        assert took.returncode == 0, took.stderr
        made = sorted(backups.glob("fuzuli-*.db"))
        assert len(made) == 1 and made[0].stat().st_uid == owner and stat.S_IMODE(made[0].stat().st_mode) == 0o600

        restore_line = next(x for x in re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
                            for x in x.splitlines() if " restore " in x)
        command = for_here(restore_line.removeprefix("sudo -u novbe "), data, backups, port)
        command = re.sub(r"\S+/fuzuli-\S+\.db", str(made[0]), command)
        refused = subprocess.run(as_unit(server, command, nobody=nobody), capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and "a novbe server is running on" in refused.stderr
    finally:
        run.stop()
    restored = subprocess.run(as_unit(server, command, nobody=nobody), capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert db.stat().st_uid == owner and stat.S_IMODE(db.stat().st_mode) == 0o600
    again = Run(start)
    try:
        # The password file was not deleted: every start says so, until it is.
        assert line_with(again.frame(), "The first admin password is still in") == (
            f"The first admin password is still in {db}.admin-password: once it is noted (and changed on the "
            "admin page), delete that file")
        day = requests.get(url + "/api/health", timeout=5).json()
        assert day["ok"] is True and day["center"] == "fuzuli"
        conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
        assert {r[0] for r in conn.execute("SELECT number FROM tickets")} == set(numbers)
        conn.close()
    finally:
        again.stop()


# --- the kiosk PC's launcher -------------------------------------------------------------------

KIOSK_URL = "http://10.0.0.2:5000/kiosk/?token=abc"


def launch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(LAUNCHER), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


def test_kiosk_launcher_dry_run_has_the_kiosk_flags(tmp_path: Path) -> None:
    r = launch(KIOSK_URL, env={"NOVBE_KIOSK_DRY_RUN": "1", "NOVBE_BROWSER": "chromium", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    argv = r.stdout.splitlines()
    assert argv[0] == "chromium" and argv[-1] == KIOSK_URL
    for flag in ("--kiosk", "--noerrdialogs", "--disable-pinch", "--overscroll-history-navigation=0",
                 "--no-first-run", "--disable-session-crashed-bubble", "--disable-translate"):
        assert flag in argv
    assert f"--user-data-dir={tmp_path}/.local/share/novbe-kiosk" in argv   # the token survives a reboot


@pytest.mark.parametrize("args", [(), ("http://10.0.0.2:5000/display/?board=hall-1",), (KIOSK_URL, "extra")])
def test_kiosk_launcher_refuses_bad_arguments(args: tuple[str, ...]) -> None:
    r = launch(*args, env={"NOVBE_KIOSK_DRY_RUN": "1"})
    assert r.returncode == 2 and ("usage" in r.stderr or "not a kiosk address" in r.stderr)


@pytest.mark.browser
def test_kiosk_launcher_runs_chromium_which_keeps_the_token(tmp_path: Path) -> None:
    """The launcher with Debian's real Chromium (headless) on a real server: the page loads and the kiosk's
    token ends up in the profile, so the address without it works after a reboot."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    server = LiveServer(tmp_path).start()
    browser = tmp_path / "headless-chromium"
    browser.write_text('#!/bin/sh\nexec /usr/bin/chromium --headless=new --no-sandbox --disable-gpu '
                       '--virtual-time-budget=8000 --dump-dom "$@"\n')
    browser.chmod(0o755)
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    prefs = profile / "Default" / "Preferences"
    prefs.write_text('{"profile":{"exited_cleanly":false,"exit_type":"Crashed"}}')
    try:
        r = launch(f"{server.url}/kiosk/?token={server.kiosk_token()}",
                   env={"NOVBE_BROWSER": str(browser), "NOVBE_KIOSK_ONCE": "1", "NOVBE_KIOSK_PROFILE": str(profile),
                        "DISPLAY": ""})
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "kiosk.js" in r.stdout                      # the kiosk page, as Chromium built it
    stored = b"".join(p.read_bytes() for p in (profile / "Default" / "Local Storage").rglob("*") if p.is_file())
    assert b"novbe.kiosk.token" in stored and server.kiosk_token().encode() in stored


def test_the_server_log_has_times_and_no_false_production_warning() -> None:
    """`novbe run`'s log: INFO and up with time and level (a printer's fault and its end reach journald), and
    without Werkzeug's "production deployment" warning, which reads as a fault although the threading server
    is the documented way to run a center."""
    import logging

    from server import cli

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        cli._log_setup()
        assert root.level == logging.INFO and "%(asctime)s" in root.handlers[0].formatter._fmt
        werkzeug = logging.getLogger("werkzeug")
        warn = logging.LogRecord("werkzeug", logging.WARNING, __file__, 1,
                                 "Werkzeug appears to be used in a production deployment. Consider ...", None, None)
        other = logging.LogRecord("werkzeug", logging.WARNING, __file__, 1, "something else", None, None)
        assert werkzeug.filter(warn) is False and werkzeug.filter(other) is True
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        for f in list(logging.getLogger("werkzeug").filters):
            logging.getLogger("werkzeug").removeFilter(f)
