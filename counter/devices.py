"""Serial device drivers for service counters: LED number displays and call buttons.

Every device is addressed by a pyserial URL (``/dev/ttyUSB0``, ``/tmp/ttyA``,
``loop://``, ``rfc2217://host:port``) so tests can drive a real
pseudo-terminal pair. Devices get unplugged in real centers: the drivers
never raise to the caller after construction, they log, report ``False`` and
reopen the port by themselves.

    LedDisplay      one LED board; show(number, counter) -> bool
    CallButtons     keypad reader thread; calls on_action(verb)
    RatingKeypad    CallButtons whose keys 1-5 are a citizen's score; calls on_rating(score)
    DeviceManager   LedDisplay per counter number

Protocols turn ``(number, counter)`` into the bytes a board understands; see
``PROTOCOLS``, ``register_protocol`` and docs/serial-devices.md.
"""

from __future__ import annotations

import difflib
import logging
import threading
import unicodedata
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar

import serial

__all__ = [
    "DEFAULT_KEYMAP",
    "DEFAULT_LINE_FORMAT",
    "PROTOCOLS",
    "RATING_KEYMAP",
    "CallButtons",
    "DeviceManager",
    "DisplaySpec",
    "LedDisplay",
    "Protocol",
    "RatingKeypad",
    "plain_protocol",
    "register_protocol",
    "stx_etx_protocol",
    "to_ascii",
]

log = logging.getLogger(__name__)

#: Turns (ticket number, counter) into the bytes one display update needs.
Protocol = Callable[[str, str], bytes]

DEFAULT_LINE_FORMAT = "{number} {counter}\r\n"

#: Key sent by the keypad -> verb name; the server maps verbs to domain calls.
DEFAULT_KEYMAP: Mapping[str, str] = {
    "N": "next",
    "R": "recall",
    "S": "start",
    "F": "finish",
    "X": "no_show",
    "P": "pause",
}

#: Key sent by a rating keypad -> the score it stands for (a five-key pad sends "1".."5").
RATING_KEYMAP: Mapping[str, str] = {str(score): str(score) for score in range(1, 6)}

# Errors that mean "the port is gone or unusable right now". SerialException
# is itself an OSError subclass in pyserial 3.5; both are named for clarity.
_PORT_ERRORS = (serial.SerialException, OSError)

# Letters that Unicode decomposition cannot reduce to ASCII (ə, ı have no
# decomposition) plus Cyrillic, because a service letter typed on a Russian
# layout ("А" instead of "A") must still reach an ASCII-only board.
_TRANSLIT = str.maketrans(
    {
        "Ə": "E", "ə": "e", "Ş": "S", "ş": "s", "Ç": "C", "ç": "c",
        "Ğ": "G", "ğ": "g", "Ö": "O", "ö": "o", "Ü": "U", "ü": "u",
        "İ": "I", "ı": "i",
        "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E",
        "Ё": "Yo", "Ж": "Zh", "З": "Z", "И": "I", "Й": "Y", "К": "K",
        "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R",
        "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "Kh", "Ц": "Ts",
        "Ч": "Ch", "Ш": "Sh", "Щ": "Shch", "Ъ": "", "Ы": "Y", "Ь": "",
        "Э": "E", "Ю": "Yu", "Я": "Ya",
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e",
        "ё": "yo", "ж": "zh", "з": "z", "и": "i", "й": "y", "к": "k",
        "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
        "э": "e", "ю": "yu", "я": "ya",
    }
)


def to_ascii(text: str) -> str:
    """Transliterate text to ASCII for LED boards ("Ə-015" -> "E-015"); unknown letters become "?"."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    stripped = "".join(ch for ch in text if not unicodedata.combining(ch))
    return stripped.encode("ascii", "replace").decode("ascii")


def _field(value: str) -> str:
    # Control characters inside a ticket number would break the framing
    # (a "\n" starts a new line, a 0x03 ends an STX/ETX frame early).
    return "".join(ch for ch in to_ascii(value) if 0x20 <= ord(ch) < 0x7F)


def plain_protocol(line_format: str = DEFAULT_LINE_FORMAT) -> Protocol:
    """Return a protocol that writes one ASCII line built from line_format's {number} and {counter}."""
    try:
        line_format.format(number="", counter="")
    except (KeyError, IndexError, ValueError) as exc:
        # Fail at start-up, not at the first call of the day.
        raise ValueError(
            f"invalid line_format {line_format!r}: only {{number}} and {{counter}} may be used ({exc!r})"
        ) from None

    def encode(number: str, counter: str) -> bytes:
        line = line_format.format(number=_field(number), counter=_field(counter))
        return to_ascii(line).encode("ascii")

    return encode


STX = 0x02
ETX = 0x03


def stx_etx_protocol(number: str, counter: str) -> bytes:
    """Frame "number counter" as STX payload ETX + XOR checksum of payload and ETX in two hex digits."""
    body = f"{_field(number)} {_field(counter)}".encode("ascii") + bytes([ETX])
    checksum = 0
    for byte in body:
        checksum ^= byte
    # The checksum goes out as ASCII hex so it can never be mistaken for STX/ETX.
    return bytes([STX]) + body + f"{checksum:02X}".encode("ascii")


#: Protocols a display can name in configuration; extend with register_protocol().
PROTOCOLS: dict[str, Protocol] = {
    "plain": plain_protocol(),
    "stx-etx": stx_etx_protocol,
}


def register_protocol(name: str, fn: Protocol) -> None:
    """Make a vendor protocol available by name to LedDisplay(protocol=name); replaces an existing one."""
    if not callable(fn):
        raise TypeError(f"protocol {name!r} must be callable(number, counter) -> bytes")
    PROTOCOLS[name] = fn


def _resolve_protocol(protocol: str | Protocol, line_format: str | None) -> Protocol:
    if line_format is not None:
        if protocol != "plain":
            raise ValueError("line_format applies to the plain protocol only; pass a protocol function instead")
        return plain_protocol(line_format)
    if callable(protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        close = difflib.get_close_matches(protocol, PROTOCOLS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown display protocol {protocol!r}; known: {sorted(PROTOCOLS)}.{hint}") from None


def _check_url(url: str, **settings: Any) -> None:
    # Builds the port object without opening it: an unknown URL scheme or a
    # bad baud rate is a configuration error and should stop start-up, while
    # a missing device is not (it may be plugged in later).
    serial.serial_for_url(url, do_not_open=True, **settings)


class LedDisplay:
    """An LED counter display on a serial port that survives being unplugged."""

    def __init__(
        self,
        url: str,
        *,
        protocol: str | Protocol = "plain",
        line_format: str | None = None,
        baudrate: int = 9600,
        timeout: float = 1.0,
        write_timeout: float = 1.0,
        reconnect_interval: float = 1.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.write_timeout = write_timeout
        self.reconnect_interval = reconnect_interval
        self._protocol = _resolve_protocol(protocol, line_format)
        _check_url(url, baudrate=baudrate, timeout=timeout, write_timeout=write_timeout)

        # One lock guards the port and the remembered number: show() may be
        # called from request threads while the reconnect thread reopens.
        self._lock = threading.Lock()
        self._port: serial.Serial | None = None
        self._last: tuple[str, str] | None = None
        self._closed = False
        self._reconnecting = False
        self._stop = threading.Event()
        self._reconnector: threading.Thread | None = None
        with self._lock:
            if not self._open_locked(initial=True):
                self._schedule_reconnect_locked()

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    @property
    def last(self) -> tuple[str, str] | None:
        """The (number, counter) the display should be showing, re-sent after a reconnect."""
        return self._last

    def show(self, number: str, counter: str | int) -> bool:
        """Show a ticket number for a counter; return False (and log) instead of raising on any failure."""
        try:
            data = self._protocol(str(number), str(counter))
        except Exception:
            log.exception("display %s: protocol could not encode %r for counter %r", self.url, number, counter)
            return False
        with self._lock:
            if self._closed:
                log.warning("display %s is closed; %s not shown", self.url, number)
                return False
            self._last = (str(number), str(counter))
            # A new call is worth an immediate reopen attempt rather than
            # waiting for the background retry.
            if self._port is None and not self._open_locked():
                return False
            return self._write_locked(data)

    def clear(self) -> bool:
        """Blank the display (sends an empty number and counter through the protocol)."""
        return self.show("", "")

    def close(self) -> None:
        """Close the port and stop reconnecting; later show() calls return False."""
        with self._lock:
            self._closed = True
            self._stop.set()
            self._close_port_locked()
            reconnector = self._reconnector
        if reconnector is not None and reconnector is not threading.current_thread():
            reconnector.join(timeout=self.reconnect_interval + self.write_timeout + 1.0)

    def __enter__(self) -> LedDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "disconnected"
        return f"<LedDisplay {self.url!r} {state}>"

    # -- internals, called with self._lock held --------------------------------

    def _open_locked(self, initial: bool = False) -> bool:
        try:
            self._port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=self.timeout,
                write_timeout=self.write_timeout,
            )
        except _PORT_ERRORS as exc:
            if initial:
                log.warning("display %s not available yet: %s; will keep trying", self.url, exc)
            else:
                # Every retry fails the same way while unplugged; the
                # warning was given when the port went away.
                log.debug("display %s still unavailable: %s", self.url, exc)
            return False
        if not initial:
            log.info("display %s reopened", self.url)
        return True

    def _write_locked(self, data: bytes) -> bool:
        assert self._port is not None
        try:
            self._port.write(data)
        except _PORT_ERRORS as exc:
            # Includes SerialTimeoutException (a board that stopped reading):
            # reopening resets the line, and the full update is re-sent.
            log.warning("display %s write failed: %s; will reopen", self.url, exc)
            self._close_port_locked()
            self._schedule_reconnect_locked()
            return False
        return True

    def _close_port_locked(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except _PORT_ERRORS as exc:
                # Closing an unplugged device can fail; the fd is gone anyway.
                log.debug("display %s close failed: %s", self.url, exc)

    def _schedule_reconnect_locked(self) -> None:
        if self._closed or self._reconnecting:
            return
        self._reconnecting = True
        self._reconnector = threading.Thread(
            target=self._reconnect_loop, name=f"led-reconnect {self.url}", daemon=True
        )
        self._reconnector.start()

    def _reconnect_loop(self) -> None:
        # Reopens in the background so a replugged board shows the current
        # number again without waiting for the next call at that counter.
        # _reconnecting is cleared under the same lock hold that decides to
        # stop, so a write failing meanwhile always gets a new thread.
        while True:
            stopping = self._stop.wait(self.reconnect_interval)
            with self._lock:
                if stopping or self._closed or self._port is not None:
                    # Closed, or show() already reopened and wrote.
                    self._reconnecting = False
                    return
                if not self._open_locked():
                    continue
                if self._last is not None:
                    try:
                        data = self._protocol(*self._last)
                    except Exception:
                        log.exception("display %s: protocol could not encode %r", self.url, self._last)
                    else:
                        if not self._write_locked(data):
                            continue
                self._reconnecting = False
                return


#: A display's configuration: a URL, or (URL, LedDisplay keyword arguments).
DisplaySpec = str | tuple[str, Mapping[str, Any]]


class DeviceManager:
    """The LED displays of a center, looked up by counter number."""

    def __init__(self, displays: Mapping[str | int, DisplaySpec]) -> None:
        self._displays: dict[str, LedDisplay] = {}
        by_url: dict[str, tuple[LedDisplay, Mapping[str, Any]]] = {}
        try:
            for counter, spec in displays.items():
                url, options = (spec, {}) if isinstance(spec, str) else spec
                if url in by_url:
                    # One hall board may serve several counters; a port can
                    # only be opened once, so those counters share the driver.
                    display, first_options = by_url[url]
                    if dict(first_options) != dict(options):
                        raise ValueError(f"display {url!r} is configured twice with different options")
                else:
                    display = LedDisplay(url, **options)
                    by_url[url] = (display, options)
                self._displays[str(counter)] = display
        except BaseException:
            for display, _ in by_url.values():
                display.close()
            raise

    def __contains__(self, counter: object) -> bool:
        return str(counter) in self._displays

    def get(self, counter: str | int) -> LedDisplay | None:
        """The display of a counter, or None if it has none."""
        return self._displays.get(str(counter))

    def show(self, counter: str | int, number: str) -> bool:
        """Show number on the counter's display; False if it has none or the display failed."""
        display = self._displays.get(str(counter))
        if display is None:
            return False
        return display.show(number, counter)

    def clear(self, counter: str | int) -> bool:
        """Blank the counter's display; False if it has none or the display failed."""
        display = self._displays.get(str(counter))
        return display.clear() if display is not None else False

    def close_all(self) -> None:
        """Close every display."""
        for display in {id(d): d for d in self._displays.values()}.values():
            display.close()

    def __enter__(self) -> DeviceManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()


class CallButtons:
    """Hardware call buttons: a keypad on a serial line sending one character per press."""

    #: how log lines and the reader thread name this kind of keypad
    kind: ClassVar[str] = "call buttons"

    def __init__(
        self,
        url: str,
        on_action: Callable[[str], None],
        keymap: Mapping[str, str] = DEFAULT_KEYMAP,
        baudrate: int = 9600,
        *,
        timeout: float = 0.2,
        max_backoff: float = 2.0,
    ) -> None:
        for key in keymap:
            if len(key) != 1 or key.isspace() or ord(key) > 0xFF:
                raise ValueError(f"keymap key {key!r} must be one non-space character sent as one byte")
        _check_url(url, baudrate=baudrate, timeout=timeout)
        self.url = url
        self.baudrate = baudrate
        # The read timeout bounds how long stop() waits for the reader thread.
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._on_action = on_action
        self._keymap = dict(keymap)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True while the reader thread has the port open."""
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until the port is open (key presses sent before that are lost); False on timeout."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Start the daemon reader thread; does nothing if it is already running."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.kind} {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the reader thread and close the port (within about one read timeout)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout + 2.0)
            if thread.is_alive():
                log.warning("%s %s: reader did not stop (on_action still running?)", self.kind, self.url)

    def __enter__(self) -> CallButtons:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        port: serial.Serial | None = None
        backoff = 0.1
        try:
            while not self._stop.is_set():
                if port is None:
                    try:
                        port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout)
                    except _PORT_ERRORS as exc:
                        log.debug("%s %s unavailable: %s", self.kind, self.url, exc)
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, self.max_backoff)
                        continue
                    log.info("%s %s open", self.kind, self.url)
                    self._connected.set()
                try:
                    data = port.read(port.in_waiting or 1)
                except _PORT_ERRORS as exc:
                    log.warning("%s %s lost: %s; will reopen", self.kind, self.url, exc)
                    self._connected.clear()
                    _close_quietly(port)
                    port = None
                    # Back off here too: a port that opens but fails every
                    # read would otherwise spin.
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                backoff = 0.1
                self._dispatch(data)
        finally:
            self._connected.clear()
            if port is not None:
                _close_quietly(port)

    def _dispatch(self, data: bytes) -> None:
        # latin-1 maps every byte to one character, so no byte is ever
        # an undecodable error.
        for key in data.decode("latin-1"):
            if key.isspace():
                continue
            verb = self._keymap.get(key)
            if verb is None:
                log.debug("%s %s: ignoring unknown key %r", self.kind, self.url, key)
                continue
            try:
                self._on_action(verb)
            except Exception:
                # A failing handler (e.g. "no tickets waiting") must not stop
                # the buttons from working for the rest of the day.
                log.exception("%s %s: on_action(%r) failed", self.kind, self.url, verb)


class RatingKeypad(CallButtons):
    """A citizen's rating keypad on a serial line: keys 1-5 send the score of the visit just finished."""

    kind: ClassVar[str] = "rating keypad"

    def __init__(
        self,
        url: str,
        on_rating: Callable[[int], None],
        baudrate: int = 9600,
        *,
        timeout: float = 0.2,
        max_backoff: float = 2.0,
    ) -> None:
        # Same reader, reconnects and "a failing handler never stops the pad"
        # as the call buttons; only the key map and the callback differ.
        super().__init__(
            url,
            lambda key: on_rating(int(key)),
            RATING_KEYMAP,
            baudrate,
            timeout=timeout,
            max_backoff=max_backoff,
        )


def _close_quietly(port: serial.Serial) -> None:
    try:
        port.close()
    except _PORT_ERRORS as exc:
        log.debug("closing %s failed: %s", port.port, exc)
