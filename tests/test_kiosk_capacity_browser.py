"""Capacity as counter time, as the citizen at the kiosk sees it: late in the day, a service the
counters cannot finish before closing is shown as unavailable, with the reason and the next chance,
before the citizen taps "take a ticket"."""
from __future__ import annotations

import pytest
import requests

from live import LiveServer, open_hours_offset
from test_kiosk_browser import box, kiosk_page, shot, tap, wait_loaded

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


def _opening_fills(next_opening: str, day: str) -> dict[str, str]:
    """The next_opening phrase's fills for the API's next opening ("2026-12-01T09:00:00+04:00") seen on ``day``."""
    from datetime import date
    when = date.fromisoformat(next_opening[:10])
    gap = (when - date.fromisoformat(day)).days
    name = "today" if gap == 0 else "tomorrow" if gap == 1 else ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[when.weekday()]
    return {"day": name, "time": next_opening[11:16]}



def test_a_refused_service_says_why_when_tapped_in_the_accessible_mode(browser, late_server, screenshot_dir):
    from test_kiosk_a11y_browser import Speech, accessible

    data = requests.get(late_server.url + "/api/services", timeout=5).json()
    late = next(s for s in data["services"] if s["unavailable"] == "closing")
    sent: list[str] = []
    with kiosk_page(browser, late_server, token="kiosk-1") as page:
        # (Socket.IO's polling transport POSTs too: only the page's own requests count.)
        page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and "/socket.io/" not in r.url else None)
        speech = Speech(page)
        wait_loaded(page)
        accessible(page)
        tap(page, "#startBtn")
        tap(page, f"[data-area={late['area']}]")
        card = page.locator(f"#serviceList [data-service={late['code']}]")
        card.wait_for()
        # Announced as unavailable, yet reachable: no disabled attribute, in the tab order.
        assert card.get_attribute("aria-disabled") == "true" and card.get_attribute("disabled") is None
        assert card.evaluate("b => b.tabIndex") == 0
        card.scroll_into_view_if_needed()
        page.wait_for_timeout(700)                      # past the tap guard: a deliberate tap
        b = box(card)
        page.touchscreen.tap(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
        # Its name, why, and the next chance, in that order, from the catalogue and checked values.
        name = speech.said(f"svc:{late['code']}", {"lang": "az"})
        why = speech.said("err_closing", {"lang": "az"})
        nxt = speech.said("next_opening", {**_opening_fills(data["next_opening"], data["day"]), "lang": "az"})
        assert name < why < nxt
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.body.dataset.screen") == "services"   # nothing opened...
        assert sent == []                                                          # ...nothing issued
        shot(page, screenshot_dir, "kiosk_az_a11y_refused_service_tapped")


def test_a_refused_service_does_nothing_when_tapped_in_the_standard_mode(browser, late_server):
    data = requests.get(late_server.url + "/api/services", timeout=5).json()
    late = next(s for s in data["services"] if s["unavailable"] == "closing")
    with kiosk_page(browser, late_server, token="kiosk-1") as page:
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url)
                if (r.method == "POST" and "/socket.io/" not in r.url) or "/kiosk/speak" in r.url else None)
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, f"[data-area={late['area']}]")
        card = page.locator(f"#serviceList [data-service={late['code']}]")
        card.wait_for()
        card.scroll_into_view_if_needed()
        page.wait_for_timeout(700)
        b = box(card)
        page.touchscreen.tap(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
        page.wait_for_timeout(600)
        assert page.evaluate("() => document.body.dataset.screen") == "services"
        assert sent == []                                   # no ticket, and the standard mode stays silent
        assert "Növbəti qəbul" in card.inner_text()         # the card shows why, as before


START_NOTICE = {
    "az": ("Bu gün artıq bilet verilmir. Bütün xidmətlər üzrə növbə iş vaxtının sonuna qədər doludur. Növbəti qəbul: ",
           "Bu gün bilet yalnız bəzi xidmətlər üzrə verilir: digərləri üçün bugünkü növbə doludur. Növbəti qəbul: "),
    "ru": ("Сегодня талоны больше не выдаются. Очередь на все услуги заполнена до конца рабочего дня. Следующий приём: ",
           "Сегодня талоны выдаются только на некоторые услуги: на остальные очередь на сегодня заполнена. Следующий приём: "),
    "en": ("No more tickets are issued today. Every service's queue is full until closing time. Next opening: ",
           "Today tickets are issued for some services only: the others are full for today. Next opening: "),
}


def test_the_start_screen_says_when_the_day_is_full(browser, late_server, screenshot_dir):
    """At 17:50 every service is refused (closing): the start screen says so, why and the next chance, in the
    citizen's language, and the accessible mode says it after the welcome."""
    from test_kiosk_a11y_browser import Speech, accessible

    data = requests.get(late_server.url + "/api/services", timeout=5).json()
    assert data["open"] and all(s["unavailable"] == "closing" for s in data["services"])
    with kiosk_page(browser, late_server, token="kiosk-1") as page:
        speech = Speech(page)
        wait_loaded(page)
        note = page.locator("#closedNote")
        note.wait_for()
        for lang in ("ru", "en", "az"):
            tap(page, f"#langBig [data-lang={lang}]")
            assert note.inner_text().startswith(START_NOTICE[lang][0]), note.inner_text()
            assert note.inner_text().endswith("09:00")
            if lang == "az":
                shot(page, screenshot_dir, "kiosk_az_start_day_full")
        assert note.get_attribute("data-kind") == "none"
        # The areas screen carries it too.
        tap(page, "#startBtn")
        assert page.locator("#closedNoteAreas").inner_text() == note.inner_text()
        tap(page, "#homeBtn")
        accessible(page)
        fills = {**_opening_fills(data["next_opening"], data["day"]), "lang": "az"}
        order = [speech.said(text, f) for text, f in (("welcome", {"lang": "az"}), ("day_none", {"lang": "az"}),
                                                       ("day_none_closing", {"lang": "az"}), ("next_opening", fills))]
        assert order == sorted(order)
        shot(page, screenshot_dir, "kiosk_az_a11y_start_day_full")


@pytest.fixture
def nearly_full_server(tmp_path):
    server = LiveServer(tmp_path, center="fuzuli")
    server.offset = open_hours_offset("fuzuli", 17) + 20 * 60       # 17:20: most services cannot end by 18:00
    server.start()
    yield server
    server.stop()


def test_the_start_screen_says_when_the_day_is_nearly_full(browser, nearly_full_server, screenshot_dir):
    services = requests.get(nearly_full_server.url + "/api/services", timeout=5).json()["services"]
    refused = [s for s in services if not s["available"]]
    assert 0 < len(services) - len(refused) and len(refused) * 2 >= len(services)
    with kiosk_page(browser, nearly_full_server, token="kiosk-1") as page:
        wait_loaded(page)
        note = page.locator("#closedNote")
        note.wait_for()
        assert note.get_attribute("data-kind") == "few"
        assert note.inner_text().startswith(START_NOTICE["az"][1]), note.inner_text()
        shot(page, screenshot_dir, "kiosk_az_start_day_nearly_full")
        tap(page, "#langBig [data-lang=ru]")
        assert note.inner_text().startswith(START_NOTICE["ru"][1])
        tap(page, "#langBig [data-lang=en]")
        assert note.inner_text().startswith(START_NOTICE["en"][1])
