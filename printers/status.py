"""What a printer says about itself: the four DLE EOT real-time status replies, decoded.

Epson's ESC/POS reference (``DLE EOT n``, also followed by most clones) answers one byte per
query; bits 1 and 4 are always set and bits 0 and 7 always clear, which tells a status byte
from stray data::

    n=1 printer status   bit 3: offline
    n=2 offline cause    bit 2: cover open; bit 3: paper fed by the button; bit 5: stopped
                         at paper end; bit 6: an error occurred
    n=3 error cause      bit 2: recoverable error; bit 3: autocutter error; bit 5:
                         unrecoverable error; bit 6: auto-recoverable error (head too hot)
    n=4 roll paper       bits 2-3: near-end sensor; bits 5-6: paper end sensor

python-escpos asks only n=1 (``is_online``) and n=4 (``paper_status``), and
``paper_status()`` answers "plenty" when the printer says nothing.  A real printer with an
empty roll or an open cover reports itself *offline* to n=1, so n=1 alone cannot tell
paper-out from cover-open from a jam: we ask n=2 (and n=3 for an error) only then.  A
healthy printer costs two queries, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = [
    "PRINTABLE",
    "QUERY",
    "STATES",
    "PrinterStatus",
    "decode",
    "valid",
]

#: The query bytes, by n.
QUERY: dict[int, bytes] = {n: b"\x10\x04" + bytes([n]) for n in (1, 2, 3, 4)}

_FIXED_MASK = 0x93  # bits 0, 1, 4 and 7 have fixed values in every reply ...
_FIXED_BITS = 0x12  # ... bit 1 and bit 4 set, bits 0 and 7 clear

_OFFLINE = 0x08  # n=1
_COVER_OPEN = 0x04  # n=2
_FEED_BUTTON = 0x08  # n=2
_PAPER_STOP = 0x20  # n=2
_ERROR = 0x40  # n=2
_RECOVERABLE = 0x04  # n=3
_CUTTER = 0x08  # n=3
_UNRECOVERABLE = 0x20  # n=3
_AUTO_RECOVERABLE = 0x40  # n=3
_NEAR_END = 0x0C  # n=4
_PAPER_END = 0x60  # n=4

#: Every state a printer can be reported in, for staff screens and the API.
STATES: tuple[str, ...] = (
    "ok", "paper_near_end", "paper_out", "cover_open", "offline", "error", "not_reading",
)
#: States in which a ticket can be printed (near-end: the roll still has a few metres).
PRINTABLE: frozenset[str] = frozenset({"ok", "paper_near_end"})


@dataclass(frozen=True)
class PrinterStatus:
    """A printer's state (one of STATES) and a line for staff."""

    state: str
    detail: str = ""

    @property
    def printable(self) -> bool:
        """Whether a ticket may be sent now."""
        return self.state in PRINTABLE


def valid(byte: int) -> bool:
    """Tell a DLE EOT reply byte from stray data by its fixed bits."""
    return byte & _FIXED_MASK == _FIXED_BITS


def decode(ask: Callable[[int], int]) -> PrinterStatus:
    """Ask what is needed (``ask(n)`` returns the reply byte to DLE EOT n) and name the state."""
    if not ask(1) & _OFFLINE:
        paper = ask(4)
        if paper & _PAPER_END:
            # Online with the end sensor set: some models stop only after the line in hand.
            return PrinterStatus("paper_out", "the printer is out of paper")
        if paper & _NEAR_END:
            return PrinterStatus("paper_near_end", "the paper roll is nearly used up")
        return PrinterStatus("ok")
    cause = ask(2)
    if cause & _COVER_OPEN:
        return PrinterStatus("cover_open", "the printer cover is open")
    if cause & _PAPER_STOP:
        return PrinterStatus("paper_out", "the printer is out of paper")
    if cause & _ERROR:
        error = ask(3)
        what = [
            text
            for bit, text in (
                (_CUTTER, "autocutter error (paper jam?)"),
                (_UNRECOVERABLE, "unrecoverable error: switch the printer off and on"),
                (_AUTO_RECOVERABLE, "print head too hot: it resumes by itself"),
                (_RECOVERABLE, "recoverable error"),
            )
            if error & bit
        ]
        return PrinterStatus("error", "printer error: " + ("; ".join(what) or "unknown cause"))
    # Offline for no reason n=2 names: the paper sensor may still know (clones), else say so.
    if ask(4) & _PAPER_END:
        return PrinterStatus("paper_out", "the printer is out of paper")
    if cause & _FEED_BUTTON:
        return PrinterStatus("offline", "offline: paper is being fed with the button")
    return PrinterStatus("offline", "the printer reports itself offline")
