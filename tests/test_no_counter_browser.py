""""Waiting for a counter to open" wherever a citizen or the supervisor would otherwise see a wait the system does
not know: a service (or ticket) that only a counter which has not opened, though it was due, serves has no forecast
figure (the API's nulls), and the kiosk, the ticket screen, the hall board and the supervisor say so instead of
"no wait" / "soon" / "~0" (headless Chromium at real sizes against a real server at 10:00, every counter closed)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from test_counter_browser import log_in
from test_kiosk_browser import kiosk_page, shot, tap, wait_loaded

pytestmark = pytest.mark.browser

CHIP = {"az": "Masanın açılması gözlənilir", "ru": "Ожидается открытие окна", "en": "Waiting for a counter to open"}


def service(server: Any, code: str) -> dict[str, Any]:
    """The service as GET /api/services gives it now."""
    body = requests.get(server.url + "/api/services", timeout=5).json()
    return next(s for s in body["services"] if s["code"] == code)


def open_counter(server: Any, number: int) -> None:
    with server.login("op1") as op:
        op.post(f"{server.url}/api/counters/{number}/open", timeout=5).raise_for_status()


def take_emp01(page: Any) -> None:
    """An ordinary EMP-01 ticket at the kiosk, from its start screen to the ticket screen."""
    from test_kiosk_a11y_browser import loaded

    loaded(page)
    tap(page, "#startBtn")
    tap(page, "[data-area=employment]")
    tap(page, "#serviceList [data-service=EMP-01]")
    tap(page, "#takeBtn")
    tap(page, "#priorityNo")
    page.wait_for_selector("#s-ticket:not([hidden])")


FITS = """([sel, n, out]) => {
    const e = document.querySelectorAll(sel)[n], o = e && e.closest(out);
    if (!o) return null;
    const a = e.getBoundingClientRect(), b = o.getBoundingClientRect();
    return {fits: e.scrollWidth <= e.clientWidth + 1 && a.width > 0 && a.height > 0 && a.x >= b.x - 0.5
                  && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5,
            inner: [a.x, a.y, a.width, a.height], outer: [b.x, b.y, b.width, b.height],
            scroll: [e.scrollWidth, e.clientWidth], text: e.textContent};
}"""


def inside(page: Any, selector: str, outer: str, nth: int = 0) -> bool:
    """Whether the ``nth`` element matching ``selector`` lies on the screen within its closest ancestor matching
    ``outer``, its text not cut. Found and measured in one evaluation in the page, while that element is on the
    screen: a live refresh re-renders these lists, and an element found before one is detached (no box) when
    measured. A shape that never fits is printed with its boxes."""
    try:
        page.wait_for_function(f"(arg) => {{ const m = ({FITS})(arg); return m && m.fits; }}",
                               arg=[selector, nth, outer], timeout=5_000)
        return True
    except PlaywrightTimeout:
        print("does not fit:", selector, nth, page.evaluate(FITS, [selector, nth, outer]))
        return False


def test_the_service_chips_say_a_counter_is_awaited_not_no_wait(browser: Any, live_server: Any,
                                                                  screenshot_dir: Path) -> None:
    """EMP-01 at 10:00 with every counter closed: wait_minutes null, still available; the list's and the information
    screen's chip say a counter is awaited, in az, ru and en. Once counter 1 opens (free: 0 min) it is "no wait"."""
    s = service(live_server, "EMP-01")
    assert s["wait_minutes"] is None and s["available"] is True
    with kiosk_page(browser, live_server) as page:
        for lang in ("az", "ru", "en"):
            page.reload()           # back to the start screen, in Azerbaijani
            wait_loaded(page)
            if lang != "az":
                tap(page, f"#langBig [data-lang={lang}]")
            tap(page, "#startBtn")
            tap(page, "[data-area=employment]")
            card = page.locator("#serviceList [data-service=EMP-01]")
            chip = card.locator(".chip").nth(2)
            expect(chip).to_have_text(CHIP[lang])
            shot(page, screenshot_dir, f"kiosk_no_counter_{lang}_services")   # also lets the screen settle
            assert inside(page, "#serviceList [data-service=EMP-01] .chip", "[data-service]", nth=2)
            card.tap()
            page.wait_for_selector("#s-info:not([hidden])")
            info = page.locator("#infoFacts .chip").nth(2)
            expect(info).to_have_text(CHIP[lang])
            shot(page, screenshot_dir, f"kiosk_no_counter_{lang}_info")
            assert inside(page, "#infoFacts .chip", "#infoFacts", nth=2)

    open_counter(live_server, 1)
    assert service(live_server, "EMP-01")["wait_minutes"] == 0
    with kiosk_page(browser, live_server) as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=employment]")
        expect(page.locator("#serviceList [data-service=EMP-01] .chip").nth(2)).to_have_text("Gözləmə yoxdur")


def test_the_ticket_screen_says_a_counter_is_awaited_not_soon(browser: Any, live_server: Any,
                                                               screenshot_dir: Path) -> None:
    """An EMP-01 ticket issued while only unopened counters serve it (eta_minutes null): its wait box says a counter
    is awaited, as the printed ticket does, not "you will be called soon"; the accessible mode says that phrase
    after the number and people ahead. Once counter 1 is open the next ticket's box has a figure again."""
    from test_kiosk_a11y_browser import Speech, accessible_ticket, kiosk

    answers: list[dict[str, Any]] = []
    with kiosk(browser, live_server, fake_clock=False) as page:
        page.on("response", lambda r: answers.append(r.json())
                if r.url.endswith("/api/tickets") and r.request.method == "POST" else None)
        take_emp01(page)
        expect(page.locator("#ticketEta")).to_have_text("Gözləmə: masanın açılması gözlənilir")
        assert answers[-1]["eta_minutes"] is None and answers[-1]["ok"] is True
        shot(page, screenshot_dir, "kiosk_no_counter_az_ticket")
        assert inside(page, "#ticketEta", "#s-ticket")
        tap(page, "#doneBtn")
        page.locator("#s-start").wait_for()

        speech = Speech(page)
        accessible_ticket(page, "ru")
        expect(page.locator("#ticketEta")).to_have_text("Ожидание: ждём открытия окна")
        ru = {"lang": "ru"}
        assert (speech.said(f"number:{page.text_content('#ticketNumber')}", ru)
                < speech.said("ahead_spoken", {"lang": "ru", "n": "1"})
                < speech.said("eta_no_counter", ru) < speech.said("take_paper", ru))
        assert not any(text == "eta_now" for text, _, _ in speech.heard)
        shot(page, screenshot_dir, "kiosk_no_counter_ru_a11y_ticket")
        assert all(status == 200 for _, _, status in speech.heard), speech.heard

    open_counter(live_server, 1)
    with kiosk(browser, live_server, fake_clock=False) as page:
        take_emp01(page)
        expect(page.locator("#ticketEta")).to_contain_text("Təxmini gözləmə")   # a figure, from the open counter


TILE = "#waiting [data-area=employment]"
BOARD_WORDS = {"az": "masanın açılması gözlənilir", "ru": "ожидается открытие окна", "en": "waiting for a counter to open"}


@pytest.mark.parametrize("viewport", [{"width": 1920, "height": 1080}, {"width": 1366, "height": 768}],
                         ids=["1920x1080", "1366x768"])
def test_the_board_says_a_counter_is_awaited_for_an_area_without_a_figure(browser: Any, live_server: Any,
                                                                          screenshot_dir: Path,
                                                                          viewport: dict[str, int]) -> None:
    """Employment tickets only unopened counters serve: the area's last waiting ticket has no figure (snapshot null,
    its status page eta_minutes null), so the wall says what that citizen's ticket and status page say, not "~0",
    "indi" or "masa bağlıdır"; it fits the tile. Once counter 1 opens the area has a figure again."""
    tokens = [r.json()["token"] for r in (live_server.issue("EMP-01") for _ in range(3))]
    assert all(requests.get(f"{live_server.url}/api/status/{t}", timeout=5).json()["eta_minutes"] is None
               for t in tokens)
    context = browser.new_context(viewport=viewport)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/display/?board=hall-1&token={live_server.display_token('hall-1')}")
        page.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
        snap = page.evaluate("() => novbeBoard.state.areaLast")
        assert snap["employment"] is None
        tile = page.locator(TILE)
        wait = tile.locator(".area-wait")
        assert tile.locator(".area-count").text_content() == "3"
        assert wait.get_attribute("data-minutes") == "none"
        assert wait.text_content() == BOARD_WORDS["az"]
        assert inside(page, TILE + " .area-wait", "[data-area]") and inside(page, TILE + " .area-name", "[data-area]")
        page.screenshot(path=str(screenshot_dir / f"display_no_counter_{viewport['width']}.png"))
        for lang in ("ru", "en"):    # the center's other languages, in their turn
            page.evaluate("(code) => novbeBoard.showLanguage(code)", lang)
            assert wait.text_content() == BOARD_WORDS[lang]
            assert inside(page, TILE + " .area-wait", "[data-area]")
            page.screenshot(path=str(screenshot_dir / f"display_no_counter_{viewport['width']}_{lang}.png"))
        page.evaluate("() => novbeBoard.showLanguage('az')")

        open_counter(live_server, 1)
        page.wait_for_function("""() => { const w = document.querySelector('#waiting [data-area=employment] .area-wait');
                                          return w && /^[0-9]+$/.test(w.dataset.minutes); }""", timeout=25_000)
        shown = wait.text_content() or ""     # in whichever language the board's rotation is at
        assert any(ch.isdigit() for ch in shown) and shown not in BOARD_WORDS.values(), shown
    finally:
        context.close()
    assert errors == []


def test_the_supervisor_sees_which_counter_to_open(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    """The supervisor's queues (1366x768): tickets only an unopened counter serves (eta_minutes null) read "counter N
    not open" with the counter the forecast holds for them, not a blank, 0 or "no counter today"; the service's new
    ticket wait reads "no counter open". Once that counter opens they have figures."""
    numbers = [live_server.issue("EMP-01").json()["number"] for _ in range(2)]
    with live_server.login("boss") as boss:
        snap = boss.get(live_server.url + "/api/staff/snapshot", timeout=5).json()
    mine = [t for t in snap["waiting"] if t["number"] in numbers]
    assert [t["eta_minutes"] for t in mine] == [None, None]
    held = mine[0]["forecast_counter"]
    assert isinstance(held, int)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="az-AZ")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server.url + "/counter/supervisor")
        log_in(page, "boss")
        chip = page.locator(f"#tab-queues .fc-chip[data-number='{numbers[0]}']")
        expect(chip).to_have_text(f"{numbers[0]} masa {held} açılmayıb")
        assert chip.get_attribute("title") == f"{numbers[0]}: masa {held} açılmayıb, açılanda çağırılacaq"
        expect(page.locator("#tab-queues tr[data-service='EMP-01'] .new-wait")).to_have_text("açıq masa yoxdur")
        page.screenshot(path=str(screenshot_dir / "supervisor_no_counter_az.png"))
        page.click(".lang button[data-lang=ru]")
        expect(chip).to_have_text(f"{numbers[0]} окно {held} не открыто")
        page.click(".lang button[data-lang=en]")
        expect(chip).to_have_text(f"{numbers[0]} counter {held} not open")
        expect(page.locator("#tab-queues tr[data-service='EMP-01'] .new-wait")).to_have_text("no counter open")
        page.screenshot(path=str(screenshot_dir / "supervisor_no_counter_en.png"))

        open_counter(live_server, held)
        expect(chip).to_have_attribute("data-eta", re.compile(r"^[0-9]+$"), timeout=10_000)
        expect(chip).not_to_have_class(re.compile(r"\bnone\b"))
    finally:
        context.close()
    assert errors == []


NO_COUNTER_TODAY = {"az": "bu gün heç bir masa bu bileti çağırmayacaq — əməkdaşa müraciət edin",
                    "en": "no counter will call this ticket today — please ask a member of staff"}


def test_the_status_page_says_when_no_counter_will_call_a_ticket_today(browser: Any, live_server: Any,
                                                                        screenshot_dir: Path) -> None:
    """SOC-02 is counter 11's alone. While counter 11 is open the citizen's status page (a phone, 360x740) shows a
    figure; when counter 11 closes for the day it says, live, that no counter will call the ticket today and to ask
    the staff (eta_reason "no_counter_today"), not that a counter is about to open."""
    from test_kiosk_browser import PHONE

    with live_server.login("op1") as op:
        assert op.post(f"{live_server.url}/api/counters/11/open", timeout=5).ok
        live_server.issue("SOC-02").raise_for_status()
        mine = live_server.issue("SOC-02").json()
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        try:
            page = context.new_page()
            page.goto(mine["status_url"])
            page.wait_for_selector("#live:not(.off)")
            assert re.search(r"\d", page.locator("#eta").inner_text())
            assert op.post(f"{live_server.url}/api/counters/11/call-next", timeout=5).json()["number"] != mine["number"]
            assert op.post(f"{live_server.url}/api/counters/11/finish", json={"outcome": "served"}, timeout=5).ok
            assert op.post(f"{live_server.url}/api/counters/11/close", timeout=5).ok
            expect(page.locator("#eta")).to_have_text(NO_COUNTER_TODAY["az"], timeout=15_000)
            status = requests.get(f"{live_server.url}/api/status/{mine['status_url'].rsplit('/', 1)[1]}", timeout=5)
            assert status.json()["eta_reason"] == "no_counter_today" and status.json()["eta_minutes"] is None
            assert inside(page, "#eta", ".fact") and page.evaluate("document.documentElement.scrollWidth") <= 360
            shot(page, screenshot_dir, "status_az_no_counter_today")
            page.locator(".langs a[lang=en]").tap()
            page.wait_for_selector("html[lang=en]")
            expect(page.locator("#eta")).to_have_text(NO_COUNTER_TODAY["en"])
            shot(page, screenshot_dir, "status_en_no_counter_today")
        finally:
            context.close()
