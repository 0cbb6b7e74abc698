"""The pipeline sink that feeds tasking: team statuses, series events and the clock.

It runs after the linker in the same micro-batch. For each batch it

1. records every ``team_status`` message in the organisation (latest wins);
2. advances the event-time clock to the stream's watermark
   (:attr:`graph.cases.CaseBook.latest_event`), firing the timers due by then;
3. when the linker's series changed (its ``version`` moved), compares them with
   the series it saw last and turns each change (created / updated / dissolved)
   into a plan suggestion (confirmed at once in batch mode), stamped with the
   new watermark. It does not drain :meth:`graph.linkage.Linker.drain_events`,
   which stays free for another consumer.

O(messages) per batch, plus O(series) when the series changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from graph.linkage import Linker
from graph.summary import summarize
from ingest.batch import non_sightings
from ingest.models import Message, TeamStatus
from tasking.errors import TaskingError
from tasking.service import TaskingService

__all__ = ["TaskingSink"]

log = logging.getLogger(__name__)


class TaskingSink:
    """Implements ``ingest.pipeline.Sink`` over a :class:`TaskingService`."""

    def __init__(self, service: TaskingService, linker: Linker) -> None:
        self.service = service
        self.linker = linker
        self._version = linker.version
        self._members: dict[str, frozenset[str]] = {}  # series id -> cases, as last seen

    def apply(self, messages: Sequence[Message]) -> None:
        # lock order everywhere: service, then audit; one disk sync per micro-batch
        with self.service.lock, self.service.audit.transaction():
            self.service.replay_commands()  # those given before this batch, in an earlier run
            self._apply(messages)
            self.service.position += len(messages)

    def catch_up(self) -> int:
        """After the journal replay: give again the commands given after its last batch."""
        with self.service.lock, self.service.audit.transaction():
            return self.service.replay_commands()

    def _apply(self, messages: Sequence[Message]) -> None:
        for msg in non_sightings(messages):
            if isinstance(msg, TeamStatus):
                self.service.team_status(msg.team_id, msg.status, msg.at, msg.lon, msg.lat)
        self.service.advance(self.linker.cases.latest_event)
        if self.linker.version == self._version:
            return
        self._version = self.linker.version
        # members of every series, then evidence only for those that changed: the series
        # with their sentences cost O(accepted links), and most batches change a few
        current = {
            sid: members
            for sid, members in self.linker.series_members().items()
            if len(members) >= 2
        }
        moved = {sid for sid, cases in current.items() if self._members.get(sid) != cases}
        changed = sorted(self.linker.series(only=moved), key=lambda s: s.series_id)
        gone = sorted(set(self._members) - set(current))
        entities = {x.series_id: x.key_entities for x in summarize(changed, self.linker.cases)}
        events = [("dissolved", sid, tuple(sorted(self._members[sid]))) for sid in gone]
        events += [
            ("updated" if s.series_id in self._members else "created", s.series_id, s.case_ids)
            for s in changed
        ]
        self._members = current
        for kind, sid, case_ids in events:
            try:
                self.service.on_series(kind, sid, case_ids, entities.get(sid, ()))
            except TaskingError as exc:  # tasking never stops the pipeline
                log.warning("series %s (%s): no suggestion: %s", sid, kind, exc)
