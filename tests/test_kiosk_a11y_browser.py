"""The accessible kiosk mode in Chromium: one tap from the start screen, spoken guidance through the
kiosk's own speaker (the /kiosk/speak phrases each screen and tapped button asks for), high contrast,
large text, a large-print ticket, and 0 axe-core violations on every screen of the mode."""
from __future__ import annotations

import json
from datetime import datetime, time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from test_accessibility import axe, kiosk, loaded, tap, visible  # noqa: F401  (axe is a fixture)

pytestmark = pytest.mark.browser


def accessible(page: Any) -> None:
    """Tap the start screen's accessible-mode button and wait for the mode."""
    tap(page, "#a11yBtn")
    page.wait_for_function("() => document.body.classList.contains('a11y')")


def ask_for_a_ticket(page: Any) -> None:
    """From the areas screen: ask for an employment ticket (EMP-01), as an ordinary citizen."""
    tap(page, "[data-area=employment]")
    tap(page, "#serviceList [data-service=EMP-01]")
    tap(page, "#takeBtn")
    if page.locator("#s-priority").is_visible():
        tap(page, "#priorityNo")


def accessible_ticket(page: Any, lang: str | None = None) -> None:
    """From the start screen: the accessible mode (in ``lang``, if given), an ordinary EMP-01 ticket, its screen."""
    accessible(page)
    if lang is not None:
        tap(page, f"#langBig [data-lang={lang}]")
    tap(page, "#startBtn")
    visible(page, "areas")
    ask_for_a_ticket(page)
    visible(page, "ticket")


def ask_for_a_ticket_refused(page: Any) -> None:
    """From the areas screen: ask for an employment ticket (EMP-01) and wait for the refusal's message."""
    ask_for_a_ticket(page)
    page.wait_for_selector("#modal:not([hidden])")


class Speech:
    """The phrases a kiosk page fetched from /kiosk/speak, in order: (text, fills, status)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.heard: list[tuple[str, dict[str, str], int]] = []
        page.on("response", self._on_response)

    def _on_response(self, resp: Any) -> None:
        url = urlparse(resp.url)
        if url.path == "/kiosk/speak":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            self.heard.append((q.pop("text"), q, resp.status))

    def said(self, text: str, fills: dict[str, str]) -> int:
        """Wait for the phrase to be fetched and answered 200; its place in what was heard (each waits until the
        one before it has been played: a long sentence takes seconds)."""
        for _ in range(800):
            if (text, fills, 200) in self.heard:
                return self.heard.index((text, fills, 200))
            self.page.wait_for_timeout(25)
        raise AssertionError(f"{text} {fills} was not spoken; heard {self.heard}")


def spoken(page: Any, heard: list[tuple[str, str, int]], text: str, lang: str) -> None:
    """Wait until the page has fetched this phrase from the speech route and it answered 200."""
    for _ in range(200):
        if (text, lang, 200) in heard:
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"{text!r} in {lang} was not spoken; heard {heard}")


def test_accessible_mode_speaks_and_passes_axe(browser, live_server, axe, screenshot_dir: Path):
    heard: list[tuple[str, str, int]] = []
    issued: list[dict[str, Any]] = []

    def on_response(resp: Any) -> None:
        url = urlparse(resp.url)
        if url.path == "/kiosk/speak":
            q = parse_qs(url.query)
            heard.append((q["text"][0], q["lang"][0], resp.status))
            assert resp.request.headers.get("authorization", "").startswith("Bearer ")

    with kiosk(browser, live_server, fake_clock=False) as page:
        page.on("response", on_response)
        page.on("request", lambda r: issued.append(json.loads(r.post_data or "{}"))
                if r.url.endswith("/api/tickets") and r.method == "POST" else None)
        loaded(page)
        # Nothing is spoken in the standard mode until someone asks for it.
        page.wait_for_timeout(200)
        assert heard == []
        # A touch on the start screen outside its buttons offers the mode aloud.
        page.locator("#startCenter").tap()
        spoken(page, heard, "a11y_offer", "az")

        accessible(page)
        assert page.get_attribute("#a11yBtn", "aria-pressed") == "true"
        spoken(page, heard, "a11y_started", "az")
        spoken(page, heard, "welcome", "az")   # the start screen's title
        # High contrast and larger text: measured, not assumed.
        style = page.evaluate("""() => { const s = getComputedStyle(document.body);
            return [s.backgroundColor, s.color, parseFloat(getComputedStyle(document.querySelector('#s-start h1')).fontSize)]; }""")
        assert style[0] == "rgb(0, 0, 0)" and style[1] == "rgb(255, 255, 255)" and style[2] >= 68
        axe.check(page, "accessible mode start az")

        tap(page, "#langBig [data-lang=ru]")
        spoken(page, heard, "lang_name", "ru")    # each language's button in its own voice
        page.screenshot(path=str(screenshot_dir / "kiosk-a11y-start.png"))
        axe.check(page, "accessible mode start ru")

        tap(page, "#startBtn")
        visible(page, "areas")
        spoken(page, heard, "start", "ru")        # the tapped button…
        spoken(page, heard, "areas_title", "ru")  # …then the new screen's title
        # Fewer items per screen: one column of areas.
        cols = page.evaluate("() => getComputedStyle(document.getElementById('areaList')).gridTemplateColumns.split(' ').length")
        assert cols == 1
        page.screenshot(path=str(screenshot_dir / "kiosk-a11y-areas.png"))
        axe.check(page, "accessible mode areas")

        tap(page, "[data-area=employment]")
        page.wait_for_selector("#serviceList [data-service]")
        spoken(page, heard, "area:employment", "ru")
        axe.check(page, "accessible mode services")
        tap(page, "#serviceList [data-service=EMP-01]")
        visible(page, "info")
        spoken(page, heard, "svc:EMP-01", "ru")
        page.screenshot(path=str(screenshot_dir / "kiosk-a11y-info.png"))
        axe.check(page, "accessible mode info")
        tap(page, "#takeBtn")
        visible(page, "priority")
        spoken(page, heard, "take", "ru")
        spoken(page, heard, "priority_title", "ru")
        axe.check(page, "accessible mode priority")
        # A button reached by keyboard (a switch or keypad) is read when it takes the focus.
        page.wait_for_timeout(900)
        page.keyboard.press("Tab")
        page.wait_for_function("() => document.activeElement && document.activeElement.dataset.say")
        first = page.evaluate("() => document.activeElement.dataset.say")
        spoken(page, heard, first, "ru")

        tap(page, "[data-group=disability]")
        visible(page, "ticket")
        number = page.text_content("#ticketNumber")
        assert issued and issued[-1]["large_print"] is True and issued[-1]["priority"] == "disability"
        spoken(page, heard, f"number:{number}", "ru")   # "Ваш номер: …" through the speaker
        page.wait_for_function("() => document.getElementById('ticketQr').naturalWidth > 0")
        page.screenshot(path=str(screenshot_dir / "kiosk-a11y-ticket.png"))
        axe.check(page, "accessible mode ticket")

        # The next citizen starts in the standard mode.
        tap(page, "#doneBtn")
        visible(page, "start")
        assert not page.evaluate("() => document.body.classList.contains('a11y')")
        assert page.get_attribute("#a11yBtn", "aria-pressed") == "false"
        axe.check(page, "standard mode start with the switch")
    assert all(status == 200 for _, _, status in heard), heard


def test_accessible_mode_reads_a_dialogs_message(browser, live_server, axe):
    """A message that opens in the accessible mode is read whole: its title, its text, then its button
    (the focus on the button alone read only "OK"). The same message in the standard mode says nothing."""
    heard: list[tuple[str, str, int]] = []

    def on_response(resp: Any) -> None:
        url = urlparse(resp.url)
        if url.path == "/kiosk/speak":
            q = parse_qs(url.query)
            heard.append((q["text"][0], q["lang"][0], resp.status))

    full = {"ok": False, "error": "capacity_reached", "scope": "center", "message": "full"}
    with kiosk(browser, live_server, fake_clock=False) as page:
        page.on("response", on_response)
        loaded(page)
        page.route("**/api/tickets", lambda r: r.fulfill(status=409, json=full))
        # The standard mode: the message is shown and nothing is spoken.
        tap(page, "#startBtn")
        ask_for_a_ticket_refused(page)
        page.wait_for_timeout(300)
        assert not [h for h in heard if h[0].startswith("err_")], heard
        tap(page, "#modalOk")
        tap(page, "#homeBtn")

        accessible(page)
        tap(page, "#langBig [data-lang=en]")
        tap(page, "#startBtn")
        ask_for_a_ticket_refused(page)
        spoken(page, heard, "err_full_title", "en")
        spoken(page, heard, "err_center_full", "en")      # the message's text, not only its title
        spoken(page, heard, "ok", "en")
        order = [h[0] for h in heard]
        assert order.index("err_full_title") < order.index("err_center_full") < len(order) - order[::-1].index("ok")
        axe.check(page, "accessible mode message")
        page.unroute("**/api/tickets")
    assert all(status == 200 for _, _, status in heard), heard


def test_accessible_mode_says_the_seconds_and_the_next_opening(browser, live_server):
    """The idle warning's seconds and a message's next opening are spoken in the accessible mode, through the
    phrases /kiosk/speak fills from checked values (idle_spoken with s, next_opening with day and time)."""
    import time

    from config import loader
    from server.core import clock

    # The next opening the server would name late today: the next working day's opening, in center time.
    cfg = loader.load(live_server.center)
    now = time.time() + live_server.offset
    today = clock.local(now, cfg.tz).date()
    opening = clock.next_opening(cfg, datetime.combine(today, dtime(23, 59), tzinfo=cfg.tz).timestamp())
    assert opening is not None
    ahead = (opening.date() - today).days
    day = "tomorrow" if ahead == 1 else ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opening.weekday()]
    closed = {"ok": False, "error": "center_closed", "message": "closed", "next_opening": opening.isoformat()}

    with kiosk(browser, live_server) as page:     # a page clock the test moves on
        speech = Speech(page)
        loaded(page)
        accessible(page)
        tap(page, "#startBtn")
        visible(page, "areas")
        page.clock.fast_forward(31_000)
        page.locator("#idleWarn").wait_for(state="visible")
        speech.said("idle_title", {"lang": "az"})
        speech.said("idle_spoken", {"lang": "az", "s": "20"})    # "Ekran 20 saniyədən sonra …"
        speech.said("idle_more", {"lang": "az"})
        tap(page, "#idleMore")

        page.route("**/api/tickets", lambda r: r.fulfill(status=409, json=closed))
        tap(page, "#langs [data-lang=en]")
        ask_for_a_ticket_refused(page)
        assert page.locator("#modalMore").is_visible()
        speech.said("err_closed", {"lang": "en"})
        speech.said("next_opening", {"lang": "en", "day": day, "time": opening.strftime("%H:%M")})
        speech.said("ok", {"lang": "en"})
        order = [h[0] for h in speech.heard]
        assert order.index("err_closed") < order.index("next_opening") < len(order) - order[::-1].index("ok")
        page.unroute("**/api/tickets")
    assert all(status == 200 for _, _, status in speech.heard), speech.heard


def test_accessible_ticket_screen_says_the_print_line_and_the_countdown(browser, live_server):
    """What the ticket screen shows under the number is said after it in the accessible mode: the print line, then
    the seconds before the screen returns to the start (the countdown, closing_in, the standard mode shows); an
    unprinted ticket's longer countdown (120 s) is said with the print failure."""
    def unprinted(route: Any) -> None:
        """The real answer, as if the printer had not answered at issue."""
        resp = route.fetch()
        route.fulfill(response=resp, json=dict(resp.json(), printing=False))

    with kiosk(browser, live_server, fake_clock=False) as page:
        speech = Speech(page)
        loaded(page)
        accessible_ticket(page, "en")
        assert "30" in page.text_content("#countdown")
        number = page.text_content("#ticketNumber")
        en = {"lang": "en"}
        assert (speech.said(f"number:{number}", en) < speech.said("take_paper", en)
                < speech.said("idle_spoken", {"lang": "en", "s": "30"}))

        tap(page, "#doneBtn")
        visible(page, "start")
        page.route("**/api/tickets", unprinted)
        accessible_ticket(page)
        az = {"lang": "az"}
        assert (speech.said(f"number:{page.text_content('#ticketNumber')}", az) < speech.said("print_failed_title", az)
                < speech.said("print_failed", az) < speech.said("idle_spoken", {"lang": "az", "s": "120"}))
        page.unroute("**/api/tickets")
    assert all(status == 200 for _, _, status in speech.heard), speech.heard


def test_accessible_ticket_screen_says_people_ahead_and_the_wait(browser, live_server, screenshot_dir: Path):
    """The two boxes under the number are said after it, as they show (their spoken twins: the shown texts
    abbreviate), with the values the boxes show, before the print line and the countdown: a range in ru, nobody
    ahead and a single figure in az."""
    def waits(**fields: object) -> Any:
        def handler(route: Any) -> None:
            """The real answer, with the forecast's figures the test needs."""
            resp = route.fetch()
            route.fulfill(response=resp, json=dict(resp.json(), **fields))
        return handler

    with kiosk(browser, live_server, fake_clock=False) as page:
        speech = Speech(page)
        loaded(page)
        page.route("**/api/tickets", waits(ahead=3, eta_minutes=12, eta_low=5, eta_high=30))
        accessible_ticket(page, "ru")
        assert page.text_content("#ticketAhead") == "Перед вами: 3 чел."
        assert page.text_content("#ticketEta") == "Примерное ожидание: 5–30 мин"
        ru = {"lang": "ru"}
        assert (speech.said(f"number:{page.text_content('#ticketNumber')}", ru)
                < speech.said("ahead_spoken", {"lang": "ru", "n": "3"})
                < speech.said("eta_range_spoken", {"lang": "ru", "a": "5", "b": "30"})
                < speech.said("take_paper", ru) < speech.said("idle_spoken", {"lang": "ru", "s": "30"}))
        page.unroute("**/api/tickets")

        tap(page, "#doneBtn")
        visible(page, "start")
        page.route("**/api/tickets", waits(ahead=0, eta_minutes=7, eta_low=6, eta_high=7))
        accessible_ticket(page)
        assert page.text_content("#ticketAhead") == "Sizdən əvvəl heç kim yoxdur"
        assert page.text_content("#ticketEta") == "Təxmini gözləmə: 7 dəqiqə"
        az = {"lang": "az"}
        assert (speech.said(f"number:{page.text_content('#ticketNumber')}", az) < speech.said("ahead_none", az)
                < speech.said("eta_spoken", {"lang": "az", "m": "7"})
                < speech.said("take_paper", az) < speech.said("idle_spoken", {"lang": "az", "s": "30"}))
        page.screenshot(path=str(screenshot_dir / "kiosk-a11y-ticket-wait-az.png"))
        page.unroute("**/api/tickets")
    assert all(status == 200 for _, _, status in speech.heard), speech.heard


def test_the_standard_mode_shows_the_idle_warning_without_speaking(browser, live_server):
    """Speech is the accessible mode's: in the standard mode the idle warning is shown, and the kiosk stays silent
    (a hall of kiosks would otherwise call after every citizen who walked away)."""
    heard: list[str] = []
    with kiosk(browser, live_server) as page:
        page.on("request", lambda req: heard.append(req.url) if urlparse(req.url).path == "/kiosk/speak" else None)
        loaded(page)
        tap(page, "#startBtn")
        visible(page, "areas")
        page.clock.fast_forward(31_000)
        page.locator("#idleWarn").wait_for(state="visible")
        assert "20" in page.locator("#idleText").inner_text()
        page.wait_for_timeout(600)          # the accessible mode asks for its first phrase at once
        assert heard == [], heard
        tap(page, "#idleMore")
        assert page.locator("#idleWarn").is_hidden()
