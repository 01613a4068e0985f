"""The user-interface catalogues: one gettext PO file per language (``i18n/<lang>/LC_MESSAGES/messages.po``).

No key missing in any language, no fuzzy or empty entry, the same placeholders everywhere, no English
left in az/ru; every key the pages and the Python side ask for present; the files readable by plain
gettext; what the server hands the pages equal to the catalogues; no hand-made copy left beside them.
"""
from __future__ import annotations

import gettext
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import write_mo

import i18n
from server.core import errors as core_errors

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("az", "ru", "en")
# Words Azerbaijani (or Russian) shares with English: the same text in both is not a leak.
SAME_IN_AZ = {"Limit", "Operator", "Administrator", "Token", "kiosk", "printer: {state}", "CSV", "XLSX", "ABC", "AZ",
              "RU", "EN"}
SAME_IN_RU = {"CSV", "XLSX", "ABC", "AZ", "RU", "EN"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Not words of the language: device names ("counter-N") and espeak-ng phoneme input ("[[kVkn'u]]").
NOT_WORDS = re.compile(r"\{\w+\}|\[\[.*?\]\]|\b[a-z]+-N\b")
PARTS = ("kiosk", "staff", "errors", "rating", "ticket", "announce", "http", "front", "board")


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


# --- the PO files themselves ----------------------------------------------------------------

def test_every_part_complete_in_every_language() -> None:
    assert i18n.contexts() == list(PARTS)
    faults: list[str] = []
    for part in PARTS:
        faults += check(part, i18n.section(part))
    assert not faults, "\n".join(faults)


def test_the_same_entries_in_every_file_none_fuzzy_or_empty() -> None:
    """Key by key over the raw files: a fuzzy or empty msgstr (gettext would not use it) is a fault too."""
    ids = {}
    for lang in LANGS:
        catalog = i18n.read(lang)
        assert str(catalog.locale) == lang
        assert not catalog.obsolete, f"{lang}: obsolete entries (#~) left in the file"
        msgs = [m for m in catalog if m.id]
        bad = [f"{m.context}/{m.id}" for m in msgs if m.fuzzy or not m.string or not m.context]
        assert not bad, f"{lang}: fuzzy, empty or context-less entries {bad}"
        ids[lang] = [(m.context, m.id) for m in msgs]
        assert len(ids[lang]) == len(set(ids[lang]))
    assert set(ids["az"]) == set(ids["ru"]) == set(ids["en"]), {
        lang: sorted(set(ids["az"]) ^ set(ids[lang])) for lang in LANGS}


def test_plain_gettext_reads_the_catalogues() -> None:
    """Compiled to .mo with Babel and read by Python's own gettext (pgettext: msgctxt), every text comes back."""
    for lang in LANGS:
        buf = io.BytesIO()
        write_mo(buf, i18n.read(lang))
        buf.seek(0)
        translations = gettext.GNUTranslations(buf)
        for (ctx, key), value in i18n.entries(lang).items():
            assert translations.pgettext(ctx, key) == value
        assert translations.pgettext("ticket", "number") == i18n.text("ticket", "number", lang)


def test_azerbaijani_is_written_with_schwa() -> None:
    """ə, not the look-alike ä or the Cyrillic ә."""
    az = " ".join(i18n.entries("az").values())
    assert "ä" not in az and "ә" not in az and "ə" in az


def test_the_check_finds_faults() -> None:
    """The check itself: a missing key, English in az, a lost placeholder and Latin in Russian are all caught."""
    bad = {"az": {"a": "Take a ticket", "b": "{n} nəfər", "c": "Bilet", "d": "x"}, "ru": {"a": "Взять", "b": "человек", "c": "Ticket"},
           "en": {"a": "Take a ticket", "b": "{n} people", "c": "Ticket"}}
    faults = "\n".join(check("bad", bad))
    assert "'d' missing in ru" in faults and "'d' missing in en" in faults
    assert "'a' in az is the English text" in faults
    assert "'b' placeholders differ" in faults
    assert "'c' in ru has Latin words" in faults


def test_a_fuzzy_or_empty_entry_counts_as_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A translator's fuzzy or empty entry is not shown: the text falls back to Azerbaijani, and the check sees it missing."""
    po = i18n.po_path("ru").read_text("utf-8")
    po = po.replace('msgctxt "ticket"\nmsgid "number"\nmsgstr "Номер очереди"',
                    '#, fuzzy\nmsgctxt "ticket"\nmsgid "number"\nmsgstr "Номер очереди"')
    po = po.replace('msgctxt "ticket"\nmsgid "track"\nmsgstr "Следите за очередью в телефоне"',
                    'msgctxt "ticket"\nmsgid "track"\nmsgstr ""')
    for lang in LANGS:
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True)
        text = po if lang == "ru" else i18n.po_path(lang).read_text("utf-8")
        (tmp_path / lang / "LC_MESSAGES" / "messages.po").write_text(text, "utf-8")
    for cached in (i18n.read, i18n.entries, i18n.section):
        cached.cache_clear()
    monkeypatch.setattr(i18n, "HERE", tmp_path)
    try:
        faults = "\n".join(check("ticket", i18n.section("ticket")))
        assert "'number' missing in ru" in faults and "'track' missing in ru" in faults
        assert i18n.text("ticket", "number", "ru") == "Növbə nömrəsi"
    finally:
        monkeypatch.undo()
        for cached in (i18n.read, i18n.entries, i18n.section):
            cached.cache_clear()
    assert i18n.text("ticket", "number", "ru") == "Номер очереди"


def test_no_second_source_of_truth() -> None:
    """The hand-made catalogues are gone, and no page script defines texts of its own."""
    for old in ("kiosk/static/kiosk/i18n.json", "counter/static/counter/i18n.js",
                "counter/static/counter/reports-i18n.js", "server/static/rating-texts.js"):
        assert not (ROOT / old).exists(), old
    for script in [*ROOT.glob("*/static/**/*.js")]:
        if "vendor" in script.parts:
            continue
        text = script.read_text("utf-8")
        assert not re.search(r"window\.NOVBE_(TEXTS|ERRORS|RATING_TEXTS)\s*=", text), script
    import printers.layout
    from display import voice

    assert not hasattr(printers.layout, "LABELS")
    assert not hasattr(voice, "_DISPLAY_TEMPLATES") and not hasattr(voice, "_SPOKEN_TEMPLATES")


# --- every key asked for exists ----------------------------------------------------------------

def keys_used(pattern: str, *paths: str) -> set[str]:
    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(pattern, (ROOT / path).read_text("utf-8")))
    return found


def test_kiosk_page_keys_exist() -> None:
    """Every string the kiosk page asks for by name is in the catalogue."""
    az = i18n.section("kiosk")["az"]
    used = keys_used(r'data-t(?:-alt)?="(\w+)"', "kiosk/templates/kiosk/index.html")
    used |= keys_used(r'\bt\("(\w+)"', "kiosk/static/kiosk/kiosk.js")
    # Refusals and the start screen's notice are lists of keys, shown with t(k) and spoken as phrase ids.
    used |= keys_used(r'"((?:err|day)_\w+|full_today|closed_now|not_available)"', "kiosk/static/kiosk/kiosk.js")
    assert len(used) > 60
    assert not sorted(used - set(az)), sorted(used - set(az))


def test_staff_page_keys_exist() -> None:
    """Every string the staff pages (desk, supervisor, reports, admin) ask for by name is in the staff catalogue."""
    az = i18n.section("staff")["az"]
    templates = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "counter/templates/counter").glob("*.html"))]
    scripts = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "counter/static/counter").glob("*.js"))]
    used = keys_used(r'data-i18n(?:-placeholder)?="([\w-]+)"', *templates)
    used |= keys_used(r'N\.t\("([\w-]+)"[,)]', *scripts)
    assert len(used) > 150
    assert not sorted(used - set(az)), sorted(used - set(az))


def test_rating_screen_keys_exist() -> None:
    """The rating screens (status page and counter screen) read their texts as properties."""
    az = i18n.section("rating")["az"]
    used = keys_used(r"(?<![\w.])(?:T\(\)|T|t)\.([a-z_]+)\b", "kiosk/static/kiosk/rating.js", "counter/static/counter/rate.js")
    assert len(used) > 10
    assert not sorted(used - set(az)), sorted(used - set(az))


def test_board_keys_exist_and_no_text_is_left_in_the_board() -> None:
    """The hall board and its chooser ask the catalogue for every label; no Russian or Azerbaijani word is left in them."""
    az = i18n.section("board")["az"]
    pages = ("display/templates/display/board.html", "display/templates/display/choose.html")
    used = keys_used(r'\b(?:az|tr)\("(\w+)"', *pages)
    used |= keys_used(r'\b(?:words|noticeLines)\("(\w+)"', "display/static/display/board.js")
    assert len(used) >= 19
    assert not sorted(used - set(az)), sorted(used - set(az))
    assert not sorted(set(az) - used), f"unused board texts: {sorted(set(az) - used)}"
    for path in (*pages, "display/static/display/board.js"):
        source = (ROOT / path).read_text("utf-8")
        assert not re.search(r"[\u0400-\u04ff]", source), f"{path}: Russian text outside the catalogue"
        for word in ("Masa", "Bilet", "Gözləyənlər", "çağırı", "dəq", "Bağlıdır", "Fasilə", "yanvar", "ekran", "tokeni"):
            assert word not in source, f"{path}: {word!r} outside the catalogue"


def test_every_error_code_has_a_text() -> None:
    """Every error the API can answer with has its meaning in every language (the pages and localised messages)."""
    codes = {c.code for c in vars(core_errors).values()
             if isinstance(c, type) and issubclass(c, core_errors.QueueError) and c is not core_errors.QueueError}
    codes |= {"csrf_failed", "internal_error", "not_found", "method_not_allowed"}
    for lang in LANGS:
        missing = codes - set(i18n.section("errors")[lang])
        assert not missing, f"{lang}: {sorted(missing)}"


def test_no_error_text_without_its_error() -> None:
    """The errors part holds the codes the server answers with and the staff pages' own two (no text kept for a code
    that no longer exists, such as the old account_locked: logins are slowed, never locked)."""
    codes = {c.code for c in vars(core_errors).values()
             if isinstance(c, type) and issubclass(c, core_errors.QueueError) and c is not core_errors.QueueError}
    codes |= {"csrf_failed", "internal_error", "not_found", "method_not_allowed"}
    codes |= {"error", "network"}   # counter/static/counter/common.js: an HTTP error without a body, no answer
    for lang in LANGS:
        extra = set(i18n.section("errors")[lang]) - codes
        assert not extra, f"{lang}: {sorted(extra)}"


def test_python_side_texts_come_from_the_catalogue() -> None:
    """The board's announcement and the ticket's labels are the catalogue's, in each language."""
    from display import voice

    for lang in LANGS:
        assert voice.announcement_text("A-015", 7, lang) == i18n.text("announce", "shown", lang, number="A-015", counter="7")
    assert voice.announcement_text("A-015", 7, "az") == "A-015 nömrəli bilet sahibi, 7 nömrəli masaya yaxınlaşın"
    assert voice.spoken_text("A-015", 7, "ru") == "Талон А 15, подойдите [[kVkn'u]] 7."
    assert i18n.text("ticket", "ahead", "en", n=3) == "People ahead: 3"
    assert i18n.text("ticket", "ahead", "xx", n=3) == "Sizdən əvvəl: 3 nəfər"   # unknown language: Azerbaijani
    with pytest.raises(KeyError):
        i18n.text("ticket", "no-such-key", "az")


# --- what the server hands the pages ------------------------------------------------------------

@pytest.fixture
def client(tmp_path: Path, clock: Any):
    from conftest import mini_config
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False})
    yield app.test_client()
    app.extensions["novbe"].publisher.stop()
    app.extensions["novbe"].store.close()


def test_served_json_equals_the_catalogue(client: Any) -> None:
    for part in PARTS:
        r = client.get(f"/i18n/{part}.json")
        assert r.status_code == 200 and r.mimetype == "application/json"   # UTF-8 by definition (RFC 8259)
        assert r.get_json() == i18n.section(part), part
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"]
        again = client.get(f"/i18n/{part}.json", headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and not again.data
    assert client.get("/i18n/nothing.json").status_code == 404
    assert client.get("/i18n/nothing.js").status_code == 404


def test_served_scripts_set_the_pages_globals(client: Any, chromium: Any) -> None:
    """The scripts the staff and rating pages load, run in Chromium: the globals equal the catalogue's parts."""
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><title>catalogues</title>")
        for bundle in ("staff", "rating"):
            r = client.get(f"/i18n/{bundle}.js")
            assert r.status_code == 200 and r.content_type == "text/javascript; charset=utf-8"
            assert r.headers["ETag"] and r.headers["Cache-Control"] == "no-cache"
            page.add_script_tag(content=r.get_data(as_text=True))
        data = page.evaluate("""() => ({ texts: window.NOVBE_TEXTS, errors: window.NOVBE_ERRORS,
                                          rating: window.NOVBE_RATING_TEXTS })""")
    finally:
        page.close()
    assert data == {"texts": i18n.section("staff"), "errors": i18n.section("errors"), "rating": i18n.section("rating")}


def test_pages_load_the_served_texts(client: Any) -> None:
    """The staff pages and the rating screen point at the generated scripts; the kiosk page carries its part."""
    html = client.get("/counter/").get_data(as_text=True)
    assert '<script src="/i18n/staff.js"></script>' in html
    html = client.get("/kiosk/").get_data(as_text=True)
    boot = json.loads(re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert boot["i18n"] == i18n.section("kiosk")
    assert '"/i18n/rating.js"' in (ROOT / "kiosk/static/kiosk/rating.js").read_text("utf-8")


def test_board_pages_carry_their_part(client: Any) -> None:
    """The board gets the board part in its languages (Azerbaijani first) and draws its labels from it, each marked."""
    from markupsafe import escape

    page = client.get("/display/?board=hall-1").get_data(as_text=True)
    config = json.loads(re.search(r'<script id="board-config" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert config["texts"] == i18n.section("board")
    assert config["date"] == {"months": i18n.section("kiosk")["az"]["months"],
                              "weekdays": i18n.section("kiosk")["az"]["weekdays"]}
    for key in ("now_calling", "waiting", "no_calls", "ticket", "counter", "connection_lost", "sound_blocked"):
        assert str(escape(i18n.text("board", key, "az"))) in page, key
        for lang in ("ru", "en"):
            marked = f'<span lang="{lang}">{escape(i18n.text("board", key, lang))}</span>'
            assert marked in page, (key, lang)
    chooser = client.get("/display/?board=nope")
    assert chooser.status_code == 404
    text = chooser.get_data(as_text=True)
    for key in ("no_such_board", "choose", "open_with_token"):
        for lang in ("ru", "en"):
            assert f'<span lang="{lang}">{escape(i18n.text("board", key, lang))}</span>' in text, (key, lang)
