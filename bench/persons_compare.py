"""Benchmark: person-name comparators beside rapidfuzz, on the same name arrays.

Run as ``python -m bench.persons_compare [--quick] [--json]``. In one run, on
names written the way the scenario generator writes them (Han, homophones,
spacing, pinyin in several spellings):

* Jaro-Winkler, all pairs of two name arrays (cdist):
  :func:`graph.persons.compare.jaro_winkler_matrix` (numba, one thread) vs
  ``rapidfuzz.process.cdist(a, b, scorer=JaroWinkler.normalized_similarity,
  workers=1)`` - on the names as written (``mixed``), on their normalised
  pinyin (``pinyin``, what person matching compares) and on the Han names
  (``han``); both answers are checked to agree exactly;
* the same on both cores (``parallel=True`` vs ``workers=2``);
* Jaro-Winkler on arbitrary pairs: :func:`~graph.persons.compare.jaro_winkler_pairs`
  vs ``rapidfuzz.process.cpdist(..., workers=1)``;
* bounded Levenshtein (k = 2): :func:`~graph.persons.compare.levenshtein_matrix`
  vs ``cdist(..., scorer=Levenshtein.distance, score_cutoff=2, workers=1)``;
* :func:`~graph.persons.compare.compare_pairs` (all five agreement levels of a
  record pair) on one and on two threads - ours only; the record-pair baseline
  (recordlinkage) is ``bench.persons``.

Target: >= 20M Jaro-Winkler comparisons/s per core.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cdist, cpdist

from bench._common import bench_parser, emit, peak_rss_mib, progress, ratios, stderr, timed
from graph.persons.compare import (
    compare_pairs,
    jaro_winkler_matrix,
    jaro_winkler_pairs,
    levenshtein_matrix,
)
from graph.persons.encode import StringArray, encode_persons, encode_strings
from graph.persons.normalize import normalize_person
from ingest.scenario.names import COMMON_NAMES, NAME_STYLES, name_variant, random_name

FULL = (1_000, 20_000, 2_000_000)  # queries, choices, random pairs
QUICK = (400, 5_000, 400_000)
TARGET_JW_PER_S = 20_000_000
LEV_K = 2

log = logging.getLogger(__name__)


def make_names(n: int, seed: int = 17) -> list[str]:
    """``n`` names as reports write them: one in five a very common name, styles cycled."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if i % 5 == 0:
            canon = COMMON_NAMES[int(rng.integers(len(COMMON_NAMES)))][0]
        else:
            canon = random_name(rng, "M" if rng.random() < 0.6 else "F")
        out.append(name_variant(canon, NAME_STYLES[i % len(NAME_STYLES)], rng))
    return out


def _head(sa: StringArray, n: int = 2) -> StringArray:
    """The first ``n`` strings, same dtype (a JIT warm-up that compiles the timed variant)."""
    return StringArray(sa.codes[:n], sa.lengths[:n], sa.max_code)


def _jw_case(a: list[str], b: list[str], repeat: int) -> tuple[float, float, float]:
    sa, sb = encode_strings(a), encode_strings(b)
    jaro_winkler_matrix(_head(sa), _head(sb))
    ours = timed(lambda: jaro_winkler_matrix(sa, sb), repeat)
    base = timed(
        lambda: cdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1, dtype=np.float64),
        repeat,
    )
    diff = float(np.max(np.abs(ours.result - base.result)))
    n = len(a) * len(b)
    return ours.per_s(n), base.per_s(n), diff


def run(n_a: int, n_b: int, n_pairs: int, repeat: int) -> dict[str, Any]:
    names = make_names(n_a + n_b)
    a_mixed, b_mixed = names[:n_a], names[n_a:]
    people = [normalize_person({"role": "suspect", "name": s}) for s in names]
    pinyin = [p.pinyin_str for p in people]
    a_py, b_py = pinyin[:n_a], pinyin[n_a:]
    han = [p.name_han for p in people if p.name_han]
    n_han_a = max(1, len(han) * n_a // (n_a + n_b))
    a_han, b_han = han[:n_han_a], han[n_han_a:]
    ours: dict[str, float] = {}
    base: dict[str, float] = {}
    diffs: dict[str, float] = {}
    threads = numba.get_num_threads()
    with progress() as bar:
        task = bar.add_task("comparators", total=8)
        for key, a, b in (
            ("mixed", a_mixed, b_mixed),
            ("pinyin", a_py, b_py),
            ("han", a_han, b_han),
        ):
            o, r, d = _jw_case(a, b, repeat)
            ours[f"jw_{key}_per_s"], base[f"jw_{key}_per_s"], diffs[key] = o, r, d
            bar.advance(task)

        sa, sb = encode_strings(a_py), encode_strings(b_py)
        n = len(a_py) * len(b_py)
        jaro_winkler_matrix(_head(sa), _head(sb), parallel=True)
        par = timed(lambda: jaro_winkler_matrix(sa, sb, parallel=True), repeat)
        rf_par = timed(
            lambda: cdist(
                a_py, b_py, scorer=JaroWinkler.normalized_similarity, workers=threads,
                dtype=np.float64,
            ),
            repeat,
        )  # fmt: skip
        ours["jw_pinyin_all_cores_per_s"] = par.per_s(n)
        base["jw_pinyin_all_cores_per_s"] = rf_par.per_s(n)
        bar.advance(task)

        rng = np.random.default_rng(5)
        ia = rng.integers(0, len(a_py), n_pairs)
        ib = rng.integers(0, len(b_py), n_pairs)
        qa = [a_py[i] for i in ia]
        qb = [b_py[j] for j in ib]
        jaro_winkler_pairs(sa, sb, ia[:10], ib[:10])
        pairs = timed(lambda: jaro_winkler_pairs(sa, sb, ia, ib), repeat)
        rf_pairs = timed(
            lambda: cpdist(
                qa, qb, scorer=JaroWinkler.normalized_similarity, workers=1, dtype=np.float64
            ),
            repeat,
        )
        diffs["pairs"] = float(np.max(np.abs(pairs.result - rf_pairs.result)))
        ours["jw_pairs_per_s"] = pairs.per_s(n_pairs)
        base["jw_pairs_per_s"] = rf_pairs.per_s(n_pairs)
        bar.advance(task)

        sm_a, sm_b = encode_strings(a_mixed), encode_strings(b_mixed)
        levenshtein_matrix(_head(sm_a), _head(sm_b), LEV_K)
        lev = timed(lambda: levenshtein_matrix(sm_a, sm_b, LEV_K), repeat)
        rf_lev = timed(
            lambda: cdist(
                a_mixed, b_mixed, scorer=Levenshtein.distance, score_cutoff=LEV_K, workers=1
            ),
            repeat,
        )
        lev_agree = bool(np.array_equal(lev.result, rf_lev.result))
        n = len(a_mixed) * len(b_mixed)
        ours["lev_k2_mixed_per_s"] = lev.per_s(n)
        base["lev_k2_mixed_per_s"] = rf_lev.per_s(n)
        bar.advance(task)

        enc = encode_persons(people)
        compare_pairs(enc, enc, ia[:10], ib[:10] + n_a, parallel=False)
        compare_pairs(enc, enc, ia[:10], ib[:10] + n_a, parallel=True)
        g1 = timed(lambda: compare_pairs(enc, enc, ia, ib + n_a, parallel=False), repeat)
        bar.advance(task)
        g2 = timed(lambda: compare_pairs(enc, enc, ia, ib + n_a, parallel=True), repeat)
        ours["record_pairs_1_thread_per_s"] = g1.per_s(n_pairs)
        ours["record_pairs_all_cores_per_s"] = g2.per_s(n_pairs)
        bar.advance(task)

    ours = {k: round(v, 1) for k, v in ours.items()}
    base = {k: round(v, 1) for k, v in base.items()}
    ours["meets_target"] = int(
        min(ours["jw_mixed_per_s"], ours["jw_pinyin_per_s"]) >= TARGET_JW_PER_S
    )
    return {
        "bench": "persons_compare",
        "params": {
            "n_queries": n_a,
            "n_choices": n_b,
            "n_han_queries": len(a_han),
            "n_han_choices": len(b_han),
            "n_random_pairs": n_pairs,
            "repeat": repeat,
            "threads": threads,
            "mean_name_chars": round(float(np.mean([len(s) for s in names])), 2),
            "mean_pinyin_chars": round(float(np.mean([len(s) for s in pinyin])), 2),
            "jw_max_abs_diff_vs_rapidfuzz": max(diffs.values()),
            "levenshtein_agrees_with_rapidfuzz": lev_agree,
            "lev_k": LEV_K,
            "target_jw_per_s": TARGET_JW_PER_S,
            "baseline": "rapidfuzz.process.cdist / cpdist, workers=1 (all_cores: workers=threads)",
            "peak_rss_mib": peak_rss_mib(),
        },
        "ours": ours,
        "baseline": base,
        "ratio": ratios(ours, base),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.persons_compare",
        description="Jaro-Winkler and bounded Levenshtein on name arrays vs rapidfuzz.",
        parents=[bench_parser()],
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best kept)")
    parser.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)  # smoke tests
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    n_a, n_b, n_pairs = QUICK if args.quick else FULL
    if args.n is not None:
        if args.n < 20:
            parser.error(f"--n: got {args.n}; expected at least 20 names")
        n_a, n_b, n_pairs = args.n // 10, args.n, args.n * 10
    if args.repeat < 1:
        parser.error(f"--repeat: got {args.repeat}; expected at least 1")
    stderr.print(
        f"[bold]bench persons_compare[/]: {n_a:,} x {n_b:,} names, {n_pairs:,} pairs, "
        f"{numba.get_num_threads()} threads"
    )
    result = run(n_a, n_b, n_pairs, repeat=args.repeat)
    if result["params"]["jw_max_abs_diff_vs_rapidfuzz"] > 1e-12:
        stderr.print("[red]Jaro-Winkler disagrees with rapidfuzz[/]")
    if not result["params"]["levenshtein_agrees_with_rapidfuzz"]:
        stderr.print("[red]Levenshtein disagrees with rapidfuzz[/]")
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
