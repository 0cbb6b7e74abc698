"""The Kafka source: a consumer group on the contract's topics feeding the one pipeline.

:func:`run_kafka` subscribes to ``icc.incidents``, ``icc.sightings`` and
``icc.teams`` in a consumer group and loops:

1. ``poll(max_records=batch_max)``: one bounded micro-batch;
2. :meth:`ingest.pipeline.Ingestor.process`: validate, dead-letter, journal,
   apply (``durable=False``: the journal's disk sync of the batch runs on its
   writer thread while the loop goes on to the next poll);
3. every rejected message is also produced to ``icc.deadletter`` (raw bytes as
   the value, headers ``error``, ``source_topic``, ``source_partition``,
   ``source_offset``) and the producer is flushed;
4. after the next poll, :meth:`~ingest.pipeline.Ingestor.sync` waits until the
   batch is durable in the SQLite journal, and only then are its offsets
   committed, synchronously.

Exactly-once *effect*: a crash between 2 and 4 re-delivers the batch on
restart, and the journal absorbs the repeats (unique ``report_id`` /
``sighting_id`` keys; ``INSERT OR IGNORE``), so every message changes the state
once. The dead-letter store is idempotent too (fingerprint of topic/partition,
offset and bytes); the ``icc.deadletter`` *topic* is at-least-once (a
re-delivered reject is produced again).

Rebalances: the :class:`ConsumerRebalanceListener` waits for the last batch to be
durable and commits what has been processed for the revoked partitions. The loop is single-threaded and processes
a batch completely before polling again, so nothing is ever half-processed when
a rebalance callback runs. kafka-python heartbeats from its own background
thread; nothing heavy runs there. ``max_poll_interval_ms`` (5 min) is far above
the slowest batch (well under a second for 5000 messages).

Order: partitions are fetched independently, so what one poll returns is no
order at all (after an outage the small incidents topic would be read to its end
before the sightings of the same hours). Polled records are buffered per
partition and each batch is taken in the order of the records' timestamps
(publication time: the order of arrival) by :class:`~ingest.kafka.align.ArrivalMerge`,
so a worker catching up builds the state a live one would have.

Back-pressure: the loop pulls; a batch holds at most ``batch_max`` records, the
arrival-order buffers at most 60k records (or four batches), and the fetcher at most
``fetch_max_bytes`` (16 MiB) per request. Memory stays bounded however far behind
the worker is.

Settings (environment):

| variable | meaning | default |
|---|---|---|
| ``ICC_KAFKA_SESSION_TIMEOUT_MS`` | consumer group session timeout | ``10000`` |
| ``ICC_KAFKA_CHECK_CRCS`` | verify each record batch's CRC-32C: ``1``, ``0`` or ``auto`` (only with the native ``crc32c`` module; kafka-python's pure-Python fallback caps a consumer near 25k messages/s) | ``auto`` |
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest.deadletter import DeadLetter, DeadLetterStore
from ingest.kafka.align import ArrivalMerge
from ingest.kafka.topics import DEADLETTER, INPUT_TOPICS
from ingest.pipeline import stream_gc
from ingest.sources import RawMessage

if TYPE_CHECKING:
    from icc.runtime import Runtime

__all__ = [
    "KafkaSourceError",
    "RunStats",
    "check_crcs",
    "parse_kafka_url",
    "run_kafka",
    "session_timeout_ms",
]

log = logging.getLogger(__name__)

_URL = re.compile(r"^kafka://(?P<host>\[[0-9A-Fa-f:]+\]|[A-Za-z0-9_.\-]+):(?P<port>[0-9]+)/?$")
_HEADER_MAX = 1000
_FETCH_MAX_BYTES = 16 * 1024 * 1024
_ALIGN_BUFFER = 60_000  # records held for arrival order at most (~40 MB of wire messages)


class KafkaSourceError(ValueError):
    """A bad ``kafka://`` URL, setting, or a broker that cannot be reached."""


def parse_kafka_url(url: str) -> str:
    """``kafka://HOST:PORT`` -> ``HOST:PORT`` (the bootstrap server), checked.

    >>> parse_kafka_url("kafka://127.0.0.1:9092")
    '127.0.0.1:9092'
    """
    m = _URL.match(url.strip())
    if m is None:
        raise KafkaSourceError(
            f"--source {url!r}: expected kafka://HOST:PORT (e.g. kafka://127.0.0.1:9092) "
            "or 'embedded'"
        )
    port = int(m["port"])
    if not 0 < port < 65536:
        raise KafkaSourceError(f"--source {url!r}: port {port} is not a TCP port 1-65535")
    return f"{m['host']}:{port}"


def session_timeout_ms(env: dict[str, str] | None = None) -> int:
    """The consumer session timeout from ``ICC_KAFKA_SESSION_TIMEOUT_MS`` (1000-300000 ms)."""
    raw = (os.environ if env is None else env).get("ICC_KAFKA_SESSION_TIMEOUT_MS") or ""
    if not raw:
        return 10_000
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1000 <= value <= 300_000:
        raise KafkaSourceError(
            f"ICC_KAFKA_SESSION_TIMEOUT_MS={raw!r}: expected an integer between 1000 and 300000"
        )
    return value


def check_crcs(env: dict[str, str] | None = None) -> bool:
    """Whether the consumer verifies record-batch CRCs, from ``ICC_KAFKA_CHECK_CRCS``.

    ``auto`` (the default) verifies only when the native ``crc32c`` module is
    installed: kafka-python's pure-Python CRC-32C takes most of a consumer's time.
    The broker checks every batch's CRC when it is produced, and TCP checksums
    every segment, so skipping the client-side check trades only a guard against
    corruption inside the broker.
    """
    raw = ((os.environ if env is None else env).get("ICC_KAFKA_CHECK_CRCS") or "auto").strip()
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    if raw.lower() != "auto":
        raise KafkaSourceError(f"ICC_KAFKA_CHECK_CRCS={raw!r}: expected 1, 0 or auto")
    try:
        from kafka.record.util import crc32c_c
    except ImportError:  # a kafka-python without the hook: keep its default
        return True
    if crc32c_c is None:
        log.info("record CRCs not verified: the native crc32c module is not installed")
        return False
    return True


@dataclass
class RunStats:
    """What one :func:`run_kafka` call did."""

    messages: int = 0
    dead_letters: int = 0
    batches: int = 0
    seconds: float = 0.0
    batch_latencies_ms: list[float] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    commits_failed: int = 0
    active_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Messages per second from the first batch's poll to the last batch's commit."""
        span = self.active_seconds or self.seconds
        return self.messages / span if span > 0 else 0.0

    def line(self) -> str:
        lat = sorted(self.batch_latencies_ms)
        p50 = lat[len(lat) // 2] if lat else 0.0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
        return (
            f"consumed {self.messages} messages in {self.batches} batches "
            f"({self.rate:,.0f}/s): {self.accepted} accepted, {self.duplicates} duplicates, "
            f"{self.dead_letters} dead-lettered; batch latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )


class _DeadLetterTap:
    """Stands in for the ingestor's dead-letter store and remembers what each batch rejected."""

    def __init__(self, store: DeadLetterStore) -> None:
        self.store = store
        self.captured: list[DeadLetter] = []

    def add(self, letters: Sequence[DeadLetter]) -> int:
        added = self.store.add(letters)
        self.captured.extend(letters)
        return added

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _connect_error(bootstrap: str, exc: Exception) -> KafkaSourceError:
    return KafkaSourceError(
        f"cannot reach a Kafka broker at {bootstrap}: {exc} "
        "(expected a running broker answering on kafka://HOST:PORT)"
    )


def _probe(bootstrap: str, timeout_s: float) -> None:
    """Fail fast, with a clear message, if nothing accepts TCP connections at ``bootstrap``."""
    host, _, port = bootstrap.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=min(2.0, timeout_s)):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise KafkaSourceError(
                    f"cannot reach a Kafka broker at kafka://{bootstrap} within {timeout_s:g} s: "
                    f"{exc} (expected a running broker answering on that host and port)"
                ) from exc
            time.sleep(0.5)


def run_kafka(
    runtime: Runtime,
    bootstrap: str,
    *,
    group_id: str = "icc",
    exit_when_idle_s: float | None = None,
    stop: threading.Event | None = None,
    batch_max: int = 5000,
    topics: Sequence[str] = INPUT_TOPICS,
    session_ms: int | None = None,
    on_batch: Callable[[RunStats], None] | None = None,
    connect_timeout_s: float = 10.0,
    align_wait_s: float = 1.0,
) -> RunStats:
    """Consume ``topics`` in group ``group_id`` into ``runtime`` until stopped or idle.

    Stops when ``stop`` is set (after finishing and committing the current batch)
    or, with ``exit_when_idle_s``, once no message arrived for that long while
    caught up (the idle clock starts when the group first assigns partitions, so a
    worker waiting for a rebalance - e.g. for a killed member's session to expire -
    does not give up early). Raises :class:`KafkaSourceError` if no broker answers at
    ``bootstrap`` within ``connect_timeout_s``. ``on_batch`` is called after each
    committed batch (progress). Records are taken in arrival order across partitions;
    a partition behind holds the others back for at most ``align_wait_s`` seconds.
    """
    from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import CommitFailedError, KafkaError
    from kafka.structs import OffsetAndMetadata

    if batch_max < 1:
        raise KafkaSourceError(f"batch_max={batch_max}: expected an integer >= 1")
    stop = stop or threading.Event()
    session = session_ms if session_ms is not None else session_timeout_ms()
    crcs = check_crcs()
    _probe(bootstrap, connect_timeout_s)
    stats = RunStats()
    joined = threading.Event()
    start = last_data = time.monotonic()
    pending: dict[TopicPartition, int] = {}  # durable, not yet committed: next offset
    #: processed, its journal commit (disk sync) may still run: next offset
    inflight: dict[TopicPartition, int] = {}
    seen_next: dict[TopicPartition, int] = {}  # next offset after the last record seen
    # one fetch brings up to 1 MiB per partition, drained a partition at a time by poll:
    # the buffers must hold a few of them for the partitions behind to be reached
    merge = ArrivalMerge(buffer_max=max(4 * batch_max, _ALIGN_BUFFER), wait_s=align_wait_s)

    def caught_up(tp: TopicPartition) -> bool:
        """Whether ``tp`` has nothing more to fetch (so it cannot precede a buffered record)."""
        hw = consumer.highwater(tp)
        if hw is None:
            return False
        nxt = seen_next.get(tp)
        if nxt is None:  # nothing read from it yet: where the consumer stands (never waits)
            try:
                nxt = consumer.position(tp, timeout_ms=0)
            except (KafkaError, AssertionError):
                return False
            if nxt is None:
                return False
        return nxt >= hw

    def commit(partitions: Sequence[TopicPartition] | None = None) -> None:
        chosen = {tp: off for tp, off in pending.items() if partitions is None or tp in partitions}
        if not chosen:
            return
        try:
            consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in chosen.items()})
        except CommitFailedError as exc:
            # The group rebalanced: the new owner re-reads from the last commit and the
            # journal absorbs the repeats.
            stats.commits_failed += 1
            log.warning("offset commit rejected after a rebalance (%s); repeats are absorbed", exc)
        except KafkaError as exc:
            stats.commits_failed += 1
            log.warning("offset commit failed (%s); retrying with the next batch", exc)
            return
        for tp, off in chosen.items():
            if pending.get(tp) == off:
                del pending[tp]

    def settle() -> None:
        """Wait for the last batch's disk sync, then commit the offsets it completes."""
        if inflight:
            ingestor.sync()
            pending.update(inflight)
            inflight.clear()
        commit()

    class _Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            if inflight:
                ingestor.sync()
                pending.update(inflight)
                inflight.clear()
            commit(list(revoked))
            # Buffered records were not processed: rewind to the first of them. A partition
            # given back to this worker by the same rebalance keeps its position, so without
            # the seek they would be skipped; one that moves is read from the commit anyway.
            for tp, first in merge.drop(revoked).items():
                try:
                    consumer.seek(tp, first)
                except (KafkaError, AssertionError) as exc:
                    log.warning("could not rewind %s to offset %d: %s", tp, first, exc)
            for tp in revoked:
                pending.pop(tp, None)
                seen_next.pop(tp, None)
            log.info("partitions revoked: %s", sorted(str(tp) for tp in revoked))

        def on_partitions_assigned(self, assigned: Any) -> None:
            nonlocal last_data
            if not joined.is_set():
                joined.set()
                last_data = time.monotonic()  # the idle clock starts at the first assignment
            log.info("partitions assigned: %s", sorted(str(tp) for tp in assigned))

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            client_id=f"icc-run-{os.getpid()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_max,
            max_poll_interval_ms=300_000,
            session_timeout_ms=session,
            heartbeat_interval_ms=max(300, session // 3),
            request_timeout_ms=max(30_000, session + 5000),
            fetch_max_bytes=_FETCH_MAX_BYTES,
            check_crcs=crcs,
            reconnect_backoff_ms=200,
            reconnect_backoff_max_ms=2000,
        )
    except KafkaError as exc:
        raise _connect_error(bootstrap, exc) from exc
    producer: KafkaProducer | None = None
    ingestor = runtime.ingestor
    tap = _DeadLetterTap(ingestor.deadletters)
    ingestor.deadletters = tap  # type: ignore[assignment]
    consumer.subscribe(list(topics), listener=_Listener())
    log.info("consuming %s from %s as group %r", ", ".join(topics), bootstrap, group_id)
    first_data: float | None = None
    gc_tuning = stream_gc()
    gc_tuning.__enter__()
    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=100 if len(merge) else 500, max_records=batch_max)
            settle()  # the poll overlapped the previous batch's disk sync
            t0 = time.perf_counter()
            now = time.monotonic()
            for tp, records in polled.items():
                if records:
                    seen_next[tp] = records[-1].offset + 1
            merge.add(polled)
            if polled and first_data is None:
                first_data = now
            taken = merge.take(batch_max, sorted(consumer.assignment()), caught_up, now)
            if not taken:
                if polled or len(merge):
                    last_data = now
                    continue  # waiting for a partition behind (see ingest.kafka.align)
                idle = now - last_data
                if exit_when_idle_s is not None and joined.is_set() and idle >= exit_when_idle_s:
                    behind = [
                        tp
                        for tp in consumer.assignment()
                        if tp in seen_next and (consumer.highwater(tp) or 0) > seen_next[tp]
                    ]
                    if not behind:
                        log.info("idle for %.1f s: stopping", idle)
                        break
                continue
            last_data = now
            batch: list[RawMessage] = []
            done: dict[TopicPartition, int] = {}
            sources: dict[TopicPartition, str] = {}
            for tp, rec in taken:
                source = sources.get(tp)
                if source is None:
                    source = sources[tp] = f"kafka:{tp.topic}/{tp.partition}"
                raw = rec.value if rec.value is not None else b""
                batch.append(RawMessage(raw, source, str(rec.offset)))
                done[tp] = rec.offset + 1
            tap.captured.clear()
            result = ingestor.process(batch, durable=False)  # durable at the next settle()
            if tap.captured:
                if producer is None:
                    producer = KafkaProducer(
                        bootstrap_servers=bootstrap,
                        acks="all",
                        linger_ms=5,
                        max_request_size=_FETCH_MAX_BYTES,
                        client_id=f"icc-deadletter-{os.getpid()}",
                    )
                where = {  # built only for a batch with rejects: the record behind each
                    (sources[tp], str(rec.offset)): (rec.key, tp.topic, tp.partition, rec.offset)
                    for tp, rec in taken
                }
                for letter in tap.captured:
                    key, topic, partition, offset = where[(letter.source, letter.position)]
                    headers = [
                        ("error", letter.error[:_HEADER_MAX].encode("utf-8", "replace")),
                        ("source_topic", topic.encode()),
                        ("source_partition", str(partition).encode()),
                        ("source_offset", str(offset).encode()),
                    ]
                    producer.send(DEADLETTER, value=letter.raw, key=key, headers=headers)
                producer.flush()
            inflight.update(done)
            stats.batch_latencies_ms.append((time.perf_counter() - t0) * 1000.0)
            stats.batches += 1
            stats.active_seconds = time.monotonic() - (first_data or now)
            stats.messages += len(batch)
            stats.accepted += result.accepted
            stats.duplicates += result.duplicates
            stats.dead_letters += result.deadlettered
            if on_batch is not None:
                on_batch(stats)
    finally:
        gc_tuning.__exit__(None, None, None)
        stats.seconds = time.monotonic() - start
        ingestor.deadletters = tap.store
        try:
            settle()
        finally:
            if producer is not None:
                producer.close(timeout=10)
            consumer.close(autocommit=False)
    return stats
