"""Printer errors, one tree so callers can catch what they can act on.

    PrinterError
    ├── PrinterURLError       the printer URL in the configuration is wrong
    ├── PrinterOffline        nothing answers, or the printer reports itself offline
    ├── PaperOut              the printer reports that its paper has run out
    ├── CoverOpen             the printer reports that its cover is open
    ├── PrinterFault          the printer reports an error (autocutter, head too hot, …)
    ├── PrinterNotReading     it accepted the connection but never answered a status query
    └── PrintUncertain        bytes were written, but the printer never confirmed them

The first six are raised before any ticket byte is written, so a retry cannot
print twice.  ``PrintUncertain`` is raised after writing: retrying could print
the ticket twice, so staff must decide.  Each class carries the ``state`` that
the spool reports for the printer.
"""

from __future__ import annotations

__all__ = [
    "CoverOpen",
    "PaperOut",
    "PrinterFault",
    "PrintUncertain",
    "PrinterError",
    "PrinterNotReading",
    "PrinterOffline",
    "PrinterURLError",
]


class PrinterError(Exception):
    """The ticket printer could not be used."""

    state: str = "error"


class PrinterURLError(PrinterError, ValueError):
    """The printer URL is not one we understand."""

    state = "error"


class PrinterOffline(PrinterError):
    """The printer is switched off, unplugged, unreachable or reports itself offline."""

    state = "offline"


class PaperOut(PrinterError):
    """The printer has run out of paper."""

    state = "paper_out"


class CoverOpen(PrinterError):
    """The printer's cover is open."""

    state = "cover_open"


class PrinterFault(PrinterError):
    """The printer reports an error of its own (autocutter jam, print head too hot, …)."""

    state = "error"


class PrinterNotReading(PrinterError):
    """The printer accepted the connection but never answered a status query."""

    state = "not_reading"


class PrintUncertain(PrinterError):
    """The ticket was sent but not confirmed: it may or may not have printed."""

    state = "error"
