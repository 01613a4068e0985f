"""The hall display board in headless Chromium at 1920×1080, against a real server.

Calls are made through the JSON API as a supervisor; the board must show them (in order,
none skipped), queue their announcements in order, survive a server restart, show and
clear its "connection lost" mark, and apply its configured filter.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1920, "height": 1080}
CALLS_JS = "() => Array.from(document.querySelectorAll('#calls li')).map(li => li.dataset.number + '@' + li.dataset.counter)"


class Board:
    """One board page, with the errors it met."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def calls(self) -> list[str]:
        return self.page.evaluate(CALLS_JS)  # type: ignore[no-any-return]

    def wait_calls(self, expected: list[str], timeout: float = 10_000) -> None:
        self.page.wait_for_function(f"(want) => JSON.stringify(({CALLS_JS})()) === JSON.stringify(want)",
                                    arg=expected, timeout=timeout)

    def wait_call(self, call: str, timeout: float = 10_000) -> None:
        self.page.wait_for_function(f"(want) => ({CALLS_JS})().includes(want)", arg=call, timeout=timeout)

    def announced(self) -> list[str]:
        return self.page.evaluate("() => novbeBoard.announced.map(a => a.number + '@' + a.counter)")  # type: ignore[no-any-return]

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.failed == [], self.failed


@contextmanager
def board_page(browser: Any, server: Any, name: str) -> Iterator[Board]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        board = Board(page)
        page.goto(f"{server.url}/display/?board={name}&token={server.display_token(name)}")
        page.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
        yield board
    finally:
        context.close()


def post(session: requests.Session, url: str, **kw: Any) -> dict[str, Any]:
    r = session.post(url, timeout=5, **kw)
    assert r.ok, r.text
    return r.json()  # type: ignore[no-any-return]


def open_counters(server: Any, session: requests.Session, *numbers: int) -> None:
    for n in numbers:
        post(session, f"{server.url}/api/counters/{n}/open")


def call_next(server: Any, session: requests.Session, counter: int) -> str:
    number = post(session, f"{server.url}/api/counters/{counter}/call-next")["number"]
    assert number, f"nothing waiting for counter {counter}"
    return str(number)


def issue(server: Any, service: str, n: int = 1) -> list[str]:
    out = []
    for _ in range(n):
        r = server.issue(service)
        assert r.status_code == 201, r.text
        out.append(r.json()["number"])
    return out


def live_server_cfg() -> Any:
    from config import loader

    return loader.load("absheron")


def test_calls_appear_in_order_and_are_announced(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 1, 2, 3, 4)
        issue(live_server, "EMP-01", 6)
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            # The token went to localStorage and out of the address bar.
            assert "token=" not in page.url
            assert page.evaluate("() => localStorage.getItem('novbe.display.token.hall-1')") == \
                live_server.display_token("hall-1")
            assert page.locator("#waiting [data-area=employment] .area-count").text_content() == "6"

            first = call_next(live_server, boss, 1)
            board.wait_calls([f"{first}@1"], timeout=5_000)
            assert page.locator("#hero").get_attribute("data-number") == first
            assert page.locator("#hero-counter").text_content() == "1"

            # Three calls within a second: all shown, newest first, and queued for speech in order.
            started = time.monotonic()
            quick = [(call_next(live_server, boss, c), c) for c in (2, 3, 4)]
            assert time.monotonic() - started < 1.0
            expected = [f"{n}@{c}" for n, c in reversed(quick)] + [f"{first}@1"]
            board.wait_calls(expected, timeout=5_000)
            assert board.announced() == [f"{first}@1"] + [f"{n}@{c}" for n, c in quick]
            # What is still to be spoken is the tail of that list, in the same order.
            in_queue = page.evaluate("() => [novbeBoard.current, ...novbeBoard.queue].filter(Boolean)"
                                     ".map(a => a.number + '@' + a.counter)")
            assert len(in_queue) >= 3 and board.announced()[-len(in_queue):] == in_queue
            assert page.locator("#calls li.flash").count() == 4
            page.locator("#waiting [data-area=employment] .area-count").filter(has_text="2").wait_for()
            page.screenshot(path=str(screenshot_dir / "display-hall-1-calls.png"))

            # The first announcement really played (chime + speech from /display/audio); it is
            # waited for first, since finishing that ticket while it plays would cut it short.
            page.wait_for_function("() => novbeBoard.played.length >= 1", timeout=20_000)
            assert page.evaluate("() => novbeBoard.played[0]") == {"number": first, "counter": 1, "result": "ended"}

            # Waiting counts follow the kiosks; a finished ticket leaves the board.
            issue(live_server, "EMP-01")
            page.locator("#waiting [data-area=employment] .area-count").filter(has_text="3").wait_for()
            post(boss, f"{live_server.url}/api/counters/1/finish", json={"outcome": "served"})
            board.wait_calls(expected[:-1])
            assert not page.locator("#conn-lost").is_visible()
            assert not page.locator("#sound-blocked").is_visible()

            # Reloaded without the token in the address: it comes from localStorage.
            page.goto(f"{live_server.url}/display/?board=hall-1")
            page.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
            board.wait_calls(expected[:-1])
            board.check_clean()
    finally:
        boss.close()


def test_board_survives_restart_and_shows_connection_lost(browser: Any, live_server: Any,
                                                          screenshot_dir: Path) -> None:
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 5, 6)
        issue(live_server, "PEN-01", 4)
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            before = call_next(live_server, boss, 5)
            board.wait_calls([f"{before}@5"])
            assert not page.locator("#conn-lost").is_visible()

            live_server.stop()
            page.locator("#conn-lost").wait_for(state="visible", timeout=10_000)
            # The last state stays on screen: a discreet mark, not a blank board.
            assert board.calls() == [f"{before}@5"]
            assert page.locator("#hero").get_attribute("data-number") == before
            page.screenshot(path=str(screenshot_dir / "display-connection-lost.png"))

            # Back, and a call made before the board has reconnected still reaches it.
            live_server.start()
            post(boss, f"{live_server.url}/api/counters/5/finish", json={"outcome": "served"})
            during = call_next(live_server, boss, 6)
            board.wait_calls([f"{during}@6"], timeout=15_000)
            page.locator("#conn-lost").wait_for(state="hidden", timeout=10_000)
            assert f"{during}@6" in board.announced()

            # A restart (stop + start) with a call right after it.
            live_server.restart()
            after = call_next(live_server, boss, 5)
            board.wait_calls([f"{after}@5", f"{during}@6"], timeout=15_000)
            page.locator("#conn-lost").wait_for(state="hidden", timeout=10_000)
            assert board.announced()[-1] == f"{after}@5"
            assert page.evaluate("() => novbeBoard.stats.snapshots") >= 3
            page.screenshot(path=str(screenshot_dir / "display-after-restart.png"))
            board.errors = [e for e in board.errors if "socket" not in e.lower()]
            board.failed = [f for f in board.failed if "/socket.io/" not in f]
            board.check_clean()
    finally:
        boss.close()


def test_hall_filter_and_counter_top(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    from display.views import board_areas

    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 7, 16)
        issue(live_server, "PEN-05")
        issue(live_server, "INS-01")
        with board_page(browser, live_server, "hall-2") as hall2, \
                board_page(browser, live_server, "hall-1") as hall1, \
                board_page(browser, live_server, "counter-7") as top:
            areas = hall2.page.evaluate("() => Array.from(document.querySelectorAll('#waiting .area'))"
                                        ".map(t => t.dataset.area)")
            assert areas == board_areas(live_server_cfg(), "hall-2")
            assert top.page.locator("#single-state").text_content() == ""    # open, nobody called yet

            at7 = call_next(live_server, boss, 7)
            at16 = call_next(live_server, boss, 16)
            hall2.wait_calls([f"{at16}@16"])
            hall1.wait_calls([f"{at7}@7"])
            top.page.locator("#single-number").filter(has_text=at7).wait_for()
            assert "flash" in (top.page.locator("#single-number").get_attribute("class") or "")
            assert top.page.evaluate("() => novbeBoard.announced.length") == 0   # the hall board speaks
            assert hall2.announced() == [f"{at16}@16"]
            hall2.page.screenshot(path=str(screenshot_dir / "display-hall-2.png"))
            top.page.screenshot(path=str(screenshot_dir / "display-counter-7.png"))

            # Counter 16 finishes: hall 2 empties; counter 7 finishes: the counter-top shows a dash.
            post(boss, f"{live_server.url}/api/counters/16/finish", json={"outcome": "served"})
            hall2.wait_calls([])
            assert hall2.page.locator("#calls-none-now").is_visible()   # calls were made today: not "no calls yet"
            assert hall2.page.locator("#calls-empty").is_hidden()
            post(boss, f"{live_server.url}/api/counters/7/finish", json={"outcome": "served"})
            top.page.locator("#single-number.idle").wait_for()
            post(boss, f"{live_server.url}/api/counters/7/pause", json={"reason": "lunch"})
            top.page.locator("#single-state").filter(has_text="Fasilə").wait_for()
            # Nothing on a public board names a person: the operator's name never shows.
            for b in (hall1, hall2, top):
                assert "boss" not in b.page.locator("body").inner_text()
                b.check_clean()
    finally:
        boss.close()


def test_sequence_gap_asks_for_a_snapshot(browser: Any, live_server: Any) -> None:
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 1)
        issue(live_server, "EMP-01", 2)
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            seq = page.evaluate("() => novbeBoard.state.seq")
            # An event two numbers ahead means one was missed: the board asks for a snapshot.
            page.evaluate("(seq) => novbeBoard.receive('ticket-issued', {seq: seq + 2, service: 'EMP-01'})", seq)
            page.wait_for_function("() => novbeBoard.stats.resyncs === 1 && novbeBoard.stats.snapshots === 2")
            server_seq = requests.get(live_server.url + "/api/health", timeout=5).json()["seq"]
            assert page.evaluate("() => novbeBoard.state.seq") == server_seq
            # Stale and duplicate events are ignored; the next real one is applied.
            page.evaluate("(seq) => novbeBoard.receive('ticket-issued', {seq: seq, service: 'EMP-01'})", server_seq)
            assert page.locator("#waiting [data-area=employment] .area-count").text_content() == "2"
            number = call_next(live_server, boss, 1)
            board.wait_calls([f"{number}@1"])
            assert page.evaluate("() => novbeBoard.stats.resyncs") == 1
            board.check_clean()
    finally:
        boss.close()


def test_blocked_sound_is_shown_and_a_tap_enables_it(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--autoplay-policy")]
    strict = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                         args=args + ["--autoplay-policy=user-gesture-required"])
    try:
        with board_page(strict, live_server, "hall-1") as board:
            mark = board.page.locator("#sound-blocked")
            mark.wait_for(state="visible", timeout=5_000)
            board.page.screenshot(path=str(screenshot_dir / "display-sound-blocked.png"))
            mark.click()
            mark.wait_for(state="hidden", timeout=5_000)
            assert board.page.evaluate("() => novbeBoard.soundBlocked") is False
            board.check_clean()
    finally:
        strict.close()


def test_board_without_token_or_unknown_board(browser: Any, live_server: Any) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/display/?board=hall-1")
        page.locator("#notice").wait_for(state="visible")
        assert "token" in page.locator("#notice").inner_text()
        page.goto(f"{live_server.url}/display/?board=hall-1&token=wrong")
        page.locator("#notice").filter(has_text="qəbul edilmədi").wait_for()
        response = page.goto(f"{live_server.url}/display/?board=nowhere")
        assert response is not None and response.status == 404
        assert "hall-2" in page.locator("body").inner_text()
    finally:
        context.close()


SPOKEN_JS = "() => [novbeBoard.current, ...novbeBoard.queue].filter(Boolean).map(a => a.number + '@' + a.counter)"
PLAYED_JS = "() => novbeBoard.played.map(p => p.number + '@' + p.counter + ':' + p.result)"


def test_a_call_that_is_over_is_not_announced(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    """Call, transfer within a second, call again: the panel and the spoken queue hold only the current call."""
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 1, 5)
        first, second = issue(live_server, "EMP-01", 2)
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            assert call_next(live_server, boss, 1) == first
            page.wait_for_function("(want) => novbeBoard.current && novbeBoard.current.number === want", arg=first,
                                   timeout=5_000)
            started = time.monotonic()
            # The operator sends the citizen to pensions (not served at counter 1) and calls the next one.
            post(boss, f"{live_server.url}/api/counters/1/transfer", json={"service": "PEN-04"})
            assert call_next(live_server, boss, 1) == second
            assert time.monotonic() - started < 1.0
            board.wait_calls([f"{second}@1"], timeout=5_000)
            page.wait_for_function(f"(want) => JSON.stringify(({SPOKEN_JS})()) === JSON.stringify(want)",
                                   arg=[f"{second}@1"], timeout=5_000)
            assert page.locator("#hero").get_attribute("data-number") == second
            assert page.locator("#hero-counter").text_content() == "1"
            # The transferred call was cut short, not played to its end; the current one plays in full.
            page.wait_for_function(f"(want) => ({PLAYED_JS})().includes(want)", arg=f"{second}@1:ended",
                                   timeout=30_000)
            assert page.evaluate(PLAYED_JS) == [f"{first}@1:dropped", f"{second}@1:ended"]
            assert page.evaluate("() => novbeBoard.dropped.map(d => d.number + '@' + d.counter + ':' + d.why)") == \
                [f"{first}@1:ticket-transferred"]
            page.screenshot(path=str(screenshot_dir / "display-stale-dropped.png"))

            # Called again, at the pensions counter: announced there (the old counter is not spoken).
            assert call_next(live_server, boss, 5) == first
            board.wait_calls([f"{first}@5", f"{second}@1"], timeout=5_000)
            page.wait_for_function(f"(want) => ({PLAYED_JS})().includes(want)", arg=f"{first}@5:ended",
                                   timeout=30_000)
            assert board.announced() == [f"{first}@1", f"{second}@1", f"{first}@5"]
            board.check_clean()
    finally:
        boss.close()


def test_a_burst_is_announced_in_order_without_the_calls_that_ended(browser: Any, live_server: Any) -> None:
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 2, 3, 4)
        issue(live_server, "EMP-01", 4)
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            burst = [(call_next(live_server, boss, c), c) for c in (2, 3, 4)]
            # Counter 3's citizen was already at the desk: finished at once, before its turn to be spoken.
            post(boss, f"{live_server.url}/api/counters/3/finish", json={"outcome": "served"})
            # Counter 4 moves on to the next citizen: its first call is no longer true either.
            post(boss, f"{live_server.url}/api/counters/4/no-show")
            fourth = call_next(live_server, boss, 4)
            (a, _), (b, _), (c, _) = burst
            board.wait_calls([f"{fourth}@4", f"{a}@2"], timeout=5_000)
            assert board.announced() == [f"{a}@2", f"{b}@3", f"{c}@4", f"{fourth}@4"]
            page.wait_for_function(f"(want) => ({PLAYED_JS})().includes(want)", arg=f"{fourth}@4:ended",
                                   timeout=40_000)
            played = page.evaluate(PLAYED_JS)
            # In order, and only what was still true when its turn came.
            assert played == [f"{a}@2:ended", f"{fourth}@4:ended"], played
            dropped = page.evaluate("() => novbeBoard.dropped.map(d => d.number + '@' + d.counter)")
            assert dropped == [f"{b}@3", f"{c}@4"]
            board.check_clean()
    finally:
        boss.close()


def shown_wait(status: dict[str, Any]) -> str:
    """A waiting ticket's forecast as the board words it: the range its ticket and status page show, else "~N"."""
    low, high, central = status["eta_low"], status["eta_high"], status["eta_minutes"]
    return f"{low}–{high} dəq" if high > low + 1 else f"~{central} dəq" if central > 0 else "indi"


def test_area_waits_show_the_forecast(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    boss = live_server.login("boss")
    try:
        open_counters(live_server, boss, 1)
        tokens = []
        for _ in range(5):
            r = live_server.issue("EMP-01")
            assert r.status_code == 201, r.text
            tokens.append(r.json()["token"])
        with board_page(browser, live_server, "hall-1") as board:
            page = board.page
            snap = requests.get(live_server.url + "/api/display/snapshot", timeout=5,
                                headers={"Authorization": f"Bearer {live_server.display_token('hall-1')}"}).json()
            minutes = snap["area_wait_minutes"]["employment"]
            assert isinstance(minutes, int) and minutes > 0
            tile = page.locator("#waiting [data-area=employment]")
            assert tile.locator(".area-count").text_content() == "5"
            assert tile.locator(".area-wait").get_attribute("data-minutes") == str(minutes)
            # The figure is the area's last waiting ticket's forecast, worded as that ticket's status
            # page words it (an estimate, never "≤"): the same numbers at the same moment.
            statuses = [requests.get(f"{live_server.url}/api/status/{t}", timeout=5).json() for t in tokens]
            last = max(statuses, key=lambda s: (s["eta_at"], s["number"]))
            shown = tile.locator(".area-wait").text_content() or ""
            assert shown == shown_wait(last), (shown, last)
            assert "≤" not in shown
            assert tile.locator(".area-wait").get_attribute("data-number") == last["number"]
            assert last["eta_minutes"] == minutes
            # An area nobody waits in shows no wait at all.
            assert page.locator("#waiting [data-area=pension] .area-wait").text_content() == ""
            page.screenshot(path=str(screenshot_dir / "display-area-waits.png"))
            # The waits follow the hall: after a call, a fresh snapshot is read within 15 s.
            call_next(live_server, boss, 1)
            tile.locator(".area-count").filter(has_text="4").wait_for()
            page.wait_for_function("() => novbeBoard.stats.snapshots >= 2", timeout=20_000)
            board.check_clean()
    finally:
        boss.close()


def test_board_pages_load_without_console_errors(browser: Any, live_server: Any) -> None:
    """Every board page (chooser, hall boards, counter-top) loads with no console error: its icon is served too."""
    r = requests.get(live_server.url + "/favicon.ico", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/"), (r.status_code, r.headers)
    assert r.content[:4] == b"\x00\x00\x01\x00"           # an ICO file's header
    pages = ["/display/"] + [f"/display/?board={name}&token={live_server.display_token(name)}"
                             for name in ("hall-1", "hall-2", "coordination", "counter-7")]
    for path in pages:
        context = browser.new_context(viewport=VIEWPORT)   # a fresh one each: a browser asks for a cached icon once
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            # The page links its icon (Playwright reports no event for a request to /favicon.ico itself,
            # which a page without a link makes: its 404 shows only as a console error). The icon's
            # answer is awaited before judging.
            with page.expect_response(lambda r: r.url.endswith("/static/icon.ico"), timeout=10_000) as icon:
                page.goto(live_server.url + path)
            assert icon.value.status == 200, (path, icon.value.status)
            if "board=" in path:
                page.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            assert errors == [], (path, errors)
        finally:
            context.close()
