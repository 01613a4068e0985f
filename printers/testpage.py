"""A sample ticket that exercises every Azerbaijani letter, for checking a printer."""

from __future__ import annotations

from .layout import TicketView
from .transport import render_bytes, send

__all__ = ["AZ_LETTERS", "print_test", "sample_ticket"]

#: The letters a printer must get right; ə/Ə exist in no ESC/POS code page.
AZ_LETTERS = "Ə ə Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç"


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
                # No ə: this line must stay text in CP857.
                "Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç",
                # Russian: text in CP866.
                "Съешь же ещё этих мягких французских булок",
                "Test: novbe print-test",
            ]
        ),
        lang=lang,
        counter_area="Zal 2, masa 5-8",
    )


def print_test(
    url: str, *, profile: str = "TM-T88V", paper: str = "80mm", timeout: float = 3.0
) -> None:
    """Print the sample ticket on the printer at url; raise PrinterError on failure."""
    data = render_bytes(sample_ticket(), profile=profile, paper=paper)
    send(url, data, profile=profile, timeout=timeout)
