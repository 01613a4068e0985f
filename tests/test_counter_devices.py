"""Counter device drivers over a real pseudo-terminal pair made by socat."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from counter.devices import (
    PROTOCOLS,
    CallButtons,
    DeviceManager,
    LedDisplay,
    plain_protocol,
    register_protocol,
    stx_etx_protocol,
    to_ascii,
)

SOCAT = shutil.which("socat")


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll predicate until it is true or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def read_exactly(port: serial.Serial, size: int, timeout: float = 3.0) -> bytes:
    """Read size bytes from port, or whatever arrived before timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size and time.monotonic() < deadline:
        data += port.read(size - len(data))
    return data


class PtyPair:
    """A socat-made pseudo-terminal pair: the driver opens `a`, the test talks through `far`."""

    def __init__(self, directory: Path) -> None:
        self.a = str(directory / "ttyA")
        self.b = str(directory / "ttyB")
        self._a_pending = str(directory / "ttyA.pending")
        self.process: subprocess.Popen[bytes] | None = None
        self.far: serial.Serial | None = None

    def start(self) -> serial.Serial:
        """Plug in: start socat and open the far end before the driver can see `a`."""
        assert SOCAT is not None
        # socat links `a` under a temporary name; it is renamed into place
        # only after the far end is open, because pyserial flushes input on
        # open and a driver writing earlier would lose its bytes.
        self.process = subprocess.Popen(
            [SOCAT, "-d", "-d", f"pty,raw,echo=0,link={self._a_pending}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for(lambda: os.path.exists(self._a_pending) and os.path.exists(self.b)):
            self.stop()
            pytest.fail("socat did not create its pseudo-terminal links")
        self.far = serial.serial_for_url(self.b, baudrate=9600, timeout=0.2)
        os.rename(self._a_pending, self.a)
        return self.far

    def stop(self) -> None:
        """Unplug: close the far end and end socat, so the driver's next I/O fails."""
        if self.far is not None:
            self.far.close()
            self.far = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        # socat does not know the renamed link; a stale one could point at a
        # /dev/pts number that is reused by someone else's terminal.
        for path in (self.a, self.b, self._a_pending):
            if os.path.lexists(path):
                os.unlink(path)


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[PtyPair]:
    if SOCAT is None:
        pytest.skip("socat is not installed (Debian package `socat`): these tests need a real pseudo-terminal pair")
    pair = PtyPair(tmp_path)
    pair.start()
    try:
        yield pair
    finally:
        pair.stop()


def far(pair: PtyPair) -> serial.Serial:
    assert pair.far is not None
    return pair.far


# -- protocols ---------------------------------------------------------------


def test_to_ascii_transliterates_azerbaijani_and_cyrillic() -> None:
    assert to_ascii("Ə-015") == "E-015"
    assert to_ascii("ƏəŞşÇçĞğÖöÜüİı") == "EeSsCcGgOoUuIi"
    assert to_ascii("Ж-3") == "Zh-3"
    assert to_ascii("中") == "?"


def test_plain_protocol_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="line_format"):
        plain_protocol("{ticket}\r\n")


def test_stx_etx_frame() -> None:
    body = b"A-015 7\x03"
    checksum = 0
    for byte in body:
        checksum ^= byte
    assert stx_etx_protocol("A-015", "7") == b"\x02" + body + b"%02X" % checksum
    # A control character in the number must not end the frame early.
    assert stx_etx_protocol("A\x03-1", "7").count(b"\x03") == 1


def test_unknown_protocol_names_the_nearest(pty_pair: PtyPair) -> None:
    with pytest.raises(ValueError, match="Did you mean 'stx-etx'"):
        LedDisplay(pty_pair.a, protocol="stx_etx")


def test_bad_url_scheme_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        LedDisplay("nosuch://x")


# -- LedDisplay --------------------------------------------------------------


def test_show_writes_plain_line(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.a) as led:
        assert led.show("A-015", 7) is True
        assert read_exactly(far(pty_pair), 9) == b"A-015 7\r\n"
        assert led.show("Ə-015", 7) is True
        assert read_exactly(far(pty_pair), 9) == b"E-015 7\r\n"
        assert led.clear() is True
        assert read_exactly(far(pty_pair), 3) == b" \r\n"


def test_custom_line_format(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.a, line_format="#{counter}:{number}\n") as led:
        assert led.show("Ç-101", "12")
        assert read_exactly(far(pty_pair), 10) == b"#12:C-101\n"


def test_stx_etx_protocol_on_the_wire(pty_pair: PtyPair) -> None:
    expected = stx_etx_protocol("B-002", "3")
    with LedDisplay(pty_pair.a, protocol="stx-etx") as led:
        assert led.show("B-002", 3)
        assert read_exactly(far(pty_pair), len(expected)) == expected


def test_registered_protocol(pty_pair: PtyPair) -> None:
    register_protocol("test-upper", lambda number, counter: f"<{counter}|{number}>".upper().encode())
    try:
        with LedDisplay(pty_pair.a, protocol="test-upper") as led:
            assert led.show("a-1", 2)
            assert read_exactly(far(pty_pair), 7) == b"<2|A-1>"
    finally:
        del PROTOCOLS["test-upper"]


def test_show_never_raises_and_reopens_after_unplug(pty_pair: PtyPair, caplog: pytest.LogCaptureFixture) -> None:
    # A long interval keeps the background reconnect out of this test: show() itself reopens.
    with LedDisplay(pty_pair.a, reconnect_interval=30) as led:
        assert led.show("A-015", 7)
        assert read_exactly(far(pty_pair), 9) == b"A-015 7\r\n"

        pty_pair.stop()
        with caplog.at_level(logging.WARNING, logger="counter.devices"):
            assert led.show("A-016", 7) is False
        assert not led.connected
        assert "write failed" in caplog.text
        assert led.show("A-016", 7) is False  # still unplugged: open fails, no exception

        pty_pair.start()
        assert led.show("A-017", 7) is True
        assert led.connected
        assert read_exactly(far(pty_pair), 9) == b"A-017 7\r\n"


def test_background_reconnect_resends_last_number(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.a, reconnect_interval=0.1) as led:
        assert led.show("A-015", 7)
        assert read_exactly(far(pty_pair), 9) == b"A-015 7\r\n"
        pty_pair.stop()
        assert led.show("A-016", 7) is False
        pty_pair.start()
        # No show() call: the reconnect thread reopens and re-sends A-016.
        assert read_exactly(far(pty_pair), 9) == b"A-016 7\r\n"
        assert led.connected


def test_display_missing_at_start_comes_up_later(pty_pair: PtyPair) -> None:
    pty_pair.stop()
    with LedDisplay(pty_pair.a, reconnect_interval=0.1) as led:
        assert not led.connected
        assert led.show("C-001", 4) is False
        pty_pair.start()
        assert read_exactly(far(pty_pair), 9) == b"C-001 4\r\n"


def test_closed_display_returns_false(pty_pair: PtyPair) -> None:
    led = LedDisplay(pty_pair.a)
    led.close()
    assert led.show("A-001", 1) is False


# -- DeviceManager -----------------------------------------------------------


def test_device_manager_routes_by_counter(pty_pair: PtyPair) -> None:
    with DeviceManager({7: (pty_pair.a, {"line_format": "{counter}={number}\r\n"})}) as devices:
        assert 7 in devices and "7" in devices
        assert devices.show(7, "A-015") is True
        assert read_exactly(far(pty_pair), 9) == b"7=A-015\r\n"
        assert devices.show("8", "A-016") is False  # counter without a display
        assert devices.get(8) is None


def test_device_manager_shares_one_board_between_counters(pty_pair: PtyPair) -> None:
    with DeviceManager({1: pty_pair.a, 2: pty_pair.a}) as devices:
        assert devices.get(1) is devices.get(2)
        assert devices.show(2, "B-003")
        assert read_exactly(far(pty_pair), 9) == b"B-003 2\r\n"


# -- CallButtons -------------------------------------------------------------


def test_call_buttons_map_keys_and_survive_unplug(pty_pair: PtyPair) -> None:
    actions: list[str] = []
    buttons = CallButtons(pty_pair.a, actions.append)
    buttons.start()
    try:
        assert buttons.wait_connected(3)
        far(pty_pair).write(b"N")
        far(pty_pair).write(b"R\r\n")
        far(pty_pair).write(b"Z")
        assert wait_for(lambda: len(actions) >= 2)
        time.sleep(0.3)  # give the unknown Z time to be (not) dispatched
        assert actions == ["next", "recall"]

        pty_pair.stop()
        assert wait_for(lambda: not buttons.connected)
        pty_pair.start()
        assert buttons.wait_connected(3)
        far(pty_pair).write(b"F")
        assert wait_for(lambda: len(actions) >= 3)
        assert actions == ["next", "recall", "finish"]
    finally:
        buttons.stop()
    assert not buttons.running
    assert not buttons.connected


def test_call_buttons_survive_failing_handler(pty_pair: PtyPair, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def on_action(verb: str) -> None:
        seen.append(verb)
        if verb == "next":
            raise RuntimeError("no tickets waiting")

    with caplog.at_level(logging.ERROR, logger="counter.devices"), CallButtons(
        pty_pair.a, on_action, keymap={"1": "next", "2": "pause"}
    ) as buttons:
        assert buttons.wait_connected(3)
        far(pty_pair).write(b"1 2")
        assert wait_for(lambda: len(seen) >= 2)
    assert seen == ["next", "pause"]
    assert "on_action('next') failed" in caplog.text


def test_call_buttons_stop_promptly(pty_pair: PtyPair) -> None:
    buttons = CallButtons(pty_pair.a, lambda verb: None)
    buttons.start()
    assert buttons.wait_connected(3)
    started = time.monotonic()
    buttons.stop()
    assert time.monotonic() - started < 1.0
    assert not buttons.running


def test_call_buttons_reject_multi_character_keys() -> None:
    with pytest.raises(ValueError, match="keymap key"):
        CallButtons("loop://", lambda verb: None, keymap={"NX": "next"})
