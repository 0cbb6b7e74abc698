"""The one query interface the dashboard reads state through.

The dashboard never reaches into the linkage graph or the tasking internals;
the wiring in ``icc`` hands it an object that implements :class:`StateReader`
and returns these plain view records. Every call must be cheap (it is polled
about once a second by every open browser): an implementation should cache
its views per :meth:`StateReader.version`.

What a user may see is decided in :mod:`dashboard.scope`, which wraps a
reader; a reader itself returns everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CaseDetail",
    "CaseView",
    "LinkView",
    "PersonView",
    "SeriesView",
    "StateReader",
    "Stats",
    "TeamView",
]


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
    #: stream time the case first took part in an accepted link (``None``: never linked)
    linked_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LinkView:
    """An accepted link between two cases of a series and the sentences behind it."""

    case_a: str
    case_b: str
    probability: float
    evidence: tuple[tuple[str, str], ...] = ()  # (kind, sentence)


@dataclass(frozen=True, slots=True)
class SeriesView:
    """A linked series: two or more cases the system attributes to the same offender(s)."""

    series_id: str
    case_ids: tuple[str, ...]
    evidence: tuple[str, ...] = ()
    counties: tuple[int, ...] = ()
    total_loss_cny: float = 0.0
    updated_at: dt.datetime | None = None
    links: tuple[LinkView, ...] = ()
    key_entities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TeamView:
    """A team at its last reported position."""

    team_id: str
    status: str  # available / assigned / en_route / on_scene / unavailable
    lon: float | None
    lat: float | None
    at: dt.datetime
    county: int = 0  # county of the last position, 0 if unknown or outside


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person mentioned by a case's reports (identifiers unmasked: mask before showing)."""

    role: str
    name: str
    id_number: str | None = None
    phone: str | None = None
    dob: str | None = None
    gender: str | None = None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """One case with the person data its reports carry (viewing it is audited)."""

    case: CaseView
    persons: tuple[PersonView, ...] = ()
    vehicles: tuple[tuple[str, str], ...] = ()  # (role, plate)
    mo: tuple[str, ...] = ()
    narrative: str | None = None


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

    def teams(self) -> list[TeamView]:
        """Every team's last reported status."""
        ...

    def case_detail(self, case_id: str) -> CaseDetail | None:
        """A case with its persons, vehicles and narrative (``None`` if unknown)."""
        ...

    def stats(self) -> Stats: ...
