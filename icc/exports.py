"""Exports of a series in the formats analysts' tools read (``icc export series``).

* **GraphML** (:func:`to_graphml`) - cases, the entities involved in them or seen near
  them (persons, vehicles, phones, MACs, organisations) and the links, with
  probability and evidence as attributes; opens in Gephi and yEd;
* **GeoJSON** (:func:`to_geojson`) - scenes as points with the case's properties,
  links as LineStrings between scenes; opens in QGIS;
* **CSV** (:func:`write_csv`) - one row per case, and beside it
  ``<stem>_evidence.csv`` with one row per evidence sentence of each link;
* **HTML** (:func:`to_html`) - a printable, self-contained brief: summary, an inline
  SVG map of the scenes over the county outlines, a timeline of the case windows,
  the cases and the evidence. It requests nothing from outside (no scripts, fonts,
  images or tiles) and escapes every text it shows.

Everything is built from one :class:`SeriesBundle` (:func:`bundle`), read from a
:class:`~icc.runtime.Runtime`: the series, its cases, its accepted links and the
entities the graph store holds next to its cases. Person identifiers are the
graph store's (masked).

Example
-------
>>> b = bundle(runtime, "S-0001")  # doctest: +SKIP
>>> write_export(b, "graphml", Path("S-0001.graphml"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import html
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from graph.cases import Case
from graph.linkage import Link
from graph.series import Series
from graph.summary import SeriesSummary, summarize

if TYPE_CHECKING:
    from icc.runtime import Runtime

__all__ = [
    "FORMATS",
    "EntityTie",
    "SeriesBundle",
    "bundle",
    "export_series_files",
    "to_geojson",
    "to_graphml",
    "to_html",
    "write_csv",
    "write_export",
]

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {
    "graphml": ".graphml",
    "geojson": ".geojson",
    "csv": ".csv",
    "html": ".html",
}
_ENTITY_LABELS = ("Person", "Vehicle", "Phone", "Mac", "Organisation")
_ENTITY_TYPES = ("INVOLVED_IN", "SEEN_NEAR")


@dataclass(frozen=True)
class EntityTie:
    """An entity next to a case in the graph store: ``(label, key)`` through ``rel_type``."""

    case_id: str
    label: str
    key: str
    rel_type: str
    role: str | None
    props: dict[str, Any]

    @property
    def node_id(self) -> str:
        return f"{self.label}:{self.key}"


@dataclass(frozen=True)
class SeriesBundle:
    """Everything an export of one series shows."""

    series: Series
    summary: SeriesSummary
    cases: list[Case]
    links: list[Link]
    entities: list[EntityTie]
    county_names: dict[int, str]
    province: int

    @property
    def series_id(self) -> str:
        return self.series.series_id


def bundle(runtime: Runtime, series_id: str) -> SeriesBundle:
    """The cases, accepted links and entities of ``series_id``. O(cases x neighbours + links).

    ``ValueError`` naming the series and the known ids if there is no such series.
    """
    current = {s.series_id: s for s in runtime.series}
    series = current.get(series_id)
    if series is None:
        known = ", ".join(sorted(current)[:10]) or "none"
        raise ValueError(f"unknown series {series_id!r}: expected one of {known}")
    members = set(series.case_ids)
    cases = [c for c in (runtime.cases.get(cid) for cid in series.case_ids) if c is not None]
    threshold = runtime.linker.model.threshold
    links = sorted(
        (
            k
            for (a, b), k in list(runtime.linker.links.items())
            if a in members and b in members and k.probability >= threshold
        ),
        key=lambda k: k.pair,
    )
    entities: list[EntityTie] = []
    for case in cases:
        for nb in runtime.graph.neighbours("Case", case.case_id):
            if nb.type in _ENTITY_TYPES and nb.node.label in _ENTITY_LABELS:
                role = nb.props.get("role")
                entities.append(
                    EntityTie(
                        case.case_id,
                        nb.node.label,
                        str(nb.node.key),
                        nb.type,
                        str(role) if role is not None else None,
                        dict(nb.node.props),
                    )
                )
    names = _county_names(runtime.settings.province)
    (summary,) = summarize([series], runtime.cases)
    return SeriesBundle(series, summary, cases, links, entities, names, runtime.settings.province)


def _county_names(province: int) -> dict[int, str]:
    from geo.layers import county_outlines

    return {
        int(f["properties"]["adcode"]): str(f["properties"]["name"])
        for f in county_outlines(province)["features"]
    }


def _iso(t: dt.datetime | None) -> str:
    return t.isoformat() if t is not None else ""


def _evidence_text(link: Link) -> str:
    return " | ".join(f"[{kind}] {text}" for kind, text in link.evidence)


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _case_props(case: Case, b: SeriesBundle) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "series_id": b.series_id,
        "category": case.category,
        "county": case.county,
        "county_name": b.county_names.get(case.county, ""),
        "city": case.city,
        "address": case.address or "",
        "reported_at": _iso(case.reported_at),
        "occurred_start": _iso(case.occurred_start),
        "occurred_end": _iso(case.occurred_end),
        "loss_cny": float(case.loss_cny),
        "mo": "; ".join(case.mo),
        "reports": len(case.report_ids),
        "lon": float(case.lon),
        "lat": float(case.lat),
    }


# -- GraphML -----------------------------------------------------------------------------------
def to_graphml(b: SeriesBundle) -> nx.Graph:
    """The series as a graph: ``Case`` and entity nodes (``label`` attribute), ``LINKED``
    edges between cases (``probability``, ``evidence``, ``features`` as JSON) and
    ``INVOLVED_IN`` / ``SEEN_NEAR`` edges from entities to cases (``role``). Attribute values
    are scalars (lists joined with ``"; "``), as GraphML needs."""
    g = nx.Graph(name=b.series_id, series_id=b.series_id)
    for case in b.cases:
        g.add_node(f"Case:{case.case_id}", label="Case", name=case.case_id, **_case_props(case, b))
    for tie in b.entities:
        if tie.node_id not in g:
            attrs = {k: _scalar(v) for k, v in tie.props.items() if v is not None}
            attrs.update(label=tie.label, name=str(tie.props.get("name") or tie.key), key=tie.key)
            g.add_node(tie.node_id, **attrs)
        edge = (tie.node_id, f"Case:{tie.case_id}")
        if g.has_edge(*edge):
            prev = g.edges[edge]
            prev["type"] = "; ".join(sorted({*prev["type"].split("; "), tie.rel_type}))
            if tie.role and tie.role not in prev["role"].split("; "):
                prev["role"] = "; ".join(x for x in (prev["role"], tie.role) if x)
        else:
            g.add_edge(*edge, type=tie.rel_type, role=tie.role or "")
    for link in b.links:
        g.add_edge(
            f"Case:{link.case_a}",
            f"Case:{link.case_b}",
            type="LINKED",
            role="",
            probability=float(link.probability),
            evidence=_evidence_text(link),
            evidence_kinds="; ".join(sorted({k for k, _ in link.evidence})),
            features=json.dumps(link.features, sort_keys=True),
        )
    return g


# -- GeoJSON -----------------------------------------------------------------------------------
def to_geojson(b: SeriesBundle) -> dict[str, Any]:
    """A FeatureCollection (WGS 84): one Point per scene, one LineString per accepted link."""
    features: list[dict[str, Any]] = []
    where = {c.case_id: (float(c.lon), float(c.lat)) for c in b.cases}
    for case in b.cases:
        props = _case_props(case, b)
        props["feature"] = "scene"
        features.append(
            {
                "type": "Feature",
                "id": case.case_id,
                "geometry": {"type": "Point", "coordinates": list(where[case.case_id])},
                "properties": props,
            }
        )
    for link in b.links:
        if link.case_a not in where or link.case_b not in where:
            continue
        features.append(
            {
                "type": "Feature",
                "id": f"{link.case_a}--{link.case_b}",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [list(where[link.case_a]), list(where[link.case_b])],
                },
                "properties": {
                    "feature": "link",
                    "series_id": b.series_id,
                    "case_a": link.case_a,
                    "case_b": link.case_b,
                    "probability": float(link.probability),
                    "evidence": _evidence_text(link),
                },
            }
        )
    return {"type": "FeatureCollection", "name": b.series_id, "features": features}


# -- CSV ---------------------------------------------------------------------------------------
CASE_COLUMNS = (
    "series_id",
    "case_id",
    "category",
    "county",
    "county_name",
    "city",
    "address",
    "lon",
    "lat",
    "reported_at",
    "occurred_start",
    "occurred_end",
    "loss_cny",
    "mo",
    "reports",
)
EVIDENCE_COLUMNS = ("series_id", "case_a", "case_b", "probability", "kind", "evidence")


def evidence_path(path: Path) -> Path:
    """Where :func:`write_csv` puts the evidence beside the cases file."""
    return path.with_name(f"{path.stem}_evidence{path.suffix or '.csv'}")


def write_csv(b: SeriesBundle, path: Path) -> list[Path]:
    """Cases to ``path`` and evidence to :func:`evidence_path`, UTF-8 with BOM (Excel opens
    Chinese text correctly). Returns both paths."""
    path = Path(path)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CASE_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for case in b.cases:
            w.writerow(_case_props(case, b))
    ev = evidence_path(path)
    with ev.open("w", encoding="utf-8-sig", newline="") as fh:
        w2 = csv.writer(fh)
        w2.writerow(EVIDENCE_COLUMNS)
        for link in b.links:
            for kind, text in link.evidence:
                w2.writerow(
                    [b.series_id, link.case_a, link.case_b, f"{link.probability:.4f}", kind, text]
                )
    return [path, ev]


# -- HTML brief --------------------------------------------------------------------------------
_MAP_W, _MAP_H = 640.0, 480.0
_PALETTE = ("#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98", "#117a65", "#884ea0")

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:20px 0 6px;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;font-size:12px} td,th{border:1px solid #bbb;padding:3px 5px;
text-align:left;vertical-align:top} .meta{color:#555;font-size:12px} ol{font-size:12px}
svg{border:1px solid #999;background:#f7f7f4} .county{fill:#fff;stroke:#9a9a9a;stroke-width:.6}
.scene{stroke:#000;stroke-width:.8} .link{stroke:#555;stroke-dasharray:4 3}
.lbl{font-size:10px} @media print{body{margin:8mm} h2{page-break-after:avoid}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Frame:
    """Equirectangular projection of a lon/lat box into the SVG viewport (aspect kept)."""

    def __init__(self, lons: Sequence[float], lats: Sequence[float]) -> None:
        pad = max(0.04, 0.2 * max(max(lons) - min(lons), max(lats) - min(lats)))
        lo_x, hi_x = min(lons) - pad, max(lons) + pad
        lo_y, hi_y = min(lats) - pad, max(lats) + pad
        kx = math.cos(math.radians((lo_y + hi_y) / 2))
        span_x, span_y = (hi_x - lo_x) * kx, hi_y - lo_y
        self.scale = min((_MAP_W - 20) / span_x, (_MAP_H - 20) / span_y)
        self.kx, self.lo_x, self.hi_y = kx, lo_x, hi_y
        self.box = (lo_x, lo_y, hi_x, hi_y)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (10 + (lon - self.lo_x) * self.kx * self.scale, 10 + (self.hi_y - lat) * self.scale)


def _rings(geometry: dict[str, Any]) -> Iterable[list[list[float]]]:
    polys = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    for poly in polys:
        yield from poly


def _svg_map(b: SeriesBundle) -> str:
    from geo.layers import county_outlines

    if not b.cases:
        return "<p>No scenes.</p>"
    frame = _Frame([c.lon for c in b.cases], [c.lat for c in b.cases])
    lo_x, lo_y, hi_x, hi_y = frame.box
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_MAP_W:.0f}" height="{_MAP_H:.0f}" '
        f'viewBox="0 0 {_MAP_W:.0f} {_MAP_H:.0f}" role="img" aria-label="map of the scenes">'
    ]
    for f in county_outlines(b.province)["features"]:
        rings = list(_rings(f["geometry"]))
        xs = [p[0] for r in rings for p in r]
        ys = [p[1] for r in rings for p in r]
        if max(xs) < lo_x or min(xs) > hi_x or max(ys) < lo_y or min(ys) > hi_y:
            continue
        d = " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (frame.xy(*p) for p in ring)) + " Z"
            for ring in rings
        )
        name = _e(f["properties"]["name"])
        parts.append(f'<path class="county" d="{d}"><title>{name}</title></path>')
    where = {c.case_id: frame.xy(c.lon, c.lat) for c in b.cases}
    for link in b.links:
        if link.case_a in where and link.case_b in where:
            (x1, y1), (x2, y2) = where[link.case_a], where[link.case_b]
            parts.append(
                f'<line class="link" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}">'
                f"<title>{_e(link.case_a)} – {_e(link.case_b)}: p = {link.probability:.2f}</title>"
                "</line>"
            )
    for i, case in enumerate(b.cases):
        x, y = where[case.case_id]
        color = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f'<circle class="scene" cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{color}">'
            f"<title>{_e(case.case_id)} {_e(case.address or '')}</title></circle>"
            f'<text class="lbl" x="{x + 8:.1f}" y="{y + 4:.1f}">{i + 1}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_timeline(b: SeriesBundle) -> str:
    if not b.cases:
        return ""
    t0 = min(c.occurred_start for c in b.cases)
    t1 = max(max(c.occurred_end, c.reported_at) for c in b.cases)
    span = max((t1 - t0).total_seconds(), 3600.0)
    left, width, row = 190.0, 430.0, 22.0
    height = 30 + row * len(b.cases)

    def x(t: dt.datetime) -> float:
        return left + (t - t0).total_seconds() / span * width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="timeline of the cases">'
    ]
    for k in range(5):
        t = t0 + dt.timedelta(seconds=span * k / 4)
        xx = x(t)
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        parts.append(
            f'<line x1="{xx:.1f}" y1="14" x2="{xx:.1f}" y2="{height:.0f}" stroke="#ddd"/>'
            f'<text class="lbl" x="{xx:.1f}" y="11" text-anchor="{anchor}">'
            f"{_e(t.strftime('%m-%d %H:%M'))}</text>"
        )
    order = sorted(range(len(b.cases)), key=lambda i: b.cases[i].occurred_start)
    for r, i in enumerate(order):
        case = b.cases[i]
        y = 22 + r * row
        color = _PALETTE[i % len(_PALETTE)]
        x0, x1 = x(case.occurred_start), x(case.occurred_end)
        parts.append(
            f'<text class="lbl" x="4" y="{y + 10:.1f}">{i + 1}. {_e(case.case_id)}</text>'
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 2):.1f}" height="12" '
            f'fill="{color}" opacity=".75"><title>{_e(_iso(case.occurred_start))} – '
            f"{_e(_iso(case.occurred_end))}</title></rect>"
            f'<path d="M{x(case.reported_at):.1f},{y - 2:.1f} v16" stroke="#000" '
            f'stroke-width="1.5"><title>reported {_e(_iso(case.reported_at))}</title></path>'
        )
    parts.append("</svg>")
    return "".join(parts)


def to_html(b: SeriesBundle, generated_at: dt.datetime | None = None) -> str:
    """A printable, self-contained HTML brief of the series (every text escaped)."""
    s = b.summary
    now = generated_at or dt.datetime.now(dt.UTC)
    counties = ", ".join(b.county_names.get(c, str(c)) for c in s.counties)
    rows = []
    for i, c in enumerate(b.cases):
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{_e(v)}</td>"
                for v in (
                    i + 1,
                    c.case_id,
                    c.category,
                    b.county_names.get(c.county, c.county),
                    c.address or "",
                    f"{c.occurred_start:%Y-%m-%d %H:%M} – {c.occurred_end:%Y-%m-%d %H:%M}",
                    f"{c.loss_cny:,.0f}",
                    ", ".join(c.mo),
                )
            )
            + "</tr>"
        )
    evidence = [f"<li>[{_e(e.kind)}] {_e(e.detail)}</li>" for e in b.series.evidence]
    link_rows = [
        f"<tr><td>{_e(k.case_a)}</td><td>{_e(k.case_b)}</td><td>{k.probability:.3f}</td>"
        f"<td>{_e(_evidence_text(k))}</td></tr>"
        for k in b.links
    ]
    entities = sorted({(t.label, str(t.props.get("name") or t.key)) for t in b.entities})
    ent_items = [f"<li>{_e(label)}: {_e(name)}</li>" for label, name in entities[:40]]
    first = f"{s.first:%Y-%m-%d}" if s.first else "-"
    last = f"{s.last:%Y-%m-%d}" if s.last else "-"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">',
            f"<title>Series {_e(b.series_id)} – brief</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>Series {_e(b.series_id)}: {s.cases} linked cases</h1>",
            f'<p class="meta">{_e(", ".join(s.categories))} · {_e(first)} to {_e(last)} · '
            f"{_e(counties)} · total loss ¥{s.total_loss_cny:,.0f} · "
            f"generated {_e(now.isoformat(timespec='seconds'))}</p>",
            f"<p>Key entities: {_e(', '.join(s.key_entities) or '-')}</p>",
            "<h2>Map</h2>",
            _svg_map(b),
            "<h2>Timeline</h2>",
            '<p class="meta">bars: occurred windows; black ticks: reported</p>',
            _svg_timeline(b),
            "<h2>Cases</h2><table><thead><tr><th>#</th><th>case</th><th>category</th>"
            "<th>county</th><th>address</th><th>window</th><th>loss ¥</th><th>MO</th></tr>"
            "</thead><tbody>",
            *rows,
            "</tbody></table>",
            "<h2>Evidence</h2><ol>",
            *evidence,
            "</ol>",
            "<h2>Links</h2><table><thead><tr><th>case</th><th>case</th><th>p</th>"
            "<th>evidence</th></tr></thead><tbody>",
            *link_rows,
            "</tbody></table>",
            "<h2>Entities</h2><ul>",
            *ent_items,
            "</ul></body></html>\n",
        ]
    )


# -- files -------------------------------------------------------------------------------------
def write_export(b: SeriesBundle, fmt: str, path: Path) -> list[Path]:
    """Write one series in ``fmt`` (one of :data:`FORMATS`) to ``path``; the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "graphml":
        nx.write_graphml(to_graphml(b), path, encoding="utf-8")
        return [path]
    if fmt == "geojson":
        path.write_text(json.dumps(to_geojson(b), ensure_ascii=False), encoding="utf-8")
        return [path]
    if fmt == "csv":
        return write_csv(b, path)
    path.write_text(to_html(b), encoding="utf-8")
    return [path]


def export_series_files(
    runtime: Runtime,
    series_ids: Sequence[str] | None,
    fmt: str,
    out: Path,
    actor: str | None = None,
) -> list[Path]:
    """Export series to files: one series to the file ``out``, or - with ``series_ids`` None
    (every series) - one file per series named ``<series_id><ext>`` in the directory ``out``.

    Each export is recorded in the audit trail (it shows person data).
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    ids = sorted(s.series_id for s in runtime.series) if series_ids is None else list(series_ids)
    written: list[Path] = []
    for sid in ids:
        b = bundle(runtime, sid)
        target = Path(out) / f"{sid}{FORMATS[fmt]}" if series_ids is None else Path(out)
        paths = write_export(b, fmt, target)
        written.extend(paths)
        if runtime.tasking is not None:
            runtime.tasking.audit.record(
                "export.series",
                actor=actor or getpass.getuser(),
                role="cli",
                at=dt.datetime.now(dt.UTC),
                series_id=sid,
                case_ids=b.series.case_ids,
                detail=f"{fmt} to {', '.join(str(p) for p in paths)}",
            )
    log.info("exported %d series as %s: %d files", len(ids), fmt, len(written))
    return written
