"""Small validators for the tasking TOML files (roster and plans).

Every error is a :class:`SchemaError` (a ``ValueError``) whose message names the
file, the dotted key, the bad value and what was expected, e.g.
``plans.toml: plan[1].ack.deadline = 'soon': expected a duration like '30m', '2h' or '1h30m'``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SchemaError",
    "duration",
    "load_toml",
    "no_unknown_keys",
    "number",
    "integer",
    "string",
    "strings",
    "table",
    "tables",
]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class SchemaError(ValueError):
    """A roster or plan file does not have the expected shape."""


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a :class:`SchemaError` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SchemaError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{path.name}: not valid TOML: {exc}") from None


def _fail(where: str, value: object, expected: str) -> SchemaError:
    return SchemaError(f"{where} = {value!r}: expected {expected}")


def no_unknown_keys(d: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in d:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise SchemaError(
                f"{prefix}{key}: unknown key; expected one of {', '.join(sorted(allowed))}"
            )


def table(d: Mapping[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        if required:
            raise SchemaError(f"{where}.{key}: missing; expected a table")
        return {}
    if not isinstance(value, dict):
        raise _fail(f"{where}.{key}", value, "a table")
    return value


def tables(d: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(f"{where}.{key}", value, f"an array of tables ([[{key}]])")
    return value


def string(
    d: Mapping[str, Any],
    key: str,
    where: str,
    default: str | None = None,
    choices: Iterable[str] | None = None,
) -> str:
    value = d.get(key, default)
    name = f"{where}.{key}" if where else key
    if value is None:
        raise SchemaError(f"{name}: missing; expected a string")
    opts = tuple(choices) if choices is not None else None
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, value, "a non-empty string")
    if opts is not None and value not in opts:
        raise _fail(name, value, f"one of {', '.join(opts)}")
    return value


def strings(d: Mapping[str, Any], key: str, where: str, default: list[str]) -> tuple[str, ...]:
    value = d.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(f"{where}.{key}", value, "a list of non-empty strings")
    return tuple(value)


def integer(
    d: Mapping[str, Any], key: str, where: str, default: int | None, lo: int, hi: int
) -> int:
    value = d.get(key, default)
    name = f"{where}.{key}" if where else key
    if value is None:
        raise SchemaError(f"{name}: missing; expected an integer between {lo} and {hi}")
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(name, value, f"an integer between {lo} and {hi}")
    return value


def number(
    d: Mapping[str, Any], key: str, where: str, default: float | None, lo: float = 0.0
) -> float | None:
    value = d.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < lo:
        raise _fail(f"{where}.{key}", value, f"a number >= {lo:g}")
    return float(value)


def duration(d: Mapping[str, Any], key: str, where: str, default: str | None) -> dt.timedelta:
    """A duration written ``'30m'``, ``'2h'``, ``'1h30m'``, ``'1d'`` or ``'45s'`` (positive)."""
    value = d.get(key, default)
    name = f"{where}.{key}"
    expected = "a duration like '30m', '2h' or '1h30m'"
    if value is None:
        raise SchemaError(f"{name}: missing; expected {expected}")
    m = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if m is None or not any(m.groups()):
        raise _fail(name, value, expected)
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    delta = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta <= dt.timedelta(0):
        raise _fail(name, value, expected + " greater than zero")
    return delta
