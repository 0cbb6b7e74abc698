"""Event-time timers: acknowledgement deadlines and escalation steps.

Timers never look at the wall clock. The pipeline's watermark (the latest event
time it has seen) drives them: :meth:`TimerQueue.due` pops every timer due at or
before the watermark, in due-time order (ties in scheduling order), so a replay
of the same stream fires the same timers at the same event times.

A task has at most one live timer; scheduling a new one replaces the old, and
:meth:`TimerQueue.cancel` drops it (lazily: a stale heap entry is skipped).

Example
-------
>>> import datetime as dt
>>> q = TimerQueue()
>>> t0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
>>> q.schedule("A-0001-T01", t0 + dt.timedelta(minutes=30), step=-1)
>>> q.due(t0 + dt.timedelta(minutes=10))
[]
>>> [f.task_id for f in q.due(t0 + dt.timedelta(hours=1))]
['A-0001-T01']
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

__all__ = ["Fired", "TimerQueue"]


@dataclass(frozen=True, slots=True)
class Fired:
    """A timer that came due: ``step`` -1 is the acknowledgement deadline, else the index
    of the escalation step to take."""

    task_id: str
    due: dt.datetime
    step: int


class TimerQueue:
    """A min-heap of (due, seq, task, step) with lazy cancellation. O(log n) per operation."""

    def __init__(self) -> None:
        self._heap: list[tuple[dt.datetime, int, str, int]] = []
        self._live: dict[str, int] = {}  # task -> seq of its live timer
        self._seq = 0

    def schedule(self, task_id: str, due: dt.datetime, step: int) -> None:
        self._seq += 1
        self._live[task_id] = self._seq
        heapq.heappush(self._heap, (due, self._seq, task_id, step))

    def cancel(self, task_id: str) -> None:
        self._live.pop(task_id, None)

    def pending(self, task_id: str) -> bool:
        return task_id in self._live

    def next_due(self) -> dt.datetime | None:
        self._skip_stale()
        return self._heap[0][0] if self._heap else None

    def _skip_stale(self) -> None:
        while self._heap and self._live.get(self._heap[0][2]) != self._heap[0][1]:
            heapq.heappop(self._heap)

    def pop_due(self, now: dt.datetime) -> Fired | None:
        """The earliest timer due at or before ``now`` (removed), or ``None``."""
        self._skip_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        due, _, task_id, step = heapq.heappop(self._heap)
        del self._live[task_id]
        return Fired(task_id, due, step)

    def due(self, now: dt.datetime) -> list[Fired]:
        """Every timer due at or before ``now``, earliest first (removed)."""
        out = []
        while (f := self.pop_due(now)) is not None:
            out.append(f)
        return out

    def __len__(self) -> int:
        return len(self._live)
