"""The display blueprint without a browser: the audio route, the board page and its filter.

The audio route is public (no display token): it only ever says a ticket number and a
counter, both validated, and its files are cached (docs/display.md).
"""
from __future__ import annotations

import io
import json
import re
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import loader
from display import voice
from display.views import NUMBER, announcer, board_areas

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (Debian package espeak-ng)")


@pytest.fixture(scope="module")
def center() -> Any:
    return loader.load("absheron")


@pytest.fixture
def app(tmp_path: Path, center: Any) -> Iterator[Any]:
    from server.app import create_app

    flask_app = create_app({"CENTER_CONFIG": center, "DATABASE": str(tmp_path / "novbe.db"), "TESTING": True,
                            "START_DEVICES": False, "VOICE_CACHE": str(tmp_path / "voice-cache")})
    yield flask_app
    novbe = flask_app.extensions["novbe"]
    novbe.publisher.stop()
    novbe.store.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def wav_of(data: bytes) -> tuple[tuple[int, int, int], float]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()), w.getnframes() / w.getframerate()


@needs_espeak
def test_audio_is_a_wav_with_chime_and_both_languages(client: Any, app: Any) -> None:
    r = client.get("/display/audio?number=A-015&counter=7")
    assert r.status_code == 200
    assert r.mimetype == "audio/wav"
    fmt, seconds = wav_of(r.data)
    assert fmt == (voice.CHANNELS, voice.SAMPLE_WIDTH, voice.SAMPLE_RATE)
    # Chime (0.8 s) + Azerbaijani + Russian: several seconds, but not a minute.
    assert 3.0 < seconds < 20.0
    chime_seconds = wav_of(voice.chime_wav())[1]
    assert seconds > chime_seconds + 2 * 1.0
    # Made once, then served from the one shared cache.
    again = client.get("/display/audio?number=A-015&counter=7")
    assert again.data == r.data
    assert app.extensions["novbe-announcer"] is not None
    with app.app_context():
        assert announcer() is announcer() is app.extensions["novbe-announcer"]
        assert announcer().cache_dir == (Path(app.config["VOICE_CACHE"])).resolve()
    assert len(list(Path(app.config["VOICE_CACHE"]).glob("call-*.wav"))) == 1
    r.close()
    again.close()


@needs_espeak
@pytest.mark.parametrize("number", ["Ə-001", "Ş-012", "İ-7", "Ç-1234", "Ğ-003", "Ö-010", "Ü-099"])
def test_audio_accepts_azerbaijani_letters(client: Any, number: str) -> None:
    r = client.get("/display/audio", query_string={"number": number, "counter": "28"})
    assert r.status_code == 200, r.get_json()
    assert wav_of(r.data)[1] > 3.0
    r.close()


@pytest.mark.parametrize("number", ["", "a-015", "A015", "AB-015", "A-12345", "A-", "-015", "A-01a", "A-015 ",
                                    "A-015\n", "<script>", "A-٠١٥", "X-1;rm", "../etc"])
def test_bad_number_is_a_400_json_error(client: Any, number: str) -> None:
    r = client.get("/display/audio", query_string={"number": number, "counter": "7"})
    r.close()
    assert r.status_code == 400
    body = r.get_json()
    assert body["ok"] is False and body["error"] == "invalid_request"
    assert "A-015" in body["message"] and body["field"] == "number"


@pytest.mark.parametrize("counter", ["", "0", "31", "99", "-1", "7a", "٧", "1e1", " 7", "７"])
def test_bad_counter_is_a_400_json_error(client: Any, counter: str) -> None:
    r = client.get("/display/audio", query_string={"number": "A-015", "counter": counter})
    r.close()
    assert r.status_code == 400
    body = r.get_json()
    assert body["ok"] is False and body["error"] == "invalid_request" and body["field"] == "counter"


def test_audio_needs_no_token_and_speechless_server_sends_the_chime(client: Any, app: Any) -> None:
    with app.app_context():
        announcer().executable = "no-such-espeak-ng"
    r = client.get("/display/audio?number=B-002&counter=5")
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    assert r.data == voice.chime_wav()
    r.close()


def test_number_pattern_matches_what_the_core_issues(center: Any) -> None:
    for svc in center.services:
        assert NUMBER.fullmatch(f"{svc.letter}-001"), svc.letter
        assert NUMBER.fullmatch(f"{svc.letter}-9999"), svc.letter


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_announcement_text_in_each_announce_language(center: Any, lang: str) -> None:
    assert lang in center.center.announce_languages
    text = voice.announcement_text("A-015", 7, lang)
    assert "A-015" in text and "7" in text
    spoken = voice.spoken_text("A-015", 7, lang)
    assert "15" in spoken and "015" not in spoken


def test_static_chime_is_served(client: Any, app: Any) -> None:
    from flask import url_for

    with app.test_request_context():
        url = url_for("display.static", filename="display/chime.wav")
    r = client.get(url)
    assert r.status_code == 200
    assert wav_of(r.data)[1] == pytest.approx(0.8, abs=0.05)
    r.close()


def test_board_page_embeds_its_configuration(client: Any, center: Any) -> None:
    r = client.get("/display/?board=hall-2")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = json.loads(re.search(r'<script id="board-config" type="application/json">(.*?)</script>', html, re.S)[1])
    assert page["board"] == "hall-2"
    assert page["areas"] == board_areas(center, "hall-2")
    assert page["audio"] == "/display/audio"
    assert "/static/vendor/socket.io.min.js" in html
    # Every asset is served locally: no CDN on a center's LAN.
    assert not re.search(r'(src|href)="https?://', html)
    r.close()


def test_counter_top_board_page(client: Any) -> None:
    r = client.get("/display/?board=counter-7")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'class="single"' in html and 'id="single-number"' in html
    r.close()


def test_unknown_or_missing_board_lists_the_boards(client: Any) -> None:
    r = client.get("/display/?board=nowhere")
    assert r.status_code == 404
    text = r.get_data(as_text=True)
    assert all(name in text for name in ("hall-1", "hall-2", "coordination", "counter-7"))
    assert "token=" not in text.replace("token=…", "")
    r.close()
    r = client.get("/display/")
    assert r.status_code == 200 and "hall-1" in r.get_data(as_text=True)
    r.close()


def test_board_areas(center: Any) -> None:
    hall1 = board_areas(center, "hall-1")
    hall2 = board_areas(center, "hall-2")
    assert hall1 == [a.code for a in center.areas if a.hall == "hall-1"]
    assert hall2 == [a.code for a in center.areas if a.hall == "hall-2"]
    assert not set(hall1) & set(hall2)
    assert board_areas(center, "coordination") == ["coordination"]
    assert board_areas(center, "counter-7") == []
    assert board_areas(center, "no-such-board") == [a.code for a in center.areas]
