"""Companions: entities that repeatedly pass the same checkpoints within a short interval.

A naive "same camera within 30 s, then count" flags half a city: busy cameras,
rush hour and buses on one route put strangers side by side all day. Here every
co-occurrence is weighed against the background of its checkpoint and hour.

Model
-----
Two sightings of different entities at checkpoint *c*, ``dt <= max_gap_s``
apart, form a co-occurrence with gap ``g = max(dt, min_gap_s)``. If ``d`` is
the number of distinct entities passing *c* in that hour (the larger of the two
sightings' hours), entities pass at ``rate = d / 3600`` per second, and the
chance that *some* entity passes within ``g`` of a given one by accident is
``p = 1 - exp(-2 g rate)``. The co-occurrence carries ``w = -ln p`` nats.
Co-occurrences with ``w < min_weight`` (default 0.2 nats, i.e. ``p > 0.82``:
more likely an accident than not) are background — a bus stop at rush hour —
and are neither counted nor kept; a sighting is compared with at most
``window_cap`` following sightings of its checkpoint.

A pair's co-occurrences, ordered by time, are chained into *events* while
consecutive ones are at most ``event_window_s`` apart: one trip past a row of
neighbouring cameras is one event, worth ``max w + trip_decay * (sum w - max w)``.
The pair's ``evidence`` is the sum over its events, and it is reported when it
has at least ``min_events`` events.

Ubiquitous entities (a bus "accompanies" everyone) need two discounts:

* *partners*: with ``k_a`` the number of distinct entities *a* had any
  qualifying co-occurrence with, the prior odds that a given partner is a real
  companion are about ``1 / k_a`` (a multiple-testing correction);
* *chances*: a pair met on ``k`` events out of ``m`` trips, where a trip is a
  run of one entity's own sightings at most ``event_window_s`` apart and ``m``
  the larger trip count of the two (at least ``k``). Summing ``-ln p`` over the
  meetings ignores the trips on which they did not meet; ``ln C(m, k)`` (the
  ways to pick the meeting trips) puts that back. A resident who meets the bus
  on 4 of 8 trips is ordinary; a car that follows another on all 4 trips is not.

``score = evidence - opportunity_penalty * ln C(m, k) - hub_penalty * (ln k_a + ln k_b)``.

Complexity: O(n + n_cp + P) time for n sightings producing P qualifying
co-occurrences (a counting sort by checkpoint, per-checkpoint local sorts and
window scans, co-occurrences written straight into cache-sized hash buckets and
grouped there: no global sort and no ``np.unique``), parallel over numba
threads; memory about 32 bytes per sighting plus 16 per co-occurrence, plus one
bit per entity id.

Example
-------
>>> import numpy as np
>>> cp = np.array([1, 1, 2, 2, 3, 3], np.int32)
>>> ent = np.array([10, 11, 10, 11, 11, 10], np.int32)
>>> t = np.array([100, 110, 5000, 5020, 9000, 9030], np.int32)
>>> found = companion_pairs(cp, ent, t)
>>> found.a.tolist(), found.b.tolist(), found.events.tolist()
([10], [11], [3])
>>> [(p, e) for p, _, e in found.partners_of(11)]
[(10, 3)]
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numba
import numpy as np

from graph.spacetime import _companion_kernels as kern
from graph.spacetime.index import PARTITION_S, SightingIndex

__all__ = [
    "Companions",
    "companion_pairs",
    "companion_pairs_in_background",
    "find_companions",
    "gather_window",
    "synthetic_sightings",
]

log = logging.getLogger(__name__)

_I32_MAX = 2**31 - 1
_PAR_MIN_ROWS = 1 << 16  # below this, one chunk: thread start-up costs more than it saves
_MAX_PAIRS_PER_ROW = 16  # dense synthetic traffic gives 0.5-2.5; beyond 16 memory would swamp


@dataclass(frozen=True)
class Companions:
    """Companion pairs as parallel arrays, sorted by ``score`` descending.

    ``a < b`` are entity ids; ``events`` the distinct co-occurrence events;
    ``evidence`` the summed ``-ln p`` in nats; ``score`` the evidence after the
    ubiquity discounts; ``partners_a``/``partners_b`` how many distinct entities
    each had any qualifying co-occurrence with; ``chances`` the trips ``m`` the
    events are weighed against; ``first_t``/``last_t`` the first and last
    co-occurrence (index time).
    """

    a: np.ndarray
    b: np.ndarray
    events: np.ndarray
    score: np.ndarray
    evidence: np.ndarray
    partners_a: np.ndarray
    partners_b: np.ndarray
    chances: np.ndarray
    first_t: np.ndarray
    last_t: np.ndarray

    @classmethod
    def empty(cls) -> Companions:
        i32 = np.empty(0, np.int32)
        f64 = np.empty(0, np.float64)
        return cls(i32, i32, i32, f64, f64, i32, i32, i32, i32, i32)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def partners_of(self, entity_id: int) -> list[tuple[int, float, int]]:
        """``(partner, score, events)`` of every pair with ``entity_id``, best first. O(len)."""
        hit_a = self.a == entity_id
        hit_b = self.b == entity_id
        rows = np.flatnonzero(hit_a | hit_b)  # already in score order
        other = np.where(hit_a[rows], self.b[rows], self.a[rows])
        return [
            (int(o), float(s), int(e))
            for o, s, e in zip(other, self.score[rows], self.events[rows], strict=True)
        ]


def _column(name: str, arr: object) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if a.dtype == np.int32:
        return np.ascontiguousarray(a)
    if a.size == 0:
        return np.empty(0, np.int32)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (int32 ids / index times), got dtype {a.dtype}")
    lo, hi = int(a.min()), int(a.max())
    if lo < -(2**31) or hi > _I32_MAX:
        raise ValueError(f"{name} holds {lo if lo < -(2**31) else hi}, outside int32")
    return a.astype(np.int32)


def _check_params(
    max_gap_s: int,
    min_events: int,
    min_gap_s: int,
    event_window_s: int,
    trip_decay: float,
    min_weight: float,
    window_cap: int,
    hub_penalty: float,
    opportunity_penalty: float,
) -> float:
    """Validate the parameters; returns the qualification bound ``q`` on ``g * d``."""
    if not 0 <= max_gap_s <= 65535:
        raise ValueError(f"max_gap_s={max_gap_s}: expected 0..65535 seconds")
    if min_events < 1:
        raise ValueError(f"min_events={min_events}: expected at least 1")
    if not 1 <= min_gap_s <= 65535:
        raise ValueError(f"min_gap_s={min_gap_s}: expected 1..65535 seconds")
    if event_window_s < 0:
        raise ValueError(f"event_window_s={event_window_s}: expected >= 0 seconds")
    if not 0.0 <= trip_decay <= 1.0:
        raise ValueError(f"trip_decay={trip_decay}: expected 0..1")
    if window_cap < 1:
        raise ValueError(f"window_cap={window_cap}: expected at least 1")
    if hub_penalty < 0:
        raise ValueError(f"hub_penalty={hub_penalty}: expected >= 0")
    if opportunity_penalty < 0:
        raise ValueError(f"opportunity_penalty={opportunity_penalty}: expected >= 0")
    if not min_weight > 0:
        raise ValueError(f"min_weight={min_weight}: expected > 0 nats")
    # w >= min_weight  <=>  2 g d / 3600 <= -ln(1 - exp(-min_weight))  <=>  g * d <= q
    q = 0.5 * PARTITION_S * -math.log(-math.expm1(-min_weight))
    if q / min_gap_s >= 65536:  # the distinct count is packed in 16 bits
        raise ValueError(f"min_weight={min_weight} is too small with min_gap_s={min_gap_s}")
    return q


def _log_choose(m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``ln C(m, k)`` elementwise for integer arrays with 0 <= k <= m."""
    lgamma = np.frompyfunc(math.lgamma, 1, 1)
    m = np.asarray(m, np.float64)
    k = np.asarray(k, np.float64)
    if m.size == 0:
        return np.zeros(0)
    return (lgamma(m + 1) - lgamma(k + 1) - lgamma(m - k + 1)).astype(np.float64)


def _threads() -> int:
    return max(1, int(numba.get_num_threads()))


def companion_pairs(
    cp: np.ndarray,
    ent: np.ndarray,
    t: np.ndarray,
    max_gap_s: int = 60,
    min_events: int = 3,
    *,
    min_gap_s: int = 5,
    event_window_s: int = 600,
    trip_decay: float = 0.25,
    min_weight: float = 0.2,
    window_cap: int = 128,
    hub_penalty: float = 1.0,
    opportunity_penalty: float = 1.0,
) -> Companions:
    """Companion pairs among sightings (checkpoint id, entity id, index time) in any order.

    See the module docstring for the model. Parameters: ``max_gap_s`` the
    largest gap between the two sightings of a co-occurrence; ``min_events``
    the distinct events a pair needs; ``min_gap_s`` the floor of the gap in
    ``p`` (clock resolution); ``event_window_s`` the chaining gap of events and
    trips; ``trip_decay`` the weight of further co-occurrences within one
    event; ``min_weight`` the background cut in nats; ``window_cap`` how many
    following sightings each sighting is compared with; ``hub_penalty`` and
    ``opportunity_penalty`` scale the two ubiquity discounts (0 turns one off).

    Raises ``ValueError`` for arrays of different lengths, negative ids or times,
    parameters out of range, and degenerate input producing more than 16
    co-occurrences per sighting; ``TypeError`` for non-integer arrays. Empty
    input gives an empty :class:`Companions`.

    Complexity: O(n + n_cp + P) time for P qualifying co-occurrences, on all
    numba threads (one thread below 65536 sightings); memory about 32 bytes per
    sighting plus 16 per co-occurrence.
    """
    q = _check_params(
        max_gap_s, min_events, min_gap_s, event_window_s, trip_decay, min_weight, window_cap,
        hub_penalty, opportunity_penalty,
    )  # fmt: skip
    cp, ent, t = _column("cp", cp), _column("ent", ent), _column("t", t)
    if not cp.shape == ent.shape == t.shape:
        raise ValueError(
            f"cp, ent and t must have one length, got {cp.shape[0]}, {ent.shape[0]}, {t.shape[0]}"
        )
    n = cp.shape[0]
    if n == 0:
        return Companions.empty()
    params = _Params(
        max_gap_s, min_events, min_gap_s, event_window_s, trip_decay, window_cap, hub_penalty,
        opportunity_penalty, q,
    )  # fmt: skip
    if n >= _PAR_MIN_ROWS:
        return _detect(cp, ent, t, params)
    # small inputs run on the calling thread: waking a thread team that the OS has
    # parked (a busy machine) can cost a scheduler tick per parallel region
    saved = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _detect(cp, ent, t, params)
    finally:
        numba.set_num_threads(saved)


@dataclass(frozen=True, slots=True)
class _Params:
    max_gap_s: int
    min_events: int
    min_gap_s: int
    event_window_s: int
    trip_decay: float
    window_cap: int
    hub_penalty: float
    opportunity_penalty: float
    q: float


def _detect(cp: np.ndarray, ent: np.ndarray, t: np.ndarray, p: _Params) -> Companions:
    """The pipeline of :func:`companion_pairs` on validated, non-empty int32 columns."""
    n = cp.shape[0]
    max_gap_s, min_events, min_gap_s = p.max_gap_s, p.min_events, p.min_gap_s
    event_window_s, trip_decay, window_cap, q = p.event_window_s, p.trip_decay, p.window_cap, p.q
    t_start = time.perf_counter()
    threads = _threads()
    n_chunks = threads if n >= _PAR_MIN_ROWS else 1
    cp_min, cp_max, ent_min, ent_max, t_min, t_max = (
        int(x) for x in kern.minmax3(cp, ent, t, n_chunks)
    )
    if cp_min < 0:
        raise ValueError(f"checkpoint ids must be >= 0 (interned ids), got {cp_min}")
    if ent_min < 0:
        raise ValueError(f"entity ids must be >= 0 (interned ids), got {ent_min}")
    if t_min < 0:
        raise ValueError(f"times must be >= 0 (index time, s since 2020-01-01Z), got {t_min}")

    # sparse ids (not interned) would make the per-id arrays huge: compact them first
    ent_ids = None
    if ent_max >= 4 * n + (1 << 20):
        ent_ids, inv = np.unique(ent, return_inverse=True)
        ent = inv.astype(np.int32)
        ent_max = ent_ids.shape[0] - 1
        log.info("entity ids are sparse (max %d for %d rows): compacted", ent_ids[-1], n)
    if cp_max >= min(2 * n + 1024, 1 << 22):  # the counting sort keeps a count per id and thread
        _, inv = np.unique(cp, return_inverse=True)
        cp = inv.astype(np.int32)
        cp_max = int(cp.max())
    n_ent = ent_max + 1
    n_cp = cp_max + 1

    # 1. bucket by checkpoint; 2. per segment: time order, distinct per hour, pair counts
    ent2 = np.empty(n, np.int32)  # numpy allocates big arrays on huge pages
    t2 = np.empty(n, np.int32)
    ptr = kern.sort_by_cp(cp, ent, t, n_cp, n_chunks, ent2, t2)
    chunks = kern.cp_chunks(ptr, 8 * threads if n >= _PAR_MIN_ROWS else 1)
    bits = max(1, (n_ent - 1).bit_length())
    kb = min(16, max(1, (n >> 10).bit_length()))  # ~1k co-occurrences per bucket if P ~ n
    d = np.empty(n, np.int32)
    hist = kern.segment_pass(
        ptr, ent2, t2, d, chunks, threads, max_gap_s, min_gap_s, q, window_cap, bits, kb
    )
    t_sorted = time.perf_counter()

    # 3. qualifying co-occurrences as packed pair keys, straight into hash buckets
    off, bptr = kern.bucket_offsets(hist)
    total = int(bptr[-1])
    limit = _MAX_PAIRS_PER_ROW * n + (1 << 22)
    if total > limit:
        raise ValueError(
            f"{total} co-occurrences from {n} sightings (more than {limit}): the input looks "
            "degenerate (bursts of many entities within seconds at one checkpoint); "
            "lower window_cap or max_gap_s"
        )
    kp = np.empty((total, 2), np.int64)  # pair key, payload
    kern.emit_pairs(
        ptr, ent2, t2, d, chunks, threads, off, kp, max_gap_s, min_gap_s, q, window_cap, bits, kb,
        t_min,
    )  # fmt: skip
    del d, ent2, t2, ptr
    t_pairs = time.perf_counter()

    # 4. group by pair inside each bucket, then score the pairs with enough co-occurrences
    n_work = 4 * threads if total >= _PAR_MIN_ROWS else 1
    n_long, n_short = kern.group_buckets(kp, bptr, min_events, kb, n_work)
    starts, ends = kern.long_runs(kp, bptr, n_long)
    a, b, events, evidence, first_t, last_t = kern.evaluate_runs(
        kp, starts, ends, bits, t_min, event_window_s, trip_decay, min_events,
        4 * threads if starts.shape[0] >= 1024 else 1,
    )  # fmt: skip
    keep = events >= min_events
    a, b, events, evidence = a[keep], b[keep], events[keep], evidence[keep]
    first_t, last_t = first_t[keep], last_t[keep]
    marked = np.unique(np.concatenate([a, b])).astype(np.int64)
    filt, bitmap = kern.mark_entities(marked, n_ent)
    partners = kern.partner_counts(kp, bptr, n_long, n_short, bits, marked, filt, bitmap, n_work)
    del kp
    trips = kern.marked_trips(ent, t, marked, filt, bitmap, event_window_s, n_chunks)
    ia, ib = np.searchsorted(marked, a), np.searchsorted(marked, b)
    pa, pb = partners[ia], partners[ib]
    chances = np.maximum(np.maximum(trips[ia], trips[ib]), events)
    score = (
        evidence
        - p.opportunity_penalty * _log_choose(chances, events)
        - p.hub_penalty * (np.log(pa) + np.log(pb))
    )
    if ent_ids is not None:
        a, b = ent_ids[a].astype(np.int32), ent_ids[b].astype(np.int32)
    order = np.lexsort((b, a, -score))
    out = Companions(
        a[order], b[order], events[order], score[order], evidence[order],
        pa[order], pb[order], chances[order].astype(np.int32), first_t[order], last_t[order],
    )  # fmt: skip
    t_end = time.perf_counter()
    log.debug(
        "companions: %d sightings, %d co-occurrences, %d pairs in %.3f s "
        "(sort %.3f, pairs %.3f, group %.3f)",
        n, total, len(out), t_end - t_start, t_sorted - t_start,
        t_pairs - t_sorted, t_end - t_pairs,
    )  # fmt: skip
    return out


def find_companions(
    index: SightingIndex,
    t0: int,
    t1: int,
    max_gap_s: int = 60,
    min_events: int = 3,
    **options: float,
) -> Companions:
    """Companion pairs among the index's sightings with ``t0 <= t <= t1`` (index times).

    Reads the bucketed runs (checkpoint from each run's ``ptr``) and the unsorted
    tails of every partition overlapping the window, then runs
    :func:`companion_pairs` (keyword ``options`` are passed on). Raises
    ``ValueError`` if ``t1 < t0``. O(sightings in the overlapping partitions + n_cp per run).
    """
    cp, ent, t = gather_window(index, t0, t1)
    return companion_pairs(cp, ent, t, max_gap_s, min_events, **options)  # type: ignore[arg-type]


def companion_pairs_in_background(
    cp: np.ndarray, ent: np.ndarray, t: np.ndarray, max_gap_s: int = 60, min_events: int = 3
) -> Companions:
    """:func:`companion_pairs` on one numba thread, for a worker thread beside the pipeline
    (the kernels release the GIL, so the pipeline keeps the other core)."""
    numba.set_num_threads(1)  # thread-local: the pipeline's own kernels keep every thread
    return companion_pairs(cp, ent, t, max_gap_s, min_events)


def gather_window(
    index: SightingIndex, t0: int, t1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies (checkpoint, entity, time) of the index's sightings with ``t0 <= t <= t1``.

    The copy belongs to the caller: a companion search can run on it in another
    thread while the index keeps growing. Raises ``ValueError`` if ``t1 < t0``.
    """
    if t1 < t0:
        raise ValueError(f"empty window: t1={t1} is before t0={t0}")
    parts = [
        p
        for h, p in sorted(index.partitions.items())
        if h * PARTITION_S <= t1 and (h + 1) * PARTITION_S > t0
    ]
    bound = sum(p.size() for p in parts)
    out_cp = np.empty(bound, np.int32)
    out_ent = np.empty(bound, np.int32)
    out_t = np.empty(bound, np.int32)
    k = 0
    for p in parts:
        for run in p.runs:
            k = kern.gather_run(run.ptr, run.ent, run.t, t0, t1, out_cp, out_ent, out_t, k)
        if p.n:
            tail_t = p.t[: p.n]
            sel = (tail_t >= t0) & (tail_t <= t1)
            m = int(np.count_nonzero(sel))
            out_cp[k : k + m] = p.cp[: p.n][sel]
            out_ent[k : k + m] = p.ent[: p.n][sel]
            out_t[k : k + m] = tail_t[sel]
            k += m
    log.debug("gather_window: %d sightings from %d partitions", k, len(parts))
    return out_cp[:k], out_ent[:k], out_t[:k]


def synthetic_sightings(
    n: int,
    n_cp: int,
    n_ent: int,
    days: int = 1,
    n_pairs: int = 100,
    seed: int = 0,
    t_start: int = 189_388_800 - 8 * 3600,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random background sightings plus planted companion pairs, for tests and benchmarks.

    Background: ``n`` sightings of ``n_ent`` entities at ``n_cp`` checkpoints with
    log-normal popularity, over ``days`` days with morning and evening rush
    hours (local +08:00). Planted: ``n_pairs`` pairs (ids ``n_ent - 2 * n_pairs``
    and up) that each make 3-5 trips together past 3-6 checkpoints, the
    follower 3-45 s behind. Returns ``(cp, ent, t, planted)`` with ``planted``
    int32[n_pairs, 2] (smaller id first), rows shuffled. O(n).
    """
    rng = np.random.default_rng(seed)
    pop = rng.lognormal(0.0, 1.2, n_cp)
    cum = np.cumsum(pop / pop.sum())
    cp = np.minimum(np.searchsorted(cum, rng.random(n)), n_cp - 1).astype(np.int32)
    n_bg = max(1, n_ent - 2 * n_pairs)
    ent = rng.integers(0, n_bg, n, dtype=np.int32)
    kind = rng.random(n)
    local = rng.uniform(0, 86400, n)
    morning = kind < 0.2
    evening = (kind >= 0.2) & (kind < 0.4)
    local[morning] = rng.normal(8 * 3600, 3600, int(morning.sum()))
    local[evening] = rng.normal(18 * 3600, 3600, int(evening.sum()))
    day = rng.integers(0, days, n)
    t = (t_start + day * 86400 + np.mod(local, 86400)).astype(np.int32)

    planted = np.empty((n_pairs, 2), np.int32)
    rows_cp, rows_ent, rows_t = [], [], []
    for k in range(n_pairs):
        a, b = n_bg + 2 * k, n_bg + 2 * k + 1
        planted[k] = (a, b)
        for _ in range(int(rng.integers(3, 6))):
            m = int(rng.integers(3, 7))
            cams = rng.integers(0, n_cp, m)
            at = t_start + rng.uniform(0, days * 86400 - 3600) + np.cumsum(rng.uniform(60, 300, m))
            lag = rng.uniform(3, 45)
            lead, follow = (a, b) if rng.random() < 0.5 else (b, a)
            rows_cp += [cams, cams]
            rows_ent += [np.full(m, lead), np.full(m, follow)]
            rows_t += [at, at + lag]
    if n_pairs:
        cp = np.concatenate([cp, *rows_cp]).astype(np.int32)
        ent = np.concatenate([ent, *rows_ent]).astype(np.int32)
        t = np.concatenate([t, np.concatenate(rows_t).astype(np.int32)])
    perm = rng.permutation(cp.shape[0])
    return cp[perm], ent[perm], t[perm], planted
