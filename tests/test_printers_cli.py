"""`novbe print-test` reports the profile's code pages and sends text only in those (a real TCP listener)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from escpos.printer import Dummy

import printers  # noqa: F401  (quiet escpos import)
from printers.dump import parse
from printers.testpage import COMPARED
from server.cli import main
from test_printers_network import FAULTS, FakePrinter


def code_pages_selected(data: bytes) -> set[int]:
    """The ESC t slots a byte stream selects."""
    return {c.data[-1] for c in parse(data) if c.name == "codepage"}


@pytest.mark.parametrize(("profile", "as_text"), [("TM-T88V", ("CP857", "CP866")), ("TM-T88III", ("CP866",)),
                                                  ("simple", ())])
def test_print_test_reports_code_pages_and_sends_text_only_in_declared_ones(profile: str, as_text: tuple[str, ...]):
    printer = FakePrinter()
    try:
        result = CliRunner().invoke(main, ["print-test", printer.url, "--profile", profile])
        assert result.exit_code == 0, result.output
        data = printer.wait_for(5000)
    finally:
        printer.close()
    declared = Dummy(profile=profile).profile.get_code_pages()
    assert f"profile {profile} declares code pages:" in result.output
    for name in as_text:
        assert name in result.output.splitlines()[0]
        assert f"text in {name}" in result.output
    if "CP857" not in as_text:
        assert f"{COMPARED[0]!r}: as an image only" in result.output
    assert "printer state: ok" in result.output
    # Every code page the bytes select is one the profile declares, at the profile's slot.
    assert code_pages_selected(data) <= {int(slot) for slot in declared.values()}
    if profile != "simple":   # "simple" declares neither GS v 0 raster images nor a cutter
        assert b"\x1dv0" in data and b"\x1dV" in data   # image lines and a cut


def test_print_test_unknown_profile_names_the_nearest():
    result = CliRunner().invoke(main, ["print-test", "dummy://", "--profile", "TM-T20III"])
    assert result.exit_code != 0
    assert "Unknown printer profile 'TM-T20III'" in result.output and "TM-T20II" in result.output


def test_print_test_names_paper_out():
    printer = FakePrinter(**FAULTS["paper_out"][0])
    try:
        result = CliRunner().invoke(main, ["print-test", printer.url])
    finally:
        printer.close()
    assert result.exit_code != 0
    assert "paper_out" in result.output and "out of paper" in result.output
