"""Records on their way to the broker: bounded in flight, and a stalled broker is an error.

A Kafka producer accepts records far faster than a busy broker acknowledges them,
and it gives each batch ``delivery_timeout_ms`` to be acknowledged. Two things went
wrong with a plain ``send`` / ``flush`` loop when a broker stopped answering:

* the producer expired every batch it held (session 7: 841,479 of 5.3 M province
  messages, reported only as a count at the end);
* kafka-python 3.0's producer can get stuck after such a stall: it never
  acknowledges or fails its records again, and ``flush()`` without a timeout
  then waits for ever (seen here with the broker frozen by SIGSTOP).

:class:`Deliveries` sits between ``icc publish`` and the producer:

* at most ``max_in_flight`` records are unacknowledged at a time; beyond that the
  publisher waits for the oldest, so it runs at the broker's pace;
* every wait is bounded (``settle_s`` in all, not per batch);
* a record that fails for its own reason (:data:`PERMANENT`: a line larger than
  the broker accepts, a topic it may not write) is reported with where it came
  from, and publishing goes on;
* any other failure (an expired batch, a stuck producer) means the broker stopped
  acknowledging: publishing stops, and :class:`BrokerStalled` names the first line
  that may not have been delivered, so the file can be published again (the
  consumer's journal keeps one copy of each message).

Re-sending the expired records through a fresh producer was tried and not kept: on
the local Tansu broker, 2 of 16 runs of a 5-s freeze lost 12-276 re-sent records
that the broker had acknowledged (NOTES.md, session 8). A loud stop loses nothing
silently.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from typing import Any, NamedTuple

from kafka import errors as kafka_errors

__all__ = ["PERMANENT", "BrokerStalled", "Deliveries", "Outgoing"]

log = logging.getLogger(__name__)

#: records handed to the producer and not yet acknowledged, at most. Small is fast:
#: publishing bench.stream's 303 k messages to the local broker ran 14-15 k msg/s with
#: 200 k, 15.7-17.6 k unbounded (the code before), 21-24 k with 2-10 k (the producer's
#: accumulator and the collector have less to walk); 10 k leaves room for a remote
#: broker's round trips (at 20 k msg/s, 100 ms is 2 k records)
MAX_IN_FLIGHT = 10_000

#: errors that are the record's own: sending it again cannot cure them
PERMANENT: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.InvalidTopicError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.UnsupportedForMessageFormatError,
)


class BrokerStalled(RuntimeError):
    """The broker stopped acknowledging; names the first line that may not be delivered."""


class Outgoing(NamedTuple):
    """One record for the producer and where it came from (a tuple: one is built a line)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class Deliveries:
    """Send records through ``producer``, bounded in flight, every wait bounded.

    ``failed`` lists (record, error) for records that failed for their own reason.
    :meth:`close` closes the producer (at once, dropping what it holds, after a stall).
    """

    def __init__(
        self, producer: Any, *, max_in_flight: int = MAX_IN_FLIGHT, settle_s: float = 190.0
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight={max_in_flight!r}: expected an integer >= 1")
        if not settle_s > 0:
            raise ValueError(f"settle_s={settle_s!r}: expected a positive number of seconds")
        self._producer = producer
        self._max = max_in_flight
        self._settle_s = settle_s
        self._inflight: deque[tuple[Outgoing, Any]] = deque()
        self._stalled = False
        self.failed: list[tuple[Outgoing, BaseException]] = []

    def send(self, record: Outgoing) -> bool:
        """Hand ``record`` to the producer; False if it failed for its own reason at once."""
        try:
            future = self._producer.send(
                record.topic, value=record.value, key=record.key, headers=record.headers
            )
        except kafka_errors.KafkaError as exc:
            if isinstance(exc, PERMANENT):  # e.g. a line larger than max_request_size
                log.error("%s not published: %s", record.where, exc)
                self.failed.append((record, exc))
                return False
            # the producer's buffer stayed full for max_block_ms: nothing is acknowledged
            self._stop(record, exc)
        self._inflight.append((record, future))
        if len(self._inflight) > self._max:
            self._settle(len(self._inflight) - self._max // 2)
        return True

    def finish(self) -> None:
        """Wait until every record is acknowledged, has failed for its own reason, or
        :class:`BrokerStalled` says which lines may not have been delivered."""
        self._settle(len(self._inflight))

    def close(self) -> None:
        if self._stalled:
            _discard(self._producer)
        else:
            self._producer.close(timeout=self._settle_s)  # after finish(): nothing left

    # -- internals ------------------------------------------------------------
    def _settle(self, n: int) -> None:
        """Wait for the ``n`` oldest records, ``settle_s`` at most in all."""
        deadline = time.monotonic() + self._settle_s
        for _ in range(min(n, len(self._inflight))):
            record, future = self._inflight[0]
            exc = _outcome(future, max(0.0, deadline - time.monotonic()))
            if exc is not None and not isinstance(exc, PERMANENT):
                self._stop(record, exc)
            self._inflight.popleft()
            if exc is not None:
                log.error("%s not delivered: %s", record.where, exc)
                self.failed.append((record, exc))

    def _stop(self, first: Outgoing, error: BaseException) -> None:
        """The broker stopped acknowledging: count what is still out and raise."""
        self._stalled = True
        waiting = sum(1 for _, future in self._inflight if not future.succeeded())
        raise BrokerStalled(
            f"the broker stopped acknowledging ({error}); up to {max(waiting, 1)} record(s) "
            f"from {first.where} on may not have been delivered: publish the file again "
            "once the broker answers (the consumer keeps one copy of each message)"
        )


def _discard(producer: Any) -> None:
    """Close a producer now, dropping whatever it still holds.

    kafka-python's ``close`` flushes first and raises if the flush times out, with its
    network thread still running; that thread's ``force_close`` (not public API) makes
    it fail what it holds and stop, after which ``close`` completes.
    """
    try:
        producer.close(timeout=0)
    except kafka_errors.KafkaTimeoutError:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(5.0)
        with contextlib.suppress(kafka_errors.KafkaError):
            producer.close(timeout=0)


def _outcome(future: Any, timeout_s: float) -> BaseException | None:
    """The error a producer future ended with, waiting up to ``timeout_s`` for it (a
    ``KafkaTimeoutError`` if it has not ended by then), or None if acknowledged."""
    if future.is_done:  # most are, by the time they are looked at: no wait to set up
        return future.exception
    try:
        future.get(timeout=timeout_s)
    except Exception as exc:  # the producer's delivery error, whatever its type
        return exc
    return None
