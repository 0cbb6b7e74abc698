"""Cases as the linkage graph knows them: one record per case, merged from its reports.

:class:`CaseBook` is a pipeline sink. It folds incident reports into cases (a
supplementary report names the ``case_id`` it adds to), places each scene in its
county with :mod:`geo.lookup`, counts sightings and keeps each team's latest
status. The linkage core (space-time, persons, MO) builds on top of it.

Merging rules for a supplementary report: persons, vehicles, organisations and
MO tags are added (exact repeats dropped); a loss figure replaces the earlier
one (supplementary reports restate the running total); the scene and window of
the first report stay unless the first report had no narrower window.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from geo.lookup import JurisdictionIndex
from ingest.batch import non_sightings, sighting_columns
from ingest.models import (
    Incident,
    Message,
    Organization,
    PersonMention,
    TeamStatus,
    Vehicle,
)

__all__ = ["Case", "CaseBook", "TeamPosition", "batch_incidents"]

log = logging.getLogger(__name__)


@dataclass
class Case:
    """A case: the scene, window and everything its reports mention."""

    case_id: str
    category: str
    lon: float
    lat: float
    reported_at: dt.datetime
    occurred_start: dt.datetime
    occurred_end: dt.datetime
    county: int
    city: int
    address: str | None = None
    loss_cny: float = 0.0
    report_ids: list[str] = field(default_factory=list)
    mo: list[str] = field(default_factory=list)
    persons: list[PersonMention] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    category_known: bool = True

    @property
    def outside_province(self) -> bool:
        """Scene outside the served province: accepted, but flagged."""
        return self.county == 0


@dataclass(frozen=True, slots=True)
class TeamPosition:
    team_id: str
    status: str
    lon: float | None
    lat: float | None
    at: dt.datetime


def batch_incidents(messages: Sequence[Message]) -> list[Incident]:
    """The incident reports of a batch, in order.

    Nearly every message of a batch is a sighting. A :class:`~ingest.batch.MessageBatch`
    has already set its other messages apart (its columns, which the case registry
    gathers first), so the sinks after it read those few instead of testing the type of
    a thousand messages each; any other sequence is scanned (a sighting is never an
    incident: the exact type test skips most of it cheaply).
    """
    return [m for m in non_sightings(messages) if isinstance(m, Incident)]


def _extend_unique(target: list, items: Sequence) -> None:
    if not target and len(items) <= 1:  # nothing to compare with (pydantic's == is slow)
        target.extend(items)
        return
    for item in items:
        if item not in target:
            target.append(item)


class CaseBook:
    """Thread-safe case registry fed by the pipeline (implements ``ingest.pipeline.Sink``)."""

    def __init__(self, index: JurisdictionIndex | None = None) -> None:
        self.index = index or JurisdictionIndex.for_province(330000)
        self._cases: dict[str, Case] = {}
        self._teams: dict[str, TeamPosition] = {}
        self._sightings: Counter[str] = Counter()
        self._latest: dt.datetime | None = None
        self._version = 0
        self._cities: dict[int, int] = {}  # county -> city, as the index answered
        self._lock = threading.RLock()

    # -- sink ---------------------------------------------------------------
    def apply(self, messages: Sequence[Message]) -> None:
        """Fold a batch of newly accepted messages into the case registry."""
        if not messages:
            return
        cols = sighting_columns(messages)
        incidents: list[Incident] = []
        teams: list[TeamStatus] = []
        sighted = cols.kinds
        last = cols.latest_at()
        times = [] if last is None else [cols.messages[last].at]
        for _, msg in cols.others:
            if isinstance(msg, Incident):
                incidents.append(msg)
            else:
                teams.append(msg)
            times.append(msg.event_time)
        latest = max(times)
        counties = (
            self.index.counties_of([m.lon for m in incidents], [m.lat for m in incidents]).tolist()
            if incidents
            else ()
        )
        with self._lock:
            for msg, county in zip(incidents, counties, strict=True):
                self._add_report(msg, int(county))
            self._sightings.update(sighted)
            for team in teams:
                prev = self._teams.get(team.team_id)
                if prev is None or prev.at <= team.at:
                    self._teams[team.team_id] = TeamPosition(
                        team.team_id, team.status, team.lon, team.lat, team.at
                    )
            if self._latest is None or latest > self._latest:
                self._latest = latest
            self._version += 1

    def _add_report(self, msg: Incident, county: int) -> None:
        case = self._cases.get(msg.case)
        if case is None:
            case = Case(
                case_id=msg.case,
                category=msg.category,
                lon=msg.lon,
                lat=msg.lat,
                reported_at=msg.reported_at,
                occurred_start=msg.occurred_start,
                occurred_end=msg.occurred_end,
                county=county,
                city=self._city_of(county),
                address=msg.address,
                category_known=msg.category_known,
            )
            self._cases[msg.case] = case
            if county == 0:
                log.warning(
                    "case %s: scene (%.5f, %.5f) is outside the province; kept and flagged",
                    msg.case,
                    msg.lon,
                    msg.lat,
                )
        case.report_ids.append(msg.report_id)
        if msg.loss_cny is not None:
            case.loss_cny = float(msg.loss_cny)
        if case.address is None:
            case.address = msg.address
        _extend_unique(case.mo, msg.mo)
        _extend_unique(case.persons, msg.persons)
        _extend_unique(case.vehicles, msg.vehicles)
        _extend_unique(case.organizations, msg.organizations)

    def _city_of(self, county: int) -> int:
        city = self._cities.get(county)
        if city is None:
            city = self._cities[county] = self.index.city_of_county(county)
        return city

    # -- reads --------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    @property
    def latest_event(self) -> dt.datetime | None:
        return self._latest

    def get(self, case_id: str) -> Case | None:
        with self._lock:
            return self._cases.get(case_id)

    def get_many(self, case_ids: Sequence[str]) -> list[Case | None]:
        """:meth:`get` of each id, in order, under one hold of the lock (the linker reads
        the cases of a batch's pairs: one a pair, most of them not new)."""
        with self._lock:
            get = self._cases.get
            return [get(case_id) for case_id in case_ids]

    def cases(self) -> list[Case]:
        with self._lock:
            return list(self._cases.values())

    def teams(self) -> list[TeamPosition]:
        with self._lock:
            return list(self._teams.values())

    def sighting_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sightings)

    def __len__(self) -> int:
        return len(self._cases)
