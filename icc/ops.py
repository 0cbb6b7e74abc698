"""Operations: effective configuration, JSON logs, ``/healthz`` and Prometheus ``/metrics``.

* :func:`config_report` - every variable :class:`~icc.config.Settings` reads, with its
  effective value (secrets masked) and whether it came from the environment
  (``icc config check``);
* :class:`JsonFormatter` - one JSON object per log line (``ICC_LOG_FORMAT=json``);
* :func:`register_ops_routes` - ``/healthz`` and ``/metrics`` on a Flask server
  (the dashboard's ``app.server``), reading a :class:`~icc.runtime.Runtime`.

Metrics (Prometheus text format 0.0.4), all prefixed ``icc_``:

=====================================  =========  ==============================================
name                                   type       meaning
=====================================  =========  ==============================================
``messages_total{outcome}``            counter    messages received by this process: ``accepted``,
                                                  ``duplicate``, ``deadlettered``
``messages_accepted_total{kind}``      counter    accepted messages per kind
``messages_per_second``                gauge      received messages per second since the
                                                  previous scrape
``deadletters_open``                   gauge      dead letters not yet resolved
``journal_bytes``                      gauge      size of the journal files (database + WAL)
``cases``                              gauge      cases known
``series_open``                        gauge      current series (two or more linked cases)
``links_accepted``                     gauge      links at or above the model's threshold
``link_latency_seconds``               histogram  linker time per micro-batch: rescoring the
                                                  pairs whose evidence changed and updating series
``graph_write_seconds``                histogram  graph store write time per micro-batch (recent)
``consumer_lag{topic,partition}``      gauge      Kafka lag, when a lag function is given
=====================================  =========  ==============================================

Example
-------
>>> from flask import Flask
>>> server = Flask("icc")
>>> register_ops_routes(server, runtime)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from icc.config import ConfigError, Settings

if TYPE_CHECKING:
    from flask import Flask

    from icc.runtime import Runtime
    from ingest.models import Message

__all__ = [
    "CONFIG_VARIABLES",
    "LATENCY_BUCKETS",
    "ConfigRow",
    "Histogram",
    "JsonFormatter",
    "OpsState",
    "config_report",
    "health",
    "instrument",
    "register_ops_routes",
    "render_metrics",
    "unknown_variables",
]

log = logging.getLogger(__name__)

MASK = "********"

#: (variable, Settings attribute or None for variables read elsewhere, secret?)
CONFIG_VARIABLES: tuple[tuple[str, str | None, bool], ...] = (
    ("ICC_DATA_DIR", "data_dir", False),
    ("ICC_CACHE_DIR", None, False),
    ("ICC_PROVINCE", "province", False),
    ("ICC_BATCH_SIZE", "batch_size", False),
    ("ICC_GRAPH_BACKEND", "graph_backend", False),
    ("ICC_LOG_FORMAT", "log_format", False),
    ("ICC_TASKING_PLANS", "plans_path", False),
    ("ICC_TASKING_ROSTER", "roster_path", False),
    ("ICC_API_TOKENS", "api_tokens", True),
    ("ICC_KAFKA_SESSION_TIMEOUT_MS", None, False),
    ("ICC_KAFKA_CHECK_CRCS", None, False),
    ("ICC_SIGHTING_RETENTION_DAYS", "sighting_retention_days", False),
    ("ICC_USERS_FILE", None, False),
    ("ICC_SECRET_KEY", None, True),
    ("ICC_SESSION_IDLE_MINUTES", None, False),
    ("ICC_SESSION_MAX_HOURS", None, False),
    ("NEO4J_URI", "neo4j_uri", False),
    ("NEO4J_USER", "neo4j_user", False),
    ("NEO4J_PASSWORD", "neo4j_password", True),
)

#: upper bounds (seconds) of the latency histograms' buckets
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


# -- configuration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigRow:
    """One configuration variable: its effective value (masked if secret) and origin."""

    variable: str
    value: str
    origin: str  # "environment" or "default"
    secret: bool


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def _masked(variable: str, value: Any) -> str:
    if value is None or value == "" or value == ():
        return "-"
    if variable == "ICC_API_TOKENS":
        # who holds a token is configuration worth checking; the token itself is not shown
        return ", ".join(f"{MASK}:{t.role}:{t.subject}" for t in value)
    return MASK


def _session_timeout(env: Mapping[str, str]) -> int:
    from ingest.kafka.source import session_timeout_ms

    try:
        return session_timeout_ms(dict(env))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_crcs(env: Mapping[str, str]) -> str:
    from ingest.kafka.source import KafkaSourceError, check_crcs

    try:
        on = check_crcs(dict(env))
    except KafkaSourceError as exc:
        raise ConfigError(str(exc)) from None
    raw = (env.get("ICC_KAFKA_CHECK_CRCS") or "auto").strip()
    return f"{raw} (records {'checked' if on else 'not checked'})"


def config_report(settings: Settings, env: Mapping[str, str] | None = None) -> list[ConfigRow]:
    """The effective value of every configuration variable, secrets masked. O(variables).

    ``ConfigError`` for a bad value of a variable read outside :class:`Settings`.

    >>> rows = config_report(Settings.from_env({"NEO4J_PASSWORD": "x"}), {"NEO4J_PASSWORD": "x"})
    >>> [(r.value, r.origin) for r in rows if r.variable == "NEO4J_PASSWORD"]
    [('********', 'environment')]
    """
    env = os.environ if env is None else env
    known = {f.name for f in fields(Settings)}
    rows = []
    for variable, attr, secret in CONFIG_VARIABLES:
        raw = env.get(variable)
        origin = "environment" if raw not in (None, "") else "default"
        if attr is not None and attr in known:
            value = getattr(settings, attr)
        elif variable == "ICC_CACHE_DIR":
            value = raw or str(Path.home() / ".cache" / "icc")
        elif variable == "ICC_KAFKA_SESSION_TIMEOUT_MS":
            value = _session_timeout(env)
        elif variable == "ICC_KAFKA_CHECK_CRCS":
            value = _check_crcs(env)
        else:
            value = raw if origin == "environment" else None
        text = _masked(variable, value) if secret else _show(value)
        rows.append(ConfigRow(variable, text, origin, secret))
    return rows


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """``ICC_*`` / ``NEO4J_*`` variables set in ``env`` that nothing reads (typos, usually)."""
    env = os.environ if env is None else env
    names = {v for v, _, _ in CONFIG_VARIABLES} | {"NEO4J_TEST_WIPE_OK"}
    return sorted(k for k in env if k.startswith(("ICC_", "NEO4J_")) and k not in names)


# -- structured logs ---------------------------------------------------------------------------
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, RFC 3339), ``level``, ``logger``, ``message``,
    ``exception`` when there is one, and any ``extra={...}`` fields of the call.

    >>> rec = logging.makeLogRecord({"msg": "batch %d", "args": (3,), "levelname": "INFO"})
    >>> json.loads(JsonFormatter().format(rec))["message"]
    'batch 3'
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        return json.dumps(out, ensure_ascii=False, default=str)


# -- metrics -----------------------------------------------------------------------------------
@dataclass
class Histogram:
    """A cumulative histogram in the Prometheus sense (bucket counts, sum, count)."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if list(self.buckets) != sorted(self.buckets) or not self.buckets:
            raise ValueError(f"histogram buckets {self.buckets!r}: expected increasing bounds")
        self.counts = [0] * (len(self.buckets) + 1)  # last: above the largest bound

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.counts[bisect_left(self.buckets, seconds)] += 1
            self.total += seconds
            self.n += 1

    def lines(self, name: str, help_text: str) -> list[str]:
        with self._lock:
            counts, total, n = list(self.counts), self.total, self.n
        out = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        running = 0
        for bound, count in zip(self.buckets, counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {n}')
        out.append(f"{name}_sum {total:.6f}")
        out.append(f"{name}_count {n}")
        return out


class _TimedSink:
    """A pipeline sink that times another one (the linker) into a histogram."""

    def __init__(self, inner: Any, histogram: Histogram) -> None:
        self.inner = inner
        self.histogram = histogram

    def __getattr__(self, name: str) -> Any:  # anything else: the wrapped sink's
        return getattr(self.inner, name)

    def apply(self, messages: Sequence[Message]) -> None:
        t0 = time.perf_counter()
        try:
            self.inner.apply(messages)
        finally:
            if messages:
                self.histogram.observe(time.perf_counter() - t0)


@dataclass
class OpsState:
    """What ``/metrics`` keeps between scrapes."""

    link_latency: Histogram
    lag: Callable[[], Mapping[tuple[str, int], int]] | None = None
    started: float = field(default_factory=time.time)
    _last: tuple[float, int] | None = None


def instrument(runtime: Runtime) -> OpsState:
    """Time the runtime's linker per micro-batch (idempotent: a second call reuses the timer)."""
    sinks = runtime.ingestor.sinks
    for sink in sinks:
        if isinstance(sink, _TimedSink):
            return OpsState(sink.histogram)
    hist = Histogram()
    for i, sink in enumerate(sinks):
        if sink is runtime.linker:
            sinks[i] = _TimedSink(sink, hist)
            break
    else:
        log.warning("the runtime's pipeline has no linker sink; link latency stays empty")
    return OpsState(hist)


def _journal_bytes(runtime: Runtime) -> int:
    path = runtime.settings.journal_path
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def _gauge(name: str, help_text: str, value: float, kind: str = "gauge") -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labelled(
    name: str, help_text: str, kind: str, rows: Iterable[tuple[dict[str, object], float]]
) -> list[str]:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in rows:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{text}}} {value:g}")
    return out


def render_metrics(runtime: Runtime, state: OpsState) -> str:
    """The Prometheus text exposition of the runtime's metrics. O(series + links)."""
    totals = runtime.ingestor.totals
    now = time.time()
    prev = state._last
    rate = 0.0
    if prev is not None and now > prev[0]:
        rate = max(0, totals.received - prev[1]) / (now - prev[0])
    elif now > state.started:
        rate = totals.received / (now - state.started)
    state._last = (now, totals.received)
    threshold = runtime.linker.model.threshold
    accepted_links = sum(
        1 for k in list(runtime.linker.links.values()) if k.probability >= threshold
    )
    lines: list[str] = []
    lines += _labelled(
        "icc_messages_total",
        "Messages received by this process, by outcome.",
        "counter",
        [
            ({"outcome": "accepted"}, totals.accepted),
            ({"outcome": "duplicate"}, totals.duplicates),
            ({"outcome": "deadlettered"}, totals.deadlettered),
        ],
    )
    lines += _labelled(
        "icc_messages_accepted_total",
        "Accepted messages by kind.",
        "counter",
        [({"kind": k}, n) for k, n in sorted(totals.by_kind.items())],
    )
    lines += _gauge(
        "icc_messages_per_second", "Messages received per second since the last scrape.", rate
    )
    lines += _gauge(
        "icc_deadletters_open", "Dead letters not yet resolved.", len(runtime.deadletters)
    )
    lines += _gauge(
        "icc_journal_bytes", "Size of the journal (database and WAL).", _journal_bytes(runtime)
    )
    lines += _gauge("icc_cases", "Cases known.", len(runtime.cases))
    lines += _gauge("icc_series_open", "Current series of linked cases.", len(runtime.series))
    lines += _gauge("icc_links_accepted", "Links at or above the model threshold.", accepted_links)
    lines += state.link_latency.lines(
        "icc_link_latency_seconds", "Linker time per micro-batch (rescoring and series update)."
    )
    graph = Histogram()
    for s in list(runtime.graph_sink.seconds):
        graph.observe(s)
    lines += graph.lines(
        "icc_graph_write_seconds", "Graph store write time per micro-batch (recent batches)."
    )
    if state.lag is not None:
        try:
            lag = state.lag()
        except Exception as exc:  # a broker outage must not break the scrape
            log.warning("consumer lag unavailable: %s", exc)
            lag = {}
        lines += _labelled(
            "icc_consumer_lag",
            "Kafka messages not yet consumed, per partition.",
            "gauge",
            [({"topic": t, "partition": p}, n) for (t, p), n in sorted(lag.items())],
        )
    lines += _gauge("icc_up", "1 while the process serves metrics.", 1)
    return "\n".join(lines) + "\n"


def health(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    """``(ok, details)``: the journal and dead-letter stores answer, the graph store answers."""
    checks: dict[str, str] = {}
    ok = True
    for name, probe in (
        ("deadletters", lambda: len(runtime.deadletters)),
        ("journal", lambda: runtime.journal.keys(["healthz"])),
        ("graph", lambda: runtime.graph.node("Series", "healthz")),
    ):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # report, never raise, from a health check
            ok = False
            checks[name] = f"error: {type(exc).__name__}: {exc}"
    details = {
        "status": "ok" if ok else "failing",
        "checks": checks,
        "cases": len(runtime.cases),
        "graph_backend": runtime.graph.backend,
    }
    return ok, details


def register_ops_routes(
    server: Flask,
    runtime: Runtime,
    lag: Callable[[], Mapping[tuple[str, int], int]] | None = None,
) -> OpsState:
    """Add ``GET /healthz`` (JSON, 200 or 503) and ``GET /metrics`` (Prometheus text) to a
    Flask server, reading ``runtime``; ``lag`` optionally returns ``{(topic, partition): n}``.

    Instruments the runtime's linker (see :func:`instrument`) and returns the state kept
    between scrapes.
    """
    from flask import Response

    state = instrument(runtime)
    state.lag = lag

    def healthz() -> Response:
        ok, details = health(runtime)
        return Response(
            json.dumps(details, ensure_ascii=False),
            status=200 if ok else 503,
            mimetype="application/json",
        )

    def metrics() -> Response:
        return Response(render_metrics(runtime, state), content_type=_PROM_TYPE)

    server.add_url_rule("/healthz", "icc_healthz", healthz, methods=["GET"])
    server.add_url_rule("/metrics", "icc_metrics", metrics, methods=["GET"])
    return state


_PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"
