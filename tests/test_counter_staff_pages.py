"""What a tester found on the staff pages, each proven in headless Chromium at 1366×768 against a real server.

- The pause dialog says a reason is missing instead of doing nothing.
- The login form says how many seconds to wait when the server throttles, and lets the operator in again after.
- A logged-out or blocked operator's login screen shows nothing of the last session's counter.
- After switching to RU/EN the spoken live region speaks the chosen language.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from live import PASSWORDS

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}


def staff_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=VIEWPORT, locale="az-AZ")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return context, page, errors


def log_in(page: Any, username: str, password: str | None = None) -> None:
    page.locator("#login-form").wait_for()
    page.fill("#login-form input[name=username]", username)
    page.fill("#login-form input[name=password]", PASSWORDS[username] if password is None else password)
    page.click("#login-form button[type=submit]")


def open_counter(page: Any, number: int = 1) -> None:
    # Logged in again, the page goes straight back to the counter it had open (it is remembered): wait for the
    # first snapshot before choosing, else the picker may hide under the click (the picker left from before).
    page.wait_for_function("() => !!(window.Novbe && Novbe.live.snap)")
    if page.locator("#desk-view").is_hidden():
        page.locator(f"#picker button[data-counter='{number}']").click()
    page.locator("#counter-title", has_text="Açıq").wait_for()


def test_pause_without_a_reason_says_what_is_missing(browser: Any, live_server: Any, screenshot_dir: Path) -> None:
    context, page, errors = staff_page(browser, live_server.url + "/counter/")
    log_in(page, "op1")
    open_counter(page)
    page.locator("button[data-act=pause]").click()
    dialog = page.locator("#pause-dialog")
    dialog.wait_for()
    dialog.locator("button[type=submit]").click()
    expect(page.locator("#pause-error")).to_have_text("Fasilənin səbəbini seçin və ya yazın")
    assert page.evaluate("() => document.getElementById('pause-dialog').open")
    assert page.evaluate("() => document.activeElement.name") == "reason"
    page.screenshot(path=str(screenshot_dir / "counter-pause-no-reason-az.png"))
    page.fill("#pause-dialog input[name=reason]", "Təlim")
    expect(page.locator("#pause-error")).to_have_text("")
    dialog.locator("button[type=submit]").click()
    page.locator(".ticket.paused", has_text="Təlim").wait_for()
    assert errors == []
    context.close()


def test_a_throttled_login_says_how_long_and_lets_in_after(browser: Any, live_server: Any,
                                                           screenshot_dir: Path) -> None:
    context, page, errors = staff_page(browser, live_server.url + "/counter/")
    message, button = page.locator("#login-error"), page.locator("#login-form button[type=submit]")
    for _ in range(3):     # three wrong passwords are free (auth.PAIR_FREE)
        log_in(page, "op1", "wrong-password")
        expect(message).to_have_text("İstifadəçi adı və ya şifrə yanlışdır")
        expect(button).to_be_enabled()
    log_in(page, "op1", "wrong-password")
    expect(message).to_have_text("Çox yanlış cəhd: 2 saniyədən sonra yenidən yoxlayın")
    assert button.is_disabled()
    page.screenshot(path=str(screenshot_dir / "login-throttled-az.png"))
    page.locator(".lang button[data-lang=en]").click()
    expect(message).to_have_text("Too many wrong attempts: try again in 1 s")     # counted down, in the new language
    expect(button).to_be_enabled(timeout=3000)
    expect(message).to_have_text("")
    log_in(page, "op1")
    page.locator("#picker").wait_for()
    assert errors == []
    context.close()


def test_a_logged_out_or_blocked_screen_shows_no_counter(browser: Any, live_server: Any,
                                                         screenshot_dir: Path) -> None:
    context, page, errors = staff_page(browser, live_server.url + "/counter/")
    admin = live_server.login("admin")
    for how in ("logout", "disabled"):
        log_in(page, "op1")
        open_counter(page)
        expect(page.locator("#counter-title")).to_contain_text("Masa 1")
        if how == "logout":
            page.click("#logout")
        else:
            admin.patch(f"{live_server.url}/api/users/op1", json={"disabled": True}, timeout=5).raise_for_status()
        page.locator("#login-view").wait_for()
        expect(page.locator("#counter-title")).to_have_text("")
        assert "Açıq" not in page.locator("header.top").inner_text(), how
        assert "Masa 1" not in page.title() and page.locator("#desk-announce").text_content() == ""
        page.screenshot(path=str(screenshot_dir / f"counter-after-{how}-az.png"))
        if how == "disabled":
            expect(page.locator("#login-error")).not_to_be_empty()
    admin.patch(f"{live_server.url}/api/users/op1", json={"disabled": False}, timeout=5).raise_for_status()
    assert errors == []
    context.close()


def test_the_live_region_and_the_center_name_follow_the_language(browser: Any, live_server: Any,
                                                                 screenshot_dir: Path) -> None:
    import i18n
    from config import loader

    cfg = loader.load("absheron")
    context, page, errors = staff_page(browser, live_server.url + "/counter/")
    log_in(page, "op1")
    open_counter(page)
    number = live_server.issue("EMP-01").json()["number"]
    page.locator(f"#waiting li[data-number='{number}']").wait_for(timeout=5000)
    page.keyboard.press("F2")
    page.locator("#current-number", has_text=number).wait_for()
    service = {s.code: s for s in cfg.services}["EMP-01"]
    said = page.locator("#desk-announce")
    for lang in ("az", "en", "ru"):
        if lang != "az":
            page.click(f".lang button[data-lang={lang}]")
        want = i18n.text("staff", "announce_called", lang).replace("{n}", number).replace("{svc}", service.name.get(lang))
        expect(said).to_have_text(want)
        expect(page.locator("header .center")).to_have_text(cfg.center.name.get(lang))
    page.screenshot(path=str(screenshot_dir / "counter-called-ru.png"))
    assert errors == []
    context.close()


def test_logged_in_again_the_picker_waits_for_this_sessions_counters(browser: Any, live_server: Any,
                                                                     screenshot_dir: Path) -> None:
    """The last session's counter buttons are not shown (pressing one did nothing) until the new session's
    snapshot is in: a "loading" line only. The socket's messages are held back to see it (route_web_socket)."""
    context = browser.new_context(viewport=VIEWPORT, locale="az-AZ")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    held: dict[str, Any] = {"on": False, "queue": [], "ws": []}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        held["ws"].append(ws)

        def from_server(message: Any) -> None:
            if held["on"]:
                held["queue"].append((ws, message))
            else:
                ws.send(message)
        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    page.goto(live_server.url + "/counter/")
    log_in(page, "op1")
    page.wait_for_function("() => !!(window.Novbe && Novbe.live.snap)")
    expect(page.locator("#picker button.pick")).not_to_have_count(0)      # the first session's counters
    page.click("#logout")
    page.locator("#login-view").wait_for()
    held["on"] = True                                                     # the next socket's news waits
    log_in(page, "op1")
    page.locator("#picker-view").wait_for()
    loading = page.locator("#picker .picker-loading")
    expect(loading).to_have_text("Masalar yüklənir…")
    page.wait_for_timeout(700)
    assert page.locator("#picker button").count() == 0                  # nothing of the last session to press
    assert page.evaluate("() => Novbe.live.snap") is None
    page.click(".lang button[data-lang=ru]")
    expect(loading).to_have_text("Загрузка окон…")
    page.click(".lang button[data-lang=az]")
    page.screenshot(path=str(screenshot_dir / "counter-picker-loading-az.png"))
    held["on"] = False
    for ws, message in held["queue"]:
        ws.send(message)
    page.locator("#picker button[data-counter='1']").click()              # this session's: it opens the counter
    page.locator("#counter-title", has_text="Açıq").wait_for()
    assert errors == []
    context.close()
