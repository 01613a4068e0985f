"""Printing over real TCP sockets to a listener that behaves like an ESC/POS printer."""

from __future__ import annotations

import functools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from printers import (
    CoverOpen,
    PaperOut,
    PrinterFault,
    PrinterNotReading,
    PrinterOffline,
    PrinterURLError,
    PrintJob,
    PrintUncertain,
    Spool,
    TicketView,
    open_printer,
    print_test,
    render_bytes,
    sample_ticket,
    send,
)
from printers.dump import render_text
from printers.testpage import render_test_page

QUERY_ONLINE = b"\x10\x04\x01"
QUERY_CAUSE = b"\x10\x04\x02"
QUERY_ERROR = b"\x10\x04\x03"
QUERY_PAPER = b"\x10\x04\x04"
ONLINE = 0x16  # fixed bits 0x12, bit 3 clear: online
OFFLINE = 0x1E  # bit 3 set: offline
NO_CAUSE = 0x12  # DLE EOT 2 / 3 with nothing set
COVER_OPEN = 0x16  # DLE EOT 2 bit 2
PAPER_STOP = 0x32  # DLE EOT 2 bit 5: printing stopped at paper end
ERROR = 0x52  # DLE EOT 2 bit 6: an error occurred
CUTTER_ERROR = 0x1A  # DLE EOT 3 bit 3: autocutter error
PAPER_OK = 0x12
PAPER_NEAR_END = 0x1E  # bits 2-3: near-end sensor
PAPER_OUT = 0x7E  # bits 5-6: roll end sensor (and near-end)
QUICK = 0.4  # seconds; a status reply on localhost takes microseconds


class FakePrinter:
    """A TCP listener that reads like a printer and answers DLE EOT 1 to 4."""

    def __init__(
        self,
        port: int = 0,
        *,
        online: int = ONLINE,
        paper: int = PAPER_OK,
        cause: int | None = NO_CAUSE,
        error: int = NO_CAUSE,
        reading: bool = True,
        answers: int | None = None,
    ) -> None:
        self.online = online
        self.paper = paper
        self.cause = cause  # None: a model that does not answer DLE EOT 2
        self.error = error
        self.reading = reading
        self.answers_left = answers  # None: answer every query
        self.received = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(5)
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._spawn(self._accept)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            self._sockets.append(conn)
            if self.reading:
                self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        state, pending = 0, b""
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.received += chunk
            # Like a real printer, answer real-time DLE EOT n wherever it appears.
            for byte in chunk:
                if state == 0:
                    state = 1 if byte == 0x10 else 0
                elif state == 1:
                    state = 2 if byte == 0x04 else (1 if byte == 0x10 else 0)
                else:
                    state = 0
                    reply = {1: self.online, 2: self.cause, 3: self.error, 4: self.paper}.get(byte)
                    if reply is None:
                        continue
                    if self.answers_left is not None:
                        if self.answers_left <= 0:
                            continue
                        self.answers_left -= 1
                    pending += bytes([reply])
            if pending:
                try:
                    conn.sendall(pending)
                except OSError:
                    return
                pending = b""

    def unread(self) -> bytes:
        """Read, now, what a never-reading printer left in its socket buffers."""
        data = b""
        for conn in self._sockets:
            conn.setblocking(False)
            try:
                while chunk := conn.recv(65536):
                    data += chunk
            except OSError:
                pass
        return data

    def wait_for(self, size: int, timeout: float = 3.0) -> bytes:
        """Wait until at least size bytes arrived; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < size:
            time.sleep(0.005)
        return bytes(self.received)

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for thread in self._threads:
            thread.join(2)
        for conn in self._sockets:
            conn.close()


@pytest.fixture
def make_printer() -> Iterator[functools.partial[FakePrinter]]:
    made: list[FakePrinter] = []

    def make(**kwargs: object) -> FakePrinter:
        printer = FakePrinter(**kwargs)  # type: ignore[arg-type]
        made.append(printer)
        return printer

    yield make  # type: ignore[misc]
    for printer in made:
        printer.close()


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Row:
    """One print job as the store would keep it."""

    printer: str
    data: bytes
    attempts: int = 0
    state: str = "pending"
    due: float = 0.0
    error: str = ""
    created_at: float = 0.0


@dataclass
class MemoryJobs:
    """An in-memory JobQueue, the same contract as the store's."""

    jobs: dict[int, Row] = field(default_factory=dict)
    statuses: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, printer: str, data: bytes, created_at: float = 0.0) -> int:
        with self.lock:
            job_id = len(self.jobs) + 1
            self.jobs[job_id] = Row(printer, data, created_at=created_at)
            return job_id

    def requeue(self, job_id: int, queued_at: float) -> None:
        """A supervisor's reprint: pending again, aged from now."""
        with self.lock:
            row = self.jobs[job_id]
            row.state, row.due, row.created_at = "pending", 0.0, queued_at

    def claim_print_jobs(self, limit: int = 10) -> list[PrintJob]:
        now = time.monotonic()
        with self.lock:
            due = [
                (job_id, row)
                for job_id, row in sorted(self.jobs.items())
                if row.state == "pending" and row.due <= now
            ][:limit]
            for _, row in due:
                row.state = "printing"
            return [PrintJob(job_id, row.printer, row.data, row.attempts, row.created_at) for job_id, row in due]

    def start_print_job(self, job_id: int) -> bool:
        return True     # claimed jobs are already "printing" here

    def finish_print_job(self, job_id: int) -> None:
        with self.lock:
            self.jobs[job_id].state = "printed"

    def retry_print_job(self, job_id: int, error: str, delay_s: float) -> None:
        with self.lock:
            row = self.jobs[job_id]
            row.state, row.error, row.due = "pending", error, time.monotonic() + delay_s
            row.attempts += 1

    def fail_print_job(self, job_id: int, error: str) -> None:
        with self.lock:
            self.jobs[job_id].state, self.jobs[job_id].error = "failed", error

    def hold_print_job(self, job_id: int, error: str) -> None:
        with self.lock:
            self.jobs[job_id].state, self.jobs[job_id].error = "held", error

    def set_printer_status(self, printer: str, state: str, detail: str) -> None:
        with self.lock:
            self.statuses.append((printer, state, detail))

    def state(self, job_id: int) -> str:
        return self.jobs[job_id].state


TICKET = render_bytes(sample_ticket(), profile="TM-T88V", paper="80mm")
# An all-ASCII ticket has no raster lines: about 1 kB, so the wait for the
# confirmation after writing (which grows with the size) stays short.
SMALL = render_bytes(
    TicketView("DOST 1", "Pensions", "A-001", "24.11.2026 09:15", 2, 5, None,
               "https://novbe.example.az/t/A1", "Thank you", "en"),
)
quick_send = functools.partial(send, timeout=QUICK)


def test_received_bytes_are_the_ticket(make_printer: functools.partial[FakePrinter]) -> None:
    printer = make_printer()
    send(printer.url, TICKET, timeout=QUICK)
    expected = QUERY_ONLINE + QUERY_PAPER + TICKET + QUERY_ONLINE + QUERY_PAPER
    assert printer.wait_for(len(expected)) == expected
    assert "Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç" in render_text(TICKET)


def test_port_9100_is_the_default(make_printer: functools.partial[FakePrinter]) -> None:
    try:
        printer = make_printer(port=9100)
    except OSError:
        pytest.skip("port 9100 is busy on this machine")
    print_test("tcp://127.0.0.1", timeout=QUICK)
    page = render_test_page().data
    data = printer.wait_for(len(page) + 12)
    assert data[6:-6] == page and page.endswith(TICKET)


def test_nothing_listening_is_offline() -> None:
    with pytest.raises(PrinterOffline):
        send(f"tcp://127.0.0.1:{free_port()}", TICKET, timeout=QUICK)


def test_spool_waits_for_the_printer_and_prints_exactly_once(
    make_printer: functools.partial[FakePrinter],
) -> None:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    jobs = MemoryJobs()
    job_id = jobs.add(url, TICKET)
    spool = Spool(jobs, send=quick_send, backoff=(0.05,), idle_wait=0.05)

    assert spool.run_once() == 0
    assert jobs.state(job_id) == "pending"
    assert jobs.statuses[-1][:2] == (url, "offline")

    spool.start()
    try:
        time.sleep(0.2)  # a few more refused rounds
        printer = make_printer(port=port)
        spool.wake()
        deadline = time.monotonic() + 3
        while jobs.state(job_id) != "printed" and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # give a duplicate the chance to show up
    finally:
        spool.stop()
    assert jobs.state(job_id) == "printed"
    assert bytes(printer.received).count(TICKET) == 1
    assert jobs.statuses[-1][:2] == (url, "ok")
    assert jobs.jobs[job_id].attempts >= 2


def test_wake_sends_a_new_job_at_once(make_printer: functools.partial[FakePrinter]) -> None:
    printer = make_printer()
    jobs = MemoryJobs()
    spool = Spool(jobs, send=quick_send, idle_wait=5.0)
    spool.start()
    try:
        time.sleep(0.05)  # the spool is now asleep for up to 5 s
        job_id = jobs.add(printer.url, TICKET)
        started = time.monotonic()
        spool.wake()
        while jobs.state(job_id) != "printed" and time.monotonic() - started < 3:
            time.sleep(0.002)
        elapsed = time.monotonic() - started
    finally:
        spool.stop()
    assert jobs.state(job_id) == "printed"
    assert elapsed < 1.0


def test_printer_that_never_reads_gets_no_ticket(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(reading=False)
    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, TICKET)
    spool = Spool(jobs, send=quick_send, backoff=(10,))

    started = time.monotonic()
    assert spool.run_once() == 0
    assert time.monotonic() - started < 2
    assert jobs.state(job_id) == "pending"  # retried later, not lost
    assert jobs.statuses[-1][:2] == (printer.url, "not_reading")
    # Only the status query ever reached it: no ticket byte sits in a buffer.
    assert printer.unread() == QUERY_ONLINE

    with pytest.raises(PrinterNotReading, match=r"add \?status=0 to its address"):   # what the installer can do
        send(printer.url, TICKET, timeout=QUICK)
    assert "?status=0" in jobs.statuses[-1][2]       # staff's printer line says it too
    # With ?status=0 the same printer takes the ticket: nothing is asked, nothing waits for an answer.
    assert send(printer.url + "?status=0", TICKET, timeout=QUICK) is None


def test_paper_out_is_retried_without_printing(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(paper=PAPER_OUT)
    with pytest.raises(PaperOut):
        send(printer.url, TICKET, timeout=QUICK)
    assert printer.wait_for(6) == QUERY_ONLINE + QUERY_PAPER

    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, TICKET)
    spool = Spool(jobs, send=quick_send, backoff=(0.01,))
    assert spool.run_once() == 0
    assert jobs.state(job_id) == "pending"
    assert jobs.statuses[-1][:2] == (printer.url, "paper_out")

    printer.paper = PAPER_OK  # staff load a new roll
    time.sleep(0.02)
    assert spool.run_once() == 1
    assert jobs.state(job_id) == "printed"
    assert bytes(printer.received).count(TICKET) == 1
    assert jobs.statuses[-1][:2] == (printer.url, "ok")


# What a printer answers to DLE EOT 1-4 in each fault, the error and state it must be named by,
# and the only bytes it may receive (status queries: never a ticket byte).
FAULTS = {
    "paper_out": (dict(online=OFFLINE, cause=PAPER_STOP, paper=PAPER_OUT), PaperOut,
                  QUERY_ONLINE + QUERY_CAUSE, "out of paper"),
    "cover_open": (dict(online=OFFLINE, cause=COVER_OPEN, paper=PAPER_OUT), CoverOpen,
                   QUERY_ONLINE + QUERY_CAUSE, "cover is open"),
    "offline": (dict(online=OFFLINE, cause=NO_CAUSE), PrinterOffline,
                QUERY_ONLINE + QUERY_CAUSE + QUERY_PAPER, "offline"),
    "error": (dict(online=OFFLINE, cause=ERROR, error=CUTTER_ERROR), PrinterFault,
              QUERY_ONLINE + QUERY_CAUSE + QUERY_ERROR, "autocutter"),
}


@pytest.mark.parametrize("state", sorted(FAULTS))
def test_each_fault_is_named_and_the_job_prints_once_when_it_clears(
    make_printer: functools.partial[FakePrinter], state: str,
) -> None:
    answers, error, queries, words = FAULTS[state]
    printer = make_printer(**answers)
    with pytest.raises(error) as caught:
        send(printer.url, TICKET, timeout=QUICK)
    assert caught.value.state == state and words in str(caught.value)
    time.sleep(0.05)
    assert bytes(printer.received) == queries  # asked, never written to

    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, TICKET)
    spool = Spool(jobs, send=quick_send, backoff=(0.01,))
    assert spool.run_once() == 0
    assert jobs.state(job_id) == "pending"  # retried, not given up
    assert jobs.statuses[-1][:2] == (printer.url, state)
    assert TICKET not in bytes(printer.received)

    printer.online, printer.cause, printer.error, printer.paper = ONLINE, NO_CAUSE, NO_CAUSE, PAPER_OK
    time.sleep(0.02)
    assert spool.run_once() == 1
    time.sleep(0.05)
    assert spool.run_once() == 0  # nothing left to send twice
    assert jobs.state(job_id) == "printed"
    assert bytes(printer.received).count(TICKET) == 1
    assert jobs.statuses[-1][:2] == (printer.url, "ok")


def test_offline_printer_that_cannot_name_the_cause_is_offline(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(online=OFFLINE, cause=None)  # an older model: no DLE EOT 2 answer
    with pytest.raises(PrinterOffline) as caught:
        send(printer.url, TICKET, timeout=QUICK)
    assert caught.value.state == "offline"
    assert TICKET not in printer.wait_for(9)


def test_near_end_prints_and_warns(make_printer: functools.partial[FakePrinter]) -> None:
    printer = make_printer(paper=PAPER_NEAR_END)
    status = send(printer.url, TICKET, timeout=QUICK)
    assert status is not None and status.state == "paper_near_end" and status.printable
    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, TICKET)
    assert Spool(jobs, send=quick_send).run_once() == 1
    assert jobs.state(job_id) == "printed"
    assert jobs.statuses == [(printer.url, "paper_near_end", "the paper roll is nearly used up")]
    assert bytes(printer.received).count(TICKET) == 2  # one by send() above, one by the spool


def test_python_escpos_alone_calls_paper_out_just_offline(
    make_printer: functools.partial[FakePrinter],
) -> None:
    # Why we ask DLE EOT 2: python-escpos' is_online() sees only "offline", and its
    # paper_status() reads a printer stopped at paper end like any offline one.
    printer = make_printer(**FAULTS["paper_out"][0])
    raw = open_printer(printer.url, timeout=QUICK)
    try:
        assert raw.is_online() is False
    finally:
        raw.close()


def test_no_confirmation_after_writing_is_uncertain_and_not_reprinted(
    make_printer: functools.partial[FakePrinter],
) -> None:
    printer = make_printer(answers=2)  # answers before the ticket, then goes silent
    jobs = MemoryJobs()
    job_id = jobs.add(printer.url, SMALL)
    later = jobs.add(printer.url, SMALL)
    spool = Spool(jobs, send=quick_send, backoff=(0.01,))
    spool.run_once()
    assert jobs.state(job_id) == "failed"
    assert jobs.jobs[job_id].error.startswith("uncertain")
    assert bytes(printer.received).count(SMALL) == 1
    # The next job tried on its own and was refused before writing.
    assert jobs.state(later) == "pending"
    time.sleep(0.05)
    spool.run_once()
    assert bytes(printer.received).count(SMALL) == 1


def test_later_jobs_keep_their_order_behind_a_refused_one() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    jobs = MemoryJobs()
    first, second = jobs.add(url, b"first"), jobs.add(url, b"second")
    attempts: list[bytes] = []

    def counting_send(url: str, data: bytes, *, profile: str) -> None:
        attempts.append(data)
        quick_send(url, data, profile=profile)

    Spool(jobs, send=counting_send).run_once()
    assert attempts == [b"first"]  # the second was not tried past the first
    # Same delay, so the second never becomes due before the first.
    assert jobs.jobs[first].due <= jobs.jobs[second].due
    assert jobs.jobs[second].error.startswith("waiting for an earlier job")


def test_max_attempts_gives_up_for_staff() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    jobs = MemoryJobs()
    job_id = jobs.add(url, TICKET)
    spool = Spool(jobs, send=quick_send, backoff=(0.0,), max_attempts=2)
    spool.run_once()
    assert jobs.state(job_id) == "pending"
    spool.run_once()
    assert jobs.state(job_id) == "failed"
    assert "gave up after 2 attempts" in jobs.jobs[job_id].error


def test_status_reported_only_on_change(make_printer: functools.partial[FakePrinter]) -> None:
    printer = make_printer()
    jobs = MemoryJobs()
    for _ in range(3):
        jobs.add(printer.url, TICKET)
    assert Spool(jobs, send=quick_send).run_once() == 3
    assert jobs.statuses == [(printer.url, "ok", "")]


@pytest.mark.parametrize(
    "url",
    ["", "9100", "http://printer:9100", "tcp://", "tcp://host:abc", "usb://04b8", "serial://ttyS0",
     "file://relative/path", "lpt://1"],
)
def test_bad_urls_name_the_accepted_schemes(url: str) -> None:
    with pytest.raises(PrinterURLError) as caught:
        open_printer(url)
    message = str(caught.value)
    for scheme in ("tcp://", "usb://", "serial://", "file://", "dummy://"):
        assert scheme in message


def test_bad_url_job_fails_for_staff() -> None:
    jobs = MemoryJobs()
    job_id = jobs.add("lpt://1", TICKET)
    Spool(jobs, send=quick_send).run_once()
    assert jobs.state(job_id) == "failed"
    assert jobs.statuses[-1][1] == "error"


def test_file_and_dummy_urls(tmp_path: object) -> None:
    import pathlib

    target = pathlib.Path(str(tmp_path)) / "lp0"
    target.touch()
    send(f"file://{target}", TICKET)
    assert target.read_bytes() == TICKET  # a plain file has no status channel
    send("dummy://", TICKET)
    with pytest.raises(PrinterOffline):
        send(f"file://{target.parent}/missing/lp0", TICKET)


def test_usb_needs_pyusb() -> None:
    try:
        import usb  # noqa: F401
    except ImportError:
        from printers import PrinterError

        with pytest.raises(PrinterError, match="pyusb"):
            open_printer("usb://0x04b8:0x0202")
    else:
        pytest.skip("pyusb is installed; no USB printer in tests")
