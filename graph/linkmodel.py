"""The link model: a logistic regression over pair features, with per-feature explanations.

``p(link) = 1 / (1 + exp(-(b + sum_i w_i * x_i)))``. The coefficients live in
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from graph.features import FEATURES

__all__ = ["MODEL_PATH", "Contribution", "LinkModel"]

MODEL_PATH = Path(__file__).with_name("link_model.json")


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float
    weight: float

    @property
    def logit(self) -> float:
        return self.value * self.weight


@dataclass(frozen=True)
class LinkModel:
    """Intercept, one weight per feature, and a decision threshold."""

    intercept: float
    weights: dict[str, float]
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinkModel:
        """Read coefficients; ``ValueError`` naming the file if they do not fit the features."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        weights = {k: float(v) for k, v in data["weights"].items()}
        missing = set(FEATURES) - set(weights)
        if missing:
            raise ValueError(
                f"{path}: no weight for features {sorted(missing)}; retrain the link model"
            )
        return cls(
            float(data["intercept"]),
            weights,
            float(data.get("threshold", 0.5)),
            data.get("meta", {}),
        )

    def save(self, path: Path = MODEL_PATH) -> None:
        data = {
            "intercept": self.intercept,
            "weights": self.weights,
            "threshold": self.threshold,
            "meta": self.meta,
        }
        Path(path).write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def contributions(self, x: Mapping[str, float]) -> list[Contribution]:
        """Each feature's value, weight and share of the logit, largest first."""
        out = [Contribution(f, float(x[f]), self.weights[f]) for f in FEATURES]
        return sorted(out, key=lambda c: -abs(c.logit))

    def logit(self, x: Mapping[str, float]) -> float:
        return self.intercept + sum(self.weights[f] * float(x[f]) for f in FEATURES)

    def probability(self, x: Mapping[str, float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
