"""Spoken announcements: texts, chime, espeak-ng synthesis, cache and concurrency."""

from __future__ import annotations

import array
import ast
import logging
import os
import shutil
import subprocess
import threading
import time
import wave
from pathlib import Path

import pytest

from display import voice
from display.voice import (
    GAP_SECONDS,
    Announcer,
    SpeechUnavailable,
    UnsupportedLanguage,
    announcement_text,
    speakable_number,
    spoken_text,
    synthesize,
    wav_duration,
)

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None, reason="espeak-ng is not installed (Debian package espeak-ng)"
)
STATIC_CHIME = Path(voice.__file__).parent / "static" / "display" / "chime.wav"


def wav_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate()


def samples(path: Path) -> array.array[int]:
    with wave.open(str(path), "rb") as w:
        return array.array("h", w.readframes(w.getnframes()))


def phonemes(text: str, lang: str) -> str:
    assert ESPEAK is not None
    result = subprocess.run(
        [ESPEAK, "-q", "-x", "-v", voice.VOICES[lang], "-b", "1", "--stdin"],
        input=text.encode("utf-8"), capture_output=True, check=True,
    )
    return result.stdout.decode("utf-8")


@pytest.fixture
def announcer(tmp_path: Path) -> Announcer:
    return Announcer(tmp_path / "voice-cache")


# --- Texts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("az", ["A-015", "7", "nömrəli", "bilet sahibi", "masaya", "yaxınlaşın"]),
        ("ru", ["A-015", "7", "Талон", "окну"]),
        ("en", ["A-015", "7", "Ticket", "counter"]),
    ],
)
def test_announcement_text_has_number_counter_and_words(lang: str, words: list[str]) -> None:
    text = announcement_text("A-015", 7, lang)
    for word in words:
        assert word in text


def test_announcement_text_exact() -> None:
    assert announcement_text("A-015", 7, "az") == "A-015 nömrəli bilet sahibi, 7 nömrəli masaya yaxınlaşın"
    assert announcement_text("A-015", "7", "ru") == "Талон A-015, подойдите к окну 7"
    assert announcement_text("A-015", 7, "en") == "Ticket A-015, please go to counter 7"


@pytest.mark.parametrize(
    ("number", "lang", "expected"),
    [
        ("A-015", "az", "A 15"),
        ("Ə-003", "az", "Ə 3"),
        ("ab-7", "az", "A B 7"),
        ("i-1", "az", "İ 1"),  # Azerbaijani casing, not "I" (which is ı)
        ("A-015", "ru", "А 15"),  # Cyrillic А
        ("C-100", "ru", "Цэ 100"),
        ("A-015", "en", "A-15"),  # "A 15" would be read "a fifteen"
        ("015", "en", "15"),
        ("000", "az", "0"),
        (12, "az", "12"),
        ("07", "ru", "7"),
    ],
)
def test_speakable_number(number: str, lang: str, expected: str) -> None:
    assert speakable_number(number, lang) == expected


def test_spoken_text_strips_zeros_and_keeps_words() -> None:
    az = spoken_text("A-015", "07", "az")
    assert az == "A 15 nömrəli bilet sahibi, 7 nömrəli masaya yaxınlaşın."
    assert "015" not in spoken_text("A-015", 7, "ru")
    assert spoken_text("A-015", 7, "en") == "Ticket A-15, please go to counter 7."


def test_unsupported_language() -> None:
    with pytest.raises(UnsupportedLanguage, match="supported: az, ru, en"):
        announcement_text("A-015", 7, "de")
    with pytest.raises(ValueError):
        spoken_text("A-015", 7, "tr")


@needs_espeak
def test_letters_are_read_as_letter_names() -> None:
    # espeak-ng phoneme output: az "A" is ['a], ru Cyrillic "А" is ['A], en "A-" is ['eI].
    assert phonemes(spoken_text("A-015", 7, "az"), "az").startswith("'a ,onb'eS")
    assert "'eI" not in phonemes(spoken_text("A-015", 7, "ru"), "ru")  # not the English name
    assert phonemes(spoken_text("A-015", 7, "en"), "en").split()[1] == "'eI"
    assert "s@f'@R" not in phonemes(spoken_text("A-015", 7, "az"), "az")  # no "sıfır"


@needs_espeak
def test_russian_preposition_is_not_read_as_letter() -> None:
    # espeak-ng reads a lone "к" as the letter name "ка"; the spoken text avoids it.
    spoken = phonemes(spoken_text("A-015", 7, "ru"), "ru")
    assert "k'A Vkn'u" not in spoken
    assert "kakn'u" in spoken


# --- Chime -------------------------------------------------------------------


def test_chime_format_duration_and_no_clipping(announcer: Announcer) -> None:
    path = announcer.chime_path()
    assert wav_format(path) == (1, 2, 22050)
    assert 0.5 <= wav_duration(path) <= 1.5
    data = samples(path)
    peak = max(abs(s) for s in data)
    assert 8000 < peak < 32000  # audible, with headroom
    assert abs(data[0]) < 200 and abs(data[-1]) < 200  # faded in and out: no clicks


def test_shipped_chime_matches_generated(tmp_path: Path) -> None:
    fresh = voice.write_chime(tmp_path / "chime.wav")
    assert wav_format(STATIC_CHIME) == wav_format(fresh)
    shipped, made = samples(STATIC_CHIME), samples(fresh)
    assert len(shipped) == len(made)
    assert max(abs(a - b) for a, b in zip(shipped, made, strict=True)) <= 1


# --- Synthesis ---------------------------------------------------------------


@needs_espeak
@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_synthesize_valid_wav(tmp_path: Path, lang: str) -> None:
    out = synthesize(spoken_text("A-015", 7, lang), lang, tmp_path / f"{lang}.wav")
    assert wav_format(out) == (1, 2, 22050)
    assert 1.5 <= wav_duration(out) <= 8.0
    assert list(tmp_path.iterdir()) == [out]  # no temporary files left behind


def test_synthesize_without_espeak(tmp_path: Path) -> None:
    with pytest.raises(SpeechUnavailable, match="espeak-ng"):
        synthesize("test", "az", tmp_path / "x.wav", executable="/nonexistent/espeak-ng")


@needs_espeak
def test_text_cannot_become_an_option(tmp_path: Path) -> None:
    evil = tmp_path / "evil.wav"
    out = synthesize(f"--help -w {evil}", "en", tmp_path / "x.wav")
    assert wav_duration(out) > 0.5  # the words were spoken, not obeyed
    assert not evil.exists()


# --- Announcer ---------------------------------------------------------------


@needs_espeak
def test_audio_for_concatenates_chime_and_languages(announcer: Announcer, tmp_path: Path) -> None:
    path = announcer.audio_for("A-015", 7, ["az", "ru"])
    assert wav_format(path) == (1, 2, 22050)
    chime = wav_duration(announcer.chime_path())
    singles = [
        wav_duration(synthesize(spoken_text("A-015", 7, lang), lang, tmp_path / f"{lang}.wav"))
        for lang in ["az", "ru"]
    ]
    for single in singles:
        assert 1.5 <= single <= 8.0
    expected = chime + sum(singles) + 2 * GAP_SECONDS
    assert wav_duration(path) == pytest.approx(expected, abs=0.05)


@needs_espeak
def test_language_order_matters(announcer: Announcer) -> None:
    az_ru = announcer.audio_for("A-015", 7, ["az", "ru"])
    ru_az = announcer.audio_for("A-015", 7, ["ru", "az"])
    assert az_ru != ru_az
    assert wav_duration(az_ru) == pytest.approx(wav_duration(ru_az), abs=0.01)


@needs_espeak
def test_cache_returns_same_file_without_regenerating(announcer: Announcer) -> None:
    first = announcer.audio_for("B-042", 3, ["az", "ru"])
    mtime = first.stat().st_mtime_ns
    time.sleep(0.02)
    again = announcer.audio_for("B-042", "3", ["az", "ru"])  # str and int counters are one call
    assert again == first
    assert again.stat().st_mtime_ns == mtime
    assert announcer.audio_for("B-042", 4, ["az", "ru"]) != first


@needs_espeak
def test_concurrent_requests_make_one_valid_file(
    announcer: Announcer, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthesized: list[str] = []
    real_synthesize = voice.synthesize

    def counting_synthesize(text: str, lang: str, out_path: Path, **kwargs: object) -> Path:
        synthesized.append(lang)
        return real_synthesize(text, lang, out_path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(voice, "synthesize", counting_synthesize)
    barrier = threading.Barrier(8)
    results: list[Path] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait()
            results.append(announcer.audio_for("C-101", 12, ["az", "ru"]))
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8 and len(set(results)) == 1
    assert synthesized == ["az", "ru"]  # made once, not once per request
    calls = list(announcer.cache_dir.glob("call-*.wav"))
    assert calls == [results[0]]
    assert not [p for p in announcer.cache_dir.iterdir() if p.suffix == ".tmp"]
    assert wav_format(results[0]) == (1, 2, 22050)
    assert wav_duration(results[0]) > 3.0


@needs_espeak
def test_old_call_files_are_pruned(tmp_path: Path) -> None:
    announcer = Announcer(tmp_path / "cache", max_files=3)
    for n in range(5):
        newest = announcer.audio_for(f"A-{n:03d}", 1, ["az"])
        os.utime(newest, ns=(n * 10**9, n * 10**9))  # distinct mtimes, oldest first
    assert len(list(announcer.cache_dir.glob("call-*.wav"))) == 3
    assert newest.exists()
    assert announcer.chime_path().exists()


@needs_espeak
def test_broken_voice_skips_that_language_only(
    announcer: Announcer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_synthesize = voice.synthesize

    def ru_broken(text: str, lang: str, out_path: Path, **kwargs: object) -> Path:
        if lang == "ru":
            raise voice.SynthesisFailed("espeak-ng voice 'ru' failed (exit 1): no such voice")
        return real_synthesize(text, lang, out_path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(voice, "synthesize", ru_broken)
    with caplog.at_level(logging.WARNING, logger="display.voice"):
        partial = announcer.audio_for("D-005", 2, ["az", "ru"])
        announcer.audio_for("D-006", 2, ["az", "ru"])
    assert len(caplog.records) == 1 and "'ru'" in caplog.records[0].getMessage()
    az_only = wav_duration(announcer.chime_path()) + GAP_SECONDS
    assert wav_duration(partial) > az_only + 1.5
    monkeypatch.setattr(voice, "synthesize", real_synthesize)  # voice fixed
    full = announcer.audio_for("D-005", 2, ["az", "ru"])
    assert full != partial
    assert wav_duration(full) > wav_duration(partial) + 1.5


def test_without_espeak_audio_is_chime_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    announcer = Announcer(tmp_path / "cache", executable="/nonexistent/espeak-ng")
    with caplog.at_level(logging.WARNING, logger="display.voice"):
        first = announcer.audio_for("A-015", 7, ["az", "ru"])
        second = announcer.audio_for("A-016", 8, ["az", "ru"])
    assert first == second == announcer.chime_path()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "espeak-ng" in warnings[0].getMessage()


def test_audio_for_rejects_unknown_language(announcer: Announcer) -> None:
    with pytest.raises(UnsupportedLanguage):
        announcer.audio_for("A-015", 7, ["az", "fr"])


def test_audio_for_no_languages_is_chime(announcer: Announcer) -> None:
    assert announcer.audio_for("A-015", 7, []) == announcer.chime_path()


# --- prepare (for `novbe voices`) ---------------------------------------------


@needs_espeak
def test_prepare_reports_voices(announcer: Announcer) -> None:
    report = announcer.prepare(["az", "ru", "en", "xx"])
    assert report["az"] == report["ru"] == report["en"] == "ok"
    assert report["xx"].startswith("missing: unsupported language")
    assert announcer.chime_path().exists()


def test_prepare_without_espeak(tmp_path: Path) -> None:
    announcer = Announcer(tmp_path / "cache", executable="/nonexistent/espeak-ng")
    report = announcer.prepare(["az", "ru"])
    assert set(report) == {"az", "ru"}
    for status in report.values():
        assert status.startswith("missing:") and "espeak-ng" in status
    assert (tmp_path / "cache" / "chime.wav").exists()


def test_novbe_voices_prepares_the_cache_the_server_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOVBE_VOICE_CACHE (as the systemd unit sets it) moves the server's cache: `novbe voices` fills that one."""
    from click.testing import CliRunner

    from server.cli import main

    monkeypatch.setenv("NOVBE_VOICE_CACHE", str(tmp_path / "voices"))
    result = CliRunner().invoke(main, ["voices", "--config", "fuzuli"])
    assert result.exit_code == 0, result.output
    assert f"voice cache: {tmp_path / 'voices'}" in result.output
    assert (tmp_path / "voices" / "chime.wav").exists()


# --- Layering ----------------------------------------------------------------


def test_voice_does_not_import_flask() -> None:
    tree = ast.parse(Path(voice.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "flask_socketio", "werkzeug"}
