"""The hall board read from 10 m on a 55-inch screen: sizes, fit and languages, measured in Chromium.

A 55-inch 16:9 screen is 1218 mm wide, so at 1920×1080 a pixel is 0.63 mm and the 47 mm a digit
needs from 10 m is 75 px. Each shipped center runs with a busy hall (a call at every counter of
its boards, tens of tickets waiting, forecasts under the counts), and every configured hall board
is looked at in each of the center's languages (the board rotates area names and news through them):

- digit height of the recent calls (ticket and counter numbers) and the waiting counts: the ink
  height of each digit 0-9 in the element's rendered font (canvas ``measureText``: bounding box
  ascent + descent), the smallest of the ten (a flat-topped "1", "4" or "7", no overshoot), ≥ 75 px;
  and, independently, the ink rows of the screenshot's pixels over a number's digits, ≥ 75 px;
- area names ≥ 32 px, every Russian or English text ≥ 28 px;
- nothing cut: no element wider inside than its box (``scrollWidth > clientWidth``), no ellipsis
  or line clamp, no text outside the screen, the page does not scroll, the calls list holds its
  rows; the news line may be longer than the screen only while it slides;
- ``lang``: text with Cyrillic sits under ``lang="ru"``, English text under ``lang="en"``, and
  neither under the page's ``az``.

Screenshots: tests/screenshots/board-<center>-<board>-<lang>.png (1920×1080), and the first hall
board of each center at 1280×720 and in portrait 1080×1920.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from axe_check import assert_clean, serve_axe
from config import loader
from config.schema import CenterConfig
from display.views import board_areas
from test_kiosk_browser import box

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
OTHER_SHAPES = [{"width": 1280, "height": 720}, {"width": 1080, "height": 1920}]
DIGITS_MIN_PX = 75      # 47 mm on a 55-inch 1920×1080 screen
NAME_MIN_PX = 32
SECOND_LANGUAGE_MIN_PX = 28
# Waiting tickets per area, in the board's order: one- and two-digit counts, and an empty area.
WAITING = [12, 3, 0, 27, 8, 1, 15, 4]
# The board's own English words (the template's labels and board.js's forecasts and marks).
BOARD_ENGLISH = ["Ticket", "Counter", "Now calling", "Waiting", "No calls yet", "Connection lost",
                 "Sound is blocked", "waiting for a counter to open", "min"]

DIGIT_HEIGHTS_JS = """(selector) => {
  const ctx = document.createElement('canvas').getContext('2d');
  return Array.from(document.querySelectorAll(selector)).filter(e => e.checkVisibility()).map(e => {
    const cs = getComputedStyle(e);
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const heights = '0123456789'.split('').map(d => {
      const m = ctx.measureText(d);
      return m.actualBoundingBoxAscent + m.actualBoundingBoxDescent;
    });
    return {text: e.textContent, fontSize: parseFloat(cs.fontSize), min: Math.min(...heights), max: Math.max(...heights)};
  });
}"""

# The box of the digits of an element's text (a Range over them), for a pixel measurement.
DIGITS_BOX_JS = """(selector) => {
  const el = document.querySelector(selector);
  const node = el.firstChild, text = node.textContent, first = text.search(/[0-9]/);
  const range = document.createRange();
  range.setStart(node, first);
  range.setEnd(node, text.length);
  const r = range.getBoundingClientRect();
  return {x: r.left, y: r.top, width: r.width, height: r.height, text: text.slice(first)};
}"""

# Everything cut, clipped, too wide or off the screen; the page's own scroll size.
FIT_JS = """() => {
  const bad = [], vw = innerWidth, vh = innerHeight;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    // .sr-only: heard by a screen reader, never seen (a 1 px clipped box by design).
    if (['SCRIPT', 'STYLE', 'BR'].includes(el.tagName) || !el.checkVisibility() || el.closest('.sr-only')) continue;
    const cs = getComputedStyle(el);
    const news = el.closest('#news');
    if (!news && el.clientWidth > 0 && el.scrollWidth > el.clientWidth)
      bad.push(`${name(el)} too wide inside: ${el.scrollWidth} > ${el.clientWidth}`);
    if (!news && cs.overflowY !== 'visible' && el !== document.body) {
      // A box that clips (the calls list): each of its items wholly inside it.
      const outer = el.getBoundingClientRect();
      for (const child of el.children) {
        const r = child.getBoundingClientRect();
        if (child.checkVisibility() && !child.closest('.sr-only') && r.bottom > outer.bottom + 0.5)
          bad.push(`${name(child)} cut by ${name(el)}: ${r.bottom} > ${outer.bottom}`);
      }
    }
    if (cs.textOverflow === 'ellipsis' || (cs.webkitLineClamp && cs.webkitLineClamp !== 'none'))
      bad.push(`${name(el)} ellipsis or line clamp`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el.checkVisibility() || el.closest('#news') || el.closest('.sr-only')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5)
      bad.push(`text off the screen: ${JSON.stringify(n.textContent.trim())} at ${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)}`);
  }
  const news = document.getElementById('news'), line = document.getElementById('news-text');
  if (news && news.checkVisibility() && line.scrollWidth > news.clientWidth && !line.classList.contains('scroll'))
    bad.push('the news line is longer than the screen and does not slide');
  const page = document.documentElement;
  if (page.scrollWidth > vw || page.scrollHeight > vh) bad.push(`the page scrolls: ${page.scrollWidth}×${page.scrollHeight}`);
  return bad;
}"""

# Every text node: its text, the language of its closest [lang], its font size, whether it shows.
TEXTS_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement, text = n.textContent.trim();
    if (!text || ['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    out.push({text, lang: el.closest('[lang]').getAttribute('lang'), size: parseFloat(getComputedStyle(el).fontSize),
              shown: el.checkVisibility() && !el.closest('.sr-only'), where: el.className || el.id || el.tagName});
  }
  return out;
}"""

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LATIN = re.compile(r"[A-Za-z]")


def make_busy(server: Any, cfg: CenterConfig) -> None:
    """A call at every counter of the center's hall boards, then tickets waiting in every shown area."""
    boss = server.login("boss")
    try:
        halls = [b for b in cfg.boards if b.single_counter is None]
        numbers = sorted({n for b in halls for n in b.counters} or {c.number for c in cfg.counters})
        by_number = {c.number: c for c in cfg.counters}
        for n in numbers:
            assert boss.post(f"{server.url}/api/counters/{n}/open", timeout=5).ok
            r = server.issue(by_number[n].services[0])
            assert r.status_code == 201, r.text
            r = boss.post(f"{server.url}/api/counters/{n}/call-next", timeout=5)
            assert r.ok and r.json()["number"], r.text
        areas = list(dict.fromkeys(a for b in halls for a in board_areas(cfg, b.name)))
        counts = []
        for area, wanted in zip(areas, WAITING * 2):
            services = [s.code for s in cfg.services if s.area == area]
            issued = refused = i = 0
            while issued < wanted and refused < len(services):   # a service at its quota is passed over
                r = server.issue(services[i % len(services)])
                i += 1
                issued, refused = (issued + 1, 0) if r.status_code == 201 else (issued, refused + 1)
            counts.append(issued)   # a small center's quotas may stop an area short of its share
        assert max(counts) >= 10 and 0 in counts, counts
    finally:
        boss.close()


@pytest.fixture(params=["absheron", "fuzuli"])
def busy_center(request: Any, tmp_path: Path) -> Iterator[tuple[str, CenterConfig, Any]]:
    """A shipped center's server with a busy hall."""
    from live import LiveServer

    center = request.param
    cfg = loader.load(center)
    server = LiveServer(tmp_path, center=center).start()
    try:
        make_busy(server, cfg)
        yield center, cfg, server
    finally:
        server.stop()


def open_board(context: Any, server: Any, name: str) -> Any:
    page = context.new_page()
    page.goto(f"{server.url}/display/?board={name}&token={server.display_token(name)}")
    page.wait_for_function("() => window.novbeBoard && novbeBoard.state.synced", timeout=10_000)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    return page


def ink_height(page: Any, selector: str) -> tuple[str, int]:
    """The height of the digits' ink in the screenshot: rows with pixels unlike the background."""
    box = page.evaluate(DIGITS_BOX_JS, selector)
    shot = Image.open(io.BytesIO(page.screenshot(clip={k: box[k] for k in ("x", "y", "width", "height")}))).convert("RGB")
    background = Image.new("RGB", shot.size, shot.getpixel((0, 0)))
    # A pixel counts as ink when some channel differs by more than a third of the range (anti-aliased
    # edges lighter than that are left out, so the figure errs on the small side).
    mask = ImageChops.difference(shot, background).convert("L").point(lambda v: 255 if v > 85 else 0)
    bbox = mask.getbbox()
    assert bbox, f"no ink found for {selector}"
    return box["text"], bbox[3] - bbox[1]


def english_phrases(cfg: CenterConfig) -> list[str]:
    """English texts the board may show: its own labels, the center's area names and news in English."""
    phrases = list(BOARD_ENGLISH) + [a.name.en for a in cfg.areas if a.name.en]
    if cfg.center.news and cfg.center.news.en:
        phrases.append(cfg.center.news.en)
    return phrases


def check_languages(page: Any, cfg: CenterConfig, where: str, *, sizes: bool = True) -> list[dict[str, Any]]:
    """Every text node in the language its lang says; Russian and English big enough. Returns the texts."""
    texts = page.evaluate(TEXTS_JS)
    english = [re.compile(r"(?<![\w])" + re.escape(p) + r"(?![\w])") for p in english_phrases(cfg)]
    for t in texts:
        text, lang = t["text"], t["lang"]
        if CYRILLIC.search(text):
            assert lang == "ru", f"{where}: Russian text without lang=ru: {t}"
        if lang != "en":
            leaked = [p.pattern for p in english if p.search(text)]
            assert not leaked, f"{where}: English text without lang=en: {t}"
        if lang == "en":
            assert LATIN.search(text) and not CYRILLIC.search(text), f"{where}: not English under lang=en: {t}"
        if lang == "ru":
            assert CYRILLIC.search(text), f"{where}: not Russian under lang=ru: {t}"
        if sizes and lang in ("ru", "en") and t["shown"]:
            assert t["size"] >= SECOND_LANGUAGE_MIN_PX, f"{where}: {lang} text smaller than 28 px: {t}"
    return texts  # type: ignore[no-any-return]


def check_fit(page: Any, where: str) -> None:
    bad = page.evaluate(FIT_JS)
    assert not bad, f"{where}:\n" + "\n".join(bad)


def test_hall_boards_read_from_ten_metres(browser: Any, busy_center: tuple[str, CenterConfig, Any],
                                          screenshot_dir: Path) -> None:
    center, cfg, server = busy_center
    halls = [b for b in cfg.boards if b.single_counter is None]
    langs = list(cfg.center.languages)
    assert langs[0] == "az" and {"ru", "en"} <= set(langs)
    context = serve_axe(browser.new_context(viewport=FULL_HD))
    try:
        for board in halls:
            page = open_board(context, server, board.name)
            areas = board_areas(cfg, board.name)
            calls = page.locator("#calls li").count()
            # The rows a hall needs, not fewer: every call there is, up to the five that fit at 1080p.
            on_board = page.evaluate("() => novbeBoard.state.calls.length")
            assert calls == min(on_board, board.recent, 5), (board.name, calls, on_board)
            assert page.locator("#waiting .area").count() == len(areas)
            for lang in langs:
                where = f"{center} {board.name} {lang} 1920×1080"
                page.evaluate("(code) => novbeBoard.showLanguage(code)", lang)

                for selector in ("#calls .n", "#calls .c", "#waiting .area-count"):
                    found = page.evaluate(DIGIT_HEIGHTS_JS, selector)
                    assert found, (where, selector)
                    small = [f for f in found if f["min"] < DIGITS_MIN_PX]
                    assert not small, f"{where}: {selector} digits under {DIGITS_MIN_PX} px: {small}"
                hero = page.evaluate(DIGIT_HEIGHTS_JS, "#hero-number")[0]
                assert hero["min"] >= 1.4 * DIGITS_MIN_PX, (where, hero)   # the call being announced stays larger

                names = page.evaluate("() => Array.from(document.querySelectorAll('#waiting .area-name'))"
                                      ".map(e => [e.textContent, parseFloat(getComputedStyle(e).fontSize), e.lang])")
                assert all(size >= NAME_MIN_PX for _, size, _ in names), (where, names)
                named_in = {code for _, _, code in names}
                assert named_in == {"" if lang == "az" else lang}, (where, names)

                check_fit(page, where)
                texts = check_languages(page, cfg, where)
                assert any(t["lang"] == "ru" and t["shown"] for t in texts), where
                assert any(t["lang"] == "en" and t["shown"] for t in texts), where
                page.screenshot(path=str(screenshot_dir / f"board-{center}-{board.name}-{lang}.png"))

            # The same from the pixels: the ink of a ticket number's digits and of the largest count.
            text, height = ink_height(page, "#calls li:first-child .n")
            assert height >= DIGITS_MIN_PX, (board.name, text, height)
            widest = max(range(len(areas)), key=lambda i: int(page.locator("#waiting .area-count").nth(i).text_content() or 0))
            text, height = ink_height(page, f"#waiting .area:nth-child({widest + 1}) .area-count")
            assert height >= DIGITS_MIN_PX, (board.name, text, height)
            assert_clean(page, f"{center} {board.name} busy")
            page.close()

        # With reduced motion the news line wraps instead of sliding: the rest still fits.
        still = browser.new_context(viewport=FULL_HD, reduced_motion="reduce")
        try:
            for board in halls:
                page = open_board(still, server, board.name)
                for lang in langs:
                    page.evaluate("(code) => novbeBoard.showLanguage(code)", lang)
                    check_fit(page, f"{center} {board.name} {lang} 1920×1080, reduced motion")
                    assert page.locator("#calls li").count() >= min(3, page.evaluate("() => novbeBoard.state.calls.length"))
                page.close()
        finally:
            still.close()

        # Smaller and portrait screens: the same parts, nothing cut, nothing off the screen.
        for shape in OTHER_SHAPES:
            small = browser.new_context(viewport=shape)
            try:
                page = open_board(small, server, halls[0].name)
                for lang in langs:
                    page.evaluate("(code) => novbeBoard.showLanguage(code)", lang)
                    check_fit(page, f"{center} {halls[0].name} {lang} {shape['width']}×{shape['height']}")
                assert page.locator("#calls li").count() >= 3
                page.screenshot(path=str(screenshot_dir /
                                         f"board-{center}-{halls[0].name}-{shape['width']}x{shape['height']}.png"))
            finally:
                small.close()
    finally:
        context.close()


def test_counter_top_board_and_chooser_mark_their_languages(browser: Any, live_server: Any) -> None:
    """The counter-top screen's labels and counter state, and the board chooser, mark Russian and English."""
    cfg = loader.load("absheron")
    boss = live_server.login("boss")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = open_board(context, live_server, "counter-7")
        assert boss.post(f"{live_server.url}/api/counters/7/open", timeout=5).ok
        assert boss.post(f"{live_server.url}/api/counters/7/pause", json={"reason": "lunch"}, timeout=5).ok
        page.locator("#single-state").filter(has_text="Перерыв").wait_for()
        assert page.locator("#single-state [lang=ru]").text_content() == "Перерыв"
        assert page.locator("#single-state [lang=en]").text_content() == "Break"
        check_languages(page, cfg, "counter-7 paused")
        check_fit(page, "counter-7 paused")
        page.goto(f"{live_server.url}/display/?board=nowhere")
        # The chooser is read by whoever sets a board up, close to it: no size floor there.
        texts = check_languages(page, cfg, "board chooser", sizes=False)
        assert {t["lang"] for t in texts} == {"az", "ru", "en"}
    finally:
        context.close()
        boss.close()


def test_reduced_motion_keeps_the_board_still(browser: Any, live_server: Any) -> None:
    """With prefers-reduced-motion a new call is marked amber without blinking; otherwise it blinks."""
    boss = live_server.login("boss")
    try:
        assert boss.post(f"{live_server.url}/api/counters/1/open", timeout=5).ok
        for _ in range(2):
            assert live_server.issue("EMP-01").status_code == 201
        seen = {}
        for motion in ("no-preference", "reduce"):
            context = browser.new_context(viewport=FULL_HD, reduced_motion=motion)
            try:
                page = open_board(context, live_server, "hall-1")
                number = boss.post(f"{live_server.url}/api/counters/1/call-next", timeout=5).json()["number"]
                page.locator(f"#calls li.flash[data-number='{number}']").wait_for(timeout=5_000)
                page.locator("#hero.flash").wait_for(timeout=5_000)
                seen[motion] = page.evaluate("""() => {
                    const row = getComputedStyle(document.querySelector('#calls li.flash'));
                    const hero = getComputedStyle(document.getElementById('hero'));
                    const dot = getComputedStyle(document.querySelector('#conn-lost .dot'));
                    return {row: row.animationName, rowBg: row.backgroundColor, hero: hero.animationName,
                            heroBg: hero.backgroundColor, dot: dot.animationName};
                }""")
                assert boss.post(f"{live_server.url}/api/counters/1/finish", json={"outcome": "served"},
                                 timeout=5).ok
            finally:
                context.close()
        amber = "rgb(255, 210, 63)"
        assert seen["no-preference"]["row"] == "flash-row" and seen["no-preference"]["hero"] == "flash-hero"
        assert seen["reduce"] == {"row": "none", "rowBg": amber, "hero": "none", "heroBg": amber,
                                  "dot": "none"}, seen["reduce"]
    finally:
        boss.close()


def test_a_four_digit_ticket_fits(browser: Any, live_server: Any) -> None:
    """A day past ticket 999 ("A-1015" at counter 30) still fits the announced call and the list on one line."""
    context = browser.new_context(viewport=FULL_HD)
    try:
        page = open_board(context, live_server, "hall-2")
        page.evaluate("""() => novbeBoard.receive('ticket-called', {seq: novbeBoard.state.seq + 1, number: 'Ş-1015',
                                                                    counter: 30, service: 'VEM-01', at: Date.now() / 1000})""")
        page.locator("#calls li[data-number='Ş-1015']").wait_for(timeout=5_000)
        assert page.locator("#hero").get_attribute("data-number") == "Ş-1015"
        check_fit(page, "hall-2 with Ş-1015")
        found = page.evaluate(DIGIT_HEIGHTS_JS, "#calls .n")[0]
        assert found["min"] >= DIGITS_MIN_PX, found
    finally:
        context.close()


# The ink of an element's text against the box that is highlighted behind it: the text's baseline
# from a Range over it (its top is the font's ascent above the baseline), the ink's extent from
# canvas measureText in the element's rendered font (cedillas of Ş and Ç hang below the baseline).
INK_IN_BOX_JS = """([selector, boxSelector]) => {
  const ctx = document.createElement('canvas').getContext('2d');
  return Array.from(document.querySelectorAll(selector)).filter(e => e.checkVisibility()).map(e => {
    const cs = getComputedStyle(e);
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const m = ctx.measureText(e.textContent);
    const range = document.createRange();
    range.selectNodeContents(e);
    const r = range.getBoundingClientRect();
    const baseline = r.top + m.fontBoundingBoxAscent;
    const box = e.closest(boxSelector).getBoundingClientRect();
    return {text: e.textContent, inkTop: baseline - m.actualBoundingBoxAscent,
            inkBottom: baseline + m.actualBoundingBoxDescent, boxTop: box.top, boxBottom: box.bottom,
            contentHeight: r.height, fontHeight: m.fontBoundingBoxAscent + m.fontBoundingBoxDescent};
  });
}"""


@pytest.mark.parametrize("viewport", [FULL_HD, {"width": 1366, "height": 768}], ids=["1920x1080", "1366x768"])
def test_cedillas_sit_inside_the_highlighted_rows(browser: Any, live_server: Any, screenshot_dir: Path,
                                                  viewport: dict[str, int]) -> None:
    """The cedilla of "Ş-001" and "Ç-002" is inside the amber row and panel, not below it on the dark background."""
    # Reduced motion keeps a new call amber (no blink), so the crop shows the highlight.
    context = browser.new_context(viewport=viewport, reduced_motion="reduce")
    try:
        page = open_board(context, live_server, "hall-2")
        for number, counter in (("Ç-002", 29), ("Ş-001", 30)):
            page.evaluate("""([number, counter]) => novbeBoard.receive('ticket-called', {seq: novbeBoard.state.seq + 1,
                               number, counter, service: 'VEM-01', at: Date.now() / 1000})""", [number, counter])
            page.locator(f"#calls li.flash[data-number='{number}']").wait_for(timeout=5_000)
        page.locator("#hero.flash[data-number='Ş-001']").wait_for(timeout=5_000)
        where = f"{viewport['width']}x{viewport['height']}"
        found = page.evaluate(INK_IN_BOX_JS, ["#calls li .n", "li"]) + page.evaluate(INK_IN_BOX_JS, ["#hero-number", ".hero"])
        assert {f["text"] for f in found} == {"Ş-001", "Ç-002"}
        for f in found:
            # The Range's height is the font's ascent + descent: the baseline read from it is true.
            assert abs(f["contentHeight"] - f["fontHeight"]) < 1.5, f
            assert f["inkTop"] >= f["boxTop"] and f["inkBottom"] <= f["boxBottom"] - 1, (where, f)
        check_fit(page, f"hall-2 with Ş-001 at {where}")
        row = box(page.locator("#calls li[data-number='Ş-001']"))
        page.screenshot(path=str(screenshot_dir / f"board-cedilla-{where}.png"),
                        clip={"x": row["x"], "y": row["y"] - 20, "width": row["width"], "height": row["height"] + 40})
    finally:
        context.close()
