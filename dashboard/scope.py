"""Server-side scoping: what one user may receive, as a :class:`StateReader` wrapper.

Every dashboard callback reads through ``ScopedReader(reader, user)``, so data
outside the user's jurisdiction is dropped on the server, before anything is
serialised for the browser:

* cases: only those whose scene lies in the jurisdiction (province users see
  all; cases outside the province are seen by province users only);
* series: only series with at least one case in scope, reduced to those cases,
  to the links whose both ends are in scope and to their evidence sentences;
  the number of the series' other cases is kept as a bare count
  (``hidden_cases``), so a county knows a series reaches elsewhere without
  learning anything about the other cases;
* teams: only teams last seen inside the jurisdiction;
* case detail: ``None`` for a case out of scope; identity numbers and phones
  masked unless the user's role sees identifiers (:data:`dashboard.auth.ROLES`).

Example
-------
>>> Scope(330211).allows(330211, 330200), Scope(330200).allows(330212, 330200)
(True, True)
>>> Scope(330211).allows(330212, 330200)
False
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from dashboard.auth import User, jurisdiction_level, mask_id, mask_phone, mask_text
from dashboard.query import CaseDetail, CaseView, SeriesView, StateReader, Stats, TeamView

__all__ = ["Scope", "ScopedReader", "ScopedSeries"]


@dataclass(frozen=True)
class Scope:
    """A jurisdiction as a filter on (county, city) adcodes."""

    adcode: int

    @property
    def level(self) -> str:
        return jurisdiction_level(self.adcode)

    def allows(self, county: int, city: int) -> bool:
        level = self.level
        if level == "province":
            return True
        if level == "city":
            return city == self.adcode
        return county == self.adcode


@dataclass(frozen=True)
class ScopedSeries:
    """A series as one user may see it."""

    view: SeriesView
    hidden_cases: int


class ScopedReader:
    """A :class:`StateReader` restricted to one user's jurisdiction and role."""

    def __init__(self, reader: StateReader, user: User) -> None:
        self.reader = reader
        self.user = user
        self.scope = Scope(user.jurisdiction)
        self._scoped: list[ScopedSeries] | None = None  # one request's worth

    def version(self) -> int:
        return self.reader.version()

    def now(self) -> dt.datetime:
        return self.reader.now()

    def cases(
        self, since: dt.datetime | None = None, categories: frozenset[str] | None = None
    ) -> list[CaseView]:
        found = self.reader.cases(since, categories)
        if self.scope.level == "province":
            return found
        allows = self.scope.allows
        return [c for c in found if allows(c.county, c.city)]

    def scoped_series(self) -> list[ScopedSeries]:
        """Series with a case in scope, reduced to what the user may see (cached per object)."""
        if self._scoped is not None:
            return self._scoped
        visible = {c.case_id: c for c in self.cases()}
        out = []
        for s in self.reader.series():
            mine = tuple(c for c in s.case_ids if c in visible)
            if not mine:
                continue
            if len(mine) == len(s.case_ids):
                view = s
            else:
                links = tuple(k for k in s.links if k.case_a in visible and k.case_b in visible)
                sentences = tuple(dict.fromkeys(text for k in links for _, text in k.evidence))
                members = [visible[c] for c in mine]
                view = dataclasses.replace(
                    s,
                    case_ids=mine,
                    links=links,
                    evidence=sentences,
                    counties=tuple(sorted({m.county for m in members})),
                    total_loss_cny=sum(m.loss_cny for m in members),
                    updated_at=max(m.reported_at for m in members),
                    key_entities=tuple(e for e in s.key_entities if any(e in t for t in sentences)),
                    categories=tuple(sorted({m.category for m in members})),
                )
            if not self.user.sees_identifiers:
                view = _mask_series(view)
            out.append(ScopedSeries(view, len(s.case_ids) - len(mine)))
        self._scoped = out
        return out

    def series(self) -> list[SeriesView]:
        return [s.view for s in self.scoped_series()]

    def teams(self) -> list[TeamView]:
        level = self.scope.level
        if level == "province":
            return self.reader.teams()
        return [t for t in self.reader.teams() if t.county and self._team_allowed(t.county)]

    def _team_allowed(self, county: int) -> bool:
        return self.scope.allows(county, county // 100 * 100)

    def case_detail(self, case_id: str) -> CaseDetail | None:
        detail = self.reader.case_detail(case_id)
        if detail is None or not self.scope.allows(detail.case.county, detail.case.city):
            return None
        if self.user.sees_identifiers:
            return detail
        return CaseDetail(
            case=detail.case,
            persons=tuple(
                dataclasses.replace(p, id_number=mask_id(p.id_number), phone=mask_phone(p.phone))
                for p in detail.persons
            ),
            vehicles=detail.vehicles,
            mo=detail.mo,
            narrative=mask_text(detail.narrative) if detail.narrative else detail.narrative,
        )

    def stats(self) -> Stats:
        """Counters over the user's cases (the ingest counters only for province users)."""
        full = self.reader.stats()
        if self.scope.level == "province":
            return full
        mine = self.cases()
        by_category: dict[str, int] = {}
        for c in mine:
            by_category[c.category] = by_category.get(c.category, 0) + 1
        return Stats(
            cases=len(mine),
            series=len(self.scoped_series()),
            losses_cny=sum(c.loss_cny for c in mine),
            by_category=by_category,
        )


def _mask_series(view: SeriesView) -> SeriesView:
    return dataclasses.replace(
        view,
        evidence=tuple(mask_text(t) for t in view.evidence),
        key_entities=tuple(mask_text(e) for e in view.key_entities),
        links=tuple(
            dataclasses.replace(k, evidence=tuple((kind, mask_text(t)) for kind, t in k.evidence))
            for k in view.links
        ),
    )
