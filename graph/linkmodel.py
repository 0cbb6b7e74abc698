"""The link model: a logistic regression over pair features, with per-feature explanations.

``p(link) = 1 / (1 + exp(-(b + sum_i w_i * x_i)))``. A pair with co-presence
evidence (an entity near both scenes, or a companion bridge) and a pair without
are different populations: the first is judged by who was there, the second by
pattern alone (category, MO, distance, time; or a suspect's mentions). So the
model has a second set of weights, ``copresence``, added to the base weights for
pairs with co-presence evidence, with an intercept shift that appears in
explanations as the pseudo-feature ``copresence`` (value 1). The coefficients live in
``graph/link_model.json`` next to this module and are produced by
``python -m graph.train_links`` from generated scenarios with ground truth;
the file records the seeds, sizes and the held-out quality it was trained with.

Example
-------
>>> model = LinkModel.load()
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
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from graph.features import FEATURES

if TYPE_CHECKING:
    from graph.linktrees import TreeLinkModel

__all__ = [
    "COPRESENCE",
    "MODEL_PATH",
    "Contribution",
    "LinkModel",
    "has_copresence",
    "copresence_mask",
    "load_link_model",
]

MODEL_PATH = Path(__file__).with_name("link_model.json")
COPRESENCE = "copresence"  # pseudo-feature: 1 for a pair with co-presence or companion evidence
_ST, _COMP = FEATURES.index("st_entities"), FEATURES.index("companion")


@njit(cache=True, nogil=True)
def _logits_of(x, z_base, w_base, z_co, w_co, st, comp):  # noqa: ANN001, ANN201
    """The logit of each row of ``x``: its intercept plus each weight times its value, added
    one feature at a time in column order (each product and sum rounded once, as
    :meth:`LinkModel.probability_of` adds them: no reordering, no fused multiply-add),
    with the co-presence terms for a row whose ``st`` or ``comp`` value is above 0."""
    n, m = x.shape
    z = np.empty(n)
    for i in range(n):
        co = x[i, st] > 0.0 or x[i, comp] > 0.0
        acc = z_co if co else z_base
        w = w_co if co else w_base
        for k in range(m):
            acc += w[k] * x[i, k]
        z[i] = acc
    return z


def has_copresence(x: Mapping[str, float]) -> bool:
    """True if the pair has co-presence (an entity near both scenes) or companion evidence."""
    return float(x["st_entities"]) > 0.0 or float(x["companion"]) > 0.0


def copresence_mask(x: np.ndarray) -> np.ndarray:
    """:func:`has_copresence` for each row of a feature matrix (columns in FEATURES order)."""
    return (x[:, _ST] > 0.0) | (x[:, _COMP] > 0.0)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's part in a pair's log-odds: its value, its weight (the logistic
    model's; None for the boosted trees, where a feature has no single weight) and the
    log-odds it adds."""

    feature: str
    value: float
    weight: float | None
    logit: float


def load_link_model(path: Path = MODEL_PATH) -> LinkModel | TreeLinkModel:
    """The link model saved at ``path``: boosted trees (``"kind": "boosted_trees"``) or the
    logistic regression (no ``kind``, or ``"logistic"``); ``ValueError`` naming the file if
    it cannot be read as either."""
    from graph.linktrees import KIND, TreeLinkModel

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the link model: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind", "logistic")
    if kind == KIND:
        return TreeLinkModel.from_json(data, path)
    if kind != "logistic":
        raise ValueError(f"{path}: link model kind {kind!r}, expected {KIND!r} or 'logistic'")
    return LinkModel.load(path)


@dataclass(frozen=True)
class LinkModel:
    """Intercept, one weight per feature, a decision threshold, and the extra weights for
    pairs with co-presence evidence (empty: one set of weights for every pair)."""

    intercept: float
    weights: dict[str, float]
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)
    copresence: dict[str, float] = field(default_factory=dict)  # feature (or COPRESENCE) -> extra

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinkModel:
        """Read coefficients; ``ValueError`` naming the file if they do not fit the features."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind", "logistic") != "logistic" or "weights" not in data:
            raise ValueError(
                f"{path}: not a logistic link model (kind {data.get('kind')!r}); "
                "read it with load_link_model()"
            )
        weights = {k: float(v) for k, v in data["weights"].items()}
        extra = {k: float(v) for k, v in data.get("copresence", {}).items()}
        missing = set(FEATURES) - set(weights)
        if extra:
            missing |= {f"copresence.{f}" for f in {*FEATURES, COPRESENCE} - set(extra)}
        if missing:
            raise ValueError(
                f"{path}: no weight for features {sorted(missing)}; retrain the link model"
            )
        return cls(
            float(data["intercept"]),
            weights,
            float(data.get("threshold", 0.5)),
            data.get("meta", {}),
            extra,
        )

    def save(self, path: Path = MODEL_PATH) -> None:
        data = {
            "kind": "logistic",
            "intercept": self.intercept,
            "weights": self.weights,
            "threshold": self.threshold,
            "copresence": self.copresence,
            "meta": self.meta,
        }
        Path(path).write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def _extra(self, x: Mapping[str, float]) -> Mapping[str, float]:
        """The extra weights that apply to this pair (none without co-presence evidence)."""
        return self.copresence if self.copresence and has_copresence(x) else {}

    def contributions(self, x: Mapping[str, float]) -> list[Contribution]:
        """Each feature's value, weight and share of the logit, largest first; a pair with
        co-presence evidence also gets the ``copresence`` shift (value 1). The logit is the
        intercept plus the contributions."""
        extra = self._extra(x)
        out = []
        for f in FEATURES:
            w = self.weights[f] + extra.get(f, 0.0)
            out.append(Contribution(f, float(x[f]), w, float(x[f]) * w))
        if extra:
            shift = extra.get(COPRESENCE, 0.0)
            out.append(Contribution(COPRESENCE, 1.0, shift, shift))
        return sorted(out, key=lambda c: -abs(c.logit))

    @cached_property
    def _terms(self) -> tuple[tuple[float, tuple[tuple[str, float], ...]], ...]:
        """(intercept, (feature, weight) pairs) without and with the co-presence weights,
        summed once: a province day scores millions of pairs."""
        base = (self.intercept, tuple((f, self.weights[f]) for f in FEATURES))
        if not self.copresence:
            return (base, base)
        extra = self.copresence
        co = (
            self.intercept + extra.get(COPRESENCE, 0.0),
            tuple((f, self.weights[f] + extra[f]) for f in FEATURES),
        )
        return (base, co)

    def logit(self, x: Mapping[str, float]) -> float:
        z, terms = self._terms[has_copresence(x)]
        for f, w in terms:
            z += w * float(x[f])
        return z

    def logits(self, x: np.ndarray) -> np.ndarray:
        """:meth:`logit` of every row of a feature matrix (columns in FEATURES order)."""
        z = self.intercept + x @ np.array([self.weights[f] for f in FEATURES])
        if self.copresence:
            extra = self.copresence.get(COPRESENCE, 0.0) + x @ np.array(
                [self.copresence[f] for f in FEATURES]
            )
            z = z + np.where(copresence_mask(x), extra, 0.0)
        return z

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """:meth:`probability` of every row of a feature matrix."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(x), -700, 700)))

    def probability(self, x: Mapping[str, float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def probability_of(self, v: Sequence[float]) -> float:
        """:meth:`probability` of a feature vector in FEATURES order (the same sums in the
        same order: the same number)."""
        z, terms = self._vector_terms[float(v[_ST]) > 0.0 or float(v[_COMP]) > 0.0]
        for w, value in zip(terms, v, strict=True):
            z += w * float(value)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def probabilities_of(self, vectors: Sequence[Sequence[float]]) -> list[float]:
        """:meth:`probability_of` of each vector, to the last bit, in one pass over a batch.

        The logits are summed by a compiled loop (:func:`_logits_of`): the same products
        added in the same order as one vector's loop, each rounded once (no reordered sum,
        no fused multiply-add, as a matrix product could have). It replaced a numpy pass
        a feature over all the vectors (the same numbers): a batch's hundred vectors made
        that seventy small array operations. The exponential is ``math.exp``'s, not
        numpy's (whose last bit need not be the same).
        """
        if not vectors:
            return []
        x = np.array(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURES):
            raise ValueError(f"expected vectors of {len(FEATURES)} features, got {x.shape}")
        z = _logits_of(x, *self._vector_arrays, _ST, _COMP)
        return [1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0 for v in z.tolist()]

    @cached_property
    def _vector_arrays(self) -> tuple[float, np.ndarray, float, np.ndarray]:
        """:attr:`_vector_terms` as the compiled sum takes them: the base intercept and
        weights, then the co-presence ones."""
        (z_base, w_base), (z_co, w_co) = self._vector_terms
        return float(z_base), np.array(w_base), float(z_co), np.array(w_co)

    @cached_property
    def _vector_terms(self) -> tuple[tuple[float, tuple[float, ...]], ...]:
        return tuple((z, tuple(w for _, w in terms)) for z, terms in self._terms)
