"""Ticket printing: layout, transports and the print spool (no Flask here)."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile


def _prepare_escpos() -> None:
    """Import python-escpos once, quietly, with a fixed capabilities cache folder."""
    # escpos.capabilities makes a new temporary directory on every import unless
    # this variable names a folder, and fails if the folder does not exist.  One
    # folder per user so that two accounts on a kiosk PC do not fight over it.
    uid = os.getuid() if hasattr(os, "getuid") else "shared"
    folder = os.path.join(tempfile.gettempdir(), f"novbe-escpos-{uid}")
    os.makedirs(folder, exist_ok=True)
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", folder)
    # Some python-escpos versions print to stdout while importing; a server
    # that speaks a protocol on stdout (or a CLI piping output) must not get it.
    with contextlib.redirect_stdout(io.StringIO()):
        import escpos.printer  # noqa: F401


_prepare_escpos()

from .errors import (  # noqa: E402
    CoverOpen,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterNotReading,
    PrinterOffline,
    PrinterURLError,
    PrintUncertain,
)
from .layout import TicketView, needs_raster, render_ticket, text_image  # noqa: E402
from .spool import JobQueue, PrintJob, Spool  # noqa: E402
from .status import STATES, PrinterStatus  # noqa: E402
from .testpage import print_test, sample_ticket  # noqa: E402
from .transport import check_ready, open_printer, probe, render_bytes, send  # noqa: E402

__all__ = [
    "STATES",
    "CoverOpen",
    "JobQueue",
    "PaperOut",
    "PrintJob",
    "PrintUncertain",
    "PrinterError",
    "PrinterFault",
    "PrinterNotReading",
    "PrinterOffline",
    "PrinterStatus",
    "PrinterURLError",
    "Spool",
    "TicketView",
    "check_ready",
    "needs_raster",
    "open_printer",
    "print_test",
    "probe",
    "render_bytes",
    "render_ticket",
    "sample_ticket",
    "send",
    "text_image",
]
