"""Interning of entity and checkpoint strings to dense int32 ids.

Example
-------
>>> names = Interner()
>>> names.intern("浙B12345"), names.intern("浙A00001"), names.intern("浙B12345")
(0, 1, 0)
>>> names.value(1)
'浙A00001'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["Interner"]


class Interner:
    """Bidirectional map between strings and dense ids 0..n-1 (ids never change)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._values: list[str] = []

    def intern(self, value: str) -> int:
        """The id of ``value``, assigning the next free id the first time it is seen."""
        ident = self._ids.get(value)
        if ident is None:
            ident = len(self._values)
            if ident >= 2**31 - 1:
                raise OverflowError("more than 2**31 - 1 distinct values cannot be interned")
            self._ids[value] = ident
            self._values.append(value)
        return ident

    def intern_many(self, values: Iterable[str]) -> np.ndarray:
        """Ids of many values as an int32 array. O(n) dictionary lookups."""
        get = self._ids.get
        out = []
        for v in values:
            ident = get(v)
            if ident is None:
                ident = self.intern(v)
            out.append(ident)
        return np.asarray(out, dtype=np.int32)

    @property
    def ids(self) -> Mapping[str, int]:
        """The value -> id map itself (read it, never change it: :meth:`intern` does), for
        loops that look up many values at dictionary speed."""
        return self._ids

    @property
    def values(self) -> Sequence[str]:
        """The id -> value list itself (read it, never change it), for loops that name many
        ids: ``values[i]`` without :meth:`value`'s call and range check, for ids known to
        be assigned (read from an index or a map this interner filled)."""
        return self._values

    def get(self, value: str) -> int | None:
        """The id of ``value`` if it has been interned, else None."""
        return self._ids.get(value)

    def value(self, ident: int) -> str:
        if not 0 <= ident < len(self._values):
            raise KeyError(f"id {ident} was never assigned (0..{len(self._values) - 1} are)")
        return self._values[ident]

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._ids
