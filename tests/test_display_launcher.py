"""display/launch-board.sh: the flags a board needs, and that it really starts the browser."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "display" / "launch-board.sh"
URL = "http://10.0.0.2:5000/display/?board=hall-1&token=abc"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(LAUNCHER), *args], capture_output=True, text=True, timeout=20,
                          env={**os.environ, **(env or {})}, check=False)


def test_dry_run_has_the_kiosk_and_autoplay_flags(tmp_path: Path) -> None:
    r = run(URL, env={"NOVBE_BOARD_DRY_RUN": "1", "NOVBE_BROWSER": "chromium", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    argv = r.stdout.splitlines()
    assert argv[0] == "chromium" and argv[-1] == URL
    for flag in ("--kiosk", "--autoplay-policy=no-user-gesture-required", "--noerrdialogs", "--disable-translate",
                 "--no-first-run", "--disable-session-crashed-bubble"):
        assert flag in argv
    # One profile per board, so the display token kept in localStorage survives a reboot.
    assert f"--user-data-dir={tmp_path}/.local/share/novbe-board/hall-1" in argv


def test_it_runs_the_browser_with_the_url(tmp_path: Path) -> None:
    fake = tmp_path / "fake-chromium"
    record = tmp_path / "argv.txt"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\nexit 0\n')
    fake.chmod(0o755)
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    prefs = profile / "Default" / "Preferences"
    prefs.write_text('{"profile":{"exited_cleanly":false,"exit_type":"Crashed"}}')
    r = run(URL, env={"NOVBE_BROWSER": str(fake), "NOVBE_BOARD_ONCE": "1", "NOVBE_BOARD_PROFILE": str(profile),
                      "DISPLAY": ""})
    assert r.returncode == 0, r.stderr
    assert record.read_text().splitlines()[-1] == URL
    # No "restore pages?" bubble after a power cut.
    assert '"exited_cleanly":true' in prefs.read_text() and '"exit_type":"Normal"' in prefs.read_text()


@pytest.mark.parametrize("args", [(), ("http://example.org/other",), (URL, "extra")])
def test_bad_arguments(args: tuple[str, ...]) -> None:
    r = run(*args, env={"NOVBE_BOARD_DRY_RUN": "1"})
    assert r.returncode == 2
    assert "usage" in r.stderr or "not a board address" in r.stderr
