"""The user-interface catalogues: no key missing in any language, no English left in az/ru, the same
placeholders everywhere, and every key the pages ask for present.

The catalogues: the kiosk's and status page's ``kiosk/static/kiosk/i18n.json``; the staff pages'
``counter/static/counter/i18n.js`` (with the reports page's additions) and the rating screens'
``server/static/rating-texts.js``, read in Chromium as the pages read them; the printed ticket's labels
(``printers/layout.py``) and the board's announcement phrases (``display/voice.py``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("az", "ru", "en")
JS_CATALOGUES = ["counter/static/counter/i18n.js", "counter/static/counter/reports-i18n.js",
                 "server/static/rating-texts.js"]
# Words Azerbaijani (or Russian) shares with English: the same text in both is not a leak.
SAME_IN_AZ = {"Limit", "Operator", "Administrator", "Token", "kiosk", "printer: {state}", "CSV", "XLSX", "ABC", "AZ",
              "RU", "EN"}
SAME_IN_RU = {"CSV", "XLSX", "ABC", "AZ", "RU", "EN"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Not words of the language: device names ("counter-N") and espeak-ng phoneme input ("[[kVkn'u]]").
NOT_WORDS = re.compile(r"\{\w+\}|\[\[.*?\]\]|\b[a-z]+-N\b")


@pytest.fixture(scope="module")
def js_catalogues(chromium: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """The staff and rating catalogues as the browser builds them (the reports file merges into the staff one)."""
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><title>catalogues</title>")
        for path in JS_CATALOGUES:
            page.add_script_tag(content=(ROOT / path).read_text("utf-8"))
        data = page.evaluate("""() => ({ texts: window.NOVBE_TEXTS, errors: window.NOVBE_ERRORS,
                                          rating: window.NOVBE_RATING_TEXTS })""")
    finally:
        page.close()
    return data


def kiosk_catalogue() -> dict[str, dict[str, Any]]:
    return json.loads((ROOT / "kiosk/static/kiosk/i18n.json").read_text("utf-8"))


def other_catalogues() -> dict[str, dict[str, dict[str, Any]]]:
    from display import voice
    from printers.layout import LABELS

    return {
        "printed ticket labels": LABELS,
        "board announcement (shown)": {lang: {"phrase": t} for lang, t in voice._DISPLAY_TEMPLATES.items()},
        "board announcement (spoken)": {lang: {"phrase": t} for lang, t in voice._SPOKEN_TEMPLATES.items()},
    }


def check(name: str, catalogue: dict[str, dict[str, Any]]) -> list[str]:
    """Every fault of one catalogue: a language or key missing, empty text, placeholders that differ, English in az/ru."""
    faults = []
    for lang in LANGS:
        if lang not in catalogue:
            faults.append(f"{name}: no {lang}")
    if faults:
        return faults
    keys = set().union(*(catalogue[lang].keys() for lang in LANGS))
    for key in sorted(keys):
        values = {lang: catalogue[lang].get(key) for lang in LANGS}
        for lang, value in values.items():
            if value is None:
                faults.append(f"{name}: {key!r} missing in {lang}")
            elif value in ("", []):
                if not (name == "printed ticket labels" and key == "people" and lang == "en"):   # "3" alone reads right
                    faults.append(f"{name}: {key!r} empty in {lang}")
        if any(v is None for v in values.values()):
            continue
        if all(isinstance(v, str) for v in values.values()):
            shapes = {lang: sorted(set(PLACEHOLDER.findall(v))) for lang, v in values.items()}
            if len({tuple(s) for s in shapes.values()}) > 1:
                faults.append(f"{name}: {key!r} placeholders differ: {shapes}")
            for lang, allowed in (("az", SAME_IN_AZ), ("ru", SAME_IN_RU)):
                v = values[lang]
                if v == values["en"] and re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", v)) and v not in allowed:
                    faults.append(f"{name}: {key!r} in {lang} is the English text {v!r}")
            latin = re.findall(r"[A-Za-z]{4,}", NOT_WORDS.sub("", values["ru"]))
            if latin and values["ru"] not in SAME_IN_RU:
                faults.append(f"{name}: {key!r} in ru has Latin words {latin}")
        elif all(isinstance(v, list) for v in values.values()):
            if len({len(v) for v in values.values()}) > 1:
                faults.append(f"{name}: {key!r} lists of different lengths")
        else:
            faults.append(f"{name}: {key!r} has different kinds of value")
    return faults


def test_every_catalogue_complete_in_every_language(js_catalogues: dict[str, Any]) -> None:
    faults = check("kiosk i18n.json", kiosk_catalogue())
    for name, catalogue in js_catalogues.items():
        assert catalogue, f"{name}: the catalogue did not load"
        faults += check(f"staff {name}", catalogue)
    for name, catalogue in other_catalogues().items():
        faults += check(name, catalogue)
    assert not faults, "\n".join(faults)


def test_the_check_finds_faults() -> None:
    """The check itself: a missing key, English in az, a lost placeholder and Latin in Russian are all caught."""
    bad = {"az": {"a": "Take a ticket", "b": "{n} nəfər", "c": "Bilet", "d": "x"}, "ru": {"a": "Взять", "b": "человек", "c": "Ticket"},
           "en": {"a": "Take a ticket", "b": "{n} people", "c": "Ticket"}}
    faults = "\n".join(check("bad", bad))
    assert "'d' missing in ru" in faults and "'d' missing in en" in faults
    assert "'a' in az is the English text" in faults
    assert "'b' placeholders differ" in faults
    assert "'c' in ru has Latin words" in faults


def keys_used(pattern: str, *paths: str) -> set[str]:
    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(pattern, (ROOT / path).read_text("utf-8")))
    return found


def test_kiosk_page_keys_exist() -> None:
    """Every string the kiosk page asks for by name is in the catalogue."""
    az = kiosk_catalogue()["az"]
    used = keys_used(r'data-t(?:-alt)?="(\w+)"', "kiosk/templates/kiosk/index.html")
    used |= keys_used(r'\bt\("(\w+)"', "kiosk/static/kiosk/kiosk.js")
    assert len(used) > 60
    assert not sorted(used - set(az)), sorted(used - set(az))


def test_counter_page_keys_exist(js_catalogues: dict[str, Any]) -> None:
    """Every string the counter desk asks for by name (templates and scripts) is in the staff catalogue."""
    az = js_catalogues["texts"]["az"]
    templates = ["counter/templates/counter/base.html", "counter/templates/counter/index.html"]
    scripts = ["counter/static/counter/common.js", "counter/static/counter/desk.js", "counter/static/counter/counter.js"]
    used = keys_used(r'data-i18n(?:-placeholder)?="([\w-]+)"', *templates)
    used |= keys_used(r'N\.t\("([\w-]+)"[,)]', *scripts)
    assert len(used) > 60
    assert not sorted(used - set(az)), sorted(used - set(az))
