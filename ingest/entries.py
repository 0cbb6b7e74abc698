"""Journal entries: one named tuple a message, or a batch's as columns.

:class:`JournalEntry` is one named tuple a message (re-exported by
:mod:`ingest.journal`). For the usual
batch of a replay (one source, every key new and distinct) the journal needs of its
entries only the keys, the payloads and the rows its insert statement takes, which a
worker validating ahead has made already (:mod:`ingest.ahead`). :class:`EntryColumns`
holds the columns and reads as the sequence of entries, making them only if some
path asks for them (a key already stored, a statement that cannot take the rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, overload

__all__ = ["EntryColumns", "JournalEntry"]


class JournalEntry(NamedTuple):
    """One accepted message as stored: its key, kind, event time (epoch s) and raw bytes.

    A named tuple in the table's column order: a batch of them is the parameter list of
    the bulk insert as it is (no copy a row), and one is built per message received.
    """

    key: str
    kind: str
    event_time: float
    payload: bytes
    source: str
    position: str


class EntryColumns(Sequence[JournalEntry]):
    """Journal entries of one ``source``, as columns of equal length.

    ``distinct`` says the keys are all different (a batch without a message twice).
    """

    def __init__(
        self,
        keys: list[str],
        kinds: list[str],
        times: list[float],
        payloads: list[bytes],
        source: str,
        positions: list[str],
        *,
        distinct: bool,
    ) -> None:
        n = len(keys)
        if not (len(kinds) == len(times) == len(payloads) == len(positions) == n):
            raise ValueError(
                f"columns of {n} keys, {len(kinds)} kinds, {len(times)} times,"
                f" {len(payloads)} payloads and {len(positions)} positions"
            )
        self.keys = keys
        self.kinds = kinds
        self.times = times
        self.payloads = payloads
        self.source = source
        self.positions = positions
        self.distinct = distinct
        self._entries: list[JournalEntry] | None = None

    def _listed(self) -> list[JournalEntry]:
        if self._entries is None:
            source = self.source
            self._entries = [
                JournalEntry(k, kind, t, p, source, pos)
                for k, kind, t, p, pos in zip(
                    self.keys, self.kinds, self.times, self.payloads, self.positions, strict=True
                )
            ]
        return self._entries

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, i: int) -> JournalEntry: ...
    @overload
    def __getitem__(self, i: slice) -> list[JournalEntry]: ...
    def __getitem__(self, i: int | slice) -> JournalEntry | list[JournalEntry]:
        return self._listed()[i]

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._listed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EntryColumns | list):
            return self._listed() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
