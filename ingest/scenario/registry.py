"""Shared state while a scenario is built: the sensed entities and the read log.

Every plate or phone that a sensor can see is an *entity* with an integer id;
reads are collected as columns (entity, checkpoint index, epoch seconds) and
turned into contract messages once, at the end (see :mod:`.delivery`).

Example
-------
>>> ents = Entities()
>>> ents.add("plate", "浙B12345"), ents.add("phone", "13812345678")
(0, 1)
>>> log = ReadLog()
>>> log.add([0, 1], [5, 5], [10.0, 11.0])
>>> len(log.arrays()[0])
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .companies import CompanyBook
from .people import PersonFactory
from .plates import PlateBook
from .world import World

__all__ = ["Context", "Entities", "ReadLog"]


@dataclass
class Entities:
    """Entity ids to (kind, value); kinds are ``plate`` and ``phone``."""

    kinds: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    def add(self, kind: str, value: str) -> int:
        """Register one entity and return its id."""
        if kind not in ("plate", "phone", "mac"):
            raise ValueError(f"entity kind {kind!r} is invalid; expected 'plate', 'phone' or 'mac'")
        self.kinds.append(kind)
        self.values.append(value)
        return len(self.values) - 1

    def add_many(self, kind: str, values: Sequence[str]) -> np.ndarray:
        """Register many entities of one kind; returns their ids."""
        first = len(self.values)
        for v in values:
            self.add(kind, v)
        return np.arange(first, len(self.values), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class ReadLog:
    """Sensor reads collected as column chunks."""

    _entity: list[np.ndarray] = field(default_factory=list)
    _cp: list[np.ndarray] = field(default_factory=list)
    _t: list[np.ndarray] = field(default_factory=list)
    _hidden: list[tuple[int, int, float, float]] = field(default_factory=list)

    def add(
        self,
        entity: Sequence[int] | np.ndarray,
        cp: Sequence[int] | np.ndarray,
        t: Sequence[float] | np.ndarray,
    ) -> None:
        """Append reads (three equally long columns)."""
        e = np.asarray(entity, dtype=np.int64)
        c = np.asarray(cp, dtype=np.int64)
        tt = np.asarray(t, dtype=np.float64)
        if not len(e) == len(c) == len(tt):
            raise ValueError(
                f"read columns have lengths {len(e)}, {len(c)}, {len(tt)}; expected equal"
            )
        self._entity.append(e)
        self._cp.append(c)
        self._t.append(tt)

    def hide(self, entity: int, cp: int, t_from: float, t_to: float) -> None:
        """Drop every read of ``entity`` at ``cp`` between the two times (the vehicle took
        a road that does not pass that camera)."""
        self._hidden.append((int(entity), int(cp), float(t_from), float(t_to)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All reads so far as (entity, checkpoint index, epoch seconds)."""
        if not self._entity:
            z = np.zeros(0, dtype=np.int64)
            return z, z.copy(), np.zeros(0)
        e, c, t = np.concatenate(self._entity), np.concatenate(self._cp), np.concatenate(self._t)
        if self._hidden:
            keep = np.ones(len(e), dtype=bool)
            for he, hc, t0, t1 in self._hidden:
                keep &= ~((e == he) & (c == hc) & (t >= t0) & (t <= t1))
            e, c, t = e[keep], c[keep], t[keep]
        return e, c, t


@dataclass
class Context:
    """Everything the builders share: random streams, the world, books and logs."""

    seed: int
    t_start: float
    t_end: float
    scale: float
    world: World
    rngs: dict[str, np.random.Generator]
    entities: Entities
    reads: ReadLog
    plates: PlateBook
    people: PersonFactory
    companies: CompanyBook

    @property
    def days(self) -> float:
        """Length of the horizon in days."""
        return (self.t_end - self.t_start) / 86400.0
