"""Co-presence evidence: entities near two or more case scenes become candidate links.

:class:`CoPresence` owns the space-time state of the pipeline: the sighting
index, the checkpoint registry, entity ids and statistics, and for every case
its scene window and its weighted hits. It links cases as data arrives:

* a new case runs a scene query; every unusual entity (weight >= ``min_weight``)
  it shares with earlier cases yields evidence for a link;
* a sighting that arrives late and falls inside an open case's window is caught
  by a standing query (checkpoint -> open windows, a numba kernel) and can
  create a link then, without re-running anything;
* a case is judged again ``REJUDGE_AFTER_S`` after its window (1 and 2 days):
  rarity rests on what the stream has taught about each entity (its rate, its
  hours, where it goes), and a report judged in the first hours of a stream
  sees little of that. The new judgement replaces the old one (it can also
  withdraw a hit: the "unusual" truck turns out to pass there every night);
  the changes wait in :attr:`CoPresence.revisions` for the sink. (Judging by
  the nights *after* the scene as well was tried: it merged two neighbouring
  crews that work the same nights, see NOTES.md.)

Evidence for cases A and B through entity *e* scores ``w_A + w_B`` minus a
penalty growing with the number of scenes *e* was near, and carries a sentence
a case officer would write.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from graph.spacetime import _kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry, RadiusPolicy
from graph.spacetime.entities import EntityStats, entity_key
from graph.spacetime.evidence import LinkEvidence
from graph.spacetime.index import BASE_EPOCH, SightingIndex, to_index_time
from graph.spacetime.interning import Interner
from graph.spacetime.scene import (
    History,
    SceneHits,
    SceneWindow,
    describe_distance,
    history,
    scene_hits,
    scene_window,
)

__all__ = ["CoPresence", "Collision", "Hit", "LinkEvidence", "SAME_TRIP_S"]

SAME_TRIP_S = 3 * 3600  # hits closer in time than this may be one trip past both scenes
REJUDGE_AFTER_S = (86400, 2 * 86400)  # judge a scene again this long after its window ends

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
    #: the longest time between two consecutive reads of the entity near the scene, up to
    #: STAY_MAX_S (0: seen once, or only in passing): how long it stayed around the scene
    stay_s: int = 0


_HIT_FIELDS = ("case_id", "checkpoint", "dist_m", "offset_s", "weight", "p", "at", "stay_s")
_hit_setters = tuple(Hit.__dict__[name].__set__ for name in _HIT_FIELDS)


def make_hit(
    case_id: str,
    checkpoint: str,
    dist_m: float,
    offset_s: int,
    weight: float,
    p: float,
    at: int,
    stay_s: int,
) -> Hit:
    """``Hit(...)`` built in half the time (the slots set directly, not through the frozen
    dataclass's ``__init__``): a scene query at a province's scale records hundreds."""
    hit = object.__new__(Hit)
    s0, s1, s2, s3, s4, s5, s6, s7 = _hit_setters
    s0(hit, case_id)
    s1(hit, checkpoint)
    s2(hit, dist_m)
    s3(hit, offset_s)
    s4(hit, weight)
    s5(hit, p)
    s6(hit, at)
    s7(hit, stay_s)
    return hit


@dataclass(frozen=True, slots=True)
class PreparedSightings:
    """A micro-batch's sightings half-way into the index (:meth:`CoPresence.prepare_sightings`):
    entity ids and index times, which times the index can hold (None: all), and the
    checkpoints as reported (registered run by run)."""

    ent: np.ndarray
    t: np.ndarray
    holdable: np.ndarray | None
    checkpoint_ids: Sequence[str]
    lons: Sequence[float]
    lats: Sequence[float]


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
    judged: int = 1  # scene judgements so far (the first when the report arrived)


#: the evidence kind of each entity key's prefix
_KINDS = {"plate": "vehicle", "phone": "phone", "mac": "mac"}


def _score(a: Hit, b: Hit, penalty: float) -> float:
    """Evidence (nats) of one entity's hits at two scenes: both hits' weights less the
    ubiquity penalty; one trip past two nearby scenes is one observation, not two."""
    if abs(a.at - b.at) < SAME_TRIP_S:
        return max(a.weight, b.weight) - penalty
    return a.weight + b.weight - penalty


def _index_second(epoch_s: float) -> int:
    """:func:`to_index_time` of one time as a plain int: the floor of the same float64
    difference, without the half-dozen numpy calls (a report's scene pays two). A time the
    index cannot hold goes through :func:`to_index_time` for its ``ValueError``."""
    rel = epoch_s - BASE_EPOCH
    if 0.0 <= rel < 2.0**31:  # False for NaN too
        return math.floor(rel)
    return int(to_index_time(np.array([epoch_s]))[0])


def _label(key: str) -> str:
    return key.split(":", 1)[1]


#: reported entity forms remembered by :meth:`CoPresence.entity_ids` (~100 bytes each)
RAW_IDS_MAX = 500_000
#: how long closed windows may stay in the standing lookup before it is rebuilt (stream s)
STANDING_REBUILD_S = 3600

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
        #: reported entity forms that are not normal forms -> entity id (see entity_ids)
        self._raw_ids: dict[str, int] = {}
        self.near: dict[int, dict[str, Hit]] = {}  # entity -> case -> hit
        self._windows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        #: cases whose windows may still be open, in the order they were added (closed ones
        #: are dropped when the standing CSR is rebuilt: the watermark never goes back)
        self._open: list[_Case] = []
        self._unbuilt = 0  # cases at the end of _open added since the CSR was built
        self._min_close = 2**62  # earliest close_at over _open
        self.rejected_too_old = 0
        self._due: list[tuple[int, str]] = []  # (index time, case) of the next judgements
        #: evidence replaced (or withdrawn: ``None``) by judgements again, per (pair, entity
        #: key), oldest first; the owner drains it after each call
        self.revisions: list[tuple[tuple[str, str], str, LinkEvidence | None]] = []
        #: entities seen at an open scene since the last :meth:`flush_standing`, per case
        #: (insertion order = the order the cases were first matched)
        self._standing_pending: dict[str, set[int]] = {}
        #: hold standing matches until :meth:`flush_standing` (the owner calls it once per
        #: micro-batch) instead of judging them at the end of every :meth:`add_sightings`
        self.defer_standing = False

    # -- sightings ------------------------------------------------------------
    def add_sightings(
        self,
        kinds: Iterable[str],
        entities: Iterable[str],
        checkpoints: Iterable[tuple[str, float, float]],
        epoch_s: np.ndarray,
    ) -> list[LinkEvidence]:
        """Index a batch of sightings; returns link evidence created by late ones."""
        cps = list(checkpoints)
        return self.add_sighting_columns(
            list(kinds),
            list(entities),
            [c[0] for c in cps],
            [c[1] for c in cps],
            [c[2] for c in cps],
            epoch_s,
        )

    def entity_ids(
        self, kinds: Sequence[str], values: Sequence[str], keys: Sequence[str] | None = None
    ) -> np.ndarray:
        """Interned ids (int32) of entities as sensors report them (see :func:`entity_key`).

        A value already in its normal form (an ANPR plate, a phone in digits) is found by
        its key directly; other reported forms ("+86 138-...") are normalised once and
        remembered (up to ``RAW_IDS_MAX`` forms, then forgotten at once). The two agree
        because normalising is idempotent: if ``kind:value`` is a known key, ``value`` is
        some entity's normal form and normalises to itself. ``keys``, if given, are the
        entities' normal keys already made (by the worker that validated the batch): each
        id is then that key's, as it is for the reported form.
        """
        if len(kinds) != len(values):
            raise ValueError(f"{len(kinds)} entity kinds but {len(values)} entities")
        if keys is not None:
            if len(keys) != len(kinds):
                raise ValueError(f"{len(kinds)} entity kinds but {len(keys)} keys")
            found: list[int | None] = list(map(self.entities.ids.get, keys))
            if None in found:  # new entities get ids in the order they are seen
                intern = self.entities.intern
                for i in [i for i, ident in enumerate(found) if ident is None]:
                    found[i] = intern(keys[i])
            return np.asarray(found, dtype=np.int32)
        get = self.entities.ids.get
        intern = self.entities.intern
        normal = entity_key.__wrapped__  # a new entity is seen once here: no LRU churn
        raw = self._raw_ids
        out = []
        for kind, value in zip(kinds, values, strict=True):
            key = kind + ":" + value
            ident = get(key)
            if ident is None:
                ident = raw.get(key)
                if ident is None:
                    norm = normal(kind, value)
                    ident = intern(norm)
                    if norm != key:  # only forms that are not normal need remembering
                        if len(raw) >= RAW_IDS_MAX:
                            raw.clear()  # bounded memory; busy forms come back at once
                        raw[key] = ident
            out.append(ident)
        return np.asarray(out, dtype=np.int32)

    def add_sighting_columns(
        self,
        kinds: Sequence[str],
        entities: Sequence[str],
        checkpoint_ids: Sequence[str],
        lons: Sequence[float],
        lats: Sequence[float],
        epoch_s: np.ndarray,
    ) -> list[LinkEvidence]:
        """:meth:`add_sightings` with the checkpoints as three columns (no tuple a row)."""
        prepared = self.prepare_sightings(kinds, entities, checkpoint_ids, lons, lats, epoch_s)
        return self.add_prepared(prepared, 0, len(kinds))

    def prepare_sightings(
        self,
        kinds: Sequence[str],
        entities: Sequence[str],
        checkpoint_ids: Sequence[str],
        lons: Sequence[float],
        lats: Sequence[float],
        epoch_s: np.ndarray,
        keys: Sequence[str] | None = None,
    ) -> PreparedSightings:
        """Entity ids and index times of a micro-batch's sightings, for :meth:`add_prepared`
        to index run by run.

        Entity ids are handed out in the order of the sightings, as run-by-run calls would,
        and only this assigns them, so interning the whole batch at once changes no id.
        Checkpoints are different: a scene query takes the checkpoints known when its
        report arrives, so they are registered run by run (:meth:`add_prepared`). O(n).
        """
        ent = self.entity_ids(kinds, entities, keys)
        if not len(checkpoint_ids) == len(lons) == len(lats) == ent.size:
            raise ValueError(
                f"{ent.size} entities but {len(checkpoint_ids)} checkpoints in one batch"
            )
        epoch = np.asarray(epoch_s, dtype=np.float64)
        if epoch.shape != ent.shape:
            raise ValueError(f"{ent.size} entities but {epoch.size} times in one batch")
        holdable = (epoch >= BASE_EPOCH) & (epoch < BASE_EPOCH + 2**31 - 1)
        if holdable.all():
            return PreparedSightings(ent, to_index_time(epoch), None, checkpoint_ids, lons, lats)
        t = to_index_time(np.where(holdable, epoch, BASE_EPOCH))  # the others are left out
        return PreparedSightings(ent, t, holdable, checkpoint_ids, lons, lats)

    def add_prepared(self, prepared: PreparedSightings, lo: int, hi: int) -> list[LinkEvidence]:
        """Index the sightings ``lo:hi`` of a batch given to :meth:`prepare_sightings`;
        returns link evidence created by late ones. A sensor clock reset to 1970 must not
        stop the pipeline: sightings with times the index cannot hold are counted, logged
        and left out."""
        if hi <= lo:
            return []
        cp = self.checkpoints.register_many(
            prepared.checkpoint_ids[lo:hi], prepared.lons[lo:hi], prepared.lats[lo:hi]
        )
        ent, t = prepared.ent[lo:hi], prepared.t[lo:hi]
        if prepared.holdable is not None:
            keep = prepared.holdable[lo:hi]
            if not keep.all():
                skipped = int((~keep).sum())
                self.rejected_too_old += skipped
                log.warning("%d sightings with times the index cannot hold skipped", skipped)
                ent, cp, t = ent[keep], cp[keep], t[keep]
        for a, b in self._chunks(t):
            self._index(ent[a:b], cp[a:b], t[a:b])
            self.rejudge_due()
        return [] if self.defer_standing else self.flush_standing()

    def _chunks(self, t: np.ndarray) -> Iterable[tuple[int, int]]:
        """Split a batch after each sighting that carries the stream past a judgement's
        due time, so judgements see the same data whatever the batch boundaries."""
        lo = 0
        reach = np.maximum.accumulate(np.maximum(t, self.index.watermark)) if t.size else t
        while lo < t.size:
            if not self._due:
                yield lo, t.size
                return
            hi = int(reach.searchsorted(self._due[0][0], side="left")) + 1  # no np. wrapper
            hi = max(lo + 1, min(hi, t.size))
            yield lo, hi
            lo = hi

    def _index(self, ent: np.ndarray, cp: np.ndarray, t: np.ndarray) -> None:
        stats = self.index.append(ent, cp, t)
        if stats.too_old:  # (the index's floor: what it left out is what is older)
            self.rejected_too_old += stats.too_old
            fresh = t >= self.index.oldest_time
            ent, cp, t = ent[fresh], cp[fresh], t[fresh]
        _, _, xs, ys = self.checkpoints.arrays
        self.stats.update_at(ent, t, cp, xs, ys)
        self._standing(ent, cp, t)

    def _standing_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """CSR checkpoint -> open case windows (rebuilt when cases open or close).

        Returns (ptr int64[n_cp + 1], t0, t1, owner) with rows stably sorted by
        checkpoint: each checkpoint lists its windows in the order the cases were
        added. ``owner`` indexes :attr:`_open`. Cases added since the last call are
        merged in (:meth:`_merge_new`); new checkpoints, or the earliest closed window
        closed ``STANDING_REBUILD_S`` ago, refit it (:meth:`_refit`: closed cases
        dropped, the same arrays a rebuild from the open cases gives). Closed windows
        stay until then (a rebuild per closing window cost ~1 ms a batch);
        :meth:`_standing` ignores their matches.
        Complexity: O(open windows' checkpoints).
        """
        now = self.index.watermark
        n_cp = len(self.checkpoints)
        if self._windows is None:
            self._open = [case for case in self._open if case.close_at >= now]
            self._min_close = min((c.close_at for c in self._open), default=2**62)
            self._windows = self._window_rows(self._open, 0, n_cp)
        else:
            stale = self._min_close < now - STANDING_REBUILD_S
            if stale or self._windows[0].shape[0] - 1 != n_cp:
                self._windows = self._refit(self._windows, now, n_cp)
            if self._unbuilt:
                self._windows = self._merge_new(self._windows)
        self._unbuilt = 0
        return self._windows

    def _refit(
        self,
        built: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        now: int,
        n_cp: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``built`` as a rebuild from the cases of :attr:`_open` still open at ``now``
        would make it over ``n_cp`` checkpoints, but for the last ``_unbuilt`` cases (left
        for :meth:`_merge_new`): closed cases are dropped from :attr:`_open` and their rows
        from the CSR by one kernel pass (:func:`kern.refit_csr`), not by concatenating and
        sorting every open window again (new checkpoints or a window closing an hour ago
        asked for that a few hundred times a stream)."""
        n_built = len(self._open) - self._unbuilt
        kept = [case.close_at >= now for case in self._open]
        new_owner = np.cumsum(kept, dtype=np.int64) - 1
        new_owner[~np.asarray(kept, dtype=bool)] = -1
        self._unbuilt = sum(kept[n_built:])
        self._open = [case for case, keep in zip(self._open, kept, strict=True) if keep]
        self._min_close = min((c.close_at for c in self._open), default=2**62)
        return kern.refit_csr(*built, new_owner[:n_built], n_cp)

    @staticmethod
    def _window_rows(
        cases: list[_Case], first_owner: int, n_cp: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ptr, t0, t1, owner) of ``cases``' windows, rows stably sorted by checkpoint."""
        sizes = np.fromiter((case.window.cps.size for case in cases), np.int64, len(cases))
        cps = np.concatenate([case.window.cps for case in cases] + [np.empty(0, np.int32)])
        cps = cps.astype(np.int64)
        t0 = np.repeat(np.fromiter((c.window.t0 for c in cases), np.int64, len(cases)), sizes)
        t1 = np.repeat(np.fromiter((c.window.t1 for c in cases), np.int64, len(cases)), sizes)
        owner = np.repeat(np.arange(first_owner, first_owner + len(cases), dtype=np.int64), sizes)
        order = np.argsort(cps, kind="stable")
        ptr = np.zeros(n_cp + 1, dtype=np.int64)
        np.cumsum(np.bincount(cps, minlength=n_cp)[:n_cp], out=ptr[1:])
        return ptr, t0[order], t1[order], owner[order]

    def _merge_new(
        self, built: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``built`` with the windows of the last ``_unbuilt`` cases of ``_open`` added
        after each checkpoint's rows (they come after every built case).

        Usually one case was added since the last call: its window is merged in by one
        kernel call (:func:`kern.merge_window`, case by case: each checkpoint's rows stay
        in the order the cases were added, as one merge of all of them would give)."""
        first = len(self._open) - self._unbuilt
        ptr, t0, t1, owner = built
        for own in range(first, len(self._open)):
            window = self._open[own].window
            ptr, t0, t1, owner = kern.merge_window(
                ptr, t0, t1, owner, window.cps, window.t0, window.t1, own
            )
        return ptr, t0, t1, owner

    def _standing(self, ent: np.ndarray, cp: np.ndarray, t: np.ndarray) -> None:
        """Note the sightings that fall in open scene windows (judged by
        :meth:`flush_standing`)."""
        if not self.cases or ent.size == 0:
            return
        ptr, w0, w1, owners = self._standing_windows()  # over every checkpoint registered
        open_cases = self._open
        if w0.shape[0] == 0:  # no window near any checkpoint
            return
        s_idx, w_idx = kern.standing_matches(cp, t, ptr, w0, w1)  # int32 t: exact compares
        if s_idx.size == 0:
            return
        now = self.index.watermark
        pending = self._standing_pending
        for e, o in zip(ent[s_idx].tolist(), owners[w_idx].tolist(), strict=True):
            case = open_cases[o]
            if case.close_at < now:
                continue  # closed since the lookup was built
            case_id = case.case_id
            ents = pending.get(case_id)
            if ents is None:
                pending[case_id] = ents = set()
            ents.add(e)

    def flush_standing(self) -> list[LinkEvidence]:
        """Judge the entities seen at open scenes since the last call: one scene query per
        case for all of them (a case matched by many runs of a micro-batch is queried once),
        with the history table built on the case's first late sighting. Returns the new
        link evidence."""
        pending, self._standing_pending = self._standing_pending, {}
        evidence: list[LinkEvidence] = []
        for case_id, ents in pending.items():
            case = self.cases[case_id]
            fresh = np.fromiter(sorted(e for e in ents if e not in case.hits), dtype=np.int32)
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
        t_start, t_end = _index_second(start.timestamp()), _index_second(end.timestamp())
        window = scene_window(self.checkpoints, lon, lat, t_start, t_end)
        case = _Case(case_id, window, close_at=window.t1 + self.late_s)
        self.cases[case_id] = case
        self._open.append(case)
        self._unbuilt += 1
        self._min_close = min(self._min_close, case.close_at)
        if window.cps.size == 0:
            log.info("case %s: no checkpoint within %.0f m of the scene", case_id, window.radius_m)
            return []
        heapq.heappush(self._due, (window.t1 + REJUDGE_AFTER_S[0], case_id))
        hits = scene_hits(
            self.index,
            self.checkpoints,
            self.stats,
            window,
            self.history_days,
            excused=self._excuse(case_id),
        )
        return self._register_hits(case, hits)

    def rejudge_due(self) -> int:
        """Judge again the scenes whose next judgement the stream has reached; returns how
        many. Called as sightings are indexed; the changes go to :attr:`revisions`."""
        done = 0
        while self._due and self._due[0][0] <= self.index.watermark:
            _, case_id = heapq.heappop(self._due)
            case = self.cases[case_id]
            self.rejudge(case_id)
            done += 1
            if case.judged <= len(REJUDGE_AFTER_S):
                due = case.window.t1 + REJUDGE_AFTER_S[case.judged - 1]
                heapq.heappush(self._due, (due, case_id))
        return done

    def rejudge(self, case_id: str) -> None:
        """Run a case's scene query again with what the stream knows now and replace its
        hits: evidence through each entity is revised, hits no longer unusual withdrawn."""
        case = self.cases[case_id]
        case.judged += 1
        self._standing_pending.pop(case_id, None)  # the full query below sees them too
        hits = scene_hits(
            self.index,
            self.checkpoints,
            self.stats,
            case.window,
            self.history_days,
            excused=self._excuse(case_id),
        )
        new = dict(self._hits_of(case_id, hits, np.flatnonzero(hits.weight >= self.min_weight)))
        for e in sorted(case.hits.keys() - new.keys()):
            others = self.near.get(e, {})
            others.pop(case_id, None)
            key = self.entities.value(e)
            for other_id in others:
                pair = (case_id, other_id) if case_id < other_id else (other_id, case_id)
                self.revisions.append((pair, key, None))
        case.hits = new
        case.past = None
        spans: dict[str, tuple[int, int, int, int]] = {}  # see _evidence_with
        for e in sorted(new):
            others = self.near.setdefault(e, {})
            others[case_id] = new[e]
            if 1 < len(others) <= MAX_NEAR_SCENES:
                found: list[LinkEvidence] = []
                self._evidence_with(e, new[e], others, found, spans)
                self.revisions.extend((ev.pair, ev.entity, ev) for ev in found)

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
        """Record a scene query's unusual hits on the case and return the evidence they
        make with every other scene their entities were near.

        A province's case has hundreds of unusual entities, each near a few other scenes:
        over a thousand evidence rows a case. The hits are built from plain lists
        (:meth:`_hits_of`); an entity near no other scene, most of them, costs a dictionary
        insert, and what depends only on the entity (its key, kind, ubiquity penalty) is
        worked out once per entity."""
        evidence: list[LinkEvidence] = []
        rows = np.flatnonzero(hits.weight >= self.min_weight)
        if not rows.size:
            return evidence
        case_id = case.case_id
        near, known = self.near, case.hits
        spans: dict[str, tuple[int, int, int, int]] = {}  # see _evidence_with
        for e, hit in self._hits_of(case_id, hits, rows):
            previous = known.get(e)
            if previous is not None and previous.weight >= hit.weight:
                continue
            known[e] = hit
            others = near.get(e)
            if others is None:
                near[e] = {case_id: hit}  # near this scene only: no evidence yet
                continue
            others[case_id] = hit
            # near more than MAX_NEAR_SCENES an entity is part of the background (a bus, a
            # delivery van): pairing it with every one of them would cost O(scenes^2)
            # evidence for links the ubiquity penalty cancels anyway
            if 1 < len(others) <= MAX_NEAR_SCENES:
                self._evidence_with(e, hit, others, evidence, spans)
        return evidence

    def _evidence_with(
        self,
        e: int,
        hit: Hit,
        others: dict[str, Hit],
        out: list[LinkEvidence],
        spans: dict[str, tuple[int, int, int, int]],
    ) -> None:
        """Append the evidence entity ``e`` makes between ``hit``'s case and each other
        case in ``others`` (the entity's hits by case): :meth:`_evidence` for each, with
        what depends on the entity alone worked out once, and each case pair's windows
        (``spans``: other case -> both windows' start and end, the lower case first) once
        per scene query, not once per entity: a case whose entities were near many scenes
        makes thousands of rows with a few dozen other cases."""
        key = self.entities.values[e]
        kind = _KINDS[key[: key.index(":")]]
        near = len(others)
        penalty = 0.5 * math.log(max(1.0, near - 2.0))  # :meth:`penalty`
        case_id = hit.case_id
        at, weight = hit.at, hit.weight
        compact = LinkEvidence.compact
        for other_id, other in others.items():
            if other_id == case_id:
                continue
            pair_spans = spans.get(other_id)
            if pair_spans is None:
                pair_spans = spans[other_id] = self._spans(case_id, other_id)
            # _score, inline (symmetric in its hits): thousands a case
            if abs(at - other.at) < SAME_TRIP_S:
                score = max(other.weight, weight) - penalty
            else:
                score = other.weight + weight - penalty
            if other_id < case_id:
                ev = compact(other_id, case_id, key, score, other, hit, kind, near, e, pair_spans)
            else:
                ev = compact(case_id, other_id, key, score, hit, other, kind, near, e, pair_spans)
            out.append(ev)

    def _spans(self, case_a: str, case_b: str) -> tuple[int, int, int, int]:
        """Start and end of two cases' scene windows, the lower case id's first."""
        if case_b < case_a:
            case_a, case_b = case_b, case_a
        wa, wb = self.cases[case_a].window, self.cases[case_b].window
        return (wa.start, wa.end, wb.start, wb.end)

    def _hits_of(self, case_id: str, hits: SceneHits, rows: np.ndarray) -> list[tuple[int, Hit]]:
        """(entity id, :class:`Hit`) of rows ``rows`` of a scene query's answer, as
        :meth:`_hit` builds them: a query records hundreds, so the columns are read as
        plain lists once, the checkpoints named by list indexing and the hits built by
        :func:`make_hit`."""
        start = hits.window.start
        names = self.checkpoints.names.values
        columns = zip(
            hits.ent[rows].tolist(),
            hits.cp[rows].tolist(),
            hits.dist_m[rows].tolist(),
            hits.t[rows].tolist(),
            hits.weight[rows].tolist(),
            hits.p[rows].tolist(),
            hits.stay_s[rows].tolist(),
            strict=True,
        )
        return [
            (e, make_hit(case_id, names[cp], dist_m, t - start, weight, p, t, stay_s))
            for e, cp, dist_m, t, weight, p, stay_s in columns
        ]

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
            int(hits.stay_s[i]),
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
        kind = _KINDS[key.split(":", 1)[0]]
        score = _score(a, b, self.penalty(e))
        ca, cb = self.cases[a.case_id].window, self.cases[b.case_id].window
        # the sentence is written when read (graph.spacetime.evidence): millions of
        # these are kept, few are ever shown
        return LinkEvidence(
            a.case_id,
            b.case_id,
            key,
            score,
            None,
            a,
            b,
            kind,
            near=len(self.near.get(e, ())),
            ent_id=e,
            spans=(ca.start, ca.end, cb.start, cb.end),
        )

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
