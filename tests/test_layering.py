"""The house rules that keep the layers apart, and the command line's help texts."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "server/core": {"flask", "flask_socketio", "socketio", "sqlite3", "sqlite_utils", "escpos", "printers", "serial"},
    "printers": {"flask", "flask_socketio", "server"},
    "counter/devices.py": {"flask", "flask_socketio", "server"},
    "display/voice.py": {"flask", "flask_socketio"},
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_layers_do_not_import_what_they_must_not(where):
    target = ROOT / where
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files
    for f in files:
        bad = imports(f) & FORBIDDEN[where]
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


APP_CODE = ("server", "kiosk", "display", "counter", "printers", "config", "i18n")


def _app_sources() -> list[Path]:
    return [f for part in APP_CODE for f in sorted((ROOT / part).rglob("*.py"))]


def test_every_error_of_the_tree_is_one_the_code_raises():
    """No dead error class (a code the API documents but never answers with, e.g. a lock-out the login never does):
    each QueueError of server/core/errors.py is named somewhere else in the application."""
    from server.core import errors

    tree = {name for name, c in vars(errors).items()
            if isinstance(c, type) and issubclass(c, errors.QueueError) and c is not errors.QueueError}
    named: set[str] = set()
    for f in _app_sources():
        if f == ROOT / "server/core/errors.py":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name):
                named.add(node.id)
            elif isinstance(node, ast.Attribute):
                named.add(node.attr)
            elif isinstance(node, ast.alias):
                named.add(node.name)
    assert not sorted(tree - named), f"error classes nothing uses: {sorted(tree - named)}"


def test_every_error_lives_in_the_tree():
    """Errors with a stable code are declared in server/core/errors.py only (its tree, its texts in the catalogue),
    not beside the view that raises them."""
    from server.core import errors

    tree = {name for name, c in vars(errors).items() if isinstance(c, type) and issubclass(c, errors.QueueError)}
    for f in _app_sources():
        if f == ROOT / "server/core/errors.py":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                assert not bases & tree, f"{f.relative_to(ROOT)}: error {node.name} outside server/core/errors.py"


def test_only_the_store_names_tables():
    for f in sorted((ROOT / "server").rglob("*.py")):
        if f.name == "store.py":
            continue
        text = f.read_text(encoding="utf-8").upper()
        for sql in ("SELECT ", "INSERT INTO", "UPDATE TICKETS", "DELETE FROM"):
            assert sql not in text, f"{f.relative_to(ROOT)} has SQL ({sql.strip()})"


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [p for p, _ in _commands(main)], ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    cmd = dict(_commands(main))[path]
    assert cmd.help and len(cmd.help.strip()) > 10, f"novbe {' '.join(path)} needs a --help text"


def test_cli_user_and_device(tmp_path):
    db = str(tmp_path / "cli.db")
    r = CliRunner().invoke(main, ["user", "add", "leyla", "--role", "operator", "--db", db], input="leyla-secret\n")
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["device", "add", "kiosk", "kiosk-1", "--db", db])
    assert r.exit_code == 0 and r.output.strip().startswith("k_")
    r = CliRunner().invoke(main, ["user", "add", "x", "--role", "operator", "--password", "short", "--db", db])
    assert r.exit_code != 0 and "8 characters" in r.output
    r = CliRunner().invoke(main, ["check-config", "--config", "absheron"])
    assert r.exit_code == 0 and "13 areas" in r.output
    r = CliRunner().invoke(main, ["check-config", "--config", "absheronn"])
    assert r.exit_code != 0 and "did you mean 'absheron'" in r.output
