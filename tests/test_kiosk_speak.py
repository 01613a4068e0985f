"""The accessible kiosk mode's speech route: only the kiosk's own phrases and the center's names, for a kiosk."""
from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from conftest import mini_config
from display import voice


@pytest.fixture
def app(tmp_path: Path, clock):
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False,
                      "VOICE_CACHE": str(tmp_path / "voice")})
    yield app
    app.extensions["novbe"].publisher.stop()
    app.extensions["novbe"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tokens(app) -> dict[str, str]:
    from server import auth

    store = app.extensions["novbe"].store
    return {"kiosk": auth.add_device(store, "kiosk", "kiosk-1"), "display": auth.add_device(store, "display", "hall-1")}


@pytest.fixture
def spoken(monkeypatch) -> list[tuple[str, str]]:
    """What espeak-ng was asked to say (the real synthesis still runs)."""
    calls: list[tuple[str, str]] = []
    real = voice.synthesize

    def recording(text: str, lang: str, out_path: Path, **kw: object) -> Path:
        calls.append((text, lang))
        return real(text, lang, out_path, **kw)

    monkeypatch.setattr(voice, "synthesize", recording)
    return calls


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("text_id, lang, phrase", [
    ("welcome", "az", "Xoş gəlmisiniz!"),
    ("take", "ru", "Взять талон"),
    ("svc:EMP-1", "en", "Unemployment registration"),
    ("area:pension", "az", "Pensiya təminatı"),
    ("group:shehid-qazi", "az", "Şəhid ailəsi və qazi"),
    ("number:Ə-007", "ru", "Ваш номер: Э 7."),
])
def test_speaks_catalogue_phrases_and_center_names_once(client, tokens, spoken, text_id, lang, phrase):
    from kiosk.views import catalog

    if text_id == "take":
        phrase = catalog()["ru"]["take"]
    if text_id.startswith("number:"):
        phrase = f"{catalog()['ru']['your_number']}: Э 7."
    r = client.get(f"/kiosk/speak?text={text_id}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "audio/wav"
    with wave.open(io.BytesIO(r.data)) as w:
        assert w.getnframes() > w.getframerate() * 0.3   # something was said
    assert spoken == [(phrase, lang)]
    # Cached per text and language: the second request runs no espeak-ng.
    again = client.get(f"/kiosk/speak?text={text_id}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert again.status_code == 200 and again.data == r.data
    assert spoken == [(phrase, lang)]


@pytest.mark.parametrize("query, field", [
    ("text=anything+I+like&lang=az", "text"),          # not a phrase id: never spoken as text
    ("text=ahead&lang=az", "text"),                   # a phrase with a placeholder left to fill
    ("text=st_title&lang=az", "text"),                # the status page's strings are not the kiosk's
    ("text=svc:NOPE&lang=az", "text"),
    ("text=area:&lang=az", "text"),
    ("text=number:hello&lang=az", "text"),
    ("text=number:A-015%20and%20more&lang=az", "text"),
    ("text=" + "w" * 200 + "&lang=az", "text"),
    ("text=welcome&lang=de", "lang"),
    ("text=welcome", "lang"),
    ("text=lang_name:az&lang=az", "text"),
])
def test_refuses_what_is_not_a_kiosk_phrase_without_speaking(client, tokens, spoken, query, field):
    r = client.get("/kiosk/speak?" + query, headers=bearer(tokens["kiosk"]))
    assert r.status_code == 400
    assert r.get_json() == {"ok": False, "error": "invalid_request", "message": r.get_json()["message"], "field": field}
    assert spoken == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, "display", {"Authorization": "Basic x"}])
def test_refuses_without_a_kiosk_token_without_speaking(client, tokens, spoken, headers):
    if headers == "display":
        headers = bearer(tokens["display"])   # a board's token is not a kiosk's
    r = client.get("/kiosk/speak?text=welcome&lang=az", headers=headers)
    assert r.status_code == 401
    assert r.get_json()["error"] == "unauthorized"
    assert spoken == []


def test_speech_failure_is_a_clear_503(client, tokens, monkeypatch):

    def missing(text: str, lang: str, out_path: Path, **kw: object) -> Path:
        raise voice.SpeechUnavailable("espeak-ng not found")

    monkeypatch.setattr(voice, "synthesize", missing)
    r = client.get("/kiosk/speak?text=welcome&lang=az", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 503
    assert r.get_json()["error"] == "speech_unavailable"


@pytest.mark.parametrize("large", [True, False])
def test_accessible_mode_ticket_prints_the_number_large(tmp_path: Path, clock, large):
    """large_print on the issue marks the ticket's print job; the spool's view of it carries the flag."""
    from server import auth
    from server.app import create_app
    from server.printing import StoreJobs

    cfg = mini_config(kiosks=[{"name": "kiosk-1", "printer": "tcp://127.0.0.1:9"}])
    app = create_app({"CENTER_CONFIG": cfg, "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        store = app.extensions["novbe"].store
        token = auth.add_device(store, "kiosk", "kiosk-1")
        r = app.test_client().post("/api/tickets", json={"service": "EMP-1", "large_print": large},
                                   headers=bearer(token))
        assert r.status_code == 201, r.get_json()
        job = store.print_jobs()[0]
        view = StoreJobs(store, lambda: "http://x").view(job["id"])
        assert view is not None and view.number == r.get_json()["number"]
        assert view.large_number is large
        bad = app.test_client().post("/api/tickets", json={"service": "EMP-1", "large_print": "yes please"},
                                     headers=bearer(token))
        assert bad.status_code == 400
    finally:
        app.extensions["novbe"].publisher.stop()
        store.close()


# --- phrases with placeholders: filled only from a small checked set ---------------------------------------

@pytest.mark.parametrize("query, lang, phrase", [
    ("text=idle_spoken&s=20", "az", "Ekran 20 saniyədən sonra əvvələ qayıdacaq."),
    ("text=idle_spoken&s=007", "ru", "Секунд до возврата к началу: 7."),
    ("text=idle_spoken&s=0", "en", "Seconds left before the screen returns to the start: 0."),
    ("text=next_opening&day=tomorrow&time=08:00", "az", "Növbəti qəbul: sabah, saat 8"),
    ("text=next_opening&day=today&time=08:00", "ru", "Следующий приём: сегодня в 8"),
    ("text=next_opening&day=mon&time=08:00", "en", "Next opening: Monday at 8"),
    ("text=next_opening&time=08:00&day=sun", "ru", "Следующий приём: воскресенье в 8"),
])
def test_speaks_a_phrase_filled_from_checked_values_once(client, tokens, spoken, query, lang, phrase):
    r = client.get(f"/kiosk/speak?{query}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "audio/wav"
    assert spoken == [(phrase, lang)]
    again = client.get(f"/kiosk/speak?{query}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert again.status_code == 200 and again.data == r.data
    assert spoken == [(phrase, lang)]


@pytest.mark.parametrize("query, field", [
    ("text=idle_spoken", "s"),                                   # a placeholder left to fill
    ("text=idle_spoken&s=121", "s"),                             # beyond 0-120
    ("text=idle_spoken&s=-1", "s"),
    ("text=idle_spoken&s=1.5", "s"),
    ("text=idle_spoken&s=%D9%A2", "s"),                          # an Arabic-Indic digit
    ("text=idle_spoken&s=20%20and%20more", "s"),
    ("text=idle_spoken&s=" + "1" * 400, "s"),
    ("text=idle_spoken&s=20&day=mon", "day"),                    # a fill the phrase does not take
    ("text=welcome&s=20", "s"),                                  # a phrase without placeholders takes none
    ("text=svc:EMP-1&time=08:00", "time"),
    ("text=closing_in&s=20", "s"),                               # not a phrase the kiosk may have filled
    ("text=next_opening&day=mon", "time"),
    ("text=next_opening&time=08:00", "day"),
    ("text=next_opening&day=someday&time=08:00", "day"),
    ("text=next_opening&day=Mon&time=08:00", "day"),
    ("text=next_opening&day=mon&time=10:17", "time"),            # well-formed, but not an opening time
    ("text=next_opening&day=mon&time=25:00", "time"),
    ("text=next_opening&day=mon&time=8:00", "time"),
    ("text=next_opening&day=mon&time=08:00:00", "time"),
    ("text=next_opening&day=mon&time=Anything%20I%20like", "time"),
    ("text=next_opening&day=mon&time=08:00&when=now", "when"),   # an unknown parameter
    ("text=welcome&voice=whisper", "voice"),
])
def test_refuses_a_fill_outside_the_checked_set_without_speaking(client, tokens, spoken, query, field):
    _refused(client, tokens, spoken, f"{query}&lang=az", field)


def _refused(client, tokens, spoken, query: str, field: str) -> None:
    """The route answers 400 invalid_request naming ``field``, and nothing was synthesized."""
    r = client.get(f"/kiosk/speak?{query}", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 400
    assert r.get_json() == {"ok": False, "error": "invalid_request", "message": r.get_json()["message"], "field": field}
    assert spoken == []


def test_filled_phrases_are_bounded(app):
    """Every value the route accepts, in every language: 121 idle phrases and 9 days x the opening times each."""
    from kiosk import views

    cfg = app.extensions["novbe"].cfg
    times = sorted({h.opens.strftime("%H:%M") for h in cfg.center.hours.values() if h.opens is not None})
    texts = set()
    with app.test_request_context():
        for lang in ("az", "ru", "en"):
            for s in range(0, views.MAX_SECONDS + 1):
                texts.add(views.speak_text("idle_spoken", lang, {"s": str(s)}))
            for day in views.DAYS:
                for t in times:
                    texts.add(views.speak_text("next_opening", lang, {"day": day, "time": t}))
    assert len(views.DAYS) == 9 and len(times) <= 7
    assert len(texts) == 3 * (121 + 9 * len(times)) <= 3 * (121 + 9 * 7) == 552


def test_the_ticket_screens_longest_countdown_is_a_phrase(tmp_path: Path, clock, spoken):
    """An unprinted ticket's screen stays up 4 x the kiosk's idle time (kiosk.js) and the accessible mode says its
    seconds: with a 60 s idle time, 240 s is a phrase and 241 is refused (121 with the default 30 s: above)."""
    from server import auth
    from server.app import create_app

    app = create_app({"CENTER_CONFIG": mini_config(policy__kiosk_idle_seconds=60), "DATABASE": str(tmp_path / "n.db"),
                      "CLOCK": clock, "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False,
                      "VOICE_CACHE": str(tmp_path / "voice")})
    try:
        token = auth.add_device(app.extensions["novbe"].store, "kiosk", "kiosk-1")
        client = app.test_client()
        r = client.get("/kiosk/speak?text=idle_spoken&s=240&lang=en", headers=bearer(token))
        assert r.status_code == 200 and spoken == [("Seconds left before the screen returns to the start: 240.", "en")]
        r = client.get("/kiosk/speak?text=idle_spoken&s=241&lang=en", headers=bearer(token))
        assert r.status_code == 400 and r.get_json()["field"] == "s"
        assert len(spoken) == 1
    finally:
        app.extensions["novbe"].publisher.stop()
        app.extensions["novbe"].store.close()


# --- the ticket screen's boxes: people ahead and the wait, filled from bounded numbers ---------------------

@pytest.mark.parametrize("query, lang, pieces", [
    ("text=ahead_spoken&n=3", "az", ["Sizdən əvvəl 3 nəfər var."]),
    ("text=ahead_spoken&n=1", "ru", ["Человек перед вами: 1."]),
    ("text=ahead_spoken&n=100", "en", ["People ahead of you: 100."]),     # the mini center's daily ceiling
    ("text=eta_spoken&m=12", "az", ["Təxmini gözləmə 12 dəqiqədir."]),
    ("text=eta_spoken&m=1", "ru", ["Примерное ожидание в минутах: 1."]),
    ("text=eta_spoken&m=730", "en", ["Estimated wait in minutes: 730."]),  # 08:00-20:00 plus 10 min grace
    # A range is said in two pieces, each cached on its own: the text up to {b}, and from {b} on.
    ("text=eta_range_spoken&a=5&b=30", "az", ["Təxmini gözləmə 5 ilə", "30 dəqiqə arasıdır."]),
    ("text=eta_range_spoken&a=1&b=30", "ru", ["Примерное ожидание в минутах: от 1 до", "30."]),
    ("text=eta_range_spoken&a=0&b=2", "en", ["Estimated wait: from 0 to", "2 minutes."]),
])
def test_speaks_the_ticket_boxes_from_checked_numbers_once(client, tokens, spoken, query, lang, pieces):
    r = client.get(f"/kiosk/speak?{query}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "audio/wav"
    assert spoken == [(p, lang) for p in pieces]
    # The pieces make one WAV as long as the pieces together.
    with wave.open(io.BytesIO(r.data)) as w:
        frames = w.getnframes()
    assert frames > 0
    again = client.get(f"/kiosk/speak?{query}&lang={lang}", headers=bearer(tokens["kiosk"]))
    assert again.status_code == 200 and again.data == r.data
    assert len(spoken) == len(pieces)


def test_a_range_is_its_two_pieces_joined(client, tokens, spoken, tmp_path: Path):
    """The range's WAV is the head piece's samples, then the tail piece's, in one file of the same voice."""
    r = client.get("/kiosk/speak?text=eta_range_spoken&a=5&b=30&lang=en", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 200
    expected = b""
    for i, (text, lang) in enumerate(list(spoken)):   # (synthesize records here too)
        with wave.open(str(voice.synthesize(text, lang, tmp_path / f"{i}.wav"))) as w:
            params, expected = w.getparams(), expected + w.readframes(w.getnframes())
    with wave.open(io.BytesIO(r.data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == params[:3]
        assert w.readframes(w.getnframes()) == expected
    # Another range shares a piece: only the new one is made.
    assert client.get("/kiosk/speak?text=eta_range_spoken&a=5&b=31&lang=en",
                      headers=bearer(tokens["kiosk"])).status_code == 200
    assert spoken[-1] == ("31 minutes.", "en") and len(spoken) == 2 + 2 + 1


@pytest.mark.parametrize("query, field", [
    ("text=ahead_spoken", "n"),                                  # a placeholder left to fill
    ("text=ahead_spoken&n=0", "n"),                              # nobody ahead is ahead_none
    ("text=ahead_spoken&n=101", "n"),                            # beyond the day's tickets (daily_capacity 100)
    ("text=ahead_spoken&n=-3", "n"),
    ("text=ahead_spoken&n=3.0", "n"),
    ("text=ahead_spoken&n=%D9%A3", "n"),                         # an Arabic-Indic digit
    ("text=ahead_spoken&n=" + "1" * 400, "n"),
    ("text=ahead_spoken&n=3&m=5", "m"),                          # a fill the phrase does not take
    ("text=eta_spoken&m=0", "m"),                                # no wait is eta_now
    ("text=eta_spoken&m=731", "m"),                              # beyond the longest day plus the grace
    ("text=eta_spoken&m=soon", "m"),
    ("text=eta_spoken&n=5", "n"),
    ("text=eta_range_spoken&a=5", "b"),
    ("text=eta_range_spoken&b=30", "a"),
    ("text=eta_range_spoken&a=30&b=5", "b"),                     # low above high
    ("text=eta_range_spoken&a=5&b=6", "b"),                      # the screen shows eta, not a range, for 5-6
    ("text=eta_range_spoken&a=5&b=731", "b"),
    ("text=eta_range_spoken&a=x&b=30", "a"),
    ("text=eta_range_spoken&a=5&b=30&m=12", "m"),
    ("text=ahead&n=3", "n"),                                     # the shown (abbreviated) text is not filled
    ("text=eta_range&a=5&b=30", "a"),
])
def test_refuses_ticket_box_fills_outside_the_checked_set_without_speaking(client, tokens, spoken, query, field):
    _refused(client, tokens, spoken, f"{query}&lang=ru", field)


def test_ticket_box_pieces_are_bounded(app):
    """Every value the route accepts for the boxes, in every language: max_ahead + 3 x max_minutes pieces each."""
    from kiosk import views

    cfg = app.extensions["novbe"].cfg
    most_ahead, most_minutes = views.max_ahead(cfg), views.max_minutes(cfg)
    assert (most_ahead, most_minutes) == (100, 12 * 60 + 10)
    pieces: set[str] = set()
    with app.test_request_context():
        for lang in ("az", "ru", "en"):
            for n in range(1, most_ahead + 1):
                pieces.update(views.speak_parts("ahead_spoken", lang, {"n": str(n)}) or [])
            for m in range(1, most_minutes + 1):
                pieces.update(views.speak_parts("eta_spoken", lang, {"m": str(m)}) or [])
            for a in range(0, most_minutes - 1):   # every head and every tail, without the ~266,000 pairs
                pieces.update(views.speak_parts("eta_range_spoken", lang, {"a": str(a), "b": str(a + 2)}) or [])
    assert len(pieces) <= 3 * (most_ahead + 3 * most_minutes)


def test_the_ahead_bound_follows_the_quotas_without_a_ceiling():
    """Without daily_capacity, people ahead are bounded by the sum of the services' quotas (155 in the mini center)."""
    from kiosk import views

    cfg = mini_config(center__daily_capacity=None)
    assert views.max_ahead(cfg) == 50 + 5 + 50 + 50


# --- the phrase cache's byte budget (kiosk/voice_cache.py) ---------------------------------------------------

def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.wav"))


def test_the_phrase_cache_keeps_within_its_budget_the_least_recently_used_out_first(tmp_path: Path, clock, spoken):
    """Many values asked (as a long-running server would see): the folder never holds more than the budget, the
    phrase the kiosk keeps using stays cached (spoken once), and an evicted one is simply spoken again."""
    from server import auth
    from server.app import create_app

    budget_mb = 0.5   # a handful of ~0.1 MB phrases
    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, "RATELIMIT_ENABLED": False,
                      "VOICE_CACHE": str(tmp_path / "voice"), "KIOSK_VOICE_CACHE_MB": budget_mb})
    try:
        client = app.test_client()
        kiosk = bearer(auth.add_device(app.extensions["novbe"].store, "kiosk", "kiosk-1"))
        folder = tmp_path / "voice" / "kiosk"
        welcome = client.get("/kiosk/speak?text=welcome&lang=az", headers=kiosk)
        assert welcome.status_code == 200
        for m in range(1, 25):
            r = client.get(f"/kiosk/speak?text=eta_spoken&m={m}&lang=az", headers=kiosk)
            assert r.status_code == 200 and r.data[:4] == b"RIFF"
            assert _folder_bytes(folder) <= budget_mb * 1_000_000
            again = client.get("/kiosk/speak?text=welcome&lang=az", headers=kiosk)   # in use all day: kept
            assert again.status_code == 200 and again.data == welcome.data
        assert len(list(folder.glob("*.wav"))) < 25   # without the budget, all 25 would be there
        assert len([t for t, _ in spoken if t == "Xoş gəlmisiniz!"]) == 1
        # The first wait asked went out long ago: asked again, it is spoken again, same as before.
        made = len(spoken)
        first = client.get("/kiosk/speak?text=eta_spoken&m=1&lang=az", headers=kiosk)
        assert first.status_code == 200 and len(spoken) == made + 1
    finally:
        app.extensions["novbe"].publisher.stop()
        app.extensions["novbe"].store.close()


def _written(content: bytes):
    def make(path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)   # whole or not at all, as voice.synthesize writes
    return make


def test_a_phrase_being_read_is_read_whole_though_evicted_meanwhile(tmp_path: Path):
    """A request holding a phrase while others push it out of the folder still reads all of it."""
    from kiosk.voice_cache import VoiceCache

    cache = VoiceCache(tmp_path, budget=3_000)
    with cache.open("held", _written(b"H" * 1_000)) as f:
        assert f.read(10) == b"H" * 10
        for i in range(5):   # 5 kB more of newer phrases: "held", the least recently used, goes
            assert cache.read(f"other{i}", _written(bytes([i]) * 1_000)) == bytes([i]) * 1_000
        assert not (tmp_path / "held.wav").exists() and cache.total() <= 3_000
        assert f.read() == b"H" * 990
    assert sorted(p.stem for p in tmp_path.glob("*.wav")) == ["other2", "other3", "other4"]


def test_the_order_of_use_and_the_budget_survive_a_restart(tmp_path: Path):
    """A new server counts the files an earlier one left, by their last use, and keeps to its own budget."""
    from kiosk.voice_cache import VoiceCache

    before = VoiceCache(tmp_path, budget=10_000)
    for key in ("a", "b", "c", "d"):
        before.read(key, _written(key.encode() * 1_000))
    assert before.read("a", _written(b"never made")) == b"a" * 1_000   # a used again: now the newest
    after = VoiceCache(tmp_path, budget=2_500)
    assert after.total() == 2_000
    assert sorted(p.stem for p in tmp_path.glob("*.wav")) == ["a", "d"]


def test_many_requests_at_once_each_read_their_own_phrase_whole(tmp_path: Path):
    """Threads asking and making phrases against a budget of a few files: no reader ever misses its file."""
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.voice_cache import VoiceCache

    cache = VoiceCache(tmp_path, budget=5 * 2_000)

    def ask(i: int) -> bool:
        key = f"k{(i * 7919) % 40}"
        return cache.read(key, _written(key.encode().ljust(2_000, b"."))) == key.encode().ljust(2_000, b".")

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(ask, range(4_000)))
    assert cache.total() == _folder_bytes(tmp_path) <= 5 * 2_000


@pytest.mark.parametrize("setting, budget", [(None, 256_000_000), (64, 64_000_000), ("0.5", 500_000),
                                             ("lots", 256_000_000), (0, 256_000_000), (-3, 256_000_000),
                                             ("inf", 256_000_000), ("nan", 256_000_000)])
def test_the_budget_setting(tmp_path: Path, clock, setting, budget):
    """NOVBE_KIOSK_VOICE_CACHE_MB in megabytes; anything but a positive number keeps the default (with a warning)."""
    from kiosk.views import voice_cache
    from server.app import create_app

    extra = {} if setting is None else {"KIOSK_VOICE_CACHE_MB": setting}
    app = create_app({"CENTER_CONFIG": mini_config(), "DATABASE": str(tmp_path / "novbe.db"), "CLOCK": clock,
                      "START_DEVICES": False, "TESTING": True, **extra})
    try:
        with app.app_context():
            assert voice_cache(tmp_path / "kiosk").budget == budget
    finally:
        app.extensions["novbe"].publisher.stop()
        app.extensions["novbe"].store.close()
