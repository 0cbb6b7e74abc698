"""Co-presence evidence: entities near two or more case scenes become candidate links.

:class:`CoPresence` owns the space-time state of the pipeline: the sighting
index, the checkpoint registry, entity ids and statistics, and for every case
its scene window and its weighted hits. It links cases as data arrives:

* a new case runs a scene query; every unusual entity (weight >= ``min_weight``)
  it shares with earlier cases yields evidence for a link;
* a sighting that arrives late and falls inside an open case's window is caught
  by a standing query (checkpoint -> open windows, a numba kernel) and can
  create a link then, without re-running anything.

Evidence for cases A and B through entity *e* scores ``w_A + w_B`` minus a
penalty growing with the number of scenes *e* was near, and carries a sentence
a case officer would write.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from graph.spacetime import _kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry, RadiusPolicy
from graph.spacetime.entities import EntityStats, entity_key
from graph.spacetime.index import BASE_EPOCH, SightingIndex, to_index_time
from graph.spacetime.interning import Interner
from graph.spacetime.scene import (
    History,
    SceneHits,
    SceneWindow,
    describe_distance,
    describe_offset,
    history,
    scene_hits,
    scene_window,
)

__all__ = ["CoPresence", "Collision", "Hit", "LinkEvidence", "SAME_TRIP_S"]

SAME_TRIP_S = 3 * 3600  # hits closer in time than this may be one trip past both scenes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hit:
    """An entity seen near a case's scene."""

    case_id: str
    checkpoint: str
    dist_m: float
    offset_s: int
    weight: float
    p: float
    at: int  # index time


@dataclass(frozen=True)
class LinkEvidence:
    """One entity placing two cases' offenders together, with its score and explanation."""

    case_a: str
    case_b: str
    entity: str  # entity key, e.g. plate:浙B12345
    score: float
    detail: str
    hit_a: Hit
    hit_b: Hit
    kind: str = "vehicle"  # vehicle | phone | mac

    @property
    def pair(self) -> tuple[str, str]:
        return (self.case_a, self.case_b)


@dataclass(frozen=True)
class Collision:
    """An entity near several of a set of scenes (collision analysis)."""

    entity: str
    scenes: int
    weight: float
    hits: tuple[Hit, ...]

    def describe(self) -> str:
        return f"{_label(self.entity)} seen near {self.scenes} scenes: " + "; ".join(
            f"{describe_distance(h.dist_m)} from {h.case_id}" for h in self.hits
        )


@dataclass
class _Case:
    case_id: str
    window: SceneWindow
    close_at: int  # index time after which late sightings are no longer awaited
    hits: dict[int, Hit] = field(default_factory=dict)  # entity id -> best unusual hit
    past: History | None = None  # history table for late sightings, built on first need


def _label(key: str) -> str:
    return key.split(":", 1)[1]


MAX_NEAR_SCENES = 40  # an entity unusually near more scenes than this links none of them


class CoPresence:
    """Space-time linkage state: sighting index, entity statistics, case windows and hits."""

    def __init__(
        self,
        retention_hours: int = 24 * 30,
        late_hours: float = 24.0,
        min_weight: float = 0.05,
        policy: RadiusPolicy | None = None,
        history_days: int = 7,
        max_window_h: float = 36.0,
    ) -> None:
        self.index = SightingIndex(retention_hours=retention_hours)
        self.checkpoints = CheckpointRegistry(policy)
        self.entities = Interner()
        self.stats = EntityStats()
        self.late_s = int(late_hours * 3600)
        self.min_weight = min_weight
        self.history_days = history_days
        self.max_window_h = max_window_h
        self.cases: dict[str, _Case] = {}
        self.near: dict[int, dict[str, Hit]] = {}  # entity -> case -> hit
        self._windows: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None = None
        self.rejected_too_old = 0

    # -- sightings ------------------------------------------------------------
    def add_sightings(
        self,
        kinds: Iterable[str],
        entities: Iterable[str],
        checkpoints: Iterable[tuple[str, float, float]],
        epoch_s: np.ndarray,
    ) -> list[LinkEvidence]:
        """Index a batch of sightings; returns link evidence created by late ones."""
        keys = [entity_key(k, v) for k, v in zip(kinds, entities, strict=True)]
        if not keys:
            return []
        ent = self.entities.intern_many(keys)
        cp = np.asarray(
            [self.checkpoints.register(n, lon, lat) for n, lon, lat in checkpoints], dtype=np.int32
        )
        if cp.shape != ent.shape:
            raise ValueError(f"{len(keys)} entities but {cp.size} checkpoints in one batch")
        epoch = np.asarray(epoch_s, dtype=np.float64)
        if epoch.shape != ent.shape:
            raise ValueError(f"{len(keys)} entities but {epoch.size} times in one batch")
        holdable = (epoch >= BASE_EPOCH) & (epoch < BASE_EPOCH + 2**31 - 1)
        if not holdable.all():
            # a sensor clock reset to 1970 must not stop the pipeline: count and skip
            self.rejected_too_old += int((~holdable).sum())
            log.warning(
                "%d sightings with times the index cannot hold skipped", int((~holdable).sum())
            )
            ent, cp, epoch = ent[holdable], cp[holdable], epoch[holdable]
        t = to_index_time(epoch)
        stats = self.index.append(ent, cp, t)
        self.rejected_too_old += stats.too_old
        floor = self.index.oldest_time
        fresh = t >= floor
        _, _, xs, ys = self.checkpoints.arrays
        self.stats.update(ent[fresh], t[fresh], xs[cp[fresh]], ys[cp[fresh]])
        return self._standing(ent[fresh], cp[fresh], t[fresh])

    def _standing_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """CSR checkpoint -> open case windows (rebuilt when cases open or close)."""
        if self._windows is None:
            now = self.index.watermark
            rows: list[tuple[int, int, int, str]] = []
            for case in self.cases.values():
                if case.close_at >= now:
                    rows.extend(
                        (int(c), case.window.t0, case.window.t1, case.case_id)
                        for c in case.window.cps
                    )
            n_cp = len(self.checkpoints)
            rows.sort(key=lambda r: r[0])
            ptr = np.zeros(n_cp + 1, dtype=np.int64)
            for c, *_ in rows:
                ptr[c + 1] += 1
            self._windows = (
                np.cumsum(ptr),
                np.asarray([r[1] for r in rows], dtype=np.int64),
                np.asarray([r[2] for r in rows], dtype=np.int64),
                [r[3] for r in rows],
            )
        return self._windows

    def _standing(self, ent: np.ndarray, cp: np.ndarray, t: np.ndarray) -> list[LinkEvidence]:
        if not self.cases or ent.size == 0:
            return []
        ptr, w0, w1, owners = self._standing_windows()
        if ptr.shape[0] - 1 < len(self.checkpoints):  # new checkpoints since the build
            self._windows = None
            ptr, w0, w1, owners = self._standing_windows()
        s_idx, w_idx = kern.standing_matches(cp, t.astype(np.int64), ptr, w0, w1)
        if s_idx.size == 0:
            return []
        by_case: dict[str, set[int]] = {}
        for s, w in zip(s_idx.tolist(), w_idx.tolist(), strict=True):
            by_case.setdefault(owners[w], set()).add(int(ent[s]))
        evidence: list[LinkEvidence] = []
        for case_id, ents in by_case.items():
            case = self.cases[case_id]
            fresh = np.fromiter((e for e in ents if e not in case.hits), dtype=np.int32)
            if fresh.size == 0:
                continue
            if case.past is None:
                case.past = history(self.index, case.window, self.history_days)
            hits = scene_hits(
                self.index,
                self.checkpoints,
                self.stats,
                case.window,
                self.history_days,
                only=fresh,
                past=case.past,
            )
            evidence.extend(self._register_hits(case, hits))
        return evidence

    # -- cases ----------------------------------------------------------------
    def add_case(
        self, case_id: str, lon: float, lat: float, start: dt.datetime, end: dt.datetime
    ) -> list[LinkEvidence]:
        """Open a case's scene window, query it, and return link evidence to earlier cases.

        A case already known is left as it is (supplementary reports do not move the scene).
        """
        if case_id in self.cases:
            return []
        t_start, t_end = (
            int(x) for x in to_index_time(np.array([start.timestamp(), end.timestamp()]))
        )
        window = scene_window(self.checkpoints, lon, lat, t_start, t_end)
        case = _Case(case_id, window, close_at=window.t1 + self.late_s)
        self.cases[case_id] = case
        self._windows = None
        if window.cps.size == 0:
            log.info("case %s: no checkpoint within %.0f m of the scene", case_id, window.radius_m)
            return []
        hits = scene_hits(
            self.index,
            self.checkpoints,
            self.stats,
            window,
            self.history_days,
            excused=self._excuse(case_id),
        )
        return self._register_hits(case, hits)

    def _excuse(self, case_id: str) -> Callable[[np.ndarray, int, int], np.ndarray]:
        """Presence explained by another case: the entity was near that case's scene then."""

        def excused(ents: np.ndarray, t0: int, t1: int) -> np.ndarray:
            out = np.zeros(ents.size, dtype=bool)
            for i, e in enumerate(ents.tolist()):
                for other, hit in self.near.get(e, {}).items():
                    if other != case_id and t0 - 3600 <= hit.at <= t1 + 3600:
                        out[i] = True
                        break
            return out

        return excused

    def _register_hits(self, case: _Case, hits: SceneHits) -> list[LinkEvidence]:
        evidence: list[LinkEvidence] = []
        for i in np.flatnonzero(hits.weight >= self.min_weight):
            e = int(hits.ent[i])
            hit = self._hit(case.case_id, hits, int(i))
            previous = case.hits.get(e)
            if previous is not None and previous.weight >= hit.weight:
                continue
            case.hits[e] = hit
            others = self.near.setdefault(e, {})
            others[case.case_id] = hit
            if len(others) > MAX_NEAR_SCENES:
                # near this many scenes an entity is part of the background (a bus, a
                # delivery van): pairing it with every one of them would cost O(scenes^2)
                # evidence for links the ubiquity penalty cancels anyway
                continue
            for other_id, other in others.items():
                if other_id != case.case_id:
                    evidence.append(self._evidence(e, other, hit))
        return evidence

    def _hit(self, case_id: str, hits: SceneHits, i: int) -> Hit:
        """Row ``i`` of a scene query's answer as a :class:`Hit`."""
        return Hit(
            case_id,
            self.checkpoints.names.value(int(hits.cp[i])),
            float(hits.dist_m[i]),
            int(hits.t[i]) - hits.window.start,
            float(hits.weight[i]),
            float(hits.p[i]),
            int(hits.t[i]),
        )

    def crowd(self, case_id: str) -> int:
        """How many entities had an unusual hit near the case's scene (0 if unknown)."""
        case = self.cases.get(case_id)
        return len(case.hits) if case is not None else 0

    def penalty(self, e: int) -> float:
        """Score penalty for an entity near many scenes (ubiquity across cases)."""
        k = len(self.near.get(e, ()))
        return 0.5 * math.log(max(1.0, k - 2.0))

    def _evidence(self, e: int, a: Hit, b: Hit) -> LinkEvidence:
        if a.case_id > b.case_id:
            a, b = b, a
        key = self.entities.value(e)
        kind = {"plate": "vehicle", "phone": "phone", "mac": "mac"}[key.split(":", 1)[0]]
        if abs(a.at - b.at) < SAME_TRIP_S:
            # one trip past two nearby scenes is one observation, not two
            score = max(a.weight, b.weight) - self.penalty(e)
        else:
            score = a.weight + b.weight - self.penalty(e)
        ca, cb = self.cases[a.case_id].window, self.cases[b.case_id].window
        detail = (
            f"{_label(key)} seen {describe_distance(a.dist_m)} from scene {a.case_id} "
            f"{describe_offset(a.offset_s, ca.start, ca.end)}, "
            f"{describe_distance(b.dist_m)} from scene {b.case_id} "
            f"{describe_offset(b.offset_s, cb.start, cb.end)} "
            f"(chance {a.p:.0%} and {b.p:.0%}; near {len(self.near.get(e, ()))} scenes)"
        )
        return LinkEvidence(a.case_id, b.case_id, key, score, detail, a, b, kind)

    def collide(self, case_ids: Iterable[str], min_scenes: int = 2) -> list[Collision]:
        """Collision analysis: the entities near at least ``min_scenes`` of the given scenes.

        What an investigator does by hand with a set of similar cases: list every
        vehicle or phone seen near each scene during its window, keep those near
        several, drop fleet vehicles, and rank by the number of scenes, then by
        the summed rarity weight. Complexity: one scene query per case.
        """
        per_entity: dict[int, list[Hit]] = {}
        for case_id in case_ids:
            case = self.cases.get(case_id)
            if case is None or case.window.cps.size == 0:
                continue
            hits = scene_hits(
                self.index,
                self.checkpoints,
                self.stats,
                case.window,
                self.history_days,
                excused=self._excuse(case_id),
            )
            keep = ~self.stats.is_fleet(hits.ent) if len(hits) else np.zeros(0, bool)
            for i in np.flatnonzero(keep):
                per_entity.setdefault(int(hits.ent[i]), []).append(self._hit(case_id, hits, int(i)))
        out = [
            Collision(self.entities.value(e), len(hs), sum(h.weight for h in hs), tuple(hs))
            for e, hs in per_entity.items()
            if len(hs) >= min_scenes
        ]
        out.sort(key=lambda c: (-c.scenes, -c.weight))
        return out

    def evidence_between(self, case_a: str, case_b: str) -> list[LinkEvidence]:
        """All co-presence evidence currently linking two cases, strongest first."""
        a, b = self.cases.get(case_a), self.cases.get(case_b)
        if a is None or b is None:
            return []
        shared = a.hits.keys() & b.hits.keys()
        out = [self._evidence(e, a.hits[e], b.hits[e]) for e in shared]
        return sorted(out, key=lambda ev: -ev.score)

    def entity_hits(self, key: str) -> dict[str, Hit]:
        """The cases an entity (by key, e.g. ``plate:浙B12345``) was unusually near."""
        e = self.entities.get(key)
        return dict(self.near.get(e, {})) if e is not None else {}
