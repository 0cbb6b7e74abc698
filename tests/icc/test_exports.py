"""Series exports, each read back by the parser an analyst's tool would use."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pytest

from graph.series import Evidence
from icc.cli import main
from icc.config import Settings
from icc.exports import (
    CASE_COLUMNS,
    EVIDENCE_COLUMNS,
    SeriesBundle,
    bundle,
    evidence_path,
    export_series_files,
    write_export,
)
from icc.runtime import Runtime

EVIL = "<script>alert('x')</script> & \"quoted\""


@pytest.fixture(scope="module")
def runtime(
    replayed_scenario: tuple[Path, dict, dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    """The replayed state, copied (exports write audit entries), rebuilt once per module."""
    base, _, _ = replayed_scenario
    state = tmp_path_factory.mktemp("exports") / "state"
    shutil.copytree(base / "state", state)
    rt = Runtime.open(Settings(data_dir=state))
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def rich(runtime: Runtime) -> SeriesBundle:
    """The series with the most entities around its cases (vehicles seen near the scenes)."""
    bundles = [bundle(runtime, s.series_id) for s in runtime.series]
    return max(bundles, key=lambda b: (len(b.entities), len(b.cases)))


def test_unknown_series_is_a_value_error(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="unknown series 'S-9999': expected one of S-0001"):
        bundle(runtime, "S-9999")


def test_graphml_reads_back_with_networkx(rich: SeriesBundle, tmp_path: Path) -> None:
    (path,) = write_export(rich, "graphml", tmp_path / "s.graphml")
    g = nx.read_graphml(path)
    labels = nx.get_node_attributes(g, "label")
    cases = {n for n, lab in labels.items() if lab == "Case"}
    assert {g.nodes[n]["case_id"] for n in cases} == set(rich.series.case_ids)
    assert set(labels.values()) - {"Case"} <= {"Person", "Vehicle", "Phone", "Mac", "Organisation"}
    assert len(labels) > len(cases), "entities around the cases are exported"
    linked = [(a, b, d) for a, b, d in g.edges(data=True) if d["type"] == "LINKED"]
    assert len(linked) == len(rich.links) > 0
    for a, b, d in linked:
        assert a in cases and b in cases
        assert isinstance(d["probability"], float) and 0.0 < d["probability"] <= 1.0
        assert d["evidence"].startswith("[") and d["features"].startswith("{")
    for a, b, d in g.edges(data=True):
        if d["type"] != "LINKED":
            assert set(d["type"].split("; ")) <= {"INVOLVED_IN", "SEEN_NEAR"}
            assert (a in cases) != (b in cases), "entity edges join an entity and a case"
    case = next(iter(cases))
    assert isinstance(g.nodes[case]["lon"], float) and isinstance(g.nodes[case]["county"], int)
    if any(t.rel_type == "SEEN_NEAR" for t in rich.entities):
        assert any("SEEN_NEAR" in d["type"] for *_, d in g.edges(data=True))


def test_geojson_reads_back_with_geopandas(rich: SeriesBundle, tmp_path: Path) -> None:
    (path,) = write_export(rich, "geojson", tmp_path / "s.geojson")
    df = gpd.read_file(path)
    assert df.crs is not None and df.crs.to_epsg() == 4326
    points = df[df.geom_type == "Point"]
    lines = df[df.geom_type == "LineString"]
    assert set(points["case_id"]) == set(rich.series.case_ids)
    assert len(lines) == len(rich.links)
    for case in rich.cases:
        row = points[points["case_id"] == case.case_id].iloc[0]
        assert (row.geometry.x, row.geometry.y) == pytest.approx((case.lon, case.lat))
        assert row["category"] == case.category and row["series_id"] == rich.series_id
    assert (lines["probability"] > 0).all() and (lines["evidence"].str.len() > 0).all()


def test_csv_of_cases_and_evidence(rich: SeriesBundle, tmp_path: Path) -> None:
    paths = write_export(rich, "csv", tmp_path / "s.csv")
    assert paths == [tmp_path / "s.csv", evidence_path(tmp_path / "s.csv")]
    with paths[0].open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CASE_COLUMNS
        rows = list(reader)
    assert {r["case_id"] for r in rows} == set(rich.series.case_ids)
    assert all(r["series_id"] == rich.series_id and r["county_name"] for r in rows)
    with paths[1].open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == EVIDENCE_COLUMNS
        evidence = list(reader)
    assert len(evidence) == sum(len(k.evidence) for k in rich.links) > 0
    assert {e["evidence"] for e in evidence} == {t for k in rich.links for _, t in k.evidence}


class _Brief(HTMLParser):
    """Collects tags, outside references and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Brief:
    parser = _Brief()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_html_brief_is_self_contained_and_complete(rich: SeriesBundle, tmp_path: Path) -> None:
    (path,) = write_export(rich, "html", tmp_path / "brief.html")
    page = _parse(path)
    assert page.tags.count("svg") == 2  # the map and the timeline
    assert page.tags.count("circle") == len(rich.cases)
    assert page.tags.count("path") > len(rich.cases)  # county outlines and report ticks
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert page.refs == [], "the brief requests nothing"
    text = "".join(page.text)
    for case in rich.cases:
        assert case.case_id in text
    for e in rich.series.evidence:
        assert e.detail in text


def test_html_brief_escapes_every_text(rich: SeriesBundle, tmp_path: Path) -> None:
    first = dataclasses.replace(rich.cases[0], address=EVIL, mo=[EVIL])
    series = dataclasses.replace(rich.series, evidence=(Evidence("person", EVIL),))
    evil = dataclasses.replace(rich, cases=[first, *rich.cases[1:]], series=series)
    (path,) = write_export(evil, "html", tmp_path / "evil.html")
    raw = path.read_text(encoding="utf-8")
    assert "<script" not in raw
    page = _parse(path)
    assert "script" not in page.tags
    assert EVIL in "".join(page.text)  # shown as text, literally
    # and the machine-readable formats carry it verbatim
    (gj,) = write_export(evil, "geojson", tmp_path / "evil.geojson")
    assert EVIL in set(gpd.read_file(gj)["address"])
    (gm,) = write_export(evil, "graphml", tmp_path / "evil.graphml")
    assert EVIL in set(nx.get_node_attributes(nx.read_graphml(gm), "address").values())


def test_export_all_writes_one_file_per_series_and_audits(runtime: Runtime, tmp_path: Path) -> None:
    before = len(runtime.tasking.audit) if runtime.tasking else 0
    written = export_series_files(runtime, None, "geojson", tmp_path / "all", actor="analyst")
    ids = sorted(s.series_id for s in runtime.series)
    assert [p.name for p in written] == [f"{sid}.geojson" for sid in ids]
    assert all(len(gpd.read_file(p)) >= 2 for p in written)
    assert runtime.tasking is not None
    assert len(runtime.tasking.audit) == before + len(ids)
    with pytest.raises(ValueError, match="export format 'pdf'"):
        export_series_files(runtime, ids[:1], "pdf", tmp_path / "x.pdf")


def test_icc_export_cli(
    replayed_scenario: tuple[Path, dict, dict],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, _, exported = replayed_scenario
    state = tmp_path / "state"
    shutil.copytree(base / "state", state)
    monkeypatch.setenv("ICC_DATA_DIR", str(state))
    monkeypatch.setenv("COLUMNS", "200")
    sid = exported["series"][0]["series_id"]
    out = tmp_path / "brief.html"
    assert main(["export", "series", sid, "--format", "html", "--out", str(out)]) == 0
    assert out.is_file() and "wrote 1 file" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a series id and --all together
        main(["export", "series", sid, "--all", "--format", "csv", "--out", str(tmp_path)])
