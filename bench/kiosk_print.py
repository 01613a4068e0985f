"""Touch to first ticket byte: from the kiosk's HTTP request to the ticket's first byte at a network printer.

A real TCP listener on 127.0.0.1 stands in for the printer (it reads and answers DLE EOT status
queries); the server prints through its spool, as in production. The ticket has Azerbaijani raster
lines (ə) and a native QR code. Prints p50 and p95; asserts nothing about time.

    .venv/bin/python bench/kiosk_print.py [--tickets 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=200)
    ap.add_argument("--mode", default="threading", choices=["threading", "gevent"])
    args = ap.parse_args()

    from live import LiveServer
    from test_printers_network import FakePrinter

    printer = FakePrinter()
    tmp = Path(tempfile.mkdtemp(prefix="novbe-print-"))
    center = tmp / "center.toml"
    text = (ROOT / "bench" / "bench-center.toml").read_text(encoding="utf-8")
    center.write_text(text.replace('printer = ""', f'printer = "{printer.url}"', 1), encoding="utf-8")
    server = LiveServer(tmp, center=str(center))
    server.start(gevent=args.mode == "gevent")
    times: list[float] = []
    sizes: list[int] = []
    try:
        for i in range(args.tickets):
            offset = len(printer.received)
            t0 = time.perf_counter()
            r = server.issue(f"S-{i % 8 + 1}", kiosk="kiosk-1", lang="az")
            r.raise_for_status()
            deadline = t0 + 10
            while time.perf_counter() < deadline:
                at = bytes(printer.received[offset:]).find(b"\x1b@")   # ESC @ starts every ticket
                if at >= 0:
                    times.append(time.perf_counter() - t0)
                    break
                time.sleep(0.0005)
            else:
                raise SystemExit(f"ticket {i} never reached the printer")
            # Let the ticket finish before the next touch (a citizen every ~0.2 s is already a rush).
            end = time.perf_counter() + 0.2
            while time.perf_counter() < end:
                time.sleep(0.01)
            sizes.append(len(printer.received) - offset)
    finally:
        server.stop()
        printer.close()
    ordered = sorted(times)
    p95 = ordered[int(round(0.95 * (len(ordered) - 1)))]
    print(f"{args.mode}: {len(times)} tickets, touch to first ticket byte p50 {statistics.median(times) * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms; ticket size median {statistics.median(sizes)} bytes")


if __name__ == "__main__":
    main()
