"""Helpers shared by every benchmark in ``bench/``.

Each benchmark is a module run as ``python -m bench.NAME`` that measures the
project ("ours") beside the baseline a user would otherwise write, in the same
run, and reports one result::

    {"bench": NAME, "params": {...}, "ours": {...}, "baseline": {...}, "ratio": {...}}

Figures are plain numbers with the unit in the key (``sightings_per_s``,
``p99_ms``, ``peak_mib``, ``f1``). :func:`emit` checks that shape, writes
``<out>/NAME.json`` and ``<out>/NAME.png`` and prints the result: the JSON
object alone on stdout with ``--json`` (so it can be piped), a table otherwise.
Progress goes to stderr (:data:`stderr`), never to stdout.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(parents=[bench_parser()])
>>> args = parser.parse_args(["--quick", "--json"])
>>> args.quick, args.json, args.out.name
(True, True, 'results')
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

__all__ = [
    "RESULTS_DIR",
    "Timing",
    "bar_plot",
    "bench_parser",
    "emit",
    "peak_rss_mib",
    "progress",
    "ratios",
    "stderr",
    "timed",
    "validate_result",
]

log = logging.getLogger(__name__)

#: Default output directory: ``bench/results`` next to this file.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Console for progress and notes; stdout is reserved for the result.
stderr = Console(stderr=True)

_SECTIONS = ("ours", "baseline", "ratio")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
#: Key endings that carry a unit (or say the figure is unitless: f1, counts, flags).
_UNIT_SUFFIXES = (
    "_per_s",
    "_s",
    "_ms",
    "_us",
    "_ns",
    "_mib",
    "_gib",
    "_bytes",
    "_pct",
    "_count",
    "_ratio",
    "f1",
    "precision",
    "recall",
)
_FLAG_PREFIXES = ("meets_", "is_", "has_")

T = TypeVar("T")


def bench_parser() -> argparse.ArgumentParser:
    """The parent parser every benchmark uses: ``--quick``, ``--json``, ``--out DIR``.

    Use it as ``argparse.ArgumentParser(parents=[bench_parser()])`` and add the
    benchmark's own options.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes; the whole run takes under a minute"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly one JSON object on stdout (progress still goes to stderr)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR,
        metavar="DIR",
        help=f"where to write NAME.json and NAME.png (default: {RESULTS_DIR})",
    )
    return parser


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_result(result: Mapping[str, Any]) -> None:
    """Check ``result`` has the benchmark shape; raise ``ValueError`` naming what is wrong.

    Rules: exactly the keys ``bench``, ``params``, ``ours``, ``baseline``,
    ``ratio``; ``bench`` a lowercase identifier; ``params`` a dict of JSON
    scalars (numbers, strings, booleans) or lists of them; ``ours``,
    ``baseline`` and ``ratio`` dicts of lowercase snake_case keys to finite
    numbers (not booleans); every ``ratio`` key also in ``ours`` and
    ``baseline``. A figure key without a recognised unit suffix is only logged.
    """
    if not isinstance(result, Mapping):
        raise TypeError(f"result: got {type(result).__name__}; expected a dict")
    keys = set(result)
    expected = {"bench", "params", *_SECTIONS}
    if keys != expected:
        raise ValueError(f"result keys: got {sorted(keys)}; expected exactly {sorted(expected)}")
    name = result["bench"]
    if not isinstance(name, str) or not _KEY.match(name):
        raise ValueError(f"bench: got {name!r}; expected a lowercase identifier such as 'ingest'")
    params = result["params"]
    if not isinstance(params, Mapping):
        raise ValueError(f"params: got {params!r}; expected a dict")
    for key, value in params.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, int | float | str | bool) for v in items):
            raise ValueError(f"params.{key}: got {value!r}; expected a JSON scalar or list")
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValueError(f"params.{key}: got {value!r}; expected finite numbers")
    for section in _SECTIONS:
        figures = result[section]
        if not isinstance(figures, Mapping):
            raise ValueError(f"{section}: got {figures!r}; expected a dict of figures")
        for key, value in figures.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError(f"{section}.{key}: bad key; expected lowercase snake_case")
            if not _is_number(value) or not math.isfinite(value):
                raise ValueError(
                    f"{section}.{key}: got {value!r}; expected a finite number (not a bool)"
                )
            if not key.endswith(_UNIT_SUFFIXES) and not key.startswith(_FLAG_PREFIXES):
                log.warning("%s.%s has no unit in its key (e.g. _per_s, _ms, _mib)", section, key)
    missing = set(result["ratio"]) - (set(result["ours"]) & set(result["baseline"]))
    if missing:
        raise ValueError(f"ratio: keys {sorted(missing)} are not figures of both ours and baseline")


def ratios(ours: Mapping[str, float], baseline: Mapping[str, float]) -> dict[str, float]:
    """``ours / baseline`` for every figure the two share (skipping a zero baseline).

    For rates (``_per_s``) a ratio above 1 means ours is faster; for times and
    memory (``_ms``, ``_mib``) below 1 does.
    """
    out: dict[str, float] = {}
    for key in ours.keys() & baseline.keys():
        if baseline[key]:
            out[key] = round(ours[key] / baseline[key], 4)
    return dict(sorted(out.items()))


def emit(result: Mapping[str, Any], args: argparse.Namespace, *, plot: bool = True) -> Path:
    """Validate ``result``, write ``<out>/NAME.json`` (and ``NAME.png``), print it.

    With ``args.json`` the JSON object is the only thing written to stdout;
    otherwise a table is printed. Returns the path of the JSON file.
    """
    validate_result(result)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = result["bench"]
    path = out_dir / f"{name}.json"
    text = json.dumps(result, ensure_ascii=False, indent=2, sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")
    log.info("wrote %s", path)
    if plot:
        bar_plot(result, out_dir / f"{name}.png")
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        Console().print(_table(result))
        stderr.print(f"[dim]wrote {path}" + (f" and {path.with_suffix('.png')}" if plot else ""))
    return path


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _table(result: Mapping[str, Any]) -> Table:
    params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
    table = Table(title=f"bench {result['bench']}", caption=params)
    table.add_column("figure")
    for column in _SECTIONS:
        table.add_column(column, justify="right")
    keys = list(dict.fromkeys([*result["ours"], *result["baseline"], *result["ratio"]]))
    for key in keys:
        table.add_row(key, *(_fmt(result[s].get(key)) for s in _SECTIONS))
    return table


def bar_plot(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write a PNG with one panel per figure shared by ours and baseline.

    Each panel has two bars (ours, baseline) in the figure's own unit and the
    ratio in its title. Uses the Agg backend; no display is needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in result["ours"] if k in result["baseline"]]
    panels = max(len(keys), 1)
    fig = Figure(figsize=(3.2 * panels + 0.6, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=False):
        values = [result["ours"][key], result["baseline"][key]]
        bars = ax.bar(["ours", "baseline"], values, color=["#1f77b4", "#aaaaaa"])
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8)
        ratio = result["ratio"].get(key)
        ax.set_title(key + (f"\nratio {ratio:.3g}" if ratio is not None else ""), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.15)
    if not keys:
        axes[0].text(0.5, 0.5, "no shared figures", ha="center", va="center")
        axes[0].set_axis_off()
    fig.suptitle(f"bench {result['bench']}: ours vs baseline", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    log.info("wrote %s", path)
    return path


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(peak / divisor, 1)


@dataclass(frozen=True)
class Timing(Generic[T]):
    """Wall-clock seconds of repeated calls; ``result`` is the last call's return value."""

    best_s: float
    median_s: float
    times_s: list[float] = field(repr=False)
    result: T = field(repr=False)

    def per_s(self, items: int) -> float:
        """Throughput of ``items`` processed per call, from the best run."""
        return items / self.best_s if self.best_s > 0 else math.inf


def timed(fn: Callable[[], T], repeat: int = 3) -> Timing[T]:
    """Call ``fn`` ``repeat`` times, timing each call with ``time.perf_counter``.

    The best (minimum) time is the usual figure: it is the least disturbed by
    the rest of the machine.
    """
    if repeat < 1:
        raise ValueError(f"repeat: got {repeat!r}; expected an integer >= 1")
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return Timing(min(times), statistics.median(times), times, result)


def progress() -> Progress:
    """A rich progress display on stderr (use as a context manager)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )
