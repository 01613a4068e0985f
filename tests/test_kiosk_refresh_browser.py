"""A live refresh updates the kiosk's lists in place (headless Chromium, a real server, tickets issued over HTTP).

In a busy hall the services list is refreshed every few seconds. Replacing its cards would drop the focus of a
keyboard or screen reader on one, and a touch begun on a card replaced before the finger lifts does nothing: the
cards stay the same elements, with the new figures and the new data's action."""
from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from test_kiosk_browser import kiosk_page, tap, wait_loaded

pytestmark = pytest.mark.browser

CARD = "#serviceList [data-service=EMP-01]"


def waiting(server: Any, code: str) -> int:
    body = requests.get(server.url + "/api/services", timeout=5).json()
    return next(s["waiting"] for s in body["services"] if s["code"] == code)


def test_a_refresh_keeps_the_focused_card_and_gives_it_the_new_figures(browser: Any, live_server: Any) -> None:
    with kiosk_page(browser, live_server) as page:
        wait_loaded(page)
        tap(page, "#startBtn")
        tap(page, "[data-area=employment]")
        card = page.locator(CARD)
        before = waiting(live_server, "EMP-01")
        expect(card.locator(".chip").nth(1)).to_have_text(f"Növbədə: {before}")
        # Mark (a property: the page does not know it) the card, the card after it and a language button, and put the keyboard's focus on the card.
        page.evaluate("""(sel) => { const c = document.querySelector(sel);
                                    c.mark = "card"; c.nextElementSibling.mark = "next";
                                    document.querySelector('#langs [data-lang=az]').mark = "lang";
                                    c.focus(); }""", CARD)
        for _ in range(2):
            live_server.issue("EMP-01").raise_for_status()
        now = waiting(live_server, "EMP-01")
        assert now == before + 2
        expect(card.locator(".chip").nth(1)).to_have_text(f"Növbədə: {now}", timeout=15_000)   # the refresh came
        kept = page.evaluate("""(sel) => ({
            card: document.querySelector(sel).mark || null,
            next: document.querySelector(sel).nextElementSibling.mark || null,
            lang: document.querySelector('#langs [data-lang=az]').mark || null,
            focused: document.activeElement.dataset.service || document.activeElement.tagName })""", CARD)
        assert kept == {"card": "card", "next": "next", "lang": "lang", "focused": "EMP-01"}
        # The kept card acts on the new data: its information screen has the new count at once.
        page.keyboard.press("Enter")
        page.wait_for_selector("#s-info:not([hidden])")
        expect(page.locator("#infoFacts .chip").nth(1)).to_have_text(f"Növbədə: {now}")
