"""Configuration from the environment, with typed casts and clear errors.

| variable | meaning | default |
|---|---|---|
| ``ICC_DATA_DIR`` | directory holding all state (journal, dead letters, caches of derived state) | ``.icc`` |
| ``ICC_PROVINCE`` | adcode of the served province | ``330000`` |
| ``ICC_BATCH_SIZE`` | micro-batch size of the pipeline | ``1000`` |
| ``ICC_GRAPH_BACKEND`` | graph store: ``networkx`` (embedded, in memory, rebuilt from the journal on start) or ``neo4j`` | ``networkx`` |
| ``NEO4J_URI`` | Neo4j 5 server (``bolt://``, ``bolt+s://``, ``bolt+ssc://``, ``neo4j://``, ``neo4j+s://``, ``neo4j+ssc://``); required with ``neo4j`` | none |
| ``NEO4J_USER`` | Neo4j user | ``neo4j`` |
| ``NEO4J_PASSWORD`` | Neo4j password; required with ``neo4j`` (never logged) | none |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GRAPH_BACKENDS", "NEO4J_SCHEMES", "ConfigError", "Settings"]

GRAPH_BACKENDS = ("networkx", "neo4j")
NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


class ConfigError(ValueError):
    """An environment variable holds a value of the wrong shape."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected an integer between {lo} and {hi}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value}: expected an integer between {lo} and {hi}")
    return value


def _graph(env: Mapping[str, str]) -> tuple[str, str | None, str, str | None]:
    """``(backend, uri, user, password)`` of the graph store, checked."""
    backend = (env.get("ICC_GRAPH_BACKEND") or "networkx").strip()
    if backend not in GRAPH_BACKENDS:
        raise ConfigError(
            f"ICC_GRAPH_BACKEND={backend!r}: expected one of {', '.join(GRAPH_BACKENDS)}"
        )
    uri = (env.get("NEO4J_URI") or "").strip() or None
    user = (env.get("NEO4J_USER") or "").strip() or "neo4j"
    password = env.get("NEO4J_PASSWORD") or None
    if uri is not None:
        scheme, sep, rest = uri.partition("://")
        if not sep or scheme not in NEO4J_SCHEMES or not rest.strip("/"):
            raise ConfigError(
                f"NEO4J_URI={uri!r}: expected SCHEME://HOST[:PORT] with SCHEME one of "
                f"{', '.join(NEO4J_SCHEMES)} (e.g. bolt://localhost:7687)"
            )
    if backend == "neo4j":
        if uri is None:
            raise ConfigError(
                "NEO4J_URI is not set: expected the server's URI (e.g. bolt://localhost:7687) "
                "with ICC_GRAPH_BACKEND=neo4j"
            )
        if password is None:
            raise ConfigError(
                "NEO4J_PASSWORD is not set: expected the password of NEO4J_USER "
                "with ICC_GRAPH_BACKEND=neo4j"
            )
    return backend, uri, user, password


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    province: int = 330000
    batch_size: int = 1000
    graph_backend: str = "networkx"
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("ICC_DATA_DIR") or ".icc")
        province = _int(env, "ICC_PROVINCE", 330000, 110000, 829999)
        if province % 10000:
            raise ConfigError(
                f"ICC_PROVINCE={province}: expected a province adcode ending in 0000 (e.g. 330000)"
            )
        backend, uri, user, password = _graph(env)
        return cls(
            data_dir=data_dir,
            province=province,
            batch_size=_int(env, "ICC_BATCH_SIZE", 1000, 1, 1_000_000),
            graph_backend=backend,
            neo4j_uri=uri,
            neo4j_user=user,
            neo4j_password=password,
        )

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.sqlite"

    @property
    def deadletter_path(self) -> Path:
        return self.data_dir / "deadletter.sqlite"
