"""A micro-batch of accepted messages as the sinks receive it, with its sightings as columns.

Nearly every message of a live stream is a sighting, and several sinks want the same
few fields of each (the space-time index its entity, checkpoint, position and time;
the case registry its entity kind and the latest time). Read one attribute at a time
by each sink, that is several Python loops over a thousand objects a batch. The
pipeline hands the sinks a :class:`MessageBatch` instead: a list of the messages (so
every sink that iterates still works) whose sightings are gathered into columns once,
on first use, with the event times the journal already computed.

:func:`sighting_columns` gives the columns of any sequence of messages: a batch's
cached ones, or built on the spot (a journal replay's chunks are plain lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.models import Message, Sighting

__all__ = ["MessageBatch", "SightingColumns", "sighting_columns"]


@dataclass(frozen=True, slots=True)
class SightingColumns:
    """The sightings of a batch, in batch order, one list (or array) per field.

    ``others`` are the batch's other messages, each with the number of sightings that
    came before it: a sink that must keep the batch's order (the space-time index reads
    the sightings up to a report before it queries the report's scene) cuts the
    columns there.
    """

    messages: list[Sighting]
    kinds: list[str]
    entities: list[str]
    checkpoint_ids: list[str]
    lons: list[float]
    lats: list[float]
    epoch_s: np.ndarray  # float64, ``at.timestamp()``
    others: list[tuple[int, Message]]
    #: position of the latest sighting (the first of equals), None if there is none
    latest: int | None

    def __len__(self) -> int:
        return len(self.messages)

    def latest_at(self) -> int | None:
        """Position of the latest sighting (the first of equals), None if there is none."""
        return self.latest


class MessageBatch(list[Message]):
    """The messages of a micro-batch, in order, with :attr:`columns` of its sightings.

    ``event_times`` are the messages' ``event_time.timestamp()`` in the same order, as
    the journal computed them (so the columns need not compute them again).
    """

    def __init__(self, messages: Sequence[Message], event_times: Sequence[float]) -> None:
        super().__init__(messages)
        if len(event_times) != len(self):
            raise ValueError(f"{len(self)} messages but {len(event_times)} event times")
        self._times = event_times
        self._columns: SightingColumns | None = None

    @property
    def columns(self) -> SightingColumns:
        """The sightings as columns, gathered on first use (the batch must not change)."""
        if self._columns is None:
            self._columns = _gather(self, self._times)
        return self._columns


def sighting_columns(messages: Sequence[Message]) -> SightingColumns:
    """The sightings of ``messages`` as columns: a :class:`MessageBatch`'s, kept for every
    sink, or gathered now for any other sequence."""
    if isinstance(messages, MessageBatch):
        return messages.columns
    return _gather(messages, None)


def _gather(messages: Sequence[Message], times: Sequence[float] | None) -> SightingColumns:
    """One pass over the messages; O(n)."""
    sightings: list[Sighting] = []
    epoch: list[float] = []
    others: list[tuple[int, Message]] = []
    if times is None:
        for msg in messages:
            if isinstance(msg, Sighting):
                sightings.append(msg)
                epoch.append(msg.at.timestamp())
            else:
                others.append((len(sightings), msg))
    else:
        for msg, t in zip(messages, times, strict=True):
            if isinstance(msg, Sighting):
                sightings.append(msg)
                epoch.append(t)
            else:
                others.append((len(sightings), msg))
    return SightingColumns(
        sightings,
        [s.entity_kind for s in sightings],
        [s.entity for s in sightings],
        [s.checkpoint_id for s in sightings],
        [s.lon for s in sightings],
        [s.lat for s in sightings],
        np.array(epoch, dtype=np.float64),
        others,
        # list methods, not numpy's argmax: that releases the GIL, and getting it back from
        # the journal's writer thread cost more than the search
        epoch.index(max(epoch)) if epoch else None,
    )
