"""Benchmark: linkage quality on generated scenarios with ground truth, beside a naive linker.

Run as ``python -m bench.linkage [--quick] [--json] [--seeds 7 8 9]``. For each
seed (none of them used to train the link model) a scenario is streamed in
arrival order through the live sinks, and the series found are compared with
the truth:

* pairwise precision, recall, F1 over all pairs of cases ("same series?");
* B-cubed F1 (per case: share of its predicted series that is truly its series, and back);
* AUC and the true-positive rate at 5 % false positives of the link probability over all
  case pairs (the model scores every pair, with or without identity evidence);
* ``top50_share``: for each case of a true series, the share of its series-mates among
  the 50 cases with the highest link probability to it.

The figures are means over the seeds; ``params`` lists each seed's pair F1, precision and
recall, and ``seeds_meeting_targets_count`` says on how many seeds every target holds. The
wrong pairs of our series are counted by kind over all seeds (:func:`error_counts`):
``fp_pairs_bystander_count``, ``fp_pairs_background_count``, ``fp_pairs_two_series_count``,
``fn_pairs_left_out_count``, ``fn_pairs_split_count``.

The baseline is the naive linker an analyst would script: every plate seen
within a fixed 1 km of a scene during its window links that case to every other
case the plate was near, then union-find — ubiquitous vehicles chain everything.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bench._common import bench_parser, emit, peak_rss_mib, progress, stderr
from graph.spacetime.index import to_index_time
from graph.train_links import Stream, auc, stream_scenario

__all__ = ["error_counts", "evaluate", "main", "naive_series", "pair_scores"]

log = logging.getLogger(__name__)


def _pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for g in groups:
        out.update(itertools.combinations(sorted(set(g)), 2))
    return out


def _bcubed(pred: list[set[str]], truth: list[set[str]], cases: Iterable[str]) -> float:
    pred_of = {c: g for g in pred for c in g}
    truth_of = {c: g for g in truth for c in g}
    ps, rs = [], []
    for c in cases:
        p = pred_of.get(c, {c})
        t = truth_of.get(c, {c})
        inter = len(p & t)
        ps.append(inter / len(p))
        rs.append(inter / len(t))
    prec, rec = float(np.mean(ps)), float(np.mean(rs))
    return 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def _prf(pred: set[tuple[str, str]], true: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(pred & true)
    prec = tp / len(pred) if pred else 0.0
    rec = tp / len(true) if true else 0.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def pair_scores(stream: Stream) -> dict[tuple[str, str], float]:
    """The link model's probability for every pair of cases, evidence or not."""
    x, _, pairs = stream.rows()
    p = stream.linker.model.probabilities(x)
    return dict(zip(pairs, p.tolist(), strict=True))


def naive_series(stream: Stream, radius_m: float = 1000.0) -> list[set[str]]:
    """Plates within a fixed radius of each scene during its window, union-find over shared plates."""
    core = stream.spacetime.core
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_case_of: dict[int, str] = {}
    for case in stream.cases.cases():
        ids, _ = core.checkpoints.within(case.lon, case.lat, radius_m)
        if ids.size == 0:
            continue
        t0, t1 = (
            int(t)
            for t in to_index_time(
                np.array([case.occurred_start.timestamp(), case.occurred_end.timestamp()])
            )
        )
        ents, _, _ = core.index.query(ids, t0, t1)
        for e in set(ents.tolist()):
            other = first_case_of.setdefault(e, case.case_id)
            if other != case.case_id:
                parent[find(case.case_id)] = find(other)
    groups: dict[str, set[str]] = {}
    for c in parent:
        groups.setdefault(find(c), set()).add(c)
    return [g for g in groups.values() if len(g) >= 2]


def _top50(scores: dict[tuple[str, str], float], truth: list[set[str]]) -> float:
    by_case: dict[str, list[tuple[float, str]]] = {}
    for (a, b), p in scores.items():
        by_case.setdefault(a, []).append((p, b))
        by_case.setdefault(b, []).append((p, a))
    shares = []
    for group in truth:
        for c in group:
            top = {o for _, o in sorted(by_case.get(c, []), reverse=True)[:50]}
            shares.append(len(top & (group - {c})) / (len(group) - 1))
    return float(np.mean(shares)) if shares else 0.0


def error_counts(pred: list[set[str]], truth: list[set[str]]) -> dict[str, int]:
    """The wrong pairs of ``pred`` by kind: a case of no true series inside a true series'
    group (bystander), two such cases together (background), cases of two true series
    together; true pairs missed because a case is in no group (left out) or because its
    series is cut across groups (split)."""
    series_of = {c: i for i, g in enumerate(truth) for c in g}
    group_of = {c: i for i, g in enumerate(pred) for c in g}
    out = dict.fromkeys(
        (
            "fp_pairs_bystander_count",
            "fp_pairs_background_count",
            "fp_pairs_two_series_count",
            "fn_pairs_left_out_count",
            "fn_pairs_split_count",
        ),
        0,
    )
    for a, b in _pairs(pred):
        sa, sb = series_of.get(a), series_of.get(b)
        if sa is not None and sa == sb:
            continue
        if sa is None and sb is None:
            out["fp_pairs_background_count"] += 1
        elif sa is None or sb is None:
            out["fp_pairs_bystander_count"] += 1
        else:
            out["fp_pairs_two_series_count"] += 1
    for a, b in _pairs(truth):
        ga, gb = group_of.get(a), group_of.get(b)
        if ga is not None and ga == gb:
            continue
        key = "fn_pairs_left_out_count" if ga is None or gb is None else "fn_pairs_split_count"
        out[key] += 1
    return out


def evaluate(stream: Stream) -> tuple[dict[str, float], dict[str, float]]:
    """(ours, baseline) quality figures for one streamed scenario."""
    cases = sorted(c.case_id for c in stream.cases.cases())
    truth = [set(s["case_ids"]) & set(cases) for s in stream.truth["series"]]
    truth = [g for g in truth if len(g) >= 2]
    true_pairs = _pairs(truth)
    ours_groups = [set(m) for m in stream.linker.tracker.series.values()]
    naive_groups = naive_series(stream)
    scores = pair_scores(stream)
    all_pairs = list(itertools.combinations(cases, 2))
    s = np.array([scores.get(p, 0.0) for p in all_pairs])
    y = np.array([p in true_pairs for p in all_pairs], dtype=np.int64)
    neg = np.sort(s[y == 0])[::-1]
    cut = neg[int(0.05 * neg.size)] if neg.size else 1.0
    tpr5 = float(np.mean(s[y == 1] > cut)) if y.any() else 0.0
    out = {}
    for name, groups in (("ours", ours_groups), ("baseline", naive_groups)):
        prec, rec, f1 = _prf(_pairs(groups), true_pairs)
        out[name] = {
            "pair_precision": prec,
            "pair_recall": rec,
            "pair_f1": f1,
            "bcubed_f1": _bcubed(groups, truth, cases),
        }
    lat = np.asarray(stream.latencies_ms) if stream.latencies_ms else np.zeros(1)
    out["ours"].update(
        {
            "auc": auc(s, y),
            "tpr_at_5pct_fpr": tpr5,
            "top50_share": _top50(scores, truth),
            "batch_latency_p50_ms": float(np.percentile(lat, 50)),
            "batch_latency_p99_ms": float(np.percentile(lat, 99)),
            **error_counts(ours_groups, truth),
        }
    )
    return out["ours"], out["baseline"]


#: issue 6's quality targets, each a (figure, lowest acceptable value)
TARGETS: tuple[tuple[str, float], ...] = (
    ("pair_f1", 0.95),
    ("auc", 0.97),
    ("tpr_at_5pct_fpr", 0.95),
)


def _meets_targets(figures: dict[str, float]) -> bool:
    return all(figures[name] >= low for name, low in TARGETS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.linkage",
        description=__doc__,
        parents=[bench_parser()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--days", type=float, default=None)
    parser.add_argument("--scale", type=float, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    seeds = args.seeds or ([7] if args.quick else [7, 8, 9])
    days = args.days or (2.0 if args.quick else 3.0)
    scale = args.scale or (0.2 if args.quick else 0.3)
    stderr.print(f"[bold]bench linkage[/]: seeds {seeds}, {days:g} days, scale {scale:g}")
    ours_all: list[dict[str, float]] = []
    base_all: list[dict[str, float]] = []
    with progress() as bar:
        task = bar.add_task("scenarios", total=len(seeds))
        for seed in seeds:
            o, b = evaluate(stream_scenario(seed, days, scale))
            ours_all.append(o)
            base_all.append(b)
            bar.advance(task)

    def mean(rows: list[dict[str, float]]) -> dict[str, float]:
        """Figures averaged over the seeds; counts (of wrong pairs) summed."""
        return {
            k: int(sum(r[k] for r in rows))
            if k.endswith("_count")
            else round(float(np.mean([r[k] for r in rows])), 4)
            for k in rows[0]
        }

    ours, baseline = mean(ours_all), mean(base_all)
    # the headline is the mean over the seeds; each seed's figures show how much it varies
    ours["seeds_meeting_targets_count"] = sum(_meets_targets(o) for o in ours_all)
    ratio = {k: round(ours[k] / baseline[k], 4) for k in baseline if baseline[k]}
    result: dict[str, Any] = {
        "bench": "linkage",
        "params": {
            "seeds": seeds,
            "days": days,
            "scale": scale,
            "baseline": "plates within 1 km + union-find",
            "targets": " ".join(f"{name}>={low:g}" for name, low in TARGETS),
            "pair_f1_per_seed": [round(o["pair_f1"], 4) for o in ours_all],
            "pair_precision_per_seed": [round(o["pair_precision"], 4) for o in ours_all],
            "pair_recall_per_seed": [round(o["pair_recall"], 4) for o in ours_all],
            "peak_rss_mib": peak_rss_mib(),
        },
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
    }
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
