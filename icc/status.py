"""``icc status``: what a deployment holds and how far behind it is.

What it reads, and from where:

* **journal** - ``ICC_DATA_DIR/journal.sqlite``, opened read-only: rows per kind
  and the bytes on disk (database, WAL and shared-memory files);
* **dead letters** - ``ICC_DATA_DIR/deadletter.sqlite``, read-only: how many;
* **series and activations open** - derived state lives in the workers' memory,
  so every :class:`~icc.runtime.Runtime` writes a small status file,
  ``ICC_DATA_DIR/derived/status.json``, after its start-up rebuild, then at most
  once every :data:`WRITE_EVERY_S` seconds while it applies batches, and when it
  closes (:class:`StatusWriter`). ``icc status`` shows that file with who wrote it
  and when; with several processes on one data directory (workers, the dashboard)
  it is the last writer's view;
* **consumer lag** - with ``--source kafka://HOST:PORT``: per partition of the
  input topics, the log end offset minus the group's committed offset (a
  partition the group never committed counts from the beginning of its log).

Example
-------
>>> report = collect(Path("/srv/icc"))  # doctest: +SKIP
>>> report["journal"]["rows"]  # doctest: +SKIP
{'incident': 11204, 'sighting': 5261880}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.models import Message

if TYPE_CHECKING:
    from icc.runtime import Runtime

__all__ = [
    "STATUS_FILE",
    "WRITE_EVERY_S",
    "StatusWriter",
    "collect",
    "kafka_lag",
    "render",
]

log = logging.getLogger(__name__)

#: the derived-state status file, relative to the data directory
STATUS_FILE = Path("derived") / "status.json"
#: a running worker rewrites its status file at most this often (wall seconds)
WRITE_EVERY_S = 5.0


# -- written by the workers -----------------------------------------------------------------
class StatusWriter:
    """Pipeline sink (last) that keeps ``derived/status.json`` up to date for ``icc status``.

    Writes atomically (temporary file + rename), at most every ``every_s`` wall
    seconds while batches arrive, and on :meth:`write` (start-up, close).
    """

    def __init__(self, runtime: Runtime, every_s: float = WRITE_EVERY_S) -> None:
        self.runtime = runtime
        self.every_s = every_s
        self.path = Path(runtime.settings.data_dir) / STATUS_FILE
        self._last = -float("inf")

    def apply(self, messages: Sequence[Message]) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self.write()

    def snapshot(self) -> dict[str, Any]:
        """The worker's view now: series, activations, cases, stream time, totals."""
        rt = self.runtime
        latest = rt.cases.latest_event
        activations = rt.tasking.service.activation_list() if rt.tasking is not None else []
        suggestions = rt.tasking.service.suggestion_list() if rt.tasking is not None else []
        totals = rt.ingestor.totals
        return {
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "stream_time": latest.isoformat() if latest is not None else None,
            "cases": len(rt.cases),
            "series_open": len(rt.linker.tracker.series),
            "activations_open": sum(1 for a in activations if a.status == "active"),
            "suggestions_pending": sum(1 for s in suggestions if s.status == "pending"),
            "sightings_indexed": len(rt.spacetime.core.index),
            "retention_days": rt.settings.sighting_retention_days,
            "sightings_pruned": rt.retention.pruned if rt.retention is not None else 0,
            "since_start": {
                "received": totals.received,
                "accepted": totals.accepted,
                "duplicates": totals.duplicates,
                "deadlettered": totals.deadlettered,
            },
        }

    def write(self) -> None:
        self._last = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.snapshot(), indent=2), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:  # a full disk must not stop the pipeline
            log.warning("could not write %s: %s", self.path, exc)


# -- read by icc status ---------------------------------------------------------------------
def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)


def _bytes_on_disk(path: Path) -> int:
    return sum(
        p.stat().st_size
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        if p.is_file()
    )


def _journal(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"path": str(path), "exists": False, "rows": {}, "total": 0, "bytes": 0}
    conn = _read_only(path)
    try:
        rows = conn.execute("SELECT kind, COUNT(*) FROM journal GROUP BY kind ORDER BY kind")
        by_kind = {str(kind): int(n) for kind, n in rows}
    finally:
        conn.close()
    return {
        "path": str(path),
        "exists": True,
        "rows": by_kind,
        "total": sum(by_kind.values()),
        "bytes": _bytes_on_disk(path),
    }


def _deadletters(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"path": str(path), "exists": False, "count": 0}
    conn = _read_only(path)
    try:
        count = int(conn.execute("SELECT COUNT(*) FROM deadletter").fetchone()[0])
    finally:
        conn.close()
    return {"path": str(path), "exists": True, "count": count}


def _derived(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"path": str(path), "exists": False}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"path": str(path), "exists": True, "error": f"unreadable: {exc}"}
    written = dt.datetime.fromisoformat(data.get("written_at", "1970-01-01T00:00:00+00:00"))
    data["age_s"] = round((dt.datetime.now(dt.UTC) - written).total_seconds(), 1)
    return {"path": str(path), "exists": True, **data}


def kafka_lag(
    bootstrap: str, group_id: str, topics: Sequence[str] | None = None, timeout_s: float = 15.0
) -> list[dict[str, Any]]:
    """Lag of consumer group ``group_id`` per partition of ``topics`` (default: the input
    topics): ``end`` (log end offset), ``committed`` (None if never) and ``lag``.

    Raises ``ConnectionError`` naming the bootstrap address if no broker answers.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from ingest.kafka.topics import INPUT_TOPICS

    wanted = tuple(topics) if topics is not None else INPUT_TOPICS
    ms = int(timeout_s * 1000)
    try:
        # never subscribes, so it does not join the group: it only reads its offsets
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            request_timeout_ms=ms + 1000,
        )
    except KafkaError:
        raise ConnectionError(f"no Kafka broker answered at {bootstrap}") from None
    try:
        parts = [
            TopicPartition(topic, p)
            for topic in wanted
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(parts) if parts else {}
        committed = {tp: consumer.committed(tp) for tp in parts}
    except KafkaError as exc:
        raise ConnectionError(f"Kafka at {bootstrap}: {exc}") from None
    finally:
        consumer.close()
    out = []
    for tp in parts:
        offset = committed.get(tp)
        done = int(offset) if offset is not None and offset >= 0 else None
        end = int(ends.get(tp, 0))
        out.append(
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "end": end,
                "committed": done,
                # never negative: a broker whose end offset trails its committed offset
                # (Tansu's ListOffsets can report less than the last record) has no lag
                "lag": max(0, end - (done or 0)),
            }
        )
    return out


def collect(data_dir: Path, bootstrap: str | None = None, group_id: str = "icc") -> dict[str, Any]:
    """Everything ``icc status`` shows, as one JSON-ready dict (see the module docstring)."""
    data_dir = Path(data_dir)
    report: dict[str, Any] = {
        "data_dir": str(data_dir),
        "journal": _journal(data_dir / "journal.sqlite"),
        "deadletters": _deadletters(data_dir / "deadletter.sqlite"),
        "derived": _derived(data_dir / STATUS_FILE),
        "kafka": None,
    }
    if bootstrap is not None:
        parts = kafka_lag(bootstrap, group_id)
        report["kafka"] = {
            "bootstrap": bootstrap,
            "group": group_id,
            "partitions": parts,
            "total_lag": sum(p["lag"] for p in parts),
        }
    return report


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def render(report: dict[str, Any]) -> Any:
    """The report as rich renderables (tables), for people."""
    from rich.console import Group
    from rich.table import Table

    out: list[Any] = []
    j = report["journal"]
    t = Table("journal", "value", title=f"icc status - {report['data_dir']}", title_justify="left")
    if not j["exists"]:
        t.add_row("journal", f"none at {j['path']}")
    else:
        for kind, n in j["rows"].items():
            t.add_row(f"rows: {kind}", f"{n:,}")
        t.add_row("rows: total", f"{j['total']:,}")
        t.add_row("bytes on disk", f"{j['bytes']:,} ({_mib(j['bytes'])})")
    d = report["deadletters"]
    t.add_row("dead letters", f"{d['count']:,}" if d["exists"] else "none (no store yet)")
    out.append(t)

    v = report["derived"]
    s = Table("derived state", "value", title="from " + v["path"], title_justify="left")
    if not v["exists"]:
        s.add_row("status file", "none: no worker has run on this data directory")
    elif "error" in v:
        s.add_row("status file", v["error"])
    else:
        s.add_row("written by", f"pid {v['pid']} on {v['host']} at {v['written_at']}")
        s.add_row("age", f"{v['age_s']:.0f} s")
        s.add_row("stream time", str(v["stream_time"]))
        s.add_row("series open", str(v["series_open"]))
        s.add_row("activations open", str(v["activations_open"]))
        s.add_row("suggestions pending", str(v["suggestions_pending"]))
        s.add_row("cases", str(v["cases"]))
        s.add_row("sightings indexed", f"{v['sightings_indexed']:,}")
        days = v.get("retention_days")
        s.add_row("sighting retention", f"{days} days" if days else "index 30 days, journal all")
    out.append(s)

    k = report["kafka"]
    if k is not None:
        lag = Table(
            "topic",
            "partition",
            "end",
            "committed",
            "lag",
            title=f"consumer lag - group {k['group']} at {k['bootstrap']} (total {k['total_lag']:,})",
            title_justify="left",
        )
        for p in k["partitions"]:
            done = "-" if p["committed"] is None else f"{p['committed']:,}"
            lag.add_row(p["topic"], str(p["partition"]), f"{p['end']:,}", done, f"{p['lag']:,}")
        out.append(lag)
    return Group(*out)
