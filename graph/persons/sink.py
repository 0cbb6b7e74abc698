"""Person comparison as a pipeline sink: suspect mentions resolved as reports arrive.

:class:`PersonSink` hands every person mention of each new report to the
streaming :class:`~graph.persons.resolver.PersonResolver`. When a suspect
mention joins a cluster holding suspects of other cases, that is identity
evidence linking the cases (``person_evidence``: log-odds and a sentence with
masked identifiers), kept per case pair for the linker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from graph.cases import batch_incidents
from graph.persons.resolver import PersonResolver, person_evidence
from ingest.models import Message, PersonMention

__all__ = ["PersonSink"]

log = logging.getLogger(__name__)


class PersonSink:
    """Resolves suspect mentions incrementally and collects case-pair identity evidence."""

    def __init__(
        self, resolver: PersonResolver | None = None, roles: tuple[str, ...] = ("suspect",)
    ) -> None:
        self.resolver = resolver or PersonResolver()
        self.roles = roles
        self.evidence: dict[tuple[str, str], tuple[float, str]] = {}
        self._changed: set[tuple[str, str]] = set()
        self._lock = threading.RLock()

    def apply(self, messages: Sequence[Message]) -> None:
        mentions: list[PersonMention] = []
        cases: list[str] = []
        for msg in batch_incidents(messages):
            for person in msg.persons:
                if person.role in self.roles:
                    mentions.append(person)
                    cases.append(msg.case)
        if not mentions:
            return
        with self._lock:
            # one call for the batch's reports: the resolver takes a batch in order, equal
            # to one report at a time, with one comparison pass
            for resolution in self.resolver.resolve(mentions, cases):
                for case_a, case_b, nats, sentence in person_evidence(resolution, roles=self.roles):
                    if case_a == case_b:
                        continue
                    pair = (case_a, case_b) if case_a < case_b else (case_b, case_a)
                    old = self.evidence.get(pair)
                    if old is None or nats > old[0]:
                        self.evidence[pair] = (nats, sentence)
                        self._changed.add(pair)

    def drain_changed(self) -> set[tuple[str, str]]:
        with self._lock:
            changed, self._changed = self._changed, set()
            return changed

    def between(self, case_a: str, case_b: str) -> tuple[float, str] | None:
        pair = (case_a, case_b) if case_a < case_b else (case_b, case_a)
        with self._lock:
            return self.evidence.get(pair)

    def between_many(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, str] | None]:
        """:meth:`between` of each pair, in order, under one hold of the lock (the linker
        asks about every pair of a batch: thousands, most without person evidence)."""
        with self._lock:
            get = self.evidence.get
            return [get((a, b) if a < b else (b, a)) for a, b in pairs]
