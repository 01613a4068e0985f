"""Ticket layout: draws a ticket on any python-escpos printer object.

No ESC/POS code page holds the Azerbaijani schwa (ə, Ə), so a line is printed
as text only when one code page the printer supports (CP857 for the other
Azerbaijani letters, CP866 for Russian) encodes all of it; any other line is
drawn with DejaVu Sans and sent as a raster image.  The printer never receives
a character it would replace with ``?``.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

import qrcode
from escpos.escpos import Escpos
from escpos.magicencode import Encoder
from PIL import Image, ImageDraw, ImageFont

import i18n

__all__ = [
    "FONT_BOLD",
    "FONT_REGULAR",
    "PAPER_DOTS",
    "TEXT_CODEPAGES",
    "TicketView",
    "needs_raster",
    "render_comparison",
    "render_ticket",
    "text_encoding",
    "text_image",
]

FONT_REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

#: Printable width in dots of each paper size (Epson 80 mm: 512, 58 mm: 384).
PAPER_DOTS: dict[str, int] = {"80mm": 512, "58mm": 384}

#: Code pages tried for text lines, in order.  Only pages with reliable slots on
#: common printers: CP857 prints every Azerbaijani letter except ə/Ə, CP866 Russian.
TEXT_CODEPAGES: tuple[str, ...] = ("CP857", "CP866")

# Raster font sizes in dots; 24 matches the height of the printer's font A.
_SIZE_TEXT = 24
_SIZE_SMALL = 20
_SIZE_TITLE = 28
_SIZE_NUMBER = 80
_MARGIN = 4

# python-escpos' own tables decide what it can encode, so asking its encoder
# guarantees that a line judged printable is printed without substitution.
_ENCODER = Encoder({name: "0" for name in TEXT_CODEPAGES})


@dataclass(frozen=True)
class TicketView:
    """What a printed ticket shows, already formatted in the ticket's language."""

    center_name: str
    service_name: str
    number: str
    issued_at: str
    ahead: int
    eta_minutes: int
    priority: str | None
    status_url: str
    footer: str
    lang: str
    counter_area: str | None = None
    eta_low: int = 0            # the forecast's range; printed when it is wider than a minute
    eta_high: int = 0
    no_counter: bool = False    # only a counter that has not opened yet serves it: no wait to print
    large_number: bool = False  # the accessible kiosk mode: the number drawn twice as tall


def _clean(line: str) -> str:
    """Replace control and format characters with spaces."""
    # A name from configuration must never smuggle an ESC/POS command (ESC, GS…).
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in line
    ).strip()


def text_encoding(line: str, codepages: Iterable[str] = TEXT_CODEPAGES) -> str | None:
    """Return the first code page that encodes the whole line, or None."""
    for name in codepages:
        if name not in _ENCODER.codepages:
            continue
        if all(_ENCODER.can_encode(name, ch) for ch in line):
            return name
    return None


def needs_raster(line: str, codepages: Iterable[str] = TEXT_CODEPAGES) -> bool:
    """Tell whether a line must be drawn as an image to print every character."""
    if line.isascii():
        return False
    return text_encoding(line, codepages) is None


@functools.lru_cache(maxsize=8)
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    """Load DejaVu Sans once per size and weight."""
    return ImageFont.truetype(FONT_BOLD if bold else FONT_REGULAR, size)


def _wrap_pixels(text: str, font: ImageFont.FreeTypeFont, room: int) -> list[str] | None:
    """Wrap words to lines no wider than room, or None if one word is too wide."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if font.getlength(word) > room:
            return None
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= room:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


@functools.lru_cache(maxsize=1024)
def text_image(
    text: str, size: int, bold: bool, width: int, *, invert: bool = False
) -> Image.Image:
    """Draw centred, word-wrapped text as a 1-bit image at most width dots wide (cached: do not modify)."""
    room = width - 2 * _MARGIN
    font = _font(size, bold)
    lines = _wrap_pixels(text, font, room)
    while lines is None and size > 12:
        # One word wider than the paper (a long name): shrink rather than let
        # python-escpos raise ImageWidthError.
        size -= 2
        font = _font(size, bold)
        lines = _wrap_pixels(text, font, room)
    if lines is None:
        lines = textwrap.wrap(text, max(1, room // max(1, int(font.getlength("W")))))
    lines = lines or [""]
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + 2
    text_width = max(int(font.getlength(line)) for line in lines)
    pad = 2 if invert else 0
    height = line_height * len(lines) + 2 * pad
    # Keep the blank left half so the text stays centred, but drop the blank
    # right part: the printer leaves it empty anyway, and a slow serial line
    # is spared half the bytes.
    right = min(width, _ceil8((width + text_width) // 2 + 8))
    image = Image.new("L", (right, height), 255)
    draw = ImageDraw.Draw(image)
    ink = 0
    if invert:
        left = max(0, (width - text_width) // 2 - 6)
        draw.rectangle((left, 0, min(right, width - left) - 1, height - 1), fill=0)
        ink = 255
    for row, line in enumerate(lines):
        draw.text(
            (width // 2, pad + row * line_height), line, font=font, fill=ink, anchor="ma"
        )
    # A hard threshold instead of python-escpos' dithering keeps glyph edges crisp.
    return image.point(lambda value: 255 if value >= 128 else 0, mode="1")


def _ceil8(value: int) -> int:
    """Round up to whole bytes of 8 dots."""
    return (value + 7) // 8 * 8


@dataclass(frozen=True)
class _Page:
    """What render_ticket needs to know about this printer and paper."""

    width: int
    columns: int
    codepages: tuple[str, ...]
    native_qr: bool


def _page(printer: Escpos, paper: str) -> _Page:
    """Work out printable width, text columns and usable code pages."""
    try:
        dots = PAPER_DOTS[paper]
    except KeyError:
        raise ValueError(
            f"Unknown paper {paper!r}: use one of {', '.join(PAPER_DOTS)}"
        ) from None
    profile = printer.profile
    try:
        profile_dots = int(profile.profile_data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError):
        # The default profile has no width ("Unknown"): trust the paper size.
        profile_dots = dots
    width = min(dots, profile_dots)
    try:
        columns = int(profile.get_columns("a")) * width // profile_dots
    except (KeyError, TypeError, ValueError):
        columns = width // 12  # font A is 12 dots wide
    supported = profile.get_code_pages()
    codepages = tuple(name for name in TEXT_CODEPAGES if name in supported)
    return _Page(width, max(columns, 8), codepages, bool(profile.supports("qrCode")))


def _line(
    printer: Escpos,
    page: _Page,
    text: str,
    *,
    size: int = _SIZE_TEXT,
    bold: bool = False,
    big: bool = False,
    invert: bool = False,
) -> None:
    """Print one logical line as text when its code page allows, else as an image."""
    text = _clean(text)
    if not text:
        return
    encoding = "CP857" if text.isascii() and "CP857" in page.codepages else None
    encoding = encoding or text_encoding(text, page.codepages)
    if encoding is None and not text.isascii():
        printer.image(text_image(text, size, bold, page.width, invert=invert))
        return
    printer.set(
        align="center",
        bold=bold,
        invert=invert,
        normal_textsize=not big,
        double_width=big,
        double_height=big,
    )
    if encoding is not None:
        # One fixed code page per line: python-escpos' automatic choice may hop
        # between pages whose slot numbers a cheap printer gets wrong.
        printer.charcode(encoding)
    columns = page.columns // 2 if big else page.columns
    printer.text("\n".join(textwrap.wrap(text, columns)) + "\n")
    if invert or bold or big:
        printer.set(bold=False, invert=False, normal_textsize=True)


def _qr(printer: Escpos, page: _Page, url: str) -> None:
    """Print the status URL as a QR code, natively when the profile can."""
    url = _clean(url)
    if not url:
        return
    if page.native_qr:
        # qr(center=True) is not implemented for native codes: align first.
        printer.set(align="center")
        printer.qr(url, native=True, size=6 if page.width >= 512 else 5, ec=1)
        printer.ln()
        return
    # Profiles without GS ( k (e.g. POS-5890) get the code as a centred image.
    code = qrcode.QRCode(border=2, box_size=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    box = max(1, min(4, page.width // (code.modules_count + 4)))
    code.box_size = box
    symbol = code.make_image().get_image().convert("1")
    canvas_width = min(page.width, _ceil8((page.width + symbol.width) // 2))
    canvas = Image.new("1", (canvas_width, symbol.height), 1)
    canvas.paste(symbol, ((page.width - symbol.width) // 2, 0))
    printer.image(canvas)


def render_ticket(printer: Any, ticket: TicketView, *, paper: str = "80mm") -> None:
    """Draw one ticket on a python-escpos printer object, ending with a cut."""
    page = _page(printer, paper)
    lang = i18n.pick(ticket.lang)   # the ticket's labels come from the catalogues' "ticket" part

    def label(key: str, **values: Any) -> str:
        return i18n.text("ticket", key, lang, **values)

    # ESC @ resets the printer's code page and styles; the encoder must forget
    # the page it last selected or it would skip the switch on a reused object.
    printer.hw("INIT")
    printer.charcode("AUTO")
    printer.magic.encoding = None

    _line(printer, page, ticket.center_name, size=_SIZE_TITLE, bold=True)
    _line(printer, page, ticket.service_name)
    printer.ln()
    _line(printer, page, label("number"), size=_SIZE_SMALL)
    if ticket.large_number:
        # As an image, twice the usual number's height: ESC/POS text stops at double size here.
        printer.image(text_image(_clean(ticket.number), _SIZE_NUMBER * 2, True, page.width))
    else:
        _line(printer, page, ticket.number, size=_SIZE_NUMBER, bold=True, big=True)
    if ticket.counter_area:
        _line(printer, page, ticket.counter_area, bold=True)
    _line(printer, page, ticket.issued_at, size=_SIZE_SMALL)
    printer.ln()
    _line(printer, page, label("ahead", n=ticket.ahead))
    if ticket.eta_high > ticket.eta_low + 1:
        _line(printer, page, label("wait_range", a=ticket.eta_low, b=ticket.eta_high))
    elif ticket.eta_minutes > 0:
        _line(printer, page, label("wait", m=ticket.eta_minutes))
    elif ticket.no_counter:
        _line(printer, page, label("wait_no_counter"))
    if ticket.priority:
        _line(printer, page, label("priority", group=ticket.priority), bold=True, invert=True)
    printer.ln()
    _qr(printer, page, ticket.status_url)
    _line(printer, page, label("track"), size=_SIZE_SMALL)
    for footer_line in ticket.footer.splitlines():
        _line(printer, page, footer_line, size=_SIZE_SMALL)
    printer.cut()
    # Leave the object as we found it for any other user of it.
    printer.charcode("AUTO")


def render_comparison(printer: Any, text: str, *, paper: str = "80mm") -> str | None:
    """Print a line as text (in a code page the profile declares, if one encodes it) and as an image.

    For ``novbe print-test``: where the text copy shows boxes or wrong letters, the printer's
    code page table is not the profile's; pick another profile.  Returns the code page used
    for the text copy, or None when the profile declares none that encodes the line.
    """
    page = _page(printer, paper)
    text = _clean(text)
    encoding = text_encoding(text, page.codepages)
    if encoding is None:
        _line(printer, page, "text: no code page of this profile has all of it", size=_SIZE_SMALL)
    else:
        _line(printer, page, f"text ({encoding}):", size=_SIZE_SMALL)
        printer.set(align="center")
        printer.charcode(encoding)
        printer.text("\n".join(textwrap.wrap(text, page.columns)) + "\n")
        printer.charcode("AUTO")
    _line(printer, page, "image:", size=_SIZE_SMALL)
    printer.image(text_image(text, _SIZE_TEXT, False, page.width))
    printer.ln()
    printer.charcode("AUTO")  # _line may have fixed a code page: leave the object as we found it
    return encoding
