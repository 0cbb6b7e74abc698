"""The one query interface the dashboard reads state through.

The dashboard never reaches into the linkage graph or the tasking internals;
the wiring in ``icc`` hands it an object that implements :class:`StateReader`
and returns these plain view records. Every call must be cheap (it is polled
about once a second by every open browser).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["CaseView", "SeriesView", "StateReader", "Stats"]


@dataclass(frozen=True, slots=True)
class CaseView:
    """One case as the map shows it."""

    case_id: str
    category: str
    lon: float
    lat: float
    reported_at: dt.datetime
    occurred_start: dt.datetime
    occurred_end: dt.datetime
    county: int  # adcode of the county holding the scene, 0 if outside the province
    city: int
    status: str = "open"  # open / linked / closed
    series_id: str | None = None
    loss_cny: float = 0.0
    address: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesView:
    """A linked series: two or more cases the system attributes to the same offender(s)."""

    series_id: str
    case_ids: tuple[str, ...]
    evidence: tuple[str, ...] = ()
    counties: tuple[int, ...] = ()
    total_loss_cny: float = 0.0
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters for the KPI strip and the status line."""

    messages_accepted: int = 0
    duplicates: int = 0
    deadlettered: int = 0
    cases: int = 0
    sightings: int = 0
    series: int = 0
    losses_cny: float = 0.0
    by_category: dict[str, int] = field(default_factory=dict)


class StateReader(Protocol):
    """Read-only view of the command center's state."""

    def version(self) -> int:
        """A number that changes whenever the state changes (cheap to call)."""
        ...

    def now(self) -> dt.datetime:
        """The current time of the stream (simulated time in the demo)."""
        ...

    def cases(
        self, since: dt.datetime | None = None, categories: frozenset[str] | None = None
    ) -> list[CaseView]:
        """Cases reported at or after ``since`` (all if None), optionally of some categories."""
        ...

    def series(self) -> list[SeriesView]:
        """Open series, newest and largest first."""
        ...

    def stats(self) -> Stats: ...
