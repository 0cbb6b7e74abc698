"""The link model as gradient-boosted trees over the pair features, with per-feature explanations.

``p(link) = 1 / (1 + exp(-(base + sum_t tree_t(x))))``: each tree splits on the pair
features (go left when ``x[feature] <= threshold``) and its leaf adds a value to the
log-odds. Trees find what one weight per feature cannot: that a vehicle near both scenes
means more for two fuel thefts at night than for a cable theft and a burglary a county
apart, or that distance stops mattering once a suspect's mentions agree. Measured on
generated scenarios the model was not trained on (``python -m graph.train_links``, see
NOTES.md), the series the trees' links form are closer to the truth than the logistic
model's.

**Explanation.** Every node gets an expected log-odds, the mean of its leaves weighted by
the training pairs that reached them; walking a pair down a tree, each split moves the
expectation from the node to the child taken, and that move is credited to the feature the
node splits on. So a pair's log-odds is the model's expected log-odds
(:attr:`TreeLinkModel.intercept`) plus one contribution per feature, exactly (up to
rounding), and ``icc explain`` lists them largest first.

The trees live in ``graph/link_model.json`` (``"kind": "boosted_trees"``) as flat arrays,
one entry per node: ``feature`` (-1 for a leaf), ``threshold``, ``left``, ``right``,
``value`` (a leaf's log-odds), ``expected``, and ``roots`` (the first node of each tree).

Example
-------
>>> from graph.linkmodel import load_link_model
>>> model = load_link_model()
>>> 0.0 <= model.probability({name: 0.0 for name in model.features}) <= 1.0
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from graph.features import FEATURES
from graph.linkmodel import Contribution

__all__ = ["KIND", "TreeLinkModel", "Trees"]

KIND = "boosted_trees"
_ARRAYS = ("feature", "threshold", "left", "right", "value", "expected")


@njit(cache=True, nogil=True)
def _tree_logits(x, base, roots, depth, feature, threshold, child, value):  # noqa: ANN001, ANN201
    """The log-odds of each row of ``x``: ``base`` plus the leaf value of each tree, the trees
    added in order (so one row alone and the same row in a batch get the same number).

    The trees are in the packed layout of :func:`_pack`: a split's two children are
    ``child`` and ``child + 1``, and a leaf points to itself (it splits on feature 0 at
    +inf), so a walk is ``depth`` steps without a branch to mispredict. Tree by tree over
    all the rows: one tree's nodes stay in the cache for the batch."""
    n = x.shape[0]
    z = np.full(n, base)
    lanes = 8  # rows walked side by side: their chains of dependent loads overlap
    node = np.empty(lanes, dtype=np.int64)
    for t in range(roots.shape[0]):
        root, steps = roots[t], depth[t]
        for i0 in range(0, n, lanes):
            m = min(lanes, n - i0)
            for r in range(m):
                node[r] = root
            for _ in range(steps):
                for r in range(m):
                    k = node[r]
                    node[r] = child[k] + (0 if x[i0 + r, feature[k]] <= threshold[k] else 1)
            for r in range(m):
                z[i0 + r] += value[node[r]]
    return z


def _pack(trees: Trees) -> tuple[np.ndarray, ...]:
    """The trees laid out for :func:`_tree_logits`: each tree's nodes renumbered breadth
    first with a split's children side by side, leaves pointing to themselves; with the
    root and depth of each tree."""
    feature, threshold, child, value, roots, depth = [], [], [], [], [], []
    f_in, t_in = trees.feature.tolist(), trees.threshold.tolist()
    l_in, r_in, v_in = trees.left.tolist(), trees.right.tolist(), trees.value.tolist()
    for root in trees.roots.tolist():
        start = len(feature)
        order, level = [root], {root: 0}
        slot = {root: start}
        k = 0
        while k < len(order):  # breadth first: a split's children get consecutive slots
            node = order[k]
            k += 1
            if f_in[node] >= 0:
                for c in (l_in[node], r_in[node]):
                    slot[c] = start + len(order)
                    level[c] = level[node] + 1
                    order.append(c)
        for node in order:
            if f_in[node] >= 0:
                feature.append(f_in[node])
                threshold.append(t_in[node])
                child.append(slot[l_in[node]])
                value.append(0.0)
            else:
                feature.append(0)
                threshold.append(math.inf)
                child.append(slot[node])
                value.append(v_in[node])
        roots.append(start)
        depth.append(max(level.values()))
    return (
        np.asarray(roots, dtype=np.int64),
        np.asarray(depth, dtype=np.int64),
        np.asarray(feature, dtype=np.int64),
        np.asarray(threshold, dtype=np.float64),
        np.asarray(child, dtype=np.int64),
        np.asarray(value, dtype=np.float64),
    )


@dataclass(frozen=True)
class Trees:
    """The nodes of every tree as flat arrays (see the module docstring)."""

    roots: np.ndarray  # int64, the first node of each tree
    feature: np.ndarray  # int64, -1 for a leaf
    threshold: np.ndarray  # float64
    left: np.ndarray  # int64
    right: np.ndarray  # int64
    value: np.ndarray  # float64, a leaf's log-odds (0 for a split)
    expected: np.ndarray  # float64, the expected log-odds of the pairs reaching the node

    def __post_init__(self) -> None:
        n = self.feature.size
        sizes = {name: getattr(self, name).size for name in _ARRAYS}
        if any(size != n for size in sizes.values()):
            raise ValueError(f"tree arrays of different lengths: {sizes}")
        splits = self.feature >= 0
        if np.any(self.feature >= len(FEATURES)):
            raise ValueError(
                f"a split on feature {int(self.feature.max())}: expected an index below "
                f"{len(FEATURES)} (the features are {list(FEATURES)})"
            )
        for name in ("left", "right"):
            child = getattr(self, name)[splits]
            if np.any((child < 0) | (child >= n)):
                raise ValueError(f"a split's {name} child is outside the {n} nodes")
        if np.any((self.roots < 0) | (self.roots >= n)):
            raise ValueError(f"a tree's root is outside the {n} nodes")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trees:
        return cls(
            roots=np.asarray(data["roots"], dtype=np.int64),
            feature=np.asarray(data["feature"], dtype=np.int64),
            threshold=np.asarray(data["threshold"], dtype=np.float64),
            left=np.asarray(data["left"], dtype=np.int64),
            right=np.asarray(data["right"], dtype=np.int64),
            value=np.asarray(data["value"], dtype=np.float64),
            expected=np.asarray(data["expected"], dtype=np.float64),
        )

    def to_json(self) -> dict[str, list]:
        return {"roots": self.roots.tolist(), **{a: getattr(self, a).tolist() for a in _ARRAYS}}

    @property
    def count(self) -> int:
        return int(self.roots.size)


@dataclass(frozen=True)
class TreeLinkModel:
    """The base log-odds, the trees, a decision threshold and what they were trained on."""

    base: float
    trees: Trees
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES

    @property
    def intercept(self) -> float:
        """The expected log-odds before any feature is looked at: the base plus the expected
        value of each tree's root (the explanation's starting point)."""
        return self.base + float(self.trees.expected[self.trees.roots].sum())

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path | str = "<model>") -> TreeLinkModel:
        names = list(data.get("features", []))
        if names != list(FEATURES):
            raise ValueError(
                f"{path}: trees over features {names}, expected {list(FEATURES)}; "
                "retrain the link model (python -m graph.train_links)"
            )
        try:
            trees = Trees.from_json(data["trees"])
            base = float(data["base"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: malformed boosted-trees link model: {exc}") from exc
        return cls(base, trees, float(data.get("threshold", 0.5)), data.get("meta", {}))

    def save(self, path: Path) -> None:
        data = {
            "kind": KIND,
            "features": list(FEATURES),
            "threshold": self.threshold,
            "base": self.base,
            "meta": self.meta,
            "trees": self.trees.to_json(),
        }
        Path(path).write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")

    @cached_property
    def _arrays(self) -> tuple:
        return (float(self.base), *_pack(self.trees))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of every row of a feature matrix (columns in FEATURES order)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURES):
            raise ValueError(f"expected rows of {len(FEATURES)} features, got shape {x.shape}")
        return _tree_logits(x, *self._arrays)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(x), -700, 700)))

    def logit(self, x: Mapping[str, float]) -> float:
        return float(self.logits(np.array([[float(x[f]) for f in FEATURES]]))[0])

    def probability(self, x: Mapping[str, float]) -> float:
        return _sigmoid(self.logit(x))

    def probability_of(self, v: Sequence[float]) -> float:
        """:meth:`probability` of a feature vector in FEATURES order."""
        return self.probabilities_of([v])[0]

    def probabilities_of(self, vectors: Sequence[Sequence[float]]) -> list[float]:
        """:meth:`probability_of` of each vector, in one compiled pass over the batch (the
        same number for a vector alone or in any batch)."""
        if not vectors:
            return []
        z = self.logits(np.array(vectors, dtype=np.float64))
        return [_sigmoid(v) for v in z.tolist()]

    def contributions(self, x: Mapping[str, float]) -> list[Contribution]:
        """Each feature's value and its share of the log-odds, largest first: the moves of
        the expected log-odds along each tree's path credited to the feature split on (see
        the module docstring). :attr:`intercept` plus the shares is the pair's log-odds."""
        row = [float(x[f]) for f in FEATURES]
        share = [0.0] * len(FEATURES)
        t = self.trees
        feature, threshold = t.feature.tolist(), t.threshold.tolist()
        left, right, expected = t.left.tolist(), t.right.tolist(), t.expected.tolist()
        for node in t.roots.tolist():
            while feature[node] >= 0:
                f = feature[node]
                child = left[node] if row[f] <= threshold[node] else right[node]
                share[f] += expected[child] - expected[node]
                node = child
        out = [Contribution(f, row[i], None, share[i]) for i, f in enumerate(FEATURES)]
        return sorted(out, key=lambda c: -abs(c.logit))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
