"""The packaged center configurations load, match the DOST facts, and bad copies fail clearly."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from config import loader
from config.loader import ConfigError
from config.schema import LANGS, CenterConfig, Text

# The 13 service areas of a DOST center, in Azerbaijani, exactly as in the seeds README.
AREA_NAMES_AZ = [
    "Məşğulluq",
    "Pensiya təminatı",
    "Sosial müavinətlər və təqaüdlər",
    "Sosial xidmətlər",
    "Əlillik",
    "Tibbi-sosial ekspertiza və reabilitasiya",
    "Sosial sığorta",
    "Əmək münasibətləri",
    "Sosial-hüquqi xidmətlər",
    "Sosial-məişət xidmətləri",
    "Sosial-pedaqoji xidmətlər",
    "Kiçik və orta biznesə dəstək (KOBİA)",
    "Şəhid ailələri və qazilər (Vahid Əlaqələndirmə Mərkəzi)",
]
CENTERS = ["absheron", "fuzuli"]


@pytest.fixture(scope="module")
def absheron() -> CenterConfig:
    return loader.load("absheron")


@pytest.fixture(scope="module")
def fuzuli() -> CenterConfig:
    return loader.load("fuzuli")


def _full(text: Text | None) -> bool:
    return text is not None and all(getattr(text, lang).strip() for lang in LANGS)


# --- both files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CENTERS)
def test_center_file_loads(name: str) -> None:
    cfg = loader.load(name)
    assert cfg.center.id == name
    assert cfg.center.timezone == "Asia/Baku"
    assert {g.code for g in cfg.priority_groups} == {"shehid-qazi", "disability", "elderly", "pregnant"}


def test_absheron_is_the_default(absheron: CenterConfig) -> None:
    assert loader.load().center.id == absheron.center.id == "absheron"


@pytest.mark.parametrize("name", CENTERS)
def test_ticket_letters_map_one_to_one_to_areas(name: str) -> None:
    cfg = loader.load(name)
    letters_of_area: dict[str, set[str]] = defaultdict(set)
    areas_of_letter: dict[str, set[str]] = defaultdict(set)
    for s in cfg.services:
        letters_of_area[s.area].add(s.letter)
        areas_of_letter[s.letter].add(s.area)
    assert all(len(v) == 1 for v in letters_of_area.values()), dict(letters_of_area)
    assert all(len(v) == 1 for v in areas_of_letter.values()), dict(areas_of_letter)
    assert set(letters_of_area) == {a.code for a in cfg.areas}  # every area has services


@pytest.mark.parametrize("name", CENTERS)
def test_every_text_is_in_three_languages(name: str) -> None:
    cfg = loader.load(name)
    assert _full(cfg.center.name) and _full(cfg.center.footer)
    for item in (*cfg.priority_groups, *cfg.agencies, *cfg.areas):
        assert _full(item.name), item.code
    for s in cfg.services:
        assert _full(s.name), s.code
        assert _full(s.description), s.code
        assert 1 <= len(s.documents) <= 4, s.code
        assert all(_full(d) for d in s.documents), s.code
    for c in cfg.counters:
        assert _full(c.name), c.number


@pytest.mark.parametrize("name", CENTERS)
def test_services_are_sensible(name: str) -> None:
    cfg = loader.load(name)
    for s in cfg.services:
        assert 5 <= s.quota <= 60, s.code
        assert 5 <= s.target_minutes <= 25, s.code
        assert 15 <= s.target_wait <= 45, s.code
        assert s.priority_groups, s.code
    assert cfg.demand is not None and sum(s.quota for s in cfg.services) > cfg.demand.citizens
    # Capacity is counter time: no fixed daily ceiling turns citizens away on a busy day.
    assert cfg.center.daily_capacity is None


@pytest.mark.parametrize("name", CENTERS)
def test_lunch_is_taken_in_two_shifts(name: str) -> None:
    cfg = loader.load(name)
    shifts = {c.breaks for c in cfg.counters}
    assert shifts == {("13:00-13:45",), ("13:45-14:30",)}
    for s in cfg.services:      # every service keeps a counter at lunch unless a single counter serves it
        serving = [c for c in cfg.counters if s.code in c.services]
        if len(serving) > 1:
            assert len({c.breaks for c in serving}) == 2 or len(serving) > 2, s.code


@pytest.mark.parametrize("name", CENTERS)
def test_counters_serve_their_own_area_first(name: str) -> None:
    cfg = loader.load(name)
    for c in cfg.counters:
        assert c.display is None, c.number
        assert c.daily_limit == 0 or 20 <= c.daily_limit <= 40, c.number
        areas = [cfg.services_by_code[code].area for code in c.services]
        own = areas[0]
        first_other = next((i for i, a in enumerate(areas) if a != own), len(areas))
        assert own not in areas[first_other:], f"counter {c.number}: its own area is not served first"


# --- Abşeron: the large default center -------------------------------------------------------------

def test_absheron_center(absheron: CenterConfig) -> None:
    c = absheron.center
    assert c.daily_capacity is None and absheron.demand is not None and absheron.demand.citizens == 400
    assert c.kind == "center"
    assert c.languages == ("az", "ru", "en") and c.announce_languages == ("az", "ru")
    assert "142" in c.footer.az
    assert c.hours["sun"].opens is None
    assert str(c.hours["mon"].opens) == "09:00:00" and str(c.hours["sat"].closes) == "15:00:00"


def test_absheron_has_the_13_dost_areas(absheron: CenterConfig) -> None:
    assert len(absheron.areas) == 13
    assert [a.name.az for a in absheron.areas] == AREA_NAMES_AZ


def test_absheron_services(absheron: CenterConfig) -> None:
    assert len(absheron.services) >= 60
    for s in absheron.services:
        assert s.name.az.strip() and s.name.ru.strip() and s.name.en.strip(), s.code


def test_absheron_counters(absheron: CenterConfig) -> None:
    assert 28 <= len(absheron.counters) <= 32
    assert sorted(absheron.counters_by_number) == list(range(1, len(absheron.counters) + 1))


def test_absheron_unified_coordination_center(absheron: CenterConfig) -> None:
    area = absheron.areas_by_code["coordination"]
    assert "Vahid Əlaqələndirmə Mərkəzi" in area.name.az
    services = [s for s in absheron.services if s.area == "coordination"]
    assert len(services) >= 8
    assert all("shehid-qazi" in s.priority_groups for s in services)
    assert {s.letter for s in services} == {"Ş"}
    # counters 28-30 are the coordination desk: coordination services come first there
    for n in (28, 29, 30):
        first = absheron.counters_by_number[n].services[0]
        assert absheron.services_by_code[first].area == "coordination"
    assert absheron.groups_by_code["shehid-qazi"].rank == min(g.rank for g in absheron.priority_groups)


def test_absheron_kiosks_and_boards(absheron: CenterConfig) -> None:
    assert [k.name for k in absheron.kiosks] == ["kiosk-1", "kiosk-2", "kiosk-3"]
    assert all(k.printer == "dummy://" and k.paper == "80mm" for k in absheron.kiosks)
    boards = {b.name: b for b in absheron.boards}
    assert boards["hall-1"].counters == tuple(range(1, 16))
    assert boards["hall-2"].counters == tuple(range(16, 31))
    assert boards["coordination"].areas == ("coordination",)
    assert boards["counter-7"].single_counter == 7


def test_absheron_policy(absheron: CenterConfig) -> None:
    p = absheron.policy
    assert (p.recall_limit, p.priority_streak, p.starvation_minutes) == (3, 3, 30)
    assert p.kiosk_rate_limit == "20 per minute"
    assert p.outcomes == ("served", "documents-missing", "referred", "consultation")


# --- Füzuli: a small DOST point ----------------------------------------------------------------------

def test_fuzuli_point(fuzuli: CenterConfig) -> None:
    assert fuzuli.center.kind == "point"
    assert fuzuli.demand is not None and fuzuli.demand.citizens == 120
    assert len(fuzuli.counters) <= 10
    assert len(fuzuli.kiosks) == 1 and len(fuzuli.boards) == 1
    assert {"employment", "business", "coordination"} <= set(fuzuli.areas_by_code)
    assert {a.code for a in fuzuli.agencies} >= {"DOST", "DMA", "KOBIA"}


def test_shared_areas_agree_between_files(absheron: CenterConfig, fuzuli: CenterConfig) -> None:
    letters = {s.area: s.letter for s in absheron.services}
    for a in fuzuli.areas:
        assert a.name == absheron.areas_by_code[a.code].name
    for s in fuzuli.services:
        assert s.letter == letters[s.area], s.code


# --- error messages on broken copies ---------------------------------------------------------------

def _broken_copy(tmp_path: Path, old: str, new: str, *, after: str = "") -> Path:
    """A copy of absheron.toml with the first ``old`` (after the first ``after``) replaced by ``new``."""
    text = loader.resolve("absheron").read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    assert old in text[start:], old
    head, tail = text[:start], text[start:]
    path = tmp_path / "broken.toml"
    path.write_text(head + tail.replace(old, new, 1), encoding="utf-8")
    return path


def test_misspelt_key_names_file_key_and_suggestion(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "\nquota =", "\nquta =", after="[[services]]")
    with pytest.raises(ConfigError) as exc:
        loader.load(path)
    message = str(exc.value)
    assert str(path) in message
    assert "services[0].quta" in message
    assert "did you mean 'quota'" in message


def test_counter_with_unknown_service_names_counter_and_nearest_code(tmp_path: Path, absheron: CenterConfig) -> None:
    counter = absheron.counters[0]
    code = counter.services[0]
    bad = code.replace("-", "")  # EMP-01 -> EMP01
    path = _broken_copy(tmp_path, f'"{code}"', f'"{bad}"', after="[[counters]]")
    with pytest.raises(ConfigError) as exc:
        loader.load(path)
    message = str(exc.value)
    assert str(path) in message
    assert f"counter {counter.number}" in message
    assert repr(bad) in message
    assert f"did you mean {code!r}" in message


def test_bad_opening_hours_are_explained(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, 'mon = "09:00-18:00"', 'mon = "9-18"')
    with pytest.raises(ConfigError) as exc:
        loader.load(path)
    message = str(exc.value)
    assert str(path) in message
    assert "center.hours" in message
    assert "'9-18'" in message
    assert "09:00-18:00" in message  # the expected format is shown


def test_unknown_center_name_suggests_a_known_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'fuzuli'"):
        loader.load("fuzuly")


def test_a_copied_center_file_must_have_its_own_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by following docs/install.md: a copy of fuzuli.toml that kept id = "fuzuli" ran on instance/fuzuli.db."""
    shipped = loader.resolve("fuzuli").read_text(encoding="utf-8")
    monkeypatch.setattr(loader, "CENTERS_DIR", tmp_path)
    copy = tmp_path / "lankaran.toml"
    copy.write_text(shipped, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        loader.load("lankaran")
    assert "id is 'fuzuli' but the file is lankaran.toml" in str(exc.value)
    copy.write_text(shipped.replace('id = "fuzuli"', 'id = "lankaran"', 1), encoding="utf-8")
    assert loader.load("lankaran").center.id == "lankaran"
