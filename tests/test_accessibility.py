"""Accessibility: axe-core over every screen and state of the kiosk and the counter desk, in az/ru/en.

axe-core runs inside each page under the page's real Content-Security-Policy (see tests/axe_check.py:
it is loaded as a same-origin script that the browser context serves), with the WCAG 2.0/2.1/2.2 A and
AA rules pinned by name. Each state below is reached the way a citizen or an operator reaches it
(taps, keys, real server answers; a failing printer or network is simulated at the page's edge), and
must show 0 violations. The keyboard-only counter day is in the same file: the desk must never drop
focus to <body>, and must say which number it called.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from axe_check import assert_clean, check_pinned, serve_axe, violations, describe
from live import PASSWORDS
from test_kiosk_browser import box

pytestmark = pytest.mark.browser

KIOSK = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1366, "height": 768}
DESK = {"width": 1366, "height": 768}
# NOVBE_AXE_REPORT=1: list every state's violations instead of stopping at the first (for fixing).
REPORT = os.environ.get("NOVBE_AXE_REPORT") == "1"


class Axe:
    """Checks states one after another; in report mode collects instead of failing at once."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.states: list[str] = []

    def check(self, page: Any, where: str) -> None:
        self.states.append(where)
        if REPORT:
            v = violations(page)
            if v:
                self.found.append(f"{where}:\n{describe(v)}")
        else:
            assert_clean(page, where)

    def done(self) -> None:
        assert not self.found, "\n".join(self.found)


@pytest.fixture
def axe() -> Iterator[Axe]:
    a = Axe()
    yield a
    a.done()


@contextmanager
def kiosk(browser: Any, server: Any, *, viewport: dict[str, int] = KIOSK, token: bool = True,
          fake_clock: bool = True) -> Iterator[Any]:
    context = serve_axe(browser.new_context(viewport=viewport, has_touch=True, locale="az-AZ"))
    if fake_clock:
        context.clock.install()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.url + "/kiosk/" + (f"?token={server.kiosk_token()}" if token else ""))
        yield page
    finally:
        context.close()
    assert not errors, errors


def tap(page: Any, selector: str) -> None:
    page.locator(selector).first.tap()


def tap_to(page: Any, selector: str, screen: str) -> None:
    """Tap ``selector`` until the kiosk shows ``screen`` (three taps at most)."""
    target = page.locator(f"#s-{screen}:not([hidden])")
    for _ in range(3):
        if target.count():
            return
        tap(page, selector)
        try:
            target.wait_for(timeout=5000)
            return
        except Exception:   # noqa: BLE001 - looked at again above
            continue
    raise AssertionError(f"{selector} never led to the {screen} screen")


def loaded(page: Any) -> None:
    page.wait_for_function("() => document.querySelector('#s-start') && !document.querySelector('#s-start').hidden")
    page.wait_for_function("() => JSON.parse(localStorage.getItem('novbe.kiosk.services') || 'null') !== null")


def visible(page: Any, screen: str) -> None:
    page.wait_for_selector(f"#s-{screen}:not([hidden])")


# --- the kiosk ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_kiosk_every_screen(browser, live_server, axe, lang):
    """Start, areas, services, information, priority, ticket, search (both layouts), the timeout
    warning, every kind of message, the busy overlay and the offline banner: 0 violations."""
    with kiosk(browser, live_server) as page:
        loaded(page)
        check_pinned(page)
        if lang != "az":
            tap(page, f"#langBig [data-lang={lang}]")
        axe.check(page, f"kiosk {lang} start")
        tap(page, "#startBtn")
        visible(page, "areas")
        axe.check(page, f"kiosk {lang} areas")
        tap(page, "[data-area=employment]")
        page.wait_for_selector("#serviceList [data-service]")
        axe.check(page, f"kiosk {lang} services")
        tap(page, "#serviceList [data-service=EMP-01]")
        visible(page, "info")
        axe.check(page, f"kiosk {lang} info")
        tap(page, "#takeBtn")
        visible(page, "priority")
        axe.check(page, f"kiosk {lang} priority")

        # The busy overlay while the ticket is issued (the answer held back a moment).
        release: list[Any] = []
        page.route("**/api/tickets", lambda route: release.append(route))
        tap(page, "#priorityNo")
        page.wait_for_selector("#busy:not([hidden])")
        axe.check(page, f"kiosk {lang} busy")
        page.wait_for_function("() => true")
        while not release:
            page.wait_for_timeout(20)
        release[0].continue_()
        page.unroute("**/api/tickets")
        visible(page, "ticket")
        page.wait_for_function("() => document.getElementById('ticketQr').naturalWidth > 0")
        axe.check(page, f"kiosk {lang} ticket")
        tap(page, "#doneBtn")
        visible(page, "start")

        # Search, Latin and Cyrillic keyboards, with results and with none.
        if lang != "az":
            tap(page, f"#langBig [data-lang={lang}]")
        tap(page, "#startBtn")
        tap(page, "#searchBtn")
        visible(page, "search")
        axe.check(page, f"kiosk {lang} search empty")
        for ch in "PENS":
            tap(page, f"#keyboard [data-key='{ch}']")
        page.wait_for_selector("#results [data-service]")
        axe.check(page, f"kiosk {lang} search results")
        tap(page, "#keyboard [data-key=layout]")
        tap(page, "#keyboard [data-key='Ж']")
        axe.check(page, f"kiosk {lang} search cyrillic, nothing found")

        # A message: the service is full (with the next opening), and the server unreachable.
        tap(page, "#homeBtn")
        for name, route in (
                ("full", lambda r: r.fulfill(status=409, json={"ok": False, "error": "capacity_reached", "scope": "service",
                                                               "message": "full", "next_opening": "2031-06-02T09:00:00+04:00"})),
                ("unreachable", lambda r: r.abort("connectionrefused"))):
            if lang != "az":
                tap(page, f"#langBig [data-lang={lang}]")
            tap(page, "#startBtn")
            tap(page, "[data-area=employment]")
            tap(page, "#serviceList [data-service=EMP-02]")
            page.route("**/api/tickets", route)
            tap(page, "#takeBtn")
            if page.locator("#s-priority").is_visible():
                tap(page, "#priorityNo")
            page.wait_for_selector("#modal:not([hidden])")
            axe.check(page, f"kiosk {lang} message {name}")
            page.unroute("**/api/tickets")
            tap(page, "#modalOk")
            tap(page, "#homeBtn")
        visible(page, "start")


def test_kiosk_setup_and_offline(browser, live_server, axe):
    with kiosk(browser, live_server, token=False) as page:
        visible(page, "setup")
        axe.check(page, "kiosk not set up")
    with kiosk(browser, live_server) as page:
        loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=pension]")
        page.wait_for_selector("#serviceList [data-service]")
        live_server.stop()
        page.wait_for_selector("#offline:not([hidden])", timeout=10000)
        axe.check(page, "kiosk offline banner")
        live_server.start()


def test_kiosk_timeout_warning_more_time(browser, live_server, axe):
    """WCAG 2.2.1: a screen left alone asks first, for 20 s, with "more time"; information screens wait longer."""
    with kiosk(browser, live_server) as page:
        loaded(page)
        tap(page, "#startBtn")
        visible(page, "areas")
        page.clock.fast_forward(29_000)
        assert page.locator("#idleWarn").is_hidden()
        page.clock.fast_forward(2_000)
        warn = page.locator("#idleWarn")
        warn.wait_for(state="visible")
        assert page.get_by_role("alertdialog", name="Əlavə vaxt lazımdırmı?").is_visible()
        assert page.evaluate("() => document.activeElement.id") == "idleMore"      # focus moved into it
        assert "saniyədən sonra" in warn.inner_text()
        assert page.evaluate("() => document.getElementById('main').inert")       # the page behind is out of reach
        axe.check(page, "kiosk idle warning")
        page.clock.fast_forward(15_000)                                           # still asking after 15 s
        assert warn.is_visible() and page.locator("#s-areas").is_visible()
        tap(page, "#idleMore")                                                    # more time: the same screen, the same place
        assert warn.is_hidden() and page.locator("#s-areas").is_visible()
        assert not page.evaluate("() => document.getElementById('main').inert")
        page.clock.fast_forward(25_000)
        assert warn.is_hidden()
        page.clock.fast_forward(6_000)
        warn.wait_for(state="visible")
        page.clock.fast_forward(21_000)                                           # no answer: back to the start
        visible(page, "start")
        assert warn.is_hidden()

        # A service's information (the documents to bring) is read slowly: 90 s before asking.
        tap(page, "#startBtn")
        tap(page, "[data-area=employment]")
        tap(page, "#serviceList [data-service=EMP-01]")
        visible(page, "info")
        page.clock.fast_forward(85_000)
        assert warn.is_hidden()
        page.clock.fast_forward(6_000)
        warn.wait_for(state="visible")
        tap(page, "#idleRestart")                                                 # or start over at once
        visible(page, "start")


def test_kiosk_dialog_focus_labels_and_next_citizen(browser, live_server, axe):
    """The error dialog has a name and takes the focus (and gives it back); the QR code and ⌫ are named;
    the next citizen gets the Latin keyboard back."""
    with kiosk(browser, live_server) as page:
        loaded(page)
        tap(page, "#langBig [data-lang=en]")
        tap(page, "#startBtn")
        tap(page, "#searchBtn")
        assert page.get_by_role("button", name="Delete the last letter").count() == 1
        tap(page, "#keyboard [data-key=layout]")
        assert page.locator("#keyboard [data-key='Ж']").count() == 1
        tap(page, "#homeBtn")
        tap(page, "#startBtn")
        tap(page, "#searchBtn")
        assert page.locator("#keyboard [data-key='Ə']").count() == 1                # Latin again
        assert page.get_by_role("button", name="Son hərfi sil").count() == 1       # and Azerbaijani
        tap(page, "#homeBtn")

        tap(page, "#startBtn")
        tap(page, "[data-area=labour]")
        tap(page, "#serviceList [data-service].card:not(.disabled)")
        visible(page, "info")
        page.route("**/api/tickets", lambda r: r.fulfill(status=429, json={"ok": False, "error": "rate_limited",
                                                                            "message": "too many"}))
        page.locator("#takeBtn").focus()
        tap(page, "#takeBtn")
        if page.locator("#s-priority").is_visible():
            page.locator("#priorityNo").focus()
            tap(page, "#priorityNo")
        dialog = page.get_by_role("alertdialog", name="Bir az gözləyin")
        dialog.wait_for()
        assert page.evaluate("() => document.activeElement.id") == "modalOk"
        assert page.evaluate("() => document.getElementById('main').inert")
        before = page.evaluate("() => document.getElementById('s-priority').hidden ? 'takeBtn' : 'priorityNo'")
        tap(page, "#modalOk")
        assert page.evaluate("() => document.activeElement.id") == before        # back where the citizen was
        page.unroute("**/api/tickets")

        if page.locator("#s-priority").is_visible():
            tap(page, "#priorityNo")
        else:
            tap(page, "#takeBtn")
        visible(page, "ticket")
        qr = page.get_by_role("img", name="Növbənizi telefonda izləmək üçün QR kod")
        assert qr.count() == 1
        assert page.evaluate("() => document.activeElement.closest('h1') !== null")   # the number's heading


def test_kiosk_shehid_area_does_not_ask(browser, live_server, axe):
    """Inside the şəhid families' and qazi area the kiosk does not ask whether the citizen belongs to that
    group: the ticket carries it (it ranks first, so no other group is asked about either)."""
    with kiosk(browser, live_server) as page:
        loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=coordination]")
        tap(page, "#serviceList [data-service=VEM-02]")
        visible(page, "info")
        tap(page, "#takeBtn")
        visible(page, "ticket")
        assert "Şəhid ailələri və qazilər" in page.locator("#ticketPriority").inner_text()
        number = page.locator("#ticketNumber").inner_text()
        with live_server.login("boss") as s:
            waiting = s.get(live_server.url + "/api/staff/snapshot", timeout=5).json()["waiting"]
        assert next(t for t in waiting if t["number"] == number)["priority"] == "shehid-qazi"
        axe.check(page, "kiosk az ticket of the coordination area")
        # Elsewhere the question is asked, that group included.
        tap(page, "#doneBtn")
        tap(page, "#startBtn")
        tap(page, "[data-area=pension]")
        tap(page, "#serviceList [data-service=PEN-01]")
        tap(page, "#takeBtn")
        visible(page, "priority")
        assert page.locator("#groupList [data-group=shehid-qazi]").count() == 1


def test_kiosk_reduced_motion(browser, live_server):
    """prefers-reduced-motion: the busy spinner and the search caret stand still."""
    context = browser.new_context(viewport=KIOSK, has_touch=True, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(live_server.url + f"/kiosk/?token={live_server.kiosk_token()}")
        loaded(page)
        page.evaluate("() => { document.getElementById('busy').hidden = false; }")
        assert page.evaluate("() => getComputedStyle(document.querySelector('.spinner')).animationName") == "none"
        assert page.evaluate("() => getComputedStyle(document.querySelector('.caret')).animationName") == "none"
    finally:
        context.close()
    context = browser.new_context(viewport=KIOSK, has_touch=True)
    try:
        page = context.new_page()
        page.goto(live_server.url + f"/kiosk/?token={live_server.kiosk_token()}")
        loaded(page)
        assert page.evaluate("() => getComputedStyle(document.querySelector('.spinner')).animationName") == "spin"
    finally:
        context.close()


# --- the kiosk in other shapes: landscape and 200 % zoom ------------------------------------------

# name → (CSS viewport, device pixels per CSS pixel). Browser zoom at 200 % is the same screen with half
# the CSS pixels, each drawn twice as large: a 1080×1920 kiosk at 200 % lays out in 540×960.
SHAPES = {
    "portrait": ({"width": 1080, "height": 1920}, 1),
    "landscape": ({"width": 1366, "height": 768}, 1),
    "portrait-200": ({"width": 540, "height": 960}, 2),
    "landscape-200": ({"width": 683, "height": 384}, 2),
}

LAYOUT = """() => {
    const vw = document.documentElement.clientWidth, vh = window.innerHeight;
    const rect = (el) => el.getBoundingClientRect();
    const shown = (el) => el.offsetParent !== null || getComputedStyle(el).position === "fixed";
    const main = rect(document.getElementById("main"));
    const nav = document.getElementById("nav");
    const out = [];
    for (const b of document.querySelectorAll("button, .card")) {
        if (!shown(b)) continue;
        const r = rect(b);
        if (r.left < -1 || r.right > vw + 1) out.push("clipped sideways: " + (b.id || b.dataset.key || b.dataset.area || b.dataset.service || b.textContent.trim().slice(0, 20)));
    }
    return { overflowX: document.documentElement.scrollWidth > vw + 1 || document.getElementById("main").scrollWidth > vw + 1,
             out, mainBottom: main.bottom, navTop: nav.hidden ? null : rect(nav).top, vh,
             mainScrolls: document.getElementById("main").scrollHeight > document.getElementById("main").clientHeight + 24 };
}"""


def layout(page: Any, where: str) -> dict[str, Any]:
    page.wait_for_timeout(80)   # the "more below" strip follows on the next frame
    got = page.evaluate(LAYOUT)
    assert not got["overflowX"], f"{where}: the page scrolls sideways"
    assert not got["out"], f"{where}: {got['out']}"
    if got["navTop"] is not None:
        assert got["mainBottom"] <= got["navTop"] + 1, f"{where}: the screen runs under the navigation bar"
    return got


@pytest.mark.parametrize("shape", list(SHAPES))
def test_kiosk_shapes(browser, live_server, screenshot_dir, axe, shape):
    """Portrait, landscape and 200 % zoom: nothing cut off sideways or hidden under the navigation bar,
    "get the ticket" always in sight, search results beside or under the keyboard with room to read,
    a "more below" strip whenever a screen has more below the fold; screenshots of every screen."""
    viewport, scale = SHAPES[shape]
    context = serve_axe(browser.new_context(viewport=viewport, device_scale_factor=scale, has_touch=True))
    context.clock.install()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def shot(name: str) -> None:
        page.wait_for_timeout(60)
        page.screenshot(path=str(screenshot_dir / f"kiosk_shape_{shape}_{name}.png"))

    def hint_matches(where: str) -> None:
        got = layout(page, where)
        box = "results" if page.locator("#s-search").is_visible() and page.evaluate(
            "() => { const r = document.getElementById('results'); return r.scrollHeight > r.clientHeight + 1; }") else "main"
        more = page.evaluate(f"() => {{ const b = document.getElementById('{box}'); return b.scrollHeight - b.clientHeight - b.scrollTop > 24; }}")
        assert page.locator("#moreHint").is_visible() == more, f"{where}: the 'more below' strip disagrees ({box})"
        return got

    try:
        page.goto(live_server.url + f"/kiosk/?token={live_server.kiosk_token()}")
        loaded(page)
        tap(page, "#langBig [data-lang=en]")
        hint_matches("start")
        lang_box = box(page.locator("#langs [data-lang=en]"))
        assert lang_box["x"] + lang_box["width"] <= viewport["width"]            # the EN button is whole
        shot("1_start")
        axe.check(page, f"kiosk {shape} start")

        tap(page, "#startBtn")
        visible(page, "areas")
        hint_matches("areas")
        if page.locator("#moreHint").is_visible():
            # The last area (the şəhid families' and qazi desk) is below the fold, and the strip says so.
            last = box(page.locator("[data-area=coordination]"))
            assert last["y"] + last["height"] > page.evaluate("() => document.getElementById('main').getBoundingClientRect().bottom")
            before = page.evaluate("() => document.getElementById('main').scrollTop")
            tap(page, "#moreHint")
            page.wait_for_function("(y) => document.getElementById('main').scrollTop > y", arg=before)
        shot("2_areas")
        axe.check(page, f"kiosk {shape} areas")

        page.locator("[data-area=employment]").scroll_into_view_if_needed()
        tap(page, "[data-area=employment]")
        page.wait_for_selector("#serviceList [data-service]")
        hint_matches("services")
        shot("3_services")
        tap(page, "#serviceList [data-service=EMP-01]")
        visible(page, "info")
        hint_matches("info")
        take = box(page.locator("#takeBtn"))
        main_bottom = page.evaluate("() => document.getElementById('main').getBoundingClientRect().bottom")
        assert take["y"] >= 0 and take["y"] + take["height"] <= main_bottom + 1, "'get the ticket' is out of sight"
        shot("4_info")
        axe.check(page, f"kiosk {shape} info")

        tap(page, "#takeBtn")
        visible(page, "priority")
        hint_matches("priority")
        shot("5_priority")
        page.locator("#priorityNo").scroll_into_view_if_needed()
        tap(page, "#priorityNo")
        visible(page, "ticket")
        page.wait_for_function("() => document.getElementById('ticketQr').naturalWidth > 0")
        layout(page, "ticket")
        number = box(page.locator("#ticketNumber"))
        assert number["x"] >= 0 and number["x"] + number["width"] <= viewport["width"]
        shot("6_ticket")
        axe.check(page, f"kiosk {shape} ticket")
        page.locator("#doneBtn").scroll_into_view_if_needed()
        tap(page, "#doneBtn")
        visible(page, "start")
        tap(page, "#langBig [data-lang=en]")
        # Once, on a loaded CI machine, the search button was never visible here: the screen before it had
        # not come. This test is about layout, so each tap waits for the screen it leads to and a lost tap
        # is made again (at most twice), as a citizen would.
        tap_to(page, "#startBtn", "areas")
        tap_to(page, "#searchBtn", "search")
        for ch in "PEN":
            # tap() scrolls the key into view itself and retries if the keyboard is redrawn meanwhile
            # (a separate scroll_into_view_if_needed() could meet a key detached by that redraw).
            tap(page, f"#keyboard [data-key='{ch}']")
        page.wait_for_selector("#results [data-service]")
        hint_matches("search")
        results = page.evaluate("() => { const r = document.getElementById('results'); return [r.clientHeight, r.scrollHeight]; }")
        assert min(results) >= 120, f"search results squeezed to {results[0]} px"
        shot("7_search")
        axe.check(page, f"kiosk {shape} search")
    finally:
        context.close()
    assert not errors, errors


# --- the counter desk -------------------------------------------------------------------------------

@contextmanager
def staff_page(browser: Any, server: Any, path: str = "/counter/", *, viewport: dict[str, int] = DESK,
               scale: int = 1) -> Iterator[Any]:
    context = serve_axe(browser.new_context(viewport=viewport, device_scale_factor=scale, locale="az-AZ"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.url + path)
        yield page
    finally:
        context.close()
    assert not errors, errors


def focused(page: Any) -> str:
    """What has the keyboard focus, as a short description ('' for nothing, i.e. <body>)."""
    return page.evaluate("""() => { const a = document.activeElement;
        if (!a || a === document.body) return "";
        return a.id ? "#" + a.id : a.tagName.toLowerCase() + (a.dataset.act ? "[data-act=" + a.dataset.act + "]" : "")
            + (a.dataset.answer ? "[data-answer=" + a.dataset.answer + "]" : "") + (a.name ? "[name=" + a.name + "]" : ""); }""")


def wait_focus(page: Any, want: str, what: str) -> None:
    """The focus lands on ``want`` (a selector) and stays off <body>."""
    try:
        page.wait_for_function("(sel) => document.activeElement && document.activeElement.matches(sel)", arg=want,
                               timeout=5000)
    except Exception:
        raise AssertionError(f"{what}: focus on {focused(page)!r}, expected {want}") from None


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_counter_every_state(browser, live_server, axe, lang):
    """Login, counter picker, the desk empty / called / serving / paused / with a parked ticket / closed,
    the confirm, transfer and pause dialogs and an error toast: 0 violations, in each language."""
    for _ in range(3):
        assert live_server.issue("EMP-01").status_code == 201
    with staff_page(browser, live_server) as page:
        page.locator("#login-form").wait_for()
        check_pinned(page)
        if lang != "az":
            page.click(f".lang button[data-lang={lang}]")
        axe.check(page, f"counter {lang} login")
        page.fill("#login-form input[name=username]", "op1")
        page.fill("#login-form input[name=password]", "wrong")
        page.click("#login-form button[type=submit]")
        page.locator("#login-error:not(:empty)").wait_for()
        axe.check(page, f"counter {lang} login refused")
        page.fill("#login-form input[name=password]", PASSWORDS["op1"])
        page.click("#login-form button[type=submit]")
        page.locator("#picker button[data-counter='1']").wait_for()
        axe.check(page, f"counter {lang} picker")
        page.click("#picker button[data-counter='1']")
        page.locator("button[data-act=call-next]:not(:disabled)").wait_for()
        axe.check(page, f"counter {lang} desk open")
        page.click("button[data-act=call-next]")
        page.locator("#current-number").wait_for()
        axe.check(page, f"counter {lang} ticket called")
        page.click("button[data-act=no-show]")
        page.locator("#confirm-dialog[open]").wait_for()
        axe.check(page, f"counter {lang} confirm dialog")
        page.click("#confirm-dialog [data-answer=no]")
        page.click("button[data-act=start]")
        page.locator(".ticket.serving").wait_for()
        axe.check(page, f"counter {lang} serving")
        page.click("button[data-act=transfer]")
        page.locator("#transfer-dialog[open] select[name=service] optgroup").first.wait_for(state="attached")
        axe.check(page, f"counter {lang} transfer dialog")
        page.click("#transfer-dialog [data-cancel]")
        page.click("button[data-act=park]")
        page.locator("#parked li").first.wait_for()
        axe.check(page, f"counter {lang} parked")
        page.click("#parked button[data-return]")
        page.locator("#current-number").wait_for()
        page.click("button[data-act=finish] >> nth=0")
        page.locator(".ticket.empty").wait_for()
        page.evaluate("() => Novbe.api('POST', '/api/counters/1/recall').catch(Novbe.showError)")
        page.locator(".toast.error").wait_for()
        axe.check(page, f"counter {lang} error toast")
        page.click("button[data-act=pause]")
        page.locator("#pause-dialog[open]").wait_for()
        axe.check(page, f"counter {lang} pause dialog")
        page.click("#pause-dialog button[data-reason] >> nth=0")
        page.locator(".ticket.paused").wait_for()
        axe.check(page, f"counter {lang} paused")
        page.click("button[data-act=resume]")
        page.click("button[data-act=close]")
        page.click("#confirm-dialog [data-answer=yes]")
        page.locator("button[data-act=open]").wait_for()
        axe.check(page, f"counter {lang} closed")


def test_question_reopened_at_once_stays_open(browser, live_server):
    """A question closed and asked again before the browser delivers the first one's "close" event (a
    second Alt+N right after Escape) stays open and is answered by its own buttons: the late event of the
    first opening neither closes the new one nor answers it (CI saw the second Alt+N close at once)."""
    with staff_page(browser, live_server) as page:
        page.locator("#login-form").wait_for()
        state = page.evaluate("""async () => {
            const dlg = document.getElementById("confirm-dialog");
            const first = Novbe.confirm({ title: "1" });
            dlg.close();                                   // Escape: the "close" event is only queued
            const second = Novbe.confirm({ title: "2" });      // asked again before it is delivered
            await new Promise((r) => setTimeout(r, 50));
            const openAfter = dlg.open;
            dlg.querySelector("[data-answer=yes]").click();
            return { first: await first, second: await second, openAfter };
        }""")
        assert state == {"first": False, "second": True, "openAfter": True}


def test_counter_keyboard_only_day(browser, live_server, screenshot_dir):
    """A whole counter day without a mouse: log in, pick and open a counter, call, recall, start, transfer,
    no-show, park and take back, finish, pause and resume, close. After every action and every dialog the
    focus is on the control acted on or on the new ticket, never on <body>; the called number is announced;
    F5 finishes a ticket and never reloads the page, even from a dialog's text field."""
    first = live_server.issue("EMP-01").json()["number"]
    second = live_server.issue("EMP-01").json()["number"]
    third = live_server.issue("EMP-02").json()["number"]
    with staff_page(browser, live_server) as page:
        kb = page.keyboard
        page.locator("#login-form").wait_for()
        wait_focus(page, "#login-form input[name=username]", "login")      # typing can start at once
        kb.type("op1")
        kb.press("Tab")
        kb.type(PASSWORDS["op1"])
        kb.press("Enter")
        page.locator("#picker button[data-counter]").first.wait_for()
        wait_focus(page, "#picker button.pick", "counter picker")
        page.evaluate("() => { window.__sameDocument = true; }")          # gone if the page ever reloads
        # Counter 1 is the first; the focus is on it.
        assert page.evaluate("() => document.activeElement.dataset.counter") == "1"
        kb.press("Enter")
        page.locator("button[data-act=call-next]:not(:disabled)").wait_for()
        wait_focus(page, "button[data-act=call-next]", "desk opened")
        page.screenshot(path=str(screenshot_dir / "counter_keyboard_1_open.png"))

        def announced(number: str) -> None:
            page.wait_for_function("(n) => document.getElementById('desk-announce').textContent.includes(n)",
                                   arg=number, timeout=5000)

        # Call next (Enter on the focused button): the focus moves to the new ticket; it is announced.
        kb.press("Enter")
        page.locator("#current-number", has_text=first).wait_for()
        wait_focus(page, "#current-number", "after call next")
        announced(first)
        assert page.get_by_role("status").filter(has_text=first).count() >= 1
        page.screenshot(path=str(screenshot_dir / "counter_keyboard_2_called.png"))

        # Recall (F3): still on the ticket, and said again.
        kb.press("F3")
        page.locator(".recalls", has_text="1/").wait_for()
        wait_focus(page, "#current-number", "after recall")
        page.wait_for_function("() => /Təkrar/.test(document.getElementById('desk-announce').textContent)")

        # Start (F4), then transfer (Alt+T): the dialog takes the focus, the keyboard fills it in.
        kb.press("F4")
        page.locator(".ticket.serving").wait_for()
        wait_focus(page, "#current-number", "after start")
        kb.press("Alt+t")
        page.locator("#transfer-dialog[open]").wait_for()
        wait_focus(page, "#transfer-dialog select[name=service]", "transfer dialog")
        kb.press("ArrowDown")                                               # the first service of the list
        assert page.evaluate("() => document.querySelector('#transfer-dialog select[name=service]').value") != ""
        page.locator("#transfer-dialog textarea").focus()
        kb.type("Sənədlər")
        kb.press("F5")                                                      # F5 in a text field: no reload
        assert page.evaluate("() => window.__sameDocument === true")
        assert page.locator("#transfer-dialog[open]").count() == 1
        page.locator("#transfer-dialog button[type=submit]").focus()
        kb.press("Enter")
        page.locator(".ticket.empty").wait_for()
        wait_focus(page, "button[data-act=call-next]", "after transfer")

        # No-show (Alt+N) asks first: the focus is on "no"; Tab to "yes", Enter.
        kb.press("F2")
        page.locator("#current-number", has_text=second).wait_for()
        announced(second)
        kb.press("Alt+n")
        page.locator("#confirm-dialog[open]").wait_for()
        wait_focus(page, "#confirm-dialog [data-answer=no]", "no-show question")
        kb.press("Escape")                                                  # changed my mind
        page.locator("#confirm-dialog[open]").wait_for(state="detached")
        wait_focus(page, "#current-number", "after cancelling the no-show")
        kb.press("Alt+n")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        wait_focus(page, "#confirm-dialog [data-answer=yes]", "no-show: yes")
        kb.press("Enter")
        page.locator(".ticket.empty").wait_for()
        page.locator("#fig-noshow", has_text="1").wait_for()
        wait_focus(page, "button[data-act=call-next]", "after no-show")

        # Park (Alt+P) and take back (Enter on the parked ticket's button), then finish with F5.
        kb.press("F2")
        page.locator("#current-number").wait_for()
        called = page.locator("#current-number").inner_text()
        assert called in (first, third)       # the transferred one may have gone to a service counter 1 serves
        kb.press("Alt+p")
        page.locator(f"#parked li[data-number='{called}']").wait_for()
        wait_focus(page, "button[data-act=call-next]", "after park (another citizen waits)")
        for _ in range(30):                                                 # Tab along to the parked ticket
            kb.press("Tab")
            if page.evaluate("() => document.activeElement.matches('#parked button[data-return]')"):
                break
        wait_focus(page, "#parked button[data-return]", "tabbing to the parked ticket")
        kb.press("Enter")
        page.locator("#current-number", has_text=called).wait_for()
        wait_focus(page, "#current-number", "after taking back")
        kb.press("F5")
        page.locator("#fig-served", has_text="1").wait_for()
        assert page.evaluate("() => window.__sameDocument === true")
        wait_focus(page, "#current-number, button[data-act=call-next]", "after finish")
        while page.locator("button[data-act=call-next]:not(:disabled)").count():   # finish whoever is left
            kb.press("F2")
            page.locator("#current-number").wait_for()
            kb.press("F5")
            page.locator(".ticket.empty").wait_for()
        wait_focus(page, "#desk, button[data-act=pause]", "after the last finish (nobody waiting)")

        # Pause (Alt+B): a reason from the list by keyboard; F5 inside the dialog does not reload.
        kb.press("Alt+b")
        page.locator("#pause-dialog[open]").wait_for()
        kb.press("F5")
        assert page.evaluate("() => window.__sameDocument === true")
        wait_focus(page, "#pause-dialog button[data-reason]", "pause dialog")
        kb.press("Enter")
        page.locator(".ticket.paused").wait_for()
        wait_focus(page, "button[data-act=resume]", "after pause")
        page.screenshot(path=str(screenshot_dir / "counter_keyboard_3_paused.png"))
        kb.press("Enter")
        page.locator(".ticket.empty").wait_for()
        wait_focus(page, "button[data-act=pause]", "after resume")

        # Close (Alt+C) after a confirmation.
        kb.press("Alt+c")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        kb.press("Enter")
        page.locator("button[data-act=open]").wait_for()
        wait_focus(page, "button[data-act=open]", "after close")
        assert page.evaluate("() => window.__sameDocument === true")


def test_counter_zoom_200(browser, live_server, screenshot_dir, axe):
    """A 1366×768 counter screen at 200 %: transfer, park and pause stay reachable by scrolling."""
    live_server.issue("EMP-01")
    with staff_page(browser, live_server, viewport={"width": 683, "height": 384}, scale=2) as page:
        page.locator("#login-form").wait_for()
        page.fill("#login-form input[name=username]", "op1")
        page.fill("#login-form input[name=password]", PASSWORDS["op1"])
        page.click("#login-form button[type=submit]")
        page.click("#picker button[data-counter='1']")
        page.locator("button[data-act=call-next]:not(:disabled)").click()
        page.locator("#current-number").wait_for()
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 683
        for act in ("transfer", "park", "pause", "close"):
            # In one step: the desk redraws itself on every live update, which may replace the button.
            box = page.evaluate("""(act) => { const b = document.querySelector(`button[data-act=${act}]`);
                b.scrollIntoView({ block: "nearest" }); return b.getBoundingClientRect().toJSON(); }""", act)
            assert box["y"] >= -1 and box["y"] + box["height"] <= 385 and box["x"] + box["width"] <= 684, act
        page.screenshot(path=str(screenshot_dir / "counter_zoom_200.png"), full_page=True)
        axe.check(page, "counter at 200 %")


# --- second pass: the hall board and the citizen's status page ------------------------------------

def test_board_and_status_page(browser, live_server, axe):
    """The board at 1920×1080 idle and with a call on it; the status page (waiting, called, unknown) in az/ru/en."""
    tickets = {lang: live_server.issue("PEN-04", lang=lang).json() for lang in ("az", "ru", "en")}
    context = serve_axe(browser.new_context(viewport={"width": 1920, "height": 1080}))
    try:
        board = context.new_page()
        board.goto(f"{live_server.url}/display/?board=hall-1&token={live_server.display_token('hall-1')}")
        board.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
        axe.check(board, "board idle")
        phone = serve_axe(browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True))
        try:
            status = phone.new_page()
            for lang, t in tickets.items():
                status.goto(t["status_url"])
                status.wait_for_selector("#live:not(.off)")
                axe.check(status, f"status page {lang} waiting")
            with live_server.login("op1") as op:
                assert op.post(live_server.url + "/api/counters/5/open", timeout=5).ok
                called = op.post(live_server.url + "/api/counters/5/call-next", timeout=5).json()["number"]
            board.wait_for_function("(n) => (document.body.innerText || '').includes(n)", arg=called, timeout=5000)
            axe.check(board, "board with a call")
            mine = next(t for t in tickets.values() if t["number"] == called)
            status.goto(mine["status_url"])
            status.wait_for_selector("#state.called", timeout=5000)
            axe.check(status, "status page called")
            status.goto(live_server.url + "/t/no-such-ticket-here")
            axe.check(status, "status page unknown ticket")
        finally:
            phone.close()
    finally:
        context.close()


# --- the supervisor view: every tab by keyboard ---------------------------------------------------

def test_supervisor_view_by_keyboard(browser, live_server, axe):
    """Counter rows selectable with the keyboard, tabs with tab roles and selected state moved by the
    arrow keys, every tab passing the pinned rules."""
    for _ in range(2):
        assert live_server.issue("EMP-01").status_code == 201
    with staff_page(browser, live_server, "/counter/supervisor") as page:
        page.locator("#login-form").wait_for()
        page.fill("#login-form input[name=username]", "boss")
        page.fill("#login-form input[name=password]", PASSWORDS["boss"])
        page.click("#login-form button[type=submit]")
        page.locator("#counters tr[data-counter='3']").wait_for()
        axe.check(page, "supervisor queues")
        # A counter row, reached and chosen with the keyboard alone.
        page.focus("#counters tr[data-counter='3']")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector(\"#counters tr[data-counter='3']\")"
                               ".getAttribute('aria-current') === 'true'", timeout=5000)
        wait_focus(page, "#counters tr[data-counter='3']", "after choosing a counter row")
        # The tabs: one selected, the arrow keys move the selection and show its panel.
        page.focus("#tabbtn-queues")
        for name in ("over", "printers", "audit", "devices"):
            page.keyboard.press("ArrowRight")
            wait_focus(page, f"#tabbtn-{name}", f"tab {name}")
            assert page.get_attribute(f"#tabbtn-{name}", "aria-selected") == "true"
            assert page.locator(f"#tab-{name}").is_visible()
            assert page.get_attribute("#tabbtn-queues", "aria-selected") == "false"
            axe.check(page, f"supervisor {name}")
        page.keyboard.press("ArrowRight")                     # wraps round to the first
        wait_focus(page, "#tabbtn-queues", "tabs wrap")
