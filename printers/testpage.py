"""A sample ticket that exercises every Azerbaijani letter, for checking a printer.

The test page first prints the lines that may go as text twice, once as text in a code page
the printer's python-escpos profile declares and once drawn as an image: the two copies must
read alike, or the profile does not describe this printer.  Then the sample ticket follows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from escpos.capabilities import CAPABILITIES
from escpos.printer import Dummy

from .errors import PrinterURLError
from .layout import TEXT_CODEPAGES, TicketView, render_comparison, render_ticket, text_encoding
from .status import PrinterStatus
from .transport import send

__all__ = [
    "AZ_LETTERS",
    "COMPARED",
    "TestPage",
    "known_profile",
    "print_test",
    "render_test_page",
    "sample_ticket",
]

#: The letters a printer must get right; ə/Ə exist in no ESC/POS code page.
AZ_LETTERS = "Ə ə Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç"

#: Lines printed both as text and as an image: Azerbaijani without ə (CP857), Russian (CP866).
COMPARED = ("Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç", "Съешь же ещё этих мягких французских булок")


def sample_ticket(lang: str = "az") -> TicketView:
    """Return a test ticket with every Azerbaijani letter and a Russian line."""
    return TicketView(
        center_name="Bakı şəhəri 1 nömrəli DOST Mərkəzi",
        service_name="Əlilliyin qiymətləndirilməsi",
        number="Ə-015",
        issued_at="24.11.2026 09:15",
        ahead=3,
        eta_minutes=12,
        priority="Şəhid ailəsi / Qazi",
        status_url="https://novbe.example.az/t/Q7K2M9",
        footer="\n".join(
            [
                AZ_LETTERS,
                # No ə: text in CP857 where the profile declares it, else drawn.
                COMPARED[0],
                # Russian: text in CP866 where the profile declares it, else drawn.
                COMPARED[1],
                "Test: novbe print-test",
            ]
        ),
        lang=lang,
        counter_area="Zal 2, masa 5-8",
    )


def known_profile(profile: str) -> str:
    """Return the profile name if python-escpos knows it; else raise naming the nearest ones."""
    names = sorted(CAPABILITIES["profiles"])
    if profile in names:
        return profile
    near = difflib.get_close_matches(profile, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    raise PrinterURLError(
        f"Unknown printer profile {profile!r}.{hint} Known profiles: {', '.join(names)}"
    )


@dataclass(frozen=True)
class TestPage:
    """The rendered test page and what it shows about the profile."""

    data: bytes
    code_pages: tuple[str, ...]  # every code page the profile declares
    text_lines: dict[str, str | None]  # compared line -> code page it went as text in (None: image only)


def render_test_page(*, profile: str = "TM-T88V", paper: str = "80mm") -> TestPage:
    """Render the comparison lines and the sample ticket for a profile."""
    printer = Dummy(profile=known_profile(profile))
    printer.hw("INIT")
    declared = printer.profile.get_code_pages()
    pages = tuple(name for name in declared if name != "Unknown")
    usable = [name for name in TEXT_CODEPAGES if name in declared]
    printer.set(align="center", bold=True)
    printer.text(f"python-escpos profile {profile}\n")
    printer.set(bold=False)
    printer.text(f"text code pages: {', '.join(usable) or 'none (all lines drawn)'}\n\n")
    shown = {line: render_comparison(printer, line, paper=paper) for line in COMPARED}
    render_ticket(printer, sample_ticket(), paper=paper)
    return TestPage(bytes(printer.output), pages, shown)


def print_test(
    url: str, *, profile: str = "TM-T88V", paper: str = "80mm", timeout: float = 3.0
) -> PrinterStatus | None:
    """Print the test page on the printer at url; raise PrinterError on failure, return its state."""
    page = render_test_page(profile=profile, paper=paper)
    return send(url, page.data, profile=profile, timeout=timeout)


# Keep the planner honest: the compared lines are the ones a code page may carry.
assert all(text_encoding(line) is not None for line in COMPARED)
