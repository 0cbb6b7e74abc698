"""Smoke test of ``python -m bench.linkage``: it runs, prints the agreed shape, writes files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench._common import validate_result

ROOT = Path(__file__).resolve().parents[2]


def test_linkage_quick_json(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.linkage",
            "--quick",
            "--json",
            "--out",
            str(tmp_path),
            "--seeds",
            "7",
            "--days",
            "1",
            "--scale",
            "0.1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    validate_result(result)
    for key in ("pair_precision", "pair_recall", "pair_f1", "bcubed_f1"):
        assert 0.0 <= result["ours"][key] <= 1.0 and 0.0 <= result["baseline"][key] <= 1.0
    assert 0.0 <= result["ours"]["auc"] <= 1.0
    # the naive linker chains cases together through ubiquitous vehicles
    assert result["baseline"]["pair_precision"] < result["ours"]["pair_precision"]
    # one seed: its own figures are the means, and the count says whether it meets them all
    ours, params = result["ours"], result["params"]
    assert params["pair_f1_per_seed"] == [round(ours["pair_f1"], 4)]
    meets = ours["pair_f1"] >= 0.95 and ours["auc"] >= 0.97 and ours["tpr_at_5pct_fpr"] >= 0.95
    assert ours["seeds_meeting_targets_count"] == int(meets)
    assert (tmp_path / "linkage.json").is_file() and (tmp_path / "linkage.png").is_file()


def test_wrong_pairs_are_counted_by_kind() -> None:
    from bench.linkage import error_counts

    truth = [{"a", "b", "c"}, {"d", "e"}]
    # a crew found with a bystander x; two background cases together; one case of each
    # crew together; e found nowhere
    pred = [{"a", "b", "x"}, {"y", "z"}, {"c", "d"}]
    assert error_counts(pred, truth) == {
        "fp_pairs_bystander_count": 2,  # a-x, b-x
        "fp_pairs_background_count": 1,  # y-z
        "fp_pairs_two_series_count": 1,  # c-d
        "fn_pairs_left_out_count": 1,  # d-e
        "fn_pairs_split_count": 2,  # a-c, b-c
    }
    assert error_counts(truth, truth) == dict.fromkeys(error_counts(pred, truth), 0)
