"""Benchmark: the live stream end to end, embedded and through Kafka.

Run as ``python -m bench.stream [--quick] [--json] [--out DIR] [--n N]``.

The stream is the synthetic wire traffic of :mod:`bench.ingest`: ``N`` sightings
(ANPR plate reads, phone and MAC probes) with one incident per 100 sightings
interleaved in order, i.e. the issue's target mix of 50k sightings/s plus
500 incidents/s. Two paths are measured, in the same run on the same bytes:

* **embedded**: the messages are fed from memory to the runtime's
  :class:`~ingest.pipeline.Ingestor` in micro-batches of ``ICC_BATCH_SIZE``
  (1000), exactly like ``icc replay``: validation, dead letters, the durable
  journal and every sink (cases, space-time, persons, linker, graph);
* **kafka**: the stream is published with ``icc publish``'s code to a local
  Tansu broker (:class:`~ingest.kafka.broker.LocalBroker`), then consumed by
  :func:`ingest.kafka.source.run_kafka` into a fresh runtime (consumer group,
  commit after the batch is durable).

Figures: ``*_messages_per_s`` (messages over the time from the first batch to
the last batch being durable) and the ingest-to-series-update latency, per
micro-batch: from the moment the batch is handed over (embedded) or polled
(Kafka) until the sinks - hence the series - reflect it. Both paths run as
``icc replay`` / ``icc run`` do: a batch's journal commit (disk sync) overlaps
the next batch, and Kafka offsets are committed once it is durable.
p50 / p99 over batches.

The stream is time-consistent: each incident arrives where the sightings reach
its ``reported_at`` (see :func:`make_stream`).

**Baseline**: what a user would otherwise run - a validation-only loop over
the same bytes with the project's own pydantic models
(:func:`ingest.models.parse_message`: JSON decoding + validation), from memory
for the embedded path and from a plain kafka-python consumer (assigned
partitions, ``poll`` of up to 5000 records) for Kafka. It keeps no journal, no
linkage and commits nothing, so the ratio (below 1) is the price of
durability and of the linkage work, not a speed-up.

Targets (issue 7): embedded >= 50k sightings/s plus 500 incidents/s sustained;
through Kafka >= 20k messages/s.

A third figure says where the embedded path's time goes:
``embedded_sightings_alone_per_s`` is the same run with the incidents left out
(sightings only: no scene queries, no pairs to score). It is not a target; the
gap between it and ``embedded_sightings_per_s`` is what the reports cost. If the Kafka consumer
(``ingest.kafka.source``) or the broker is not available, the Kafka figures are
left out and ``params.kafka_available`` is false.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench._common import bench_parser, emit, peak_rss_mib, progress, ratios, stderr
from bench.ingest import make_incidents, make_sightings
from icc.config import Settings
from icc.runtime import Runtime
from ingest.ahead import ValidateAhead
from ingest.models import ContractError, parse_message
from ingest.pipeline import stream_gc
from ingest.sources import RawMessage, batched

__all__ = [
    "TARGET_EMBEDDED_INCIDENTS_PER_S",
    "TARGET_EMBEDDED_SIGHTINGS_PER_S",
    "TARGET_KAFKA_MESSAGES_PER_S",
    "main",
    "make_stream",
    "run",
]

log = logging.getLogger(__name__)

TARGET_EMBEDDED_SIGHTINGS_PER_S = 50_000
TARGET_EMBEDDED_INCIDENTS_PER_S = 500
TARGET_KAFKA_MESSAGES_PER_S = 20_000
SIGHTINGS_PER_INCIDENT = 100
FULL_SIGHTINGS = 300_000
QUICK_SIGHTINGS = 20_000


def make_stream(n_sightings: int, seed: int = 20260301) -> list[bytes]:
    """``n_sightings`` sighting lines with one incident per 100 sightings, each incident
    placed where the stream reaches its ``reported_at`` (a report arrives after what it
    reports, as on the wire). Late sightings stay where they arrive (hours late).

    Until session 5 the incidents were interleaved by position, one after every 100th
    sighting whatever their time: a report of the third day then arrived on the first
    day, before the sightings of its own occurrence window, and every one of those
    sightings became a match of an open scene window (a physically impossible stream
    that spent a fifth of its time on such matches).
    """
    sightings = make_sightings(n_sightings, seed=seed)
    incidents = make_incidents(max(n_sightings // SIGHTINGS_PER_INCIDENT, 1), seed=seed + 1)
    reported = sorted(
        (_epoch(json.loads(line)["reported_at"]), i) for i, line in enumerate(incidents)
    )
    out: list[bytes] = []
    arrival = float("-inf")  # the stream's clock: the latest sighting time so far
    k = 0
    for line in sightings:
        arrival = max(arrival, _epoch(json.loads(line)["at"]))
        while k < len(reported) and reported[k][0] <= arrival:
            out.append(incidents[reported[k][1]])
            k += 1
        out.append(line)
    out.extend(incidents[i] for _, i in reported[k:])
    return out


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(len(ordered) * q))])


def _latency(prefix: str, latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(_percentile(latencies_ms, 0.50), 3),
        f"{prefix}_p99_ms": round(_percentile(latencies_ms, 0.99), 3),
    }


def _is_sighting(raw: bytes) -> bool:
    return b'"kind": "sighting"' in raw or b'"kind":"sighting"' in raw


def _validate_only(batch: Sequence[bytes]) -> int:
    ok = 0
    for raw in batch:
        try:
            parse_message(raw)
            ok += 1
        except ContractError:
            pass
    return ok


#: the warm-up takes every this many messages of the stream (see :func:`run_embedded`)
WARMUP_STRIDE = 40


def run_embedded(
    lines: Sequence[bytes], workdir: Path, advance: Callable[[int], None]
) -> dict[str, float]:
    """Feed ``lines`` to a fresh embedded runtime in micro-batches; figures of ours."""
    # warm-up on a throw-away state: numba's compiled kernels load from its cache, lazy
    # imports run and pyproj's transformers are made once per process. Every
    # WARMUP_STRIDE-th message, so that it spans the stream's days and reaches the code
    # that only runs hours or days into a stream (companion searches, scenes judged
    # again, density rasters); the measured run is the sustained rate.
    warm = Runtime.open(Settings(data_dir=workdir / "warmup"), reset=True)
    try:
        warm.ingestor.run(
            (
                RawMessage(raw, "bench:warmup", str(i))
                for i, raw in enumerate(lines[::WARMUP_STRIDE])
            ),
            batch_size=warm.settings.batch_size,
        )
    finally:
        warm.close()
    settings = Settings(data_dir=workdir / "embedded")
    runtime = Runtime.open(settings, reset=True)
    messages = [RawMessage(raw, "bench:stream", str(i)) for i, raw in enumerate(lines)]
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    try:
        start = time.perf_counter()
        # as icc replay does: a worker validates batches ahead; a batch's latency is the
        # time validating it plus the time the pipeline took for it
        with stream_gc(), ValidateAhead() as ahead:
            t0 = time.perf_counter()
            for chunk, result, validate_s in runtime.ingestor.stream(
                batched(messages, settings.batch_size), ahead=ahead
            ):
                latencies.append((time.perf_counter() - t0 + validate_s) * 1000.0)
                for kind, n in result.by_kind.items():
                    kinds[kind] = kinds.get(kind, 0) + n
                advance(len(chunk))
                t0 = time.perf_counter()
        # the stream's end waits for the last batch's disk sync: part of the run
        seconds = time.perf_counter() - start
        series = len(runtime.series)
    finally:
        runtime.close()
    log.info("embedded: %d messages in %.2f s, %d series", len(lines), seconds, series)
    return {
        "embedded_messages_per_s": round(len(lines) / seconds, 1),
        "embedded_sightings_per_s": round(kinds.get("sighting", 0) / seconds, 1),
        "embedded_incidents_per_s": round(kinds.get("incident", 0) / seconds, 1),
        **_latency("embedded", latencies),
        "series_count": series,
    }


def baseline_embedded(
    lines: Sequence[bytes], batch_size: int, advance: Callable[[int], None]
) -> dict[str, float]:
    """The validation-only loop over the same micro-batches."""
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(0, len(lines), batch_size):
        chunk = lines[i : i + batch_size]
        t0 = time.perf_counter()
        _validate_only(chunk)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        advance(len(chunk))
    seconds = time.perf_counter() - start
    n_sightings = sum(1 for raw in lines if _is_sighting(raw))
    return {
        "embedded_messages_per_s": round(len(lines) / seconds, 1),
        "embedded_sightings_per_s": round(n_sightings / seconds, 1),
        "embedded_incidents_per_s": round((len(lines) - n_sightings) / seconds, 1),
        **_latency("embedded", latencies),
    }


def _plain_consumer(bootstrap: str, expected: int, advance: Callable[[int], None]) -> dict:
    """Baseline through Kafka: assign every input partition, poll, validate; nothing else."""
    from kafka import KafkaConsumer, TopicPartition

    from ingest.kafka.source import check_crcs
    from ingest.kafka.topics import INPUT_TOPICS

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        check_crcs=check_crcs(),  # as the icc consumer: like for like
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        parts = [
            TopicPartition(t, p)
            for t in INPUT_TOPICS
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        latencies: list[float] = []
        seen = 0
        first: float | None = None
        deadline = time.monotonic() + 300
        while seen < expected and time.monotonic() < deadline:
            t0 = time.perf_counter()
            polled = consumer.poll(timeout_ms=500, max_records=5000)
            values = [r.value for records in polled.values() for r in records]
            if not values:
                continue
            first = first if first is not None else t0
            _validate_only(values)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            seen += len(values)
            advance(len(values))
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        consumer.close()
    return {
        "kafka_messages_per_s": round(seen / seconds, 1) if seconds > 0 else 0.0,
        **_latency("kafka", latencies),
    }


def run_kafka_paths(
    lines: Sequence[bytes], workdir: Path, prog: Any
) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """(ours, baseline, params) through a local broker; empty figures if Kafka is unavailable."""
    try:
        from ingest.kafka.broker import BrokerError, LocalBroker
        from ingest.kafka.publish import publish_files
        from ingest.kafka.source import check_crcs, run_kafka
    except ImportError as exc:
        stderr.print(f"[yellow]kafka path not available: {exc}")
        return {}, {}, {"kafka_available": False}
    path = workdir / "stream.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        broker = LocalBroker().start()
    except BrokerError as exc:
        stderr.print(f"[yellow]kafka path not available: {exc}")
        return {}, {}, {"kafka_available": False}
    try:
        summary = publish_files([path], broker.bootstrap, partitions=6, console=stderr)
        if summary.failed:
            raise RuntimeError(f"{summary.failed} messages not delivered to the broker")
        task = prog.add_task("kafka: icc pipeline", total=len(lines))
        runtime = Runtime.open(Settings(data_dir=workdir / "kafka"), reset=True)
        done = [0]

        def _on_batch(stats: Any) -> None:
            prog.advance(task, stats.messages - done[0])
            done[0] = stats.messages

        try:
            stats = run_kafka(
                runtime,
                broker.bootstrap,
                group_id="bench-stream",
                exit_when_idle_s=10.0,  # the group join alone takes a few seconds
                batch_max=5000,
                on_batch=_on_batch,
            )
        finally:
            runtime.close()
        if stats.messages != len(lines):
            log.warning("kafka consumed %d of %d messages", stats.messages, len(lines))
        if stats.messages == 0:
            stderr.print("[yellow]kafka path: the consumer received nothing; figures left out")
            return {}, {}, {"kafka_available": False}
        rate = stats.messages / stats.active_seconds if stats.active_seconds > 0 else 0.0
        ours = {
            "kafka_messages_per_s": round(rate, 1),
            **_latency("kafka", stats.batch_latencies_ms),
            "publish_messages_per_s": round(summary.per_s, 1),
        }
        task = prog.add_task("kafka: baseline consumer", total=len(lines))
        base = _plain_consumer(broker.bootstrap, len(lines), lambda n: prog.advance(task, n))
    finally:
        broker.stop()
    params = {
        "kafka_available": True,
        "kafka_check_crcs": check_crcs(),
        "kafka_partitions": 6,
        "kafka_batch_max": 5000,
        "kafka_messages_consumed": stats.messages,
        "kafka_batches": stats.batches,
        "kafka_mean_batch": round(stats.messages / max(stats.batches, 1), 1),
    }
    return ours, base, params


def run(n_sightings: int, *, kafka: bool = True) -> dict[str, Any]:
    """Measure both paths and their baselines; returns the benchmark result."""
    lines = make_stream(n_sightings)
    batch_size = Settings(data_dir=Path(".")).batch_size
    ours: dict[str, float] = {}
    baseline: dict[str, float] = {}
    params: dict[str, Any] = {
        "n_sightings": n_sightings,
        "n_messages": len(lines),
        "batch_size": batch_size,
        "target_embedded_sightings_per_s": TARGET_EMBEDDED_SIGHTINGS_PER_S,
        "target_embedded_incidents_per_s": TARGET_EMBEDDED_INCIDENTS_PER_S,
        "target_kafka_messages_per_s": TARGET_KAFKA_MESSAGES_PER_S,
        "baseline": "validation-only loop (parse_message), memory / plain kafka-python consumer",
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp, progress() as prog:
        workdir = Path(tmp)
        task = prog.add_task("embedded: icc pipeline", total=len(lines))
        ours.update(run_embedded(lines, workdir, lambda n: prog.advance(task, n)))
        alone = [raw for raw in lines if _is_sighting(raw)]
        task = prog.add_task("embedded: sightings alone", total=len(alone))
        only = run_embedded(alone, workdir / "alone", lambda n: prog.advance(task, n))
        ours["embedded_sightings_alone_per_s"] = only["embedded_sightings_per_s"]
        task = prog.add_task("embedded: baseline", total=len(lines))
        baseline.update(baseline_embedded(lines, batch_size, lambda n: prog.advance(task, n)))
        if kafka:
            k_ours, k_base, k_params = run_kafka_paths(lines, workdir, prog)
            ours.update(k_ours)
            baseline.update(k_base)
            params.update(k_params)
        else:
            params["kafka_available"] = False
    ours["meets_embedded_target"] = int(
        ours["embedded_sightings_per_s"] >= TARGET_EMBEDDED_SIGHTINGS_PER_S
        and ours["embedded_incidents_per_s"] >= TARGET_EMBEDDED_INCIDENTS_PER_S
    )
    if "kafka_messages_per_s" in ours:
        ours["meets_kafka_target"] = int(
            ours["kafka_messages_per_s"] >= TARGET_KAFKA_MESSAGES_PER_S
        )
    ours["peak_rss_mib"] = peak_rss_mib()
    return {
        "bench": "stream",
        "params": params,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratios(ours, baseline),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream",
        description="End-to-end stream throughput and latency, embedded and through Kafka.",
        parents=[bench_parser()],
    )
    parser.add_argument(
        "--n", type=int, default=None, metavar="N", help="sightings (default 300k, 20k quick)"
    )
    parser.add_argument("--no-kafka", action="store_true", help="measure the embedded path only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("graph.cases").setLevel(logging.ERROR)  # out-of-province scenes, by design
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # client noise on shutdown
    n = args.n or (QUICK_SIGHTINGS if args.quick else FULL_SIGHTINGS)
    if n < 1:
        parser.error(f"--n {n}: expected a positive number of sightings")
    result = run(n, kafka=not args.no_kafka)
    emit(result, args)
    ours, ratio = result["ours"], result["ratio"]
    stderr.print(
        f"embedded: {ours['embedded_sightings_per_s']:,.0f} sightings/s + "
        f"{ours['embedded_incidents_per_s']:,.0f} incidents/s (target "
        f"{TARGET_EMBEDDED_SIGHTINGS_PER_S:,} + {TARGET_EMBEDDED_INCIDENTS_PER_S:,}): "
        + ("met" if ours["meets_embedded_target"] else "NOT met")
        + f"; ratio to the validation-only baseline {ratio.get('embedded_messages_per_s', float('nan')):.3f}"
    )
    stderr.print(
        f"embedded, the same sightings without the incidents: "
        f"{ours['embedded_sightings_alone_per_s']:,.0f} sightings/s (not a target: shows what"
        " the reports cost)"
    )
    if "kafka_messages_per_s" in ours:
        stderr.print(
            f"kafka: {ours['kafka_messages_per_s']:,.0f} messages/s (target "
            f"{TARGET_KAFKA_MESSAGES_PER_S:,}): "
            + ("met" if ours["meets_kafka_target"] else "NOT met")
            + f"; ratio to the plain kafka-python consumer {ratio.get('kafka_messages_per_s', float('nan')):.3f}"
        )
    else:
        stderr.print("kafka: not available (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
