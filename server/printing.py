"""Glue between the store's print jobs and the printers package's spool.

A job row is written in the same transaction as its ticket; here, after the commit, the
spool thread claims it, renders the ticket (so rendering never holds the write lock or
delays the kiosk's answer) and sends it. Printer states and failed jobs are shown to staff
and told to the kiosks over Socket.IO, to rooms "hall" of /kiosk and "staff" of /counter:

    print-retry    {job, number, kiosk, status}  the job waits for its printer: "printing is delayed"
    print-done     {job, number, kiosk}          a job that had waited printed after all
    print-held     {job, number, kiosk, error}   too old to print now: held for staff ("ask staff")
    print-failed   {job, number, kiosk, error}   given up (uncertain or a bad printer URL): "ask staff"
    printer-status {kiosk, printer, state, detail}  a printer's state changed (printers.STATES)

A kiosk's printer is known by the kiosk's name (its state, order and pace are its own, even when
two kiosks are configured with the same address, as the shipped centers' ``dummy://``); a job
whose kiosk is no longer configured with its address is known by that address.

The policy sets how long a ticket may wait for its printer (``print_hold_minutes``), the pace
of a backlog after an outage (``print_backlog_seconds``) and how often idle printers are
asked their state (``printer_poll_seconds``).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable

from printers import PrintJob, Spool, TicketView, render_bytes
from server.core import queue
from server.core.model import Status, Ticket
from server.core.errors import QueueError, StorageError
from server.store import SQLiteStore

log = logging.getLogger(__name__)


@contextmanager
def _keep_going(what: str) -> Iterator[None]:
    """A storage fault while recording a job's outcome is one log line: the spool goes on printing
    (a job left 'sending' is marked uncertain at the next start, never printed twice)."""
    try:
        yield
    except StorageError as exc:
        log.warning("print spool: could not record %s: %s", what, exc.message)


class StoreJobs:
    """The printers package's JobQueue protocol over the SQLite store."""

    def __init__(self, store: SQLiteStore, public_url: Callable[[], str],
                 notify: Callable[[str, dict[str, Any]], None] = lambda name, data: None) -> None:
        self.store = store
        self.public_url = public_url
        self.notify = notify
        self._kiosks = {k.name: k for k in store.cfg.kiosks if k.printer}
        self._delayed: set[int] = set()   # jobs a kiosk was told are delayed (so it hears when they print)

    def layout(self, printer: str) -> tuple[str, str]:
        """The (profile, paper) of a printer by its key: a kiosk's name, else the first kiosk at that URL."""
        k = self._kiosks.get(printer) or next((k for k in self._kiosks.values() if k.printer == printer), None)
        return (k.profile, k.paper) if k else ("TM-T88V", "80mm")

    def name_of(self, kiosk: str | None, url: str) -> str:
        """A job's printer name: its kiosk's, while that kiosk is configured with this address ("" otherwise)."""
        k = self._kiosks.get(kiosk or "")
        return k.name if k is not None and k.printer == url else ""

    def view(self, job_id: int, t: Ticket | None = None) -> TicketView | None:
        """What the ticket of a job says, in the citizen's language, as of now (t: the job's ticket, if read)."""
        cfg = self.store.cfg
        t = t or self.store.print_job_ticket(job_id)
        if t is None:
            return None
        no_counter = False
        try:
            pos = queue.position(self.store, t.token)
            ahead, eta, low, high = pos.ahead, pos.eta_minutes or 0, pos.eta_low or 0, pos.eta_high or 0
            no_counter = pos.eta_minutes is None and pos.ticket.status == Status.WAITING
        except QueueError:
            ahead, eta, low, high = 0, 0, 0, 0
        svc = cfg.services_by_code[t.service]
        group = cfg.groups_by_code.get(t.priority) if t.priority else None
        return TicketView(
            center_name=cfg.center.name.get(t.lang), service_name=svc.name.get(t.lang), number=t.number,
            issued_at=datetime.fromtimestamp(t.issued_at, cfg.tz).strftime("%d.%m.%Y %H:%M"),
            ahead=ahead, eta_minutes=eta, eta_low=low, eta_high=high, priority=group.name.get(t.lang) if group else None,
            status_url=f"{self.public_url().rstrip('/')}/t/{t.token}",
            footer=cfg.center.footer.get(t.lang) if cfg.center.footer else "", lang=t.lang,
            counter_area=cfg.areas_by_code[svc.area].name.get(t.lang),
            large_number=self.store.print_job_large(job_id), no_counter=no_counter,
        )

    # --- JobQueue ---------------------------------------------------------------
    def start_print_job(self, job_id: int) -> bool:
        """Mark a job as being sent (False, and it is not sent, if that cannot be recorded: it stays pending)."""
        with _keep_going(f"job {job_id} as being sent"):
            return self.store.start_print_job(job_id)
        return False

    def claim_print_jobs(self, limit: int = 10) -> list[PrintJob]:
        rows: list[dict[str, Any]] = []
        with _keep_going("the claim of due jobs"):   # nothing claimed: the next round tries again
            rows = self.store.claim_print_jobs(limit)
        jobs = []
        for row in rows:
            t = self.store.print_job_ticket(row["id"])
            view = self.view(row["id"], t)
            if t is None or view is None:
                with _keep_going(f"job {row['id']} as failed"):
                    self.store.finish_print_job(row["id"], "failed", "ticket not found")
                continue
            name = self.name_of(t.kiosk, row["printer"])
            profile, paper = self.layout(name or row["printer"])
            try:
                data = render_bytes(view, profile=profile, paper=paper)
            except Exception as exc:   # a layout bug must not stop the spool
                log.exception("cannot render job %s", row["id"])
                with _keep_going(f"job {row['id']} as failed"):
                    self.store.finish_print_job(row["id"], "failed", f"render: {exc}")
                continue
            # The store counts this try already; the spool counts tries before this one.
            # A job reprinted by staff is aged from the reprint (queued_at), not from the ticket.
            queued = row.get("queued_at") or row["created_at"]
            jobs.append(PrintJob(id=row["id"], printer=row["printer"], data=data, attempts=row["attempts"] - 1,
                                 created_at=float(queued), name=name))
        return jobs

    def _tell(self, name: str, job_id: int, **data: Any) -> None:
        """Tell the kiosks and staff about one job (its number and kiosk, so a kiosk knows its own)."""
        t = self.store.print_job_ticket(job_id)
        self.notify(name, {"job": job_id, "number": t.number if t else None,
                           "kiosk": t.kiosk if t else None, **data})

    def finish_print_job(self, job_id: int) -> None:
        with _keep_going(f"job {job_id} as printed"):
            self.store.finish_print_job(job_id, "printed")
        if job_id in self._delayed:
            self._delayed.discard(job_id)
            self._tell("print-done", job_id)

    def retry_print_job(self, job_id: int, error: str, delay_s: float) -> None:
        with _keep_going(f"job {job_id} for a retry"):
            self.store.finish_print_job(job_id, "pending", error, delay_s)
        # The kiosk showing this number says "printing is delayed" and keeps it on screen longer.
        self._delayed.add(job_id)
        self._tell("print-retry", job_id, status=f"retry: {error}")

    def hold_print_job(self, job_id: int, error: str) -> None:
        with _keep_going(f"job {job_id} as held"):
            self.store.finish_print_job(job_id, "held", error)
        self._delayed.discard(job_id)
        self._tell("print-held", job_id, error=error)

    def fail_print_job(self, job_id: int, error: str) -> None:
        with _keep_going(f"job {job_id} as failed"):
            self.store.finish_print_job(job_id, "failed", error)
        self._delayed.discard(job_id)
        self._tell("print-failed", job_id, error=error)

    def set_printer_status(self, printer: str, state: str, detail: str) -> None:
        # Kept under the printer's key (the store's printers.url column holds a kiosk's name here).
        with _keep_going(f"the state of printer {printer}"):
            self.store.set_printer_status(printer, state, detail)
        kiosk = self._kiosks.get(printer)
        self.notify("printer-status", {"kiosk": kiosk.name if kiosk else None,
                                       "printer": kiosk.printer if kiosk else printer, "state": state, "detail": detail})


def start_spool(store: SQLiteStore, public_url: Callable[[], str],
                notify: Callable[[str, dict[str, Any]], None]) -> Spool:
    """Recover jobs a crash left half-sent, then start sending."""
    store.recover_print_jobs()
    jobs = StoreJobs(store, public_url, notify)
    policy = store.cfg.policy
    spool = Spool(
        jobs, profile_for=lambda key: jobs.layout(key)[0],
        # Retries of a waiting job are the printer's polls: every few seconds, so a ticket prints
        # within seconds of the fault clearing (not after a back-off grown to 30 s).
        backoff=(1, 2, 3), max_age=policy.print_hold_minutes * 60, gap=policy.print_backlog_seconds,
        printers={k.name: k.printer for k in store.cfg.kiosks if k.printer},
        poll_every=policy.printer_poll_seconds,
        clock=store.clock,      # a job's age (created_at, queued_at) is on the center's clock
    )
    spool.start()
    return spool
