"""Split ESC/POS bytes into commands, to inspect a rendered ticket without a printer.

Knows the commands python-escpos emits for our tickets; anything else is
reported as an ``unknown`` command so a test notices it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Command", "parse", "render_text", "text_of"]

ESC, GS, DLE = 0x1B, 0x1D, 0x10

# Commands with one parameter byte: ESC t, ESC !, ESC E, ESC -, ESC a, ESC M,
# ESC d, ESC {, ESC G, ESC 3, GS !, GS B, GS b.
_ONE_ARG = {
    (ESC, ord("t")): "codepage",
    (ESC, ord("!")): "mode",
    (ESC, ord("E")): "bold",
    (ESC, ord("-")): "underline",
    (ESC, ord("a")): "align",
    (ESC, ord("M")): "font",
    (ESC, ord("d")): "feed",
    (ESC, ord("{")): "flip",
    (ESC, ord("G")): "double_strike",
    (ESC, ord("3")): "line_spacing",
    (GS, ord("!")): "size",
    (GS, ord("B")): "invert",
    (GS, ord("b")): "smooth",
}


@dataclass(frozen=True)
class Command:
    """One command: its name and its bytes (for "text", the text bytes)."""

    name: str
    data: bytes


def parse(data: bytes) -> list[Command]:
    """Split ESC/POS bytes into commands and runs of text."""
    out: list[Command] = []
    i, n = 0, len(data)
    text_start = 0

    def flush_text(end: int) -> None:
        if end > text_start:
            out.append(Command("text", data[text_start:end]))

    while i < n:
        b = data[i]
        if b not in (ESC, GS, DLE):
            i += 1
            continue
        flush_text(i)
        head = (b, data[i + 1]) if i + 1 < n else (b, -1)
        if head in _ONE_ARG:
            out.append(Command(_ONE_ARG[head], data[i : i + 3]))
            i += 3
        elif head == (ESC, ord("@")):
            out.append(Command("init", data[i : i + 2]))
            i += 2
        elif head == (DLE, 0x04):
            out.append(Command("status_query", data[i : i + 3]))
            i += 3
        elif head == (GS, ord("v")):
            # GS v 0 m xL xH yL yH d1...dk, k = (xL + xH*256) * (yL + yH*256)
            width = data[i + 4] + data[i + 5] * 256
            height = data[i + 6] + data[i + 7] * 256
            end = i + 8 + width * height
            out.append(Command("raster_image", data[i:end]))
            i = end
        elif head in ((GS, ord("(")),):
            # GS ( k / GS ( L pL pH ...: 2-D codes and graphics
            length = data[i + 3] + data[i + 4] * 256
            name = {ord("k"): "qr", ord("L"): "graphics"}.get(data[i + 2], "gs_paren")
            out.append(Command(name, data[i : i + 5 + length]))
            i += 5 + length
        elif head == (GS, ord("V")):
            size = 4 if data[i + 2] in (65, 66) else 3
            out.append(Command("cut", data[i : i + size]))
            i += size
        else:
            out.append(Command("unknown", data[i : i + 2]))
            i += 2
        text_start = i
    flush_text(n)
    return out


def text_of(data: bytes) -> bytes:
    """Return only the text bytes (no command parameters, no image data)."""
    return b"".join(c.data for c in parse(data) if c.name == "text")


def render_text(data: bytes, profile: str = "TM-T88V") -> str:
    """Show what a ticket prints: text decoded per selected code page, [image] for rasters."""
    from escpos.capabilities import get_profile

    pages = {int(slot): name for slot, name in get_profile(profile).codePages.items()}
    encoding = "ascii"
    parts: list[str] = []
    for command in parse(data):
        if command.name == "codepage":
            encoding = pages.get(command.data[2], "unknown").lower()
        elif command.name == "text":
            try:
                parts.append(command.data.decode(encoding))
            except (LookupError, UnicodeDecodeError):
                parts.append(f"[undecodable {command.data!r} in {encoding}]")
        elif command.name in ("raster_image", "graphics"):
            parts.append("[image]\n")
        elif command.name == "qr" and command.data[6] == 80:  # fn 80: store the data
            parts.append(f"[qr {command.data[8:].decode('utf-8')}]")
        elif command.name == "cut":
            parts.append("[cut]\n")
    return "".join(parts)
