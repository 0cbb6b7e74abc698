"""Train the link model on generated scenarios with ground truth: ``python -m graph.train_links``.

For each training seed a scenario is generated and streamed, in arrival order,
through the same sinks as the live pipeline (case registry, space-time core,
linker). Every candidate pair (a pair with identity evidence) becomes a row of
features with the label "same ground-truth series". A logistic regression is
fitted by Newton's method with an L2 penalty, over the features and their
interactions with "the pair has co-presence evidence" (:mod:`graph.linkmodel`:
a base set of weights, and the extra weights for pairs with co-presence
evidence, shrunk towards zero by the same penalty), and the coefficients are written
to ``graph/link_model.json`` together with the quality measured on held-out
seeds the model was not trained on.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graph.blas import one_blas_thread
from graph.cases import CaseBook
from graph.features import FEATURES, as_vector, pair_features
from graph.linkage import Linker
from graph.linkmodel import COPRESENCE, MODEL_PATH, LinkModel, copresence_mask
from graph.persons.sink import PersonSink
from graph.seriesdetect import SeriesTracker
from graph.spacetime.sink import SpaceTimeSink
from ingest.models import parse_message
from ingest.scenario import generate

__all__ = ["Stream", "design", "fit_logistic", "fit_model", "stream_scenario", "main"]

log = logging.getLogger(__name__)


@dataclass
class Stream:
    """A scenario streamed through the linkage sinks, with its truth."""

    cases: CaseBook
    spacetime: SpaceTimeSink
    linker: Linker
    truth: dict
    persons: PersonSink | None = None
    latencies_ms: list[float] = field(default_factory=list)  # per micro-batch holding reports

    def label(self, a: str, b: str) -> int:
        series = {c: s["series_id"] for s in self.truth["series"] for c in s["case_ids"]}
        return int(a in series and series.get(a) == series.get(b))

    def rows(self) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
        """Features and labels of every pair of cases (evidence or not)."""
        x, y, pairs = [], [], []
        ids = sorted(c.case_id for c in self.cases.cases())
        for pair in itertools.combinations(ids, 2):
            a, b = self.cases.get(pair[0]), self.cases.get(pair[1])
            if a is None or b is None:
                continue
            feats = pair_features(a, b, self.linker.evidence(*pair))
            x.append(as_vector(feats))
            y.append(self.label(*pair))
            pairs.append(pair)
        return np.asarray(x, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(y), pairs


def stream_scenario(seed: int, days: float, scale: float, model: LinkModel | None = None) -> Stream:
    """Generate a scenario and feed it, in arrival order and micro-batches, through the sinks."""
    one_blas_thread()  # as the pipeline's process does (icc.runtime)
    scenario = generate(seed=seed, days=days, scale=scale)
    cases = CaseBook()
    spacetime = SpaceTimeSink()
    persons = PersonSink()
    if model is None:
        try:
            model = LinkModel.load()
        except ValueError:
            # the saved coefficients predate a change of the feature list: training only
            # needs the evidence, so score with a neutral model until it is retrained
            model = LinkModel(0.0, dict.fromkeys(FEATURES, 0.0), 0.5)
    linker = Linker(cases, spacetime, model, persons)
    seen: set[str] = set()
    latencies: list[float] = []

    def feed(batch: list) -> None:
        # a report's time from entering the sinks to the series update it causes: the
        # whole micro-batch it arrived in (recorded for batches holding reports)
        start = time.perf_counter()
        for sink in (cases, spacetime, persons, linker):
            sink.apply(batch)
        if any(m.kind == "incident" for m in batch):
            latencies.append((time.perf_counter() - start) * 1000.0)

    batch = []
    for raw in scenario.messages:
        msg = parse_message(json.dumps(raw, ensure_ascii=False))
        if msg.key in seen:
            continue
        seen.add(msg.key)
        batch.append(msg)
        if len(batch) >= 1000:
            feed(batch)
            batch = []
    feed(batch)
    return Stream(cases, spacetime, linker, scenario.truth, persons, latencies)


def stream_scenario_truth_pairs(seed: int, days: float, scale: float) -> int:
    """How many same-series case pairs the scenario's truth holds."""
    truth = generate(seed=seed, days=days, scale=scale).truth
    return sum(len(s["case_ids"]) * (len(s["case_ids"]) - 1) // 2 for s in truth["series"])


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50
) -> tuple[float, np.ndarray]:
    """Intercept and weights of an L2-penalised logistic regression (Newton-Raphson)."""
    n, k = x.shape
    a = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(k + 1)
    penalty = np.full(k + 1, l2)
    penalty[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (p - y) + penalty * beta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return float(beta[0]), beta[1:]


def design(x: np.ndarray) -> np.ndarray:
    """The regression's inputs: the features, the features of pairs with co-presence
    evidence (zero for the others) and the co-presence indicator."""
    mask = copresence_mask(x).astype(np.float64)[:, None]
    return np.hstack([x, x * mask, mask])


def fit_model(x: np.ndarray, y: np.ndarray, l2: float = 1.0, threshold: float = 0.5) -> LinkModel:
    """A :class:`LinkModel` fitted on a feature matrix and labels (see :func:`design`)."""
    intercept, beta = fit_logistic(design(x), y, l2)
    k = len(FEATURES)
    weights = dict(zip(FEATURES, map(float, beta[:k]), strict=True))
    extra = dict(zip(FEATURES, map(float, beta[k : 2 * k]), strict=True))
    extra[COPRESENCE] = float(beta[2 * k])
    return LinkModel(intercept, weights, threshold, copresence=extra)


def series_pair_f1(
    pairs: Sequence[tuple[str, str]], p: np.ndarray, y: np.ndarray, threshold: float
) -> float:
    """Pair F1 of the series a :class:`SeriesTracker` forms from the links above a threshold."""
    tracker = SeriesTracker()
    scored = {pair: float(v) for pair, v in zip(pairs, p, strict=True) if v > 0.01}
    accepted = {pair: v for pair, v in scored.items() if v >= threshold}
    tracker.update(accepted, set(scored), scored)
    found = {
        pair
        for members in tracker.series.values()
        for pair in itertools.combinations(sorted(members), 2)
    }
    true = {pair for pair, label in zip(pairs, y, strict=True) if label}
    tp = len(found & true)
    return 2 * tp / (len(found) + len(true)) if found or true else 1.0


def choose_threshold(
    model: LinkModel,
    streams: Sequence[tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]],
    grid: Sequence[float] = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7),
) -> float:
    """The threshold with the best mean series pair F1 over the training streams, the F1
    of each grid point averaged with its neighbours': with a dozen series a seed, F1 moves
    in steps as single series merge or split, and a lone peak beside a cliff is luck."""
    probabilities = [model.probabilities(x) for x, _, _ in streams]
    f1s = []
    for t in grid:
        f1 = float(
            np.mean(
                [
                    series_pair_f1(pairs, p, y, t)
                    for (_, y, pairs), p in zip(streams, probabilities, strict=True)
                ]
            )
        )
        log.info("threshold %.2f: mean series pair F1 %.4f on the training seeds", t, f1)
        f1s.append(f1)
    smooth = [float(np.mean(f1s[max(0, i - 1) : i + 2])) for i in range(len(f1s))]
    return float(grid[int(np.argmax(smooth))])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    values, inverse, counts = np.unique(
        np.concatenate([pos, neg]), return_inverse=True, return_counts=True
    )
    first = np.cumsum(counts) - counts  # rank (0-based) of the first of each tied value
    ranks = first[inverse] + (counts[inverse] + 1) / 2.0
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph.train_links", description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 111)))
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[0.3, 1.0],
        help="scenario scales, used in turn by the training seeds (held-out seeds use the first)",
    )
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="probability above which a link is accepted (default: the one that maximises "
        "the mean series pair F1 on the training seeds)",
    )
    parser.add_argument("--out", default=str(MODEL_PATH))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    xs, ys, keep = [], [], []
    for i, seed in enumerate(args.seeds):
        x, y, pairs = stream_scenario(seed, args.days, args.scales[i % len(args.scales)]).rows()
        log.info("seed %d: %d pairs, %d true", seed, len(y), int(y.sum()))
        xs.append(x)
        ys.append(y)
        keep.append((x, y, pairs))
    x, y = np.vstack(xs), np.concatenate(ys)
    model = fit_model(x, y, args.l2)
    threshold = args.threshold
    if threshold is None:
        threshold = choose_threshold(model, keep)
    model = dataclasses.replace(model, threshold=threshold)
    held = []
    for seed in args.eval_seeds:
        ex, ey, _ = stream_scenario(seed, args.days, args.scales[0], model).rows()
        p = model.probabilities(ex)
        pred = p >= model.threshold
        tp = int((pred & (ey == 1)).sum())
        prec = tp / max(int(pred.sum()), 1)
        rec = tp / max(int(ey.sum()), 1)
        stream_truth = stream_scenario_truth_pairs(seed, args.days, args.scales[0])
        held.append(
            {
                "seed": seed,
                "pairs": len(ey),
                "true": int(ey.sum()),
                "auc": round(auc(p, ey), 4),
                "precision": round(prec, 4),
                "recall_of_candidates": round(rec, 4),
                "recall_of_all_true_pairs": round(tp / max(stream_truth, 1), 4),
            }
        )
        log.info("held-out seed %d: %s", seed, held[-1])
    model = dataclasses.replace(
        model,
        meta={
            "trained_on_seeds": args.seeds,
            "days": args.days,
            "scales": args.scales,
            "l2": args.l2,
            "rows": int(len(y)),
            "positives": int(y.sum()),
            "held_out": held,
            "command": "python -m graph.train_links",
        },
    )
    model.save(Path(args.out))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
