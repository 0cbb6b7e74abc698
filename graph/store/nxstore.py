"""The embedded graph store: the ICC graph model in a :class:`networkx.MultiDiGraph`.

Nodes are ``(label, key)`` tuples, so a key is unique per label by
construction; relationships are keyed ``(type, identity)`` between two nodes.
State lives in memory only: the runtime rebuilds it by replaying the journal
into the pipeline on every start.

Complexity: a merge or deletion is O(rows); :meth:`NetworkxStore.neighbours`
O(degree); :meth:`NetworkxStore.counts` O(labels + types) (kept as counters);
:meth:`NetworkxStore.snapshot` O(graph).

Example
-------
>>> store = NetworkxStore()
>>> store.merge_nodes("Case", [{"case_id": "A"}, {"case_id": "B"}])
2
>>> store.merge_relationships("LINKED", [{"src": "A", "dst": "B", "probability": 0.9}])
1
>>> [n.node.key for n in store.neighbours("Case", "B", "LINKED")]
['A']
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from typing import Any

import networkx as nx

from graph.store.base import (
    CaseLink,
    ChangeSet,
    Direction,
    GraphCounts,
    GraphSnapshot,
    Neighbour,
    Node,
    case_link,
)
from graph.store.schema import (
    KEYS,
    LABELS,
    TYPES,
    Key,
    RelRow,
    check_label,
    check_type,
    node_rows,
    relationship_rows,
)

__all__ = ["NetworkxStore"]

log = logging.getLogger(__name__)

_DIRECTIONS = ("out", "in", "both")


def _check_direction(direction: object) -> None:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction={direction!r}; expected one of {', '.join(_DIRECTIONS)}")


def _check_keys(label: str, keys: object) -> list[Key]:
    check_label(label)
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        raise TypeError(f"{label} keys: got {type(keys).__name__}; expected a list of keys")
    return [k for k, _ in node_rows(label, [{KEYS[label][0]: k} for k in keys])]


def _update(stored: dict[str, Any], props: dict[str, Any]) -> None:
    """Merge validated properties into stored ones (``None`` removes a property)."""
    if None in props.values():
        for name, value in props.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
    else:
        stored.update(props)


def _missing_end(rel_type: str, valid: list[RelRow], nodes: Container, coming: Container) -> None:
    """Raise ``ValueError`` naming the first row end that is neither stored nor coming."""
    for i, r in enumerate(valid):
        for label, key, end in ((r.src_label, r.src, "src"), (r.dst_label, r.dst, "dst")):
            if (label, key) not in nodes and (label, key) not in coming:
                raise ValueError(
                    f"{rel_type} row {i}: {end} {label} {KEYS[label][0]}={key!r} does not "
                    f"exist; expected the node to be merged first"
                )


class NetworkxStore:
    """In-memory graph store (the embedded default). Thread-safe: one lock around everything."""

    backend = "networkx"

    def __init__(self) -> None:
        self.graph = nx.MultiDiGraph()
        self._labels: Counter[str] = Counter()
        self._types: Counter[str] = Counter()
        self._lock = threading.RLock()

    # -- writes ---------------------------------------------------------------
    def merge_nodes(self, label: str, rows: Sequence[Mapping[str, Any]]) -> int:
        valid = node_rows(label, rows)
        with self._lock:
            self._merge_nodes(label, valid)
        return len(valid)

    def merge_relationships(self, rel_type: str, rows: Sequence[Mapping[str, Any]]) -> int:
        valid = relationship_rows(rel_type, rows)
        with self._lock:
            self._check_ends(rel_type, valid, set())
            self._merge_rels(rel_type, valid)
        return len(valid)

    def delete_relationships(self, rel_type: str, rows: Sequence[Mapping[str, Any]]) -> int:
        valid = relationship_rows(rel_type, rows)
        with self._lock:
            return self._delete_rels(rel_type, valid)

    def delete_nodes(self, label: str, keys: Sequence[Key]) -> int:
        valid = _check_keys(label, keys)
        with self._lock:
            return self._delete_nodes(label, valid)

    def apply(self, changes: ChangeSet) -> None:
        """Validate the whole change set, then apply it (nothing is applied if a row is bad)."""
        nodes = {label: node_rows(label, rows) for label, rows in changes.node_merges.items()}
        deletes = {t: relationship_rows(t, rows) for t, rows in changes.rel_deletes.items()}
        merges = {t: relationship_rows(t, rows) for t, rows in changes.rel_merges.items()}
        gone = {label: _check_keys(label, keys) for label, keys in changes.node_deletes.items()}
        with self._lock:
            coming = {(label, key) for label, valid in nodes.items() for key, _ in valid}
            for rel_type, valid in merges.items():
                self._check_ends(rel_type, valid, coming)
            for label, valid in nodes.items():
                self._merge_nodes(label, valid)
            for rel_type, valid in deletes.items():
                self._delete_rels(rel_type, valid)
            for rel_type, valid in merges.items():
                self._merge_rels(rel_type, valid)
            for label, keys in gone.items():
                self._delete_nodes(label, keys)

    def clear(self) -> None:
        with self._lock:
            self.graph.clear()
            self._labels.clear()
            self._types.clear()

    def close(self) -> None:
        """Nothing to release (the graph is dropped with the object)."""

    # -- internals (caller holds the lock) --------------------------------------
    # The graph's own dicts (``_node``, ``_succ``, ``_pred``) are read and filled directly, as
    # networkx's add_node/add_edge fill them (with the graph's dict factories): those build
    # views and clear a conversion cache per call. The cache is cleared once per call here.
    def _merge_nodes(self, label: str, valid: list[tuple[Key, dict[str, Any]]]) -> None:
        g = self.graph
        nodes, succ, pred = g._node, g._succ, g._pred
        prop = KEYS[label][0]
        added = 0
        for key, props in valid:
            node = (label, key)
            data = nodes.get(node)
            if data is None:  # what g.add_node(node, props=...) does for a new node
                succ[node] = g.adjlist_inner_dict_factory()
                pred[node] = g.adjlist_inner_dict_factory()
                data = nodes[node] = g.node_attr_dict_factory()
                data["props"] = {prop: key}
                added += 1
            stored = data["props"]
            if None in props.values():
                _update(stored, props)
            else:  # _update's common case, without the call
                stored.update(props)
        if added:
            self._labels[label] += added
            nx._clear_cache(g)

    def _check_ends(self, rel_type: str, valid: list[RelRow], coming: set) -> None:
        nodes = self.graph._node
        for r in valid:  # both ends of nearly every row are there: test them in one go
            a, b = (r.src_label, r.src), (r.dst_label, r.dst)
            if (a not in nodes and a not in coming) or (b not in nodes and b not in coming):
                _missing_end(rel_type, valid, nodes, coming)

    def _merge_rels(self, rel_type: str, valid: list[RelRow]) -> None:
        g = self.graph
        succ, pred = g._succ, g._pred
        names = check_type(rel_type).identity
        added = 0
        for r in valid:
            a, b, k = (r.src_label, r.src), (r.dst_label, r.dst), (rel_type, r.identity)
            out = succ[a]  # the ends exist (_check_ends)
            keydict = out.get(b)
            if keydict is None:  # as g.add_edge does: one key dict shared by both ends
                keydict = out[b] = pred[b][a] = g.edge_key_dict_factory()
            data = keydict.get(k)
            props = r.props
            if data is None:
                data = keydict[k] = g.edge_attr_dict_factory()
                data["type"] = rel_type
                added += 1
                if not names and None not in props.values():
                    # what merging into {} gives: the row's own properties, a dict made for
                    # this row by the validation and held by nothing else once applied
                    data["props"] = props
                    continue
                data["props"] = dict(zip(names, r.identity, strict=True)) if names else {}
            stored = data["props"]
            if None in props.values():
                _update(stored, props)
            else:  # _update's common case, without the call
                stored.update(props)
        if added:
            self._types[rel_type] += added
            nx._clear_cache(g)

    def _delete_rels(self, rel_type: str, valid: list[RelRow]) -> int:
        g = self.graph
        succ = g._succ
        n = 0
        for r in valid:
            a, b, k = (r.src_label, r.src), (r.dst_label, r.dst), (rel_type, r.identity)
            out = succ.get(a)
            keydict = out.get(b) if out is not None else None
            if keydict is not None and k in keydict:
                g.remove_edge(a, b, key=k)
                self._types[rel_type] -= 1
                n += 1
        return n

    def _delete_nodes(self, label: str, keys: list[Key]) -> int:
        g = self.graph
        n = 0
        for key in keys:
            node = (label, key)
            if node not in g:
                continue
            for _, _, k in g.out_edges(node, keys=True):
                self._types[k[0]] -= 1
            for a, _, k in g.in_edges(node, keys=True):
                if a != node:  # a self-loop was counted with the out-edges
                    self._types[k[0]] -= 1
            g.remove_node(node)
            self._labels[label] -= 1
            n += 1
        return n

    # -- reads ----------------------------------------------------------------
    def node(self, label: str, key: Key) -> Node | None:
        check_label(label)
        with self._lock:
            data = self.graph.nodes.get((label, key))
            return None if data is None else Node(label, key, dict(data["props"]))

    def neighbours(
        self, label: str, key: Key, rel_type: str | None = None, direction: Direction = "both"
    ) -> list[Neighbour]:
        check_label(label)
        if rel_type is not None:
            check_type(rel_type)
        _check_direction(direction)
        node = (label, key)
        out: list[Neighbour] = []
        with self._lock:
            g = self.graph
            if node not in g:
                return []
            if direction in ("out", "both"):
                for _, other, k, data in g.out_edges(node, keys=True, data=True):
                    if rel_type is None or k[0] == rel_type:
                        out.append(self._neighbour(k[0], True, other, data))
            if direction in ("in", "both"):
                for other, _, k, data in g.in_edges(node, keys=True, data=True):
                    if rel_type is None or k[0] == rel_type:
                        out.append(self._neighbour(k[0], False, other, data))
        return out

    def _neighbour(self, rel_type: str, outgoing: bool, other: tuple, data: dict) -> Neighbour:
        props = self.graph.nodes[other]["props"]
        return Neighbour(
            rel_type, outgoing, Node(other[0], other[1], dict(props)), dict(data["props"])
        )

    def links_of(self, case_id: str) -> list[CaseLink]:
        found = [
            case_link(case_id, str(n.node.key), n.props)
            for n in self.neighbours("Case", case_id, "LINKED")
        ]
        return sorted(found, key=lambda link: (-link.probability, link.other))

    def series_members(self, series_id: str) -> list[str]:
        return sorted(
            str(n.node.key) for n in self.neighbours("Series", series_id, "MEMBER_OF", "in")
        )

    def counts(self) -> GraphCounts:
        with self._lock:
            return GraphCounts(
                {label: self._labels[label] for label in LABELS},
                {t: self._types[t] for t in TYPES},
            )

    def snapshot(self) -> GraphSnapshot:
        with self._lock:
            g = self.graph
            nodes = {n: dict(data["props"]) for n, data in g.nodes(data=True)}
            rels = {
                (k[0], a, b, k[1]): dict(data["props"])
                for a, b, k, data in g.edges(keys=True, data=True)
            }
        return GraphSnapshot(nodes, rels)
