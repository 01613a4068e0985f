"""The catalogues over HTTP: the pages' texts as JSON or script, localised error pages and API messages.

The texts live in ``i18n/<lang>/LC_MESSAGES/messages.po`` (see :mod:`i18n`); this module only serves
them. A page that runs JavaScript loads ``/i18n/<bundle>.js`` (``staff``: ``NOVBE_TEXTS`` and
``NOVBE_ERRORS``; ``rating``: ``NOVBE_RATING_TEXTS``), generated from the catalogues, so there is
no second copy to keep in step; ``/i18n/<part>.json`` gives one part of the catalogues as JSON (the
kiosk and status pages get their part inside the page itself). Both carry an ETag of the catalogue files and are
revalidated (``no-cache``): a browser keeps them and gets 304 until a text changes.

The language of an error page: ``?lang=``, then a ``lang`` cookie, then ``Accept-Language``, else
Azerbaijani. An API error's message: ``Accept-Language`` only, else the English message as before.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

import i18n

bp = Blueprint("texts", __name__, url_prefix="/i18n")

#: The scripts the pages load, and the globals each one sets (a part of the catalogues each).
BUNDLES: dict[str, dict[str, str]] = {
    "staff": {"NOVBE_TEXTS": "staff", "NOVBE_ERRORS": "errors"},
    "rating": {"NOVBE_RATING_TEXTS": "rating"},
}

# Which texts of the "http" part an error page shows, by status.
_PAGE_KIND = {403: "forbidden", 404: "not_found", 405: "method", 410: "not_found"}


def request_lang(default: str | None = i18n.DEFAULT) -> str | None:
    """The language this request asks for (query, cookie, Accept-Language), or ``default``."""
    for asked in (request.args.get("lang"), request.cookies.get("lang")):
        if asked in i18n.LANGS:
            return asked
    best = request.accept_languages.best_match(i18n.LANGS)
    return best or default


def _cached(body: str, mimetype: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.set_etag(i18n.digest() + "-" + str(len(body)))
    resp.headers["Cache-Control"] = "no-cache"   # kept by the browser, revalidated: 304 until a text changes
    resp.make_conditional(request)
    return resp


@bp.get("/<part>.json")
def part_json(part: str) -> Any:
    """One part of the catalogues, ``{lang: {key: text}}``, as JSON."""
    if part not in i18n.contexts():
        abort(404)
    return _cached(json.dumps(i18n.section(part), ensure_ascii=False, sort_keys=True), "application/json")


@bp.get("/<bundle>.js")
def bundle_js(bundle: str) -> Any:
    """The script a page loads for its texts: ``window.NAME = {...};`` for each global of the bundle."""
    names = BUNDLES.get(bundle)
    if names is None:
        abort(404)
    lines = ["/* Generated from i18n/<lang>/LC_MESSAGES/messages.po: edit the catalogues, not this. */",
             '"use strict";']
    for name, part in names.items():
        lines.append(f"window.{name} = {json.dumps(i18n.section(part), ensure_ascii=False, sort_keys=True)};")
    return _cached("\n".join(lines) + "\n", "text/javascript")


def error_page(status: int) -> Response:
    """The server's own error page for browsers: short, in the request's language, with a way back."""
    lang = request_lang() or i18n.DEFAULT
    kind = _PAGE_KIND.get(status, "server" if status >= 500 else "other")

    def t(key: str, **values: Any) -> str:
        return i18n.text("http", key, lang, **values)

    html = render_template("error.html", lang=lang, code=t("error_code", code=status),
                           title=t(f"{kind}_title"), text=t(f"{kind}_text"), home=t("home"))
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def localised_error(body: dict[str, Any]) -> dict[str, Any]:
    """An API error body with its message in the language the request asked for, if it asked.

    Only ``Accept-Language`` asks (``?lang=`` is a parameter of some endpoints, for their data, and a
    cookie would reach API clients unasked): without one naming az, ru or en the body is left as it
    was (the English message). Otherwise ``message`` is the catalogue's text for the error code, and
    the English message, which may carry specifics, moves to ``detail``.
    """
    lang = request.accept_languages.best_match(i18n.LANGS)
    code = body.get("error")
    if lang is None or not isinstance(code, str):
        return body
    found = i18n.entries(lang).get(("errors", code))
    if found is None:
        return body
    return {**body, "message": found, "detail": body.get("message")}
