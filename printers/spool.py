"""The print spool: sends committed print jobs, retries the ones that can be retried.

Rules, so that a ticket is never lost and never printed twice:

* the printer refused before any byte was written (offline, paper out, not
  reading): the job goes back to pending with a back-off delay;
* bytes were written but the printer never confirmed them (``PrintUncertain``)
  or an unexpected error happened: the job is failed as "uncertain" and staff
  decide, because an automatic retry could print the ticket twice;
* jobs of one printer keep their order: after a refusal, the later jobs of the
  same printer in that round are put back with the same delay, untried.

Plain ``threading``; no Flask, no gevent assumptions.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from . import transport
from .errors import PrinterError, PrinterURLError, PrintUncertain

__all__ = ["JobQueue", "PrintJob", "Sender", "Spool"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintJob:
    """One rendered ticket waiting for its printer."""

    id: int
    printer: str  # printer URL
    data: bytes  # the rendered ESC/POS bytes
    attempts: int


class JobQueue(Protocol):
    """The store's side of the spool."""

    def claim_print_jobs(self, limit: int = 10) -> list[PrintJob]:
        """Return pending jobs whose next try is due, oldest first."""
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

    def set_printer_status(self, printer: str, state: str, detail: str) -> None:
        """Record a printer's state: ok, offline, paper_out, not_reading or error."""
        ...


class Sender(Protocol):
    """Signature of transport.send, replaceable in tests."""

    def __call__(self, url: str, data: bytes, *, profile: str) -> None:
        """Print data on the printer at url."""
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
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._states: dict[str, str] = {}
        self._claimed = 0

    def wake(self) -> None:
        """Send new jobs now instead of at the next poll (call after the commit)."""
        self._wake.set()

    def _report(self, printer: str, state: str, detail: str) -> None:
        """Tell the store a printer's state when it changes."""
        # Only changes: every write here may become a database write and a
        # broadcast to staff screens.
        if self._states.get(printer) == state:
            return
        self.jobs.set_printer_status(printer, state, detail)
        self._states[printer] = state

    def _delay(self, attempts: int) -> float:
        """Back-off delay after a job's attempts so far."""
        return self.backoff[min(attempts, len(self.backoff) - 1)]

    def _retry(self, job: PrintJob, error: PrinterError) -> float:
        """Put a refused job back, or give up after max_attempts; return the delay."""
        delay = self._delay(job.attempts)
        tried = job.attempts + 1
        if self.max_attempts is not None and tried >= self.max_attempts:
            self.jobs.fail_print_job(job.id, f"gave up after {tried} attempts: {error}")
        else:
            self.jobs.retry_print_job(job.id, str(error), delay)
        return delay

    def run_once(self) -> int:
        """Process the jobs that are due; return how many were printed."""
        printed = 0
        refused: dict[str, tuple[PrinterError, float]] = {}
        jobs = self.jobs.claim_print_jobs(self.batch)
        self._claimed = len(jobs)
        for job in jobs:
            if job.printer in refused:
                # Untried: keep it behind the earlier job that is waiting.
                error, delay = refused[job.printer]
                self.jobs.retry_print_job(job.id, f"waiting for an earlier job: {error}", delay)
                continue
            try:
                self.send(job.printer, job.data, profile=self.profile_for(job.printer))
            except PrintUncertain as e:
                log.warning("print job %s uncertain: %s", job.id, e)
                self.jobs.fail_print_job(job.id, f"uncertain: {e}")
                self._report(job.printer, e.state, str(e))
            except PrinterURLError as e:
                # A configuration mistake: retrying cannot help.
                self.jobs.fail_print_job(job.id, str(e))
                self._report(job.printer, e.state, str(e))
            except PrinterError as e:
                # Refused before writing: safe to retry, nothing was printed.
                refused[job.printer] = (e, self._retry(job, e))
                self._report(job.printer, e.state, str(e))
            except Exception as e:
                # Unknown failure: we cannot tell whether bytes reached the printer.
                log.exception("print job %s failed", job.id)
                self.jobs.fail_print_job(job.id, f"uncertain: {e!r}")
                self._report(job.printer, "error", repr(e))
            else:
                self.jobs.finish_print_job(job.id)
                self._report(job.printer, "ok", "")
                printed += 1
        return printed

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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread after its current job."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
