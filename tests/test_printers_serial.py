"""Printing to a serial printer over a real pseudo-terminal pair made by socat."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from typing import Iterator

import pytest
import serial

from printers import PrinterNotReading, PrinterOffline, PrintUncertain, render_bytes, sample_ticket, send

pytestmark = pytest.mark.skipif(
    shutil.which("socat") is None, reason="needs Debian's socat for a pseudo-terminal pair"
)

TICKET = render_bytes(sample_ticket(), profile="POS-5890", paper="58mm")
STATUS = b"\x10\x04\x01\x10\x04\x04"


class PtyPair:
    """Two linked pseudo-terminals: the spool opens end A, the test plays the printer on B."""

    def __init__(self) -> None:
        stem = f"/tmp/novbe-{uuid.uuid4().hex[:10]}"
        self.a, self.b = stem + "A", stem + "B"
        self.process = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 3
        while not (os.path.exists(self.a) and os.path.exists(self.b)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("socat did not create the pseudo-terminals")
            time.sleep(0.01)

    def unplug(self) -> None:
        """Kill socat: the realistic equivalent of pulling the cable."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(3)

    def close(self) -> None:
        self.unplug()
        for link in (self.a, self.b):
            if os.path.islink(link):
                os.unlink(link)


class SerialPrinter:
    """The printer end: records bytes and answers DLE EOT when asked to."""

    def __init__(self, path: str, *, answer: bool, paper: int = 0x12) -> None:
        self.port = serial.serial_for_url(path, baudrate=9600, timeout=0.05)
        self.answer = answer
        self.paper = paper
        self.answers_left: int | None = None
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        state = 0
        while not self._stop.is_set():
            try:
                chunk = self.port.read(4096)
            except (serial.SerialException, OSError):
                return
            self.received += chunk
            for byte in chunk:
                if state == 2:
                    state = 0
                    reply = {1: 0x16, 4: self.paper}.get(byte)
                    if reply is None or not self.answer or self.answers_left == 0:
                        continue
                    if self.answers_left is not None:
                        self.answers_left -= 1
                    self.port.write(bytes([reply]))
                elif byte == 0x10:
                    state = 1
                elif state == 1 and byte == 0x04:
                    state = 2
                else:
                    state = 0

    def wait_for(self, size: int, timeout: float = 3.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.received) < size and time.monotonic() < deadline:
            time.sleep(0.005)
        return bytes(self.received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.port.close()


@pytest.fixture
def pty() -> Iterator[PtyPair]:
    pair = PtyPair()
    yield pair
    pair.close()


@pytest.fixture
def make_printer(pty: PtyPair) -> Iterator[object]:
    made: list[SerialPrinter] = []

    def make(**kwargs: object) -> SerialPrinter:
        printer = SerialPrinter(pty.b, **kwargs)  # type: ignore[arg-type]
        made.append(printer)
        return printer

    yield make
    for printer in made:
        printer.close()


def test_ticket_arrives_with_status_checks(pty: PtyPair, make_printer) -> None:  # type: ignore[no-untyped-def]
    printer = make_printer(answer=True)
    started = time.monotonic()
    send(f"serial://{pty.a}?baudrate=115200", TICKET, profile="POS-5890", timeout=1.0)
    # A one-byte reply must not wait out the read timeout.
    assert time.monotonic() - started < 1.0
    assert printer.wait_for(len(TICKET) + 12) == STATUS + TICKET + STATUS


def test_printer_without_return_channel(pty: PtyPair, make_printer) -> None:  # type: ignore[no-untyped-def]
    printer = make_printer(answer=False)
    # By default a silent serial printer is "not reading" and gets nothing ...
    with pytest.raises(PrinterNotReading):
        send(f"serial://{pty.a}", TICKET, profile="POS-5890", timeout=0.3)
    assert printer.wait_for(3) == STATUS[:3]
    # ... unless the URL says it has no status channel.
    send(f"serial://{pty.a}?baudrate=9600&status=0", TICKET, profile="POS-5890", timeout=1.0)
    assert printer.wait_for(3 + len(TICKET)) == STATUS[:3] + TICKET


def test_paper_out_over_serial(pty: PtyPair, make_printer) -> None:  # type: ignore[no-untyped-def]
    from printers import PaperOut

    printer = make_printer(answer=True, paper=0x72)
    with pytest.raises(PaperOut):
        send(f"serial://{pty.a}", TICKET, profile="POS-5890", timeout=1.0)
    assert printer.wait_for(6) == STATUS


def test_unplugged_serial_printer_is_offline(pty: PtyPair) -> None:
    pty.unplug()
    with pytest.raises(PrinterOffline):
        send(f"serial://{pty.a}?status=0", TICKET, profile="POS-5890", timeout=0.5)


def test_pyserial_url_works_too() -> None:
    # loop:// echoes: the echoed query bytes are not a valid status reply.
    with pytest.raises(PrinterNotReading):
        send("serial://loop://", TICKET, timeout=0.3)
    # loop:// holds only a few kB that nobody reads: send a short job.
    send("serial://loop://?status=0", b"\x1b@test\n", timeout=0.3)


def test_unplug_after_writing_is_uncertain(pty: PtyPair, make_printer) -> None:  # type: ignore[no-untyped-def]
    printer = make_printer(answer=True)
    printer.answers_left = 2  # answers the checks before the ticket only

    def pull_cable() -> None:
        printer.wait_for(6 + len(TICKET))
        pty.unplug()

    puller = threading.Thread(target=pull_cable)
    puller.start()
    try:
        with pytest.raises(PrintUncertain):
            send(f"serial://{pty.a}", TICKET, profile="POS-5890", timeout=0.5)
    finally:
        puller.join(3)
