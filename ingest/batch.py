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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from ingest.models import Message, Sighting, parse_message

__all__ = [
    "MessageBatch",
    "SightingColumns",
    "SightingsOnDemand",
    "columns_of",
    "non_sightings",
    "sighting_columns",
]


@dataclass(frozen=True, slots=True)
class SightingColumns:
    """The sightings of a batch, in batch order, one list (or array) per field.

    ``others`` are the batch's other messages, each with the number of sightings that
    came before it: a sink that must keep the batch's order (the space-time index reads
    the sightings up to a report before it queries the report's scene) cuts the
    columns there. ``messages`` are the sightings as objects; for a batch validated
    ahead (:mod:`ingest.ahead`) they are parsed only when one is asked for.
    """

    messages: Sequence[Sighting]
    kinds: list[str]
    entities: list[str]
    checkpoint_ids: list[str]
    lons: list[float]
    lats: list[float]
    epoch_s: np.ndarray  # float64, ``at.timestamp()``
    others: list[tuple[int, Message]]
    #: position of the latest sighting (the first of equals), None if there is none
    latest: int | None
    #: each sighting's entity's normal key (``entity_key``), if made already (a worker's)
    entity_keys: list[str] | None = None

    def __len__(self) -> int:
        return len(self.kinds)

    def latest_at(self) -> int | None:
        """Position of the latest sighting (the first of equals), None if there is none."""
        return self.latest


class SightingsOnDemand(Sequence[Sighting]):
    """Sightings kept as their raw bytes, each parsed when it is first asked for (the
    sinks need the object of one sighting a batch at most: the latest)."""

    def __init__(self, raws: Sequence[bytes | str]) -> None:
        self._raws = raws
        self._parsed: dict[int, Sighting] = {}

    def __len__(self) -> int:
        return len(self._raws)

    @overload
    def __getitem__(self, i: int) -> Sighting: ...
    @overload
    def __getitem__(self, i: slice) -> list[Sighting]: ...
    def __getitem__(self, i: int | slice) -> Sighting | list[Sighting]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        j = range(len(self._raws))[i]  # an IndexError names a bad position
        msg = self._parsed.get(j)
        if msg is None:
            parsed = parse_message(self._raws[j])
            if not isinstance(parsed, Sighting):
                raise TypeError(f"message {j} of the batch is a {parsed.kind}; expected a sighting")
            msg = self._parsed[j] = parsed
        return msg


def columns_of(
    messages: Sequence[Sighting] | SightingsOnDemand,
    kinds: list[str],
    entities: list[str],
    checkpoint_ids: list[str],
    lons: list[float],
    lats: list[float],
    epoch_s: np.ndarray,
    others: list[tuple[int, Message]],
    entity_keys: list[str] | None = None,
) -> SightingColumns:
    """:class:`SightingColumns` of columns gathered elsewhere; finds the latest."""
    epoch = epoch_s.tolist()
    return SightingColumns(
        messages,
        kinds,
        entities,
        checkpoint_ids,
        lons,
        lats,
        epoch_s,
        others,
        # list methods, not numpy's argmax: that releases the GIL, and getting it back from
        # the journal's writer thread cost more than the search
        epoch.index(max(epoch)) if epoch else None,
        entity_keys,
    )


class MessageBatch(Sequence[Message]):
    """The messages of a micro-batch, in order, with :attr:`columns` of its sightings.

    Made from the message objects and their ``event_time.timestamp()`` as the journal
    computed them (so the columns need not compute them again), or from the columns
    themselves (:meth:`of_columns`: a batch validated ahead, whose sightings never
    became objects). Either way it reads as the sequence of its messages; the second
    kind parses its sightings for that, so sinks read the columns.
    """

    def __init__(self, messages: Sequence[Message], event_times: Sequence[float]) -> None:
        if len(event_times) != len(messages):
            raise ValueError(f"{len(messages)} messages but {len(event_times)} event times")
        self._messages: list[Message] | None = list(messages)
        self._times: Sequence[float] | None = event_times
        self._columns: SightingColumns | None = None

    @classmethod
    def of_columns(cls, columns: SightingColumns) -> MessageBatch:
        """A batch of ``columns``' sightings and other messages, in their order."""
        batch = cls.__new__(cls)
        batch._messages = None
        batch._times = None
        batch._columns = columns
        return batch

    @property
    def columns(self) -> SightingColumns:
        """The sightings as columns, gathered on first use (the batch must not change)."""
        if self._columns is None:
            assert self._messages is not None
            self._columns = _gather(self._messages, self._times)
        return self._columns

    def _listed(self) -> list[Message]:
        if self._messages is None:
            cols = self.columns
            out: list[Message] = []
            done = 0
            for cut, msg in cols.others:
                out.extend(cols.messages[done:cut])
                out.append(msg)
                done = cut
            out.extend(cols.messages[done:])
            self._messages = out
        return self._messages

    def __len__(self) -> int:
        if self._messages is not None:
            return len(self._messages)
        return len(self.columns) + len(self.columns.others)

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> list[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | list[Message]:
        return self._listed()[i]

    def __iter__(self) -> Iterator[Message]:
        return iter(self._listed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MessageBatch | list):
            return self._listed() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking like the list it was


def sighting_columns(messages: Sequence[Message]) -> SightingColumns:
    """The sightings of ``messages`` as columns: a :class:`MessageBatch`'s, kept for every
    sink, or gathered now for any other sequence."""
    if isinstance(messages, MessageBatch):
        return messages.columns
    return _gather(messages, None)


def non_sightings(messages: Sequence[Message]) -> list[Message]:
    """The messages of a batch that are not sightings, in order: a
    :class:`MessageBatch`'s, set apart already (a sink need not test the type of a
    thousand messages, nor make a batch validated ahead parse its sightings), or any
    other sequence's, scanned."""
    if isinstance(messages, MessageBatch):
        return [m for _, m in messages.columns.others]
    return [m for m in messages if type(m) is not Sighting]


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
    return columns_of(
        sightings,
        [s.entity_kind for s in sightings],
        [s.entity for s in sightings],
        [s.checkpoint_id for s in sightings],
        [s.lon for s in sightings],
        [s.lat for s in sightings],
        np.array(epoch, dtype=np.float64),
        others,
    )
