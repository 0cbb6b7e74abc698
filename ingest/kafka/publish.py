"""``icc publish``: push JSON Lines files to the contract's Kafka topics, keyed to keep order.

Every non-blank line of every file becomes one Kafka message, in file order:

* a line that decodes to a JSON object with a known ``kind`` goes to that kind's
  topic (:data:`~ingest.kafka.topics.DEFAULT_TOPIC_MAP`) with the key
  :func:`~ingest.kafka.topics.key_of` gives it (``case_id`` / ``report_id``,
  ``entity``, ``team_id``), so one case's reports, one entity's sightings and
  one team's statuses land in one partition in file order;
* any other line (not UTF-8, not JSON, not an object, no or an unknown
  ``kind``) is **still published**, verbatim and without a key, to
  :data:`UNROUTABLE_TOPIC` (``icc.incidents``, the low-volume topic): the
  consumer validates it like everything else and dead-letters it with its
  Kafka position and the reason. Nothing is dropped by the producer.

Each message carries the headers ``icc-file`` and ``icc-line`` naming where it
came from, so a dead letter can be traced back to the line of the file.

The producer is idempotent (``enable_idempotence=True``, ``acks="all"``): a
retried send is never written twice. Publishing the *same file twice* does
write every message twice; that is harmless for the consumer because the
journal stores each ``report_id`` / ``sighting_id`` once (the second copy is
counted as a duplicate and changes nothing). Only unparseable lines are
dead-lettered once per copy, since their Kafka offsets differ.

Example
-------
>>> route('{"kind": "sighting", "entity": "浙B12345"}'.encode(), DEFAULT_TOPIC_MAP)
('icc.sightings', b'\\xe6\\xb5\\x99B12345')
>>> route(b'{not json', DEFAULT_TOPIC_MAP)
('icc.incidents', None)
>>> parse_bootstrap("127.0.0.1:9092")
'127.0.0.1:9092'
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from ingest.kafka.delivery import MAX_IN_FLIGHT, BrokerStalled, Deliveries, Outgoing
from ingest.kafka.topics import DEFAULT_TOPIC_MAP, INCIDENTS, key_of

__all__ = [
    "DEFAULT_PARTITIONS",
    "TOPIC_MAPS",
    "UNROUTABLE_TOPIC",
    "PublishError",
    "PublishSummary",
    "ensure_topics",
    "parse_bootstrap",
    "publish_files",
    "resolve_topic_map",
    "route",
]

log = logging.getLogger(__name__)

#: Where lines without a known ``kind`` go (the consumer dead-letters them with a reason).
UNROUTABLE_TOPIC = INCIDENTS
#: Partitions of a topic ``icc publish`` creates (existing topics are left as they are).
DEFAULT_PARTITIONS = 6
#: Named topic maps accepted by ``--topic-map``.
TOPIC_MAPS: Mapping[str, Mapping[str, str]] = {"default": DEFAULT_TOPIC_MAP}

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+):(?P<port>\d{1,5})$")


class PublishError(ValueError):
    """A bad argument or an unreachable broker; the message names the value and what was expected."""


@dataclass
class PublishSummary:
    """What one ``icc publish`` did."""

    files: int = 0
    messages: int = 0
    unroutable: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_topic: Counter[str] = field(default_factory=Counter)
    created_topics: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        topics = ", ".join(f"{n} to {t}" for t, n in sorted(self.by_topic.items())) or "nothing"
        text = (
            f"published {self.messages} messages from {self.files} file(s) "
            f"in {self.seconds:.1f} s ({self.per_s:,.0f}/s): {topics}"
        )
        if self.unroutable:
            text += (
                f"; {self.unroutable} line(s) without a known kind sent to {UNROUTABLE_TOPIC} "
                "(the consumer dead-letters them)"
            )
        if self.created_topics:
            text += f"; created {', '.join(self.created_topics)}"
        if self.failed:
            text += f"; {self.failed} FAILED to be delivered"
        return text


def parse_bootstrap(text: str) -> str:
    """Check ``HOST:PORT[,HOST:PORT...]``; return it normalised or raise :class:`PublishError`."""
    text = (text or "").strip()
    if text.startswith("kafka://"):
        text = text[len("kafka://") :]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise PublishError(f"bootstrap {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9092")
    for part in parts:
        m = _HOST_PORT.match(part)
        if m is None or not 0 < int(m["port"]) < 65536:
            raise PublishError(
                f"bootstrap {part!r}: expected HOST:PORT with a port 1-65535, e.g. 127.0.0.1:9092"
            )
    return ",".join(parts)


def resolve_topic_map(name: str) -> Mapping[str, str]:
    """The topic map called ``name`` (only ``default`` today)."""
    try:
        return TOPIC_MAPS[name]
    except KeyError:
        raise PublishError(
            f"topic map {name!r}: expected one of {', '.join(sorted(TOPIC_MAPS))}"
        ) from None


def route(raw: bytes, topic_map: Mapping[str, str]) -> tuple[str, bytes | None]:
    """The topic and key of one raw line; unroutable lines go to :data:`UNROUTABLE_TOPIC`."""
    topic, key, _ = _classify(raw, topic_map)
    return topic, key


def _classify(raw: bytes, topic_map: Mapping[str, str]) -> tuple[str, bytes | None, bool]:
    """(topic, key, routable): ``routable`` is False for a line without a known ``kind``."""
    try:
        message: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return UNROUTABLE_TOPIC, None, False
    kind = message.get("kind") if isinstance(message, dict) else None
    topic = topic_map.get(kind) if isinstance(kind, str) else None
    if topic is None:
        return UNROUTABLE_TOPIC, None, False
    return topic, key_of(message), True


def _admin(bootstrap: str, timeout_ms: int) -> Any:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="icc-publish",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except (KafkaError, OSError, ValueError) as exc:
        raise PublishError(
            f"bootstrap {bootstrap!r}: no Kafka broker answered ({exc}); "
            "expected a running broker at HOST:PORT"
        ) from None


def ensure_topics(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int = DEFAULT_PARTITIONS,
    timeout_s: float = 10.0,
) -> list[str]:
    """Create those of ``topics`` that do not exist yet; returns the ones created."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    if partitions < 1:
        raise PublishError(f"partitions {partitions!r}: expected an integer >= 1")
    admin = _admin(bootstrap, int(timeout_s * 1000))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        created: list[str] = []
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, partitions, 1)])
                created.append(topic)
                log.info("created topic %s with %d partitions", topic, partitions)
            except TopicAlreadyExistsError:  # another publisher was faster
                pass
        return created
    finally:
        admin.close()


def _producer(bootstrap: str, timeout_s: float, delivery_timeout_s: float) -> Any:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    try:
        return KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="icc-publish",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            batch_size=256 * 1024,
            max_request_size=4 * 1024 * 1024,
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(delivery_timeout_s * 1000),
        )
    except (KafkaError, OSError, ValueError) as exc:
        raise PublishError(
            f"bootstrap {bootstrap!r}: could not start a producer ({exc}); "
            "expected a running broker at HOST:PORT"
        ) from None


def publish_files(
    files: Sequence[Path],
    bootstrap: str,
    *,
    topic_map: str | Mapping[str, str] = "default",
    partitions: int = DEFAULT_PARTITIONS,
    create_topics: bool = True,
    console: Console | None = None,
    timeout_s: float = 10.0,
    delivery_timeout_s: float = 120.0,
    max_in_flight: int = MAX_IN_FLIGHT,
    on_send: Callable[[str, bytes | None, bytes], None] | None = None,
) -> PublishSummary:
    """Publish every non-blank line of ``files``, in order, to the contract topics.

    Raises :class:`PublishError` (a ``ValueError``) for a missing file, a malformed
    bootstrap, an unknown topic map or an unreachable broker, before anything is sent.
    ``on_send(topic, key, raw)`` is called for every message handed to the producer.

    At most ``max_in_flight`` records wait for acknowledgement at a time
    (:class:`~ingest.kafka.delivery.Deliveries`). A broker that stops acknowledging
    for longer than ``delivery_timeout_s`` stops the publish: :class:`PublishError`
    names the first line that may not have been delivered (publish the file again).
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise PublishError("no files: expected one or more JSON Lines files")
    for p in paths:
        if not p.is_file():
            raise PublishError(f"no such JSON Lines file: {p}")
    bootstrap = parse_bootstrap(bootstrap)
    mapping = resolve_topic_map(topic_map) if isinstance(topic_map, str) else topic_map
    topics = [*dict.fromkeys([*mapping.values(), UNROUTABLE_TOPIC])]
    summary = PublishSummary(files=len(paths))
    if delivery_timeout_s < timeout_s + 1.0:
        raise PublishError(
            f"delivery timeout {delivery_timeout_s!r} s: expected at least the request "
            f"timeout ({timeout_s:g} s) plus 1 s"
        )
    if create_topics:
        summary.created_topics = ensure_topics(bootstrap, topics, partitions, timeout_s)
    deliveries = Deliveries(
        _producer(bootstrap, timeout_s, delivery_timeout_s),
        max_in_flight=max_in_flight,
        settle_s=1.5 * delivery_timeout_s + 1.0,  # a working producer settles a batch by then
    )
    console = console or Console(stderr=True)
    columns = (
        TextColumn("[bold]publish"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    start = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
            task = progress.add_task("publish", total=sum(p.stat().st_size for p in paths))
            for path in paths:
                origin = str(path.resolve()).encode("utf-8")
                where = str(path)
                with path.open("rb") as fh:
                    for lineno, line in enumerate(fh, start=1):
                        progress.advance(task, len(line))
                        raw = line.strip()
                        if not raw:
                            continue
                        topic, key, routable = _classify(raw, mapping)
                        summary.unroutable += not routable
                        headers = [("icc-file", origin), ("icc-line", str(lineno).encode())]
                        record = Outgoing(topic, key, raw, headers, where, lineno)
                        if not deliveries.send(record):
                            continue  # failed for good (logged): e.g. over max_request_size
                        summary.by_topic[topic] += 1
                        summary.messages += 1
                        if on_send is not None:
                            on_send(topic, key, raw)
            deliveries.finish()
    except BrokerStalled as exc:
        raise PublishError(f"bootstrap {bootstrap!r}: {exc}") from None
    finally:
        deliveries.close()
    summary.seconds = time.perf_counter() - start
    summary.failed = len(deliveries.failed)
    if deliveries.failed:
        record, error = deliveries.failed[0]
        log.error(
            "%d message(s) not delivered, the first (%s): %s", summary.failed, record.where, error
        )
    log.info("%s", summary.line())
    return summary
