"""The kiosk and the citizen's status page in headless Chromium against a real server.

Each test drives the page as a citizen would (touch taps at 1080×1920, or a phone at
360×740 for the status page), checks what the page says against the API, and saves a
screenshot of every screen into tests/screenshots/.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

pytestmark = pytest.mark.browser

KIOSK = {"width": 1080, "height": 1920}
PHONE = {"width": 360, "height": 740}

# lang → (area, service, priority group or None, words the screens must show)
FLOWS = {
    "az": ("employment", "EMP-01", "shehid-qazi", {"start": "Növbə bileti götürün", "areas": "Xidmət sahəsini seçin",
                                                   "docs": "Özünüzlə gətirin:", "ticket": "Sizin nömrəniz",
                                                   "prio": "Güzəştli növbə"}),
    "ru": ("pension", "PEN-04", None, {"start": "Взять талон", "areas": "Выберите раздел услуг",
                                       "docs": "Возьмите с собой:", "ticket": "Ваш номер", "prio": None}),
    "en": ("disability", "DIS-01", "disability", {"start": "Take a ticket", "areas": "Choose a service area",
                                                    "docs": "Please bring:", "ticket": "Your number",
                                                    "prio": "Priority"}),
}


@contextmanager
def kiosk_page(browser: Any, server: Any, *, token: str | None = "kiosk-1", viewport: dict[str, int] = KIOSK,
               errors: list[str] | None = None, fake_clock: bool = False) -> Iterator[Any]:
    """A touch-screen page on the kiosk, set up with the kiosk's device token on first visit."""
    context = browser.new_context(viewport=viewport, has_touch=True, locale="az-AZ")
    if fake_clock:
        context.clock.install()   # time still runs; the test may jump it ahead
    page = context.new_page()
    seen = errors if errors is not None else []
    page.on("pageerror", lambda exc: seen.append(str(exc)))
    try:
        url = server.url + "/kiosk/" + (f"?token={server.kiosk_token(token)}" if token else "")
        page.goto(url)
        yield page
    finally:
        context.close()
    assert not seen, f"JavaScript errors on the page: {seen}"


def tap(page: Any, selector: str) -> None:
    page.locator(selector).first.tap()


def box(locator: Any, timeout: float = 10.0) -> dict[str, float]:
    """The element's box on the screen. A live refresh re-renders lists (services, areas, groups, calls): an element
    found just before one is detached when measured and has no box, so it is found again until it has one."""
    import time

    end = time.monotonic() + timeout
    while True:
        found = locator.bounding_box()
        if found is not None:
            return found
        assert time.monotonic() < end, f"{locator} has no box on the screen"
        time.sleep(0.05)


def shot(page: Any, screenshot_dir: Path, name: str) -> None:
    page.wait_for_timeout(50)   # let the last render settle
    page.screenshot(path=str(screenshot_dir / f"{name}.png"))


def wait_loaded(page: Any) -> None:
    page.wait_for_function("() => document.querySelector('#s-start') && !document.querySelector('#s-start').hidden")
    page.wait_for_function("() => JSON.parse(localStorage.getItem('novbe.kiosk.services') || 'null') !== null")


def staff_ticket(server: Any, number: str) -> dict[str, Any]:
    with server.login("boss") as s:
        snap = s.get(server.url + "/api/staff/snapshot", timeout=5).json()
    return next(t for t in snap["waiting"] if t["number"] == number)


# --- the whole citizen flow --------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_kiosk_flow(browser, live_server, screenshot_dir, lang):
    area, service, group, words = FLOWS[lang]
    with kiosk_page(browser, live_server, fake_clock=lang == "en") as page:
        wait_loaded(page)
        # The token went to localStorage and left the address bar.
        assert "token" not in page.url
        assert page.evaluate("localStorage.getItem('novbe.kiosk.token')") == live_server.kiosk_token()
        if lang != "az":
            tap(page, f"#langBig [data-lang={lang}]")
        assert page.locator("html").get_attribute("lang") == lang
        assert words["start"] in page.locator("#startBtn").inner_text()
        shot(page, screenshot_dir, f"kiosk_{lang}_1_start")

        tap(page, "#startBtn")
        page.wait_for_selector("#areaList [data-area]")
        assert page.locator("#areaList [data-area]").count() == 13
        assert words["areas"] in page.locator("#s-areas h1").inner_text()
        shot(page, screenshot_dir, f"kiosk_{lang}_2_areas")

        tap(page, f"[data-area={area}]")
        card = page.locator(f"#serviceList [data-service={service}]")
        card.wait_for()
        assert re.search(r"\d", card.inner_text())     # remaining capacity and current wait
        shot(page, screenshot_dir, f"kiosk_{lang}_3_services")

        card.tap()
        page.wait_for_selector("#s-info:not([hidden])")
        assert words["docs"] in page.locator("#infoDocsBox").inner_text()
        assert page.locator("#infoDocs li").count() >= 1
        shot(page, screenshot_dir, f"kiosk_{lang}_4_info")

        tap(page, "#takeBtn")
        page.wait_for_selector("#s-priority:not([hidden])")
        assert page.locator("#groupList [data-group]").count() >= 2
        shot(page, screenshot_dir, f"kiosk_{lang}_5_priority")
        tap(page, f"[data-group={group}]" if group else "#priorityNo")

        page.wait_for_selector("#s-ticket:not([hidden])")
        number = page.locator("#ticketNumber").inner_text()
        assert re.fullmatch(r"[A-ZƏŞ]-\d{3}", number)
        assert words["ticket"] in page.locator("#s-ticket").inner_text()
        page.wait_for_function("() => document.getElementById('ticketQr').naturalWidth > 0")
        if words["prio"]:
            assert words["prio"] in page.locator("#ticketPriority").inner_text()
        else:
            assert page.locator("#ticketPriority").is_hidden()
        shot(page, screenshot_dir, f"kiosk_{lang}_6_ticket")

        # What the screen says is what the server recorded.
        recorded = staff_ticket(live_server, number)
        assert (recorded["service"], recorded["lang"], recorded["priority"]) == (service, lang, group)

        # The QR code holds this server's status address for this ticket.
        qr = urlparse(page.locator("#ticketQr").get_attribute("src"))
        status_url = parse_qs(qr.query)["data"][0]
        assert status_url.startswith(live_server.url + "/t/")
        status = requests.get(status_url, timeout=5)
        assert status.status_code == 200 and number in status.text

        if lang == "en":
            page.clock.fast_forward(31_000)     # the confirmation goes back to the start by itself
        else:
            tap(page, "#doneBtn")
        page.wait_for_selector("#s-start:not([hidden])")
        assert page.locator("html").get_attribute("lang") == "az"   # the next citizen starts in Azerbaijani


# --- a full service, printer trouble and other messages ---------------------------------------

def test_kiosk_full_service(browser, live_server, screenshot_dir):
    service = "SOC-05"   # quota 5 in the default center
    with kiosk_page(browser, live_server) as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=social-services]")
        tap(page, f"#serviceList [data-service={service}]")
        page.wait_for_selector("#s-info:not([hidden])")

        # The kiosk loses sight of the server's updates while others take every ticket left...
        page.route("**/api/services", lambda route: route.abort())
        answers = [live_server.issue(service) for _ in range(10)]
        full = next(r for r in answers if r.status_code == 409)
        body = full.json()
        assert body["error"] == "capacity_reached" and body["next_opening"]
        opening = body["next_opening"][11:16]

        # ...so the citizen's tap meets a full service: a clear message with the next opening.
        tap(page, "#takeBtn")
        tap(page, "#priorityNo")
        modal = page.locator("#modal")
        modal.wait_for(state="visible")
        text = modal.inner_text()
        assert "Biletlər bitib" in text and "Bu xidmət üzrə bugünkü biletlər bitib." in text
        assert f"Növbəti qəbul:" in text and opening in text
        assert "Traceback" not in text and "capacity_reached" not in text
        shot(page, screenshot_dir, "kiosk_az_full_modal")
        tap(page, "#modalOk")
        page.wait_for_selector("#s-info:not([hidden])")

        # Once the kiosk hears from the server again, the service shows as full, disabled, with the reason.
        page.unroute("**/api/services")
        page.wait_for_selector("#takeBtn[aria-disabled=true]", timeout=15000)
        tap(page, "#backBtn")
        card = page.locator(f"#serviceList [data-service={service}]")
        assert card.is_disabled()
        assert "Bu gün üçün biletlər bitib" in card.inner_text() and opening in card.inner_text()
        shot(page, screenshot_dir, "kiosk_az_full_services")


def _fake_issue(printing: bool) -> Any:
    def handler(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["printing"] = printing
        route.fulfill(response=response, json=body)
    return handler


def test_kiosk_printer_fault_and_messages(browser, live_server, screenshot_dir):
    with kiosk_page(browser, live_server, fake_clock=True) as page:
        wait_loaded(page)
        tap(page, "#langBig [data-lang=en]")
        tap(page, "#startBtn")
        tap(page, "[data-area=labour]")
        tap(page, "#serviceList [data-service].card:not(.disabled)")
        page.wait_for_selector("#s-info:not([hidden])")

        def take() -> None:
            tap(page, "#takeBtn")
            tap(page, "#priorityNo")

        # The printer could not print: the ticket stands, the number stays up much longer.
        page.route("**/api/tickets", _fake_issue(printing=False))
        take()
        page.wait_for_selector("#s-ticket:not([hidden])")
        state = page.locator("#printState")
        assert state.get_attribute("data-state") == "failed"
        assert "The ticket could not be printed" in state.inner_text()
        assert "take a photo" in state.inner_text()
        seconds = int(re.search(r"(\d+) s", page.locator("#countdown").inner_text()).group(1))
        assert seconds >= 100
        number = page.locator("#ticketNumber").inner_text()
        assert staff_ticket(live_server, number)["lang"] == "en"
        shot(page, screenshot_dir, "kiosk_en_printer_fault")
        page.clock.fast_forward(45_000)          # longer than the usual 30 s: still there
        assert page.locator("#s-ticket").is_visible() and page.locator("#ticketNumber").inner_text() == number
        page.clock.fast_forward(90_000)          # then back to the start by itself, in Azerbaijani
        page.wait_for_selector("#s-start:not([hidden])")
        assert page.locator("html").get_attribute("lang") == "az"
        page.unroute("**/api/tickets")

        def message(status: int | None, body: dict[str, Any] | None, expect: str, name: str) -> None:
            tap(page, "#langBig [data-lang=en]")
            tap(page, "#startBtn")
            tap(page, "[data-area=labour]")
            tap(page, "#serviceList [data-service].card:not(.disabled)")
            if status is None:
                page.route("**/api/tickets", lambda route: route.abort("connectionrefused"))
            else:
                page.route("**/api/tickets", lambda route: route.fulfill(status=status, json=body))
            take()
            modal = page.locator("#modal")
            modal.wait_for(state="visible")
            assert expect in modal.inner_text()
            shot(page, screenshot_dir, name)
            tap(page, "#modalOk")
            page.unroute("**/api/tickets")
            tap(page, "#homeBtn")

        message(429, {"ok": False, "error": "rate_limited", "message": "too many"}, "Please wait a moment",
                "kiosk_en_rate_limited")
        message(None, None, "Temporarily unavailable", "kiosk_en_unreachable")
        message(409, {"ok": False, "error": "center_closed", "message": "closed",
                      "next_opening": "2031-06-02T09:00:00+04:00"}, "Monday 2 June, at 09:00", "kiosk_en_closed")


# --- search with the on-screen keyboard --------------------------------------------------------

def type_keys(page: Any, text: str) -> None:
    for ch in text:
        tap(page, "#keyboard [data-key=space]" if ch == " " else f"#keyboard [data-key='{ch}']")


def found(page: Any) -> list[str]:
    return page.locator("#results [data-service]").evaluate_all("els => els.map(e => e.dataset.service)")


def test_kiosk_search_keyboard(browser, live_server, screenshot_dir):
    with kiosk_page(browser, live_server, fake_clock=True) as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, "#searchBtn")
        page.wait_for_selector("#keyboard [data-key='Ə']")
        for letter in "ƏĞIİÖŞÜÇ":
            assert page.locator(f"#keyboard [data-key='{letter}']").count() == 1

        type_keys(page, "ƏLİL")      # "Əlillik", "Əlilliyə görə …", "Əlilliyi olan …"
        hits = found(page)
        assert "PEN-02" in hits and any(h.startswith("DIS-") for h in hits)
        assert page.locator("#queryText").inner_text() == "ƏLİL"
        shot(page, screenshot_dir, "kiosk_az_search_schwa")

        tap(page, "#keyboard [data-key=clear]")
        type_keys(page, "İŞSİZ")     # İ folds to i: "İşaxtaran və işsiz …", "İşsizlikdən …"
        assert {"EMP-01", "EMP-02"} <= set(found(page))
        tap(page, "#keyboard [data-key=clear]")
        type_keys(page, "SIĞORTA")   # dotless I: "sığorta"
        assert "EMP-02" in found(page)
        tap(page, "#keyboard [data-key=clear]")
        type_keys(page, "PENSİYA")
        assert {"PEN-01", "PEN-04"} <= set(found(page))

        tap(page, "#keyboard [data-key=clear]")
        tap(page, "#keyboard [data-key=layout]")
        type_keys(page, "ПЕРЕРАСЧЕТ")   # ё and е are one letter to the search
        assert "PEN-04" in found(page)
        shot(page, screenshot_dir, "kiosk_az_search_cyrillic")

        tap(page, "#keyboard [data-key=clear]")
        tap(page, "#keyboard [data-key=layout]")
        type_keys(page, "ZZQQ")
        assert found(page) == []
        assert "Heç nə tapılmadı" in page.locator("#searchCount").inner_text()
        for _ in range(4):
            tap(page, "#keyboard [data-key=backspace]")
        type_keys(page, "PENSION")       # English names too
        assert "PEN-01" in found(page)
        tap(page, "#results [data-service=PEN-01]")
        page.wait_for_selector("#s-info:not([hidden])")
        assert "Yaşa görə əmək pensiyasının" in page.locator("#infoName").inner_text()

        # A screen left alone asks whether the citizen needs more time, then returns to the start: a
        # service's information after three times the configured idle time (30 s), then 20 s to answer.
        page.clock.fast_forward(31_000)
        assert page.locator("#s-info").is_visible() and page.locator("#idleWarn").is_hidden()
        page.clock.fast_forward(60_000)
        page.wait_for_selector("#idleWarn:not([hidden])")
        page.clock.fast_forward(21_000)
        page.wait_for_selector("#s-start:not([hidden])")


# --- it keeps working across a server restart ---------------------------------------------------

def test_kiosk_survives_restart(browser, live_server, screenshot_dir):
    with kiosk_page(browser, live_server) as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=pension]")
        card = page.locator("#serviceList [data-service=PEN-06]")
        card.wait_for()

        live_server.stop()
        page.wait_for_selector("#offline:not([hidden])", timeout=10000)
        assert "Temporarily" in page.locator("#offline").inner_text() or \
            "Müvəqqəti əlçatan deyil" in page.locator("#offline").inner_text()
        shot(page, screenshot_dir, "kiosk_az_offline")

        live_server.start()
        page.wait_for_selector("#offline", state="hidden", timeout=15000)
        # The socket is back: a ticket issued elsewhere shows up in the waiting count by itself.
        assert live_server.issue("PEN-06").status_code == 201
        page.wait_for_function(
            "() => document.querySelector('#serviceList [data-service=PEN-06]').innerText.includes('Növbədə: 1')",
            timeout=10000)
        card.tap()
        tap(page, "#takeBtn")
        tap(page, "#priorityNo")
        page.wait_for_selector("#s-ticket:not([hidden])")
        assert page.locator("#ticketNumber").inner_text() == "B-002"


def test_kiosk_not_set_up(browser, live_server, screenshot_dir):
    with kiosk_page(browser, live_server, token=None) as page:
        page.wait_for_selector("#s-setup:not([hidden])")
        text = page.locator("#s-setup").inner_text()
        for words in ("Bu terminal quraşdırılmayıb", "Этот киоск не настроен", "This kiosk is not set up"):
            assert words in text
        shot(page, screenshot_dir, "kiosk_not_set_up")
        # A token the server does not know is refused: the same screen, no ticket button.
        page.goto(live_server.url + "/kiosk/?token=k_not-a-real-token")
        page.wait_for_selector("#s-setup:not([hidden])", timeout=10000)
        assert page.locator("#startBtn").is_hidden()


# --- the citizen's status page ------------------------------------------------------------------

def test_status_page_turns_called(browser, live_server, screenshot_dir):
    first = live_server.issue("PEN-04", lang="ru").json()
    mine = live_server.issue("PEN-04", lang="ru").json()
    token = mine["status_url"].rsplit("/", 1)[1]
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(mine["status_url"])
        assert page.locator("html").get_attribute("lang") == "ru"
        assert page.locator("#number").inner_text() == mine["number"]
        assert "Перерасчёт пенсии" in page.locator("#service").inner_text()
        assert page.locator("#ahead").inner_text() == "1 чел."
        page.wait_for_selector("#live:not(.off)")
        shot(page, screenshot_dir, "status_ru_waiting")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        with live_server.login("op1") as op:
            assert op.post(live_server.url + "/api/counters/5/open", timeout=5).ok
            called = op.post(live_server.url + "/api/counters/5/call-next", timeout=5).json()
            assert called["number"] == first["number"]
            # Someone ahead was called: the page follows the hall.
            page.wait_for_function("() => document.getElementById('ahead').innerText === 'никого'", timeout=5000)
            assert op.post(live_server.url + "/api/counters/5/no-show", timeout=5).ok
            called = op.post(live_server.url + "/api/counters/5/call-next", timeout=5).json()
            assert called["number"] == mine["number"]
            page.wait_for_selector("#state.called", timeout=5000)
        text = page.locator("#state").inner_text()
        assert "Вас вызывают!" in text and "Подойдите к окну 5" in text
        assert page.locator("#cancelBox").is_hidden()
        shot(page, screenshot_dir, "status_ru_called")

        tap(page, ".langs a[lang=az]")
        page.wait_for_selector("html[lang=az]")
        assert "5 nömrəli masaya yaxınlaşın" in page.locator("#state").inner_text()
        shot(page, screenshot_dir, "status_az_called")
        assert token in page.url
    finally:
        context.close()


def test_status_page_cancel_and_unknown(browser, live_server, screenshot_dir):
    mine = live_server.issue("EMP-03", lang="az").json()
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(mine["status_url"])
        assert "Sizdən əvvəl" in page.locator("#facts").inner_text()
        tap(page, "#cancel")
        page.wait_for_selector("#confirm:not([hidden])")
        shot(page, screenshot_dir, "status_az_cancel_confirm")
        tap(page, "#cancelYes")
        page.wait_for_selector("#state[data-status=cancelled]", timeout=5000)
        assert "Bilet ləğv edilib." in page.locator("#state").inner_text()
        assert page.locator("#cancelBox").is_hidden()
        assert requests.get(live_server.url + "/api/status/" + mine["token"], timeout=5).json()["status"] == "cancelled"

        response = page.goto(live_server.url + "/t/no-such-ticket-here")
        assert response.status == 404
        assert "text/html" in response.headers["content-type"]
        text = page.locator("main").inner_text()
        for words in ("Bilet tapılmadı", "Талон не найден", "Ticket not found"):
            assert words in text
        shot(page, screenshot_dir, "status_404")
    finally:
        context.close()


# --- the status page's end states (issue 10) ----------------------------------------------------

# status → (ticket language, words of the state box, words of the closed mark)
END_STATES = {
    "done": ("az", "Xidmət başa çatıb. Təşəkkür edirik!", "Bilet bağlanıb — bu səhifə artıq yenilənmir"),
    "no_show": ("ru", "Вы не подошли по вызову; талон закрыт.", "Талон закрыт — страница больше не обновляется"),
    "cancelled": ("en", "The ticket was cancelled.", "Ticket closed — this page no longer updates"),
    "expired": ("az", "Bu bilet keçmiş günə aiddir", "Bilet bağlanıb — bu səhifə artıq yenilənmir"),
}
RECONNECTING = ("Əlaqə bərpa edilir…", "Восстанавливаем связь…", "Reconnecting…")


def expire_waiting_tickets(server: Any) -> int:
    """What the server does at the next day's start, done now on its database (a day later on the clock)."""
    import time

    from config import loader
    from server.core import housekeeping
    from server.store import SQLiteStore

    store = SQLiteStore(server.db, loader.load(server.center), clock=lambda: time.time() + server.offset + 86400)
    try:
        return housekeeping.expire_stale(store)
    finally:
        store.close()


def test_status_page_end_states(browser, live_server, screenshot_dir):
    """Done, no-show, cancelled and expired are final: their own message, never "reconnecting…"."""
    tickets = {st: live_server.issue("PEN-04", lang=lang).json() for st, (lang, _, _) in END_STATES.items()}
    pages: dict[str, Any] = {}
    try:
        for st, t in tickets.items():
            context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(t["status_url"])
            page.wait_for_selector("#live:not(.off)", timeout=10000)   # live while waiting
            pages[st] = (page, errors)

        with live_server.login("op1") as op:
            url = live_server.url + "/api/counters/5"
            assert op.post(url + "/open", timeout=5).ok
            assert op.post(url + "/call-next", timeout=5).json()["number"] == tickets["done"]["number"]
            assert op.post(url + "/finish", json={"outcome": "served"}, timeout=5).ok
            assert op.post(url + "/call-next", timeout=5).json()["number"] == tickets["no_show"]["number"]
            assert op.post(url + "/no-show", timeout=5).ok
        r = requests.post(live_server.url + "/api/status/" + tickets["cancelled"]["token"] + "/cancel", timeout=5)
        assert r.ok, r.text
        # The last one is still waiting when the day ends: the next day's start closes it.
        assert expire_waiting_tickets(live_server) == 1

        for st, (lang, words, closed) in END_STATES.items():
            page, errors = pages[st]
            if st == "expired":
                page.reload()   # the citizen opens the link the next day
            page.wait_for_selector(f"#state[data-status={st}]", timeout=5000)
        # Long enough for a socket to drop and a "reconnecting…" to show, were it still shown.
        pages["done"][0].wait_for_timeout(1500)
        for st, (lang, words, closed) in END_STATES.items():
            page, errors = pages[st]
            assert page.locator("html").get_attribute("lang") == lang
            state = page.locator("#state")
            assert words in state.inner_text()
            assert "over" in (state.get_attribute("class") or "")
            mark = page.locator("#live")
            assert mark.inner_text() == closed and "final" in (mark.get_attribute("class") or "")
            body = page.locator("body").inner_text()
            assert not any(w in body for w in RECONNECTING), body
            assert page.locator("#facts").is_hidden() and page.locator("#cancelBox").is_hidden()
            if st in ("no_show", "cancelled"):
                assert page.locator("#state .next").is_visible()   # what to do now: a new ticket
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            shot(page, screenshot_dir, f"status_{lang}_{st}")
            assert errors == [], errors
    finally:
        for page, _ in pages.values():
            page.context.close()
