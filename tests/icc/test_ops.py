"""Operations: ``icc config check``, JSON logs, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from icc.cli import main
from icc.config import ConfigError, Settings
from icc.ops import (
    CONFIG_VARIABLES,
    LATENCY_BUCKETS,
    MASK,
    Histogram,
    JsonFormatter,
    config_report,
    register_ops_routes,
    unknown_variables,
)
from icc.runtime import Runtime
from ingest.sources import RawMessage
from tests.factories import incident, sighting

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[-+0-9.eE]+|\+Inf)$")


# -- configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ICC_LOG_FORMAT": "xml"}, "ICC_LOG_FORMAT='xml'"),
        ({"ICC_BATCH_SIZE": "0"}, "ICC_BATCH_SIZE=0"),
        ({"ICC_BATCH_SIZE": "many"}, "ICC_BATCH_SIZE='many'"),
        ({"ICC_PROVINCE": "330100"}, "ICC_PROVINCE=330100"),
        ({"ICC_GRAPH_BACKEND": "neo4j"}, "NEO4J_URI is not set"),
        ({"NEO4J_URI": "http://x:7474"}, "NEO4J_URI='http://x:7474'"),
        ({"ICC_API_TOKENS": "short:team:T-1"}, "ICC_API_TOKENS entry 1"),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        Settings.from_env(env)


def test_config_report_masks_secrets_and_says_where_values_come_from() -> None:
    env = {
        "NEO4J_PASSWORD": "hunter2-very-secret",
        "ICC_API_TOKENS": "tok-abcdefghijklmnop:commander:330200",
        "ICC_BATCH_SIZE": "250",
        "ICC_LOG_FORMAT": "json",
    }
    rows = {r.variable: r for r in config_report(Settings.from_env(env), env)}
    assert set(rows) == {v for v, _, _ in CONFIG_VARIABLES}
    assert rows["NEO4J_PASSWORD"].value == MASK and rows["NEO4J_PASSWORD"].secret
    assert rows["ICC_API_TOKENS"].value == f"{MASK}:commander:330200"
    assert rows["ICC_BATCH_SIZE"].value == "250" and rows["ICC_BATCH_SIZE"].origin == "environment"
    assert rows["ICC_LOG_FORMAT"].value == "json"
    assert rows["ICC_PROVINCE"].value == "330000" and rows["ICC_PROVINCE"].origin == "default"
    assert rows["ICC_KAFKA_SESSION_TIMEOUT_MS"].value == "10000"
    assert all("hunter2" not in r.value and "tok-abc" not in r.value for r in rows.values())


def test_unknown_variables_are_reported() -> None:
    env = {"ICC_BATCH_SIZ": "5", "NEO4J_PASWORD": "x", "ICC_DATA_DIR": "/d", "HOME": "/root"}
    assert unknown_variables(env) == ["ICC_BATCH_SIZ", "NEO4J_PASWORD"]


def test_icc_config_check_prints_the_effective_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NEO4J_PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv("ICC_BATCH_SIZE", "250")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    for variable, _, _ in CONFIG_VARIABLES:
        assert variable in out
    assert MASK in out and "hunter2" not in out
    assert re.search(r"ICC_BATCH_SIZE\s*│\s*250\s*│\s*environment", out)
    assert "configuration ok" in out


@pytest.mark.parametrize(
    ("name", "value"),
    [("ICC_BATCH_SIZE", "-3"), ("ICC_LOG_FORMAT", "yaml"), ("ICC_KAFKA_SESSION_TIMEOUT_MS", "5")],
)
def test_icc_config_check_exits_2_naming_the_bad_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv(name, value)
    assert main(["config", "check"]) == 2
    captured = capsys.readouterr()
    assert "configuration error" in captured.err and name in captured.err
    assert "configuration ok" not in captured.out


# -- structured logs ---------------------------------------------------------------------------
def test_json_formatter_writes_one_object_per_line() -> None:
    fmt = JsonFormatter()
    rec = logging.LogRecord(
        "icc.run", logging.WARNING, __file__, 1, "lag %d on %s", (42, "p0"), None
    )
    rec.partition = 3  # an extra={...} field
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        err = logging.LogRecord("icc", logging.ERROR, __file__, 2, "failed", (), sys.exc_info())
    lines = [fmt.format(rec), fmt.format(err)]
    assert all("\n" not in line for line in lines)
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "lag 42 on p0" and first["level"] == "WARNING"
    assert first["logger"] == "icc.run" and first["partition"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["ts"])
    assert "RuntimeError: boom" in second["exception"]


def test_icc_log_format_json_switches_the_cli_logging() -> None:
    code = (
        "import logging; from icc.cli import _setup_logging; _setup_logging(1); "
        "logging.getLogger('icc.test').info('batch %d done', 7, extra={'messages': 1000})"
    )
    env = {**os.environ, "ICC_LOG_FORMAT": "json"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stderr.strip().splitlines()[-1])
    assert record["message"] == "batch 7 done" and record["messages"] == 1000


# -- /healthz and /metrics -----------------------------------------------------------------------
def _raw(rows: list[dict | bytes], source: str = "test") -> list[RawMessage]:
    return [
        RawMessage(r if isinstance(r, bytes) else json.dumps(r).encode(), source, str(i))
        for i, r in enumerate(rows)
    ]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(Settings(data_dir=tmp_path / "state"))
    yield rt
    rt.close()


def _samples(text: str) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out.setdefault(m["name"], []).append((m["labels"] or "", float(m["value"])))
    return out


def test_healthz_and_metrics(runtime: Runtime) -> None:
    server = Flask("ops-test")
    register_ops_routes(server, runtime, lag=lambda: {("icc.sightings", 0): 12})
    client = server.test_client()
    batches = [
        _raw([incident("R-1"), sighting("s-1"), sighting("s-2")]),
        _raw([incident("R-1"), b"{not json", incident("R-2", lon=121.71, lat=29.98)]),
    ]
    for batch in batches:
        runtime.ingestor.process(batch)

    health = client.get("/healthz")
    assert health.status_code == 200 and health.mimetype == "application/json"
    body = health.get_json()
    assert body["status"] == "ok" and set(body["checks"].values()) == {"ok"}
    assert body["cases"] == 2

    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    m = _samples(resp.get_data(as_text=True))
    totals = dict(m["icc_messages_total"])
    assert totals == {
        'outcome="accepted"': 4,
        'outcome="duplicate"': 1,
        'outcome="deadlettered"': 1,
    }
    assert dict(m["icc_messages_accepted_total"]) == {'kind="incident"': 2, 'kind="sighting"': 2}
    assert m["icc_deadletters_open"] == [("", 1)]
    assert m["icc_cases"] == [("", 2)]
    assert m["icc_series_open"] == [("", len(runtime.series))]
    assert m["icc_journal_bytes"][0][1] > 0
    assert m["icc_messages_per_second"][0][1] > 0
    assert m["icc_consumer_lag"] == [('topic="icc.sightings",partition="0"', 12)]
    # the link latency histogram: one observation per micro-batch with new messages
    buckets = m["icc_link_latency_seconds_bucket"]
    assert [b[0] for b in buckets] == [f'le="{b:g}"' for b in LATENCY_BUCKETS] + ['le="+Inf"']
    counts = [b[1] for b in buckets]
    assert counts == sorted(counts) and counts[-1] == 2
    assert m["icc_link_latency_seconds_count"] == [("", 2)]
    assert m["icc_link_latency_seconds_sum"][0][1] > 0
    assert m["icc_up"] == [("", 1)]


def test_registering_twice_times_the_linker_once(runtime: Runtime) -> None:
    register_ops_routes(Flask("a"), runtime)
    register_ops_routes(Flask("b"), runtime)
    wrapped = [s for s in runtime.ingestor.sinks if type(s).__name__ == "_TimedSink"]
    assert len(wrapped) == 1 and wrapped[0].inner is runtime.linker


def test_healthz_reports_a_failing_store_with_503(runtime: Runtime) -> None:
    server = Flask("ops-test")
    register_ops_routes(server, runtime)
    runtime.journal.close()
    resp = server.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "failing" and body["checks"]["journal"].startswith("error:")
    assert body["checks"]["graph"] == "ok"


def test_histogram_rejects_unsorted_buckets_and_counts_cumulatively() -> None:
    with pytest.raises(ValueError, match="increasing"):
        Histogram(buckets=(1.0, 0.5))
    h = Histogram(buckets=(0.1, 1.0))
    for s in (0.05, 0.1, 0.5, 3.0):
        h.observe(s)
    lines = h.lines("x_seconds", "test")
    assert 'x_seconds_bucket{le="0.1"} 2' in lines and 'x_seconds_bucket{le="1"} 3' in lines
    assert 'x_seconds_bucket{le="+Inf"} 4' in lines and "x_seconds_count 4" in lines
