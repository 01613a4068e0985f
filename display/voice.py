"""Offline spoken announcements for the hall display boards.

A call ("A-015 to counter 7") becomes one WAV file: a two-tone chime followed
by the announcement in each configured language, spoken by espeak-ng
(Debian package ``espeak-ng``).  Nothing here needs the network or Flask.

    announcement_text()  what the board shows
    spoken_text()        what espeak-ng is given (letters as letter names,
                         leading zeros stripped, pronunciation workarounds)
    synthesize()         one phrase -> one WAV via espeak-ng
    Announcer            cache of finished call files, thread-safe

Exceptions::

    SpeechError
     ├── SpeechUnavailable    espeak-ng is not installed
     ├── UnsupportedLanguage  a language other than az, ru, en (also a ValueError)
     └── SynthesisFailed      espeak-ng ran but gave no usable WAV (e.g. voice data missing)

All audio is 22050 Hz, mono, 16-bit PCM: the format espeak-ng writes for its
own voices, so files are joined with the ``wave`` module without resampling.
"""

from __future__ import annotations

import array
import hashlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Sequence
from pathlib import Path

import i18n

__all__ = [
    "CHANNELS",
    "GAP_SECONDS",
    "LANGUAGES",
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "SPEED",
    "VOICES",
    "Announcer",
    "SpeechError",
    "SpeechUnavailable",
    "SynthesisFailed",
    "UnsupportedLanguage",
    "announcement_text",
    "chime_wav",
    "speakable_number",
    "spoken_text",
    "synthesize",
    "wav_duration",
    "write_chime",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
CHANNELS = 1
SPEED = 150  # words per minute; espeak-ng's default of 175 is hurried in a noisy hall
GAP_SECONDS = 0.3  # silence after the chime and between languages
ESPEAK = "espeak-ng"
VOICES: dict[str, str] = {"az": "az", "ru": "ru", "en": "en"}
LANGUAGES: tuple[str, ...] = tuple(VOICES)
SYNTH_TIMEOUT = 30.0  # seconds; a phrase takes ~20 ms, so this only catches a hung process
# Bump when the chime, phrasing or audio layout changes so old cache files are not reused.
CACHE_VERSION = 1


class SpeechError(Exception):
    """Speech could not be produced."""


class SpeechUnavailable(SpeechError):
    """espeak-ng is not installed: install the Debian package espeak-ng."""


class UnsupportedLanguage(SpeechError, ValueError):
    """The language has no announcement phrasing or voice (supported: az, ru, en)."""


class SynthesisFailed(SpeechError):
    """espeak-ng ran but produced no usable WAV file (for example, a missing voice)."""


# --- Text --------------------------------------------------------------------

# The phrases themselves are in the catalogues (i18n/<lang>/LC_MESSAGES/messages.po, msgctxt
# "announce"): "shown" on the board, "spoken" to espeak-ng. The Russian spoken phrase uses espeak-ng
# phoneme input ([[kVkn'u]] for "к окну"): espeak-ng 1.51 reads a lone "к" as the letter name "ка".

# Russian names for the letters of the Azerbaijani Latin alphabet (plus W).
# Latin letters get the names Russian speakers use for them; the Azerbaijani
# extras get their Azerbaijani names. "I" is the Azerbaijani dotless ı, as the
# az voice reads it. espeak-ng's ru voice would otherwise read Latin letters
# with English names ("эй" for A). Ğ sounds like G here: do not give two
# services the prefixes G and Ğ.
_RU_LETTER_NAMES: dict[str, str] = {
    "A": "А", "B": "Бэ", "C": "Цэ", "Ç": "Чэ", "D": "Дэ", "E": "Е", "Ə": "Э",
    "F": "Эф", "G": "Гэ", "Ğ": "Гъэ", "H": "Аш", "X": "Икс", "I": "Ы", "İ": "И",
    "J": "Жэ", "K": "Ка", "Q": "Ку", "L": "Эль", "M": "Эм", "N": "Эн", "O": "О",
    "Ö": "Ё", "P": "Пэ", "R": "Эр", "S": "Эс", "Ş": "Шэ", "T": "Тэ", "U": "У",
    "Ü": "Ю", "V": "Вэ", "Y": "Игрек", "Z": "Зэт", "W": "Дубль-вэ",
}

# Runs of letters or of ASCII digits; everything else (hyphens, spaces, dots)
# only separates them.
_TOKEN = re.compile(r"[^\W\d_]+|[0-9]+")


def _check_lang(lang: str) -> None:
    if lang not in VOICES:
        raise UnsupportedLanguage(
            f"unsupported announcement language {lang!r} (supported: {', '.join(LANGUAGES)})"
        )


def _az_upper(text: str) -> str:
    # Azerbaijani casing: i -> İ and ı -> I (str.upper() would turn i into I).
    return text.replace("i", "İ").replace("ı", "I").upper()


def speakable_number(number: str | int, lang: str) -> str:
    """Return a ticket or counter number as espeak-ng should read it ("A-015" -> "A 15")."""
    _check_lang(lang)
    words: list[str] = []
    for token in _TOKEN.findall(str(number)):
        if token[0].isdigit():
            words.append(str(int(token)))  # "015" -> "15"
            continue
        letters = list(_az_upper(token))
        if lang == "ru":
            words.extend(_RU_LETTER_NAMES.get(letter, letter) for letter in letters)
        else:
            words.extend(letters)
    if not words:
        return str(number).strip()
    if lang == "en":
        # "A 15" is read as the article ("a fifteen"); "A-15" as the letter name.
        return "-".join(words)
    # A single capital letter between spaces is read as its name by the az voice.
    return " ".join(words)


def announcement_text(number: str, counter: str | int, lang: str) -> str:
    """Return the announcement as shown on the board, e.g. "Ticket A-015, please go to counter 7"."""
    _check_lang(lang)
    return i18n.text("announce", "shown", lang, number=str(number).strip(), counter=str(counter).strip())


def spoken_text(number: str, counter: str | int, lang: str) -> str:
    """Return the announcement as given to espeak-ng, e.g. "Ticket A-15, please go to counter 7."."""
    _check_lang(lang)
    return i18n.text("announce", "spoken", lang,
                     number=speakable_number(number, lang), counter=speakable_number(counter, lang))


# --- Audio -------------------------------------------------------------------


def _resolve(executable: str) -> str:
    found = shutil.which(executable)
    if found is None:
        raise SpeechUnavailable(
            f"{executable!r} not found: install the Debian package espeak-ng "
            "(apt-get install espeak-ng) for spoken announcements"
        )
    return found


def _atomic_tmp(target: Path) -> Path:
    # A temporary sibling, so os.replace() is atomic and readers never see half a file.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    # mkstemp makes 0600 files; a web server running as another user must read them.
    os.chmod(name, 0o644)
    return Path(name)


def wav_duration(path: Path) -> float:
    """Return the duration of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def synthesize(
    text: str,
    lang: str,
    out_path: Path,
    *,
    speed: int = SPEED,
    executable: str = ESPEAK,
) -> Path:
    """Speak text with espeak-ng in lang's voice into the WAV file out_path."""
    _check_lang(lang)
    exe = _resolve(executable)
    out_path = Path(out_path)
    tmp = _atomic_tmp(out_path)
    # Text goes through stdin, never the command line: nothing in it can be
    # taken for an option, and there is no shell.
    cmd = [exe, "-v", VOICES[lang], "-s", str(speed), "-b", "1", "-w", str(tmp), "--stdin"]
    try:
        try:
            proc = subprocess.run(
                cmd, input=text.encode("utf-8"), capture_output=True,
                timeout=SYNTH_TIMEOUT, check=False,
            )
        except FileNotFoundError as exc:  # removed between which() and run()
            raise SpeechUnavailable(f"{exe!r} could not be run: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise SynthesisFailed(f"espeak-ng took over {SYNTH_TIMEOUT:g} s for {lang!r}") from exc
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            raise SynthesisFailed(
                f"espeak-ng voice {VOICES[lang]!r} failed (exit {proc.returncode}): {err or 'no message'}"
            )
        try:
            with wave.open(str(tmp), "rb") as w:
                frames = w.getnframes()
        except (wave.Error, EOFError) as exc:
            raise SynthesisFailed(f"espeak-ng wrote no valid WAV for {lang!r}: {exc}") from exc
        if frames == 0:
            raise SynthesisFailed(f"espeak-ng wrote an empty WAV for {lang!r}: {err or 'no message'}")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def chime_wav() -> bytes:
    """Return a ~0.8 s two-tone "ding-dong" chime as 22050 Hz mono 16-bit WAV bytes."""
    total = int(0.8 * SAMPLE_RATE)
    # (start s, fundamental Hz): E5 then C5, a major third down like a doorbell.
    notes = ((0.0, 659.25), (0.32, 523.25))
    # Soft, mostly harmonic partials with a quick decay: a vibraphone-like bell.
    partials = ((1.0, 1.0, 0.30), (2.0, 0.35, 0.15), (3.0, 0.12, 0.08))  # (ratio, amp, decay s)
    attack = int(0.006 * SAMPLE_RATE)  # 6 ms rise avoids a click at each onset
    fade_out = int(0.08 * SAMPLE_RATE)
    signal = [0.0] * total
    for start_s, freq in notes:
        start = int(start_s * SAMPLE_RATE)
        for i in range(total - start):
            t = i / SAMPLE_RATE
            value = 0.0
            for ratio, amp, decay in partials:
                value += amp * math.exp(-t / decay) * math.sin(2 * math.pi * freq * ratio * t)
            if i < attack:
                value *= i / attack
            signal[start + i] += value
    for i in range(fade_out):  # end on true silence so the speech starts cleanly
        signal[total - 1 - i] *= i / fade_out
    peak = max(abs(v) for v in signal) or 1.0
    # Peak at half of full scale: no clipping, about as loud as espeak-ng's speech.
    scale = 0.5 * 32767 / peak
    samples = array.array("h", (round(v * scale) for v in signal))
    if samples.itemsize != SAMPLE_WIDTH:  # pragma: no cover - "h" is 2 bytes on every CPython
        raise RuntimeError("array 'h' is not 16-bit on this platform")
    if sys.byteorder == "big":  # pragma: no cover - WAV data is little-endian
        samples.byteswap()
    with tempfile.SpooledTemporaryFile() as buf:
        with wave.open(buf, "wb") as w:
            w.setnchannels(CHANNELS)
            w.setsampwidth(SAMPLE_WIDTH)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(samples.tobytes())
        buf.seek(0)
        return buf.read()


def write_chime(path: Path) -> Path:
    """Write the chime WAV to path atomically and return path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_tmp(path)
    try:
        tmp.write_bytes(chime_wav())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _concatenate(parts: Sequence[Path], out_path: Path, gap: float = GAP_SECONDS) -> Path:
    """Join same-format WAV files with gap seconds of silence between them."""
    silence = bytes(int(gap * SAMPLE_RATE) * SAMPLE_WIDTH * CHANNELS)
    tmp = _atomic_tmp(out_path)
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(CHANNELS)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(SAMPLE_RATE)
            for index, part in enumerate(parts):
                with wave.open(str(part), "rb") as w:
                    fmt = (w.getnchannels(), w.getsampwidth(), w.getframerate())
                    if fmt != (CHANNELS, SAMPLE_WIDTH, SAMPLE_RATE):
                        raise SynthesisFailed(
                            f"{part.name}: {fmt[2]} Hz, {fmt[0]} channel(s), {8 * fmt[1]}-bit; "
                            f"expected {SAMPLE_RATE} Hz mono 16-bit (an espeak-ng or MBROLA voice "
                            "with another rate cannot be joined without resampling)"
                        )
                    if index:
                        out.writeframes(silence)
                    out.writeframes(w.readframes(w.getnframes()))
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


class Announcer:
    """Makes and caches one WAV file per call: chime, then each language in order."""

    CHIME_NAME = "chime.wav"
    _STRIPES = 64  # lock stripes: bounded memory, and two different calls rarely wait on each other

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        speed: int = SPEED,
        executable: str = ESPEAK,
        max_files: int = 200,
    ) -> None:
        """Use cache_dir for audio files, keeping at most max_files call files.

        A cache_dir that cannot be written (read-only disk, wrong owner) is replaced by a
        private temporary folder, with one warning: announcements must not stop over it.
        """
        self.cache_dir = self._usable(Path(cache_dir))
        self.speed = speed
        self.executable = executable
        self.max_files = max_files
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]
        self._chime_lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()

    @staticmethod
    def _usable(cache_dir: Path) -> Path:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            # A real write, not os.access(): it also catches a read-only mount and a full disk.
            with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".probe-"):
                pass
            return cache_dir
        except OSError as exc:
            fallback = Path(tempfile.mkdtemp(prefix="novbe-voice-"))
            log.warning("voice cache %s is not writable (%s); using %s until it is fixed", cache_dir, exc, fallback)
            return fallback

    def _warn_once(self, key: str, message: str) -> None:
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("%s", message)

    def chime_path(self) -> Path:
        """Return the path of the chime WAV, writing it on first use."""
        path = self.cache_dir / self.CHIME_NAME
        if not path.exists():
            with self._chime_lock:
                if not path.exists():
                    write_chime(path)
        return path

    def cache_key(self, number: str, counter: str | int, langs: Sequence[str]) -> str:
        """Return the cache key of a call: a hash of the spoken texts, voices and settings."""
        texts = [[lang, VOICES[lang], spoken_text(number, counter, lang)] for lang in langs]
        payload = json.dumps(
            [CACHE_VERSION, SAMPLE_RATE, self.speed, GAP_SECONDS, texts], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]

    def cached(self, number: str, counter: str | int, langs: Sequence[str]) -> Path | None:
        """Return the finished WAV of a call if the cache holds it, without making anything."""
        langs = list(langs)
        if not langs:
            return self.chime_path()
        path = self.cache_dir / f"call-{self.cache_key(number, counter, langs)}.wav"
        return path if path.exists() else None

    def audio_for(self, number: str, counter: str | int, langs: Sequence[str], *,
                  at: float | None = None, prune: bool = True) -> Path:
        """Return one WAV with the chime and the call in each of langs, made once and cached.

        ``at`` is when the call was made: the file is dated so, and the cache keeps the
        newest calls (asking again for an old call cannot push a newer one out). With
        ``prune=False`` nothing else is removed from the cache.
        """
        langs = list(langs)
        for lang in langs:
            _check_lang(lang)
        chime = self.chime_path()
        if not langs:
            return chime
        key = self.cache_key(number, counter, langs)
        path = self.cache_dir / f"call-{key}.wav"
        if path.exists():
            self._date(path, at)  # a recall of the same call: keep it among the newest
            return path
        with self._locks[int(key, 16) % self._STRIPES]:
            if path.exists():  # another thread made it while we waited
                self._date(path, at)
                return path
            try:
                _resolve(self.executable)
            except SpeechUnavailable as exc:
                self._warn_once("espeak", f"announcements will be the chime only: {exc}")
                return chime
            with tempfile.TemporaryDirectory(prefix="novbe-voice-") as tmpdir:
                parts = [chime]
                spoken: list[str] = []
                for lang in langs:
                    part = Path(tmpdir) / f"{lang}.wav"
                    try:
                        synthesize(
                            spoken_text(number, counter, lang), lang, part,
                            speed=self.speed, executable=self.executable,
                        )
                    except SpeechUnavailable as exc:
                        self._warn_once("espeak", f"announcements will be the chime only: {exc}")
                        return chime
                    except SynthesisFailed as exc:
                        # One broken voice must not silence the others.
                        self._warn_once(f"voice:{lang}", f"skipping {lang!r} announcements: {exc}")
                        continue
                    parts.append(part)
                    spoken.append(lang)
                if spoken != langs:
                    if not spoken:
                        return chime
                    # Cache what worked under its own key, so the full set is
                    # retried (and cached properly) once the voice is fixed.
                    key = self.cache_key(number, counter, spoken)
                    path = self.cache_dir / f"call-{key}.wav"
                    if path.exists():
                        return path
                _concatenate(parts, path)
                if at is not None:  # dated by the center's clock, like every other call file
                    os.utime(path, (at, at))
        if prune:
            self._prune(keep=path)
        return path

    @staticmethod
    def _date(path: Path, at: float | None) -> None:
        # Only ever forward: an old call asked again keeps its old date.
        if at is None:
            return
        try:
            if path.stat().st_mtime < at:
                os.utime(path, (at, at))
        except OSError:
            pass  # pruned meanwhile, or not ours to touch: the file is still served

    def _prune(self, keep: Path) -> None:
        # Several hundred calls a day at ~300 KB each: keep only the newest calls (each file
        # is dated with its call when the caller says when that was).
        with self._prune_lock:
            files = []
            for entry in self.cache_dir.glob("call-*.wav"):
                try:
                    files.append((entry.stat().st_mtime, entry))
                except FileNotFoundError:
                    continue
            excess = len(files) - self.max_files
            if excess <= 0:
                return
            files.sort()
            for _, entry in files[:excess]:
                if entry != keep:
                    entry.unlink(missing_ok=True)

    def prepare(self, langs: Sequence[str]) -> dict[str, str]:
        """Write the chime, try each voice, and return {lang: "ok" or "missing: <reason>"}."""
        self.chime_path()
        report: dict[str, str] = {}
        for lang in langs:
            if lang not in VOICES:
                report[lang] = f"missing: unsupported language (supported: {', '.join(LANGUAGES)})"
                continue
            with tempfile.TemporaryDirectory(prefix="novbe-voice-") as tmpdir:
                try:
                    out = synthesize(
                        spoken_text("A-001", 1, lang), lang, Path(tmpdir) / "test.wav",
                        speed=self.speed, executable=self.executable,
                    )
                    with wave.open(str(out), "rb") as w:
                        fmt = (w.getnchannels(), w.getsampwidth(), w.getframerate())
                    if fmt != (CHANNELS, SAMPLE_WIDTH, SAMPLE_RATE):
                        raise SynthesisFailed(f"voice writes {fmt[2]} Hz, expected {SAMPLE_RATE} Hz")
                except SpeechError as exc:
                    report[lang] = f"missing: {exc}"
                else:
                    report[lang] = "ok"
        return report
