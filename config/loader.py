"""Load and validate a center configuration once, at start-up.

An error names the file, the key and, for a misspelt key, the nearest valid one::

    config/centers/absheron.toml: services[3].quta: unknown key (did you mean 'quota'?)
"""
from __future__ import annotations

import tomllib
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from config.schema import CenterConfig

CENTERS_DIR = Path(__file__).resolve().parent / "centers"
DEFAULT_CENTER = "absheron"


class ConfigError(Exception):
    """The center configuration file is missing, unreadable or invalid."""


def default_path() -> Path:
    """The packaged default center configuration (the large center)."""
    return CENTERS_DIR / f"{DEFAULT_CENTER}.toml"


def resolve(name_or_path: str | Path | None) -> Path:
    """A path for a center name (``fuzuli``) or a file path; ``None`` is the default center."""
    if name_or_path is None:
        return default_path()
    p = Path(name_or_path)
    if p.suffix != ".toml" and not p.exists():
        candidate = CENTERS_DIR / f"{p.name}.toml"
        if candidate.exists():
            return candidate
        known = sorted(x.stem for x in CENTERS_DIR.glob("*.toml"))
        near = get_close_matches(p.name, known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else f" (known centers: {', '.join(known)})"
        raise ConfigError(f"{name_or_path}: no such center configuration{hint}")
    return p


def load(name_or_path: str | Path | None = None) -> CenterConfig:
    """Read, parse and validate a center configuration file."""
    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None
    cfg = parse(raw, source=str(path))
    # A center file is chosen by its name (--config lankaran) but the database, its backups and lock are
    # named by [center] id: a copy that kept the shipped id would run on that center's database.
    if path.resolve().parent == CENTERS_DIR.resolve() and cfg.center.id != path.stem:
        raise ConfigError(f"{path}: [center] id is {cfg.center.id!r} but the file is {path.name}: give the center "
                          f"its own id (id = \"{path.stem}\") and name; its database is named by the id")
    return cfg


def parse(raw: dict[str, Any], *, source: str = "<config>") -> CenterConfig:
    """Validate an already-parsed configuration mapping."""
    try:
        return CenterConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(source, err, raw) for err in exc.errors())) from None


def _describe(source: str, err: Any, raw: dict[str, Any]) -> str:
    loc = [str(x) for x in err["loc"]]
    key = _dotted(err["loc"])
    if err["type"] == "extra_forbidden":
        valid = _valid_keys(err["loc"][:-1])
        near = get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
        hint = f" (did you mean {near[0]!r}?)" if near else (f" (valid keys: {', '.join(valid)})" if valid else "")
        return f"{source}: {key}: unknown key{hint}"
    if err["type"] == "missing":
        return f"{source}: {key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    return f"{source}: {key or '(top level)'}: {message}"


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _valid_keys(loc: tuple) -> list[str]:
    """The field names allowed at ``loc`` in the schema, for the "did you mean" hint."""
    model: Any = CenterConfig
    for part in loc:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """The model class inside ``tuple[Model, ...]``, ``Model | None`` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
