"""Arrival order across partitions: records are processed in timestamp order, not fetch order.

A consumer fetches partitions independently, so after an outage (or when a day
is replayed from the topics) a small topic is read to its end long before a
large one: every incident of the day would reach the linkage before the
sightings of the same hours, and every sighting would then be a late one. The
state a worker builds would depend on fetch sizes and partition counts.

:class:`ArrivalMerge` buffers what :meth:`KafkaConsumer.poll` returns, per
partition, and releases records in the order of their Kafka timestamps (the
producer's ``CreateTime``, i.e. when each message was published: the order of
arrival at the command center), as a k-way merge. A record is released only
when no assigned partition can still deliver an earlier one:

* a partition with buffered records is represented by its first one;
* a partition with nothing buffered that is caught up (its next offset is its
  high watermark) cannot deliver anything earlier than what is published next,
  and is ignored;
* a partition with nothing buffered that is behind holds back every record
  later than the last timestamp it delivered (a partition's timestamps grow with
  its offsets) until its next fetch arrives, or until ``wait_s`` has passed
  without progress (a partition that cannot be fetched must not stop the rest;
  it is then not waited for again until it delivers).

Memory: when ``buffer_max`` records are buffered in all, the earliest are
released whatever a partition behind might still bring, so the buffers stay
bounded. (Pausing the partitions ahead instead, with kafka-python 3.0.12's
``pause``/``resume``, stopped their fetches for good in our tests: not used.)

Within a partition the order is always the offset order; across partitions,
records with equal timestamps (published in the same millisecond) are taken
partition by partition.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["ArrivalMerge"]


class ArrivalMerge:
    """Per-partition buffers released in timestamp order (see the module docstring)."""

    def __init__(self, buffer_max: int = 20_000, wait_s: float = 1.0) -> None:
        if buffer_max < 1:
            raise ValueError(f"buffer_max = {buffer_max!r}: expected an integer >= 1")
        if not wait_s >= 0:
            raise ValueError(f"wait_s = {wait_s!r}: expected a number of seconds >= 0")
        self.buffer_max = buffer_max
        self.wait_s = wait_s
        self._buf: dict[Hashable, deque[Any]] = {}
        self._last_ts: dict[Hashable, float] = {}  # timestamp of the last record received
        self._blocked_since: float | None = None
        #: partitions behind that were waited for ``wait_s`` in vain: not waited for again
        #: until they deliver (a partition that cannot be fetched would add the wait to
        #: every batch)
        self._gave_up: set[Hashable] = set()
        self.forced = 0  # takes that did not wait for a partition behind (time or memory)

    def __len__(self) -> int:
        return sum(len(b) for b in self._buf.values())

    def add(self, polled: Mapping[Hashable, Sequence[Any]]) -> None:
        """Buffer what one poll returned (records with ``timestamp``, in offset order)."""
        for tp, records in polled.items():
            if not records:
                continue
            buf = self._buf.get(tp)
            if buf is None:
                self._buf[tp] = buf = deque()
            buf.extend(records)
            self._last_ts[tp] = records[-1].timestamp
            self._gave_up.discard(tp)

    def buffered(self, tp: Hashable) -> int:
        return len(self._buf.get(tp, ()))

    def drop(self, partitions: Iterable[Hashable]) -> dict[Hashable, int]:
        """Forget revoked partitions; returns the offset of the first record still
        buffered for each (where reading must start again)."""
        first: dict[Hashable, int] = {}
        for tp in partitions:
            buf = self._buf.pop(tp, None)
            if buf:
                first[tp] = buf[0].offset
            self._last_ts.pop(tp, None)
            self._gave_up.discard(tp)
        return first

    def _bound(self, assigned: Iterable[Hashable], caught_up: Callable[[Any], bool]) -> float:
        """The latest timestamp that may be released: no partition behind with an empty
        buffer can still deliver a record at or before it."""
        bound = math.inf
        for tp in assigned:
            if self._buf.get(tp) or tp in self._gave_up or caught_up(tp):
                continue
            bound = min(bound, self._last_ts.get(tp, -math.inf))
        return bound

    def take(
        self,
        limit: int,
        assigned: Iterable[Hashable],
        caught_up: Callable[[Any], bool],
        now: float | None = None,
    ) -> list[tuple[Hashable, Any]]:
        """Up to ``limit`` (partition, record) in timestamp order that no partition can
        still precede. ``caught_up(tp)``: whether a partition has nothing more to fetch."""
        now = time.monotonic() if now is None else now
        assigned = list(assigned)
        bound = self._bound(assigned, caught_up)
        rank = {tp: i for i, tp in enumerate(assigned)}
        heads = [
            (buf[0].timestamp, rank.get(tp, len(rank)), tp) for tp, buf in self._buf.items() if buf
        ]
        if not heads:
            self._blocked_since = None
            return []
        heapq.heapify(heads)
        if heads[0][0] > bound:
            if self._blocked_since is None:
                self._blocked_since = now
            if now - self._blocked_since < self.wait_s and len(self) < self.buffer_max:
                return []
            self.forced += 1
            if len(self) < self.buffer_max:  # waited in vain: stop waiting for these
                self._gave_up |= {
                    tp
                    for tp in assigned
                    if not self._buf.get(tp)
                    and self._last_ts.get(tp, -math.inf) < heads[0][0]
                    and not caught_up(tp)
                }
            bound = math.inf  # waited long enough, or holding too much, for the one behind
        self._blocked_since = None
        out: list[tuple[Hashable, Any]] = []
        while heads and len(out) < limit:
            ts, r, tp = heapq.heappop(heads)
            if ts > bound:
                break
            upto = min(bound, heads[0][0]) if heads else bound
            buf = self._buf[tp]
            out.append((tp, buf.popleft()))
            while buf and len(out) < limit and buf[0].timestamp <= upto:
                out.append((tp, buf.popleft()))
            if buf:
                heapq.heappush(heads, (buf[0].timestamp, r, tp))
            elif not caught_up(tp):
                bound = min(bound, self._last_ts[tp])
        return out
