"""Link evidence and its compact store: the best evidence per (case pair, entity).

An entity near *k* scenes links k(k-1)/2 case pairs, so the evidence kept grows
much faster than the sightings: 37 k (pair, entity) entries at scale 4, 1.0 M at
scale 12, tens of millions at the province day's scale 36. Kept as Python objects
with their sentence already written (~570 bytes an entry: 0.7 GiB at scale 12), it
was the largest part of the province day's 23 GiB. Here

* :class:`LinkEvidence` writes its sentence only when asked (:attr:`~LinkEvidence.detail`),
  from the two hits, the scene windows and how many scenes the entity was near then;
* :class:`EvidenceStore` keeps, per case pair, one row per entity in flat arrays
  (entity id, score, scenes near: 24 bytes), references to the two hits (16 bytes)
  and a sorted index by entity id (12 bytes), and builds :class:`LinkEvidence`
  objects on reads. Evidence without one interned entity (a companion bridge
  between two vehicles) is kept whole.

The store behaves like the ``dict[pair, dict[entity key, LinkEvidence]]`` it
replaces: insertion order per pair is kept (a replaced entry keeps its place, a
withdrawn one that comes back goes last), so reads sorted by score break ties
the same way.

Example
-------
>>> store = EvidenceStore(lambda key: None, lambda e: "", lambda case: (0, 0))
>>> ev = LinkEvidence("A", "B", "plate:x+plate:y", 3.0, "travelled together", None, None,
...                   kind="companion")
>>> store.keep(ev), store.keep(ev), len(store)
(True, False, 1)
>>> [e.detail for e in store.between("A", "B")]
['travelled together']
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from graph.spacetime.scene import STOP_S, describe_distance, describe_duration, describe_offset

if TYPE_CHECKING:
    from graph.spacetime.copresence import Hit

__all__ = ["EvidenceStore", "LinkEvidence", "near_detail"]

_SMALL = 24  # entries up to which a pair is summarised without numpy

log = logging.getLogger(__name__)

_KINDS = {"plate": "vehicle", "phone": "phone", "mac": "mac"}
_FIELDS = ("case_a", "case_b", "entity", "score", "detail", "hit_a", "hit_b", "kind")


def near_detail(key: str, a: Hit, b: Hit, near: int, spans: tuple[int, int, int, int]) -> str:
    """The sentence for an entity near two scenes (``spans``: both windows' start, end)."""
    label = key.split(":", 1)[1]
    return (
        f"{label} seen {describe_distance(a.dist_m)} from scene {a.case_id} "
        f"{describe_offset(a.offset_s, spans[0], spans[1])}{_stayed(a)}, "
        f"{describe_distance(b.dist_m)} from scene {b.case_id} "
        f"{describe_offset(b.offset_s, spans[2], spans[3])}{_stayed(b)} "
        f"(chance {a.p:.0%} and {b.p:.0%}; near {near} scenes)"
    )


def _stayed(hit: Hit) -> str:
    """' (around the scene for 32 min)' for a hit with a stay, else ''."""
    return (
        f" (around the scene for {describe_duration(hit.stay_s)})" if hit.stay_s >= STOP_S else ""
    )


class LinkEvidence:
    """One entity placing two cases' offenders together, with its score and explanation.

    ``detail`` is either the sentence or ``None``; with ``None`` the sentence is
    written on first read from the hits, ``near`` (scenes the entity was near
    when the evidence was made) and ``spans`` (start and end of both scene
    windows, index time). ``ent_id`` is the interned entity (-1: none, e.g. a
    companion pair). Immutable; equal when every public field is equal.
    """

    __slots__ = (
        "case_a",
        "case_b",
        "entity",
        "score",
        "hit_a",
        "hit_b",
        "kind",
        "near",
        "ent_id",
        "_detail",
        "_spans",
    )

    case_a: str
    case_b: str
    entity: str  # entity key, e.g. plate:浙B12345
    score: float
    hit_a: Hit
    hit_b: Hit
    kind: str  # vehicle | phone | mac | companion
    near: int
    ent_id: int

    def __init__(
        self,
        case_a: str,
        case_b: str,
        entity: str,
        score: float,
        detail: str | None,
        hit_a: Hit,
        hit_b: Hit,
        kind: str = "vehicle",
        *,
        near: int = 0,
        ent_id: int = -1,
        spans: tuple[int, int, int, int] | None = None,
    ) -> None:
        if detail is None and spans is None:
            raise ValueError("LinkEvidence needs a detail sentence or the windows' spans")
        put = object.__setattr__
        put(self, "case_a", case_a)
        put(self, "case_b", case_b)
        put(self, "entity", entity)
        put(self, "score", score)
        put(self, "hit_a", hit_a)
        put(self, "hit_b", hit_b)
        put(self, "kind", kind)
        put(self, "near", near)
        put(self, "ent_id", ent_id)
        put(self, "_detail", detail)
        put(self, "_spans", spans)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"LinkEvidence is immutable: cannot set {name!r}")

    @classmethod
    def compact(
        cls,
        case_a: str,
        case_b: str,
        entity: str,
        score: float,
        hit_a: Hit,
        hit_b: Hit,
        kind: str,
        near: int,
        ent_id: int,
        spans: tuple[int, int, int, int],
    ) -> LinkEvidence:
        """``LinkEvidence(case_a, ..., None, ..., near=, ent_id=, spans=)``: the evidence a
        scene query makes, its sentence written on read. The same object, built in half
        the time (no keyword handling, the slots set directly): a case at a province's
        scale makes thousands, in the batch its report arrives in."""
        ev = _new(cls)
        _set_case_a(ev, case_a)
        _set_case_b(ev, case_b)
        _set_entity(ev, entity)
        _set_score(ev, score)
        _set_hit_a(ev, hit_a)
        _set_hit_b(ev, hit_b)
        _set_kind(ev, kind)
        _set_near(ev, near)
        _set_ent_id(ev, ent_id)
        _set_detail(ev, None)
        _set_spans(ev, spans)
        return ev

    @property
    def detail(self) -> str:
        """The sentence a case officer would write (written once, on first read)."""
        text = self._detail
        if text is None:
            text = near_detail(self.entity, self.hit_a, self.hit_b, self.near, self._spans)
            object.__setattr__(self, "_detail", text)
        return text

    @property
    def pair(self) -> tuple[str, str]:
        return (self.case_a, self.case_b)

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinkEvidence):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in _FIELDS)
        return f"LinkEvidence({body})"


_new = object.__new__
(
    _set_case_a,
    _set_case_b,
    _set_entity,
    _set_score,
    _set_hit_a,
    _set_hit_b,
    _set_kind,
    _set_near,
    _set_ent_id,
    _set_detail,
    _set_spans,
) = (
    LinkEvidence.__dict__[name].__set__
    for name in (
        "case_a",
        "case_b",
        "entity",
        "score",
        "hit_a",
        "hit_b",
        "kind",
        "near",
        "ent_id",
        "_detail",
        "_spans",
    )
)


#: one-row templates copied by :meth:`_Rows.first`
_ONE_COLS = array("d", (0.0, 0.0, 0.0))
_ONE_KEY = array("q", (0,))
_ONE_ROW = array("i", (0,))


class _Rows:
    """One case pair's evidence: ``cols`` holds (entity id, score, near) per row as
    doubles (entity ids < 2**31 are exact), ``hits`` the two hits per row; a row whose
    entity id is ``-1 - k`` is ``whole[k]`` (kept as an object). ``keys``/``rows`` index
    the rows by entity id (sorted ids and their rows: O(log n) lookups, 12 bytes a row)."""

    __slots__ = ("cols", "hits", "whole", "keys", "rows")

    def __init__(self) -> None:
        self.cols = array("d")
        self.hits: list[Hit] = []
        self.whole: list[LinkEvidence | None] | None = None
        self.keys = array("q")
        self.rows = array("i")

    @classmethod
    def first(cls, ev: LinkEvidence) -> _Rows:
        """A pair's rows holding only ``ev``, compact evidence (``ent_id`` >= 0, sentence
        not written): how most pairs start, built without the appends. The arrays are
        copies of one-row templates, filled in place: an array built from a tuple goes
        through the generic iteration, a slice is a copy of its bytes (a case at a
        province's scale opens thousands of pairs in one batch)."""
        rows = cls.__new__(cls)
        cols = _ONE_COLS[:]
        cols[0] = ev.ent_id  # exact as a double: ids are below 2**31
        cols[1] = ev.score
        cols[2] = ev.near
        keys = _ONE_KEY[:]
        keys[0] = ev.ent_id
        rows.cols = cols
        rows.hits = [ev.hit_a, ev.hit_b]
        rows.whole = None
        rows.keys = keys
        rows.rows = _ONE_ROW[:]
        return rows

    def __len__(self) -> int:
        return len(self.cols) // 3

    def find(self, ident: int) -> int:
        """Row of entity id ``ident`` (-1 if absent)."""
        i = bisect_left(self.keys, ident)
        if i < len(self.keys) and self.keys[i] == ident:
            return self.rows[i]
        return -1

    def find_whole(self, entity: str) -> int:
        if self.whole is None:
            return -1
        for k, ev in enumerate(self.whole):
            if ev is not None and ev.entity == entity:
                return self.find(-1 - k)
        return -1

    def add_key(self, ident: int, row: int) -> None:
        i = bisect_left(self.keys, ident)
        self.keys.insert(i, ident)
        self.rows.insert(i, row)

    def append(self, ident: int, score: float, near: int, hit_a: Hit, hit_b: Hit) -> None:
        """A last row for ``ident``, an id the rows do not hold yet."""
        self.add_key(ident, len(self.cols) // 3)
        self.cols.extend((float(ident), score, float(near)))
        self.hits.append(hit_a)
        self.hits.append(hit_b)

    def drop_key(self, ident: int) -> None:
        i = bisect_left(self.keys, ident)
        del self.keys[i]
        del self.rows[i]

    def delete(self, row: int) -> None:
        ident = int(self.cols[3 * row])
        del self.cols[3 * row : 3 * row + 3]
        del self.hits[2 * row : 2 * row + 2]
        self.drop_key(ident)
        self.rows = array("i", (r - 1 if r > row else r for r in self.rows))
        if ident < 0 and self.whole is not None:
            self.whole[-1 - ident] = None


def _strongest(cols: array, k: int) -> list[int]:
    """The ``k`` rows of ``cols`` (see :class:`_Rows`) with the highest scores, strongest
    first, ties in stored order: the ranking :meth:`EvidenceStore._summary_small` makes of
    rows that are all ranked, for a pair with one row (most pairs) without a sort."""
    n = len(cols) // 3
    if n <= 1:
        return list(range(n))[:k]
    return sorted(range(n), key=lambda r: -cols[3 * r + 1])[:k]


class EvidenceStore(Mapping[tuple[str, str], dict[str, LinkEvidence]]):
    """Best link evidence per (case pair, entity), stored compactly.

    ``entity_id(key)`` and ``entity_key(id)`` translate entity keys to interned ids
    (the core's :class:`~graph.spacetime.interning.Interner`); ``spans(case)`` gives
    a case's scene window as (start, end) index times, for the sentences.
    As a mapping it reads ``pair -> {entity key: LinkEvidence}`` (built on access).
    Complexity: keep/put O(entities of the pair) at C speed; reads O(entities of the pair).
    """

    def __init__(
        self,
        entity_id: Callable[[str], int | None],
        entity_key: Callable[[int], str],
        spans: Callable[[str], tuple[int, int]],
    ) -> None:
        self._entity_id = entity_id
        self._entity_key = entity_key
        self._spans = spans
        self._pairs: dict[tuple[str, str], _Rows] = {}
        self._count = 0

    # -- writes -----------------------------------------------------------------
    def keep(self, ev: LinkEvidence) -> bool:
        """Store ``ev`` unless the pair already holds evidence through its entity with a
        score at least as high; True if stored."""
        rows = self._pairs.get(ev.pair)
        if rows is None:
            rows = self._pairs[ev.pair] = _Rows()
        row = self._row(rows, ev)
        if row >= 0 and not ev.score > rows.cols[3 * row + 1]:
            return False
        self._write(rows, row, ev)
        return True

    def keep_all(self, found: Iterable[LinkEvidence]) -> list[tuple[str, str]]:
        """:meth:`keep` each of ``found`` in turn; the pairs of those stored, in order
        (a pair once for each). A scene query brings a thousand of them at a province's
        scale, most for a pair that holds no evidence yet or not through that entity:
        compact evidence of that kind is stored without :meth:`_write`'s cases."""
        pairs = self._pairs
        stored: list[tuple[str, str]] = []
        for ev in found:
            pair = (ev.case_a, ev.case_b)
            rows = pairs.get(pair)
            if ev.ent_id >= 0 and ev._detail is None and ev._spans is not None:  # compact
                if rows is None:
                    pairs[pair] = _Rows.first(ev)
                    self._count += 1
                    stored.append(pair)
                    continue
                row = rows.find(ev.ent_id)
                if row < 0:  # a new entity for the pair
                    rows.append(ev.ent_id, ev.score, ev.near, ev.hit_a, ev.hit_b)
                    self._count += 1
                    stored.append(pair)
                    continue
            else:
                if rows is None:
                    rows = pairs[pair] = _Rows()
                row = self._row(rows, ev)
            if row >= 0 and not ev.score > rows.cols[3 * row + 1]:
                continue
            self._write(rows, row, ev)
            stored.append(pair)
        return stored

    def put(self, pair: tuple[str, str], entity: str, ev: LinkEvidence | None) -> bool:
        """Replace the pair's evidence through ``entity`` by ``ev`` whatever its score, or
        withdraw it (``ev`` None). True if something changed (a withdrawal of nothing, or
        evidence equal to what is stored, is no change)."""
        rows = self._pairs.get(pair)
        if ev is None:
            if rows is None:
                return False
            row = self._find(rows, entity, self._entity_id(entity))
            if row < 0:
                return False
            rows.delete(row)
            self._count -= 1
            if not len(rows):
                del self._pairs[pair]
            return True
        if ev.pair != pair or ev.entity != entity:
            raise ValueError(f"evidence for {ev.pair}/{ev.entity} put under {pair}/{entity}")
        if rows is None:
            rows = self._pairs[pair] = _Rows()
        row = self._row(rows, ev)
        if (
            row >= 0
            and ev.ent_id >= 0
            and ev._spans is not None  # its sentence is written from the fields compared
            and rows.cols[3 * row] == ev.ent_id
            and rows.cols[3 * row + 1] == ev.score
            and rows.cols[3 * row + 2] == ev.near
            and rows.hits[2 * row] == ev.hit_a
            and rows.hits[2 * row + 1] == ev.hit_b
        ):
            # the same evidence again (a scene judged again, unchanged: most of them): no
            # change, so the pair is not scored and written again downstream
            return False
        self._write(rows, row, ev)
        return True

    def _find(self, rows: _Rows, entity: str, ident: int | None) -> int:
        if ident is not None and ident >= 0:
            row = rows.find(ident)
            if row >= 0:
                return row
        return rows.find_whole(entity)

    def _row(self, rows: _Rows, ev: LinkEvidence) -> int:
        if ev.ent_id >= 0:
            return rows.find(ev.ent_id)
        return rows.find_whole(ev.entity)

    def _write(self, rows: _Rows, row: int, ev: LinkEvidence) -> None:
        compact = ev.ent_id >= 0 and ev._detail is None and ev._spans is not None
        old = int(rows.cols[3 * row]) if row >= 0 else 0
        if compact:
            ident = ev.ent_id
        else:
            if rows.whole is None:
                rows.whole = []
            if row >= 0 and old < 0:
                rows.whole[-1 - old] = ev
                ident = old
            else:
                rows.whole.append(ev)
                ident = -len(rows.whole)
        if row < 0:
            rows.append(ident, ev.score, ev.near, ev.hit_a, ev.hit_b)
            self._count += 1
        else:
            if old != ident:
                rows.drop_key(old)
                rows.add_key(ident, row)
                if old < 0 and rows.whole is not None:
                    rows.whole[-1 - old] = None
            rows.cols[3 * row] = float(ident)
            rows.cols[3 * row + 1] = ev.score
            rows.cols[3 * row + 2] = float(ev.near)
            rows.hits[2 * row] = ev.hit_a
            rows.hits[2 * row + 1] = ev.hit_b

    # -- reads ------------------------------------------------------------------
    def between(self, case_a: str, case_b: str) -> list[LinkEvidence]:
        """Evidence linking two cases (either order), strongest first (ties: first stored)."""
        pair = (case_a, case_b) if case_a < case_b else (case_b, case_a)
        rows = self._pairs.get(pair)
        if rows is None:
            return []
        return sorted(self._build(pair, rows), key=lambda e: -e.score)

    def summary(
        self, case_a: str, case_b: str, k: int = 3
    ) -> tuple[list[LinkEvidence], int, LinkEvidence | None]:
        """What the link model reads, without building every entry: the ``k`` strongest
        entity evidence (not companion bridges, strongest first, ties first stored), how
        many entities there are, and the strongest companion bridge (or ``None``).
        O(entries of the pair) over the flat arrays, O(k) objects built."""
        pair = (case_a, case_b) if case_a < case_b else (case_b, case_a)
        rows = self._pairs.get(pair)
        if rows is None:
            return [], 0, None
        cols = rows.cols
        if rows.whole is None and len(cols) <= 3 * _SMALL:
            # only interned entities (most pairs): every row is ranked and none is a bridge,
            # so the rows need not be read one by one to find out
            return self._build(pair, rows, _strongest(cols, k)), len(cols) // 3, None
        if len(rows) <= _SMALL:
            return self._summary_small(pair, rows, k)
        table = np.frombuffer(rows.cols, dtype=np.float64).reshape(-1, 3)
        ranked = np.ones(table.shape[0], dtype=bool)
        bridge: LinkEvidence | None = None
        for r in np.flatnonzero(table[:, 0] < 0).tolist():  # whole entries: a few at most
            ev = rows.whole[int(-1 - table[r, 0])]  # type: ignore[index]
            if ev is not None and ev.kind == "companion":
                ranked[r] = False
                if bridge is None or ev.score > bridge.score:
                    bridge = ev
        idx = np.flatnonzero(ranked)
        # strongest first, ties in the order stored (row number)
        order = np.lexsort((idx, -table[idx, 1]))[:k]
        built = self._build(pair, rows, idx[order].tolist())
        return built, int(idx.size), bridge

    def _summary_small(
        self, pair: tuple[str, str], rows: _Rows, k: int
    ) -> tuple[list[LinkEvidence], int, LinkEvidence | None]:
        """:meth:`summary` for a pair with few entries (most pairs): the same answer in
        plain Python, without the fixed cost of half a dozen numpy calls."""
        cols = rows.cols
        ranked: list[int] = []
        bridge: LinkEvidence | None = None
        for r in range(len(rows)):
            ident = cols[3 * r]
            if ident < 0:
                ev = rows.whole[int(-1 - ident)]  # type: ignore[index]
                if ev is not None and ev.kind == "companion":
                    if bridge is None or ev.score > bridge.score:
                        bridge = ev
                    continue
            ranked.append(r)
        ranked.sort(key=lambda r: -cols[3 * r + 1])  # stable: ties stay in stored order
        return self._build(pair, rows, ranked[:k]), len(ranked), bridge

    def _build(
        self, pair: tuple[str, str], rows: _Rows, only: list[int] | None = None
    ) -> list[LinkEvidence]:
        out: list[LinkEvidence] = []
        spans: tuple[int, int, int, int] | None = None
        cols, hits = rows.cols, rows.hits
        for r in range(len(rows)) if only is None else only:
            ident = cols[3 * r]
            if ident < 0:
                out.append(rows.whole[int(-1 - ident)])  # type: ignore[index, arg-type]
                continue
            if spans is None:
                spans = (*self._spans(pair[0]), *self._spans(pair[1]))
            e = int(ident)
            key = self._entity_key(e)
            out.append(
                LinkEvidence.compact(
                    pair[0],
                    pair[1],
                    key,
                    cols[3 * r + 1],
                    hits[2 * r],
                    hits[2 * r + 1],
                    _KINDS[key.split(":", 1)[0]],
                    int(cols[3 * r + 2]),
                    e,
                    spans,
                )
            )
        return out

    def __getitem__(self, pair: tuple[str, str]) -> dict[str, LinkEvidence]:
        rows = self._pairs[pair]
        return {ev.entity: ev for ev in self._build(pair, rows)}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, pair: object) -> bool:
        return pair in self._pairs

    @property
    def entries(self) -> int:
        """(pair, entity) entries held."""
        return self._count

    @property
    def nbytes(self) -> int:
        """Approximate bytes held by the rows (arrays and hit references, not the hits)."""
        return sum(
            r.cols.itemsize * len(r.cols) + 8 * len(r.hits) + 12 * len(r.keys)
            for r in self._pairs.values()
        )
