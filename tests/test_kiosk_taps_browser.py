"""Double taps and ghost clicks at the kiosk, with real touch in Chromium against a real server: a tap that comes
right after the screen changed is ignored on the new screen (the second tap of a double tap on "get the ticket"
used to land on a priority group and issue a priority ticket the citizen never chose), a deliberate tap after
the guard time still works, and one tap sequence never asks for two tickets."""
from __future__ import annotations

import json
from typing import Any

import pytest

from test_kiosk_browser import box, kiosk_page, shot, tap, wait_loaded

pytestmark = pytest.mark.browser

GUARD_S = 0.5          # kiosk.js's TAP_GUARD_MS
DOUBLE_TAP_MS = 150    # what the tester's double tap measured; Chromium pairs touch taps up to ~300 ms into a dblclick


def screen(page: Any) -> str:
    return page.evaluate("() => document.body.dataset.screen")


def settle(page: Any) -> None:
    """Wait out the guard of the last screen change: what follows is a deliberate tap."""
    page.wait_for_timeout(GUARD_S * 1000 + 150)


def centre(page: Any, selector: str) -> tuple[float, float]:
    b = box(page.locator(selector).first)
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


def double_tap(page: Any, selector: str, gap_ms: int = DOUBLE_TAP_MS) -> None:
    """Two real touch taps at the middle of the element, gap_ms apart (a citizen's double tap)."""
    x, y = centre(page, selector)
    page.touchscreen.tap(x, y)
    page.wait_for_timeout(gap_ms)
    page.touchscreen.tap(x, y)
    page.wait_for_timeout(GUARD_S * 1000 + 300)   # anything the second tap started has happened by now


def posts(page: Any) -> list[dict[str, Any]]:
    """The ticket requests the page sends, as they are sent."""
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith("/api/tickets") else None)
    return sent


def to_pension_info(page: Any) -> None:
    """From the start screen to PEN-04's information screen, a deliberate tap at a time."""
    for selector, then in (("#startBtn", "areas"), ("[data-area=pension]", "services"),
                           ("#serviceList [data-service=PEN-04]", "info")):
        settle(page)
        tap(page, selector)
        page.wait_for_function(f"() => document.body.dataset.screen === '{then}'")


def test_a_double_tap_on_take_shows_the_priority_question_and_issues_nothing(browser, live_server, screenshot_dir):
    with kiosk_page(browser, live_server) as page:
        sent = posts(page)
        wait_loaded(page)
        assert page.locator("#closedNote").is_hidden()     # 10:00, every service open: the start screen says nothing
        to_pension_info(page)
        settle(page)
        # The layout's own safeguard: no priority group sits under "get the ticket".
        take = box(page.locator("#takeBtn"))
        double_tap(page, "#takeBtn")
        assert screen(page) == "priority"                  # the question is asked...
        assert sent == []                                  # ...and nothing was issued, ordinary or not
        assert page.locator("#s-ticket").is_hidden() and page.locator("#busy").is_hidden()
        for group in page.locator("#groupList [data-group]").all():
            b = box(group)
            assert b["y"] + b["height"] <= take["y"] or b["y"] >= take["y"] + take["height"], \
                "a priority group lies under where 'get the ticket' was"
        shot(page, screenshot_dir, "kiosk_az_after_double_tap")

        # A deliberate tap after the guard time chooses, once.
        settle(page)
        x, y = centre(page, "#groupList [data-group=elderly]")
        page.touchscreen.tap(x, y)
        page.wait_for_selector("#s-ticket:not([hidden])")
        assert sent == [{"service": "PEN-04", "lang": "az", "priority": "elderly"}]


def test_a_double_tap_on_the_ordinary_choice_asks_for_one_ticket(browser, live_server):
    with kiosk_page(browser, live_server) as page:
        sent = posts(page)
        wait_loaded(page)
        to_pension_info(page)
        settle(page)
        tap(page, "#takeBtn")
        page.wait_for_selector("#s-priority:not([hidden])")
        settle(page)
        # Taps 60 ms apart: the second may come while the request is out or once the ticket is shown.
        double_tap(page, "#priorityNo", gap_ms=60)
        page.wait_for_selector("#s-ticket:not([hidden])")
        assert sent == [{"service": "PEN-04", "lang": "az", "priority": None}]
        assert screen(page) == "ticket"


@pytest.mark.parametrize("selector, before, target, after", [
    ("#startBtn", "start", "[data-area=pension]", "areas"),
    ("[data-area=pension]", "areas", "#serviceList [data-service=PEN-04]", "services"),
    ("#serviceList [data-service=PEN-04]", "services", "#takeBtn", "info"),
    ("#takeBtn", "info", "#groupList [data-group=elderly]", "priority"),   # wherever the group is
    ("#backBtn", "priority", "#backBtn", "info"),                            # one step back, not two
])
def test_every_screen_change_ignores_a_tap_right_after_it(browser, live_server, selector, before, target, after):
    """A tap, then a second one within the guard time on what the new screen shows (anywhere on it: a sloppy
    double tap, a ghost click, a second finger): the second does nothing."""
    with kiosk_page(browser, live_server) as page:
        sent = posts(page)
        wait_loaded(page)
        if before in ("info", "priority"):
            to_pension_info(page)
            if before == "priority":
                settle(page)
                tap(page, "#takeBtn")
        elif before != "start":
            settle(page)
            tap(page, "#startBtn")
            if before == "services":
                settle(page)
                tap(page, "[data-area=pension]")
        page.wait_for_function(f"() => document.body.dataset.screen === '{before}'")
        settle(page)
        x, y = centre(page, selector)
        page.touchscreen.tap(x, y)
        started = page.evaluate("() => performance.now()")
        assert screen(page) == after
        page.wait_for_timeout(DOUBLE_TAP_MS)
        x, y = centre(page, target)
        page.touchscreen.tap(x, y)
        assert page.evaluate("() => performance.now()") - started < GUARD_S * 1000, "the machine was too slow to tell"
        page.wait_for_timeout(GUARD_S * 1000 + 300)
        assert screen(page) == after
        assert sent == []


def test_a_message_ignores_the_second_tap_of_the_tap_that_opened_it(browser, live_server):
    """A refusal's message opens under the finger: the second tap must not dismiss it unread."""
    with kiosk_page(browser, live_server) as page:
        wait_loaded(page)
        to_pension_info(page)
        settle(page)
        tap(page, "#takeBtn")
        page.wait_for_selector("#s-priority:not([hidden])")
        # The service fills up while the citizen reads the question: the server refuses the ticket.
        while live_server.issue("PEN-04").status_code == 201:
            pass
        settle(page)
        x, y = centre(page, "#priorityNo")
        page.touchscreen.tap(x, y)
        page.wait_for_selector("#modal:not([hidden])")
        ok_x, ok_y = centre(page, "#modalOk")
        page.touchscreen.tap(ok_x, ok_y)                  # right after it opened: ignored
        page.wait_for_timeout(100)
        assert page.locator("#modal").is_visible()
        settle(page)
        page.touchscreen.tap(ok_x, ok_y)                  # read, then dismissed
        page.wait_for_selector("#modal", state="hidden")
