"""Shared fixtures: a small center, a controllable clock, a fresh store."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
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
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
