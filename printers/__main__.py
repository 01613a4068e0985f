"""python -m printers URL: print a test ticket (the server CLI wraps this as novbe print-test)."""

from __future__ import annotations

import argparse
import sys

from .errors import PrinterError
from .layout import PAPER_DOTS
from .testpage import print_test
from .transport import ACCEPTED


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, print the test ticket, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m printers",
        description="Print a test ticket with every Azerbaijani letter.",
        epilog=f"Printer URLs: {ACCEPTED}",
    )
    parser.add_argument("url", help="printer URL, e.g. tcp://192.168.1.50:9100")
    parser.add_argument("--profile", default="TM-T88V", help="python-escpos profile (default TM-T88V)")
    parser.add_argument("--paper", default="80mm", choices=sorted(PAPER_DOTS), help="paper width")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    try:
        print_test(args.url, profile=args.profile, paper=args.paper, timeout=args.timeout)
    except PrinterError as e:
        print(f"error ({e.state}): {e}", file=sys.stderr)
        return 1
    print("printed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
