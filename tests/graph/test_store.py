"""The graph store, on both backends: the networkx store always; Neo4j against a real server.

Neo4j runs when ``NEO4J_URI`` (with ``NEO4J_USER``/``NEO4J_PASSWORD``) is set. The
tests delete every node with an ICC label (and only those) before and after
each test, so they refuse to run - skip - on a database that already holds
ICC graph data unless ``NEO4J_TEST_WIPE_OK=1`` says it is a disposable one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.store import ChangeSet, GraphSnapshot, GraphStore, NetworkxStore
from icc.config import Settings
from icc.runtime import Runtime
from ingest.sources import RawMessage, batched
from tests.factories import incident

BACKENDS = ("networkx", "neo4j")


# -- fixtures ----------------------------------------------------------------------------
def _neo4j_credentials() -> tuple[str, str, str]:
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.skip(
            "NEO4J_URI is not set: the Neo4j backend is tested against a real Neo4j 5 server "
            "only (set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD)"
        )
    return uri, os.environ.get("NEO4J_USER") or "neo4j", os.environ.get("NEO4J_PASSWORD") or ""


def _open_neo4j() -> GraphStore:
    """A Neo4j store with no ICC data, or a skip if it holds some and wiping is not allowed."""
    from graph.store.neo4jstore import Neo4jStore

    uri, user, password = _neo4j_credentials()
    store = Neo4jStore(uri, user, password)
    if not os.environ.get("NEO4J_TEST_WIPE_OK") and any(store.counts().nodes.values()):
        store.close()
        pytest.skip(
            f"Neo4j at {uri} already holds ICC graph data; the tests delete it, so they run "
            "only on a database without ICC nodes or with NEO4J_TEST_WIPE_OK=1"
        )
    store.clear()
    return store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str) -> Iterator[GraphStore]:
    if backend == "networkx":
        yield NetworkxStore()
        return
    s = _open_neo4j()
    try:
        yield s
    finally:
        s.clear()
        s.close()


def _settings(backend: str, data_dir: Path) -> Settings:
    if backend == "networkx":
        return Settings(data_dir=data_dir)
    _open_neo4j().close()  # the safety check; Runtime.open(reset=True) clears the ICC labels
    uri, user, password = _neo4j_credentials()
    return Settings(
        data_dir=data_dir,
        graph_backend="neo4j",
        neo4j_uri=uri,
        neo4j_user=user,
        neo4j_password=password,
    )


@pytest.fixture
def runtime(backend: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(_settings(backend, tmp_path / "state"), reset=True)
    try:
        yield rt
    finally:
        if backend == "neo4j":
            rt.graph.clear()
        rt.close()


def feed(runtime: Runtime, messages: list[dict], batch_size: int = 1000) -> None:
    raws = [
        RawMessage(json.dumps(m, ensure_ascii=False).encode("utf-8"), "test", str(i))
        for i, m in enumerate(messages)
    ]
    for chunk in batched(raws, batch_size):
        runtime.ingestor.process(chunk)


# -- rows used by the store-level tests --------------------------------------------------
def _batch() -> ChangeSet:
    cs = ChangeSet()
    for code, level, parent in ((330000, "province", 0), (330200, "city", 330000),
                                (330211, "county", 330200)):  # fmt: skip
        cs.merge_node("Jurisdiction", {"adcode": code, "level": level, "parent": parent})
        if parent:
            cs.merge_rel("PART_OF", {"src": code, "dst": parent})
    for case_id in ("A", "B", "C"):
        cs.merge_node("Case", {"case_id": case_id, "category": "theft.fuel", "mo": ["night"]})
        cs.merge_rel("IN", {"src_label": "Case", "src": case_id, "dst": 330211})
    cs.merge_node("Vehicle", {"plate": "浙B12345"})
    for case_id, role in (("A", "suspect"), ("B", "suspect"), ("B", "involved")):
        cs.merge_rel(
            "INVOLVED_IN", {"src_label": "Vehicle", "src": "浙B12345", "dst": case_id, "role": role}
        )
    cs.merge_rel(
        "SEEN_NEAR",
        {"src_label": "Vehicle", "src": "浙B12345", "dst": "C", "checkpoint": "CP-1",
         "dist_m": 410.0, "offset_s": 780, "weight": 1.25},
    )  # fmt: skip
    cs.merge_rel("LINKED", _linked("A", "B", 0.93, "浙B12345 seen 500 m from scene A"))
    cs.merge_rel("LINKED", _linked("A", "C", 0.71, "浙B12345 seen 410 m from scene C"))
    cs.merge_node("Series", {"series_id": "S-0001", "size": 3})
    for case_id in ("A", "B", "C"):
        cs.merge_rel("MEMBER_OF", {"src": case_id, "dst": "S-0001"})
    return cs


def _linked(a: str, b: str, p: float, sentence: str) -> dict:
    return {
        "src": a,
        "dst": b,
        "probability": p,
        "features": json.dumps({"st_best": 2.5, "same_category": 1.0}),
        "evidence": json.dumps([["vehicle", sentence]], ensure_ascii=False),
    }


def _keys(snap: GraphSnapshot) -> tuple[set, set]:
    return set(snap.nodes), set(snap.relationships)


# -- store-level behaviour ----------------------------------------------------------------
def test_merging_the_same_batch_twice_changes_nothing(store: GraphStore) -> None:
    store.apply(_batch())
    first, counts = store.snapshot(), store.counts()
    store.apply(_batch())
    for label, rows in _batch().node_merges.items():  # and row by row through the batch API
        store.merge_nodes(label, rows)
    for rel_type, rows in _batch().rel_merges.items():
        store.merge_relationships(rel_type, rows)
    again = store.snapshot()
    assert again.nodes == first.nodes
    assert again.relationships == first.relationships
    assert store.counts() == counts
    assert counts.nodes["Case"] == 3 and counts.nodes["Jurisdiction"] == 3
    assert counts.relationships["INVOLVED_IN"] == 3  # one per (vehicle, case, role)
    assert counts.relationships["LINKED"] == 2 and counts.relationships["MEMBER_OF"] == 3


def test_a_links_probability_and_evidence_read_back_from_either_case(store: GraphStore) -> None:
    store.apply(_batch())
    links = store.links_of("A")
    assert [(k.other, k.probability) for k in links] == [("B", 0.93), ("C", 0.71)]  # best first
    assert links[0].features == {"st_best": 2.5, "same_category": 1.0}
    assert links[0].evidence == [("vehicle", "浙B12345 seen 500 m from scene A")]
    (back,) = store.links_of("B")
    assert (back.case_id, back.other, back.probability) == ("B", "A", 0.93)
    assert store.links_of("no such case") == []


def test_neighbours_by_type_and_direction(store: GraphStore) -> None:
    store.apply(_batch())
    county_cases = store.neighbours("Jurisdiction", 330211, "IN", "in")
    assert sorted(n.node.key for n in county_cases) == ["A", "B", "C"]
    assert all(n.node.label == "Case" and not n.outgoing for n in county_cases)
    (up,) = store.neighbours("Jurisdiction", 330211, "PART_OF", "out")
    assert (up.node.key, up.node.props["level"]) == (330200, "city")
    roles = sorted(
        (n.node.key, n.props["role"]) for n in store.neighbours("Case", "B", "INVOLVED_IN")
    )
    assert roles == [("浙B12345", "involved"), ("浙B12345", "suspect")]
    (near,) = store.neighbours("Vehicle", "浙B12345", "SEEN_NEAR", "out")
    assert near.node.key == "C"
    assert {k: near.props[k] for k in ("checkpoint", "dist_m", "offset_s")} == {
        "checkpoint": "CP-1", "dist_m": 410.0, "offset_s": 780}  # fmt: skip
    assert store.neighbours("Case", "A", "MEMBER_OF", "in") == []
    assert len(store.neighbours("Case", "A")) == 5  # IN, INVOLVED_IN, 2 LINKED, MEMBER_OF
    assert store.node("Case", "A").props == {"case_id": "A", "category": "theft.fuel",
                                             "mo": ["night"]}  # fmt: skip
    assert store.node("Case", "Z") is None


def test_properties_merge_and_none_removes_one(store: GraphStore) -> None:
    store.merge_nodes("Case", [{"case_id": "A", "category": "theft.fuel", "loss_cny": 10.0}])
    store.merge_nodes("Case", [{"case_id": "A", "loss_cny": None, "reports": 2}])
    assert store.node("Case", "A").props == {"case_id": "A", "category": "theft.fuel", "reports": 2}


def test_deleting_a_series_and_a_membership(store: GraphStore) -> None:
    store.apply(_batch())
    store.delete_relationships("MEMBER_OF", [{"src": "C", "dst": "S-0001"}])
    assert store.series_members("S-0001") == ["A", "B"]
    store.delete_nodes("Series", ["S-0001", "S-9999"])
    assert store.node("Series", "S-0001") is None
    assert store.series_members("S-0001") == []
    counts = store.counts()
    assert counts.nodes["Series"] == 0 and counts.relationships["MEMBER_OF"] == 0
    assert counts.nodes["Case"] == 3  # a series' cases stay


@pytest.mark.parametrize(
    ("call", "args", "error", "message"),
    [
        ("merge_nodes", ("Suspect", [{"case_id": "A"}]), ValueError, "unknown node label 'Suspect'"),
        ("merge_nodes", ("Case", [{"category": "theft"}]), ValueError, "missing key property 'case_id'"),
        ("merge_nodes", ("Case", [{"case_id": ""}]), ValueError, "case_id=''; expected a non-empty str"),
        ("merge_nodes", ("Jurisdiction", [{"adcode": "330211"}]), ValueError, "expected an int"),
        ("merge_nodes", ("Case", [{"case_id": "A", "x": {"a": 1}}]), TypeError, "property 'x'"),
        ("merge_nodes", ("Case", {"case_id": "A"}), TypeError, "expected a list of dict rows"),
        ("merge_relationships", ("KNOWS", [{"src": "A", "dst": "B"}]), ValueError,
         "unknown relationship type 'KNOWS'"),
        ("merge_relationships", ("INVOLVED_IN", [{"src": "x", "dst": "A", "role": "r"}]),
         ValueError, "missing 'src_label'; expected one of Person, Vehicle, Organisation"),
        ("merge_relationships", ("INVOLVED_IN", [{"src_label": "Vehicle", "src": "x", "dst": "A"}]),
         ValueError, "identity property role=None"),
        ("merge_relationships", ("LINKED", [{"src": "A"}]), ValueError,
         "missing 'dst'; expected the case_id of a Case node"),
        ("merge_relationships", ("LINKED", [{"src": "A", "dst": "NOPE"}]), ValueError,
         "does not exist"),
        ("neighbours", ("Case", "A", "LINKED", "sideways"), ValueError, "direction='sideways'"),
    ],
)  # fmt: skip
def test_bad_input_raises_naming_the_value_and_what_was_expected(
    store: GraphStore, call: str, args: tuple, error: type, message: str
) -> None:
    store.merge_nodes("Case", [{"case_id": "A"}])
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(store, call)(*args)


def test_a_change_set_with_a_bad_row_changes_nothing(store: GraphStore) -> None:
    store.merge_nodes("Case", [{"case_id": "A"}])
    before = store.snapshot()
    cs = ChangeSet()
    cs.merge_node("Case", {"case_id": "B"})
    cs.merge_rel("LINKED", {"src": "A", "dst": "B", "probability": 0.9})
    cs.merge_rel("MEMBER_OF", {"src": "A", "dst": "S-404"})  # no such series
    with pytest.raises(ValueError, match="does not exist"):
        store.apply(cs)
    assert store.snapshot() == before


# -- the sink, through a runtime ----------------------------------------------------------
SUSPECT = {"role": "suspect", "name": "张伟", "phone": "+86 138-1234-5678",
           "id_number": "11010519491231002X"}  # fmt: skip


def test_a_case_appears_with_its_persons_vehicles_and_jurisdiction(runtime: Runtime) -> None:
    persons = [SUSPECT, {"role": "reporter", "name": "李强"}]
    feed(runtime, [incident("ZJ-1", persons=persons),
                   incident("ZJ-1-sup", case_id="ZJ-1", reported_at="2026-03-02T11:00:00+08:00",
                            persons=[], vehicles=[{"role": "suspect", "plate": "浙b·8k321"}])])  # fmt: skip
    g = runtime.graph
    case = g.node("Case", "ZJ-1").props
    assert (case["category"], case["county"], case["reports"]) == ("theft.fuel", 330211, 2)
    assert case["mo"] == ["night", "target.truck", "tool.siphon"]
    involved = {(n.node.label, n.node.key, n.props["role"])
                for n in g.neighbours("Case", "ZJ-1", "INVOLVED_IN", "in")}  # fmt: skip
    assert involved == {
        ("Vehicle", "浙B7K321", "victim"),
        ("Vehicle", "浙B8K321", "suspect"),  # the plate as the space-time core normalises it
        ("Organisation", "name:宁波镇海港通物流有限公司", "victim"),
        ("Person", "ZJ-1#1", "reporter"),  # the resolver only resolves suspects
        ("Person", "R0", "suspect"),
    }
    (mention,) = g.neighbours("Person", "R0", "RESOLVED_TO", "in")
    assert mention.node.props["case_id"] == "ZJ-1"
    assert mention.node.props["phone"] == "138****5678"  # masked as the resolver masks it
    assert mention.node.props["id_number"] == "110105********002X"
    person = g.node("Person", "R0").props
    assert person["resolved"] is True and person["phone"] == "138****5678"
    stored = json.dumps(list(g.snapshot().nodes.values()), ensure_ascii=False)
    assert "13812345678" not in stored and "11010519491231002X" not in stored
    (county,) = g.neighbours("Case", "ZJ-1", "IN", "out")
    assert (county.node.key, county.node.props["name"]) == (330211, "镇海区")
    (city,) = g.neighbours("Jurisdiction", 330211, "PART_OF", "out")
    assert (city.node.key, city.node.props["name"], city.node.props["parent"]) == (
        330200, "宁波市", 330000)  # fmt: skip


def test_the_same_suspect_in_two_cases_is_one_person_involved_in_both(runtime: Runtime) -> None:
    other = {**SUSPECT, "name": "Zhang Wei", "id_number": None}
    feed(runtime, [incident("ZJ-1", persons=[SUSPECT]),
                   incident("ZJ-2", lon=121.55, lat=29.87, persons=[other])])  # fmt: skip
    g = runtime.graph
    people = {n.node.key for c in ("ZJ-1", "ZJ-2") for n in g.neighbours("Case", c, "INVOLVED_IN")
              if n.node.label == "Person"}  # fmt: skip
    assert people == {"R0"}
    assert sorted(n.node.key for n in g.neighbours("Person", "R0", "RESOLVED_TO")) == ["m0", "m1"]
    assert g.node("Person", "R0").props["mentions"] == 2


def test_a_series_created_split_and_dissolved_updates_member_of(runtime: Runtime) -> None:
    cases = [f"ZJ-{i}" for i in range(4)]
    feed(runtime, [incident(c, lon=121.70 + i / 100) for i, c in enumerate(cases)])
    linker, g = runtime.linker, runtime.graph
    a, b, c, d = cases

    def settle(accepted: dict) -> dict[str, list[str]]:
        """Drive the real series tracker as Linker.apply does, then let the sink write."""
        if linker.tracker.update(accepted, set(accepted)):
            linker.version += 1
        runtime.graph_sink.apply([])
        want = {sid: sorted(m) for sid, m in linker.tracker.series.items()}
        assert {sid: g.series_members(sid) for sid in want} == want
        assert g.counts().nodes["Series"] == len(want)
        assert g.counts().relationships["MEMBER_OF"] == sum(map(len, want.values()))
        return want

    (whole,) = settle({(a, b): 0.95, (b, c): 0.95, (c, d): 0.95}).values()
    assert whole == cases
    split = settle({(a, b): 0.95, (c, d): 0.95})  # the middle link is gone
    assert sorted(split.values()) == [[a, b], [c, d]]
    assert settle({}) == {}  # dissolved: no Series node left


# -- a scenario through the whole pipeline ------------------------------------------------
@pytest.fixture(scope="module")
def scenario_messages() -> list[dict]:
    from ingest.scenario import generate

    return generate(seed=21, days=1.0, scale=0.1).messages


def _without_series_ids(snap: GraphSnapshot) -> tuple[set, set, set]:
    """Node and relationship keys with series as groups of cases: series ids and link scores
    depend on where micro-batches end (a restart replays in chunks of 5000)."""
    nodes = {k for k in snap.nodes if k[0] != "Series"}
    rels = {k for k in snap.relationships if k[0] != "MEMBER_OF"}
    groups: dict = {}
    for kind, (_, case_id), (_, sid), _ in snap.relationships:
        if kind == "MEMBER_OF":
            groups.setdefault(sid, set()).add(case_id)
    return nodes, rels, {frozenset(g) for g in groups.values()}


def test_a_replayed_scenario_gives_the_runtimes_series_and_the_same_graph_after_a_restart(
    backend: str, tmp_path: Path, scenario_messages: list[dict]
) -> None:
    settings = _settings(backend, tmp_path / "state")
    runtime = Runtime.open(settings, reset=True)
    try:
        feed(runtime, scenario_messages)
        g = runtime.graph
        series = {s.series_id: sorted(s.case_ids) for s in runtime.series}
        assert len(series) >= 3
        assert {sid: g.series_members(sid) for sid in series} == series
        assert g.counts().nodes["Series"] == len(series)
        threshold = runtime.linker.model.threshold
        accepted = {p: k.probability for p, k in runtime.linker.links.items()
                    if k.probability >= threshold}  # fmt: skip
        stored = {(k[1][1], k[2][1]): v["probability"]
                  for k, v in g.snapshot().relationships.items() if k[0] == "LINKED"}  # fmt: skip
        assert stored == accepted
        counts = g.counts()
        assert counts.nodes["Case"] == len(runtime.cases)
        assert counts.relationships["SEEN_NEAR"] > 0 and counts.nodes["Checkpoint"] > 0
        live = _without_series_ids(g.snapshot())
        assert runtime.graph_sink.timing()["batches"] > 0
    finally:
        runtime.close()
    again = Runtime.open(settings)  # rebuilt from the journal
    try:
        assert _without_series_ids(again.graph.snapshot()) == live
        assert {tuple(sorted(s.case_ids)) for s in again.series} == {
            tuple(m) for m in series.values()
        }
    finally:
        if backend == "neo4j":
            again.graph.clear()
        again.close()
