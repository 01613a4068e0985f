"""Shared fixtures: a small center, a controllable clock, a fresh store."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config import loader
from config.schema import CenterConfig

BAKU = ZoneInfo("Asia/Baku")
ALL_DAY = {d: "08:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def mini_config(**overrides: object) -> CenterConfig:
    """A small center: two areas, four services, three counters."""
    raw: dict = {
        "center": {"id": "test", "name": {"az": "Sınaq DOST mərkəzi", "ru": "Тестовый центр", "en": "Test center"},
                   "daily_capacity": 100, "hours": dict(ALL_DAY)},
        "policy": {"recall_limit": 2, "priority_streak": 2, "starvation_minutes": 30,
                   "kiosk_rate_limit": "1000 per minute"},
        "priority_groups": [
            {"code": "shehid-qazi", "name": {"az": "Şəhid ailəsi və qazi"}, "rank": 1},
            {"code": "disability", "name": {"az": "Əlillik"}, "rank": 2},
        ],
        "agencies": [{"code": "DOST", "name": {"az": "DOST"}}],
        "areas": [
            {"code": "employment", "name": {"az": "Məşğulluq", "ru": "Занятость", "en": "Employment"}, "agency": "DOST"},
            {"code": "pension", "name": {"az": "Pensiya təminatı", "ru": "Пенсии", "en": "Pensions"}, "agency": "DOST"},
        ],
        "services": [
            {"code": "EMP-1", "area": "employment", "letter": "A", "quota": 50, "target_minutes": 10,
             "name": {"az": "İşsiz kimi qeydiyyat", "ru": "Регистрация безработного", "en": "Unemployment registration"},
             "priority_groups": ["shehid-qazi", "disability"],
             "documents": [{"az": "Şəxsiyyət vəsiqəsi", "ru": "Удостоверение личности", "en": "Identity card"}]},
            {"code": "EMP-2", "area": "employment", "letter": "A", "quota": 5, "target_minutes": 10,
             "name": {"az": "Vakansiyalar", "ru": "Вакансии", "en": "Vacancies"}},
            {"code": "PEN-1", "area": "pension", "letter": "Ə", "quota": 50, "target_minutes": 15,
             "name": {"az": "Əmək pensiyası", "ru": "Трудовая пенсия", "en": "Labour pension"},
             "priority_groups": ["shehid-qazi", "disability"]},
            {"code": "PEN-2", "area": "pension", "letter": "Ə", "quota": 50,
             "name": {"az": "Pensiyanın yenidən hesablanması", "ru": "Перерасчёт", "en": "Recalculation"}},
        ],
        "counters": [
            {"number": 1, "services": ["EMP-1", "EMP-2"]},
            {"number": 2, "services": ["PEN-1", "PEN-2", "EMP-1"]},
            {"number": 3, "services": ["PEN-2"], "daily_limit": 3},
        ],
        "kiosks": [{"name": "kiosk-1"}],
        "boards": [{"name": "hall-1"}],
    }
    for dotted, value in overrides.items():
        node = raw
        *path, last = dotted.split("__")
        for part in path:
            node = node[part]
        node[last] = value
    return loader.parse(raw, source="mini")


class Clock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def cfg() -> CenterConfig:
    return mini_config()


@pytest.fixture
def clock() -> Clock:
    # A Tuesday morning in Baku.
    return Clock(datetime(2026, 11, 24, 10, 0, tzinfo=BAKU))


@pytest.fixture
def store(tmp_path: Path, cfg: CenterConfig, clock: Clock):
    from server.store import SQLiteStore

    s = SQLiteStore(tmp_path / "novbe.db", cfg, clock=clock)
    yield s
    s.close()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("NOVBE_TESTING", "1")


# --- real servers and a real browser -------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture
def live_server(tmp_path: Path):
    """``novbe run`` for the default center on a free loopback port (see tests/live.py)."""
    from live import LiveServer

    server = LiveServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium driven by Playwright (no browser download), one per test session."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# What Chromium says (console or uncaught error) when the Content-Security-Policy blocks something:
# "Executing inline script violates the following Content Security Policy directive ..." (Chromium
# 156; older ones: "Refused to execute inline script because it violates ..."), and the same words
# for a blocked style, font, connection or eval.
CSP_MESSAGES = ("Content Security Policy", "Content-Security-Policy")


class CspWatch:
    """Every CSP violation met by the pages of one test (console messages and uncaught errors)."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.contexts: list[Any] = []

    def note(self, where: str, text: str) -> None:
        if any(m in text for m in CSP_MESSAGES):
            self.violations.append(f"{where}: {text}")

    def attach(self, context: Any) -> Any:
        self.contexts.append(context)
        context.on("console", lambda msg: self.note(f"console {msg.type} on {msg.page.url if msg.page else '?'}",
                                                    msg.text))
        context.on("weberror", lambda err: self.note(f"page error on {err.page.url if err.page else '?'}",
                                                     str(err.error)))
        return context


class WatchedBrowser:
    """A Playwright browser whose every context reports CSP violations to a ``CspWatch``.

    Under ``script-src 'self'`` Playwright's ``wait_for_function`` with a bare expression string
    polls through ``eval`` and is refused: write predicates as functions, ``"() => ..."``.
    """

    def __init__(self, real: Any, watch: CspWatch) -> None:
        self._real, self._watch = real, watch
        self.csp = watch   # a test may look at (and clear) what the guard saw

    def new_context(self, **kwargs: Any) -> Any:
        assert not kwargs.get("bypass_csp"), "browser tests run under the pages' real CSP"
        return self._watch.attach(self._real.new_context(**kwargs))

    def new_page(self, **kwargs: Any) -> Any:
        return self.new_context(**kwargs).new_page()

    @property
    def browser_type(self) -> Any:
        watch, real_type = self._watch, self._real.browser_type

        class _Type:
            def launch(self, **kwargs: Any) -> WatchedBrowser:
                return WatchedBrowser(real_type.launch(**kwargs), watch)

        return _Type()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def browser(chromium: Any):
    """The session's Chromium for one test; the test fails if any page broke the Content-Security-Policy."""
    watch = CspWatch()
    yield WatchedBrowser(chromium, watch)
    for context in watch.contexts:   # closing delivers the console messages still in flight
        try:
            context.close()
        except Exception:
            pass   # already closed by the test, or its browser is gone
    assert not watch.violations, "Content-Security-Policy violations:\n" + "\n".join(watch.violations)


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
