"""The production graph store: the ICC graph model in Neo4j 5, through the official driver.

On start :class:`Neo4jStore` checks the connection and creates the uniqueness
constraint of every label and a few lookup indexes (``IF NOT EXISTS``, so a
restart changes nothing). Writes are batched ``UNWIND $rows AS row MERGE ...``
statements from :mod:`graph.store.cypher`, chunked to ``chunk_size`` rows; a
:class:`~graph.store.base.ChangeSet` is one write transaction, retried by the
driver on transient errors and rolled back as a whole on a bad row. Every
value travels as a parameter; labels and types come only from the statement
constants, never from data.

Complexity: a write is O(rows) index lookups on the server (the key
constraints are the indexes ``MERGE`` and ``MATCH`` use); one round trip per
chunk and statement.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ServiceUnavailable

from graph.store import cypher
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
    RELATIONSHIPS,
    TYPES,
    Key,
    RelRow,
    check_label,
    check_type,
    node_rows,
    relationship_rows,
)

__all__ = ["Neo4jStore", "Neo4jStoreError"]

log = logging.getLogger(__name__)

_DIRECTIONS = ("out", "in", "both")
_CLEAR_LIMIT = 10_000

# (statement, parameter name, rows, what it returns: "none", "count" (rows written) or
# "all" (rows written, which must be every row: a relationship merge whose end node is missing
# writes nothing for that row))
_Step = tuple[str, str, list[dict[str, Any]], str]


class Neo4jStoreError(RuntimeError):
    """The Neo4j server cannot be used (unreachable, wrong credentials)."""


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _our_label(labels: Sequence[str]) -> str | None:
    for label in labels:
        if label in KEYS:
            return label
    return None


def _node_of(labels: Sequence[str], props: Mapping[str, Any]) -> Node:
    label = _our_label(labels)
    if label is None:
        raise ValueError(f"node with labels {list(labels)} is not part of the ICC graph model")
    return Node(label, props.get(KEYS[label][0]), dict(props))


class Neo4jStore:
    """Graph store on a Neo4j 5 server (``bolt://`` or ``neo4j://`` URI)."""

    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        *,
        database: str | None = None,
        chunk_size: int = 5000,
        driver: Driver | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size={chunk_size!r}; expected a positive int")
        self.uri = uri
        self.database = database
        self.chunk_size = chunk_size
        self._driver = driver or GraphDatabase.driver(uri, auth=(user, password))
        try:
            self._driver.verify_connectivity()
        except AuthError as exc:
            self._driver.close()
            raise Neo4jStoreError(
                f"Neo4j at {uri} refused user {user!r}: {exc}; check NEO4J_USER and NEO4J_PASSWORD"
            ) from exc
        except (ServiceUnavailable, OSError) as exc:
            self._driver.close()
            raise Neo4jStoreError(
                f"Neo4j at {uri} is unreachable: {exc}; check NEO4J_URI and that the server runs"
            ) from exc
        self.ensure_schema()

    # -- plumbing -------------------------------------------------------------
    def _session(self):  # noqa: ANN202 - the driver's Session
        return self._driver.session(database=self.database)

    def _write(self, steps: list[_Step]) -> list[int]:
        """Run the steps in one write transaction; returns the rows each step wrote."""
        steps = [s for s in steps if s[2]]
        if not steps:
            return []

        def work(tx: ManagedTransaction) -> list[int]:
            written = []
            for statement, param, rows, returns in steps:
                total = 0
                for chunk in _chunks(rows, self.chunk_size):
                    result = tx.run(statement, {param: chunk})
                    if returns != "none":
                        n = int(result.single(strict=True)["n"])
                        if returns == "all" and n != len(chunk):
                            raise ValueError(
                                f"{len(chunk) - n} of {len(chunk)} relationship rows name an end "
                                f"node that does not exist; expected the nodes to be merged "
                                f"first (statement: {statement[:90]}...)"
                            )
                        total += n
                    else:
                        result.consume()
                        total += len(chunk)
                written.append(total)
            return written

        with self._session() as session:
            return session.execute_write(work)

    def _read(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [record.data() for record in tx.run(statement, params)]

        with self._session() as session:
            return session.execute_read(work)

    def ensure_schema(self) -> None:
        """Create the key constraints and indexes if missing (idempotent)."""
        with self._session() as session:
            for statement in (*cypher.CONSTRAINTS, *cypher.INDEXES):
                session.run(statement).consume()
        log.info("neo4j %s: %d constraints, %d indexes ensured", self.uri,
                 len(cypher.CONSTRAINTS), len(cypher.INDEXES))  # fmt: skip

    # -- steps ----------------------------------------------------------------
    @staticmethod
    def _node_step(label: str, rows: Sequence[Mapping[str, Any]]) -> _Step:
        params = [{"key": key, "props": props} for key, props in node_rows(label, rows)]
        return (cypher.NODE_MERGE[label], "rows", params, "none")

    @staticmethod
    def _key_step(label: str, keys: Sequence[Key]) -> _Step:
        check_label(label)
        if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
            raise TypeError(f"{label} keys: got {type(keys).__name__}; expected a list of keys")
        valid = [k for k, _ in node_rows(label, [{KEYS[label][0]: k} for k in keys])]
        return (cypher.NODE_DELETE[label], "keys", valid, "count")

    @staticmethod
    def _rel_steps(rel_type: str, rows: Sequence[Mapping[str, Any]], merge: bool) -> list[_Step]:
        names = check_type(rel_type).identity
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in relationship_rows(rel_type, rows):
            grouped.setdefault((r.src_label, r.dst_label), []).append(_rel_param(r, names))
        table = cypher.REL_MERGE if merge else cypher.REL_DELETE
        returns = "all" if merge else "count"
        return [
            (table[(rel_type, src, dst)], "rows", params, returns)
            for (src, dst), params in grouped.items()
        ]

    # -- writes ---------------------------------------------------------------
    def merge_nodes(self, label: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return sum(self._write([self._node_step(label, rows)]))

    def merge_relationships(self, rel_type: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return sum(self._write(self._rel_steps(rel_type, rows, merge=True)))

    def delete_relationships(self, rel_type: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return sum(self._write(self._rel_steps(rel_type, rows, merge=False)))

    def delete_nodes(self, label: str, keys: Sequence[Key]) -> int:
        return sum(self._write([self._key_step(label, keys)]))

    def apply(self, changes: ChangeSet) -> None:
        steps: list[_Step] = [self._node_step(lb, rows) for lb, rows in changes.node_merges.items()]
        for rel_type, rows in changes.rel_deletes.items():
            steps.extend(self._rel_steps(rel_type, rows, merge=False))
        for rel_type, rows in changes.rel_merges.items():
            steps.extend(self._rel_steps(rel_type, rows, merge=True))
        steps.extend(self._key_step(lb, keys) for lb, keys in changes.node_deletes.items())
        self._write(steps)

    def clear(self) -> None:
        """Delete the nodes of every ICC label (and their relationships), in chunks."""
        with self._session() as session:
            for label in LABELS:
                while True:
                    record = session.run(cypher.NODE_CLEAR[label], chunk=_CLEAR_LIMIT).single()
                    if record is None or int(record["n"]) == 0:
                        break

    def close(self) -> None:
        self._driver.close()

    # -- reads ----------------------------------------------------------------
    def node(self, label: str, key: Key) -> Node | None:
        check_label(label)
        rows = self._read(cypher.NODE_GET[label], key=key)
        return Node(label, key, dict(rows[0]["props"])) if rows else None

    def neighbours(
        self, label: str, key: Key, rel_type: str | None = None, direction: Direction = "both"
    ) -> list[Neighbour]:
        check_label(label)
        if rel_type is not None:
            check_type(rel_type)
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction={direction!r}; expected one of {', '.join(_DIRECTIONS)}")
        rows = self._read(
            cypher.NODE_NEIGHBOURS[label], key=key, type=rel_type, direction=direction
        )
        return [
            Neighbour(r["type"], bool(r["outgoing"]), _node_of(r["labels"], r["node"]), r["props"])
            for r in rows
            if _our_label(r["labels"]) is not None
        ]

    def links_of(self, case_id: str) -> list[CaseLink]:
        rows = self._read(cypher.LINKS_OF_CASE, case_id=case_id)
        return [case_link(case_id, r["other"], r["props"]) for r in rows]

    def series_members(self, series_id: str) -> list[str]:
        return [r["case_id"] for r in self._read(cypher.SERIES_MEMBERS, series_id=series_id)]

    def counts(self) -> GraphCounts:
        nodes = {label: int(self._read(cypher.NODE_COUNT[label])[0]["n"]) for label in LABELS}
        rels = {t: int(self._read(cypher.REL_COUNT[t])[0]["n"]) for t in TYPES}
        return GraphCounts(nodes, rels)

    def snapshot(self) -> GraphSnapshot:
        nodes = {}
        for r in self._read(cypher.SNAPSHOT_NODES, labels=list(LABELS)):
            node = _node_of(r["labels"], r["props"])
            nodes[(node.label, node.key)] = node.props
        rels = {}
        for r in self._read(cypher.SNAPSHOT_RELATIONSHIPS, types=list(TYPES)):
            src = _node_of(r["src_labels"], r["src"])
            dst = _node_of(r["dst_labels"], r["dst"])
            ident = tuple(r["props"].get(n) for n in RELATIONSHIPS[r["type"]].identity)
            rels[(r["type"], (src.label, src.key), (dst.label, dst.key), ident)] = r["props"]
        return GraphSnapshot(nodes, rels)


def _rel_param(r: RelRow, names: Sequence[str]) -> dict[str, Any]:
    param: dict[str, Any] = {"src": r.src, "dst": r.dst, "props": r.props}
    param.update(zip(names, r.identity, strict=True))
    return param
