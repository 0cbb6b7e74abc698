"""``icc run --source kafka://`` against a real Kafka-protocol broker (Tansu), no mocks.

Every test starts its own :class:`LocalBroker` (the topics are fixed names and the
broker keeps its log in memory, so a fresh broker is a clean slate), publishes a
small scenario keyed by :func:`key_of` into topics with several partitions, and
runs ``icc run`` as a subprocess with its own ``ICC_DATA_DIR``. The reference
state is ``icc replay`` of the same messages.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from icc.config import Settings
from icc.replay import replay_files
from icc.run import canonical_export
from icc.runtime import Runtime
from ingest.kafka.broker import LocalBroker, free_port
from ingest.kafka.topics import DEADLETTER, DEFAULT_TOPIC_MAP, INPUT_TOPICS, key_of
from ingest.models import ContractError, parse_message
from ingest.scenario.writer import write_scenario

pytestmark = pytest.mark.slow

PARTITIONS = 4
#: short session (a killed worker's partitions move on after 3 s), small batches
FAST = {"ICC_KAFKA_SESSION_TIMEOUT_MS": "3000", "ICC_BATCH_SIZE": "300"}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A one-day scenario (seed 11): its lines, ``icc replay``'s export and counts, and the
    canonical export of the replayed journal (what ``icc run --export-series`` writes)."""
    base = tmp_path_factory.mktemp("kafka-scenario")
    write_scenario(base / "zj", seed=11, days=1, scale=0.08)
    stream = base / "zj" / "stream.jsonl"
    lines = [ln for ln in stream.read_bytes().splitlines() if ln.strip()]
    runtime = Runtime.open(Settings(data_dir=base / "ref"), reset=True)
    replay_files(runtime, [stream], export_to=base / "ref.json")
    counts = runtime.journal.count_by_kind()
    cases = len(runtime.cases)
    runtime.close()
    replayed = json.loads((base / "ref.json").read_text(encoding="utf-8"))
    export = canonical_export(Settings(data_dir=base / "ref"))
    assert normalized(export) == normalized(replayed)
    return {
        "lines": lines,
        "export": export,
        "replayed": replayed,
        "counts": counts,
        "cases": cases,
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    b = LocalBroker(log_path=tmp_path / "tansu.log").start()
    try:
        yield b
    finally:
        b.stop()


# ----------------------------------------------------------------------------- helpers


def create_topics(bootstrap: str, partitions: int = PARTITIONS) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="icc-test-admin")
    try:
        admin.create_topics([NewTopic(t, partitions, 1) for t in (*INPUT_TOPICS, DEADLETTER)])
    finally:
        admin.close()


def publish(bootstrap: str, lines: list[bytes]) -> list[tuple[str, int, int]]:
    """Publish raw lines keyed like ``icc publish``; returns their (topic, partition, offset).

    Undecodable lines go to ``icc.sightings`` without a key.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=4 * 1024 * 1024
    )
    futures = []
    for raw in lines:
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            obj = None
        if isinstance(obj, dict):
            topic = DEFAULT_TOPIC_MAP.get(str(obj.get("kind")), INPUT_TOPICS[1])
            key = key_of(obj)
        else:
            topic, key = INPUT_TOPICS[1], None
        futures.append(producer.send(topic, value=raw, key=key))
    producer.flush()
    positions = []
    for f in futures:
        md = f.get(timeout=30)
        positions.append((md.topic, md.partition, md.offset))
    producer.close()
    return positions


def worker_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, ICC_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_worker(
    bootstrap: str,
    data_dir: Path,
    idle: float,
    export: Path | None = None,
    group: str = "icc",
    **env: str,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "icc",
        "run",
        "--source",
        f"kafka://{bootstrap}",
        "--group-id",
        group,
        "--exit-when-idle",
        str(idle),
    ]
    if export is not None:
        cmd += ["--export-series", str(export)]
    return subprocess.Popen(
        cmd,
        env=worker_env(data_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def journal_count(data_dir: Path) -> int:
    path = data_dir / "journal.sqlite"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def journal_counts(data_dir: Path) -> dict[str, int]:
    conn = sqlite3.connect(data_dir / "journal.sqlite")
    try:
        rows = conn.execute("SELECT kind, COUNT(*) FROM journal GROUP BY kind").fetchall()
    finally:
        conn.close()
    return {k: int(n) for k, n in rows}


def case_count(data_dir: Path) -> int:
    runtime = Runtime.open(Settings(data_dir=data_dir))
    try:
        return len(runtime.cases)
    finally:
        runtime.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finish(proc: subprocess.Popen[bytes], timeout: float = 90) -> str:
    out, err = proc.communicate(timeout=timeout)
    text = out.decode() + err.decode()
    assert proc.returncode == 0, text
    return text


def consumed(text: str) -> int:
    m = re.search(r"consumed (\d+) messages", text)
    assert m, text
    return int(m.group(1))


def normalized(export: dict) -> list:
    """Series as (cases, evidence) sets: ids and evidence order depend on micro-batching."""
    return sorted(
        (sorted(s["case_ids"]), sorted((e["kind"], e["detail"]) for e in s["evidence"]))
        for s in export["series"]
    )


def assert_same_state(data_dir: Path, export_path: Path, scenario: dict) -> None:
    assert journal_counts(data_dir) == scenario["counts"]
    exported = json.loads(export_path.read_text(encoding="utf-8"))
    # the same series ids and members as the canonical rebuild of the reference journal ...
    ids = [(x["series_id"], x["case_ids"]) for x in exported["series"]]
    assert ids == [(x["series_id"], x["case_ids"]) for x in scenario["export"]["series"]]
    # ... and the same evidence (its order within a series varies with PYTHONHASHSEED)
    assert normalized(exported) == normalized(scenario["export"])
    assert normalized(exported) == normalized(scenario["replayed"])
    assert journal_counts(data_dir) == scenario["counts"]
    assert case_count(data_dir) == scenario["cases"]
    seen: list[str] = [c for s in exported["series"] for c in s["case_ids"]]
    assert len(seen) == len(set(seen)), "a case is in two series"
    ids = [s["series_id"] for s in exported["series"]]
    assert len(ids) == len(set(ids))


# ----------------------------------------------------------------------------- tests


def test_crash_restart_gives_the_uninterrupted_state(
    broker: LocalBroker, scenario: dict, tmp_path: Path
) -> None:
    """SIGKILL the worker at >= 5 random points mid-stream; restart; same export and counts."""
    create_topics(broker.bootstrap)
    publish(broker.bootstrap, scenario["lines"])
    data = tmp_path / "state"
    total = sum(scenario["counts"].values())
    rng = random.Random(20260301)
    kills = 0
    while kills < 5:
        # each restart gets a little further: kill after 3-10 % more of the stream is journalled
        threshold = journal_count(data) + rng.randrange(total // 30, total // 10)
        assert threshold < total
        proc = start_worker(broker.bootstrap, data, idle=30, **FAST)
        deadline = time.monotonic() + 60
        while journal_count(data) < threshold and proc.poll() is None:
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is not None:
            pytest.fail(f"worker exited by itself ({proc.returncode}): {finish(proc)}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        kills += 1
    assert journal_count(data) < total
    export = tmp_path / "series.json"
    text = finish(start_worker(broker.bootstrap, data, idle=4, export=export, **FAST))
    assert consumed(text) > 0
    assert_same_state(data, export, scenario)


def test_broker_outage_longer_than_the_session_timeout(
    broker: LocalBroker, scenario: dict, tmp_path: Path
) -> None:
    """Freeze the broker mid-stream for 9 s (session timeout 6 s): no crash, no spin, no loss."""
    create_topics(broker.bootstrap)
    publish(broker.bootstrap, scenario["lines"])
    data = tmp_path / "state"
    total = sum(scenario["counts"].values())
    export = tmp_path / "series.json"
    proc = start_worker(
        broker.bootstrap,
        data,
        idle=10,
        export=export,
        ICC_KAFKA_SESSION_TIMEOUT_MS="6000",
        ICC_BATCH_SIZE="200",
    )
    deadline = time.monotonic() + 60
    while journal_count(data) < total // 4:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    broker.freeze()
    try:
        time.sleep(0.5)  # let the batch in flight land
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(9)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        assert proc.poll() is None, "worker died during the outage"
        frozen_count = journal_count(data)
    finally:
        broker.thaw()
    assert frozen_count < total, "the stream finished before the outage"
    assert cpu1 - cpu0 < 0.25 * (t1 - t0), (
        f"worker spun: {cpu1 - cpu0:.2f} s CPU in {t1 - t0:.1f} s"
    )
    text = finish(proc)
    assert consumed(text) >= total
    assert_same_state(data, export, scenario)


def _fuzz(valid: list[dict], n: int, rng: random.Random) -> list[bytes]:
    """``n`` messages that each violate the contract, in five families (2 % huge ones)."""
    out: list[bytes] = []
    for i in range(n):
        base = dict(rng.choice(valid))
        family = 2 if i % 50 == 2 else (0, 1, 3, 4)[i % 4]
        if family == 0:  # truncated JSON
            raw = json.dumps(base, ensure_ascii=False).encode()
            raw = raw[: rng.randrange(1, len(raw) - 1)]
        elif family == 1:  # wrong types
            field = rng.choice(["lon", "lat", "at", "kind", "entity", "report_id", "sighting_id"])
            base[field] = rng.choice([[1, 2], {"x": 1}, True, None, 12.5, "north"])
            if field in ("lon", "lat") and base[field] == 12.5:
                base[field] = "12.5E"
            raw = json.dumps(base, ensure_ascii=False).encode()
        elif family == 2:  # huge fields
            big = "X" * rng.randrange(70_000, 200_000)
            kind = base.get("kind")
            base[
                "report_id"
                if kind == "incident"
                else "sighting_id"
                if kind == "sighting"
                else "team_id"
            ] = big
            raw = json.dumps(base, ensure_ascii=False).encode()
        elif family == 3:  # invalid UTF-8
            raw = json.dumps(base, ensure_ascii=False).encode()
            cut = rng.randrange(0, len(raw))
            raw = raw[:cut] + b"\xff\xfe\xc3" + raw[cut:]
        else:  # naive timestamps
            for f in ("at", "reported_at", "occurred_start", "occurred_end"):
                if f in base:
                    base[f] = str(base[f])[:19]
            raw = json.dumps(base, ensure_ascii=False).encode()
        try:
            parse_message(raw)
        except ContractError:
            out.append(raw)
            continue
        out.append(b"{" + raw)  # the rare mutation that stayed valid: break it
    return out


def test_garbage_is_dead_lettered_and_valid_messages_processed(
    broker: LocalBroker, scenario: dict, tmp_path: Path
) -> None:
    """10k fuzzed messages in a valid stream: each in the store and on icc.deadletter."""
    from kafka import KafkaConsumer

    rng = random.Random(4)
    valid_lines = scenario["lines"]
    valid = [json.loads(x) for x in valid_lines[:2000]]
    garbage = _fuzz(valid, 10_000, rng)
    mixed: list[tuple[bool, bytes]] = [(False, x) for x in valid_lines] + [
        (True, x) for x in garbage
    ]
    rng.shuffle(mixed)
    create_topics(broker.bootstrap)
    positions = publish(broker.bootstrap, [raw for _, raw in mixed])
    bad_positions = {pos for (bad, _), pos in zip(mixed, positions, strict=True) if bad}
    assert len(bad_positions) == 10_000
    data = tmp_path / "state"
    export = tmp_path / "series.json"
    text = finish(start_worker(broker.bootstrap, data, idle=3, export=export))
    assert consumed(text) == len(mixed)
    # every valid message processed
    assert journal_counts(data) == scenario["counts"]
    assert_same_state(data, export, scenario)
    # every bad one in the dead-letter store with a reason and its position
    conn = sqlite3.connect(data / "deadletter.sqlite")
    rows = conn.execute("SELECT source, position, error FROM deadletter").fetchall()
    conn.close()
    stored = {
        (s.removeprefix("kafka:").split("/")[0], int(s.split("/")[1]), int(p)) for s, p, _ in rows
    }
    assert stored == bad_positions
    assert all(err.strip() for _, _, err in rows)
    # ... and on icc.deadletter with headers naming the error and the position
    consumer = KafkaConsumer(
        DEADLETTER,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    on_topic: dict[tuple[str, int, int], bytes] = {}
    for rec in consumer:
        h = {k: v for k, v in rec.headers}
        assert h["error"].strip()
        on_topic[
            (h["source_topic"].decode(), int(h["source_partition"]), int(h["source_offset"]))
        ] = rec.value
        if len(on_topic) >= len(bad_positions):
            break
    consumer.close()
    assert set(on_topic) == bad_positions
    by_pos = {pos: raw for (bad, raw), pos in zip(mixed, positions, strict=True) if bad}
    assert all(on_topic[p] == by_pos[p] for p in bad_positions)


def test_two_workers_in_one_group_equal_one(
    broker: LocalBroker, scenario: dict, tmp_path: Path
) -> None:
    """Two ``icc run`` in one group, one shared ICC_DATA_DIR: the same final state as one."""
    create_topics(broker.bootstrap)
    publish(broker.bootstrap, scenario["lines"])
    data = tmp_path / "shared"
    # warm the geo cache first: two cold processes race on geo/lookup.py's fixed tmp name
    warm = [sys.executable, "-m", "icc", "run", "--exit-when-idle", "0.1"]
    subprocess.run(warm, env=worker_env(tmp_path / "warm"), check=True, timeout=120)
    a = start_worker(broker.bootstrap, data, idle=4, ICC_BATCH_SIZE="200")
    b = start_worker(broker.bootstrap, data, idle=4, ICC_BATCH_SIZE="200")
    ca, cb = consumed(finish(a)), consumed(finish(b))
    total = sum(scenario["counts"].values())
    assert ca + cb >= total
    export = tmp_path / "series.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "icc",
            "run",
            "--exit-when-idle",
            "0.1",
            "--export-series",
            str(export),
        ],
        env=worker_env(data),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert_same_state(data, export, scenario)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("http://127.0.0.1:9092", "expected kafka://HOST:PORT"),
        ("kafka://127.0.0.1", "expected kafka://HOST:PORT"),
        ("kafka://127.0.0.1:99999", "not a TCP port 1-65535"),
        ("kafka://127.0.0.1:port", "expected kafka://HOST:PORT"),
    ],
)
def test_bad_source_is_a_clear_error(source: str, expected: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "icc", "run", "--source", source],
        env=worker_env(tmp_path / "state"),
        capture_output=True,
        timeout=60,
    )
    err = " ".join(proc.stderr.decode().split())
    assert proc.returncode == 2
    assert source in err and expected in err


def test_unreachable_broker_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "icc", "run", "--source", f"kafka://127.0.0.1:{port}"],
        env=worker_env(tmp_path / "state"),
        capture_output=True,
        timeout=60,
    )
    err = " ".join(proc.stderr.decode().split())
    assert proc.returncode == 2
    assert f"cannot reach a Kafka broker at kafka://127.0.0.1:{port}" in err
    assert time.monotonic() - t0 < 30
