"""The one ingest path every source uses: validate, dead-letter, journal, apply.

:class:`Ingestor.process` takes a micro-batch of raw messages from any source
(Kafka, a JSON Lines replay, the scenario generator), and

1. validates each against the contract; rejects go to the dead-letter store
   with the reason, raw bytes and position;
2. appends the accepted ones to the durable journal, idempotently on
   ``report_id`` / ``sighting_id`` (duplicates change nothing);
3. hands only the newly stored messages to the sinks (the linkage graph).

When ``process`` returns, everything in the batch is durable, so a stream
source may commit its offsets. Sinks hold derived state and are rebuilt from
the journal on restart with :meth:`Ingestor.rebuild`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingest.deadletter import DeadLetter, DeadLetterStore
from ingest.journal import Journal, JournalEntry
from ingest.models import ContractError, Message, parse_message
from ingest.sources import RawMessage, batched

__all__ = ["BatchResult", "Ingestor", "IngestTotals", "Sink"]

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Derived state fed with newly accepted messages, in batch order."""

    def apply(self, messages: Sequence[Message]) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchResult:
    accepted: int
    duplicates: int
    deadlettered: int
    by_kind: dict[str, int]


@dataclass
class IngestTotals:
    """Running totals over the life of an :class:`Ingestor`."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    deadlettered: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, result: BatchResult, received: int) -> None:
        self.received += received
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.deadlettered += result.deadlettered
        self.by_kind.update(result.by_kind)


class Ingestor:
    """Validate -> dead-letter -> journal -> sinks, one micro-batch at a time."""

    def __init__(
        self, journal: Journal, deadletters: DeadLetterStore, sinks: Sequence[Sink] = ()
    ) -> None:
        self.journal = journal
        self.deadletters = deadletters
        self.sinks = list(sinks)
        self.totals = IngestTotals()
        self._lock = threading.Lock()

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        """Process one micro-batch; on return the batch is durable (journal or dead letters).

        Complexity: O(n) validation + O(n log N) journal inserts.
        """
        entries: list[JournalEntry] = []
        parsed: dict[str, Message] = {}
        rejects: list[DeadLetter] = []
        for item in batch:
            try:
                msg = parse_message(item.raw)
            except ContractError as exc:
                rejects.append(DeadLetter(item.raw, str(exc), item.source, item.position))
                continue
            key = msg.key
            entries.append(
                JournalEntry(
                    key, msg.kind, msg.event_time.timestamp(), item.raw, item.source, item.position
                )
            )
            parsed.setdefault(key, msg)
        with self._lock:
            self.deadletters.add(rejects)
            appended = self.journal.append(entries)
            fresh = [parsed[e.key] for e in appended.fresh]
            for sink in self.sinks:
                sink.apply(fresh)
            result = BatchResult(
                appended.accepted,
                appended.duplicates,
                len(rejects),
                dict(Counter(m.kind for m in fresh)),
            )
            self.totals.add(result, len(batch))
        return result

    def run(self, messages: Iterable[RawMessage], batch_size: int = 1000) -> IngestTotals:
        """Feed a whole stream through :meth:`process` in micro-batches."""
        for chunk in batched(messages, batch_size):
            self.process(chunk)
        return self.totals

    def rebuild(self, batch_size: int = 5000) -> int:
        """Re-apply every journalled message to the sinks (derived state after a restart)."""
        count = 0
        chunk: list[Message] = []
        for _, entry in self.journal.iter_entries():
            chunk.append(parse_message(entry.payload))
            if len(chunk) >= batch_size:
                self._apply(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            self._apply(chunk)
            count += len(chunk)
        log.info("rebuilt derived state from %d journalled messages", count)
        return count

    def _apply(self, messages: Sequence[Message]) -> None:
        with self._lock:
            for sink in self.sinks:
                sink.apply(messages)
