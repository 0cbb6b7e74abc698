"""Write a scenario to disk: ``stream.jsonl``, ``truth.json`` and ``checkpoints.csv``.

``stream.jsonl`` holds every message in arrival order, one JSON object per
line (UTF-8, Chinese kept as is); it can be fed to ``icc replay`` or a Kafka
producer unchanged. Files are written to a temporary name and renamed, so a
reader never sees half a file.

Example
-------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> summary = write_scenario(out, seed=1, days=0.5, scale=0.05)
>>> sorted(p.name for p in out.iterdir())
['checkpoints.csv', 'stream.jsonl', 'truth.json']
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .generator import generate

__all__ = ["write_scenario"]

log = logging.getLogger(__name__)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )


def write_scenario(
    out_dir: Path,
    seed: int = 7,
    days: float = 1.0,
    scale: float = 1.0,
    start: dt.datetime | None = None,
) -> dict[str, Any]:
    """Generate a scenario and write it under ``out_dir`` (created if missing).

    Returns a summary: the output paths, message counts per kind, the number of
    series, duplicates and late sightings, and the seconds taken.
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__} {out_dir!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("generating scenario", total=None)
        sc = generate(seed=seed, days=days, scale=scale, start=start)
        bar.update(task, description="writing stream.jsonl", total=len(sc.messages), completed=0)
        stream = out / "stream.jsonl"
        tmp = stream.with_suffix(".jsonl.tmp")
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            step = 20_000
            for i in range(0, len(sc.messages), step):
                fh.write("\n".join(dumps(m) for m in sc.messages[i : i + step]))
                fh.write("\n")
                bar.update(task, completed=min(i + step, len(sc.messages)))
        os.replace(tmp, stream)
    truth_path = out / "truth.json"
    tmp = truth_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sc.truth, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, truth_path)
    cps_path = out / "checkpoints.csv"
    tmp = cps_path.with_suffix(".csv.tmp")
    sc.checkpoints.to_csv(tmp, index=False)
    os.replace(tmp, cps_path)

    kinds: dict[str, int] = {}
    for m in sc.messages:
        kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
    summary = {
        "out_dir": str(out),
        "stream": str(stream),
        "truth": str(truth_path),
        "checkpoints": str(cps_path),
        "messages": len(sc.messages),
        "kinds": kinds,
        "series": len(sc.truth["series"]),
        "duplicates": sc.truth["duplicates"],
        "late_sightings": sc.truth["late_sightings"],
        "checkpoint_count": len(sc.checkpoints),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    log.info(
        "wrote %d messages (%s) to %s in %.1f s", len(sc.messages), kinds, out, summary["seconds"]
    )
    return summary
