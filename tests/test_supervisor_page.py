"""The supervisor view's figures say what they count (headless Chromium at 1366×768, a real server).

- A counter with no daily limit (daily_limit = 0: Abşeron's 7, 27 and 30) shows "0/—" like the others'
  "0/35", its title naming it "no limit".
- The printers tile counts the kiosks that have a printer (three at Abşeron), those not heard from yet too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from test_counter_staff_pages import log_in, staff_page

pytestmark = pytest.mark.browser


def test_limits_and_the_printers_tile_say_what_they_count(browser: Any, live_server: Any,
                                                           screenshot_dir: Path) -> None:
    boss = live_server.login("boss")
    boss.post(f"{live_server.url}/api/counters/1/open", timeout=5).raise_for_status()
    assert live_server.issue("EMP-01").status_code == 201        # kiosk-1 prints: its printer is heard from
    context, page, errors = staff_page(browser, live_server.url + "/counter/supervisor")
    log_in(page, "boss")
    page.locator("#counters tr[data-counter='7']").wait_for()
    for number, text, title in (("7", "0/—", "Limit: limitsiz"), ("30", "0/—", "Limit: limitsiz"),
                                ("3", "0/35", "Limit: 35")):
        limit = page.locator(f"#counters tr[data-counter='{number}'] .limit")
        expect(limit).to_have_text(text)
        assert limit.get_attribute("title") == title
    tile = page.locator("#tot-printers")
    expect(tile.locator("b")).to_have_text("1/3", timeout=5000)
    expect(tile.locator("span")).to_have_text("Kiosk printerləri işləyir")
    expect(tile.locator("small")).to_have_text("2 printerdən hələ xəbər yoxdur")
    page.screenshot(path=str(screenshot_dir / "supervisor-limits-printers-az.png"))
    page.locator("[data-tab=printers]").click()
    expect(page.locator("#tab-printers tr.unheard")).to_have_count(2)
    page.click(".lang button[data-lang=en]")
    expect(tile.locator("small")).to_have_text("2 not heard from yet")
    assert page.locator("#counters tr[data-counter='7'] .limit").get_attribute("title") == "Limit: no limit"
    assert errors == []
    context.close()
