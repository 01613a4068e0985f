"""The display blueprint without a browser: the audio route, the board page and its filter.

The audio route needs no token for a call really made today; anything else is refused
before any speech is made, unless a board presents its display token. Files are cached
per call and an anonymous request never removes one (docs/display.md). Speech runs are
counted through a wrapper around the real espeak-ng.
"""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import loader
from display import voice
from display.views import FRESH_SECONDS, NUMBER, announcer, board_areas
from server import auth
from server.core import queue

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (Debian package espeak-ng)")


@pytest.fixture(scope="module")
def center() -> Any:
    return loader.load("absheron")


def make_app(tmp_path: Path, center: Any, clock: Any, **config: Any) -> Any:
    from server.app import create_app

    return create_app({"CENTER_CONFIG": center, "DATABASE": str(tmp_path / "novbe.db"), "TESTING": True,
                       "START_DEVICES": False, "VOICE_CACHE": str(tmp_path / "voice-cache"), "CLOCK": clock,
                       **config})


def close_app(flask_app: Any) -> None:
    novbe = flask_app.extensions["novbe"]
    novbe.publisher.stop()
    novbe.store.close()


@pytest.fixture
def app(tmp_path: Path, center: Any, clock: Any) -> Iterator[Any]:
    # clock: a Tuesday 10:00 in Baku, when the center is open (tests/conftest.py).
    flask_app = make_app(tmp_path, center, clock)
    yield flask_app
    close_app(flask_app)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def espeak_runs(app: Any, tmp_path: Path) -> Path:
    """Route the announcer through a wrapper that logs each espeak-ng run, then runs the real one."""
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    log = tmp_path / "espeak-runs.log"
    log.touch()
    wrapper = tmp_path / "espeak-counting"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{ESPEAK}" "$@"\n')
    wrapper.chmod(0o755)
    with app.app_context():
        announcer().executable = str(wrapper)
    return log


def runs(log: Path) -> int:
    return len(log.read_text().splitlines())


def call(app: Any, counter: int = 1, service: str = "EMP-01") -> str:
    """Issue a ticket and call it at ``counter`` (opened for op1 if needed); the ticket number."""
    store = app.extensions["novbe"].store
    queue.issue_ticket(store, service, kiosk="kiosk-1", lang="az")
    with store.read() as tx:
        holder = tx.get_counter(counter).operator
    if holder is None:
        queue.open_counter(store, counter, operator=f"op{counter}")
    return queue.call_next(store, counter, actor=f"op{counter}").number


def call_files(app: Any) -> set[str]:
    with app.app_context():
        return {p.name for p in announcer().cache_dir.glob("call-*.wav")}


def wav_of(data: bytes) -> tuple[tuple[int, int, int], float]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()), w.getnframes() / w.getframerate()


@needs_espeak
def test_audio_is_a_wav_with_chime_and_both_languages(client: Any, app: Any) -> None:
    number = call(app, 7, "PEN-01")
    r = client.get(f"/display/audio?number={number}&counter=7")
    assert r.status_code == 200
    assert r.mimetype == "audio/wav"
    fmt, seconds = wav_of(r.data)
    assert fmt == (voice.CHANNELS, voice.SAMPLE_WIDTH, voice.SAMPLE_RATE)
    # Chime (0.8 s) + Azerbaijani + Russian: several seconds, but not a minute.
    assert 3.0 < seconds < 20.0
    chime_seconds = wav_of(voice.chime_wav())[1]
    assert seconds > chime_seconds + 2 * 1.0
    # Made once, then served from the one shared cache.
    again = client.get(f"/display/audio?number={number}&counter=7")
    assert again.data == r.data
    assert app.extensions["novbe-announcer"] is not None
    with app.app_context():
        assert announcer() is announcer() is app.extensions["novbe-announcer"]
        assert announcer().cache_dir == (Path(app.config["VOICE_CACHE"])).resolve()
    assert len(list(Path(app.config["VOICE_CACHE"]).glob("call-*.wav"))) == 1
    r.close()
    again.close()


@pytest.fixture
def board_token(app: Any) -> str:
    return auth.add_device(app.extensions["novbe"].store, "display", "hall-1")


@needs_espeak
@pytest.mark.parametrize("number", ["Ə-001", "Ş-012", "İ-7", "Ç-1234", "Ğ-003", "Ö-010", "Ü-099"])
def test_audio_accepts_azerbaijani_letters(client: Any, number: str, board_token: str) -> None:
    # A board's token lets it have any well-formed call spoken (a sound check).
    r = client.get("/display/audio", query_string={"number": number, "counter": "28"},
                   headers={"Authorization": f"Bearer {board_token}"})
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
    number = call(app, 5, "PEN-01")
    r = client.get(f"/display/audio?number={number}&counter=5")
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    assert r.data == voice.chime_wav()
    r.close()


# --- who may make the server speak ----------------------------------------------------------

def test_never_called_numbers_are_refused_without_speech(client: Any, app: Any, espeak_runs: Path) -> None:
    called = call(app, 1)
    refused = [
        ("A-999", "1"),        # never issued
        (called, "2"),         # a real ticket, but called to another counter
    ]
    store = app.extensions["novbe"].store
    waiting = queue.issue_ticket(store, "EMP-01", kiosk="kiosk-1", lang="az").ticket.number
    refused.append((waiting, "1"))  # issued, still waiting: not called yet
    for number, counter in refused:
        r = client.get("/display/audio", query_string={"number": number, "counter": counter})
        assert r.status_code == 404, (number, counter)
        body = r.get_json()
        assert body["ok"] is False and body["error"] == "call_not_found" and number in body["message"]
        r.close()
    assert runs(espeak_runs) == 0 and call_files(app) == set()


def test_yesterdays_call_is_refused(tmp_path: Path, center: Any, clock: Any) -> None:
    flask_app = make_app(tmp_path, center, clock)
    try:
        number = call(flask_app, 3)
        clock.advance(24 * 3600)
        r = flask_app.test_client().get(f"/display/audio?number={number}&counter=3")
        assert r.status_code == 404 and r.get_json()["error"] == "call_not_found"
        r.close()
    finally:
        close_app(flask_app)


def test_a_wrong_token_is_401_and_a_kiosk_token_is_not_a_board_token(client: Any, app: Any,
                                                                        espeak_runs: Path) -> None:
    kiosk = auth.add_device(app.extensions["novbe"].store, "kiosk", "kiosk-1")
    for token in ("d_not-a-real-token", kiosk):
        r = client.get("/display/audio?number=A-001&counter=1", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
        r.close()
    assert runs(espeak_runs) == 0


def test_a_real_call_is_spoken_once_and_a_recall_reuses_it(client: Any, app: Any, espeak_runs: Path) -> None:
    number = call(app, 4)
    url = f"/display/audio?number={number}&counter=4"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "audio/wav"
    assert wav_of(first.data)[1] > 3.0
    made = runs(espeak_runs)
    assert made == 2  # az + ru, once
    queue.recall(app.extensions["novbe"].store, 4, actor="op4")
    again = client.get(url)
    assert again.status_code == 200 and again.data == first.data
    assert runs(espeak_runs) == made and len(call_files(app)) == 1
    first.close()
    again.close()


def test_with_a_board_token_anything_well_formed_is_spoken(client: Any, app: Any, board_token: str,
                                                           espeak_runs: Path) -> None:
    r = client.get("/display/audio?number=Z-042&counter=12", headers={"Authorization": f"Bearer {board_token}"})
    assert r.status_code == 200 and wav_of(r.data)[1] > 3.0
    assert runs(espeak_runs) == 2
    r.close()
    # Without it, the same never-made call is refused.
    r = client.get("/display/audio?number=Z-043&counter=12")
    assert r.status_code == 404
    r.close()
    assert runs(espeak_runs) == 2


def test_an_old_call_is_served_from_the_cache_but_not_made_again(client: Any, app: Any, clock: Any,
                                                                  espeak_runs: Path) -> None:
    kept, dropped = call(app, 1), call(app, 2)
    url = "/display/audio?number={}&counter={}"
    r = client.get(url.format(kept, 1))
    assert r.status_code == 200
    r.close()
    clock.advance(FRESH_SECONDS + 60)
    r = client.get(url.format(kept, 1))
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    r.close()
    made = runs(espeak_runs)
    r = client.get(url.format(dropped, 2))
    assert r.status_code == 410
    assert r.get_json()["error"] == "announcement_expired"
    r.close()
    assert runs(espeak_runs) == made


def test_a_burst_of_bogus_requests_evicts_nothing_and_speaks_nothing(client: Any, app: Any,
                                                                     espeak_runs: Path) -> None:
    with app.app_context():
        a = announcer()
    a.max_files = 200
    number = call(app, 1)
    r = client.get(f"/display/audio?number={number}&counter=1")
    assert r.status_code == 200
    r.close()
    real = call_files(app)
    made = runs(espeak_runs)
    assert len(real) == 1
    started = time.monotonic()
    statuses = set()
    for i in range(240):
        r = client.get("/display/audio", query_string={"number": f"B-{i + 1:03d}", "counter": str(i % 30 + 1)})
        statuses.add(r.status_code)
        r.close()
    assert statuses == {404}
    assert runs(espeak_runs) == made and call_files(app) == real
    # Refusing costs a lookup, not a synthesis (espeak-ng takes tens of ms per phrase).
    assert time.monotonic() - started < 10


def test_anonymous_requests_never_evict_and_the_cache_keeps_the_newest_calls(client: Any, app: Any, clock: Any,
                                                                             board_token: str,
                                                                             espeak_runs: Path) -> None:
    with app.app_context():
        a = announcer()
    a.max_files = 3
    calls = []
    for counter in (1, 2, 3, 4, 5):
        calls.append((call(app, counter, "PEN-01" if counter == 5 else "EMP-01"), counter))
        clock.advance(30)
    # Fetched newest first: with pruning by file age the oldest calls would push the newest out.
    for number, counter in reversed(calls):
        r = client.get(f"/display/audio?number={number}&counter={counter}")
        assert r.status_code == 200
        r.close()
    assert len(call_files(app)) == 5  # anonymous requests added, removed nothing
    # A trusted request prunes: the newest calls stay (files are dated with their calls).
    r = client.get("/display/audio?number=Z-001&counter=9", headers={"Authorization": f"Bearer {board_token}"})
    assert r.status_code == 200
    r.close()
    with app.app_context():
        left = {a.cache_key(n, c, ["az", "ru"]) for n, c in calls if a.cached(n, c, ["az", "ru"])}
        assert left == {a.cache_key(n, c, ["az", "ru"]) for n, c in calls[-2:]}
        assert a.cached("Z-001", 9, ["az", "ru"]) is not None
    assert len(call_files(app)) == 3


@needs_espeak
def test_a_call_is_spoken_in_the_background_while_a_board_listens(tmp_path: Path, center: Any, clock: Any) -> None:
    from server.realtime import socketio

    flask_app = make_app(tmp_path, center, clock)
    try:
        token = auth.add_device(flask_app.extensions["novbe"].store, "display", "hall-1")
        prewarmer = flask_app.extensions["novbe"].extras["prewarmer"]
        quiet = call(flask_app, 1)          # nobody listening: nothing made ahead
        time.sleep(0.5)
        assert prewarmer.made == 0 and call_files(flask_app) == set()
        board = socketio.test_client(flask_app, namespace="/display", auth={"token": token})
        assert board.is_connected("/display")
        number = call(flask_app, 2)
        deadline = time.monotonic() + 10
        while prewarmer.made < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert prewarmer.made == 1
        with flask_app.app_context():
            assert announcer().cached(number, 2, ["az", "ru"]) is not None
            assert announcer().cached(quiet, 1, ["az", "ru"]) is None
        board.disconnect(namespace="/display")
    finally:
        close_app(flask_app)


def test_an_unwritable_voice_cache_falls_back_and_is_reported_once(tmp_path: Path, center: Any, clock: Any,
                                                                   caplog: Any) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="display.voice"):
        flask_app = make_app(tmp_path, center, clock, VOICE_CACHE=str(blocker / "voice-cache"))
    try:
        warnings = [r for r in caplog.records if "not writable" in r.getMessage()]
        assert len(warnings) == 1  # at start-up, before any request
        with flask_app.app_context():
            fallback = announcer().cache_dir
        assert fallback.is_dir() and blocker not in fallback.parents
        number = call(flask_app, 1)
        client = flask_app.test_client()
        for _ in range(3):
            r = client.get(f"/display/audio?number={number}&counter=1")
            assert r.status_code == 200 and r.mimetype == "audio/wav"
            r.close()
        assert len([r for r in caplog.records if "not writable" in r.getMessage()]) == 1
        # A cache that breaks later (disk gone) still gives the board its chime, never a 500.
        with flask_app.app_context():
            announcer().cache_dir = blocker
        other = call(flask_app, 2)
        r = client.get(f"/display/audio?number={other}&counter=2")
        assert r.status_code == 200 and r.data == voice.chime_wav()
        r.close()
    finally:
        close_app(flask_app)


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
