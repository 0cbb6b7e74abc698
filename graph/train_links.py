"""Train the link model on generated scenarios with ground truth: ``python -m graph.train_links``.

Each training seed is generated at each scale and streamed, in arrival order and
micro-batches, through the same sinks as the live pipeline (case registry, space-time
core, person matching, linker). Every pair the linker scored becomes a row: the feature
vector it was scored with, and the label "same ground-truth series". The model is fitted
on those rows, the population it is applied to: pairs are only ever scored as candidates,
and as the stream stands when they are scored.

Two kinds of model (``--model``):

* ``trees`` (the default and the committed one): gradient-boosted trees
  (:mod:`graph.linktrees`), fitted by scikit-learn's histogram gradient boosting;
* ``logistic``: a logistic regression fitted by Newton's method with an L2 penalty, over
  the features and their interactions with "the pair has co-presence evidence"
  (:mod:`graph.linkmodel`).

The threshold above which a link is accepted is the one whose series (the
:class:`SeriesTracker` over the links) have the best mean pair F1 on the training streams.
The model is written to ``graph/link_model.json`` with the seeds, settings and the quality
measured on held-out seeds it was not trained on. Training streams 120 scenarios (seeds
101-160 at scales 0.3 and 1.0), on two processes by default: about ten minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import multiprocessing
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graph.blas import one_blas_thread
from graph.cases import CaseBook
from graph.features import FEATURES, as_vector, pair_features
from graph.linkage import Linker
from graph.linkmodel import (
    COPRESENCE,
    MODEL_PATH,
    LinkModel,
    copresence_mask,
    load_link_model,
)
from graph.linktrees import TreeLinkModel, Trees
from graph.persons.sink import PersonSink
from graph.seriesdetect import SeriesTracker
from graph.spacetime.sink import SpaceTimeSink
from ingest.models import parse_message
from ingest.scenario import generate

__all__ = [
    "Stream",
    "TrainingRows",
    "design",
    "fit_logistic",
    "fit_model",
    "fit_trees",
    "stream_scenario",
    "training_rows",
    "main",
]

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

    def true_pairs(self) -> frozenset[tuple[str, str]]:
        """Every pair of cases of one ground-truth series (both cases reported)."""
        have = {c.case_id for c in self.cases.cases()}
        out: set[tuple[str, str]] = set()
        for s in self.truth["series"]:
            out.update(itertools.combinations(sorted(set(s["case_ids"]) & have), 2))
        return frozenset(out)

    def link_rows(self, seed: int = -1, scale: float = float("nan")) -> TrainingRows:
        """The pairs the linker scored, with the feature vectors it scored them with, and
        their labels (see the module docstring)."""
        true = self.true_pairs()
        pairs = sorted(self.linker.links)
        x = np.array([self.linker.links[p].values for p in pairs], dtype=np.float64)
        y = np.array([int(p in true) for p in pairs], dtype=np.int64)
        return TrainingRows(seed, scale, x.reshape(-1, len(FEATURES)), y, pairs, true)


@dataclass(frozen=True)
class TrainingRows:
    """The scored pairs of one streamed scenario (:meth:`Stream.link_rows`)."""

    seed: int
    scale: float
    x: np.ndarray
    y: np.ndarray
    pairs: list[tuple[str, str]]
    true_pairs: frozenset[tuple[str, str]]  # every same-series pair, scored or not


def training_rows(seed: int, days: float, scale: float) -> TrainingRows:
    """Stream one scenario with the committed model and return its scored pairs."""
    return stream_scenario(seed, days, scale).link_rows(seed, scale)


def stream_scenario(
    seed: int, days: float, scale: float, model: LinkModel | TreeLinkModel | None = None
) -> Stream:
    """Generate a scenario and feed it, in arrival order and micro-batches, through the sinks."""
    one_blas_thread()  # as the pipeline's process does (icc.runtime)
    scenario = generate(seed=seed, days=days, scale=scale)
    cases = CaseBook()
    spacetime = SpaceTimeSink()
    persons = PersonSink()
    if model is None:
        try:
            model = load_link_model()
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


#: the boosted trees' settings: small steps, shallow trees, leaves of at least 50 training
#: pairs (a few hundred true pairs a seed: a leaf must not learn one crew)
TREE_SETTINGS: dict[str, float | int] = {
    "learning_rate": 0.25,
    "max_iter": 60,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
}

#: features whose effect on the log-odds may only rise (+1) or only fall (-1) as they grow:
#: stronger evidence never counts against a link, distance and a crowd of chance entities
#: never count for one; the others may do either (e.g. many entities near both scenes)
MONOTONE: dict[str, int] = {
    "st_best": 1,
    "st_stops": 1,
    "person": 1,
    "mo_jaccard": 1,
    "same_category": 1,
    "same_family": 1,
    "both_night": 1,
    "near_repeat": 1,
    "comp_scenes": 1,
    "log_km": -1,
    "log_crowd": -1,
}


def fit_trees(
    x: np.ndarray, y: np.ndarray, threshold: float = 0.5, **settings: float | int
) -> TreeLinkModel:
    """A :class:`TreeLinkModel` fitted on a feature matrix and labels by scikit-learn's
    histogram gradient boosting (log-loss; a fixed number of trees, no early stopping, a
    fixed random state: the same data gives the same trees). Needs scikit-learn, installed
    with the test extras (``pip install -e .[test]``)."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError as exc:  # pragma: no cover - the test extras install it
        raise RuntimeError(
            "training the boosted-trees link model needs scikit-learn: pip install -e .[test]"
        ) from exc
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(y) != x.shape[0]:
        raise ValueError(
            f"expected a matrix of {len(FEATURES)} feature columns and one label a row, "
            f"got x {x.shape} and y {np.shape(y)}"
        )
    params = {**TREE_SETTINGS, **settings}
    monotone = [MONOTONE.get(f, 0) for f in FEATURES]
    booster = HistGradientBoostingClassifier(
        loss="log_loss", early_stopping=False, random_state=0, monotonic_cst=monotone, **params
    )
    booster.fit(x, y)
    trees = _export_trees(booster)
    base = float(np.ravel(booster._baseline_prediction)[0])
    return TreeLinkModel(base, trees, threshold, {"settings": params, "monotone": MONOTONE})


def _export_trees(booster: Any) -> Trees:
    """The fitted trees of a binary ``HistGradientBoostingClassifier`` as flat arrays
    (scikit-learn keeps them in ``_predictors``, one node table per tree; a leaf's
    ``value`` already carries the learning rate, a split's is not used)."""
    roots, feature, threshold, left, right, value, expected = [], [], [], [], [], [], []
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes
        offset = len(feature)
        roots.append(offset)
        leaf = nodes["is_leaf"].astype(bool)
        if np.any(nodes["is_categorical"][~leaf]):
            raise ValueError("a categorical split: the link features are all numeric")
        feature += np.where(leaf, -1, nodes["feature_idx"]).tolist()
        threshold += np.where(leaf, 0.0, nodes["num_threshold"]).tolist()
        left += np.where(leaf, 0, nodes["left"].astype(np.int64) + offset).tolist()
        right += np.where(leaf, 0, nodes["right"].astype(np.int64) + offset).tolist()
        value += np.where(leaf, nodes["value"], 0.0).tolist()
        # expected log-odds of each node: its leaves' values weighted by the training pairs
        # that reached them, children before parents (a child's index is above its parent's)
        exp = np.where(leaf, nodes["value"], 0.0).astype(np.float64)
        for i in range(len(nodes) - 1, -1, -1):
            if not leaf[i]:
                a, b = int(nodes["left"][i]), int(nodes["right"][i])
                na, nb = float(nodes["count"][a]), float(nodes["count"][b])
                exp[i] = (na * exp[a] + nb * exp[b]) / (na + nb) if na + nb else 0.0
        expected += exp.tolist()
    return Trees(
        roots=np.asarray(roots, dtype=np.int64),
        feature=np.asarray(feature, dtype=np.int64),
        threshold=np.asarray(threshold, dtype=np.float64),
        left=np.asarray(left, dtype=np.int64),
        right=np.asarray(right, dtype=np.int64),
        value=np.asarray(value, dtype=np.float64),
        expected=np.asarray(expected, dtype=np.float64),
    )


def series_pair_f1(rows: TrainingRows, p: np.ndarray, threshold: float) -> float:
    """Pair F1 of the series a :class:`SeriesTracker` forms from the scored pairs of one
    stream, given their probabilities, against every true pair (scored or not)."""
    tracker = SeriesTracker()
    scored = {pair: float(v) for pair, v in zip(rows.pairs, p, strict=True)}
    accepted = {pair: v for pair, v in scored.items() if v >= threshold}
    tracker.update(accepted, list(scored), scored, exact=True)
    return _pair_f1(tracker.series.values(), rows.true_pairs)


def _pair_f1(groups: Iterable[Iterable[str]], true_pairs: frozenset[tuple[str, str]]) -> float:
    found = {pair for members in groups for pair in itertools.combinations(sorted(members), 2)}
    tp = len(found & true_pairs)
    total = len(found) + len(true_pairs)
    return 2 * tp / total if total else 1.0


def choose_threshold(
    model: LinkModel | TreeLinkModel,
    streams: Sequence[TrainingRows],
    grid: Sequence[float] = tuple(round(0.2 + 0.05 * i, 2) for i in range(13)),  # 0.2 .. 0.8
) -> float:
    """The threshold with the best mean series pair F1 over the training streams, the F1
    of each grid point averaged with its neighbours': with a dozen series a seed, F1 moves
    in steps as single series merge or split, and a lone peak beside a cliff is luck."""
    probabilities = [model.probabilities(rows.x) for rows in streams]
    f1s = []
    for t in grid:
        f1 = float(
            np.mean(
                [series_pair_f1(rows, p, t) for rows, p in zip(streams, probabilities, strict=True)]
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


def _stream_all(
    jobs: Sequence[tuple[int, float]], days: float, processes: int
) -> list[TrainingRows]:
    """:func:`training_rows` of each (seed, scale), on ``processes`` processes, in order."""
    out: dict[tuple[int, float], TrainingRows] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("streaming training scenarios", total=len(jobs))
        if processes <= 1:
            for seed, scale in jobs:
                out[(seed, scale)] = training_rows(seed, days, scale)
                bar.advance(task)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(processes, mp_context=context) as pool:
                futures = {
                    pool.submit(training_rows, seed, days, scale): (seed, scale)
                    for seed, scale in jobs
                }
                for done in as_completed(futures):
                    out[futures[done]] = done.result()
                    bar.advance(task)
    return [out[job] for job in jobs]


def _held_out(
    model: LinkModel | TreeLinkModel, seeds: Sequence[int], days: float, scale: float
) -> list[dict[str, Any]]:
    """Pair-level quality on seeds the model was not trained on: every pair of cases scored."""
    held = []
    for seed in seeds:
        stream = stream_scenario(seed, days, scale, model)
        ex, ey, _ = stream.rows()
        p = model.probabilities(ex)
        pred = p >= model.threshold
        tp = int((pred & (ey == 1)).sum())
        held.append(
            {
                "seed": seed,
                "scale": scale,
                "pairs": len(ey),
                "true": int(ey.sum()),
                "auc": round(auc(p, ey), 4),
                "precision": round(tp / max(int(pred.sum()), 1), 4),
                "recall": round(tp / max(int(ey.sum()), 1), 4),
                "series_pair_f1": round(
                    _pair_f1(stream.linker.tracker.series.values(), stream.true_pairs()), 4
                ),
            }
        )
        log.info("held-out seed %d: %s", seed, held[-1])
    return held


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph.train_links", description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 161)))
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[0.3, 1.0],
        help="scenario scales: every training seed is streamed at each (held-out seeds at "
        "the first)",
    )
    parser.add_argument("--model", choices=("trees", "logistic"), default="trees")
    parser.add_argument("--l2", type=float, default=1.0, help="the logistic model's penalty")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="probability above which a link is accepted (default: the one that maximises "
        "the mean series pair F1 on the training seeds)",
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="processes streaming the training scenarios"
    )
    parser.add_argument("--out", default=str(MODEL_PATH))
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: expected 1 or more")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        parser.error(f"--threshold {args.threshold}: expected a probability between 0 and 1")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    one_blas_thread()
    jobs = [(seed, scale) for seed in args.seeds for scale in args.scales]
    streams = _stream_all(jobs, args.days, args.jobs)
    for rows in streams:
        log.info(
            "seed %d at scale %g: %d scored pairs, %d true of %d true pairs",
            rows.seed,
            rows.scale,
            len(rows.y),
            int(rows.y.sum()),
            len(rows.true_pairs),
        )
    x = np.vstack([rows.x for rows in streams])
    y = np.concatenate([rows.y for rows in streams])
    if args.model == "trees":
        model: LinkModel | TreeLinkModel = fit_trees(x, y)
        settings = dict(model.meta)
    else:
        model = fit_model(x, y, args.l2)
        settings = {"l2": args.l2}
    threshold = args.threshold
    if threshold is None:
        threshold = choose_threshold(model, streams)
    log.info("threshold %.2f", threshold)
    model = dataclasses.replace(model, threshold=threshold)
    held = _held_out(model, args.eval_seeds, args.days, args.scales[0])
    model = dataclasses.replace(
        model,
        meta={
            "model": args.model,
            "trained_on_seeds": args.seeds,
            "days": args.days,
            "scales": args.scales,
            **settings,
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
