"""Staff pages for screen readers: each has an h1 naming it, in the page's language (headless Chromium,
a real server).

The supervisor, reports and admin pages had only h2s once logged in: a screen reader's "next heading
level 1" found nothing. Their name in the bar is now the h1; the counter page keeps its own (the picker's
question, the desk's hidden "Masa N").
"""
from __future__ import annotations

from typing import Any

import pytest

from test_counter_staff_pages import log_in, staff_page

pytestmark = pytest.mark.browser

PAGES = {
    "supervisor": {"az": "Nəzarətçi paneli", "ru": "Панель супервайзера", "en": "Supervisor view"},
    "reports": {"az": "Hesabatlar", "ru": "Отчёты", "en": "Reports"},
    "admin": {"az": "Administrasiya", "ru": "Администрирование", "en": "Administration"},
}


def _visible_h1(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("h1:visible").all_inner_texts()]


def test_each_staff_page_has_an_h1_in_its_language(browser: Any, live_server: Any) -> None:
    context, page, errors = staff_page(browser, live_server.url + "/counter/supervisor")
    log_in(page, "admin")
    page.locator("#sup-view").wait_for()
    for path, names in PAGES.items():
        page.goto(f"{live_server.url}/counter/{path}")
        page.locator("#logout").wait_for()
        page.locator("#login-view").wait_for(state="hidden")
        for lang in ("az", "ru", "en", "az"):
            page.click(f".lang button[data-lang={lang}]")
            assert _visible_h1(page) == [names[lang]], (path, lang, _visible_h1(page))
            h1 = page.locator("h1:visible")
            assert h1.evaluate("(h) => h.closest('header') !== null")     # the page's name, before its content
    # The counter page: the picker's question, then the desk's own (hidden) heading naming the counter.
    page.goto(f"{live_server.url}/counter/")
    page.locator("#picker-view h1").wait_for()
    assert page.locator("#picker-view h1").inner_text().strip() == "İşləyəcəyiniz masanı seçin"
    page.locator("#picker [data-counter='1'], #picker button").first.click()
    page.locator("#desk-view").wait_for()
    page.wait_for_function("() => document.getElementById('desk-heading').textContent.trim() !== ''")
    assert page.locator("h1").evaluate_all("(hs) => hs.filter(h => h.offsetParent !== null || "
                                           "h.classList.contains('sr-only')).length") >= 1
    assert errors == []
    context.close()
