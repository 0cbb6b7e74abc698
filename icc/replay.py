"""``icc replay``: feed JSON Lines files through the live pipeline, in event-time order."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from icc.runtime import Runtime
from ingest.sources import RawMessage, batched, read_jsonl, sort_by_event_time

__all__ = ["ReplaySummary", "replay_files"]

log = logging.getLogger(__name__)


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
    raw: list[RawMessage] = []
    for f in files:
        raw.extend(read_jsonl(Path(f)))
    ordered = sort_by_event_time(raw)
    before = runtime.ingestor.totals
    start = (before.received, before.accepted, before.duplicates, before.deadlettered)
    columns = (
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        task = progress.add_task("replay", total=len(ordered))
        for chunk in batched(ordered, runtime.settings.batch_size):
            runtime.ingestor.process(chunk)
            progress.advance(task, len(chunk))
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
