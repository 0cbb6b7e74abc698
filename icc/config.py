"""Configuration from the environment, with typed casts and clear errors.

| variable | meaning | default |
|---|---|---|
| ``ICC_DATA_DIR`` | directory holding all state (journal, dead letters, caches of derived state) | ``.icc`` |
| ``ICC_PROVINCE`` | adcode of the served province | ``330000`` |
| ``ICC_BATCH_SIZE`` | micro-batch size of the pipeline (also the most records ``icc run --source kafka://`` takes per poll) | ``1000`` |
| ``ICC_KAFKA_SESSION_TIMEOUT_MS`` | consumer-group session timeout of ``icc run --source kafka://`` (1000-300000; read by :mod:`ingest.kafka.source`) | ``10000`` |
| ``ICC_GRAPH_BACKEND`` | graph store: ``networkx`` (embedded, in memory, rebuilt from the journal on start) or ``neo4j`` | ``networkx`` |
| ``NEO4J_URI`` | Neo4j 5 server (``bolt://``, ``bolt+s://``, ``bolt+ssc://``, ``neo4j://``, ``neo4j+s://``, ``neo4j+ssc://``); required with ``neo4j`` | none |
| ``NEO4J_USER`` | Neo4j user | ``neo4j`` |
| ``NEO4J_PASSWORD`` | Neo4j password; required with ``neo4j`` (never logged) | none |
| ``ICC_TASKING_PLANS`` | contingency plan file (TOML, schema in ``tasking/plans.py``), validated at start | the packaged ``tasking/plans.toml`` |
| ``ICC_TASKING_ROSTER`` | roster of teams (TOML, schema in ``tasking/org.py``) | the packaged ``tasking/roster.toml`` |
| ``ICC_API_TOKENS`` | tasking API credentials, comma-separated ``TOKEN:ROLE:SUBJECT`` with ROLE ``team`` (SUBJECT a team id), ``commander`` (SUBJECT the adcode of its center) or ``auditor``; tokens of at least 16 characters (never logged). Unset: the API refuses every request | none |
| ``ICC_SIGHTING_RETENTION_DAYS`` | days of stream time a sighting is kept (1-3650): older ones are dropped from the space-time index and pruned from the journal as the stream's newest sighting time advances (incidents are never pruned). Unset: the index keeps 30 days and the journal keeps everything | none |
| ``ICC_KAFKA_CHECK_CRCS`` | verify each Kafka record batch's CRC-32C: ``1``, ``0`` or ``auto`` (checked when the native ``crc32c`` module is installed, a dependency) | ``auto`` |
| ``ICC_LOG_FORMAT`` | log lines on stderr: ``text`` (for people) or ``json`` (one JSON object per line, for log shippers) | ``text`` |
| ``ICC_VALIDATE_AHEAD`` | ``1``: a long stream (``icc replay``) is validated a batch or two ahead in a worker process on another core; ``0``: in the pipeline's own process (read by :mod:`ingest.ahead`) | ``1`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "API_ROLES",
    "GRAPH_BACKENDS",
    "LOG_FORMATS",
    "NEO4J_SCHEMES",
    "ApiToken",
    "ConfigError",
    "Settings",
]

GRAPH_BACKENDS = ("networkx", "neo4j")
NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
API_ROLES = ("team", "commander", "auditor")
LOG_FORMATS = ("text", "json")


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
class ApiToken:
    """One credential of the tasking API: who holds it (role and subject)."""

    token: str = field(repr=False)
    role: str
    subject: str


def _file(env: Mapping[str, str], name: str) -> Path | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(f"{name}={raw!r}: expected the path of an existing TOML file")
    return path


def _tokens(env: Mapping[str, str]) -> tuple[ApiToken, ...]:
    raw = env.get("ICC_API_TOKENS") or ""
    out: list[ApiToken] = []
    for i, item in enumerate(p.strip() for p in raw.split(",")):
        if not item:
            continue
        parts = item.split(":")
        where = f"ICC_API_TOKENS entry {i + 1}"
        if len(parts) != 3 or not all(parts):
            raise ConfigError(
                f"{where}: expected TOKEN:ROLE:SUBJECT (e.g. s3cret...:team:T-330212-01)"
            )
        token, role, subject = parts
        if role not in API_ROLES:
            raise ConfigError(f"{where}: role {role!r}: expected one of {', '.join(API_ROLES)}")
        if len(token) < 16:
            raise ConfigError(
                f"{where} ({role}:{subject}): expected a token of at least 16 characters"
            )
        if role == "commander" and not (subject.isdigit() and len(subject) == 6):
            raise ConfigError(
                f"{where}: commander subject {subject!r}: expected the 6-digit adcode of a center"
            )
        out.append(ApiToken(token, role, subject))
    return tuple(out)


def _log_format(env: Mapping[str, str]) -> str:
    value = (env.get("ICC_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"ICC_LOG_FORMAT={value!r}: expected one of {', '.join(LOG_FORMATS)}")
    return value


def _retention(env: Mapping[str, str]) -> int | None:
    raw = (env.get("ICC_SIGHTING_RETENTION_DAYS") or "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        days = None
    if days is None or not 1 <= days <= 3650:
        raise ConfigError(
            f"ICC_SIGHTING_RETENTION_DAYS={raw!r}: expected a whole number of days between "
            "1 and 3650 (how long a sighting is kept, in stream time)"
        )
    return days


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    province: int = 330000
    batch_size: int = 1000
    graph_backend: str = "networkx"
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = field(default=None, repr=False)
    plans_path: Path | None = None
    roster_path: Path | None = None
    api_tokens: tuple[ApiToken, ...] = field(default=(), repr=False)
    log_format: str = "text"
    #: days of stream time a sighting is kept (index and journal); None: index 30 days,
    #: journal forever
    sighting_retention_days: int | None = None

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
            plans_path=_file(env, "ICC_TASKING_PLANS"),
            roster_path=_file(env, "ICC_TASKING_ROSTER"),
            api_tokens=_tokens(env),
            log_format=_log_format(env),
            sighting_retention_days=_retention(env),
        )

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.sqlite"

    @property
    def deadletter_path(self) -> Path:
        return self.data_dir / "deadletter.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "audit.sqlite"
