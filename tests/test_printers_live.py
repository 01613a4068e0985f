"""A kiosk's printer that faults, against a real server, a real TCP printer and Chromium.

The kiosk's printer is a TCP listener answering DLE EOT like an Epson printer (tests/
test_printers_network.FakePrinter). The citizen's page says "printing is delayed" while the
spool retries and "ask staff" once the job is held; the supervisor sees the printer's state
and last error and reprints the held job, which prints exactly once.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from test_counter_browser import log_in
from test_printers_network import COVER_OPEN, NO_CAUSE, OFFLINE, ONLINE, FakePrinter

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
HOLD_MINUTES = 0.1   # 6 s, so that a test sees a job held


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    p = FakePrinter(online=OFFLINE, cause=COVER_OPEN)
    yield p
    p.close()


@pytest.fixture
def printing_server(tmp_path: Path, printer: FakePrinter) -> Iterator[Any]:
    """The default center with kiosk-1's printer on the fake TCP printer and a 6 s hold."""
    from live import LiveServer

    text = (ROOT / "config" / "centers" / "absheron.toml").read_text(encoding="utf-8")
    text = re.sub(r'(name = "kiosk-1"\nprinter = )"dummy://"', rf'\1"{printer.url}"', text, count=1)
    text = text.replace("[policy]\n", f"[policy]\nprint_hold_minutes = {HOLD_MINUTES}\n"
                        "printer_poll_seconds = 1\n", 1)
    assert printer.url in text
    center = tmp_path / "absheron.toml"
    center.write_text(text, encoding="utf-8")
    server = LiveServer(tmp_path, center=str(center)).start()
    yield server
    server.stop()


def take_ticket(page: Any) -> str:
    from test_kiosk_browser import tap

    tap(page, "#langBig [data-lang=en]")
    tap(page, "#startBtn")
    tap(page, "[data-area=labour]")
    tap(page, "#serviceList [data-service].card:not(.disabled)")
    page.wait_for_selector("#s-info:not([hidden])")
    tap(page, "#takeBtn")
    tap(page, "#priorityNo")
    page.wait_for_selector("#s-ticket:not([hidden])")
    return str(page.locator("#ticketNumber").inner_text())


def printed(printer: FakePrinter, number: str) -> int:
    """How many tickets with this number reached the printer (its number is printed as text)."""
    return bytes(printer.received).count(number.encode("ascii"))


def wait(what: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kiosk_says_delayed_while_the_spool_retries_and_ask_staff_when_held(
    browser: Any, printing_server: Any, printer: FakePrinter, screenshot_dir: Path,
) -> None:
    from test_kiosk_browser import kiosk_page, shot, wait_loaded

    server = printing_server
    with kiosk_page(browser, server) as page:
        wait_loaded(page)
        # The cover is open: the ticket stands, the kiosk says printing is delayed.
        number = take_ticket(page)
        state = page.locator("#printState")
        page.wait_for_selector("#printState[data-state=delayed]", timeout=5000)
        assert "Printing is delayed" in state.inner_text() and "photo of the QR code" in state.inner_text()
        seconds = int(re.search(r"(\d+) s", page.locator("#countdown").inner_text()).group(1))
        assert seconds >= 100   # the number stays up long enough to copy or photograph
        shot(page, screenshot_dir, "kiosk_en_print_delayed")
        assert printed(printer, number) == 0

        # Staff close the cover: the ticket prints within seconds, once; the kiosk says so.
        printer.online, printer.cause = ONLINE, NO_CAUSE
        page.wait_for_selector("#printState[data-state=printing]", timeout=8000)
        assert "Take your ticket" in state.inner_text()
        time.sleep(1.5)
        assert printed(printer, number) == 1

        # The cover opens again while idle: the poll notices before anyone takes a ticket.
        printer.online, printer.cause = OFFLINE, COVER_OPEN
        with server.login("boss") as s:
            wait(lambda: {p["url"]: p for p in s.get(server.url + "/api/print-jobs", timeout=5).json()["printers"]}
                 .get(printer.url, {}).get("state") == "cover_open", timeout=5)

        # A ticket taken now waits; past the hold age it is held and the kiosk says "ask staff".
        tap_home = page.locator("#doneBtn")
        if tap_home.is_visible():
            tap_home.first.tap()
        second = take_ticket(page)
        page.wait_for_selector("#printState[data-state=delayed]", timeout=5000)
        page.wait_for_selector("#printState[data-state=staff]", timeout=HOLD_MINUTES * 60_000 + 8000)
        assert "Ask a member of staff" in state.inner_text()
        shot(page, screenshot_dir, "kiosk_en_print_held")

        # Even once the printer is back, a held ticket is not printed by itself ...
        printer.online, printer.cause = ONLINE, NO_CAUSE
        time.sleep(2.5)
        assert printed(printer, second) == 0

    # ... the supervisor sees the printer's state and last error, and reprints it: printed once.
    with server.login("boss") as s:
        body = s.get(server.url + "/api/print-jobs", timeout=5).json()
        job = next(j for j in body["jobs"] if j["number"] == second)
        assert job["status"] == "held" and "held" in job["error"]
        row = next(p for p in body["printers"] if p["url"] == printer.url)
        assert row["state"] in ("ok", "cover_open")
        assert row["last_error"] == "the printer cover is open" and row["last_error_at"]
        r = s.post(server.url + f"/api/print-jobs/{job['id']}/reprint", timeout=5)
        assert r.status_code == 200, r.text
    wait(lambda: printed(printer, second) == 1)
    time.sleep(1.5)
    assert printed(printer, second) == 1 and printed(printer, number) == 1


def test_supervisor_view_shows_each_printer_state_and_last_error(
    browser: Any, printing_server: Any, printer: FakePrinter, screenshot_dir: Path,
) -> None:
    server = printing_server
    with server.login("boss") as s:   # the idle poll names the fault without any ticket
        wait(lambda: any(p["state"] == "cover_open" for p in s.get(server.url + "/api/print-jobs", timeout=5)
                         .json()["printers"]), timeout=5)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(server.url + "/counter/supervisor")
        log_in(page, "boss")
        page.locator("button[data-tab=printers]").click()
        row = page.locator("#tab-printers tr", has_text=printer.url)
        row.wait_for(timeout=10000)
        # The state in the page's language (Azerbaijani first), its code kept on the cell.
        assert row.locator(".pstate").get_attribute("data-state") == "cover_open"
        assert "Qapaq açıqdır" in row.inner_text() and "the printer cover is open" in row.inner_text()
        # Fixed while the page is open: the row turns ok and keeps the last error, without a reload.
        printer.online, printer.cause = ONLINE, NO_CAUSE
        page.wait_for_function(
            "(url) => [...document.querySelectorAll('#tab-printers tr')].some((tr) => tr.textContent.includes(url)"
            " && tr.querySelector('.pstate') && tr.querySelector('.pstate').dataset.state === 'ok')",
            arg=printer.url, timeout=10000)
        assert "the printer cover is open" in row.locator(".last-error").inner_text()
        page.wait_for_timeout(100)
        page.screenshot(path=str(screenshot_dir / "supervisor_printers.png"))
    finally:
        context.close()
    assert requests.get(server.url + "/api/health", timeout=5).ok


def test_each_print_job_names_its_kiosk_though_the_kiosks_share_an_address(
    browser: Any, live_server: Any, screenshot_dir: Path,
) -> None:
    server = live_server   # Abşeron: kiosk-1, kiosk-2 and kiosk-3 all print to dummy://
    numbers = {}
    for kiosk in ("kiosk-1", "kiosk-2", "kiosk-3"):
        r = server.issue("EMP-01", kiosk=kiosk)
        assert r.status_code == 201, r.text
        numbers[kiosk] = r.json()["number"]
    with server.login("boss") as s:
        jobs = s.get(server.url + "/api/print-jobs", timeout=5).json()["jobs"]
    assert {j["number"]: (j.get("kiosk"), j["printer"]) for j in jobs} == {
        n: (k, "dummy://") for k, n in numbers.items()}
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="az-AZ")
    page = context.new_page()
    try:
        page.goto(server.url + "/counter/supervisor")
        log_in(page, "boss")
        page.locator("button[data-tab=printers]").click()
        table = page.locator("#tab-printers table.print-jobs")
        table.locator("tbody tr").nth(2).wait_for(timeout=10000)
        assert [t.strip() for t in table.locator("thead th").all_text_contents()[:5]] == ["Vaxt", "Bilet", "Terminal (printer)", "Vəziyyət",
                                                                   "Xəta"]
        for kiosk, number in numbers.items():
            cell = table.locator("tbody tr", has_text=number).locator(".jkiosk")
            assert cell.locator("b").inner_text() == kiosk and "dummy://" in cell.inner_text()
        page.wait_for_timeout(100)
        page.screenshot(path=str(screenshot_dir / "supervisor_print_jobs_az.png"))
    finally:
        context.close()
