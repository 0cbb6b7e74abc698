"""Streaming person resolution (graph.persons.resolver): streaming == batch, decoys, bridges,
the size cap, bad input and the case-evidence hook."""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

from graph.persons import encode_persons, normalize_person
from graph.persons.compare import FIELDS, LEVELS
from graph.persons.em import FellegiSunter
from graph.persons.resolver import (
    PersonResolver,
    PersonStore,
    Resolution,
    ResolverConfig,
    default_person_model,
    fit_person_model,
    person_evidence,
    resolve_batch,
)


def _scenario_people(seed: int, n_people: int) -> tuple[list[dict], list[str], list[int]]:
    """Several writings of each of ``n_people`` people (styles, phone formats, ID forms)."""
    from ingest.scenario.names import COMMON_NAMES, NAME_STYLES
    from ingest.scenario.people import ID_FORMS, PHONE_FORMATS, PersonFactory, mention

    rng = np.random.default_rng(seed)
    factory = PersonFactory(rng, (330102, 330203, 330782, 330106, 330327))
    out, cases, truth = [], [], []
    for k in range(n_people):
        if k % 4 == 0:  # a quarter carry the commonest names
            name, gender = COMMON_NAMES[k % len(COMMON_NAMES)]
            p = factory.new(name=name, gender=gender)
        else:
            p = factory.new()
        for _ in range(int(rng.integers(1, 4))):
            out.append(
                mention(
                    p, "suspect", rng,
                    name_style=NAME_STYLES[int(rng.integers(len(NAME_STYLES)))],
                    phone_format=PHONE_FORMATS[int(rng.integers(8))] if rng.random() < 0.7 else None,
                    id_form=ID_FORMS[int(rng.integers(len(ID_FORMS)))],
                    with_dob=rng.random() < 0.3,
                    with_gender=rng.random() < 0.5,
                )
            )  # fmt: skip
            cases.append(f"C{len(out):04d}")
            truth.append(k)
    order = rng.permutation(len(out))
    return [out[i] for i in order], [cases[i] for i in order], [truth[i] for i in order]


def _pairs(labels: list[int]) -> set[tuple[int, int]]:
    groups = collections.defaultdict(list)
    for i, c in enumerate(labels):
        groups[c].append(i)
    return {p for g in groups.values() for p in itertools.combinations(g, 2)}


@pytest.fixture(scope="module")
def people() -> tuple[list[dict], list[str], list[int]]:
    return _scenario_people(9, 300)


def test_streaming_equals_batch(people: tuple) -> None:
    mentions, cases, _ = people
    batch, out_b = resolve_batch(mentions, cases)
    stream = PersonResolver(capacity=4)  # grows many times
    out_s = [stream.add(m, c) for m, c in zip(mentions, cases, strict=True)]
    assert np.array_equal(batch.clusters(), stream.clusters())
    assert [r.key() for r in out_b] == [r.key() for r in out_s]
    assert out_b == out_s  # same floats and evidence too
    # a micro-batch on a non-empty resolver takes the index path: same again
    half = len(mentions) // 2
    mixed = PersonResolver()
    out_m = mixed.resolve(mentions[:half], cases[:half]) + mixed.resolve(
        mentions[half:], cases[half:]
    )
    assert [r.key() for r in out_m] == [r.key() for r in out_b]


def test_quality_and_no_common_name_merges(people: tuple) -> None:
    from ingest.scenario.names import COMMON_NAMES

    mentions, cases, truth = people
    resolver, out = resolve_batch(mentions, cases)
    pred, want = _pairs(resolver.clusters().tolist()), _pairs(truth)
    assert len(pred - want) == 0  # no false merge at all
    assert len(pred & want) / len(want) > 0.7  # the rest share nothing but a name (and dob)
    # pairs that share an identifier (and no conflicting one) are found, directly or via others
    linkable = set()
    for i, j in want:
        lv = {f: level for f, level, _ in resolver.explain(i, j)}
        shared = lv["id"] in ("typo", "compatible", "exact") or lv["phone"] in ("last8", "exact")
        if shared and lv["id"] != "conflict" and lv["name"] not in ("disagree", "missing"):
            linkable.add((i, j))
    assert len(linkable) > 100
    assert len(linkable & pred) / len(linkable) >= 0.98
    common = {n for n, _ in COMMON_NAMES}
    assert not any(mentions[i]["name"] in common for i, j in pred - want)
    assert {r.action for r in out} <= {"start", "join", "link"}


def test_common_name_decoys_never_merge() -> None:
    r = PersonResolver()
    decoys = [
        {"role": "suspect", "name": "张伟", "phone": "13812345678", "dob": "1985-01-02",
         "id_number": "330102198501021234"},
        {"role": "suspect", "name": "张伟", "phone": "13987654321", "dob": "1990-07-08",
         "id_number": "330203199007085678"},
        {"role": "suspect", "name": "张 伟", "phone": "+86 150-0000-1111"},
        {"role": "suspect", "name": "Zhang Wei", "dob": "1979-12-30"},
        {"role": "suspect", "name": "张伟"},
        {"role": "suspect", "name": "张玮"},
        {"role": "suspect", "name": "ZHANG Wei", "gender": "M"},
    ]  # fmt: skip
    out = [r.add(m, f"case-{k}") for k, m in enumerate(decoys)]
    assert len(set(r.clusters().tolist())) == len(decoys)
    assert all(o.action in ("start", "link") for o in out)
    # the name alone is listed for review, never joined
    assert out[4].action == "link" and all(m.reason == "weak" for m in out[4].possible)
    # the same 张伟 again with his phone does join
    again = r.add({"role": "suspect", "name": "章伟", "phone": "138-1234-5678"}, "case-9")
    assert again.action == "join" and again.cluster == out[0].cluster


def _toy_model() -> FellegiSunter:
    """Round weights (nats) for the structural tests; prior 0.5 (log-odds = weight)."""
    w = {
        "name": [-1, 0, 0, 1, 2, 2],
        "id": [0, 6, 8, 10],
        "phone": [0, 3, 3],
        "dob": [-2, 0, 0, 1, 2],
        "gender": [-1, 0],
    }
    width = max(len(v) for v in w.values())
    m = np.zeros((len(FIELDS), width))
    u = np.zeros_like(m)
    for f, name in enumerate(FIELDS):
        half = np.array(w[name], float) / 2  # ln(m / u) = w with m, u <= 1
        m[f, : half.size] = np.exp(half - 5.1)
        u[f, : half.size] = np.exp(-half - 5.1)
    return FellegiSunter(FIELDS, tuple(LEVELS[f] for f in FIELDS), m, u, 0.5)


def test_weak_bridge_is_cut() -> None:
    cfg = ResolverConfig(
        join_log_odds=0.0, min_identifying_weight=3.0, bridge_log_odds=8.0, link_log_odds=-5.0
    )
    r = PersonResolver(_toy_model(), cfg)
    a1 = r.add({"role": "suspect", "name": "李娜", "id_number": "330102********1238"}, "A1")
    a2 = r.add({"role": "suspect", "name": "李娜", "id_number": "330102********1238"}, "A2")
    b1 = r.add({"role": "suspect", "name": "王芳", "id_number": "330203********5670",
                "phone": "13800001111"}, "B1")  # fmt: skip
    b2 = r.add({"role": "suspect", "name": "王芳", "id_number": "330203********5670"}, "B2")
    assert a2.action == b2.action == "join" and a2.cluster != b2.cluster
    # x: strong to A (ID compatible, 10) and weak to B (same phone only, 3): B is cut off again
    x = r.add({"role": "suspect", "name": "李娜", "id_number": "330102********1238",
               "phone": "13800001111"}, "X")  # fmt: skip
    assert x.action == "join" and x.cluster == a1.cluster
    assert set(x.members) == {a1.row, a2.row, x.row}
    assert len(x.split) == 1 and set(r.members(x.split[0])) == {b1.row, b2.row}
    assert [(m.row, m.reason) for m in x.possible] == [(b1.row, "weak_bridge")]
    assert r.edges(x.cluster) and all(w >= 8 for _, _, w in r.edges(x.cluster))
    # the public splitter cuts nothing more at this threshold, and a higher one is harmless
    assert r.split_weak_bridges(x.cluster) == []
    assert r.split_weak_bridges(x.cluster, threshold=100.0) == []  # parts of one are kept


def test_cluster_size_cap() -> None:
    cfg = ResolverConfig(max_cluster_size=3)
    r = PersonResolver(config=cfg)
    same = {"role": "suspect", "name": "刘洋", "phone": "13912345678"}
    out = [r.add(dict(same), f"case-{k}") for k in range(5)]
    assert [o.action for o in out[:3]] == ["start", "join", "join"]
    assert out[3].action == "link" and out[3].possible[0].reason == "cluster_full"
    assert len(r.members(out[0].cluster)) == 3
    assert out[4].cluster == out[3].cluster  # the overflow starts a cluster of its own
    with pytest.raises(ValueError, match="max_cluster_size"):
        ResolverConfig(max_cluster_size=1)


def test_id_conflict_blocks_a_merge() -> None:
    r = PersonResolver()
    a = r.add({"role": "suspect", "name": "陈静", "id_number": "330102198501021234",
               "phone": "13800002222"}, "A")  # fmt: skip
    b = r.add({"role": "suspect", "name": "陈静", "id_number": "330203199007085678"}, "B")
    c = r.add({"role": "suspect", "name": "陈静", "id_number": "330203199007085678",
               "phone": "13800002222"}, "C")  # fmt: skip
    assert c.cluster != a.cluster or b.cluster != a.cluster
    assert {a.cluster, b.cluster} != {c.cluster}


def test_bad_input_is_flagged_not_raised() -> None:
    r = PersonResolver()
    bad = [
        {"role": "suspect", "name": ""},
        {"role": "suspect", "name": "不详", "phone": "n/a"},
        {"role": "suspect", "name": "李娜", "id_number": "33010219900307123"},  # 17 digits
        {"role": "suspect", "name": "李娜", "dob": "2099-13-45"},
        {"role": "suspect", "name": "李娜", "dob": "1850-01-01", "gender": "x"},
        {"role": "suspect", "name": None, "id_number": 12345},
        {"role": "witness", "name": "王某", "phone": "0571-8765 4321"},
        {"name": "张伟", "id_number": "330102199003071239"},  # bad check digit, no role
    ]
    out = [r.add(m, f"case-{k}") for k, m in enumerate(bad)]
    flags = [o.flags for o in out]
    assert "empty_name" in flags[0] and "empty_name" in flags[1]
    assert "id_malformed" in flags[2]
    assert "dob_unparseable" in flags[3]
    assert "absurd_dob" in flags[4] and "gender_unparseable" in flags[4]
    assert "id_malformed" in flags[5]
    assert "name_placeholder" in flags[6]
    assert "id_bad_check" in flags[7]
    assert all(o.action in ("start", "link") for o in out)
    assert out[0].mention.name == "(no name)"
    with pytest.raises(TypeError, match="PersonMention"):
        r.add(42, "case-x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="case_ids"):
        r.add({"role": "suspect", "name": "李娜"}, 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one each"):
        r.resolve([{"name": "李娜"}], ["a", "b"])


def test_person_evidence_sentences_mask_identifiers() -> None:
    r = PersonResolver()
    r.add({"role": "suspect", "name": "张伟", "phone": "138 1234 5678",
           "id_number": "330203199001011235"}, "ZJ-A")  # fmt: skip
    r.add({"role": "victim", "name": "张伟", "phone": "13812345678"}, "ZJ-V")
    res = r.add({"role": "suspect", "name": "张玮", "phone": "+86 138-1234-5678",
                 "id_number": "330203********1235"}, "ZJ-B")  # fmt: skip
    assert res.action == "join"
    ev = person_evidence(res)
    assert [(a, b) for a, b, _, _ in ev] == [("ZJ-A", "ZJ-B")]  # victims are left out
    _, _, nats, sentence = ev[0]
    assert nats > 0
    assert sentence.startswith("suspect 张玮 (case ZJ-B) is 张伟 (case ZJ-A): ")
    assert "same phone 138****5678" in sentence and "330203********1235" in sentence
    assert "13812345678" not in sentence and "19900101" not in sentence
    assert person_evidence(res, roles=("suspect", "victim"))
    first = r.add({"role": "suspect", "name": "赵六"}, "ZJ-C")
    assert person_evidence(first) == []
    with pytest.raises(TypeError, match="Resolution"):
        person_evidence("nope")  # type: ignore[arg-type]
    assert isinstance(res, Resolution) and res.evidence[0].weights


def test_fit_person_model_and_preload(people: tuple) -> None:
    mentions, cases, _ = people
    enc = encode_persons([normalize_person(m) for m in mentions])
    model, res = fit_person_model(enc)
    assert res.converged
    for f, levels in enumerate(model.levels):
        assert model.m[f, len(levels) - 1] > model.u[f, len(levels) - 1], model.fields[f]
    assert np.all(np.diff(model.weights[0, : len(model.levels[0])]) >= -1e-9)  # monotone
    r = PersonResolver(default_person_model())
    rows = r.preload(mentions[:100], cases[:100])
    assert list(rows) == list(range(100)) and len(set(r.clusters().tolist())) == 100
    res2 = r.add(dict(mentions[0]), "again")
    assert res2.action == "join" and res2.cluster == r.cluster_of(0)
    store = PersonStore(capacity=1)
    store.append(enc)
    assert len(store) == len(enc) and store.capacity >= len(enc)
    assert np.array_equal(store.view().phone, enc.phone)


def test_weakest_bridge_agrees_with_networkx() -> None:
    import random

    import networkx as nx

    from graph.persons.resolver import _weakest_bridge

    rnd = random.Random(1)
    for trial in range(300):
        n = rnd.randint(2, 12)
        g = nx.gnm_random_graph(n, rnd.randint(n - 1, 2 * n), seed=trial)
        if not nx.is_connected(g):
            continue
        adj: dict[int, dict[int, float]] = {}
        for a, b in g.edges():
            w = round(rnd.uniform(0, 10), 3)
            adj.setdefault(a, {})[b] = w
            adj.setdefault(b, {})[a] = w
        thr = rnd.uniform(0, 12)
        want = []
        for a, b in nx.bridges(g):
            h = g.copy()
            h.remove_edge(a, b)
            side = len(nx.node_connected_component(h, a))
            if adj[a][b] < thr and side >= 2 and n - side >= 2:
                want.append((adj[a][b], min(a, b), max(a, b)))
        got = _weakest_bridge(list(g.nodes()), adj, thr)
        assert got == (min(want)[1:] if want else None), trial


def test_birth_date_identifies_only_rare_names() -> None:
    r = PersonResolver(config=ResolverConfig(dob_identifies_below=3))
    first = r.add(
        {"role": "suspect", "name": "欧阳锋", "dob": "1971-05-06", "phone": "13700001111"}, "A"
    )
    again = r.add({"role": "suspect", "name": "Ouyang Feng", "dob": "1971-05-06"}, "B")
    assert again.action == "join" and again.cluster == first.cluster  # rare name + birth date
    for k in range(3):  # three earlier 王芳: the name is common here
        r.add(
            {"role": "suspect", "name": "王芳", "dob": f"198{k}-01-01", "phone": f"1390000000{k}"},
            f"W{k}",
        )
    common = r.add({"role": "suspect", "name": "王芳", "dob": "1980-01-01"}, "W9")
    assert common.action == "link" and common.possible[0].reason == "weak"
    off = PersonResolver(config=ResolverConfig(dob_identifies_below=0))
    off.add({"role": "suspect", "name": "欧阳锋", "dob": "1971-05-06", "phone": "13700001111"}, "A")
    assert (
        off.add({"role": "suspect", "name": "Ouyang Feng", "dob": "1971-05-06"}, "B").action
        == "link"
    )
    with pytest.raises(ValueError, match="name_rule"):
        ResolverConfig(name_rule="nope")
