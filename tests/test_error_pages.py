"""The server's own error pages and API error messages speak the user's language (from the catalogues).

A browser that meets a 404, 405 or 500 gets a short page in az (or the language it asks for through
``?lang=``, a ``lang`` cookie or ``Accept-Language``) with a link back, not Flask's English HTML;
API paths keep their JSON errors, with the message localised only when a language is asked for.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import i18n
from conftest import mini_config

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def app(tmp_path: Path, clock: Any):
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": False, "RATELIMIT_ENABLED": False})

    @app.get("/boom")
    def boom() -> Any:   # an unexpected fault inside a page
        raise RuntimeError("boom")

    yield app
    app.extensions["novbe"].publisher.stop()
    app.extensions["novbe"].store.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def english_words(text: str) -> list[str]:
    """Words of plain Latin letters that the Azerbaijani alphabet would not spell that way ("Növbə" is not one)."""
    en = set(re.findall(r"[a-z]{3,}", " ".join(i18n.section("http")["en"].values()).lower()))
    en |= {"not", "found", "method", "allowed", "internal", "server", "error", "the", "page", "requested"}
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w.lower() in en]


@pytest.mark.parametrize("method,path,status,kind", [
    ("GET", "/no/such/page", 404, "not_found"),
    ("POST", "/counter/", 405, "method"),
    ("GET", "/boom", 500, "server"),
])
def test_browser_error_page_in_azerbaijani(client: Any, method: str, path: str, status: int, kind: str) -> None:
    r = client.open(path, method=method, headers=BROWSER)
    assert r.status_code == status and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<html lang="az">' in html
    text = visible_text(html)
    az = i18n.section("http")["az"]
    assert az[f"{kind}_title"] in text and az[f"{kind}_text"] in text and f"Xəta {status}" in text
    assert '<a class="home" href="/">' + az["home"] + "</a>" in html
    assert not english_words(text), english_words(text)
    assert "Werkzeug" not in html and "Traceback" not in html and "boom" not in text


@pytest.mark.parametrize("how,lang", [
    ({"query_string": {"lang": "ru"}}, "ru"),
    ({"headers": {**BROWSER, "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}}, "ru"),
    ({"headers": {**BROWSER, "Accept-Language": "en-US,en;q=0.9"}}, "en"),
    ({"headers": {**BROWSER, "Accept-Language": "de-DE,fr;q=0.8"}}, "az"),
    ({"cookie": "en"}, "en"),
    ({"query_string": {"lang": "xx"}, "headers": {**BROWSER, "Accept-Language": "ru"}}, "ru"),
])
def test_error_page_language_follows_the_request(client: Any, how: dict[str, Any], lang: str) -> None:
    if "cookie" in how:
        client.set_cookie("lang", how.pop("cookie"))
    how.setdefault("headers", BROWSER)
    r = client.get("/no/such/page", **how)
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert i18n.text("http", "not_found_title", lang) in visible_text(html)


def test_api_paths_keep_json_errors(client: Any) -> None:
    r = client.get("/api/no-such-thing", headers=BROWSER)
    assert r.status_code == 404 and r.is_json
    assert r.get_json()["ok"] is False and r.get_json()["error"] == "not_found"
    r = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.is_json
    r = client.get("/boom", headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.get_json()["error"] == "internal_error"


def test_api_error_message_in_the_asked_language(client: Any) -> None:
    """No language asked: the English message as before. Asked: the catalogue's text, the English kept in detail."""
    plain = client.post("/api/tickets", json={"service": "EMP-1"})
    assert plain.status_code == 401
    english = plain.get_json()["message"]
    assert plain.get_json()["error"] == "unauthorized" and "detail" not in plain.get_json() and "token" in english
    for lang in ("az", "ru", "en"):
        r = client.post("/api/tickets", json={"service": "EMP-1"}, headers={"Accept-Language": lang})
        body = r.get_json()
        assert r.status_code == 401 and body["error"] == "unauthorized"
        assert body["message"] == i18n.text("errors", "unauthorized", lang)
        assert body["detail"] == english
    r = client.get("/api/no-such-thing", headers={"Accept-Language": "az-AZ,az;q=0.9"})
    assert r.get_json()["message"] == i18n.text("errors", "not_found", "az")
    # ?lang= is some endpoints' own parameter (their data's language), not a request for localised errors.
    r = client.get("/api/no-such-thing", query_string={"lang": "az"})
    assert r.get_json()["message"] == "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."


def test_start_page_links_in_three_languages(client: Any) -> None:
    """The server's start page names the clients from the catalogues' "front" part, each language marked."""
    html = client.get("/").get_data(as_text=True)
    front = i18n.section("front")
    for key in ("counter", "supervisor", "kiosk", "display"):
        assert f'{front["az"][key]} · <span lang="ru">{front["ru"][key]}</span> · <span lang="en">{front["en"][key]}</span>' in html
    assert "Супервайзер" in html and "Супервизор" not in html
