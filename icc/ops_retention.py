"""Retention of old sightings (``ICC_SIGHTING_RETENTION_DAYS``), on stream time.

A sighting is kept while it is younger than the retention, counted back from
the newest sighting time the stream has carried (the space-time index's
watermark), never from the wall clock: replaying the same journal prunes the
same rows at the same points, so replays and rebuilds are deterministic.

* the space-time index drops whole hour partitions older than the cutoff
  (:attr:`graph.spacetime.index.SightingIndex.oldest_time`);
* :class:`RetentionSink`, the pipeline sink after the space-time core, deletes
  the journal's sightings older than the same cutoff each time it advances
  (one ``DELETE`` over the ``(kind, event_time)`` index per hour of stream time).
  Sinks run while the journal commits their batch, under its lock, so the
  ``DELETE`` runs on a thread of its own with its own connection: it waits for
  that commit, and the next batch waits for it (SQLite's write lock).
  :meth:`RetentionSink.close` waits for the last one.

Incidents and team statuses are never pruned. A pruned sighting's key leaves
the journal with it: the same sighting sent again is accepted again, and the
index leaves it out as too old.

What a restart rebuilds is the state of what is kept: rarity statistics and
scene judgements that the live worker made while the older sightings were still
held are re-derived without them (see README, "Operations").

Example
-------
>>> cutoff_epoch(-1) is None, cutoff_epoch(3600 * 24)
(True, 1577923200.0)
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from graph.spacetime.index import BASE_EPOCH, SightingIndex
from ingest.models import Message
from ingest.sqlite import connect

__all__ = ["RetentionSink", "cutoff_epoch", "prune_sightings"]

log = logging.getLogger(__name__)


def cutoff_epoch(oldest_index_time: int) -> float | None:
    """Unix seconds before which sightings are out of retention (None: nothing yet)."""
    if oldest_index_time <= 0:
        return None
    return float(BASE_EPOCH + oldest_index_time)


def prune_sightings(journal_path: Path, before_epoch: float) -> int:
    """Delete the journal's sightings with event time before ``before_epoch``; returns how
    many. Incidents and team statuses are never touched. One transaction, own connection."""
    conn = connect(Path(journal_path))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            gone = conn.execute(
                "DELETE FROM journal WHERE kind = 'sighting' AND event_time < ?", (before_epoch,)
            ).rowcount
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    if gone:
        log.info("retention: pruned %d sightings older than %.0f (unix s)", gone, before_epoch)
    return int(gone)


class RetentionSink:
    """Pipeline sink pruning the journal's sightings to the space-time index's retention.

    Place it after the space-time sink: the cutoff is the index's, so the journal
    and the in-memory index hold the same sightings. O(1) per batch, plus one
    indexed ``DELETE`` (on the pruning thread) each time the cutoff moves, once per
    hour of stream time.
    """

    def __init__(self, journal_path: Path, index: SightingIndex) -> None:
        self.journal_path = Path(journal_path)
        self.index = index
        self.cutoff: float | None = None
        self._pruned = 0
        self._pending: list[Future[int]] = []
        self._executor: ThreadPoolExecutor | None = None

    def apply(self, messages: Sequence[Message]) -> None:
        cutoff = cutoff_epoch(self.index.oldest_time) if self.index.watermark >= 0 else None
        if cutoff is None or (self.cutoff is not None and cutoff <= self.cutoff):
            return
        self.cutoff = cutoff
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="icc-retention")
        self._collect()
        self._pending.append(self._executor.submit(prune_sightings, self.journal_path, cutoff))

    def _collect(self, wait: bool = False) -> None:
        keep = []
        for fut in self._pending:
            if wait or fut.done():
                try:
                    self._pruned += fut.result()
                except sqlite3.Error as exc:  # retried with the next cutoff, which covers it
                    log.warning("retention: pruning the journal failed: %s", exc)
            else:
                keep.append(fut)
        self._pending = keep

    @property
    def pruned(self) -> int:
        """Sightings pruned from the journal so far (finished deletes)."""
        self._collect()
        return self._pruned

    def flush(self) -> int:
        """Wait for the pending deletes; returns the sightings pruned so far."""
        self._collect(wait=True)
        return self._pruned

    def close(self) -> None:
        self.flush()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
