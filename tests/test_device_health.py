"""Device health: heartbeats of kiosks and boards, the supervisor's list, silence flagged.

The registry against a real store with a hand-moved clock; then a real server on a loopback
port with real python-socketio clients as a board, a kiosk, a supervisor and an operator.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from server import auth
from server.device_health import DeviceHealth, Heartbeat, page_version, parse_heartbeat, silent_after
from test_storage_faults import immutable  # noqa: F401  (the fixture: chattr +i, always cleared)


# --- the registry ----------------------------------------------------------------------------------

def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows}


def test_states_follow_the_rules_in_order(store, cfg, clock):
    auth.add_device(store, "kiosk", "kiosk-1")
    auth.add_device(store, "display", "hall-1")
    health = DeviceHealth(store)
    rows = by_name(health.rows(cfg, clock()))
    # Every configured device is listed, even one never heard from: flagged.
    assert list(rows) == ["kiosk-1", "hall-1"]
    assert rows["kiosk-1"]["state"] == "never" and rows["kiosk-1"]["flagged"]
    assert rows["kiosk-1"]["problems"] == ["never_seen"]

    health.connected("display", "hall-1", "sid-b", clock(), "10.0.0.7")
    health.heartbeat("sid-b", Heartbeat(version=page_version("display"), sound="unlocked", synced=True), clock())
    row = health.row(cfg, "display", "hall-1", clock())
    assert (row["state"], row["flagged"], row["problems"], row["connected"]) == ("ok", False, [], True)
    assert row["address"] == "10.0.0.7" and row["sound"] == "unlocked"

    # Sound blocked and a page from an older release: a warning naming both.
    health.heartbeat("sid-b", Heartbeat(version="0.0.9+deadbeef", sound="blocked", synced=True), clock())
    row = health.row(cfg, "display", "hall-1", clock())
    assert row["state"] == "warning" and row["problems"] == ["old_page", "sound_blocked"]

    # Connected but quiet for over a minute: silent, flagged.
    clock.advance(61)
    row = health.row(cfg, "display", "hall-1", clock())
    assert row["state"] == "silent" and row["flagged"] and "silent" in row["problems"]
    assert row["silent_for"] == pytest.approx(61)

    # A heartbeat brings it back; a disconnect is a warning first, then silence after a minute.
    health.heartbeat("sid-b", Heartbeat(version=page_version("display"), sound="unlocked"), clock())
    assert health.row(cfg, "display", "hall-1", clock())["state"] == "ok"
    assert health.disconnected("sid-b", clock()) == ("display", "hall-1")
    row = health.row(cfg, "display", "hall-1", clock())
    assert (row["state"], row["problems"], row["connected"]) == ("warning", ["disconnected"], False)
    clock.advance(60.5)
    assert health.row(cfg, "display", "hall-1", clock())["state"] == "silent"
    # An unknown socket changes nothing.
    assert health.heartbeat("sid-x", Heartbeat(), clock()) is None
    assert health.disconnected("sid-x", clock()) is None


def test_last_seen_is_stored_and_survives_a_restart(store, cfg, clock):
    auth.add_device(store, "kiosk", "kiosk-1")
    health = DeviceHealth(store)
    health.connected("kiosk", "kiosk-1", "sid-k", clock())
    first = clock()
    clock.advance(10)
    health.heartbeat("sid-k", Heartbeat(printer="ok"), clock())   # within a minute: not written again
    assert store.devices_last_seen() == {("kiosk", "kiosk-1"): first}
    clock.advance(55)
    health.heartbeat("sid-k", Heartbeat(printer="ok"), clock())   # a minute after the last write: written
    assert store.devices_last_seen() == {("kiosk", "kiosk-1"): clock()}
    clock.advance(5)
    health.disconnected("sid-k", clock())                          # always written
    gone = clock()
    assert store.devices_last_seen() == {("kiosk", "kiosk-1"): gone}

    # A new process knows when the kiosk was last heard from.
    clock.advance(30)
    again = DeviceHealth(store).row(cfg, "kiosk", "kiosk-1", clock())
    assert again["last_seen"] == gone and again["state"] == "warning" and again["problems"] == ["disconnected"]


def test_kiosk_printer_state_comes_from_the_spool_first(store, cfg, clock):
    auth.add_device(store, "kiosk", "kiosk-1")
    health = DeviceHealth(store)
    health.connected("kiosk", "kiosk-1", "sid-k", clock())
    url = cfg.kiosks[0].printer
    # The spool knows nothing of the printer: the page's report of its last ticket counts.
    health.heartbeat("sid-k", Heartbeat(printer="delayed"), clock())
    assert health.row(cfg, "kiosk", "kiosk-1", clock(), {})["problems"] == ["printer"]
    # The spool says ok (it polls idle printers): that wins over an older failure seen by the page.
    ok = {"kiosk-1": {"name": "kiosk-1", "url": url, "state": "ok", "detail": "", "updated_at": clock()}}
    row = health.row(cfg, "kiosk", "kiosk-1", clock(), ok)
    assert row["state"] == "ok" and row["printer"]["state"] == "ok" and row["printer"]["page"] == "delayed"
    bad = {"kiosk-1": {"name": "kiosk-1", "url": url, "state": "paper_out", "detail": "paper out", "updated_at": clock()}}
    health.heartbeat("sid-k", Heartbeat(printer="ok"), clock())
    row = health.row(cfg, "kiosk", "kiosk-1", clock(), bad)
    assert row["state"] == "warning" and row["problems"] == ["printer"] and row["printer"]["detail"] == "paper out"


def test_devices_without_token_or_not_in_the_center_file(store, cfg, clock):
    health = DeviceHealth(store)
    health.connected("kiosk", "old-kiosk", "sid-o", clock())
    rows = by_name(health.rows(cfg, clock(), [], tokens=set()))
    assert list(rows) == ["kiosk-1", "hall-1", "old-kiosk"]
    assert rows["kiosk-1"]["problems"] == ["no_token", "never_seen"]
    assert rows["old-kiosk"]["configured"] is False and "not_configured" in rows["old-kiosk"]["problems"]


@pytest.mark.parametrize("data", ["beat", 7, [1], {"version": "x" * 65}, {"sound": "loud"}, {"queue": -1},
                                  {"printer": "on fire"}, {"synced": "maybe"}])
def test_a_heartbeat_that_is_not_one_is_refused(data):
    assert parse_heartbeat(data) is None


def test_a_heartbeat_keeps_only_what_it_knows():
    beat = parse_heartbeat({"version": "0.1.0+abc", "sound": "unlocked", "password": "x"})
    assert beat == Heartbeat(version="0.1.0+abc", sound="unlocked")
    assert parse_heartbeat(None) == Heartbeat()


@pytest.mark.parametrize("raw, expected", [(None, 60.0), ("5", 5.0), (2, 2.0), ("0", 60.0), ("words", 60.0),
                                           ("99999", 60.0)])
def test_silence_limit_setting(raw, expected):
    assert silent_after({} if raw is None else {"DEVICE_SILENT_SECONDS": raw}) == expected


def test_page_version_names_the_release_and_the_files():
    from server.app import VERSION

    kiosk, board = page_version("kiosk"), page_version("display")
    assert kiosk.startswith(VERSION + "+") and board.startswith(VERSION + "+") and kiosk != board


# --- a real server and real sockets ----------------------------------------------------------------

class Client:
    """A python-socketio client on one namespace that records every message."""

    def __init__(self, url: str, namespace: str, **connect: Any) -> None:
        self.namespace = namespace
        self.got: list[tuple[str, Any]] = []
        self.changed = threading.Event()
        self.sio = socketio.Client(reconnection=False)

        def record(name: str, data: Any = None) -> None:
            self.got.append((name, data))
            self.changed.set()
        self.sio.on("*", record, namespace=namespace)
        self.sio.connect(url, namespaces=[namespace], transports=["websocket"], wait_timeout=5, **connect)

    def beat(self, data: Any) -> Any:
        return self.sio.call("heartbeat", data, namespace=self.namespace, timeout=5)

    def rows(self) -> list[dict[str, Any]]:
        return [d for n, d in self.got if n == "device-health"]

    def wait(self, predicate: Any, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.changed.wait(0.1)
            self.changed.clear()
        return bool(predicate())

    def close(self) -> None:
        self.sio.disconnect()


def staff_socket(server: Any, user: str) -> tuple[Client, Any]:
    session = server.login(user)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return Client(server.url, "/counter", headers={"Cookie": cookie},
                  auth={"csrf_token": session.headers["X-CSRFToken"]}), session


def health(server: Any, session: Any) -> dict[str, dict[str, Any]]:
    r = session.get(server.url + "/api/devices/health", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["silent_after"] == 60
    return {f'{d["kind"]}:{d["name"]}': d for d in body["devices"]}


def test_heartbeats_reach_the_supervisor_list(live_server):
    from config import loader

    cfg = loader.load("absheron")
    boss_sock, boss = staff_socket(live_server, "boss")
    op_sock, op = staff_socket(live_server, "op1")
    board = kiosk = None
    try:
        before = health(live_server, boss)
        # Every configured kiosk and board, never heard from yet: flagged.
        assert set(before) == {f"kiosk:{k.name}" for k in cfg.kiosks} | {f"display:{b.name}" for b in cfg.boards}
        assert all(d["state"] == "never" and d["flagged"] for d in before.values())

        board = Client(live_server.url, "/display", auth={"token": live_server.display_token("hall-1")})
        assert boss_sock.wait(lambda: any(r["name"] == "hall-1" and r["connected"] for r in boss_sock.rows()))
        version = page_version("display")
        assert board.beat({"version": version, "sound": "blocked", "synced": True, "queue": 2}) == {"ok": True}
        assert boss_sock.wait(lambda: any(r["name"] == "hall-1" and r["sound"] == "blocked" for r in boss_sock.rows()))
        row = health(live_server, boss)["display:hall-1"]
        assert (row["state"], row["problems"], row["version"], row["queue"]) == ("warning", ["sound_blocked"], version, 2)
        assert row["address"] == "127.0.0.1" and row["server_version"] == version

        kiosk = Client(live_server.url, "/kiosk", auth={"token": live_server.kiosk_token("kiosk-1")})
        assert kiosk.beat({"version": page_version("kiosk"), "printer": "ok"}) == {"ok": True}
        # What is not a heartbeat is answered as such and changes nothing.
        assert kiosk.beat("hello") == {"ok": False, "error": "invalid_request", "message": "a heartbeat is a JSON object"}
        assert kiosk.beat({"printer": "on fire"})["ok"] is False
        now = health(live_server, boss)
        assert now["kiosk:kiosk-1"]["state"] == "ok" and now["kiosk:kiosk-1"]["connected"]
        assert all(d["state"] == "never" for k, d in now.items() if k.startswith("kiosk:") and k != "kiosk:kiosk-1")

        # A board that goes away shows as disconnected at once.
        board.close()
        board = None
        assert boss_sock.wait(lambda: any(r["name"] == "hall-1" and not r["connected"] for r in boss_sock.rows()))
        assert health(live_server, boss)["display:hall-1"]["problems"] == ["disconnected"]

        # Operators get neither the list nor the messages.
        assert op.get(live_server.url + "/api/devices/health", timeout=5).status_code == 403
        assert boss_sock.rows() and not op_sock.rows()
        anon = requests.get(live_server.url + "/api/devices/health", timeout=5)
        assert anon.status_code == 401 and anon.json()["ok"] is False
    finally:
        for c in (board, kiosk, boss_sock, op_sock):
            if c is not None:
                c.close()
        boss.close()
        op.close()


def test_silence_limit_from_the_environment(tmp_path: Path):
    """``NOVBE_DEVICE_SILENT_SECONDS`` moves the limit, and pages beat four times within it."""
    from live import LiveServer

    server = LiveServer(tmp_path, env={"NOVBE_DEVICE_SILENT_SECONDS": "2"}).start()
    board = None
    try:
        page = server_page_config(server)
        assert page["heartbeat_seconds"] == 0.5 and page["version"] == page_version("display")
        board = Client(server.url, "/display", auth={"token": server.display_token("hall-1")})
        with server.login("boss") as boss:
            r = boss.get(server.url + "/api/devices/health", timeout=5).json()
            assert r["silent_after"] == 2
            row = next(d for d in r["devices"] if d["name"] == "hall-1")
            assert row["state"] == "ok"
            time.sleep(2.3)   # connected, but no heartbeat: silent
            row = next(d for d in boss.get(server.url + "/api/devices/health", timeout=5).json()["devices"]
                       if d["name"] == "hall-1")
            assert row["state"] == "silent" and row["flagged"] and row["connected"]
            assert board.beat({}) == {"ok": True}
            row = next(d for d in boss.get(server.url + "/api/devices/health", timeout=5).json()["devices"]
                       if d["name"] == "hall-1")
            assert row["state"] == "ok"
    finally:
        if board is not None:
            board.close()
        server.stop()


def server_page_config(server: Any) -> dict[str, Any]:
    """The board page's JSON configuration block, as the browser gets it."""
    import json
    import re

    html = requests.get(server.url + "/display/?board=hall-1", timeout=5).text
    found = re.search(r'<script id="board-config" type="application/json">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


# --- the supervisor's list in Chromium ------------------------------------------------------------

@pytest.mark.browser
def test_device_list_in_the_supervisor_view(browser, tmp_path: Path, screenshot_dir: Path):
    """Real board and kiosk pages beat; the list shows them; a board that goes away is flagged silent."""
    from config import loader
    from live import PASSWORDS, LiveServer

    cfg = loader.load("absheron")
    # A 4-second silence limit so the test need not wait a minute; pages then beat every second.
    server = LiveServer(tmp_path, env={"NOVBE_DEVICE_SILENT_SECONDS": "4"}).start()
    errors: list[str] = []
    contexts: list[Any] = []

    def open_page(url: str, viewport: dict[str, int]) -> Any:
        context = browser.new_context(viewport=viewport, locale="az-AZ")
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
        page.goto(url)
        return page

    try:
        with server.login("boss") as boss:
            boss.post(server.url + "/api/counters/1/open", timeout=5).raise_for_status()
        for _ in range(3):
            assert server.issue("EMP-01").status_code == 201
        board = open_page(f"{server.url}/display/?board=hall-1&token={server.display_token('hall-1')}",
                          {"width": 1920, "height": 1080})
        board.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
        kiosk = open_page(f"{server.url}/kiosk/?token={server.kiosk_token('kiosk-1')}", {"width": 1080, "height": 1920})
        kiosk.locator("#s-start:not([hidden])").wait_for(timeout=10_000)

        sup = open_page(server.url + "/counter/supervisor", {"width": 1366, "height": 768})
        sup.locator("#login-form").wait_for()
        sup.fill("#login-form input[name=username]", "boss")
        sup.fill("#login-form input[name=password]", PASSWORDS["boss"])
        sup.click("#login-form button[type=submit]")
        sup.locator("#counters tr[data-counter='1']").wait_for()

        # The queues tab carries the forecast: a new ticket's wait per service, and each waiting ticket's.
        row = sup.locator("#tab-queues tr[data-service='EMP-01']").first
        row.locator("td.new-wait", has_text="≈").wait_for(timeout=10_000)
        chips = sup.locator("#tab-queues tr.fc-row[data-service='EMP-01'] .fc-chip")
        sup.wait_for_function("() => document.querySelectorAll(\"#tab-queues tr.fc-row[data-service='EMP-01'] "
                              ".fc-chip\").length === 3", timeout=10_000)
        assert chips.first.get_attribute("data-counter") == "1" and chips.first.get_attribute("data-eta") != ""
        sup.screenshot(path=str(screenshot_dir / "counter-supervisor-forecast.png"))

        sup.locator(".tabs button[data-tab=devices]").click()
        table = sup.locator("#tab-devices table.devices")
        table.wait_for()
        want = len(cfg.kiosks) + len(cfg.boards)
        sup.wait_for_function("(n) => document.querySelectorAll('#tab-devices tr[data-device]').length === n",
                              arg=want, timeout=10_000)
        names = sup.evaluate("() => Array.from(document.querySelectorAll('#tab-devices tr[data-device]'))"
                             ".map(tr => tr.dataset.device)")
        assert names == [f"kiosk:{k.name}" for k in cfg.kiosks] + [f"display:{b.name}" for b in cfg.boards]

        def state(device: str) -> str:
            return sup.locator(f"#tab-devices tr[data-device='{device}']").get_attribute("data-state") or ""

        sup.wait_for_function("() => document.querySelector(\"#tab-devices tr[data-device='display:hall-1']\")"
                              ".dataset.state === 'ok'", timeout=10_000)
        sup.wait_for_function("() => document.querySelector(\"#tab-devices tr[data-device='kiosk:kiosk-1']\")"
                              ".dataset.state === 'ok'", timeout=10_000)
        hall = sup.locator("#tab-devices tr[data-device='display:hall-1']")
        assert "səs açıqdır" in (hall.locator(".dev-details").text_content() or "")
        assert page_version("display") in (hall.locator(".dev-details").text_content() or "")
        never = len(cfg.kiosks) + len(cfg.boards) - 2
        assert state("kiosk:kiosk-2") == "never" and state("display:hall-2") == "never"
        assert sup.locator("#devices-flag").text_content() == str(never)
        # Over the silence limit and the board is still fine: its heartbeats keep it so.
        sup.wait_for_timeout(4500)
        assert state("display:hall-1") == "ok" and state("kiosk:kiosk-1") == "ok"
        sup.screenshot(path=str(screenshot_dir / "counter-supervisor-devices.png"))

        # The board's PC is switched off: disconnected at once, silent (flagged) after the limit.
        contexts.pop(0).close()
        sup.wait_for_function("() => document.querySelector(\"#tab-devices tr[data-device='display:hall-1']\")"
                              ".dataset.state === 'warning'", timeout=5_000)
        assert hall.locator(".dev-problem[data-problem=disconnected]").text_content() == "əlaqə kəsilib"
        sup.wait_for_function("() => document.querySelector(\"#tab-devices tr[data-device='display:hall-1']\")"
                              ".dataset.state === 'silent'", timeout=8_000)
        assert sup.locator("#devices-flag").text_content() == str(never + 1)
        assert "siqnal yoxdur" in (hall.locator(".dev-problem[data-problem=silent]").text_content() or "")
        sup.click(".lang button[data-lang=en]")
        hall.locator(".badge", has_text="Silent").wait_for()
        sup.screenshot(path=str(screenshot_dir / "counter-supervisor-devices-silent-en.png"))
        assert errors == [], errors
    finally:
        for context in contexts:
            context.close()
        server.stop()


def test_a_read_only_database_does_not_keep_a_board_out(tmp_path: Path, immutable: Any):
    """The database turns read-only (a real fault, ``chattr +i``): a board still connects, gets its
    snapshot and beats; its last-seen time is stored again once the disk is writable."""
    import sqlite3

    from live import LiveServer

    server = LiveServer(tmp_path).start()
    board = None
    try:
        boss = server.login("boss")     # a login writes: made before the fault
        immutable(server.db, Path(f"{server.db}-wal"))
        board = Client(server.url, "/display", auth={"token": server.display_token("hall-1")})
        assert board.wait(lambda: any(n == "snapshot" for n, _ in board.got))
        assert board.beat({"sound": "unlocked"}) == {"ok": True}
        row = next(d for d in boss.get(server.url + "/api/devices/health", timeout=5).json()["devices"]
                   if d["name"] == "hall-1")
        assert row["state"] == "ok" and row["connected"]
        boss.close()
        immutable(server.db, Path(f"{server.db}-wal"), on=False)
        board.close()
        board = None
        deadline = time.monotonic() + 5
        seen = None
        while seen is None and time.monotonic() < deadline:
            with sqlite3.connect(server.db) as conn:
                seen = conn.execute("SELECT last_seen FROM devices WHERE name = 'hall-1'").fetchone()[0]
            time.sleep(0.1)
        assert seen is not None    # written at the disconnect, the disk writable again
        assert "Traceback" not in server.log.read_text()
    finally:
        if board is not None:
            board.close()
        server.stop()


def test_printer_times_are_the_centers_clock_like_the_audit(store, clock):
    """The supervisor reads a printer's times beside the audit's: both on the center's clock (a simulated or
    shifted clock included), not one on the machine's."""
    clock.advance(-3 * 3600)   # the center's clock three hours behind the machine's
    store.set_printer_status("kiosk-1", "paper_out", "the printer is out of paper")
    row = next(p for p in store.printers() if p["url"] == "kiosk-1")
    assert row["updated_at"] == clock() and row["last_error_at"] == clock()


def test_print_job_times_are_the_centers_clock_and_the_job_is_still_sent(store, clock):
    """A print job's times shown beside the audit (queued, last change) are the center's clock too; when it is
    due to be tried stays on the machine's, so a center clock behind or ahead still prints at once."""
    from server.core import queue as core_queue

    clock.advance(3 * 3600)    # the center's clock three hours off the machine's (13:00 in Baku: open)
    issued = core_queue.issue_ticket(store, "EMP-1", kiosk="kiosk-1", printer="kiosk-1")
    job = next(j for j in store.print_jobs() if j["number"] == issued.ticket.number)
    assert job["created_at"] == clock() and job["updated_at"] == clock()
    claimed = store.claim_print_jobs()
    assert [c["id"] for c in claimed] == [job["id"]], "due at once, whatever the center's clock says"
    clock.advance(60)
    store.finish_print_job(job["id"], "printed")
    job = next(j for j in store.print_jobs() if j["id"] == job["id"])
    assert job["status"] == "printed" and job["updated_at"] == clock()
    assert store.requeue_print_job(job["id"])
    row = store.connection().execute("SELECT queued_at FROM print_jobs WHERE id = ?", (job["id"],)).fetchone()
    assert row[0] == clock()
