"""Ticket layout on python-escpos Dummy printers: what bytes a ticket becomes."""

from __future__ import annotations

import ast
import functools
import dataclasses
import pathlib
import statistics
import subprocess
import sys
import time

import pytest

import printers
from printers import TicketView, needs_raster, render_bytes, render_ticket, sample_ticket
from printers.dump import parse, render_text, text_of
from printers.layout import TEXT_CODEPAGES, text_encoding, text_image

from escpos.printer import Dummy

ROOT = pathlib.Path(__file__).resolve().parent.parent

GS_V0 = b"\x1dv0"
GS_K = b"\x1d(k"
GS_V = b"\x1dV"
ESC_T = b"\x1bt"
RUSSIAN = "Съешь же ещё этих мягких французских булок"
TURKISH_LIKE = "Ğ ğ I ı İ i Ö ö Ş ş Ü ü Ç ç"


def ticket(**changes: object) -> TicketView:
    """A ticket like the kiosk prints, with optional changes."""
    base = TicketView(
        center_name="Bakı şəhəri 1 nömrəli DOST Mərkəzi",
        service_name="Növbə nömrəsi Ə-015",
        number="Ə-015",
        issued_at="24.11.2026 09:15",
        ahead=3,
        eta_minutes=12,
        priority="Şəhid ailəsi / Qazi",
        status_url="https://novbe.example.az/t/Q7K2M9",
        footer=f"{TURKISH_LIKE}\n{RUSSIAN}",
        lang="az",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def images(data: bytes) -> list[bytes]:
    """The GS v 0 raster commands in data."""
    return [c.data for c in parse(data) if c.name == "raster_image"]


def image_width_dots(command: bytes) -> int:
    """Width in dots of a GS v 0 command."""
    return (command[4] + command[5] * 256) * 8


@pytest.mark.parametrize(
    ("profile", "paper", "dots"),
    [("TM-T88V", "80mm", 512), ("POS-5890", "58mm", 384), ("TM-T88V", "58mm", 384)],
)
def test_ticket_with_schwa_is_raster_and_complete(profile: str, paper: str, dots: int) -> None:
    data = render_bytes(ticket(), profile=profile, paper=paper)
    commands = parse(data)
    names = [c.name for c in commands]
    assert "unknown" not in names
    assert data.startswith(b"\x1b@")  # every ticket starts from a reset printer
    rasters = images(data)
    # Centre, service, label, number, ahead, wait, priority, QR caption and the
    # ə line of the footer cannot be text.
    assert len(rasters) >= 8
    assert all(image_width_dots(r) <= dots for r in rasters)
    # Nothing printable was replaced by "?" (image and QR data are not text).
    assert b"?" not in text_of(data)
    shown = render_text(data, profile)
    assert "?" not in shown
    assert TURKISH_LIKE in shown
    assert RUSSIAN.split()[0] in shown


def test_80mm_uses_native_qr_and_cuts() -> None:
    data = render_bytes(ticket(), profile="TM-T88V", paper="80mm")
    assert GS_V0 in data
    assert GS_K in data
    qr_store = [c.data for c in parse(data) if c.name == "qr" and c.data[6] == 80]
    url = b"https://novbe.example.az/t/Q7K2M9"
    assert qr_store == [GS_K + bytes([len(url) + 3, 0]) + b"1P0" + url]
    # Alignment is set before the QR code (python-escpos cannot centre it).
    before_qr = data[: data.index(GS_K)]
    assert before_qr.rfind(b"\x1ba\x01") > before_qr.rfind(b"\x1ba\x00")
    assert GS_V in data[-8:]


def test_58mm_profile_without_native_qr_gets_an_image_code() -> None:
    data = render_bytes(ticket(), profile="POS-5890", paper="58mm")
    assert GS_K not in data
    assert "[qr" not in render_text(data, "POS-5890")
    # The tallest image is the QR code: at least 21 modules of 2+ dots.
    assert max(r[6] + r[7] * 256 for r in images(data)) >= 42


def test_ascii_number_is_double_size_text() -> None:
    data = render_bytes(ticket(number="A-001"), profile="TM-T88V")
    assert b"A-001" in text_of(data)
    before = data[: data.index(b"A-001")]
    assert b"\x1b!\x30" in before[-20:]  # ESC ! 0x30: double width and height


@pytest.mark.parametrize(("profile", "paper", "dots"), [("TM-T88V", "80mm", 512), ("POS-5890", "58mm", 384)])
def test_large_number_is_an_image_over_twice_as_tall(profile: str, paper: str, dots: int) -> None:
    """The accessible kiosk mode: the number drawn far taller than double-size text (48 dots), within the paper."""
    plain = render_bytes(ticket(number="A-001"), profile=profile, paper=paper)
    large = render_bytes(ticket(number="A-001", large_number=True), profile=profile, paper=paper)
    assert b"A-001" in text_of(plain) and b"A-001" not in text_of(large)
    added = images(large)
    heights = [(c[6] + c[7] * 256) for c in added]
    assert len(added) == len(images(plain)) + 1
    assert max(heights) >= 100   # dots: over twice the 48 of ESC ! 0x30 text
    assert all(image_width_dots(c) <= dots for c in added)


def test_russian_line_stays_text_in_cp866() -> None:
    data = render_bytes(ticket(lang="ru"), profile="TM-T88V")
    assert ESC_T + bytes([17]) + RUSSIAN.encode("cp866") in data
    assert "Перед вами: 3 чел." in render_text(data)
    assert "Примерное ожидание: ~12 мин." in render_text(data)


def test_a_ticket_no_open_counter_serves_prints_why_there_is_no_wait() -> None:
    # Only a counter that has not opened serves the service: no figure, the reason instead (az has ə: an image).
    data = render_bytes(ticket(lang="ru", eta_minutes=0, no_counter=True), profile="TM-T88V")
    assert "Ожидание: ждём открытия окна" in render_text(data)
    assert "Примерное ожидание" not in render_text(data)
    assert "Ожидание: ждём" not in render_text(render_bytes(ticket(lang="ru"), profile="TM-T88V"))
    en = render_text(render_bytes(ticket(lang="en", eta_minutes=0, no_counter=True), profile="TM-T88V"))
    assert "Wait: until a counter opens" in en


def test_azerbaijani_letters_without_schwa_stay_text_in_cp857() -> None:
    data = render_bytes(ticket(), profile="TM-T88V")
    encoded = TURKISH_LIKE.encode("cp857")
    assert encoded in text_of(data)
    pages = [c.data[2] for c in parse(data[: data.index(encoded)]) if c.name == "codepage"]
    assert pages[-1] == 13  # CP857 in the TM-T88V profile


def test_58mm_never_raises_image_width_error() -> None:
    long_word = "Əlilliyinqiymətləndirilməsiüzrəmüraciətlərinqəbulu" * 2
    data = render_bytes(
        ticket(
            center_name=long_word,
            service_name=" ".join([long_word] * 3),
            number="Ə-1234567",
            priority=long_word,
            footer="x" * 300,
            status_url="https://novbe.example.az/t/" + "Q" * 200,
        ),
        profile="POS-5890",
        paper="58mm",
    )
    assert all(image_width_dots(r) <= 384 for r in images(data))


def test_reused_printer_selects_the_code_page_again() -> None:
    printer = Dummy(profile="TM-T88V")
    render_ticket(printer, ticket())
    printer.clear()
    render_ticket(printer, ticket())
    # The second ticket starts with ESC @, which resets the printer's code page:
    # it must select CP857 again rather than trust the encoder's memory.
    assert ESC_T + bytes([13]) in printer.output


def test_control_characters_cannot_inject_commands() -> None:
    data = render_bytes(ticket(center_name="DOST\x1b@\x1dV\x00", footer="ok\x1dV\x41"))
    assert data.count(b"\x1b@") == 1
    assert data.count(GS_V) == 1


def test_needs_raster() -> None:
    assert needs_raster("Növbə nömrəsi Ə-015")
    assert needs_raster("Ə")
    assert not needs_raster("A-001 24.11.2026")
    assert not needs_raster(TURKISH_LIKE)
    assert not needs_raster(RUSSIAN)
    # No single code page holds both scripts.
    assert needs_raster("Şəki / Шеки")
    assert needs_raster("Ş Ш")
    assert needs_raster("Ş", codepages=("CP866",))
    assert text_encoding(RUSSIAN) == "CP866"
    assert TEXT_CODEPAGES[0] == "CP857"


def test_text_images_are_cached_and_fit() -> None:
    first = text_image("Növbə nömrəsi", 24, False, 384)
    assert text_image("Növbə nömrəsi", 24, False, 384) is first
    assert first.mode == "1" and first.width <= 384 and first.width % 8 == 0
    assert text_image("Ə" * 200, 80, True, 384).width <= 384


def test_every_language_renders() -> None:
    for lang in ("az", "ru", "en", "xx"):
        data = render_bytes(ticket(lang=lang, priority=None, eta_minutes=0))
        assert b"?" not in text_of(data)


def test_sample_ticket_has_every_letter() -> None:
    sample = sample_ticket()
    for letter in "ƏəĞğIıİiÖöŞşÜüÇç":
        assert letter in sample.footer
    assert RUSSIAN in sample.footer
    printers.print_test("dummy://", profile="TM-T88V", paper="80mm")


def test_render_is_fast() -> None:
    base = ticket()
    render_bytes(base)
    times = []
    for i in range(60):
        current = dataclasses.replace(base, number=f"Ə-{i:03d}", ahead=i)
        start = time.perf_counter()
        render_bytes(current)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.020


def test_printers_package_does_not_import_flask() -> None:
    for path in (ROOT / "printers").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in ("flask", "flask_socketio", "server", "gevent"), path


def test_import_is_quiet_and_flask_free() -> None:
    code = "import sys, printers; print(sorted(m for m in sys.modules if m.startswith('flask')))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_cli_help_and_dummy_print() -> None:
    run = functools.partial(
        subprocess.run, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    helped = run([sys.executable, "-m", "printers", "--help"])
    assert helped.returncode == 0
    assert "every Azerbaijani letter" in helped.stdout
    assert "tcp://" in helped.stdout
    printed = run([sys.executable, "-m", "printers", "dummy://", "--paper", "58mm"])
    assert (printed.returncode, printed.stdout) == (0, "printed\n")
    refused = run([sys.executable, "-m", "printers", "lpt://1"])
    assert refused.returncode == 1 and "Accepted:" in refused.stderr
