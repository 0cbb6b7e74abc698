"""The space-time core as a pipeline sink: sightings into the index, cases into scene queries.

:class:`SpaceTimeSink` receives each batch of newly accepted messages in order,
feeds runs of sightings to :class:`~graph.spacetime.copresence.CoPresence` and
opens a scene window for every new case whose category involves physical
presence at a scene (thefts, burglaries, robberies by default; a fraud's
"scene" is an office and its window weeks long). Every piece of link evidence
is kept per case pair, strongest first, for the linkage graph and ``icc explain``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from graph.spacetime.copresence import CoPresence, LinkEvidence
from ingest.models import Incident, Message, Sighting

__all__ = ["PHYSICAL_PREFIXES", "SpaceTimeSink"]

log = logging.getLogger(__name__)

#: categories whose offenders must have been at the scene
PHYSICAL_PREFIXES = ("theft.", "burglary.", "robbery")


class SpaceTimeSink:
    """Feeds the co-presence core from the pipeline and collects link evidence."""

    def __init__(
        self, core: CoPresence | None = None, physical_prefixes: tuple[str, ...] = PHYSICAL_PREFIXES
    ) -> None:
        self.core = core or CoPresence()
        self.physical_prefixes = physical_prefixes
        self.evidence: dict[tuple[str, str], dict[str, LinkEvidence]] = {}
        self.categories: dict[str, str] = {}  # case -> category of its first report
        self._changed: set[tuple[str, str]] = set()
        self.version = 0
        self._lock = threading.RLock()

    def apply(self, messages: Sequence[Message]) -> None:
        run: list[Sighting] = []
        with self._lock:
            for msg in messages:
                if isinstance(msg, Sighting):
                    run.append(msg)
                    continue
                self._sightings(run)
                run = []
                if isinstance(msg, Incident):
                    self._incident(msg)
            self._sightings(run)

    def _sightings(self, run: list[Sighting]) -> None:
        if not run:
            return
        found = self.core.add_sightings(
            [s.entity_kind for s in run],
            [s.entity for s in run],
            [(s.checkpoint_id, s.lon, s.lat) for s in run],
            np.fromiter((s.at.timestamp() for s in run), dtype=np.float64, count=len(run)),
        )
        self._keep(found)

    def _incident(self, msg: Incident) -> None:
        self.categories.setdefault(msg.case, msg.category)
        if not msg.category.startswith(self.physical_prefixes):
            return
        self._keep(
            self.core.add_case(msg.case, msg.lon, msg.lat, msg.occurred_start, msg.occurred_end)
        )

    def _keep(self, found: list[LinkEvidence]) -> None:
        for ev in found:
            per_pair = self.evidence.setdefault(ev.pair, {})
            old = per_pair.get(ev.entity)
            if old is None or ev.score > old.score:
                per_pair[ev.entity] = ev
                self._changed.add(ev.pair)
                self.version += 1

    def drain_changed(self) -> set[tuple[str, str]]:
        """Case pairs whose evidence changed since the last call."""
        with self._lock:
            changed, self._changed = self._changed, set()
            return changed

    def links(self, min_score: float = 0.0) -> dict[tuple[str, str], list[LinkEvidence]]:
        """Case pairs with co-presence evidence, each with its evidence strongest first."""
        with self._lock:
            out = {}
            for pair, per_entity in self.evidence.items():
                kept = sorted(
                    (e for e in per_entity.values() if e.score >= min_score), key=lambda e: -e.score
                )
                if kept:
                    out[pair] = kept
            return out

    def between(self, case_a: str, case_b: str) -> list[LinkEvidence]:
        """Evidence linking two cases (either order), strongest first."""
        pair = (case_a, case_b) if case_a < case_b else (case_b, case_a)
        with self._lock:
            return sorted(self.evidence.get(pair, {}).values(), key=lambda e: -e.score)
