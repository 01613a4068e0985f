"""The counter page and the supervisor view in headless Chromium at 1366×768, against a real server.

An operator logs in, picks and opens a counter, sees a kiosk's ticket arrive without a reload,
calls, recalls, starts, transfers, marks the next one as a no-show, pauses with a reason and
resumes — while a hall board (a second page) shows each call.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from live import PASSWORDS

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
BOARD_CALLS = "() => Array.from(document.querySelectorAll('#calls li')).map(li => li.dataset.number + '@' + li.dataset.counter)"


class Page:
    """A page with the errors it met (JS exceptions, failed requests other than expected 401s)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/api/me") else None)

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.failed == [], self.failed


@contextmanager
def new_page(browser: Any, url: str) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="az-AZ")
    try:
        page = Page(context.new_page())
        page.page.goto(url)
        yield page
    finally:
        context.close()


def log_in(page: Any, username: str) -> None:
    page.locator("#login-form").wait_for()
    page.fill("#login-form input[name=username]", username)
    page.fill("#login-form input[name=password]", PASSWORDS[username])
    page.click("#login-form button[type=submit]")


def current(page: Any) -> str:
    return page.locator("#current-number").text_content() or ""


def test_counter_day(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    board_url = f"{live_server.url}/display/?board=hall-1&token={live_server.display_token('hall-1')}"
    with new_page(browser, board_url) as board, new_page(browser, live_server.url + "/counter/") as counter:
        b, p = board.page, counter.page
        b.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)

        def board_sees(call: str) -> None:
            b.wait_for_function(f"(want) => ({BOARD_CALLS})().includes(want)", arg=call, timeout=5_000)

        # Log in (Azerbaijani first), pick counter 1 and open it.
        p.locator("#login-form").wait_for()
        assert p.locator("#login-form h1").text_content() == "Əməkdaş girişi"
        p.screenshot(path=str(screenshot_dir / "counter-login.png"))
        log_in(p, "op1")
        p.locator("#picker button[data-counter='1']").click()
        p.locator("#counter-title", has_text="Açıq").wait_for()
        assert p.evaluate("() => localStorage.getItem('novbe.counter')") == "1"
        assert p.locator("button[data-act=call-next]").is_disabled()            # nobody waits yet
        assert p.locator("#waiting li.empty").is_visible()

        # The session and the chosen counter survive a reload.
        p.reload()
        p.locator("#desk-view").wait_for()
        assert "op1" in (p.locator("#who").text_content() or "")
        p.locator("#conn.up").wait_for()

        # Tickets issued at a kiosk appear without a reload.
        first = live_server.issue("EMP-01").json()["number"]
        p.locator(f"#waiting li[data-number='{first}']").wait_for(timeout=5_000)
        second = live_server.issue("EMP-02").json()["number"]
        p.locator(f"#waiting li[data-number='{second}']").wait_for(timeout=5_000)
        third = live_server.issue("EMP-01").json()["number"]
        p.locator(f"#waiting li[data-number='{third}']").wait_for(timeout=5_000)
        assert p.locator("#waiting-count").text_content() == "3"
        # Illegal moves are disabled: nothing is in hand.
        for act in ("recall", "start", "no-show", "transfer", "park", "finish"):
            assert p.locator(f"button[data-act={act}]").first.is_disabled(), act

        # Call next with the keyboard shortcut shown on the button.
        assert "F2" in (p.locator("button[data-act=call-next]").text_content() or "")
        p.keyboard.press("F2")
        p.locator("#current-number").wait_for()
        assert current(p) == first
        board_sees(f"{first}@1")
        assert p.locator("button[data-act=call-next]").is_disabled()
        assert p.locator("button[data-act=close]").is_disabled() and p.locator("button[data-act=pause]").is_disabled()
        p.locator(".ticket .timer", has_text="0:01").wait_for(timeout=3_000)     # the timer runs
        p.screenshot(path=str(screenshot_dir / "counter-ticket.png"))

        # Recall: the count against the configured limit; the board hears it again.
        before = b.evaluate("() => novbeBoard.announced.length")
        p.locator("button[data-act=recall]").click()
        p.locator(".recalls", has_text="1/3").wait_for()
        b.wait_for_function("(n) => novbeBoard.announced.length > n", arg=before, timeout=5_000)
        assert b.evaluate("() => novbeBoard.announced.at(-1).number") == first
        for n in (2, 3):
            p.keyboard.press("F3")
            p.locator(".recalls", has_text=f"{n}/3").wait_for()
        # At the limit, recall asks whether the citizen did not come; "no" keeps the ticket.
        p.locator("button[data-act=recall]").click()
        confirm = p.locator("#confirm-dialog")
        confirm.locator(".dlg-text", has_text="3 dəfə").wait_for()
        confirm.locator("[data-answer=no]").click()
        assert current(p) == first

        # Start service.
        p.locator("button[data-act=start]").click()
        p.locator(".ticket.serving").wait_for()
        assert p.locator("button[data-act=recall]").is_disabled() and p.locator("button[data-act=no-show]").is_disabled()

        # Transfer to another service, with a note.
        p.locator("button[data-act=transfer]").click()
        dialog = p.locator("#transfer-dialog")
        dialog.wait_for()
        assert dialog.locator("button[type=submit]").is_disabled()             # nothing chosen yet
        dialog.locator("select[name=service]").select_option("PEN-01")
        dialog.locator("textarea[name=note]").fill("Pensiya sənədləri")
        p.screenshot(path=str(screenshot_dir / "counter-transfer.png"))
        dialog.locator("button[type=submit]").click()
        p.locator(".ticket.empty").wait_for()
        staff = live_server.login("boss")
        try:
            snap = staff.get(live_server.url + "/api/staff/snapshot", timeout=5).json()
        finally:
            staff.close()
        moved = next(t for t in snap["waiting"] if t["number"] == first)
        assert moved["service"] == "PEN-01" and moved["original_service"] == "EMP-01" and moved["note"] == "Pensiya sənədləri"
        assert p.locator(f"#waiting li[data-number='{first}']").count() == 0      # counter 1 does not serve PEN-01

        # The next one (EMP-01 goes first at counter 1) does not come: no-show, after a confirmation.
        p.locator("button[data-act=call-next]").click()
        p.locator("#current-number", has_text=third).wait_for()
        board_sees(f"{third}@1")
        p.locator("button[data-act=no-show]").click()
        confirm.wait_for()
        confirm.locator("[data-answer=no]").click()                              # changed my mind: nothing happens
        assert current(p) == third
        p.locator("button[data-act=no-show]").click()
        confirm.locator("[data-answer=yes]").click()
        p.locator(".ticket.empty").wait_for()
        p.locator("#fig-noshow", has_text="1").wait_for()
        assert p.locator("#fig-limit").text_content() == "2 / 40"                  # called today, against the limit

        # The last one: park it (the citizen fetches a document), take it back, finish with an outcome.
        p.keyboard.press("F2")
        p.locator("#current-number", has_text=second).wait_for()
        p.locator("button[data-act=park]").click()
        p.locator(f"#parked li[data-number='{second}']").wait_for()
        p.locator(f"#parked button[data-return='{second}']").click()
        p.locator("#current-number", has_text=second).wait_for()
        assert p.locator("#parked-box").is_hidden()
        p.keyboard.press("F6")                                                    # the second outcome
        p.locator("#fig-served", has_text="1").wait_for()
        staff = live_server.login("boss")
        try:
            audit = staff.get(live_server.url + "/api/audit", timeout=5).json()["events"]
        finally:
            staff.close()
        assert any(e["event"] == "ticket-finished" and e["number"] == second and e["actor"] == "op1" for e in audit)

        # A priority ticket: marked, verified from the list (with the operator's name), called out of order.
        prio = live_server.issue("EMP-01", priority="disability").json()["number"]
        plain = live_server.issue("EMP-01").json()["number"]
        row = p.locator(f"#waiting li[data-number='{prio}']")
        row.locator(".prio-mark").wait_for(timeout=5_000)
        row.locator("button[data-verify]").click()
        row.locator(".verified", has_text="op1").wait_for()
        p.locator(f"#waiting li[data-number='{plain}'] button[data-call]").click()
        p.locator("#current-number", has_text=plain).wait_for()
        p.keyboard.press("F5")
        p.locator("#fig-served", has_text="2").wait_for()

        # An error from the API reaches the operator as a clear message, in Azerbaijani, with the server's words.
        p.evaluate("() => Novbe.api('POST', '/api/counters/1/recall').catch(Novbe.showError)")
        toast = p.locator(".toast.error")
        toast.wait_for()
        assert "Masada bilet yoxdur" in (toast.text_content() or "")
        toast.click()
        counter.failed.remove(f"409 {live_server.url}/api/counters/1/recall")    # that one was on purpose

        # Pause with a reason, then resume.
        p.locator("button[data-act=pause]").click()
        pause = p.locator("#pause-dialog")
        pause.wait_for()
        pause.locator("button[data-reason='Nahar fasiləsi']").click()
        p.locator(".ticket.paused", has_text="Nahar fasiləsi").wait_for()
        assert p.locator("button[data-act=resume]").first.is_enabled()
        p.screenshot(path=str(screenshot_dir / "counter-paused.png"))
        # The reason is kept in Azerbaijani; the desk shows a preset's reason in the reader's language.
        import i18n
        p.locator(".lang button[data-lang=ru]").click()
        p.locator(".ticket.paused", has_text=i18n.text("staff", "pause_lunch", "ru")).wait_for()
        assert "Nahar" not in p.locator(".ticket.paused").text_content()
        p.locator(".lang button[data-lang=az]").click()
        p.locator("button[data-act=resume]").first.click()
        p.locator(".ticket.empty").wait_for()

        # The chrome switches language; errors come back as clear messages.
        p.locator(".lang button[data-lang=ru]").click()
        assert "Перерыв" in p.locator("button[data-act=pause]").text_content()
        p.locator(".lang button[data-lang=az]").click()

        board.check_clean()
        counter.check_clean()


def test_supervisor_view(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    boss = live_server.login("boss")
    try:
        for n in (1, 2, 5):
            boss.post(f"{live_server.url}/api/counters/{n}/open", timeout=5).raise_for_status()
        for service in ("EMP-01", "EMP-01", "PEN-01", "EMP-02"):
            assert live_server.issue(service).status_code == 201
        boss.post(f"{live_server.url}/api/counters/1/call-next", timeout=5).raise_for_status()
        boss.post(f"{live_server.url}/api/counters/2/pause", json={"reason": "Nahar fasiləsi"}, timeout=5).raise_for_status()
    finally:
        boss.close()

    # An operator is told clearly that this is not for them.
    with new_page(browser, live_server.url + "/counter/supervisor") as op:
        log_in(op.page, "op1")
        op.page.locator("#forbidden-view").wait_for()
        assert "icazəniz yoxdur" in (op.page.locator("#forbidden-view h1").text_content() or "")
        op.page.reload()                                                         # now the server answers 403 itself
        assert op.page.locator(".forbidden h1").is_visible()

    with new_page(browser, live_server.url + "/counter/supervisor") as sup:
        p = sup.page
        log_in(p, "boss")
        p.locator("#counters tr[data-counter='1']").wait_for()
        row1 = p.locator("#counters tr[data-counter='1']")
        assert "A-001" in (row1.locator("td.now").text_content() or "")
        assert "Nahar" in (p.locator("#counters tr[data-counter='2'] td.now").text_content() or "")
        assert p.locator("#tab-queues tr", has_text="EMP-01").count() == 1

        # A new ticket shows up live; reassigning services takes effect at once.
        live_server.issue("EMP-01")
        p.locator("#tot-waiting", has_text="4").wait_for(timeout=5_000)
        p.locator("#counters tr[data-counter='5']").click()
        p.locator("#services-btn").click()
        dlg = p.locator("#services-dialog")
        dlg.wait_for()
        dlg.locator("input[value='EMP-02']").check()
        dlg.locator("button[type=submit]").click()
        p.locator("#counters tr[data-counter='5'] td.q", has_text="2").wait_for(timeout=5_000)   # PEN-01 + EMP-02

        # Acting for counter 5: call next; the audit trail records the supervisor.
        p.locator("#act button[data-act=call-next]").click()
        p.locator("#act #current-number").wait_for()
        p.locator(".tabs button[data-tab=audit]").click()
        p.locator("#tab-audit tr", has_text="boss").first.wait_for()
        p.locator(".tabs button[data-tab=queues]").click()
        p.screenshot(path=str(screenshot_dir / "counter-supervisor.png"))
        sup.check_clean()
