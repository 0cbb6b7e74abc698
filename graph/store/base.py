"""The one interface every graph store implements, and what its reads return.

A store holds the graph model of :mod:`graph.store.schema`. Writes are batched
and idempotent (``MERGE`` semantics: merging the same rows twice leaves the
graph as merging them once); :meth:`GraphStore.apply` runs a whole
:class:`ChangeSet` - node merges, relationship deletions, relationship merges,
node deletions, in that order - as one unit (one transaction in Neo4j).

Backends: :class:`~graph.store.nxstore.NetworkxStore` (embedded, in memory)
and :class:`~graph.store.neo4jstore.Neo4jStore` (Neo4j 5 through the official
driver). :func:`~graph.store.open_store` picks one by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from graph.store.schema import Key, check_label, check_type

__all__ = [
    "CaseLink",
    "ChangeSet",
    "Direction",
    "GraphCounts",
    "GraphSnapshot",
    "GraphStore",
    "Neighbour",
    "Node",
    "case_link",
]

Direction = Literal["out", "in", "both"]
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Node:
    """A stored node: its label, key and properties (the key property included)."""

    label: str
    key: Key
    props: dict[str, Any]


@dataclass(frozen=True)
class Neighbour:
    """A node next to another one, through one relationship."""

    type: str
    outgoing: bool  # True: (node)-[type]->(neighbour)
    node: Node
    props: dict[str, Any]  # the relationship's properties (identity properties included)


@dataclass(frozen=True)
class CaseLink:
    """An accepted link of a case as stored: the other case, the score and why."""

    case_id: str
    other: str
    probability: float
    features: dict[str, float]
    evidence: list[tuple[str, str]]  # (kind, sentence)


@dataclass(frozen=True)
class GraphCounts:
    """Nodes per label and relationships per type (zero counts included)."""

    nodes: dict[str, int]
    relationships: dict[str, int]


@dataclass(frozen=True)
class GraphSnapshot:
    """The whole graph as comparable values (for tests and exports; O(graph)).

    ``nodes`` maps ``(label, key)`` to properties; ``relationships`` maps
    ``(type, (src_label, src_key), (dst_label, dst_key), identity)`` to properties.
    """

    nodes: dict[tuple[str, Key], dict[str, Any]]
    relationships: dict[tuple[str, tuple[str, Key], tuple[str, Key], tuple], dict[str, Any]]


@dataclass
class ChangeSet:
    """Writes to apply together: rows per label or type, applied in a fixed order.

    >>> cs = ChangeSet()
    >>> cs.merge_node("Series", {"series_id": "S-0001", "size": 2})
    >>> cs.delete_node("Series", "S-0002")
    >>> cs.count()
    2
    """

    node_merges: dict[str, list[Row]] = field(default_factory=dict)
    rel_deletes: dict[str, list[Row]] = field(default_factory=dict)
    rel_merges: dict[str, list[Row]] = field(default_factory=dict)
    node_deletes: dict[str, list[Key]] = field(default_factory=dict)

    # a label or type already holding rows was checked when its list was made
    def merge_node(self, label: str, row: Row) -> None:
        rows = self.node_merges.get(label) if type(label) is str else None
        if rows is None:
            rows = self.node_merges.setdefault(check_label(label), [])
        rows.append(row)

    def merge_rel(self, rel_type: str, row: Row) -> None:
        rows = self.rel_merges.get(rel_type) if type(rel_type) is str else None
        if rows is None:
            rows = self.rel_merges.setdefault(check_type(rel_type).name, [])
        rows.append(row)

    def delete_rel(self, rel_type: str, row: Row) -> None:
        self.rel_deletes.setdefault(check_type(rel_type).name, []).append(row)

    def delete_node(self, label: str, key: Key) -> None:
        self.node_deletes.setdefault(check_label(label), []).append(key)

    def count(self) -> int:
        """Rows in the change set."""
        return sum(
            len(rows)
            for part in (self.node_merges, self.rel_deletes, self.rel_merges, self.node_deletes)
            for rows in part.values()
        )

    def __bool__(self) -> bool:
        return self.count() > 0


def case_link(case_id: str, other: str, props: Mapping[str, Any]) -> CaseLink:
    """A :class:`CaseLink` from the properties of a stored ``LINKED`` relationship."""
    return CaseLink(
        case_id=case_id,
        other=other,
        probability=float(props.get("probability", 0.0)),
        features=json.loads(props.get("features") or "{}"),
        evidence=[tuple(e) for e in json.loads(props.get("evidence") or "[]")],
    )


@runtime_checkable
class GraphStore(Protocol):
    """A graph store of the ICC graph model (see :mod:`graph.store.schema`).

    Writes validate every row first and raise ``ValueError``/``TypeError``
    naming the bad label, type, row or property and what was expected; a
    relationship whose end node does not exist is an error too. Reads return
    copies; they never expose the backend's own objects.
    """

    backend: str

    # -- writes ---------------------------------------------------------------
    def merge_nodes(self, label: str, rows: Sequence[Row]) -> int:
        """Create or update nodes by key (properties are merged, ``None`` removes one)."""
        ...

    def merge_relationships(self, rel_type: str, rows: Sequence[Row]) -> int:
        """Create or update relationships between existing nodes."""
        ...

    def delete_relationships(self, rel_type: str, rows: Sequence[Row]) -> int:
        """Delete the relationships the rows name (missing ones are ignored)."""
        ...

    def delete_nodes(self, label: str, keys: Sequence[Key]) -> int:
        """Delete nodes and every relationship they have (missing ones are ignored)."""
        ...

    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set as one unit: node merges, relationship deletions,
        relationship merges, node deletions."""
        ...

    def clear(self) -> None:
        """Delete every node and relationship of the model's labels."""
        ...

    def close(self) -> None: ...

    # -- reads ----------------------------------------------------------------
    def node(self, label: str, key: Key) -> Node | None:
        """The node of ``label`` with ``key``, or ``None``."""
        ...

    def neighbours(
        self, label: str, key: Key, rel_type: str | None = None, direction: Direction = "both"
    ) -> list[Neighbour]:
        """Nodes next to a node, through relationships of ``rel_type`` (any type if ``None``)."""
        ...

    def links_of(self, case_id: str) -> list[CaseLink]:
        """Accepted links of a case, strongest first."""
        ...

    def series_members(self, series_id: str) -> list[str]:
        """Case ids of a series, sorted (empty if the series is not stored)."""
        ...

    def counts(self) -> GraphCounts: ...

    def snapshot(self) -> GraphSnapshot: ...
