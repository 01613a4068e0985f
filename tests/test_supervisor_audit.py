"""The supervisor's audit tab (headless Chromium at 1366×768, a real server).

- "Who" says what an internal actor means in the page's language: the kiosk that issued, the citizen
  on the status page, the system, the command line; staff stay by their user name.
- A day picker (dd.mm.yyyy typed, today by default, never after today) shows an earlier day's audit.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from config import loader
from live import LiveServer
from test_counter_staff_pages import log_in, staff_page

pytestmark = pytest.mark.browser


def _earlier_working_day(now: datetime, cfg: Any) -> datetime:
    """10:00 on the last working day before ``now`` (the center open then)."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    d = now - timedelta(days=1)
    while cfg.center.hours[days[d.weekday()]].opens is None or d.weekday() >= 5:
        d -= timedelta(days=1)
    return d.replace(hour=10, minute=0, second=0, microsecond=0)


def _seed(server: LiveServer) -> str:
    """An earlier day's work (kiosk-2, op2 at counter 2, one ticket left waiting) and some of today's by
    every kind of actor; returns the earlier day as YYYY-MM-DD."""
    from server import auth
    from server.core import queue, rating
    from server.store import SQLiteStore

    cfg = loader.load(server.center)
    now = datetime.fromtimestamp(time.time() + server.offset, cfg.tz)
    before = _earlier_working_day(now, cfg)
    at = [before.timestamp()]
    store = SQLiteStore(server.db, cfg, clock=lambda: at[0])
    queue.open_counter(store, 2, operator="op2")
    queue.issue_ticket(store, "EMP-02", kiosk="kiosk-2")
    queue.issue_ticket(store, "EMP-02", kiosk="kiosk-2")        # still waiting at midnight: the system expires it
    at[0] += 60
    queue.call_next(store, 2, actor="op2")
    queue.finish(store, 2, actor="op2")
    queue.close_counter(store, 2, actor="op2")
    at[0] = now.timestamp() - 600                                 # today, before the server starts
    auth.add_user(store, "clerk", "clerk-pass-1", "operator", actor="cli:tester")
    served = queue.issue_ticket(store, "EMP-01", kiosk="kiosk-1").ticket
    gone = queue.issue_ticket(store, "EMP-01", kiosk="kiosk-3").ticket
    queue.cancel_ticket(store, gone.token)
    queue.open_counter(store, 1, operator="op1")
    queue.call_next(store, 1, actor="op1")
    queue.start_service(store, 1, actor="op1")
    queue.finish(store, 1, actor="op1")
    rating.rate_ticket(store, served.token, 5)
    store.close()
    return before.date().isoformat()


def _actor(page: Any, event: str) -> Any:
    return page.locator(f"#tab-audit table.audit tr[data-event='{event}'] td.actor").first


def test_audit_names_every_actor_and_shows_an_earlier_day(browser: Any, tmp_path: Path,
                                                          screenshot_dir: Path) -> None:
    server = LiveServer(tmp_path)
    earlier = _seed(server)
    server.start()
    try:
        context, page, errors = staff_page(browser, server.url + "/counter/supervisor")
        log_in(page, "boss")
        page.locator("#counters tr[data-counter='1']").wait_for()
        page.locator("[data-tab=audit]").click()
        table = page.locator("#tab-audit table.audit")
        _actor(page, "ticket-rated").wait_for()
        today = table.get_attribute("data-day")
        assert today and today > earlier
        dmy = lambda iso: f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}"   # noqa: E731
        expect(page.locator("#audit-day")).to_have_value(dmy(today))
        for event, az in (("ticket-issued", "kiosk-3 kioskı"), ("ticket-rated", "vətəndaş (status səhifəsi)"),
                          ("ticket-cancelled", "vətəndaş (status səhifəsi)"), ("ticket-expired", "sistem"),
                          ("staff-changed", "komanda sətri (istifadəçi tester)"), ("ticket-called", "op1")):
            expect(_actor(page, event)).to_have_text(az)
        assert _actor(page, "ticket-expired").get_attribute("title") == "system"    # the code stays at hand
        page.screenshot(path=str(screenshot_dir / "supervisor-audit-actors-az.png"))
        page.click(".lang button[data-lang=ru]")
        for event, ru in (("ticket-issued", "киоск kiosk-3"), ("ticket-rated", "гражданин (страница статуса)"),
                          ("ticket-expired", "система"),
                          ("staff-changed", "командная строка (пользователь tester)")):
            expect(_actor(page, event)).to_have_text(ru)
        actors = page.locator("#tab-audit table.audit td.actor").all_inner_texts()
        assert not {"status", "system", "citizen", "cli:tester", "kiosk-1", "kiosk-3"} & set(actors), actors
        page.click(".lang button[data-lang=az]")

        # A day after today is refused beside the field, and so is a malformed one; the table stays today's.
        later = datetime.fromisoformat(today) + timedelta(days=1)
        page.fill("#audit-day", later.strftime("%d.%m.%Y"))
        page.press("#audit-day", "Enter")
        expect(page.locator("#audit-day-error")).to_contain_text("Bu gündən sonrakı gün seçilə bilməz")
        expect(page.locator("#audit-day")).to_have_attribute("aria-invalid", "true")
        page.fill("#audit-day", "31.02.2026")
        page.click("#audit-refresh")
        expect(page.locator("#audit-day-error")).to_contain_text("gün.ay.il")
        assert table.get_attribute("data-day") == today

        # The earlier day: who handled its tickets.
        page.fill("#audit-day", dmy(earlier))
        page.press("#audit-day", "Enter")
        expect(table).to_have_attribute("data-day", earlier)
        expect(page.locator("#audit-day-error")).to_have_text("")
        expect(_actor(page, "ticket-called")).to_have_text("op2")
        expect(_actor(page, "ticket-issued")).to_have_text("kiosk-2 kioskı")
        expect(page.locator("#tab-audit table.audit tr[data-event='ticket-rated']")).to_have_count(0)
        page.screenshot(path=str(screenshot_dir / "supervisor-audit-earlier-day-az.png"))
        # Today's news does not replace the earlier day being read.
        assert server.issue("EMP-01").status_code == 201
        page.wait_for_timeout(1800)
        assert table.get_attribute("data-day") == earlier
        expect(page.locator("#audit-day")).to_have_value(dmy(earlier))
        # "Today" goes back, and follows the hall again.
        page.click("#audit-today")
        expect(table).to_have_attribute("data-day", today)
        expect(page.locator("#audit-day")).to_have_value(dmy(today))
        assert errors == []
        context.close()
    finally:
        server.stop()
