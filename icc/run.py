"""``icc run``: the live command center fed by a stream source, until stopped or idle.

Sources
-------
``--source kafka://HOST:PORT``
    a consumer group (``--group-id``, default ``icc``) on ``icc.incidents``,
    ``icc.sightings`` and ``icc.teams``; see :mod:`ingest.kafka.source` for
    commits, dead letters and back-pressure.
``--source embedded`` (default)
    the pipeline with no external source: the state under ``ICC_DATA_DIR`` is
    rebuilt from the journal and served as is (``icc demo`` is the embedded
    pipeline fed by the scenario generator). With ``--exit-when-idle`` it stops
    after that long, otherwise on SIGTERM/SIGINT.

Final state and scale-out
-------------------------
The live, in-memory linkage state depends on the order messages arrive in,
and with several partitions (or workers) that order is not fixed. The state of
record is the journal: every accepted message, once. ``--export-series``
therefore rebuilds the series from the journal in a canonical order (event
time, then idempotency key) - the order ``icc replay`` feeds - so the export
depends only on *which* messages were accepted, not on partitioning, crashes,
restarts or how many workers shared the work.

Several ``icc run`` processes in one consumer group share partitions and one
``ICC_DATA_DIR``: the journal is SQLite in WAL mode and every batch is one
``BEGIN IMMEDIATE`` transaction with a 30 s busy timeout, so concurrent
workers serialise their appends and the unique keys keep each message once.
Each worker's live view covers the journal as of its start plus what it
consumed itself; the export written at exit, rebuilt from the shared journal,
is the whole state - the same as one worker's. (The last worker to stop, or
``icc run --source embedded --exit-when-idle 0.1 --export-series OUT.json``
afterwards, writes the complete export.)
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from icc.config import Settings
from icc.runtime import Runtime
from ingest.kafka.source import KafkaSourceError, RunStats, parse_kafka_url, run_kafka
from ingest.models import parse_message

__all__ = [
    "EMBEDDED",
    "KafkaSourceError",
    "RunOptions",
    "canonical_export",
    "parse_source",
    "run",
    "write_export",
]

log = logging.getLogger(__name__)

EMBEDDED = "embedded"


@dataclass(frozen=True)
class RunOptions:
    source: str = EMBEDDED
    group_id: str = "icc"
    exit_when_idle_s: float | None = None
    export_series: Path | None = None
    batch_max: int = 5000


def parse_source(source: str) -> str | None:
    """``None`` for the embedded source, else the Kafka bootstrap ``HOST:PORT``.

    Raises :class:`KafkaSourceError` (a ``ValueError``) naming the value and the
    accepted forms.
    """
    if source.strip() == EMBEDDED:
        return None
    return parse_kafka_url(source)


def canonical_export(settings: Settings, chunk: int = 5000) -> dict:
    """The series rebuilt from the journal under ``settings`` in canonical order.

    Order: event time, then idempotency key. Independent of arrival order,
    partitioning and the number of workers.
    """
    runtime = Runtime.open(settings, rebuild=False)
    try:
        runtime.graph.clear()
        entries = sorted(
            (e for _, e in runtime.journal.iter_entries()), key=lambda e: (e.event_time, e.key)
        )
        for i in range(0, len(entries), chunk):
            messages = [parse_message(e.payload) for e in entries[i : i + chunk]]
            for sink in runtime.ingestor.sinks:
                sink.apply(messages)
        return runtime.export()
    finally:
        runtime.close()


def write_export(settings: Settings, out: Path) -> int:
    """Write :func:`canonical_export` to ``out`` atomically; returns the number of series."""
    exported = canonical_export(settings)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(exported, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(out)
    log.info("wrote %d series to %s", len(exported["series"]), out)
    return len(exported["series"])


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (the current batch is finished and committed first)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("signal %d: finishing the current batch, then stopping", signum)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(
    settings: Settings,
    options: RunOptions,
    console: Console | None = None,
    stop: threading.Event | None = None,
) -> tuple[RunStats, str]:
    """Run the command center from ``options.source``; returns the stats and a summary line."""
    console = console or Console(stderr=True)
    bootstrap = parse_source(options.source)
    stop = stop or threading.Event()
    runtime = Runtime.open(settings)
    try:
        with _stop_on_signals(stop):
            if bootstrap is None:
                stats = RunStats()
                t0 = time.monotonic()
                stop.wait(options.exit_when_idle_s)
                stats.seconds = time.monotonic() - t0
            else:
                columns = (
                    SpinnerColumn(),
                    TextColumn("[bold]kafka[/bold] {task.description}"),
                    TimeElapsedColumn(),
                )
                with Progress(
                    *columns, console=console, transient=not console.is_terminal
                ) as progress:
                    task = progress.add_task("waiting for messages", total=None)

                    def on_batch(s: RunStats) -> None:
                        progress.update(
                            task,
                            description=(
                                f"{s.messages} messages, {s.accepted} accepted, "
                                f"{s.dead_letters} dead-lettered ({s.rate:,.0f}/s)"
                            ),
                        )

                    stats = run_kafka(
                        runtime,
                        bootstrap,
                        group_id=options.group_id,
                        exit_when_idle_s=options.exit_when_idle_s,
                        stop=stop,
                        batch_max=options.batch_max,
                        on_batch=on_batch,
                    )
        cases = len(runtime.cases)
    finally:
        runtime.close()
    line = stats.line() if bootstrap is not None else "embedded: no external source"
    line += f"; {cases} cases in the live state"
    if options.export_series is not None:
        n = write_export(settings, options.export_series)
        line += f"; exported {n} series to {options.export_series}"
    return stats, line
