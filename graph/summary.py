"""Series summaries and change events, for the dashboard and tasking.

A :class:`SeriesSummary` is what a commander needs to decide on a tiered plan:
how many cases, over which days, in which counties and cities, the total loss,
the categories, and the key entities (vehicles, phones, suspects) named by the
evidence. :class:`SeriesEvent` records that a series was created, updated or
dissolved, with its summary at that moment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from graph.cases import CaseBook
from graph.series import Series

__all__ = ["SeriesEvent", "SeriesSummary", "summarize"]

_PLATE = re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}")


@dataclass(frozen=True)
class SeriesSummary:
    series_id: str
    cases: int
    first: dt.datetime | None  # earliest occurred_start
    last: dt.datetime | None  # latest occurred_end
    counties: tuple[int, ...]
    cities: tuple[int, ...]
    total_loss_cny: float
    categories: tuple[str, ...]
    key_entities: tuple[
        str, ...
    ]  # plates and other identifiers named in the evidence, most cited first

    @property
    def span_days(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first).total_seconds() / 86400.0


@dataclass(frozen=True)
class SeriesEvent:
    kind: str  # created | updated | dissolved
    series_id: str
    case_ids: tuple[str, ...]


def _entities(series: Series) -> tuple[str, ...]:
    cited: Counter[str] = Counter()
    for ev in series.evidence:
        head = ev.detail.split(" seen ", 1)[0].split(" travelled ", 1)[0]
        if ev.kind in ("vehicle", "phone"):
            cited[head] += 1
        elif ev.kind == "companion":
            cited.update(_PLATE.findall(head))
        elif ev.kind == "person":
            cited[ev.detail.split(" (case", 1)[0].split(" ", 1)[-1]] += 1
    return tuple(name for name, _ in cited.most_common(8))


def summarize(series: Iterable[Series], cases: CaseBook) -> list[SeriesSummary]:
    """One summary per series, largest and newest first. O(cases in the series)."""
    out = []
    for s in series:
        members = [c for c in (cases.get(cid) for cid in s.case_ids) if c is not None]
        out.append(
            SeriesSummary(
                series_id=s.series_id,
                cases=len(s.case_ids),
                first=min((c.occurred_start for c in members), default=None),
                last=max((c.occurred_end for c in members), default=None),
                counties=tuple(sorted({c.county for c in members if c.county})),
                cities=tuple(sorted({c.city for c in members if c.city})),
                total_loss_cny=float(sum(c.loss_cny for c in members)),
                categories=tuple(sorted({c.category for c in members})),
                key_entities=_entities(s),
            )
        )
    out.sort(key=lambda x: (-x.cases, -(x.last.timestamp() if x.last else 0.0)))
    return out
