"""Every text a citizen or operator sees, from one gettext catalogue per language.

``i18n/<lang>/LC_MESSAGES/messages.po`` (az, ru, en) are read as they are with Babel's PO reader
(no compile step: a fresh clone runs). Each entry's ``msgctxt`` names the part of the system
(``kiosk``, ``staff``, ``errors``, ``rating``, ``ticket``, ``announce``, ``http``), its ``msgid`` is
the key the code asks for, its ``msgstr`` the text; ``key[0]``, ``key[1]``… make a list (weekdays,
months, the rating's five scores). The Python side asks :func:`text`; the pages get
:func:`section` as JSON or as a script from the server (``/i18n/<bundle>.json|.js``), so both
read the same file. A fuzzy or empty entry counts as missing. Azerbaijani is the fallback.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LANGS = ("az", "ru", "en")
DEFAULT = "az"
HERE = Path(__file__).resolve().parent
_LIST_ITEM = re.compile(r"(?P<name>[\w-]+)\[(?P<index>\d+)\]")


def po_path(lang: str) -> Path:
    """Where one language's catalogue lives."""
    return HERE / lang / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=None)
def read(lang: str) -> Catalog:
    """One language's catalogue as Babel reads it (read once per process)."""
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, ignore_obsolete=True)


@lru_cache(maxsize=None)
def entries(lang: str) -> dict[tuple[str, str], str]:
    """Every translated entry of one language: ``(msgctxt, msgid) -> msgstr`` (fuzzy and empty ones left out)."""
    found: dict[tuple[str, str], str] = {}
    for message in read(lang):
        if not message.id or not message.context or message.fuzzy or not isinstance(message.string, str):
            continue
        if message.string:
            found[(message.context, str(message.id))] = message.string
    return found


@lru_cache(maxsize=None)
def section(context: str) -> dict[str, dict[str, Any]]:
    """One part's texts in every language, ``{lang: {key: text or list of texts}}``, as the pages use them."""
    result: dict[str, dict[str, Any]] = {}
    for lang in LANGS:
        table: dict[str, Any] = {}
        items: dict[str, dict[int, str]] = {}
        for (ctx, key), value in entries(lang).items():
            if ctx != context:
                continue
            item = _LIST_ITEM.fullmatch(key)
            if item:
                items.setdefault(item["name"], {})[int(item["index"])] = value
            else:
                table[key] = value
        for name, values in items.items():
            table[name] = [values[i] for i in sorted(values)]
        result[lang] = table
    return result


def contexts() -> list[str]:
    """The parts of the system that have texts, in the catalogue's order."""
    seen: dict[str, None] = {}
    for lang in LANGS:
        for ctx, _ in entries(lang):
            seen.setdefault(ctx)
    return list(seen)


def pick(lang: str | None) -> str:
    """A supported language, or the default."""
    return lang if lang in LANGS else DEFAULT


def text(context: str, key: str, lang: str | None = None, /, **values: Any) -> str:
    """One text in a language (Azerbaijani when that language lacks it), ``{name}`` placeholders filled."""
    found = entries(pick(lang)).get((context, key))
    if found is None:
        found = entries(DEFAULT).get((context, key))
    if found is None:
        raise KeyError(f"no text {key!r} in the {context!r} part of the catalogues")
    return found.format(**values) if values else found


@lru_cache(maxsize=1)
def digest() -> str:
    """A short hash of every catalogue file: changes whenever any text does (ETags, page versions)."""
    h = hashlib.sha256()
    for lang in LANGS:
        h.update(po_path(lang).read_bytes())
    return h.hexdigest()[:16]
