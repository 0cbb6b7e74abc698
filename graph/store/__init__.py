"""The case graph as a property graph: one model, one store interface, two backends.

* :mod:`graph.store.schema` - labels, keys and relationship types, row validation;
* :mod:`graph.store.base` - the :class:`GraphStore` interface and what reads return;
* :mod:`graph.store.nxstore` - the embedded networkx backend (default);
* :mod:`graph.store.neo4jstore` - the Neo4j 5 backend;
* :mod:`graph.store.cypher` - every Cypher statement, as literal constants;
* :mod:`graph.store.sink` - :class:`GraphSink`, the pipeline sink that keeps a store current.

Example
-------
>>> store = open_store("networkx")
>>> store.merge_nodes("Series", [{"series_id": "S-0001", "size": 2}])
1
>>> store.node("Series", "S-0001").props
{'series_id': 'S-0001', 'size': 2}
"""

from __future__ import annotations

from graph.store.base import (
    CaseLink,
    ChangeSet,
    GraphCounts,
    GraphSnapshot,
    GraphStore,
    Neighbour,
    Node,
)
from graph.store.nxstore import NetworkxStore
from graph.store.schema import KEYS, LABELS, RELATIONSHIPS, TYPES
from graph.store.sink import GraphSink

__all__ = [
    "BACKENDS",
    "KEYS",
    "LABELS",
    "RELATIONSHIPS",
    "TYPES",
    "CaseLink",
    "ChangeSet",
    "GraphCounts",
    "GraphSink",
    "GraphSnapshot",
    "GraphStore",
    "Neighbour",
    "NetworkxStore",
    "Node",
    "open_store",
]

BACKENDS: tuple[str, ...] = ("networkx", "neo4j")


def open_store(
    backend: str = "networkx",
    *,
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> GraphStore:
    """A graph store of ``backend`` (``"networkx"`` or ``"neo4j"``; Neo4j needs ``uri``,
    ``user`` and ``password``). ``ValueError`` naming the bad value otherwise."""
    if backend == "networkx":
        return NetworkxStore()
    if backend == "neo4j":
        missing = [n for n, v in (("uri", uri), ("user", user), ("password", password)) if not v]
        if missing:
            raise ValueError(f"neo4j graph store: missing {', '.join(missing)}; expected all three")
        from graph.store.neo4jstore import Neo4jStore

        return Neo4jStore(uri, user, password, database=database)  # type: ignore[arg-type]
    raise ValueError(f"graph store backend {backend!r}: expected one of {', '.join(BACKENDS)}")
