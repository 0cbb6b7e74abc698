"""The dashboard's query interface over the embedded runtime (implements ``StateReader``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

from dashboard.query import CaseView, SeriesView, Stats
from graph.cases import Case
from icc.runtime import Runtime

__all__ = ["RuntimeReader"]


def _view(case: Case, series_of: dict[str, str]) -> CaseView:
    sid = series_of.get(case.case_id)
    return CaseView(
        case_id=case.case_id,
        category=case.category,
        lon=case.lon,
        lat=case.lat,
        reported_at=case.reported_at,
        occurred_start=case.occurred_start,
        occurred_end=case.occurred_end,
        county=case.county,
        city=case.city,
        status="linked" if sid else "open",
        series_id=sid,
        loss_cny=case.loss_cny,
        address=case.address,
    )


class RuntimeReader:
    """Read-only, cheap views of a :class:`Runtime` for the dashboard."""

    def __init__(self, runtime: Runtime, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.runtime = runtime
        self._clock = clock

    def version(self) -> int:
        return self.runtime.cases.version

    def now(self) -> dt.datetime:
        if self._clock is not None:
            return self._clock()
        latest = self.runtime.cases.latest_event
        return latest or dt.datetime.now(dt.UTC)

    def _series_of(self) -> dict[str, str]:
        return {cid: s.series_id for s in self.runtime.series for cid in s.case_ids}

    def cases(
        self, since: dt.datetime | None = None, categories: frozenset[str] | None = None
    ) -> list[CaseView]:
        series_of = self._series_of()
        out = []
        for case in self.runtime.cases.cases():
            if since is not None and case.reported_at < since:
                continue
            if categories is not None and case.category not in categories:
                continue
            out.append(_view(case, series_of))
        out.sort(key=lambda c: c.reported_at)
        return out

    def series(self) -> list[SeriesView]:
        by_id = {c.case_id: c for c in self.runtime.cases.cases()}
        views = []
        for s in self.runtime.series:
            members = [by_id[c] for c in s.case_ids if c in by_id]
            views.append(
                SeriesView(
                    series_id=s.series_id,
                    case_ids=tuple(s.case_ids),
                    evidence=tuple(e.detail for e in s.evidence),
                    counties=tuple(sorted({m.county for m in members})),
                    total_loss_cny=sum(m.loss_cny for m in members),
                    updated_at=max((m.reported_at for m in members), default=None),
                )
            )
        views.sort(
            key=lambda v: (v.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), len(v.case_ids)),
            reverse=True,
        )
        return views

    def stats(self) -> Stats:
        totals = self.runtime.ingestor.totals
        cases = self.runtime.cases.cases()
        return Stats(
            messages_accepted=totals.accepted,
            duplicates=totals.duplicates,
            deadlettered=totals.deadlettered,
            cases=len(cases),
            sightings=sum(self.runtime.cases.sighting_counts().values()),
            series=len(self.runtime.series),
            losses_cny=sum(c.loss_cny for c in cases),
            by_category=dict(Counter(c.category for c in cases)),
        )
