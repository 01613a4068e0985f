"""Capacity as counter time, as the citizen at the kiosk sees it: late in the day, a service the
counters cannot finish before closing is shown as unavailable, with the reason and the next chance,
before the citizen taps "take a ticket"."""
from __future__ import annotations

import pytest
import requests

from live import LiveServer, open_hours_offset
from test_kiosk_browser import kiosk_page, shot, tap, wait_loaded

pytestmark = pytest.mark.browser


@pytest.fixture
def late_server(tmp_path):
    server = LiveServer(tmp_path, center="fuzuli")
    server.offset = open_hours_offset("fuzuli", 17) + 50 * 60       # 17:50, closing at 18:00
    server.start()
    yield server
    server.stop()


def test_a_service_that_cannot_end_by_closing_says_so_with_the_next_chance(browser, late_server, screenshot_dir):
    services = requests.get(late_server.url + "/api/services", timeout=5).json()["services"]
    late = next(s for s in services if s["unavailable"] == "closing")
    # Issuing agrees with what the list says.
    r = late_server.issue(late["code"])
    assert r.status_code == 409 and r.json()["scope"] == "closing" and r.json()["next_opening"]
    with kiosk_page(browser, late_server, token="kiosk-1") as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, f"[data-area={late['area']}]")
        card = page.locator(f"#serviceList [data-service={late['code']}]")
        card.wait_for()
        assert card.is_disabled()                                     # it cannot be taken...
        text = card.inner_text()                                      # ...and it says why, and when
        assert "Bugünkü növbə iş vaxtının sonuna qədər tamamlanmayacaq. Növbəti qəbul" in text
        card.scroll_into_view_if_needed()
        shot(page, screenshot_dir, "kiosk_az_closing_refusal")
