"""Series: sets of two or more cases attributed to the same offender(s), and their export.

The linkage core (issues 4-6) produces :class:`Series`; until it lands the
pipeline has none, and the export is a valid, empty list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Evidence", "Series", "export_series"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason cases are linked, in words a case officer would write."""

    kind: str  # vehicle, phone, person, mo, ...
    detail: str


@dataclass(frozen=True)
class Series:
    series_id: str
    case_ids: tuple[str, ...]
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)


def export_series(series: Iterable[Series]) -> dict:
    """The batch-mode output of CONTRACT.md: ``{"series": [{series_id, case_ids, evidence}]}``.

    Series with fewer than two cases are not series and are left out.
    """
    out = []
    for s in sorted(series, key=lambda s: s.series_id):
        if len(s.case_ids) < 2:
            continue
        out.append(
            {
                "series_id": s.series_id,
                "case_ids": sorted(s.case_ids),
                "evidence": [{"kind": e.kind, "detail": e.detail} for e in s.evidence],
            }
        )
    return {"series": out}
