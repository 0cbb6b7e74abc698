"""The logistic link model: co-presence and pattern weights, explanations that add up, round
trip; and what any committed link model must do (a vehicle that stopped outranks one that
drove past, the linker's vector path gives the named features' number)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from graph.features import FEATURES
from graph.linkmodel import (
    COPRESENCE,
    LinkModel,
    copresence_mask,
    has_copresence,
    load_link_model,
)


def _model() -> LinkModel:
    weights = {f: 0.1 * (i + 1) for i, f in enumerate(FEATURES)}
    extra = {f: -0.05 * (i + 1) for i, f in enumerate(FEATURES)}
    extra[COPRESENCE] = 1.5
    return LinkModel(-3.0, weights, 0.4, {"note": "test"}, extra)


def _pair(**values: float) -> dict[str, float]:
    x = dict.fromkeys(FEATURES, 0.0)
    x.update(values)
    return x


@pytest.mark.parametrize(
    ("values", "seen"),
    [
        ({"mo_jaccard": 1.0, "log_km": 2.0}, False),
        ({"st_entities": math.log1p(2), "st_best": 3.0, "log_km": 2.0}, True),
        ({"companion": math.log1p(8.0), "comp_scenes": math.log1p(2)}, True),
    ],
)
def test_contributions_add_up_to_the_logit(values: dict[str, float], seen: bool) -> None:
    model = _model()
    x = _pair(**values)
    assert has_copresence(x) is seen
    parts = model.contributions(x)
    assert (COPRESENCE in {c.feature for c in parts}) is seen
    assert model.intercept + sum(c.logit for c in parts) == pytest.approx(model.logit(x))
    matrix = np.array([[x[f] for f in FEATURES]])
    assert copresence_mask(matrix).tolist() == [seen]
    assert model.logits(matrix)[0] == pytest.approx(model.logit(x))
    assert model.probabilities(matrix)[0] == pytest.approx(model.probability(x))


def test_copresence_weights_apply_only_to_pairs_with_copresence_evidence() -> None:
    model = _model()
    plain = LinkModel(model.intercept, model.weights, model.threshold)
    pattern = _pair(mo_jaccard=1.0, near_repeat=1.0)
    seen = _pair(st_entities=math.log1p(1), st_best=2.0, mo_jaccard=1.0)
    assert model.logit(pattern) == pytest.approx(plain.logit(pattern))
    assert model.logit(seen) != pytest.approx(plain.logit(seen))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path / "m.json")
    again = LinkModel.load(tmp_path / "m.json")
    assert again == model


def test_load_names_missing_copresence_weights(tmp_path: Path) -> None:
    model = _model()
    broken = LinkModel(
        model.intercept, model.weights, model.threshold, copresence={COPRESENCE: 1.0}
    )
    broken.save(tmp_path / "m.json")
    with pytest.raises(ValueError, match="copresence.st_best"):
        LinkModel.load(tmp_path / "m.json")


def test_a_vehicle_that_stopped_at_both_scenes_outranks_one_that_drove_past() -> None:
    """The trained model: the same co-presence, once by a vehicle seen arriving and leaving
    near both scenes, once by one seen in passing, weighs more the first time."""
    import datetime as dt

    from graph.cases import Case
    from graph.features import PairEvidence, pair_features

    model = load_link_model()
    t = dt.datetime(2026, 3, 3, 23, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def case(cid: str, lon: float) -> Case:
        end = t + dt.timedelta(hours=6)
        return Case(cid, "theft.fuel", lon, 29.9, end, t, end, 330211, 330200, mo=["siphon"])

    a, b = case("A", 121.5), case("B", 121.6)

    def p(best: float, stops: int) -> float:
        ev = PairEvidence(st_best=best, st_entities=1, st_scenes=2, crowd=3, stops=stops)
        return model.probability(pair_features(a, b, ev))

    assert p(3.0, 2) > p(3.0, 1) > p(3.0, 0)


def test_the_linkers_vector_path_gives_the_same_probability_as_the_named_features() -> None:
    """The linker scores a list in FEATURES order (no dictionary a pair); the number must be
    the one :meth:`LinkModel.probability` gives for the named features, to the last bit."""
    import datetime as dt
    import random

    from graph.cases import Case
    from graph.features import FEATURES, PairEvidence, pair_features, pair_vector

    model = load_link_model()
    rng = random.Random(11)
    tz = dt.timezone(dt.timedelta(hours=8))
    cats = ["theft.fuel", "theft.cargo", "fraud.telecom", "burglary.residential"]
    mos = ["siphon", "night", "tools", "fake.invoice"]

    def case(cid: str) -> Case:
        start = dt.datetime(2026, 3, 1, tzinfo=tz) + dt.timedelta(minutes=rng.randrange(20000))
        end = start + dt.timedelta(minutes=rng.randrange(1, 2000))
        mo = rng.sample(mos, rng.randrange(0, 3))
        lon, lat = 120 + rng.random() * 2, 28 + rng.random() * 2
        return Case(cid, rng.choice(cats), lon, lat, end, start, end, 330211, 330200, mo=mo)

    for i in range(500):
        a, b = case(f"A{i}"), case(f"B{i}")
        ev = PairEvidence(
            st_best=rng.choice([0.0, rng.random() * 9]),
            st_entities=rng.choice([0, 0, 1, 4]),
            st_scenes=rng.randrange(0, 5),
            companion=rng.choice([0.0, -1.0, rng.random() * 12]),
            person=rng.choice([0.0, rng.random() * 8]),
            closer=rng.choice([-1, 0, 3, 40]),
            cat_share=rng.random(),
            crowd=rng.randrange(0, 30),
            comp_scenes=rng.randrange(0, 4),
            stops=rng.randrange(0, 3),
        )
        named = pair_features(a, b, ev)
        vector = pair_vector(a, b, ev)
        assert [named[f] for f in FEATURES] == vector
        assert model.probability_of(vector) == model.probability(named)


def test_a_batch_of_vectors_gets_each_vectors_probability_to_the_last_bit() -> None:
    """:meth:`LinkModel.probabilities_of` (a batch summed a feature at a time) gives each
    vector the number :meth:`LinkModel.probability_of` gives it alone, bit for bit: with and
    without co-presence weights, zeros, negatives, logits past the cut-off either way."""
    import random

    from graph.features import FEATURES

    rng = random.Random(5)

    def value() -> float:
        return rng.choice([0.0, 0.0, -0.0, rng.random() * 5, -rng.random(), rng.uniform(-60, 60)])

    vectors = [[value() for _ in FEATURES] for _ in range(3000)]
    vectors += [[0.0] * len(FEATURES), [-1e4] * len(FEATURES), [1e4] * len(FEATURES)]
    plain = LinkModel(-2.5, {f: rng.uniform(-3, 3) for f in FEATURES}, 0.5)
    for model in (_model(), plain):
        batch = model.probabilities_of(vectors)
        assert [p.hex() for p in batch] == [model.probability_of(v).hex() for v in vectors]
        assert {0.0, 1.0} <= set(batch)
        assert model.probabilities_of([]) == []


def _numpy_probabilities(model: LinkModel, vectors: list[list[float]]) -> list[float]:
    """What ``probabilities_of`` computed before its compiled sum: a numpy pass a feature."""
    from graph.linkmodel import _COMP, _ST

    x = np.array(vectors, dtype=np.float64)
    (z_base, w_base), (z_co, w_co) = model._vector_terms
    co = (x[:, _ST] > 0.0) | (x[:, _COMP] > 0.0)
    z = np.where(co, z_co, z_base)
    weights = np.where(co[:, None], np.array([w_co]), np.array([w_base]))
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as the compiled sum gives
        for k in range(len(FEATURES)):
            z += weights[:, k] * x[:, k]
    return [1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0 for v in z.tolist()]


def test_the_compiled_sum_equals_the_numpy_pass_it_replaced() -> None:
    """The compiled logits give the numbers the numpy pass a feature gave, bit for bit, on
    random vectors (also NaN and infinite values, a NaN in the co-presence columns) and a
    batch of one."""
    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 4.0, (5000, len(FEATURES)))
    x[rng.random(x.shape) < 0.3] = 0.0
    x[rng.random(x.shape) < 0.01] = np.nan
    x[rng.random(x.shape) < 0.01] = np.inf
    vectors = x.tolist()
    plain = LinkModel(
        -2.5,
        {f: float(w) for f, w in zip(FEATURES, rng.uniform(-3, 3, len(FEATURES)), strict=True)},
        0.5,
    )
    for model in (_model(), plain):
        for batch in (vectors, vectors[:1]):
            got = model.probabilities_of(batch)
            want = _numpy_probabilities(model, batch)
            assert [p.hex() for p in got] == [p.hex() for p in want]
