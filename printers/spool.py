"""The print spool: sends committed print jobs, retries the ones that can be retried.

Rules, so that a ticket is never lost and never printed twice:

* the printer refused before any byte was written (offline, paper out, cover open,
  printer error, not reading): the job goes back to pending with a back-off delay;
* bytes were written but the printer never confirmed them (``PrintUncertain``)
  or an unexpected error happened: the job is failed as "uncertain" and staff
  decide, because an automatic retry could print the ticket twice;
* a job is recorded as being sent (``start_print_job``) only just before its bytes go
  out, not when its batch is claimed: a stop leaves that one job uncertain, and the
  rest of the batch pending, to print after the restart;
* jobs of one printer keep their order: after a refusal, the later jobs of the
  same printer in that round are put back with the same delay, untried;
* a job older than ``max_age`` seconds is not printed automatically: it is held for
  staff (the citizen has most likely left; a reprint is one click away).  Retries stop
  at that age, so the kiosk can say "ask staff" when it is reached;
* a backlog (jobs that already waited) prints one ticket per ``gap`` seconds per
  printer, so that after an outage each citizen can take their own ticket;
* idle printers are asked their state every ``poll_every`` seconds (two or four
  DLE EOT bytes), so staff see paper-out before the next citizen does;
* a printer is known by its name when it has one (a kiosk's printer: the kiosk's name),
  else by its URL: its state, order and pace are its own even when two printers share
  an address (two kiosks configured with ``dummy://``).

Plain ``threading``; no Flask, no gevent assumptions.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

from . import transport
from .errors import PrinterError, PrinterURLError, PrintUncertain
from .status import PRINTABLE, PrinterStatus

__all__ = ["JobQueue", "PrintJob", "Prober", "Sender", "Spool"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintJob:
    """One rendered ticket waiting for its printer."""

    id: int
    printer: str  # printer URL
    data: bytes  # the rendered ESC/POS bytes
    attempts: int  # tries before this one
    created_at: float = 0.0  # when the ticket was committed, on the spool's clock (0: unknown, never held)
    name: str = ""  # the printer's name (its kiosk); "": known by its URL

    @property
    def key(self) -> str:
        """What the spool knows this job's printer by: its name, else its URL."""
        return self.name or self.printer


class JobQueue(Protocol):
    """The store's side of the spool."""

    def claim_print_jobs(self, limit: int = 10) -> list[PrintJob]:
        """Return pending jobs whose next try is due, oldest first."""
        ...

    def start_print_job(self, job_id: int) -> bool:
        """Mark a claimed job as being sent, just before its bytes go out (a stop from here on leaves it
        uncertain; before, it is still pending); False if it must not be sent now."""
        ...

    def finish_print_job(self, job_id: int) -> None:
        """Mark a job printed."""
        ...

    def retry_print_job(self, job_id: int, error: str, delay_s: float) -> None:
        """Put a job back to pending; next try after delay_s seconds."""
        ...

    def fail_print_job(self, job_id: int, error: str) -> None:
        """Give up on a job: staff must look (no automatic reprint)."""
        ...

    def hold_print_job(self, job_id: int, error: str) -> None:
        """Keep a job that is too old to print automatically for staff to reprint."""
        ...

    def set_printer_status(self, printer: str, state: str, detail: str) -> None:
        """Record a printer's state (one of printers.status.STATES) and a line for staff; printer is its key."""
        ...


class Sender(Protocol):
    """Signature of transport.send, replaceable in tests."""

    def __call__(self, url: str, data: bytes, *, profile: str) -> PrinterStatus | None:
        """Print data on the printer at url; return its state afterwards if it can tell."""
        ...


class Prober(Protocol):
    """Signature of transport.probe, replaceable in tests."""

    def __call__(self, url: str, *, profile: str) -> PrinterStatus | None:
        """Ask the idle printer at url its state; None if it cannot tell."""
        ...


def _default_profile(url: str) -> str:
    """Use the Epson TM-T88V profile unless told otherwise."""
    return "TM-T88V"


class Spool:
    """Sends print jobs from a JobQueue, in a background thread or one round at a time."""

    def __init__(
        self,
        jobs: JobQueue,
        *,
        send: Sender = transport.send,
        profile_for: Callable[[str], str] = _default_profile,
        backoff: Sequence[float] = (0.5, 1, 2, 5, 10, 30),
        max_attempts: int | None = None,
        batch: int = 10,
        idle_wait: float = 0.5,
        max_age: float | None = None,
        gap: float = 0.0,
        printers: Sequence[str] | Mapping[str, str] = (),
        poll_every: float | None = None,
        probe: Prober = transport.probe,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a spool; nothing runs until start() or run_once()."""
        if not backoff:
            raise ValueError("backoff needs at least one delay")
        self.jobs = jobs
        self.send = send
        self.profile_for = profile_for
        self.backoff = tuple(float(delay) for delay in backoff)
        self.max_attempts = max_attempts
        self.batch = batch
        self.idle_wait = idle_wait
        self.max_age = max_age
        self.gap = gap
        # The printers to poll, by key: a name -> URL mapping, or URLs that are their own keys.
        self.printers: dict[str, str] = (dict(printers) if isinstance(printers, Mapping)
                                         else {url: url for url in printers})
        self.poll_every = poll_every
        self.probe = probe
        self.clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._lock = threading.Lock()
        self._states: dict[str, tuple[str, str]] = {}
        self._touched: dict[str, float] = {}  # printer key -> monotonic time of the last contact
        self._printed_at: dict[str, float] = {}  # printer key -> monotonic time of the last ticket
        self._claimed = 0

    def wake(self) -> None:
        """Send new jobs now instead of at the next poll (call after the commit)."""
        self._wake.set()

    def state(self, printer: str) -> str | None:
        """The printer's last reported state, if any."""
        with self._lock:
            known = self._states.get(printer)
        return known[0] if known else None

    def _report(self, printer: str, state: str, detail: str) -> None:
        """Tell the store a printer's state when it changes."""
        # Only changes: every write here may become a database write and a
        # broadcast to staff screens.
        with self._lock:
            before = self._states.get(printer)
            if before == (state, detail):
                return
            self._states[printer] = (state, detail)
        # The server's log says what staff are told, once per change of state: an IT person reading it
        # (journalctl -u novbe) sees a printer out of paper or not answering, and when it is back.
        if before is None or before[0] != state:
            if state in PRINTABLE:
                if before is not None:
                    log.info("printer %s: %s again", printer, state)
            else:
                log.warning("printer %s: %s: %s", printer, state, detail)
        self.jobs.set_printer_status(printer, state, detail)

    def _delay(self, attempts: int) -> float:
        """Back-off delay after a job's attempts so far."""
        return self.backoff[min(attempts, len(self.backoff) - 1)]

    def _left(self, job: PrintJob) -> float:
        """Seconds until the job is too old to print automatically (inf: never)."""
        if self.max_age is None or not job.created_at:
            return math.inf
        return job.created_at + self.max_age - self.clock()

    def _hold(self, job: PrintJob) -> None:
        """Keep a job that waited too long for staff."""
        minutes = (self.max_age or 0) / 60
        self.jobs.hold_print_job(
            job.id, f"held: not printed within {minutes:g} min; reprint if the citizen asks"
        )

    def _retry(self, job: PrintJob, error: PrinterError) -> float:
        """Put a refused job back, or give up after max_attempts; return the delay."""
        # Never past the job's age limit: at that moment it is held and the kiosk says so.
        delay = max(0.0, min(self._delay(job.attempts), self._left(job)))
        tried = job.attempts + 1
        if self.max_attempts is not None and tried >= self.max_attempts:
            self.jobs.fail_print_job(job.id, f"gave up after {tried} attempts: {error}")
        else:
            self.jobs.retry_print_job(job.id, str(error), delay)
        return delay

    def run_once(self) -> int:
        """Process the jobs that are due; return how many were printed."""
        printed = 0
        refused: dict[str, tuple[str, float]] = {}
        jobs = self.jobs.claim_print_jobs(self.batch)
        self._claimed = len(jobs)
        for job in jobs:
            if self._left(job) <= 0:
                self._hold(job)
                continue
            if job.key in refused:
                # Untried: keep it behind the earlier job that is waiting.
                reason, delay = refused[job.key]
                self.jobs.retry_print_job(job.id, f"waiting for an earlier job: {reason}", delay)
                continue
            if job.attempts and self.gap > 0:
                # A job that already waited is part of a backlog: one ticket per gap.
                wait = self._printed_at.get(job.key, -math.inf) + self.gap - time.monotonic()
                if wait > 0:
                    delay = min(wait, max(0.0, self._left(job)))
                    self.jobs.retry_print_job(job.id, "backlog: one ticket at a time", delay)
                    refused[job.key] = ("backlog", delay)
                    continue
            if not self.jobs.start_print_job(job.id):
                continue   # not recorded as being sent (or no longer pending): never send unrecorded bytes
            try:
                after = self.send(job.printer, job.data, profile=self.profile_for(job.key))
            except PrintUncertain as e:
                log.warning("print job %s uncertain: %s", job.id, e)
                self.jobs.fail_print_job(job.id, f"uncertain: {e}")
                self._report(job.key, e.state, str(e))
            except PrinterURLError as e:
                # A configuration mistake: retrying cannot help.
                self.jobs.fail_print_job(job.id, str(e))
                self._report(job.key, e.state, str(e))
            except PrinterError as e:
                # Refused before writing: safe to retry, nothing was printed.
                refused[job.key] = (str(e), self._retry(job, e))
                self._report(job.key, e.state, str(e))
            except Exception as e:
                # Unknown failure: we cannot tell whether bytes reached the printer.
                log.exception("print job %s failed", job.id)
                self.jobs.fail_print_job(job.id, f"uncertain: {e!r}")
                self._report(job.key, "error", repr(e))
            else:
                self._printed_at[job.key] = time.monotonic()
                self.jobs.finish_print_job(job.id)
                status = after or PrinterStatus("ok")
                self._report(job.key, status.state, status.detail)
                printed += 1
            finally:
                with self._lock:
                    self._touched[job.key] = time.monotonic()
        return printed

    def poll_once(self) -> int:
        """Ask each idle printer its state (not those a job used lately); return how many were asked."""
        asked = 0
        for key, url in self.printers.items():
            every = self.poll_every or 0.0
            with self._lock:
                if time.monotonic() - self._touched.get(key, -math.inf) < every:
                    continue
            before = self.state(key)
            try:
                status = self.probe(url, profile=self.profile_for(key))
            except Exception:
                log.exception("printer poll of %s (%s) failed", key, url)
                continue
            finally:
                with self._lock:
                    self._touched[key] = time.monotonic()
            asked += 1
            if status is None:
                continue
            self._report(key, status.state, status.detail)
            if status.printable and before is not None and before != status.state:
                # Back in service: jobs that are due go now rather than at the next idle wake-up.
                self.wake()
        return asked

    def _poll_loop(self) -> None:
        """Poll idle printers until stop()."""
        every = self.poll_every or 0.0
        while not self._stopping.wait(every):
            try:
                self.poll_once()
            except Exception:
                log.exception("printer poll round failed")

    def _loop(self) -> None:
        """Run rounds until stop(); sleep on the wake event between them."""
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                # A store error must not kill the spool: the next round retries.
                log.exception("print spool round failed")
                self._claimed = 0
            if self._claimed >= self.batch:
                continue  # a full batch: more jobs may be due right now
            self._wake.wait(self.idle_wait)
            self._wake.clear()

    def start(self) -> None:
        """Start the background thread (a daemon); does nothing if running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="novbe-print-spool", daemon=True)
        self._thread.start()
        if self.poll_every and self.printers:
            # A thread of its own: a printer that is switched off costs a connect timeout,
            # which must not hold back the tickets of the other kiosks.
            self._poller = threading.Thread(
                target=self._poll_loop, name="novbe-printer-poll", daemon=True
            )
            self._poller.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread after its current job."""
        self._stopping.set()
        self._wake.set()
        for thread in (self._thread, self._poller):
            if thread is not None:
                thread.join(timeout)
        self._thread = self._poller = None
