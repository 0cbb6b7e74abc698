"""The dashboard's query interface over the embedded runtime (implements ``StateReader``).

Views are rebuilt only when the state version changes and shared by every
poll in between, so an idle browser costs a version check.

Time from report to link
------------------------
The linker does not record when a link was made, so ``CaseView.linked_at`` is
derived here, per case:

* if this reader saw the case unlinked in an earlier snapshot and linked in a
  later one, the stream time of that later snapshot (an upper bound, within
  one poll of the truth);
* otherwise (linked before the reader first looked, e.g. after a restart or a
  replay) ``max(reported_at)`` of the case and its earliest linked partner:
  the earliest moment both reports existed, a lower bound. A case that joined
  its series on the sum of weaker links (no accepted link of its own, see
  :mod:`graph.seriesdetect`) counts its series-mates as partners.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable

from dashboard.query import CaseDetail, CaseView, LinkView, PersonView, SeriesView, Stats, TeamView
from graph.cases import Case
from graph.summary import summarize
from icc.runtime import Runtime

__all__ = ["RuntimeReader"]

log = logging.getLogger(__name__)


def _view(case: Case, series_of: dict[str, str], linked_at: dict[str, dt.datetime]) -> CaseView:
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
        linked_at=linked_at.get(case.case_id) if sid else None,
    )


class RuntimeReader:
    """Read-only, cheap views of a :class:`Runtime` for the dashboard."""

    def __init__(self, runtime: Runtime, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.runtime = runtime
        self._clock = clock
        self._lock = threading.Lock()
        self._cases_key: int | None = None
        self._cases: list[CaseView] = []
        self._series_key: tuple[int, int] | None = None
        self._series: list[SeriesView] = []
        self._series_of: dict[str, str] = {}
        self._stats: Stats = Stats()
        self._teams: list[TeamView] = []
        self._seen_unlinked: set[str] = set()
        self._observed: dict[str, dt.datetime] = {}
        self._journal: sqlite3.Connection | None = None

    def version(self) -> int:
        # both counters only grow, so their sum changes whenever either does
        return self.runtime.cases.version + self.runtime.linker.version

    def now(self) -> dt.datetime:
        if self._clock is not None:
            return self._clock()
        latest = self.runtime.cases.latest_event
        return latest or dt.datetime.now(dt.UTC)

    # -- snapshots ------------------------------------------------------------
    def _accepted_links(self) -> list[tuple[tuple[str, str], object]]:
        linker = self.runtime.linker
        threshold = linker.model.threshold
        return [(p, k) for p, k in list(linker.links.items()) if k.probability >= threshold]

    def _refresh_series(self) -> None:
        linker = self.runtime.linker
        key = (linker.version, len(linker.links))
        if key == self._series_key:
            return
        series = self.runtime.series
        by_id = {c.case_id: c for c in self.runtime.cases.cases()}
        series_of = {cid: s.series_id for s in series for cid in s.case_ids}
        links: dict[str, list[LinkView]] = {}
        for (a, b), link in self._accepted_links():
            sid = series_of.get(a)
            if sid is not None and series_of.get(b) == sid:
                links.setdefault(sid, []).append(
                    LinkView(a, b, round(float(link.probability), 3), tuple(link.evidence))  # type: ignore[attr-defined]
                )
        summaries = {s.series_id: s for s in summarize(series, self.runtime.cases)}
        views = []
        for s in series:
            members = [by_id[c] for c in s.case_ids if c in by_id]
            summary = summaries.get(s.series_id)
            views.append(
                SeriesView(
                    series_id=s.series_id,
                    case_ids=tuple(s.case_ids),
                    evidence=tuple(e.detail for e in s.evidence),
                    counties=tuple(sorted({m.county for m in members})),
                    total_loss_cny=sum(m.loss_cny for m in members),
                    updated_at=max((m.reported_at for m in members), default=None),
                    links=tuple(links.get(s.series_id, ())),
                    key_entities=summary.key_entities if summary else (),
                    categories=tuple(sorted({m.category for m in members})),
                )
            )
        views.sort(
            key=lambda v: (v.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), len(v.case_ids)),
            reverse=True,
        )
        self._series, self._series_of, self._series_key = views, series_of, key

    def _linked_at(self, cases: list[Case]) -> dict[str, dt.datetime]:
        reported = {c.case_id: c.reported_at for c in cases}
        earliest: dict[str, dt.datetime] = {}
        for (a, b), _link in self._accepted_links():
            if a not in reported or b not in reported:
                continue
            both = max(reported[a], reported[b])
            for c in (a, b):
                if c not in earliest or both < earliest[c]:
                    earliest[c] = both
        members: dict[str, list[str]] = {}
        for cid, sid in self._series_of.items():
            if cid in reported:
                members.setdefault(sid, []).append(cid)
        for cid, sid in self._series_of.items():
            if cid in reported and cid not in earliest:
                mates = [reported[m] for m in members[sid] if m != cid]
                if mates:
                    earliest[cid] = max(reported[cid], min(mates))
        now = self.now()
        for cid in self._series_of:
            if cid not in self._observed and cid in self._seen_unlinked:
                self._observed[cid] = now
        self._seen_unlinked = {cid for cid in reported if cid not in self._series_of}
        return {**earliest, **self._observed}

    def _snapshot(self) -> None:
        with self._lock:
            key = self.version()
            if key == self._cases_key:
                return
            self._refresh_series()
            cases = self.runtime.cases.cases()
            linked_at = self._linked_at(cases)
            views = [_view(c, self._series_of, linked_at) for c in cases]
            views.sort(key=lambda c: c.reported_at)
            totals = self.runtime.ingestor.totals
            self._stats = Stats(
                messages_accepted=totals.accepted,
                duplicates=totals.duplicates,
                deadlettered=totals.deadlettered,
                cases=len(views),
                sightings=sum(self.runtime.cases.sighting_counts().values()),
                series=len(self._series),
                losses_cny=sum(c.loss_cny for c in cases),
                by_category=dict(Counter(c.category for c in cases)),
            )
            self._teams = self._team_views()
            self._cases, self._cases_key = views, key

    def _team_views(self) -> list[TeamView]:
        teams = self.runtime.cases.teams()
        placed = [t for t in teams if t.lon is not None and t.lat is not None]
        counties = (
            self.runtime.cases.index.counties_of([t.lon for t in placed], [t.lat for t in placed])
            if placed
            else []
        )
        where = {t.team_id: int(c) for t, c in zip(placed, counties, strict=True)}
        return [
            TeamView(t.team_id, t.status, t.lon, t.lat, t.at, where.get(t.team_id, 0))
            for t in sorted(teams, key=lambda t: t.team_id)
        ]

    # -- StateReader ----------------------------------------------------------
    def cases(
        self, since: dt.datetime | None = None, categories: frozenset[str] | None = None
    ) -> list[CaseView]:
        self._snapshot()
        return [
            c
            for c in self._cases
            if (since is None or c.reported_at >= since)
            and (categories is None or c.category in categories)
        ]

    def series(self) -> list[SeriesView]:
        self._snapshot()
        return list(self._series)

    def teams(self) -> list[TeamView]:
        self._snapshot()
        return list(self._teams)

    def stats(self) -> Stats:
        self._snapshot()
        return self._stats

    def case_detail(self, case_id: str) -> CaseDetail | None:
        self._snapshot()
        case = self.runtime.cases.get(case_id)
        if case is None:
            return None
        view = next((c for c in self._cases if c.case_id == case_id), None)
        if view is None:
            view = _view(case, self._series_of, {})
        return CaseDetail(
            case=view,
            persons=tuple(
                PersonView(
                    p.role,
                    p.name,
                    p.id_number,
                    p.phone,
                    p.dob.isoformat() if p.dob else None,
                    p.gender,
                )
                for p in case.persons
            ),
            vehicles=tuple((v.role, v.plate) for v in case.vehicles),
            mo=tuple(case.mo),
            narrative=self._narrative(case.report_ids),
        )

    def _narrative(self, report_ids: list[str]) -> str | None:
        """The narratives of a case's reports, from the journal (the case book keeps none)."""
        path = self.runtime.settings.journal_path
        try:
            if self._journal is None:
                self._journal = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, check_same_thread=False
                )
            keys = [f"incident:{r}" for r in report_ids]
            marks = ",".join("?" * len(keys))
            with self._lock:
                rows = self._journal.execute(
                    f"SELECT payload FROM journal WHERE kind = 'incident' AND key IN ({marks})"
                    " ORDER BY seq",
                    keys,
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read narratives from %s: %s", path, exc)
            return None
        texts = []
        for (payload,) in rows:
            with contextlib.suppress(ValueError, TypeError):
                text = json.loads(bytes(payload)).get("narrative")
                if text:
                    texts.append(str(text))
        return "\n\n".join(texts) or None
