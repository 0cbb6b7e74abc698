"""Scenario time: Asia/Shanghai wall clock (+08:00), epoch seconds and RFC 3339 text.

All scenario arithmetic is in float epoch seconds; text is produced only at the
end, vectorised with :func:`iso_many`.

Example
-------
>>> iso(to_epoch(DEFAULT_START))
'2026-03-02T00:00:00+08:00'
"""

from __future__ import annotations

import datetime as dt

import numpy as np

__all__ = [
    "CST",
    "DEFAULT_START",
    "HOUR",
    "DAY",
    "check_start",
    "iso",
    "iso_many",
    "to_epoch",
    "hour_of_day",
]

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DEFAULT_START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=CST)
HOUR = 3600.0
DAY = 86400.0
_OFFSET = 8 * 3600


def check_start(start: dt.datetime | None) -> dt.datetime:
    """The scenario start as an aware +08:00 datetime (default :data:`DEFAULT_START`)."""
    if start is None:
        return DEFAULT_START
    if not isinstance(start, dt.datetime):
        raise TypeError(f"start must be a datetime, got {type(start).__name__} {start!r}")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(
            f"start {start.isoformat()} is naive; expected an aware datetime such as "
            "2026-03-02T00:00+08:00"
        )
    return start.astimezone(CST)


def to_epoch(when: dt.datetime) -> float:
    """Epoch seconds of an aware datetime."""
    return when.timestamp()


def iso(epoch: float) -> str:
    """RFC 3339 text with the +08:00 offset, whole seconds."""
    return dt.datetime.fromtimestamp(round(epoch), CST).isoformat()


def iso_many(epochs: np.ndarray) -> list[str]:
    """:func:`iso` for an array of epoch seconds, vectorised (O(n))."""
    local = (np.rint(np.asarray(epochs, dtype=np.float64)).astype(np.int64) + _OFFSET).astype(
        "datetime64[s]"
    )
    text = np.datetime_as_string(local, unit="s")
    return [t + "+08:00" for t in text.tolist()]


def hour_of_day(epochs: np.ndarray) -> np.ndarray:
    """Local (+08:00) hour of day as a float in [0, 24)."""
    return ((np.asarray(epochs, dtype=np.float64) + _OFFSET) % DAY) / HOUR
