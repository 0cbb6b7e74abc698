"""Benchmark: a province day end to end, embedded and through Kafka (Tansu).

Run as ``python -m bench.e2e [--quick] [--json] [--no-kafka]``. A one-day
scenario of the province (default scale 36: >= 5 M sightings, >= 3 k incidents)
is written by ``icc scenario`` in a child process, then replayed in arrival order

* **embedded**: through the runtime's pipeline in micro-batches (journal,
  dead letters, case registry, space-time core, persons, linker, graph store,
  tasking), in a child process so its peak memory is its own;
* **kafka**: published to a local Tansu broker (``icc publish``'s code, six
  partitions per topic) and consumed by the worker (``run_kafka``), in a child
  process.

Reported: messages/s, how many times faster than real time the day replays
(day length / wall time), micro-batch latency from arrival to series update
(p50/p99 over batches holding reports: the time a report waits for its series
update), peak RSS of each child, and a plot of consumer lag (messages published
but not yet processed) over time. Targets (issue 10): the day replays faster
than 10x real time through Kafka with peak memory under 8 GiB; issue 6's report
to series update p99 <= 250 ms. The baseline is what a user would otherwise
run over the same stream: a validation-only loop (parse every message against
the contract, no state) in memory and from a plain kafka-python consumer.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from queue import Empty
from typing import Any

import numpy as np

from bench._common import bench_parser, emit, peak_rss_mib, progress, ratios, stderr

__all__ = ["main", "run"]

log = logging.getLogger(__name__)

FULL = {"scale": 36.0, "days": 1.0}
QUICK = {"scale": 1.0, "days": 0.25}
TARGET_REALTIME_FACTOR = 10.0
TARGET_PEAK_MIB = 8 * 1024
TARGET_P99_MS = 250.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _scenario(out: Path, seed: int, days: float, scale: float) -> Path:
    """Write the scenario with ``icc scenario`` in a child process (its memory is not ours)."""
    cmd = [sys.executable, "-m", "icc.cli", "scenario", "--seed", str(seed), "--days", str(days),
           "--scale", str(scale), "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out / "stream.jsonl"


def _iter_lines(path: Path) -> Iterator[bytes]:
    """The file's non-blank lines, streamed (the day is ~1 GB: never held in memory)."""
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield line.rstrip(b"\n")


def _count_lines(path: Path) -> int:
    return sum(1 for _ in _iter_lines(path))


def _percentiles(prefix: str, values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64) if values else np.zeros(1)
    return {
        f"{prefix}_p50_ms": round(float(np.percentile(a, 50)), 2),
        f"{prefix}_p99_ms": round(float(np.percentile(a, 99)), 2),
    }


def _embedded_child(path: str, workdir: str, queue: Any) -> None:
    from icc.config import Settings
    from icc.runtime import Runtime
    from ingest.ahead import ValidateAhead
    from ingest.pipeline import stream_gc
    from ingest.sources import RawMessage, batched

    total = _count_lines(Path(path))
    runtime = Runtime.open(Settings(data_dir=Path(workdir) / "embedded"), reset=True)
    size = runtime.settings.batch_size
    report_ms: list[float] = []
    curve: list[tuple[float, int]] = []
    done = 0
    start = time.perf_counter()
    try:
        lines = (
            RawMessage(raw, "bench:e2e", str(i)) for i, raw in enumerate(_iter_lines(Path(path)))
        )
        # as icc replay does: a worker validates batches ahead; a batch's latency is the
        # time validating it plus the time the pipeline took for it
        with stream_gc(), ValidateAhead() as ahead:
            t0 = time.perf_counter()
            for chunk, _, validate_s in runtime.ingestor.stream(batched(lines, size), ahead=ahead):
                if any(
                    b'"kind": "incident"' in m.raw or b'"kind":"incident"' in m.raw for m in chunk
                ):
                    report_ms.append((time.perf_counter() - t0 + validate_s) * 1000.0)
                done += len(chunk)
                curve.append((time.perf_counter() - start, total - done))
                t0 = time.perf_counter()
        seconds = time.perf_counter() - start
        series = len(runtime.series)
    finally:
        runtime.close()
    queue.put(
        {
            "messages": done,
            "seconds": seconds,
            "report_ms": report_ms,
            "series": series,
            "peak_rss_mib": peak_rss_mib(),
            "curve": curve[:: max(1, len(curve) // 400)],
        }
    )


def _kafka_child(path: str, workdir: str, bootstrap: str, queue: Any) -> None:
    from icc.config import Settings
    from icc.runtime import Runtime
    from ingest.kafka.source import run_kafka

    total = _count_lines(Path(path))
    runtime = Runtime.open(Settings(data_dir=Path(workdir) / "kafka"), reset=True)
    curve: list[tuple[float, int]] = []
    start = time.perf_counter()

    def on_batch(stats: Any) -> None:
        curve.append((time.perf_counter() - start, total - stats.messages))

    try:
        stats = run_kafka(
            runtime, bootstrap, group_id="bench-e2e", exit_when_idle_s=10.0, on_batch=on_batch
        )
        series = len(runtime.series)
    finally:
        runtime.close()
    queue.put(
        {
            "messages": stats.messages,
            "seconds": stats.active_seconds,
            "batch_ms": stats.batch_latencies_ms,
            "series": series,
            "peak_rss_mib": peak_rss_mib(),
            "curve": curve[:: max(1, len(curve) // 400)],
        }
    )


def _in_child(target: Any, *args: Any, poll_s: float = 2.0) -> dict[str, Any]:
    """Run ``target(*args, queue)`` in a fresh process (its own peak memory) and return what
    it puts on the queue.

    The child dies with this process (a benchmark interrupted or killed leaves no child
    measuring on for minutes), and a child that dies before reporting (killed for memory,
    a crash in native code) is an error naming its exit code, not a wait for ever.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_main, args=(target, os.getpid(), *args, queue))
    proc.start()
    try:
        while True:
            try:
                result = queue.get(timeout=poll_s)
                break
            except Empty:
                if not proc.is_alive():
                    raise RuntimeError(
                        f"{target.__name__} died before reporting (exit code {proc.exitcode})"
                    ) from None
        proc.join()
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    if proc.exitcode:
        raise RuntimeError(f"{target.__name__} exited with {proc.exitcode}")
    return result


def _child_main(target: Any, parent: int, *args: Any) -> None:
    _die_with_parent(parent)
    target(*args)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send this process SIGKILL when its parent dies
    (``PR_SET_PDEATHSIG``); elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.warning("cannot tie the child's life to its parent's: %s", exc)
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def _validate_only(lines: Iterable[bytes]) -> tuple[int, float]:
    """Parse every message against the contract, no state: (messages, messages/s)."""
    from ingest.models import ContractError, parse_message

    n = 0
    start = time.perf_counter()
    for raw in lines:
        n += 1
        with contextlib.suppress(ContractError):
            parse_message(raw)
    return n, n / (time.perf_counter() - start)


def _lag_plot(curves: dict[str, list[tuple[float, int]]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, curve in curves.items():
        if curve:
            t, lag = zip(*curve, strict=True)
            ax.plot(t, lag, label=name)
    ax.set_xlabel("wall seconds")
    ax.set_ylabel("messages not yet processed")
    ax.set_title("bench e2e: lag over time (the whole day published at t=0)")
    ax.legend()
    fig.savefig(path, dpi=110)


def run(seed: int, days: float, scale: float, *, kafka: bool, out: Path) -> dict[str, Any]:
    """Measure the embedded and Kafka paths on one scenario; returns the result."""
    ours: dict[str, float] = {}
    baseline: dict[str, float] = {}
    params: dict[str, Any] = {"seed": seed, "days": days, "scale": scale}
    curves: dict[str, list[tuple[float, int]]] = {}
    day_s = days * 86400.0
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp, progress() as prog:
        work = Path(tmp)
        task = prog.add_task("scenario", total=None)
        path = _scenario(work / "zj", seed, days, scale)
        prog.update(task, total=1, completed=1)
        truth = json.loads((work / "zj" / "truth.json").read_text(encoding="utf-8"))
        params["sightings"] = int(truth["counts"]["sightings"])
        params["incidents"] = int(truth["counts"]["incidents"])
        task = prog.add_task("baseline: validation only", total=None)
        params["messages"], per_s = _validate_only(_iter_lines(path))
        baseline["embedded_messages_per_s"] = round(per_s, 1)
        prog.update(task, total=1, completed=1)
        task = prog.add_task("embedded pipeline", total=None)
        emb = _in_child(_embedded_child, str(path), tmp)
        prog.update(task, total=1, completed=1)
        ours["embedded_messages_per_s"] = round(emb["messages"] / emb["seconds"], 1)
        ours["embedded_realtime_ratio"] = round(day_s / emb["seconds"], 2)
        ours.update(_percentiles("embedded_report_to_series", emb["report_ms"]))
        ours["embedded_peak_rss_mib"] = emb["peak_rss_mib"]
        params["series_found"] = emb["series"]
        curves["embedded"] = emb["curve"]
        if kafka:
            from ingest.kafka.publish import PublishError

            try:
                _kafka_day(path, tmp, day_s, prog, ours, baseline, params, curves)
            except PublishError as exc:  # the broker stopped taking the day
                log.error("Kafka path not measured: %s", exc)
                params["kafka_complete"] = False
                params["kafka_publish_error"] = str(exc)
    ours["meets_report_to_series_p99"] = int(
        ours["embedded_report_to_series_p99_ms"] <= TARGET_P99_MS
    )
    if "kafka_realtime_ratio" in ours:
        ours["meets_kafka_realtime"] = int(
            ours["kafka_realtime_ratio"] >= TARGET_REALTIME_FACTOR
            and ours["kafka_peak_rss_mib"] < TARGET_PEAK_MIB
            and params["kafka_complete"]
        )
    params["targets"] = (
        f"kafka_realtime_ratio>={TARGET_REALTIME_FACTOR:g} peak<{TARGET_PEAK_MIB} MiB "
        f"report_to_series_p99<={TARGET_P99_MS:g} ms"
    )
    out.mkdir(parents=True, exist_ok=True)
    _lag_plot(curves, out / "e2e_lag.png")
    return {
        "bench": "e2e",
        "params": params,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratios(ours, baseline),
    }


def _kafka_day(
    path: Path,
    tmp: str,
    day_s: float,
    prog: Any,
    ours: dict[str, Any],
    baseline: dict[str, Any],
    params: dict[str, Any],
    curves: dict[str, Any],
) -> None:
    """Publish the day to a local broker and replay it through one ``icc run`` worker;
    its figures go into ``ours``, ``baseline``, ``params`` and ``curves``. Raises
    :class:`~ingest.kafka.publish.PublishError` if the broker stops taking the day."""
    from ingest.kafka.broker import LocalBroker
    from ingest.kafka.publish import publish_files

    with LocalBroker() as broker:
        task = prog.add_task("publish to Kafka", total=None)
        summary = publish_files([path], broker.bootstrap, partitions=6, console=stderr)
        prog.update(task, total=1, completed=1)
        ours["publish_messages_per_s"] = round(summary.per_s, 1)
        task = prog.add_task("Kafka worker", total=None)
        k = _in_child(_kafka_child, str(path), tmp, broker.bootstrap)
        prog.update(task, total=1, completed=1)
        from bench.stream import _plain_consumer

        task = prog.add_task("baseline: plain consumer", total=None)
        base = _plain_consumer(broker.bootstrap, k["messages"], lambda n: None)
        prog.update(task, total=1, completed=1)
    ours["kafka_messages_per_s"] = round(k["messages"] / max(k["seconds"], 1e-9), 1)
    ours["kafka_realtime_ratio"] = round(day_s / max(k["seconds"], 1e-9), 2)
    ours.update(_percentiles("kafka_batch", k["batch_ms"]))
    ours["kafka_peak_rss_mib"] = k["peak_rss_mib"]
    baseline.update(base)
    params["kafka_messages_consumed"] = k["messages"]
    # the figures are of the day only if the broker took every message and the
    # worker read them all (a publish that timed out leaves a shorter stream)
    params["kafka_publish_failed"] = summary.failed
    params["kafka_complete"] = summary.failed == 0 and k["messages"] == summary.messages
    if not params["kafka_complete"]:
        log.error(
            "Kafka path incomplete: %d of %d messages not delivered to the broker, %d "
            "consumed; its figures are not those of the whole day",
            summary.failed,
            summary.messages,
            k["messages"],
        )
    params["kafka_series_found"] = k["series"]
    curves["kafka"] = k["curve"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
        parents=[bench_parser()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--days", type=float, default=None)
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--no-kafka", action="store_true", help="embedded path only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    size = QUICK if args.quick else FULL
    days = args.days or size["days"]
    scale = args.scale or size["scale"]
    stderr.print(f"[bold]bench e2e[/]: seed {args.seed}, {days:g} day(s), scale {scale:g}")
    result = run(args.seed, days, scale, kafka=not args.no_kafka, out=Path(args.out))
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
