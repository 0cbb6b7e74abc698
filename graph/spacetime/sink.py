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
crew that changed vehicles mid-series. A tick can bridge thousands of case
pairs, each to be scored again downstream; they are queued, strongest companion
pair first, and each micro-batch bridges enough of them to bring the case pairs
it changed up to ``bridge_budget`` (a busy batch a fifth of it), so no single
batch of reports waits for all of them. The queue moves with the sequence of
batches and their contents only (never with time or thread speed), so a replay
of the journal, batch for batch, bridges the same pairs at the same batches.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from graph.spacetime.companions import (
    Companions,
    companion_pairs,
    companion_pairs_in_background,
    find_companions,
    gather_window,
)
from graph.spacetime.copresence import CoPresence, LinkEvidence, PreparedSightings
from graph.spacetime.evidence import EvidenceStore
from graph.spacetime.scene import describe_distance
from ingest.batch import sighting_columns
from ingest.models import Incident, Message

__all__ = ["PHYSICAL_PREFIXES", "SpaceTimeSink"]

log = logging.getLogger(__name__)

COMPANION_STEP = 1.0  # nats a companion pair's score must rise to be bridged again
#: a companion pair scoring below ``companion_min_score`` (down to this many nats) is still
#: bridged when each of its vehicles was unusually near two scenes or more: a crew that
#: changed vehicles and commutes with both scores low on the trip-count discount
WEAK_COMPANION_MIN = -5.0
#: the largest gap between two vehicles' reads at one checkpoint that counts as travelling
#: together: a second vehicle following at 60-90 s is a convoy too, and each meeting is
#: weighed against the checkpoint's traffic anyway (:mod:`graph.spacetime.companions`)
COMPANION_MAX_GAP_S = 120
#: meetings (trips past cameras together) that make two vehicles companions: a switch is
#: often two trips together, and a pair with only two scores lower (weak pairs bridge only
#: between vehicles each near several scenes)
COMPANION_MIN_EVENTS = 2
#: case pairs changed per micro-batch up to which companion bridging tops a batch up (the
#: pairs the batch's sightings changed count too; the rest of the bridges wait in order) ...
BRIDGE_BUDGET = 300
#: ... and the share of it bridging gets however busy the batch (the queue always moves)
BRIDGE_FLOOR = 0.2
#: evidence tried per micro-batch at most, per case pair of the budget (most of a pair
#: bridged again for new scenes only is no change, and cheap)
_TRIES_PER_BRIDGE = 8

#: categories whose offenders must have been at the scene
PHYSICAL_PREFIXES = ("theft.", "burglary.", "robbery")


def _is_count(value: object, low: int) -> bool:
    """An integer (Python or NumPy, not a bool) of at least ``low``."""
    return not isinstance(value, bool) and isinstance(value, int | np.integer) and int(value) >= low


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
        companion_max_gap_s: int = COMPANION_MAX_GAP_S,
        companion_min_events: int = COMPANION_MIN_EVENTS,
        background_companions: bool = True,
        bridge_budget: int | None = BRIDGE_BUDGET,
    ) -> None:
        if not _is_count(companion_max_gap_s, 0):
            raise ValueError(
                f"companion_max_gap_s must be a count of seconds >= 0, got {companion_max_gap_s!r}"
            )
        if not _is_count(companion_min_events, 1):
            raise ValueError(
                f"companion_min_events must be a count >= 1, got {companion_min_events!r}"
            )
        if bridge_budget is not None and bridge_budget < 1:
            raise ValueError(
                f"bridge_budget must be a positive count or None, got {bridge_budget!r}"
            )
        self.core = core or CoPresence()
        self.core.defer_standing = True  # judged once per micro-batch, in apply()
        self.physical_prefixes = physical_prefixes
        self.companion_every_s = companion_every_s
        self.companion_lookback_s = companion_lookback_s
        self.companion_min_score = companion_min_score
        self.companion_max_gap_s = int(companion_max_gap_s)
        self.companion_min_events = int(companion_min_events)
        self.background_companions = background_companions
        #: case pairs changed per micro-batch up to which bridging tops a batch up (see
        #: :meth:`_allowance`; None: a tick's pairs are all bridged in its own batch)
        self.bridge_budget = bridge_budget
        self._worker: ThreadPoolExecutor | None = None
        self._pending: Future[Companions] | None = None
        #: companion pair -> (score, (scenes near a, near b), events) when last bridged
        self._bridged: dict[tuple[int, int], tuple[float, tuple[int, int], int]] = {}
        #: companion pairs (a, b, score, events) to bridge, in order; the evidence of the
        #: one being bridged waits in ``_bridging``
        self._to_bridge: deque[tuple[int, int, float, int]] = deque()
        self._bridging: deque[LinkEvidence] = deque()
        #: best evidence per (case pair, entity key), compact; reads like a dict of dicts
        self.evidence = EvidenceStore(
            self.core.entities.get, self.core.entities.value, self._window_span
        )
        self.categories: dict[str, str] = {}  # case -> category of its first report
        self.companions: dict[tuple[str, str], tuple[float, int]] = {}  # keys -> (score, events)
        self._changed: set[tuple[str, str]] = set()
        self._companions_at = -(2**31)
        self.version = 0
        self._lock = threading.RLock()

    def apply(self, messages: Sequence[Message]) -> None:
        cols = sighting_columns(messages)
        with self._lock:
            # ids for the whole batch at once; the index takes them run by run
            prepared = self.core.prepare_sightings(
                cols.kinds,
                cols.entities,
                cols.checkpoint_ids,
                cols.lons,
                cols.lats,
                cols.epoch_s,
                keys=cols.entity_keys,
            )
            lo = 0
            for cut, msg in cols.others:
                if not isinstance(msg, Incident):
                    continue
                if msg.category.startswith(self.physical_prefixes):
                    # the sightings before a scene's report are indexed before its query;
                    # other reports query nothing, so a run of sightings goes on past them
                    # (each run costs a pass through the index and the open windows)
                    self._sightings(prepared, lo, cut)
                    lo = cut
                self._incident(msg)
            self._sightings(prepared, lo, len(cols))
            self._keep(self.core.flush_standing())
            if self.core.index.watermark - self._companions_at >= self.companion_every_s:
                self._companion_tick()
            if messages and (self._to_bridge or self._bridging):
                self._bridge_queued(self._allowance())  # only batches a replay has too

    def _sightings(self, prepared: PreparedSightings, lo: int, hi: int) -> None:
        """Index the sightings ``lo:hi`` of a batch."""
        if hi <= lo:
            return
        self._keep(self.core.add_prepared(prepared, lo, hi))
        self._revise()

    def _incident(self, msg: Incident) -> None:
        self.categories.setdefault(msg.case, msg.category)
        if not msg.category.startswith(self.physical_prefixes):
            return
        self._keep(
            self.core.add_case(msg.case, msg.lon, msg.lat, msg.occurred_start, msg.occurred_end)
        )

    def _companion_tick(self) -> None:
        """The hourly companion search, off the reports' path.

        The search over the last ``companion_lookback_s`` (seconds for a province's
        three days) runs on a worker thread on a copy of the sightings; its pairs
        are queued for bridging at the next tick, an hour of stream time later.
        Waiting for a search that is not done yet, and the point where its result
        lands, are fixed by the stream, not by the machine's speed: replays stay
        identical. With ``background_companions`` off, each tick searches and queues
        at once. The queue is bridged by :meth:`apply`, ``bridge_budget`` case pairs
        a micro-batch.
        """
        now = self.core.index.watermark
        self._companions_at = now
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._queue_bridges(pending.result())
        if now < 0:
            return
        cp, ent, t = gather_window(self.core.index, max(0, now - self.companion_lookback_s), now)
        if not self.background_companions:
            self._queue_bridges(companion_pairs(cp, ent, t, *self._companion_limits))
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="icc-companions")
        self._pending = self._worker.submit(
            companion_pairs_in_background, cp, ent, t, *self._companion_limits
        )

    @property
    def _companion_limits(self) -> tuple[int, int]:
        """(largest gap in seconds, fewest meetings) of the companion search."""
        return self.companion_max_gap_s, self.companion_min_events

    def _bridge_all(self, found: Companions) -> int:
        """Bridge the cases of ``found``'s pairs now (see :meth:`_queue_bridges` for
        which), after any pairs still queued. Returns the case pairs that got new
        evidence."""
        self._queue_bridges(found)
        return self._bridge_queued(None)

    def _queue_bridges(self, found: Companions) -> int:
        """Queue every strong companion pair, and every weaker one (down to
        :data:`WEAK_COMPANION_MIN`) whose vehicles were each near two scenes or more,
        in ``found``'s order (strongest first). A pair found again (each search looks
        three days back) is bridged again only when its score rose by
        ``COMPANION_STEP`` nats or its vehicles were near new scenes: a score creeping up
        by a few hundredths an hour would otherwise re-score all its case pairs hourly.
        Returns the number of companion pairs queued."""
        queued = 0
        near = self.core.near
        for i in np.flatnonzero(found.score >= WEAK_COMPANION_MIN).tolist():
            a, b = int(found.a[i]), int(found.b[i])
            score, events = float(found.score[i]), int(found.events[i])
            sizes = (len(near.get(a, ())), len(near.get(b, ())))
            if score < self.companion_min_score and min(sizes) < 2:
                continue  # weak, and not a pair of vehicles each near several scenes
            key_a, key_b = self.core.entities.value(a), self.core.entities.value(b)
            self.companions[(key_a, key_b)] = (score, events)
            last = self._bridged.get((a, b))
            if last is not None and score < last[0] + COMPANION_STEP:
                if last[1] == sizes:
                    continue
                score, events = last[0], last[2]  # new scenes only, at the score they had
            self._bridged[(a, b)] = (score, sizes, events)
            self._to_bridge.append((a, b, score, events))
            queued += 1
        return queued

    def _allowance(self) -> int | None:
        """Case pairs this batch may bridge: up to ``bridge_budget`` changed pairs with
        those the batch changed already (the linker scores each), and at least
        :data:`BRIDGE_FLOOR` of it. Depends on the batch's messages and state only, so a
        replay gives the same."""
        if self.bridge_budget is None:
            return None
        floor = max(1, int(self.bridge_budget * BRIDGE_FLOOR))
        return max(floor, self.bridge_budget - len(self._changed))

    def _bridge_queued(self, budget: int | None) -> int:
        """Bridge queued companion pairs, in order, until ``budget`` case pairs got new
        evidence (or ``_TRIES_PER_BRIDGE`` times as many were tried); all with ``None``.
        A pair's case pairs are made when it comes first in the queue, from the scenes
        its vehicles were near then. Returns the case pairs that got new evidence.
        O(case pairs tried)."""
        made = tried = 0
        if budget is None:
            cap = tries = sys.maxsize
        else:
            cap, tries = budget, budget * _TRIES_PER_BRIDGE
        bridging, changed = self._bridging, self._changed
        while made < cap and tried < tries:
            if not bridging:
                if not self._to_bridge:
                    break
                bridging.extend(self._bridge_evidence(*self._to_bridge.popleft()))
                continue
            ev = bridging.popleft()
            tried += 1
            if self.evidence.keep(ev):
                made += ev.pair not in changed
                changed.add(ev.pair)
                self.version += 1
        return made

    @property
    def bridges_waiting(self) -> int:
        """Companion pairs queued for bridging, counting one partly bridged."""
        with self._lock:
            return len(self._to_bridge) + bool(self._bridging)

    def close(self) -> None:
        """Stop the companion worker (a search under way is dropped)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None
            self._pending = None

    def refresh_companions(self) -> int:
        """Look for companions over the last ``companion_lookback_s`` and bridge their cases,
        with whatever is still queued, now.

        Returns the number of case pairs that got new companion evidence.
        """
        with self._lock:
            now = self.core.index.watermark
            self._companions_at = now
            if self._pending is not None:
                pending, self._pending = self._pending, None
                self._queue_bridges(pending.result())
            if now >= 0:
                lo = max(0, now - self.companion_lookback_s)
                self._queue_bridges(
                    find_companions(self.core.index, lo, now, *self._companion_limits)
                )
            return self._bridge_queued(None)

    def _bridge_evidence(self, a: int, b: int, score: float, events: int) -> list[LinkEvidence]:
        """Companion evidence for every pair of a scene vehicle ``a`` was near and a scene
        vehicle ``b`` was near (not when one vehicle speaks for both scenes itself)."""
        near_a = self.core.near.get(a, {})
        near_b = self.core.near.get(b, {})
        key_a, key_b = self.core.entities.value(a), self.core.entities.value(b)
        out: list[LinkEvidence] = []
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
                out.append(
                    LinkEvidence(
                        lo.case_id,
                        hi.case_id,
                        f"{key_a}+{key_b}",
                        score,
                        detail,
                        lo,
                        hi,
                        kind="companion",
                    )
                )
        return out

    def _window_span(self, case_id: str) -> tuple[int, int]:
        w = self.core.cases[case_id].window
        return (w.start, w.end)

    def _keep(self, found: list[LinkEvidence]) -> None:
        stored = self.evidence.keep_all(found)
        if stored:
            self._changed.update(stored)
            self.version += len(stored)

    def _revise(self) -> None:
        """Apply the core's revisions (scenes judged again): replace or withdraw evidence."""
        revisions, self.core.revisions = self.core.revisions, []
        for pair, entity, ev in revisions:
            if not self.evidence.put(pair, entity, ev):
                continue
            self._changed.add(pair)
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
            for pair in self.evidence:
                kept = [e for e in self.evidence.between(*pair) if e.score >= min_score]
                if kept:
                    out[pair] = kept
            return out

    def summary(
        self, case_a: str, case_b: str, k: int = 3
    ) -> tuple[list[LinkEvidence], int, LinkEvidence | None]:
        """Top ``k`` entity evidence, the number of entities, the best companion bridge
        (see :meth:`EvidenceStore.summary`)."""
        with self._lock:
            return self.evidence.summary(case_a, case_b, k)

    def between(self, case_a: str, case_b: str) -> list[LinkEvidence]:
        """Evidence linking two cases (either order), strongest first."""
        with self._lock:
            return self.evidence.between(case_a, case_b)
