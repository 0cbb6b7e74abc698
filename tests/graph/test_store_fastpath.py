"""The store's validation fast path and the sinks' caches give what the full computation gives.

``node_rows``/``relationship_rows`` check plain rows by type alone and send every other row
through the full checks; here each row of a varied set (good and bad) is validated both ways
and must give the same result or the same error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from graph.cases import CaseBook
from graph.persons.blocking import _sorted_unique
from graph.persons.normalize import _han_pinyin
from graph.store.schema import (
    RELATIONSHIPS,
    RelRow,
    _node_row,
    _relationship_row,
    node_rows,
    relationship_rows,
)


class _Str(str):
    pass


_VALUES = [None, "x", "", 0, 7, -3, True, False, 1.5, math.nan, math.inf, np.float64(2.5),
           np.int64(3), ["a", "b"], [], [1, "a"], [1, 2], [1.0, math.nan], ["a", _Str("b")],
           [["a"]], ("a", "b"), {"a": 1}, b"x", _Str("s")]  # fmt: skip
_KEYS = ["A", "", 5, True, None, _Str("B"), 5.0, "330211"]


def _outcome(fn, *args):  # noqa: ANN001, ANN202
    try:
        return ("ok", fn(*args))
    except (ValueError, TypeError) as e:
        return (type(e).__name__, str(e))


def _node_cases():  # noqa: ANN202
    for label in ("Case", "Jurisdiction", "Vehicle"):
        prop = {"Case": "case_id", "Jurisdiction": "adcode", "Vehicle": "plate"}[label]
        for key in _KEYS:
            yield label, {prop: key, "p": "v"}
            for value in _VALUES:
                yield label, {prop: key, "p": value, "q": 1}
        yield label, {"p": 1}
        yield label, {prop: "A", "": 1}
        yield label, {prop: "A", 3: 1}
        yield label, {prop: "A", _Str("n"): 1}
        yield label, "not a row"
        yield label, {prop: 330211 if label == "Jurisdiction" else "A"}


@pytest.mark.parametrize(("label", "row"), list(_node_cases()))
def test_node_rows_fast_path_equals_the_full_checks(label: str, row: object) -> None:
    fast = _outcome(node_rows, label, [row])
    full = _outcome(lambda: [_node_row(label, 0, row)])
    assert fast == full
    if fast[0] == "ok":  # same objects too (lists are stored as given)
        ((_, props),) = fast[1]
        ((_, ref),) = full[1]
        assert [type(v) for v in props.values()] == [type(v) for v in ref.values()]
        for name, value in props.items():
            if isinstance(row[name], list):
                assert value is row[name]  # a list is stored as the caller gave it


def _rel_cases():  # noqa: ANN202
    ends = {
        "INVOLVED_IN": [("Vehicle", "浙B1"), ("Person", "P1"), ("Case", "A"), (None, "x")],
        "SEEN_NEAR": [("Phone", "138"), (None, "138"), ("Mac", "")],
        "IN": [("Case", "A"), ("Checkpoint", "c"), (None, "A")],
        "PART_OF": [(None, 330211), ("Jurisdiction", 330200), (None, "330211"), (None, True)],
        "LINKED": [(None, "A"), (None, ""), (None, None), ("Case", _Str("A"))],
    }
    dsts = {"INVOLVED_IN": "B", "SEEN_NEAR": "B", "IN": 330211, "PART_OF": 330000,
            "LINKED": "B"}  # fmt: skip
    for rel_type, options in ends.items():
        for src_label, src in options:
            base = {"src": src, "dst": dsts[rel_type]}
            if src_label is not None:
                base["src_label"] = src_label
            if rel_type == "INVOLVED_IN":
                for role in ("suspect", "", None, 3, True, _Str("r")):
                    yield rel_type, {**base, "role": role, "w": 0.5}
            for value in _VALUES:
                yield rel_type, {**base, "role": "r", "p": value}
            yield rel_type, {**base, "dst_label": "Series"}
            yield rel_type, {**base, "dst": None}
            yield rel_type, {k: v for k, v in base.items() if k != "src"}
        yield rel_type, ["not", "a", "dict"]


@pytest.mark.parametrize(("rel_type", "row"), list(_rel_cases()))
def test_relationship_rows_fast_path_equals_the_full_checks(rel_type: str, row: object) -> None:
    fast = _outcome(relationship_rows, rel_type, [row])
    full = _outcome(lambda: [_relationship_row(RELATIONSHIPS[rel_type], 0, row)])
    assert fast == full
    if fast[0] == "ok":
        (r,) = fast[1]
        assert type(r) is RelRow and r == full[1][0] and repr(r) == repr(full[1][0])


def test_a_bad_row_is_named_by_its_position_behind_good_ones() -> None:
    rows = [{"src_label": "Phone", "src": "1", "dst": "A", "w": 1.0}] * 3
    with pytest.raises(ValueError, match="SEEN_NEAR row 3: missing 'src_label'"):
        relationship_rows("SEEN_NEAR", [*rows, {"src": "1", "dst": "A"}])
    with pytest.raises(TypeError, match=r"Case row 2: property 'x'"):
        node_rows("Case", [{"case_id": "A"}, {"case_id": "B"}, {"case_id": "C", "x": {1: 2}}])


def test_sorted_unique_is_numpy_unique() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 5, 64, 300, 2000):
        for hi in (1, 10, 10_000):
            a = rng.integers(-1, hi, n).astype(np.int64)
            got = _sorted_unique(a)
            assert got.dtype == np.int64 and np.array_equal(got, np.unique(a))
            assert not np.shares_memory(got, a)


def test_cached_pinyin_equals_the_uncached_reading() -> None:
    for text in ("建华", "欧阳", "重庆", "单", "曾", "乐乐", "𠀋", "", "张伟", "建华"):
        assert _han_pinyin(text) == _han_pinyin.__wrapped__(text)


def test_casebook_city_cache_equals_the_index() -> None:
    book = CaseBook()
    for county in (330211, 330102, 330211, 0):
        assert book._city_of(county) == book.index.city_of_county(county)
    with pytest.raises(KeyError):
        book._city_of(110105)


def test_networkx_store_fills_the_graph_as_networkx_would() -> None:
    """Nodes and edges are written into the graph's dicts directly: the result must be the
    graph networkx's own add_node/add_edge build, key dicts shared by both ends included."""
    import networkx as nx

    from graph.store import ChangeSet, NetworkxStore

    store = NetworkxStore()
    for step in range(2):
        cs = ChangeSet()
        for code in (330000, 330200, 330211):
            cs.merge_node("Jurisdiction", {"adcode": code, "level": "x", "step": step})
        cs.merge_rel("PART_OF", {"src": 330211, "dst": 330200})
        cs.merge_rel("PART_OF", {"src": 330000, "dst": 330000})  # a self-loop
        for case_id in ("A", "B"):
            cs.merge_node("Case", {"case_id": case_id, "loss_cny": None if step else 1.0})
        cs.merge_node("Vehicle", {"plate": "浙B1"})
        for role in ("suspect", "involved"):
            cs.merge_rel("INVOLVED_IN", {"src_label": "Vehicle", "src": "浙B1", "dst": "A",
                                         "role": role, "step": step})  # fmt: skip
        cs.merge_rel("LINKED", {"src": "A", "dst": "B", "probability": 0.5 + step / 4})
        store.apply(cs)
    store.delete_relationships("LINKED", [{"src": "A", "dst": "B"}])
    store.merge_relationships("LINKED", [{"src": "A", "dst": "B", "probability": 0.9}])

    g = store.graph
    ref = nx.MultiDiGraph()
    for node, data in g.nodes(data=True):
        ref.add_node(node, props=dict(data["props"]))
    for a, b, k, data in g.edges(keys=True, data=True):
        ref.add_edge(a, b, key=k, type=data["type"], props=dict(data["props"]))
    assert nx.utils.graphs_equal(g, ref)
    assert g._succ == ref._succ and g._pred == ref._pred and g._node == ref._node
    assert list(g._succ) == list(ref._succ)  # node order too
    for a, out in g._succ.items():
        for b, keydict in out.items():
            assert g._pred[b][a] is keydict
    counts = store.counts()
    assert counts.nodes["Jurisdiction"] == 3 and counts.nodes["Case"] == 2
    assert counts.relationships["INVOLVED_IN"] == 2 and counts.relationships["PART_OF"] == 2
    assert counts.relationships["LINKED"] == 1
    assert store.node("Case", "A").props == {"case_id": "A"}  # loss_cny removed by None


def test_a_batchs_incidents_from_its_columns_equal_the_scan() -> None:
    """batch_incidents reads a MessageBatch's other messages: the same reports, in order,
    as scanning the messages (a plain list is scanned)."""
    import json

    from graph.cases import batch_incidents
    from ingest.batch import MessageBatch
    from ingest.models import Incident, parse_message
    from tests.factories import incident, sighting, team_status

    raw = [sighting("s1"), incident("r1"), team_status("t1"), sighting("s2"), incident("r2"),
           incident("r3"), sighting("s3")]  # fmt: skip
    messages = [parse_message(json.dumps(m)) for m in raw]
    scanned = [m for m in messages if isinstance(m, Incident)]
    batch = MessageBatch(messages, [m.event_time.timestamp() for m in messages])
    assert [m.report_id for m in scanned] == ["r1", "r2", "r3"]
    for given in (messages, batch, batch):  # the batch's cached columns read twice
        got = batch_incidents(given)
        assert len(got) == len(scanned) and all(a is b for a, b in zip(got, scanned, strict=True))
    assert batch_incidents([]) == [] and batch_incidents(MessageBatch([], [])) == []


def test_merged_relationship_properties_equal_merging_into_a_dict() -> None:
    """A new relationship takes its validated row's properties without a copy: the stored
    properties must be what merging each row into an empty dict gives (None removes),
    identity first, and must not be the caller's dict."""
    from graph.store import NetworkxStore
    from graph.store.nxstore import _update

    store = NetworkxStore()
    store.merge_nodes("Case", [{"case_id": c} for c in "ABC"])
    store.merge_nodes("Vehicle", [{"plate": "浙B1"}])
    linked = [{"src": "A", "dst": "B", "p": 0.5, "q": None},
              {"src": "A", "dst": "C", "p": 0.1},
              {"src": "A", "dst": "B", "q": "x", "p": None},
              {"src": "B", "dst": "C", "r": ["a"]}]  # fmt: skip
    involved = [{"src_label": "Vehicle", "src": "浙B1", "dst": "A", "role": "r", "w": 1.0},
                {"src_label": "Vehicle", "src": "浙B1", "dst": "A", "role": "r", "w": None},
                {"src_label": "Vehicle", "src": "浙B1", "dst": "B", "role": "s", "w": None}]  # fmt: skip
    for rel_type, rows, identity in (("LINKED", linked, ()), ("INVOLVED_IN", involved, ("role",))):
        for row in rows:  # one at a time, and all again in one call (merging again: the same)
            store.merge_relationships(rel_type, [row])
        store.merge_relationships(rel_type, rows)
        want: dict[tuple, dict] = {}
        for row in [*rows, *rows]:
            key = (row["src"], row["dst"], *(row[n] for n in identity))
            props = want.setdefault(key, {n: row[n] for n in identity})
            _update(
                props,
                {k: v for k, v in row.items() if k not in ("src", "dst", "src_label", *identity)},
            )
        got = {(a[1], b[1], *k[1]): d["props"] for a, b, k, d in store.graph.edges(keys=True, data=True)
               if d["type"] == rel_type}  # fmt: skip
        assert got == want
        assert [list(p) for p in got.values()] == [list(want[k]) for k in got]  # key order too
    row = {"src": "C", "dst": "A", "p": 1.0}
    store.merge_relationships("LINKED", [row])
    row["p"] = 99.0  # the caller's row is not what the store holds
    assert store.graph.edges[("Case", "C"), ("Case", "A"), ("LINKED", ())]["props"] == {"p": 1.0}


def test_a_missing_end_is_named_by_its_row_behind_good_ones() -> None:
    from graph.store import NetworkxStore

    store = NetworkxStore()
    store.merge_nodes("Case", [{"case_id": "A"}, {"case_id": "B"}])
    rows = [{"src": "A", "dst": "B"}] * 2
    with pytest.raises(ValueError, match="LINKED row 2: dst Case case_id='NOPE' does not exist"):
        store.merge_relationships("LINKED", [*rows, {"src": "A", "dst": "NOPE"}])
    with pytest.raises(ValueError, match="LINKED row 1: src Case case_id='X' does not exist"):
        store.merge_relationships("LINKED", [rows[0], {"src": "X", "dst": "NOPE"}])
    assert store.counts().relationships["LINKED"] == 0


def test_a_kept_mention_view_equals_one_built_anew() -> None:
    """PersonResolver.view keeps each row's view: it must be the view built from the row."""
    from graph.persons.resolver import PersonResolver

    resolver = PersonResolver()
    people = [
        {"role": "suspect", "name": "张伟", "phone": "+86 138-1234-5678",
         "id_number": "11010519491231002X"},
        {"role": "suspect", "name": "張偉", "phone": "13812345678"},
        {"role": "victim", "name": "Wei Zhang", "id_number": "110105194912"},
        {"role": "suspect", "name": "李娜"},
    ]  # fmt: skip
    resolver.resolve(people[:2], ["A", "B"])
    first = resolver.view(np.int64(0))
    resolver.resolve(people[2:], ["C", "D"])
    assert resolver.view(0) is first
    for row in range(len(resolver)):
        assert resolver.view(row) == resolver._view(row)
        assert resolver.view(row) is resolver.view(np.int64(row))
    with pytest.raises(ValueError, match="row: got 4"):
        resolver.view(4)
