"""The kiosk blueprint's own views: the page shell, the QR code route, the status page, the strings."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import i18n
from conftest import mini_config


@pytest.fixture
def app(tmp_path: Path, clock):
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False})
    yield app
    app.extensions["novbe"].publisher.stop()
    app.extensions["novbe"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def kiosk_token(app) -> str:
    from server import auth

    return auth.add_device(app.extensions["novbe"].store, "kiosk", "kiosk-1")


def issue(client, token: str, **body: object) -> dict:
    r = client.post("/api/tickets", json={"service": "EMP-1", **body}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_catalog_has_every_string_in_every_language():
    data = i18n.section("kiosk")   # the kiosk's part of the catalogues (i18n/<lang>/LC_MESSAGES/messages.po)
    assert set(data) == {"az", "ru", "en"}
    keys = set(data["az"])
    for lang, strings in data.items():
        assert set(strings) == keys, f"{lang}: missing {keys - set(strings)}, extra {set(strings) - keys}"
        for key, value in strings.items():
            assert value, f"{lang}.{key} is empty"
            placeholders = set(re.findall(r"\{(\w+)\}", json.dumps(data["az"][key], ensure_ascii=False)))
            assert set(re.findall(r"\{(\w+)\}", json.dumps(value, ensure_ascii=False))) == placeholders, f"{lang}.{key}"
    assert len(data["az"]["weekdays"]) == 7 and len(data["az"]["months"]) == 12
    # Azerbaijani is written with ə, not with the look-alike ä or the Cyrillic ә.
    az = json.dumps(data["az"], ensure_ascii=False)
    assert "ä" not in az and "ә" not in az and "ə" in az


def test_kiosk_page_carries_idle_timeout_and_strings(client):
    html = client.get("/kiosk/").get_data(as_text=True)
    boot = json.loads(re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert boot["idle_seconds"] == 30
    assert boot["center"]["az"] == "Sınaq DOST mərkəzi"
    assert boot["i18n"]["az"]["start"] == "Növbə bileti götürün"
    assert "/static/vendor/socket.io.min.js" in html and "//cdn" not in html
    for path in ("/kiosk/static/kiosk/kiosk.js", "/static/fonts/DejaVuSans.ttf"):
        with client.get(path) as r:   # close the file response
            assert r.status_code == 200, path


def test_qr_only_for_this_servers_status_pages(client):
    good = client.get("/kiosk/qr.svg", query_string={"data": "http://localhost/t/AbC-_123xyz0"})
    assert good.status_code == 200 and good.mimetype == "image/svg+xml"
    assert good.get_data(as_text=True).lstrip().startswith(("<?xml", "<svg"))
    for data in ("https://evil.example/t/AbC-_123xyz0", "http://localhost/t/../admin", "http://localhost/x/abc",
                 "http://localhost/t/short", "", "http://localhost/t/" + "a" * 65):
        assert client.get("/kiosk/qr.svg", query_string={"data": data}).status_code == 404, data


def test_status_page_in_the_tickets_language(client, kiosk_token):
    ticket = issue(client, kiosk_token, lang="ru")
    page = client.get(f"/t/{ticket['token']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="ru">' in html
    assert ticket["number"] in html and "Регистрация безработного" in html and "Ваш номер" in html
    assert len(page.data) < 16_000        # a phone on a slow line gets a small page
    assert "DejaVuSans" not in html       # and no font download
    html_az = client.get(f"/t/{ticket['token']}?lang=az").get_data(as_text=True)
    assert '<html lang="az">' in html_az and "İşsiz kimi qeydiyyat" in html_az and "Nömrəniz" in html_az


def test_unknown_ticket_is_a_friendly_page(client):
    page = client.get("/t/not-a-ticket-token", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Bilet tapılmadı" in html and "Талон не найден" in html and "Ticket not found" in html
    assert "Traceback" not in html and '"error"' not in html
