"""Accessibility of the remaining pages: reports, admin, the counter's rating screen, the status page's
rating, the "not allowed" page, in az/ru/en, with the pinned axe-core rules (tests/axe_check.py).

Each state is reached as a supervisor, an administrator or a citizen reaches it (clicks, keys, real
server answers; a failing network is simulated at the page's edge) and must show 0 violations. The
keyboard checks: the rating faces (a radio group on the status page, buttons in a named group on the
counter's screen: Tab or the arrow keys, Enter) and the admin dialogs (the focus goes into the dialog
and back to the control that opened it, even when the table behind was redrawn). Screenshots of each
page go to tests/screenshots/.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from axe_check import check_pinned, serve_axe
from config import loader
from live import PASSWORDS, LiveServer
from report_seed import HandClock, seed_days, working_days_before
from test_accessibility import axe, focused, kiosk, loaded, tap, visible, wait_focus  # noqa: F401  (axe is a fixture)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
TABLET = {"width": 1024, "height": 600}
PHONE = {"width": 390, "height": 844}
LANGS = ["az", "ru", "en"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """The default center with a week of history (for the reports) and counter 1's rating screen."""
    import time

    from server import auth
    from server.store import SQLiteStore

    live = LiveServer(tmp_path)
    cfg = loader.load("absheron")
    today = datetime.fromtimestamp(time.time() + live.offset, cfg.tz).date()
    clock = HandClock()
    store = SQLiteStore(live.db, cfg, clock=clock)
    seed_days(store, clock, working_days_before(today, 5), per_day=14)
    live.tokens[("rating", "counter-1")] = auth.add_device(store, "rating", "counter-1")
    store.close()
    live.start()
    yield live
    live.stop()


@contextmanager
def page_at(browser: Any, url: str, *, viewport: dict[str, int] = DESKTOP, **kw: Any) -> Iterator[Any]:
    context = serve_axe(browser.new_context(viewport=viewport, locale="az-AZ", **kw))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        yield page
    finally:
        context.close()
    assert not errors, errors


def log_in(page: Any, username: str) -> None:
    page.locator("#login-form").wait_for()
    page.fill("#login-form input[name=username]", username)
    page.fill("#login-form input[name=password]", PASSWORDS[username])
    page.click("#login-form button[type=submit]")


def staff_lang(page: Any, lang: str) -> None:
    page.click(f".lang button[data-lang={lang}]")
    page.wait_for_function("(l) => document.documentElement.lang === l", arg=lang)


def shot(page: Any, screenshot_dir: Path, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(screenshot_dir / f"a11y_{name}.png"), full_page=full)


def serve(live: LiveServer, staff: requests.Session, counter: int = 1, service: str = "EMP-01") -> dict[str, Any]:
    """Issue a ticket, call it at ``counter`` (opened) and start serving it; the issued ticket."""
    r = live.issue(service)
    assert r.status_code == 201, r.text
    staff.post(f"{live.url}/api/counters/{counter}/open", timeout=5).raise_for_status()
    called = staff.post(f"{live.url}/api/counters/{counter}/call-next", timeout=5).json()
    assert called["number"] == r.json()["number"], called
    staff.post(f"{live.url}/api/counters/{counter}/start", timeout=5).raise_for_status()
    return dict(r.json())


def serve_one(live: LiveServer, staff: requests.Session, counter: int = 1, service: str = "EMP-01") -> str:
    """Issue a ticket and serve it at ``counter`` (opened); its status token (the visit not yet finished)."""
    return str(serve(live, staff, counter, service)["token"])


def finish(live: LiveServer, staff: requests.Session, counter: int = 1) -> None:
    staff.post(f"{live.url}/api/counters/{counter}/finish", json={}, timeout=5).raise_for_status()


# --- the reports page -------------------------------------------------------------------------------

GROUPINGS = ["service", "area", "counter", "operator", "priority", "hour", "day"]


def loaded_after(page: Any, action: Any) -> None:
    """Do ``action`` and wait for the page to draw the answer."""
    before = page.evaluate("() => document.body.dataset.loaded || ''")
    action()
    page.wait_for_function("(b) => (document.body.dataset.loaded || '') !== b", arg=before, timeout=10_000)


@pytest.mark.parametrize("lang", LANGS)
def test_reports_every_grouping_and_period(browser, server, axe, screenshot_dir, lang):
    """Login, every grouping with data, an empty period, the period picker and the file links, an error
    toast, and the "not allowed" view for an operator: 0 violations."""
    with page_at(browser, server.url + "/counter/reports") as page:
        page.locator("#login-form").wait_for()
        check_pinned(page)
        if lang != "az":
            staff_lang(page, lang)
        axe.check(page, f"reports {lang} login")
        log_in(page, "boss")
        page.locator("#rp-view").wait_for()
        page.wait_for_function("() => document.body.dataset.loaded")
        loaded_after(page, lambda: page.click("[data-preset=year]"))
        for by in GROUPINGS:
            loaded_after(page, lambda: page.select_option("select[name=by]", by))
            assert page.locator("#rp-table tbody tr").count() >= 1
            axe.check(page, f"reports {lang} by {by}")
        assert page.evaluate("() => !!Chart.getChart(document.getElementById('chart-trend'))")
        assert page.get_attribute("#dl-csv", "href")
        shot(page, screenshot_dir, f"reports_{lang}_data")
        # An empty period (before the history): the table, misses, heat map and comments say so.
        page.fill("input[name=from]", "2021-01-04")
        page.fill("input[name=to]", "2021-01-10")
        loaded_after(page, lambda: page.click("#rp-form button[type=submit]"))
        assert page.locator("#rp-table tbody td.muted").count() == 1
        axe.check(page, f"reports {lang} empty period")
        shot(page, screenshot_dir, f"reports_{lang}_empty")
        # A refused period (to before from): the error toast.
        page.fill("input[name=from]", "2021-02-10")
        page.fill("input[name=to]", "2021-01-10")
        page.click("#rp-form button[type=submit]")
        page.locator(".toast.error").wait_for()
        axe.check(page, f"reports {lang} error toast")
        page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
        # Printing: the print stylesheet keeps the page readable (the tools are hidden).
        page.emulate_media(media="print")
        axe.check(page, f"reports {lang} print")
        page.emulate_media(media="screen")
    with page_at(browser, server.url + "/counter/reports") as page:
        if lang != "az":
            staff_lang(page, lang)
        log_in(page, "op1")
        page.locator("#forbidden-view").wait_for()
        axe.check(page, f"reports {lang} not allowed (logged in on the page)")


def test_reports_period_picker_by_keyboard(browser, server, axe):
    """The presets, the dates, the grouping, "show" and the files are reached with Tab and used with Enter."""
    with page_at(browser, server.url + "/counter/reports") as page:
        log_in(page, "boss")
        page.locator("#rp-view").wait_for()
        page.wait_for_function("() => document.body.dataset.loaded")
        page.focus("[data-preset=today]")
        order = []
        for _ in range(24):   # a date is typed (dd.mm.yyyy) with its calendar button beside it
            order.append(focused(page) or page.evaluate("() => document.activeElement.dataset.preset || ''"))
            page.keyboard.press("Tab")
        wanted = ["#typed-from", "#typed-to", "select[name=by]", "#dl-csv", "#dl-xlsx", "#print"]
        for sel in wanted:
            assert sel in order, (sel, order)
        page.focus("[data-preset=week]")
        loaded_after(page, lambda: page.keyboard.press("Enter"))
        wait_focus(page, "[data-preset=week]", "after a preset")
        page.focus("select[name=by]")
        loaded_after(page, lambda: page.keyboard.press("ArrowDown"))
        assert page.evaluate("() => document.querySelector('select[name=by]').value") == "area"
        wait_focus(page, "select[name=by]", "after choosing a grouping")
        axe.check(page, "reports after the keyboard")


# --- the admin page -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_admin_every_state_and_dialog(browser, server, axe, screenshot_dir, lang):
    """Login, the accounts and devices lists, a refused account (error toast), the confirm, password and
    token dialogs, and the page's "not allowed" view for a supervisor: 0 violations."""
    with page_at(browser, server.url + "/counter/admin", viewport={"width": 1366, "height": 900}) as page:
        page.locator("#login-form").wait_for()
        check_pinned(page)
        if lang != "az":
            staff_lang(page, lang)
        log_in(page, "admin")
        page.locator("#users tr[data-user=op1]").wait_for()
        page.locator("#devices tr[data-name=kiosk-1]").wait_for()
        axe.check(page, f"admin {lang} lists")
        shot(page, screenshot_dir, f"admin_{lang}")
        # A refused account: the name is taken.
        form = page.locator("#user-form")
        form.locator("input[name=username]").fill("op1")
        form.locator("input[name=password]").fill("a-long-password-1")
        form.locator("button[type=submit]").click()
        page.locator(".toast.error").wait_for()
        axe.check(page, f"admin {lang} refused account")
        page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
        # The confirm dialog (disable op2), the password dialog, the token dialog.
        page.click("#users tr[data-user=op2] [data-act=disable]")
        page.locator("#confirm-dialog[open]").wait_for()
        axe.check(page, f"admin {lang} confirm dialog")
        page.click("#confirm-dialog [data-answer=no]")
        page.click("#users tr[data-user=op2] [data-act=password]")
        page.locator("#password-dialog[open]").wait_for()
        axe.check(page, f"admin {lang} password dialog")
        shot(page, screenshot_dir, f"admin_{lang}_password", full=False)
        page.click("#password-dialog [data-cancel]")
        page.click("#devices tr[data-name=kiosk-1] [data-act=rotate]")
        page.click("#confirm-dialog [data-answer=yes]")
        page.locator("#token-dialog[open]").wait_for()
        axe.check(page, f"admin {lang} token dialog")
        shot(page, screenshot_dir, f"admin_{lang}_token", full=False)
        page.click("#token-dialog [data-cancel]")
    with page_at(browser, server.url + "/counter/admin") as page:
        if lang != "az":
            staff_lang(page, lang)
        log_in(page, "boss")
        page.locator("#forbidden-view").wait_for()
        axe.check(page, f"admin {lang} not allowed (logged in on the page)")


def test_admin_dialogs_take_and_give_back_the_focus(browser, server, axe):
    """Each dialog takes the focus when it opens and gives it back to the control that opened it when it
    closes, after the answer redrew the table (never <body>)."""
    with page_at(browser, server.url + "/counter/admin", viewport={"width": 1366, "height": 900}) as page:
        log_in(page, "admin")
        page.locator("#users tr[data-user=op2]").wait_for()
        kb = page.keyboard

        def redrawn(change: str, count: int = 1) -> None:
            """The tables were drawn again after the change (its line is in the log under them)."""
            page.wait_for_function("([c, n]) => document.querySelectorAll(`#admin-audit tr[data-change='${c}']`).length >= n",
                                   arg=[change, count], timeout=5000)

        # Disable op2 by keyboard: the question takes the focus on "no"; Tab, Enter; the row is redrawn
        # and the focus is on its new "enable" button.
        page.focus("#users tr[data-user=op2] [data-act=disable]")
        kb.press("Enter")
        page.locator("#confirm-dialog[open]").wait_for()
        wait_focus(page, "#confirm-dialog [data-answer=no]", "disable question")
        kb.press("Tab")
        kb.press("Enter")
        redrawn("disabled")
        wait_focus(page, "#users tr[data-user=op2] [data-act=enable]", "after disabling")
        # Escape on a question: back on the same button.
        kb.press("Enter")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Escape")
        wait_focus(page, "#users tr[data-user=op2] [data-act=enable]", "after Escape")
        # A new password: the field takes the focus; saved, the focus is on "new password" again.
        page.focus("#users tr[data-user=op2] [data-act=password]")
        kb.press("Enter")
        page.locator("#password-dialog[open]").wait_for()
        wait_focus(page, "#password-dialog input[name=password]", "password dialog")
        kb.type("another-pass-22")
        kb.press("Enter")
        redrawn("password")
        wait_focus(page, "#users tr[data-user=op2] [data-act=password]", "after a new password")
        # A role changed with the arrow key: the question, then the focus on the row's role list.
        page.focus("#users tr[data-user=op1] select.role-pick")
        kb.press("ArrowDown")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        kb.press("Enter")
        redrawn("role")
        assert page.evaluate("() => document.querySelector('#users tr[data-user=op1] select').value") == "supervisor"
        wait_focus(page, "#users tr[data-user=op1] select.role-pick", "after a role change")
        # A device token: the address takes the focus; closed, the focus is on the row's button again.
        page.focus("#devices tr[data-name=counter-1] [data-act=rotate]")
        kb.press("Enter")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        kb.press("Enter")
        page.locator("#token-dialog[open]").wait_for()
        wait_focus(page, "#token-address", "token dialog")
        redrawn("token-rotated")                         # the table behind was redrawn while it was open
        page.focus("#token-dialog [data-cancel]")
        kb.press("Enter")
        wait_focus(page, "#devices tr[data-name=counter-1] [data-act=rotate]", "after the token dialog")
        # Revoked, a rating screen leaves the list: the focus is on the row now in its place.
        page.focus("#devices tr[data-name=counter-1] [data-act=revoke]")
        kb.press("Enter")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        kb.press("Enter")
        redrawn("revoked")
        assert page.locator("#devices tr[data-name=counter-1]").count() == 0
        wait_focus(page, "#devices tbody button", "after revoking a rating screen's token")
        # Revoked, a board stays in the list (the center file has it) offering "make a token": the focus is on it.
        page.focus("#devices tr[data-name=hall-1] [data-act=revoke]")
        kb.press("Enter")
        page.locator("#confirm-dialog[open]").wait_for()
        kb.press("Tab")
        kb.press("Enter")
        redrawn("revoked", 2)
        wait_focus(page, "#devices tr[data-name=hall-1] [data-act=create]", "after revoking")
        # Made again, and the dialog closed with Escape: the focus on the row's "new token".
        kb.press("Enter")
        page.locator("#token-dialog[open]").wait_for()
        redrawn("token-created")
        kb.press("Escape")
        wait_focus(page, "#devices tr[data-name=hall-1] [data-act=rotate]", "after making a token")
        axe.check(page, "admin after the keyboard")


# --- the server's own pages: the start page and the browser's error pages -----------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_start_and_error_pages(browser, server, axe, screenshot_dir, lang):
    """The start page, and the page a browser gets for an address that does not exist, in each language:
    0 violations (the error pages share one template, tests/test_error_pages.py)."""
    with page_at(browser, server.url + f"/?lang={lang}") as page:
        page.locator("main, body").first.wait_for()
        axe.check(page, f"start page {lang}")
        response = page.goto(server.url + f"/no/such/page?lang={lang}")
        assert response.status == 404
        assert page.evaluate("() => document.documentElement.lang") == lang
        axe.check(page, f"error 404 {lang}")
        shot(page, screenshot_dir, f"error_404_{lang}", full=False)


# --- the "not allowed" page (server-rendered for a signed-in account without the role) ----------------

@pytest.mark.parametrize("lang", LANGS)
def test_forbidden_pages(browser, server, axe, screenshot_dir, lang):
    """Each page's own reason, the role named in the page's language (header), no connection dot (no live link)."""
    import i18n
    from live import ROLES

    for path, who, why in (("/counter/admin", "boss", "not_allowed_admin"),
                           ("/counter/supervisor", "op1", "not_allowed_text"),
                           ("/counter/reports", "op1", "rp_not_allowed")):
        header = f"{who} · {i18n.text('staff', 'role_' + ROLES[who], lang)}"
        with page_at(browser, server.url + "/counter/") as page:
            if lang != "az":
                staff_lang(page, lang)
            log_in(page, who)
            page.locator("#picker, #desk").first.wait_for()
            assert page.locator("#who").text_content() == header   # the desk's header too
            response = page.goto(server.url + path)
            assert response.status == 403
            page.locator("#forbidden-view").wait_for()
            page.wait_for_function("(l) => document.documentElement.lang === l", arg=lang)
            page.locator("#who:not(:empty)").wait_for()
            assert page.locator("#who").text_content() == header
            assert page.locator("#forbidden-view p").text_content() == i18n.text("staff", why, lang)
            assert page.locator("#conn").is_hidden()
            axe.check(page, f"not allowed {lang} {path}")
            if lang == "az":
                # The language switch redraws the role and the reason.
                staff_lang(page, "ru")
                assert page.locator("#who").text_content() == f"{who} · {i18n.text('staff', 'role_' + ROLES[who], 'ru')}"
                assert page.locator("#forbidden-view p").text_content() == i18n.text("staff", why, "ru")
            if path == "/counter/reports":
                shot(page, screenshot_dir, f"forbidden_{lang}", full=False)


# --- the counter's rating screen ------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_rating_screen_every_state(browser, server, axe, screenshot_dir, lang):
    """Without a token, idle, offline, the question, the reasons, a failed send, thanks: 0 violations."""
    token = server.tokens[("rating", "counter-1")]
    staff = server.login("boss")
    with page_at(browser, server.url + "/rate/", viewport=TABLET) as page:
        check_pinned(page)
        if lang != "az":
            page.click(f".langs button[data-lang={lang}]")
        axe.check(page, f"rating screen {lang} without a token")
        page.goto(f"{server.url}/rate/?counter=1&token={token}")
        page.wait_for_function("() => document.getElementById('conn').classList.contains('hide')", timeout=5000)
        axe.check(page, f"rating screen {lang} idle")
        shot(page, screenshot_dir, f"rate_{lang}_idle")
        serve_one(server, staff)
        finish(server, staff)
        page.locator("#ask").wait_for(state="visible", timeout=5000)
        axe.check(page, f"rating screen {lang} question")
        shot(page, screenshot_dir, f"rate_{lang}_question")
        page.click('.face-btn[data-score="2"]')
        page.locator("#why").wait_for(state="visible")
        axe.check(page, f"rating screen {lang} reasons")
        shot(page, screenshot_dir, f"rate_{lang}_reasons")
        page.route("**/api/rate/1", lambda r: r.abort("connectionrefused") if r.request.method == "POST" else r.continue_())
        page.click("#reasons .reason >> nth=0")
        page.locator("#err").wait_for(state="visible")
        axe.check(page, f"rating screen {lang} not sent")
        page.unroute("**/api/rate/1")
        page.click("#reasons .reason >> nth=0")
        page.locator("#thanks").wait_for(state="visible")
        axe.check(page, f"rating screen {lang} thanks")
        shot(page, screenshot_dir, f"rate_{lang}_thanks")
        server.stop()
        page.wait_for_function("() => !document.getElementById('conn').classList.contains('hide')", timeout=10_000)
        axe.check(page, f"rating screen {lang} offline")
        server.start()


def test_rating_screen_by_keyboard(browser, server, axe):
    """The faces are buttons in a group named by the question: Tab or the arrow keys go along them, Enter
    chooses. Each view puts the focus on its question (a focused face would look chosen), a low score on
    the reasons' question (the reasons a group it names), a choice on the thanks."""
    token = server.tokens[("rating", "counter-1")]
    staff = server.login("boss")
    with page_at(browser, f"{server.url}/rate/?counter=1&token={token}", viewport=TABLET) as page:
        page.wait_for_function("() => document.getElementById('conn').classList.contains('hide')", timeout=5000)
        serve_one(server, staff)
        finish(server, staff)
        page.locator("#ask").wait_for(state="visible", timeout=5000)
        group = page.get_by_role("group", name="Xidmətdən razı qaldınızmı?")
        assert group.get_by_role("button").count() == 5
        wait_focus(page, "#ask-q", "the question")                    # no face drawn as if chosen
        assert page.locator(".face-btn:focus").count() == 0
        page.keyboard.press("Tab")
        wait_focus(page, '.face-btn[data-score="1"]', "Tab to the faces")
        page.keyboard.press("Tab")
        wait_focus(page, '.face-btn[data-score="2"]', "Tab along the faces")
        page.keyboard.press("ArrowRight")
        wait_focus(page, '.face-btn[data-score="3"]', "ArrowRight along the faces")
        page.keyboard.press("ArrowLeft")
        wait_focus(page, '.face-btn[data-score="2"]', "ArrowLeft along the faces")
        assert page.locator("#ask").is_visible()          # moving chooses nothing
        page.keyboard.press("Enter")
        page.locator("#why").wait_for(state="visible")
        wait_focus(page, "#why-q", "the reasons' question")
        assert page.get_by_role("group", name="Nə düzgün olmadı?").get_by_role("button").count() >= 3
        page.keyboard.press("Tab")
        wait_focus(page, "#reasons .reason", "Tab to the first reason")
        page.keyboard.press("Enter")
        page.locator("#thanks").wait_for(state="visible")
        wait_focus(page, "#thanks-text", "the thanks")
        # A good score goes straight to thanks.
        serve_one(server, staff)
        finish(server, staff)
        page.locator("#ask").wait_for(state="visible", timeout=5000)
        wait_focus(page, "#ask-q", "the next question")
        page.keyboard.press("Tab")
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        wait_focus(page, '.face-btn[data-score="4"]', "three to the right")
        page.keyboard.press("Enter")
        page.locator("#thanks").wait_for(state="visible")


# --- the status page's rating -------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_status_rating_every_state(browser, server, axe, screenshot_dir, lang):
    """The faces, the reasons and the comment, a failed send, thanks, already rated (from elsewhere), and
    thanks after a reload: 0 violations."""
    staff = server.login("boss")
    tokens = []
    for _ in range(2):
        tokens.append(serve_one(server, staff))
        finish(server, staff)
    with page_at(browser, f"{server.url}/t/{tokens[0]}?lang={lang}", viewport=PHONE, is_mobile=True,
                 has_touch=True) as page:
        check_pinned(page)
        page.locator("#rating .face-btn").first.wait_for(timeout=5000)
        # Every face's word inside its own button (the Russian and English ones overflowed a 390 px phone).
        spill = page.evaluate("""() => [...document.querySelectorAll('#rating .face-btn')].filter(b => {
            const l = b.querySelector('.lbl').getBoundingClientRect(), r = b.getBoundingClientRect();
            return l.left < r.left || l.right > r.right || b.scrollWidth > b.clientWidth + 1; }).map(b => b.dataset.score)""")
        assert spill == [], f"face labels overflow their buttons: {spill}"
        axe.check(page, f"status rating {lang} faces")
        shot(page, screenshot_dir, f"status_rating_{lang}_faces")
        page.click('.face-btn[data-score="2"]')
        page.locator("#rating .reasons").wait_for()
        page.locator("#rating .reasons input >> nth=0").check()
        page.fill("#rating-comment", "Növbə uzun idi")
        axe.check(page, f"status rating {lang} reasons and comment")
        shot(page, screenshot_dir, f"status_rating_{lang}_reasons")
        page.route("**/rating", lambda r: r.abort("connectionrefused") if r.request.method == "POST" else r.continue_())
        page.click("#rating-send")
        page.locator("#rating-err").wait_for(state="visible")
        axe.check(page, f"status rating {lang} not sent")
        page.unroute("**/rating")
        page.click("#rating-send")
        page.locator("#rating-done").wait_for()
        axe.check(page, f"status rating {lang} thanks")
        shot(page, screenshot_dir, f"status_rating_{lang}_thanks")
        page.reload()
        page.locator("#rating-done").wait_for()
        axe.check(page, f"status rating {lang} rated, reloaded")
        # Rated from elsewhere (the counter's screen) while the phone still asks: "already rated".
        page.goto(f"{server.url}/t/{tokens[1]}?lang={lang}")
        page.locator("#rating .face-btn").first.wait_for(timeout=5000)
        page.click('.face-btn[data-score="5"]')
        requests.post(f"{server.url}/api/status/{tokens[1]}/rating", json={"score": 4}, timeout=5).raise_for_status()
        page.click("#rating-send")
        page.locator("#rating-done").wait_for()
        axe.check(page, f"status rating {lang} already rated")


def test_status_rating_faces_by_keyboard(browser, server):
    """The faces are a radio group named by the question: one tab stop, the arrow keys choose, Tab goes
    on to the reasons, the comment and "send", Enter sends; the thanks take the focus."""
    staff = server.login("boss")
    token = serve_one(server, staff)
    finish(server, staff)
    with page_at(browser, f"{server.url}/t/{token}?lang=en", viewport=PHONE, is_mobile=True, has_touch=True) as page:
        page.locator("#rating .face-btn").first.wait_for(timeout=5000)
        group = page.get_by_role("radiogroup", name="How satisfied are you with the service?")
        assert group.get_by_role("radio").count() == 5
        assert page.locator("#rating .face-btn[tabindex='0']").count() == 1      # one tab stop
        page.focus('#rating .face-btn[data-score="1"]')
        page.keyboard.press("ArrowRight")
        wait_focus(page, '#rating .face-btn[data-score="2"][aria-checked=true]', "arrow right")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        wait_focus(page, '#rating .face-btn[data-score="2"][aria-checked=true]', "arrow left")
        assert page.get_by_role("radio", name="2 — Bad", checked=True).count() == 1
        page.keyboard.press("Tab")
        wait_focus(page, "#rating .reasons input", "Tab to the reasons")
        page.keyboard.press("Space")
        assert page.locator("#rating .reasons input:checked").count() == 1
        page.keyboard.press("Tab")
        wait_focus(page, "#rating-comment", "Tab to the comment")
        page.keyboard.type("Long queue")
        page.keyboard.press("Tab")
        wait_focus(page, "#rating-send", "Tab to send")
        page.keyboard.press("Enter")
        page.locator("#rating-done").wait_for()
        wait_focus(page, "#rating-done", "the thanks")


# --- the kiosk's remaining error screens ----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_kiosk_error_screens(browser, server, axe, lang):
    """The messages not met elsewhere (center closed with its next opening, storage fault, too many tickets,
    any other refusal) and the setup screen of a kiosk whose token was revoked: 0 violations."""
    answers = {
        "closed": (409, {"ok": False, "error": "center_closed", "message": "closed",
                         "next_opening": "2031-06-02T09:00:00+04:00"}),
        "storage": (503, {"ok": False, "error": "storage_full", "message": "disk full"}),
        "rate": (429, {"ok": False, "error": "rate_limited", "message": "too many"}),
        "generic": (400, {"ok": False, "error": "invalid_request", "message": "bad"}),
    }
    with kiosk(browser, server) as page:
        loaded(page)
        for kind, (status, body) in answers.items():
            if lang != "az":
                tap(page, f"#langBig [data-lang={lang}]")
            tap(page, "#startBtn")
            tap(page, "[data-area=employment]")
            tap(page, "#serviceList [data-service=EMP-01]")
            page.route("**/api/tickets", (lambda st, b: lambda r: r.fulfill(status=st, json=b))(status, body))
            tap(page, "#takeBtn")
            if page.locator("#s-priority").is_visible():
                tap(page, "#priorityNo")
            page.wait_for_selector(f"#modal[data-kind={kind}]:not([hidden])")
            assert page.get_by_role("alertdialog").filter(has_text=page.text_content("#modalText")).count() == 1
            axe.check(page, f"kiosk {lang} message {kind}")
            page.unroute("**/api/tickets")
            tap(page, "#modalOk")
            tap(page, "#homeBtn")
        # The token revoked while the kiosk runs: the next ticket shows the setup screen.
        page.route("**/api/tickets", lambda r: r.fulfill(status=401, json={"ok": False, "error": "unauthorized",
                                                                            "message": "device token refused"}))
        tap(page, "#startBtn")
        tap(page, "[data-area=employment]")
        tap(page, "#serviceList [data-service=EMP-01]")
        tap(page, "#takeBtn")
        if page.locator("#s-priority").is_visible():
            tap(page, "#priorityNo")
        visible(page, "setup")
        axe.check(page, f"kiosk {lang} token refused")
