"""``icc replay``: feed JSON Lines files through the live pipeline, in event-time order.

Ordering a province day (5 M messages, ~1 GB) in memory would hold every message
at once. :func:`event_time_order` keeps at most ``spill_every`` of them: full runs
are sorted and written to temporary files, then merged (heap merge on event time,
then position in the input), which gives exactly the order of
:func:`ingest.sources.sort_by_event_time`: messages that do not validate first, in
their input order, then by event time, ties in input order.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from icc.runtime import Runtime
from ingest.ahead import ValidateAhead
from ingest.models import ContractError, parse_message
from ingest.pipeline import stream_gc
from ingest.sources import RawMessage, batched, read_jsonl

__all__ = ["SPILL_EVERY", "ReplaySummary", "event_time_order", "replay_files"]

log = logging.getLogger(__name__)

#: messages held in memory while ordering a replay; beyond, sorted runs go to disk
SPILL_EVERY = 200_000
_HEAD = struct.Struct("<dqIHH")  # event time, input position, raw / source / position lengths


def _event_time(msg: RawMessage) -> float:
    try:
        return parse_message(msg.raw).event_time.timestamp()
    except ContractError:
        return -math.inf


def _spill(run: list[tuple[float, int, RawMessage]], fh: BinaryIO) -> None:
    run.sort(key=lambda item: (item[0], item[1]))
    for t, i, m in run:
        source, position = m.source.encode("utf-8"), m.position.encode("utf-8")
        fh.write(_HEAD.pack(t, i, len(m.raw), len(source), len(position)))
        fh.write(m.raw)
        fh.write(source)
        fh.write(position)
    fh.flush()


def _read_run(path: Path) -> Iterator[tuple[float, int, RawMessage]]:
    with path.open("rb") as fh:
        while head := fh.read(_HEAD.size):
            t, i, n_raw, n_src, n_pos = _HEAD.unpack(head)
            raw = fh.read(n_raw)
            source = fh.read(n_src).decode("utf-8")
            position = fh.read(n_pos).decode("utf-8")
            yield t, i, RawMessage(raw, source, position)


def event_time_order(
    messages: Iterable[RawMessage], workdir: Path, spill_every: int = SPILL_EVERY
) -> tuple[int, Iterator[RawMessage]]:
    """``(count, messages in event-time order)`` holding at most ``spill_every`` messages
    in memory; sorted runs are written under ``workdir`` (which must outlive the iterator).

    Same order as :func:`ingest.sources.sort_by_event_time`. Complexity: one validation
    per message, O(n log n) comparisons, each message written and read once when n is
    above ``spill_every``.
    """
    if spill_every < 1:
        raise ValueError(f"spill_every={spill_every}: expected at least 1")
    runs: list[Path] = []
    buf: list[tuple[float, int, RawMessage]] = []
    n = 0
    for msg in messages:
        buf.append((_event_time(msg), n, msg))
        n += 1
        if len(buf) >= spill_every:
            path = Path(workdir) / f"run-{len(runs):05d}.bin"
            with path.open("wb") as fh:
                _spill(buf, fh)
            runs.append(path)
            buf = []
    buf.sort(key=lambda item: (item[0], item[1]))
    if not runs:
        return n, (m for _, _, m in buf)
    log.info("replay: %d messages ordered through %d sorted runs on disk", n, len(runs) + 1)
    merged = heapq.merge(*(_read_run(p) for p in runs), iter(buf), key=lambda x: (x[0], x[1]))
    return n, (m for _, _, m in merged)


@dataclass(frozen=True)
class ReplaySummary:
    received: int
    accepted: int
    duplicates: int
    deadlettered: int
    cases: int
    series: int

    def line(self) -> str:
        return (
            f"replayed {self.received} messages: {self.accepted} accepted, "
            f"{self.duplicates} duplicates, {self.deadlettered} dead-lettered; "
            f"{self.cases} cases, {self.series} series"
        )


def replay_files(
    runtime: Runtime,
    files: list[Path],
    export_to: Path | None = None,
    console: Console | None = None,
    export_tasks: Path | None = None,
) -> ReplaySummary:
    """Replay ``files`` through ``runtime``'s pipeline until drained; optionally export series.

    With ``export_tasks``, plan suggestions are confirmed automatically (as if a commander
    accepted each at once) and the activations are written there as JSON.
    """
    if export_tasks is not None and runtime.tasking is not None:
        runtime.tasking.service.set_auto_confirm(True)
    console = console or Console(stderr=True)
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"no such JSON Lines file: {f}")
    with tempfile.TemporaryDirectory(prefix="icc-replay-") as work:
        return _replay(runtime, files, Path(work), export_to, console, export_tasks)


def _replay(
    runtime: Runtime,
    files: list[Path],
    work: Path,
    export_to: Path | None,
    console: Console,
    export_tasks: Path | None,
) -> ReplaySummary:
    before = runtime.ingestor.totals
    start = (before.received, before.accepted, before.duplicates, before.deadlettered)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        reading = progress.add_task("order by event time", total=None)

        def counted() -> Iterator[RawMessage]:
            n = 0
            for f in files:
                for m in read_jsonl(Path(f)):
                    yield m
                    n += 1
                    if n % 10_000 == 0:
                        progress.update(reading, completed=n)
            progress.update(reading, completed=n, total=n)

        total, ordered = event_time_order(counted(), work, SPILL_EVERY)
        task = progress.add_task("replay", total=total)
        # each batch's disk sync overlaps reading and applying the next one, and a worker
        # process validates batches ahead of the pipeline (see ingest.ahead)
        with stream_gc(), ValidateAhead() as ahead:
            for step in runtime.ingestor.stream(
                batched(ordered, runtime.settings.batch_size), ahead=ahead
            ):
                progress.advance(task, len(step.chunk))
    totals = runtime.ingestor.totals
    summary = ReplaySummary(
        received=totals.received - start[0],
        accepted=totals.accepted - start[1],
        duplicates=totals.duplicates - start[2],
        deadlettered=totals.deadlettered - start[3],
        cases=len(runtime.cases),
        series=len(runtime.export()["series"]),
    )
    if export_to is not None:
        export_to = Path(export_to)
        export_to.parent.mkdir(parents=True, exist_ok=True)
        tmp = export_to.with_suffix(export_to.suffix + ".tmp")
        tmp.write_text(json.dumps(runtime.export(), ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(export_to)
        log.info("wrote %d series to %s", summary.series, export_to)
    if export_tasks is not None and runtime.tasking is not None:
        _write_json(Path(export_tasks), runtime.tasking.service.export())
        log.info("wrote tasking activations to %s", export_tasks)
    return summary


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
