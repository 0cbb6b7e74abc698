"""A micro-batch validated ahead (:mod:`ingest.ahead`), as the pipeline reads it.

The worker has tagged each message and sent the sightings' columns; here the
pipeline makes the journal entries and, once the journal has said which entries are
new, the :class:`~ingest.batch.MessageBatch` the sinks take. Only messages that are
not sightings (a report in a hundred, and rejects) are parsed again, in this process,
so their objects and dead-letter reasons are exactly those of validating here. Runs
of sightings between them become entries in one comprehension each.
"""

from __future__ import annotations

import array
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.ahead import Validated
from ingest.batch import MessageBatch, SightingsOnDemand, columns_of
from ingest.deadletter import DeadLetter
from ingest.entries import EntryColumns, JournalEntry
from ingest.models import ContractError, Message, Sighting, parse_message
from ingest.sources import RawMessage

__all__ = ["ReadAhead", "read_ahead"]

log = logging.getLogger(__name__)

#: a message the worker did not find to be a valid sighting
_NOT_SIGHTING = re.compile(rb"[^s]")


@dataclass(slots=True)
class ReadAhead:
    """The journal entries and rejects of a batch validated ahead, and what the sinks
    get of it (:meth:`batch`)."""

    validated: Validated
    entries: Sequence[JournalEntry]
    rejects: list[DeadLetter]
    #: the valid messages that are not sightings, each after the sightings before it
    others: list[tuple[int, Message]]
    #: the valid sightings' raw bytes, in order (parsed if a sink asks for an object)
    raws: list[bytes]

    def batch(self, stored: Sequence[JournalEntry]) -> MessageBatch:
        """The sinks' batch: the entries the journal ``stored`` (first of each new key, in
        order). O(n)."""
        v = self.validated
        epoch = np.frombuffer(v.epoch, dtype=np.float64)
        if len(stored) == len(self.entries):  # the usual batch: every message is new
            return MessageBatch.of_columns(
                columns_of(
                    SightingsOnDemand(self.raws),
                    v.kinds,
                    v.entities,
                    v.checkpoint_ids,
                    v.lons,
                    v.lats,
                    epoch,
                    self.others,
                    v.entity_keys,
                )
            )
        row_of: dict[str, int] = {}
        for row, key in enumerate(v.keys):
            row_of.setdefault(key, row)
        other_of: dict[str, Message] = {}
        for _, msg in self.others:
            other_of.setdefault(msg.key, msg)
        rows: list[int] = []
        others: list[tuple[int, Message]] = []
        for entry in stored:
            row = row_of.get(entry.key)
            if row is not None:
                rows.append(row)
            else:
                others.append((len(rows), other_of[entry.key]))
        return MessageBatch.of_columns(
            columns_of(
                SightingsOnDemand([self.raws[i] for i in rows]),
                [v.kinds[i] for i in rows],
                [v.entities[i] for i in rows],
                [v.checkpoint_ids[i] for i in rows],
                [v.lons[i] for i in rows],
                [v.lats[i] for i in rows],
                epoch[np.asarray(rows, dtype=np.intp)],
                others,
                [v.entity_keys[i] for i in rows],
            )
        )


def read_ahead(batch: Sequence[RawMessage], validated: Validated) -> ReadAhead | None:
    """Read a batch with what the worker found in it. None if this process finds a
    sighting where the worker did not (it cannot: validation is the same code; the
    caller then validates the whole batch itself). O(n)."""
    tags = validated.tags
    if len(tags) != len(batch):
        raise ValueError(f"validated {len(tags)} messages for a batch of {len(batch)}")
    keys = validated.keys
    times = array.array("d", validated.epoch)
    source = batch[0].source if batch else ""
    columns = validated.distinct and all(m.source == source for m in batch)
    entries = _Entries(source, each_source=not columns)
    rejects: list[DeadLetter] = []
    others: list[tuple[int, Message]] = []
    raws: list[bytes] = []
    row = done = 0
    for found in [*_NOT_SIGHTING.finditer(tags), None]:
        stop = len(tags) if found is None else found.start()
        if stop > done:  # a run of valid sightings
            span = batch[done:stop]
            end = row + len(span)
            span_raws = [m.raw for m in span]
            entries.sightings(keys[row:end], times[row:end], span_raws, span)
            raws += span_raws
            row = end
        if found is None:
            break
        done = stop + 1
        item = batch[stop]
        try:
            msg = parse_message(item.raw)
        except ContractError as exc:
            rejects.append(DeadLetter(item.raw, str(exc), item.source, item.position))
            continue
        if isinstance(msg, Sighting):
            log.error("the validating worker disagrees on message %s", item.position)
            return None
        entries.other(msg, item)
        others.append((row, msg))
    if row != len(keys):
        raise ValueError(f"the worker sent {len(keys)} sightings for {row} tagged ones")
    made = entries.columns(distinct=validated.distinct) if columns else entries.listed()
    return ReadAhead(validated, made, rejects, others, raws)


class _Entries:
    """The journal entries of a batch, gathered as columns."""

    def __init__(self, source: str, *, each_source: bool) -> None:
        self.source = source
        self.each_source = each_source  # keep every entry's source (for :meth:`listed`)
        self.keys: list[str] = []
        self.kinds: list[str] = []
        self.times: list[float] = []
        self.payloads: list[bytes] = []
        self.sources: list[str] = []
        self.positions: list[str] = []

    def sightings(
        self, keys: list[str], times: array.array, raws: list[bytes], span: Sequence[RawMessage]
    ) -> None:
        self.keys += keys
        self.kinds += ["sighting"] * len(keys)
        self.times += times
        self.payloads += raws
        if self.each_source:
            self.sources += [m.source for m in span]
        self.positions += [m.position for m in span]

    def other(self, msg: Message, item: RawMessage) -> None:
        self.keys.append(msg.key)
        self.kinds.append(msg.kind)
        self.times.append(msg.event_time.timestamp())
        self.payloads.append(item.raw)
        self.sources.append(item.source)
        self.positions.append(item.position)

    def columns(self, *, distinct: bool) -> EntryColumns:
        return EntryColumns(
            self.keys,
            self.kinds,
            self.times,
            self.payloads,
            self.source,
            self.positions,
            distinct=distinct,
        )

    def listed(self) -> list[JournalEntry]:
        return [
            JournalEntry(*row)
            for row in zip(
                self.keys,
                self.kinds,
                self.times,
                self.payloads,
                self.sources,
                self.positions,
                strict=True,
            )
        ]
