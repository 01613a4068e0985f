"""A press on a staff page's button survives the redraw a snapshot brings, in headless Chromium against a real server.

In a busy hall a snapshot arrives every few seconds and the staff pages draw their regions again. A press
that straddles one (the mouse button goes down on "call next", the snapshot redraws the desk, the button
comes up) must still be a click on that button, once: Chromium gives no click at all when the element
pressed was replaced between mousedown and mouseup (measured before the pages patched in place). The
focused control, likewise, stays the same element.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

from test_counter_browser import current, log_in, new_page

pytestmark = pytest.mark.browser

# A mark on the element itself: it is gone if the element is replaced by an equal-looking new one.
MARK = "(sel) => { document.querySelector(sel).__pressed = true; }"
SAME = "(sel) => { const e = document.querySelector(sel); return !!(e && e.__pressed); }"
FOCUS_SAME = "() => !!document.activeElement.__pressed"


def press_across_redraw(p: Any, sel: str, cause: Callable[[], Any], redrawn: str, arg: Any = None) -> bool:
    """Mouse down on ``sel``, ``cause()`` a snapshot, wait until ``redrawn`` holds, mouse up; whether it stayed one element."""
    p.wait_for_function("(sel) => { const e = document.querySelector(sel); return e && !e.disabled; }", arg=sel)
    p.evaluate(MARK, sel)
    p.locator(sel).scroll_into_view_if_needed()
    box = p.locator(sel).bounding_box()
    assert box is not None
    p.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    p.mouse.down()
    cause()
    p.wait_for_function(redrawn, arg=arg, timeout=5_000)
    same = bool(p.evaluate(SAME, sel))
    p.mouse.up()
    return same


def posts(page: Any, suffix: str) -> list[str]:
    """The page's own POST requests whose path ends with ``suffix``, as they are sent."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith(suffix) else None)
    return sent


def called_events(live_server: Any, counter: int) -> list[str]:
    """The numbers called at ``counter`` today, from the audit trail."""
    boss = live_server.login("boss")
    try:
        events = boss.get(f"{live_server.url}/api/audit", timeout=5).json()["events"]
    finally:
        boss.close()
    return [e["number"] for e in events if e["event"] == "ticket-called" and e.get("counter") == counter]


def waiting_is(n: int) -> str:
    return f"() => document.querySelector('#waiting-count').textContent === '{n}'"


def test_counter_press_across_a_snapshot(browser: Any, live_server: Any) -> None:
    first = live_server.issue("EMP-01").json()["number"]
    live_server.issue("EMP-01")
    with new_page(browser, live_server.url + "/counter/") as counter:
        p = counter.page
        opens, calls = posts(p, "/api/counters/1/open"), posts(p, "/api/counters/1/call-next")
        log_in(p, "op1")

        # The counter picker: a press on "Masa 1" across a snapshot (its waiting figure changes) opens it.
        pick = "#picker button[data-counter='1']"
        p.locator(pick).wait_for()
        same = press_across_redraw(p, pick, lambda: live_server.issue("EMP-01"),
                                   f"() => document.querySelector(\"{pick} .svc-count\").textContent.includes('3')")
        p.locator("#counter-title", has_text="Açıq").wait_for(timeout=5_000)
        assert same
        assert len(opens) == 1
        p.wait_for_function(waiting_is(3))

        # "Call next" pressed across a snapshot (a fourth ticket arrives): the first ticket is called, once.
        nxt = "#desk button[data-act=call-next]"
        same = press_across_redraw(p, nxt, lambda: live_server.issue("EMP-01"), waiting_is(4))
        p.locator("#current-number").wait_for(timeout=5_000)
        assert same
        assert current(p) == first
        p.wait_for_function(waiting_is(3))
        p.wait_for_timeout(500)                      # a second call, had there been one, would be on its way
        assert calls == [f"{live_server.url}/api/counters/1/call-next"]
        assert called_events(live_server, 1) == [first]

        # The focused control stays the same element across a snapshot, with its new state.
        start = "#desk button[data-act=start]"
        p.focus(start)
        p.evaluate(MARK, start)
        live_server.issue("EMP-01")
        p.wait_for_function(waiting_is(4))
        assert p.evaluate(FOCUS_SAME) and p.evaluate("() => document.activeElement.dataset.act") == "start"

        # Start, then finish with the first outcome pressed across a snapshot.
        p.keyboard.press("Enter")
        p.locator(".ticket.serving").wait_for()
        finish = "#desk button[data-act=finish][data-outcome=served]"
        finishes = posts(p, "/api/counters/1/finish")
        same = press_across_redraw(p, finish, lambda: live_server.issue("EMP-01"), waiting_is(5))
        p.locator(".ticket.empty").wait_for(timeout=5_000)
        assert same
        p.wait_for_timeout(300)
        assert len(finishes) == 1

        # A ticket called out of order from the waiting list, pressed across a snapshot.
        wanted = p.locator("#waiting li").nth(2).get_attribute("data-number")
        call_this = f"#waiting button[data-call='{wanted}']"
        same = press_across_redraw(p, call_this, lambda: live_server.issue("EMP-01"), waiting_is(6))
        p.locator("#current-number", has_text=wanted or "?").wait_for(timeout=5_000)
        assert same
        assert sorted(called_events(live_server, 1)) == sorted([first, wanted])   # each called once
        counter.check_clean()


def test_supervisor_press_across_a_snapshot(browser: Any, live_server: Any) -> None:
    boss = live_server.login("boss")
    try:
        boss.post(f"{live_server.url}/api/counters/5/open", timeout=5).raise_for_status()
    finally:
        boss.close()
    pension = live_server.issue("PEN-01").json()["number"]
    with new_page(browser, live_server.url + "/counter/supervisor") as sup:
        p = sup.page
        calls = posts(p, "/api/counters/5/call-next")
        log_in(p, "boss")
        total = "(n) => (document.querySelector('#tot-waiting') || {}).textContent === String(n)"
        p.wait_for_function(total, arg=1)

        # A counter's row pressed across a snapshot is selected.
        row = "#counters tr[data-counter='5']"
        same = press_across_redraw(p, row, lambda: live_server.issue("EMP-01"), total, 2)
        p.locator("#counters tr.sel[data-counter='5']").wait_for(timeout=5_000)
        assert same
        assert p.evaluate("() => document.activeElement.matches(\"#counters tr[data-counter='5']\")")

        # Acting for it: "call next" pressed across a snapshot calls once.
        nxt = "#act button[data-act=call-next]"
        same = press_across_redraw(p, nxt, lambda: live_server.issue("PEN-01"), total, 3)
        p.locator("#act #current-number", has_text=pension).wait_for(timeout=5_000)
        assert same
        p.wait_for_timeout(500)
        assert len(calls) == 1
        assert called_events(live_server, 5) == [pension]

        # A printed ticket's "reprint" pressed across a snapshot (counter 2 opens) prints it again, once.
        p.locator(".tabs button[data-tab=printers]").click()
        reprint = "#tab-printers tr[data-job] button[data-reprint]"
        p.locator(reprint).first.wait_for(timeout=10_000)
        job = p.locator(reprint).first.get_attribute("data-reprint")
        reprints = posts(p, f"/api/print-jobs/{job}/reprint")

        def open_two() -> None:
            s = live_server.login("boss")
            try:
                s.post(f"{live_server.url}/api/counters/2/open", timeout=5).raise_for_status()
            finally:
                s.close()
        same = press_across_redraw(p, f"#tab-printers button[data-reprint='{job}']", open_two,
                                   "() => document.querySelector(\"#counters tr[data-counter='2']\").matches('.st-open')")
        p.locator(".toast.ok").first.wait_for(timeout=5_000)
        assert same
        p.wait_for_timeout(300)
        assert len(reprints) == 1
        sup.check_clean()
