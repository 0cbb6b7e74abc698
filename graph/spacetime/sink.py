"""The space-time core as a pipeline sink: sightings into the index, cases into scene queries.

:class:`SpaceTimeSink` receives each batch of newly accepted messages in order,
feeds runs of sightings to :class:`~graph.spacetime.copresence.CoPresence` and
opens a scene window for every new case whose category involves physical
presence at a scene (thefts, burglaries, robberies by default; a fraud's
"scene" is an office and its window weeks long). Every piece of link evidence
is kept per case pair, strongest first, for the linkage graph and ``icc explain``.

Once an hour of stream time it also looks for companions over the last days
(:func:`~graph.spacetime.companions.find_companions`): when two vehicles travel
together and each was near different scenes, that bridges those cases — the
crew that changed vehicles mid-series.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from graph.spacetime.companions import find_companions
from graph.spacetime.copresence import CoPresence, LinkEvidence
from graph.spacetime.scene import describe_distance
from ingest.models import Incident, Message, Sighting

__all__ = ["PHYSICAL_PREFIXES", "SpaceTimeSink"]

log = logging.getLogger(__name__)

#: categories whose offenders must have been at the scene
PHYSICAL_PREFIXES = ("theft.", "burglary.", "robbery")


def _label(key: str) -> str:
    return key.split(":", 1)[1]


class SpaceTimeSink:
    """Feeds the co-presence core from the pipeline and collects link evidence."""

    def __init__(
        self,
        core: CoPresence | None = None,
        physical_prefixes: tuple[str, ...] = PHYSICAL_PREFIXES,
        companion_every_s: int = 3600,
        companion_lookback_s: int = 3 * 86400,
        companion_min_score: float = 6.0,
    ) -> None:
        self.core = core or CoPresence()
        self.physical_prefixes = physical_prefixes
        self.companion_every_s = companion_every_s
        self.companion_lookback_s = companion_lookback_s
        self.companion_min_score = companion_min_score
        self.evidence: dict[tuple[str, str], dict[str, LinkEvidence]] = {}
        self.categories: dict[str, str] = {}  # case -> category of its first report
        self.companions: dict[tuple[str, str], tuple[float, int]] = {}  # keys -> (score, events)
        self._changed: set[tuple[str, str]] = set()
        self._companions_at = -(2**31)
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
            if self.core.index.watermark - self._companions_at >= self.companion_every_s:
                self.refresh_companions()

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

    def refresh_companions(self) -> int:
        """Look for companions over the last ``companion_lookback_s`` and bridge their cases.

        Returns the number of case pairs that got new companion evidence.
        """
        with self._lock:
            now = self.core.index.watermark
            self._companions_at = now
            if now < 0:
                return 0
            found = find_companions(self.core.index, max(0, now - self.companion_lookback_s), now)
            bridged = 0
            strong = np.flatnonzero(found.score >= self.companion_min_score)
            for i in strong:
                a, b = int(found.a[i]), int(found.b[i])
                score, events = float(found.score[i]), int(found.events[i])
                key_a, key_b = self.core.entities.value(a), self.core.entities.value(b)
                self.companions[(key_a, key_b)] = (score, events)
                bridged += self._bridge(a, b, score, events)
            return bridged

    def _bridge(self, a: int, b: int, score: float, events: int) -> int:
        near_a = self.core.near.get(a, {})
        near_b = self.core.near.get(b, {})
        key_a, key_b = self.core.entities.value(a), self.core.entities.value(b)
        made = 0
        for case_a, hit_a in near_a.items():
            for case_b, hit_b in near_b.items():
                if case_a == case_b or case_b in near_a or case_a in near_b:
                    continue  # the same entity already speaks for both cases
                lo, hi = (hit_a, hit_b) if case_a < case_b else (hit_b, hit_a)
                first, second = (key_a, key_b) if lo is hit_a else (key_b, key_a)
                detail = (
                    f"{_label(key_a)} and {_label(key_b)} travelled together past {events} "
                    f"checkpoints; {_label(first)} seen {describe_distance(lo.dist_m)} from scene "
                    f"{lo.case_id}, {_label(second)} {describe_distance(hi.dist_m)} from scene {hi.case_id}"
                )
                ev = LinkEvidence(
                    lo.case_id,
                    hi.case_id,
                    f"{key_a}+{key_b}",
                    score,
                    detail,
                    lo,
                    hi,
                    kind="companion",
                )
                before = len(self._changed)
                self._keep([ev])
                made += len(self._changed) > before
        return made

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
