"""`novbe print-test` against a real TCP listener standing in for a network printer."""
from __future__ import annotations

from click.testing import CliRunner

from server.cli import main
from test_printers_network import FakePrinter


def test_print_test_sends_every_azerbaijani_letter_as_a_ticket():
    printer = FakePrinter()
    try:
        result = CliRunner().invoke(main, ["print-test", printer.url])
        assert result.exit_code == 0, result.output
        data = printer.wait_for(2000)
        assert data.count(b"\x1b@") >= 1 and b"\x1dV" in data      # a ticket, cut at the end
        assert b"\x1dv0" in data                                     # raster lines (for ə)
    finally:
        printer.close()


def test_print_test_offline_printer_is_a_clear_error():
    result = CliRunner().invoke(main, ["print-test", "tcp://127.0.0.1:1"])
    assert result.exit_code != 0 and "tcp://127.0.0.1:1" in result.output
    result = CliRunner().invoke(main, ["print-test", "ftp://nope"])
    assert result.exit_code != 0 and "Error" in result.output
