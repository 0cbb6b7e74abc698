"""The boosted-trees link model: what scikit-learn fitted is what we score, explanations add
up, batch and single vectors agree to the bit, bad files are refused by name, and the
committed model never lets stronger evidence count against a link."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from graph.features import FEATURES
from graph.linkmodel import MODEL_PATH, load_link_model
from graph.linktrees import KIND, TreeLinkModel
from graph.train_links import MONOTONE, TREE_SETTINGS, fit_trees


def _data(seed: int = 3, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, len(FEATURES)))
    x[rng.random(x.shape) < 0.3] = 0.0
    i, j, k = (FEATURES.index(f) for f in ("st_best", "mo_jaccard", "log_km"))
    z = 1.5 * x[:, i] + x[:, j] * (x[:, k] < 0) - 1.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return x, y


@pytest.fixture(scope="module")
def fitted() -> tuple[TreeLinkModel, np.ndarray, np.ndarray]:
    x, y = _data()
    return fit_trees(x, y, max_iter=60), x, y


def test_the_exported_trees_score_what_scikit_learn_fitted(
    fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray],
) -> None:
    """The trees are read out of scikit-learn's private node tables: if their layout ever
    changes, this is where it shows."""
    model, x, y = fitted
    booster = HistGradientBoostingClassifier(
        loss="log_loss",
        early_stopping=False,
        random_state=0,
        monotonic_cst=[MONOTONE.get(f, 0) for f in FEATURES],
        **{**TREE_SETTINGS, "max_iter": 60},
    ).fit(x, y)
    assert model.trees.count == 60
    assert np.allclose(model.probabilities(x), booster.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_contributions_add_up_to_the_log_odds(
    fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray],
) -> None:
    model, x, _ = fitted
    for row in x[:300]:
        named = dict(zip(FEATURES, row.tolist(), strict=True))
        parts = model.contributions(named)
        assert [c.feature for c in parts] != []
        assert sorted(c.feature for c in parts) == sorted(FEATURES)
        assert all(c.weight is None for c in parts)
        assert model.intercept + sum(c.logit for c in parts) == pytest.approx(
            model.logit(named), abs=1e-9
        )
        # largest share first
        shares = [abs(c.logit) for c in parts]
        assert shares == sorted(shares, reverse=True)


def test_a_feature_the_trees_never_split_on_contributes_nothing(
    fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray],
) -> None:
    model, x, _ = fitted
    used = {FEATURES[f] for f in model.trees.feature.tolist() if f >= 0}
    unused = set(FEATURES) - used
    named = dict(zip(FEATURES, x[0].tolist(), strict=True))
    for c in model.contributions(named):
        if c.feature in unused:
            assert c.logit == 0.0


def test_a_batch_gives_each_vector_its_own_probability_to_the_bit(
    fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray],
) -> None:
    model, x, _ = fitted
    vectors = x[:2000].tolist() + [[0.0] * len(FEATURES), [1e9] * len(FEATURES)]
    batch = model.probabilities_of(vectors)
    assert [p.hex() for p in batch] == [model.probability_of(v).hex() for v in vectors]
    named = [dict(zip(FEATURES, v, strict=True)) for v in vectors[:50]]
    assert [model.probability(n) for n in named] == batch[:50]
    assert model.probabilities_of([]) == []
    with pytest.raises(ValueError, match="17 features|features, got shape"):
        model.probabilities_of([[0.0, 1.0]])


def test_save_and_load_give_the_same_numbers(
    tmp_path: Path, fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray]
) -> None:
    model, x, _ = fitted
    model.save(tmp_path / "m.json")
    again = load_link_model(tmp_path / "m.json")
    assert isinstance(again, TreeLinkModel)
    assert again.threshold == model.threshold and again.base == model.base
    assert [p.hex() for p in again.probabilities_of(x[:500].tolist())] == [
        p.hex() for p in model.probabilities_of(x[:500].tolist())
    ]


def test_bad_model_files_are_refused_with_the_file_and_the_reason(
    tmp_path: Path, fitted: tuple[TreeLinkModel, np.ndarray, np.ndarray]
) -> None:
    model, _, _ = fitted
    path = tmp_path / "m.json"
    model.save(path)
    good = json.loads(path.read_text(encoding="utf-8"))

    def refused(data: object, match: str) -> None:
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(ValueError, match=match) as caught:
            load_link_model(path)
        assert str(path) in str(caught.value)

    refused({**good, "features": [*FEATURES[:-1], "renamed"]}, "retrain the link model")
    refused({**good, "kind": "forest"}, "kind 'forest'")
    trees = dict(good["trees"])
    trees["left"] = [10**6 if f >= 0 else 0 for f in trees["feature"]]
    refused({**good, "trees": trees}, "left child is outside")
    trees = dict(good["trees"])
    trees["value"] = trees["value"][:-1]
    refused({**good, "trees": trees}, "different lengths")
    refused({k: v for k, v in good.items() if k != "base"}, "malformed")
    refused([1, 2], "expected a JSON object")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read the link model"):
        load_link_model(path)


def test_the_committed_model_never_counts_stronger_evidence_against_a_link() -> None:
    """For the committed model, raising a feature constrained to count for a link never
    lowers the probability, and raising distance or the crowd of chance entities never
    raises it, from a thousand random starting pairs."""
    model = load_link_model()
    assert isinstance(model, TreeLinkModel)
    rng = np.random.default_rng(17)
    base = np.abs(rng.normal(0.0, 2.0, (1000, len(FEATURES))))
    base[rng.random(base.shape) < 0.4] = 0.0
    for feature, sign in MONOTONE.items():
        k = FEATURES.index(feature)
        low, high = base.copy(), base.copy()
        high[:, k] += rng.uniform(0.1, 3.0, len(base))
        diff = model.logits(high) - model.logits(low)
        assert np.all(sign * diff >= -1e-12), feature


def test_the_committed_model_records_how_it_was_made() -> None:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert data["kind"] == KIND and data["features"] == list(FEATURES)
    meta = data["meta"]
    assert meta["command"] == "python -m graph.train_links"
    assert not set(meta["trained_on_seeds"]) & {h["seed"] for h in meta["held_out"]}
    assert 0.0 < data["threshold"] < 1.0
    assert all(math.isfinite(v) for v in data["trees"]["value"])
