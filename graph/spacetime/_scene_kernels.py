"""Numba kernels of the scene query (:func:`graph.spacetime.scene.scene_hits`).

A scene query used to be about forty small numpy calls (unique, lexsort, fancy indexing,
masks), a few microseconds each whatever the size: on the report path that overhead was
most of the query. Each kernel here is one pass over a scene's reads or entities.

Exactness: the kernels do the same IEEE operations in the same order as the numpy
expressions they replace (no fast-math, no reassociation), so hits, weights and
probabilities stay bit for bit what they were. What could round differently stays in
numpy: logarithms and ``expm1`` (numpy's SIMD versions may differ from libm in the last
bit), the row sums (numpy sums pairwise) and the BLAS products of the time-of-day factors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["best_rows", "day_presence", "entity_rows", "expected_visits"]


@njit(cache=True, nogil=True)
def entity_rows(ent, t, stay_max):  # noqa: ANN001, ANN201
    """Distinct entities of a scene's reads and how long each stayed.

    Returns ``(uniq, row_of, stay)``: ``uniq`` the distinct ids ascending (as
    ``np.unique``), ``row_of[i]`` the position of ``ent[i]`` in ``uniq`` (its inverse),
    and ``stay[r]`` the longest gap between consecutive reads of entity ``uniq[r]``
    that is at most ``stay_max`` (0 if none): a vehicle seen arriving near a scene and
    leaving half an hour later stayed there; one that drove past is seen once, or at two
    cameras a minute apart; one seen again hours later went away and came back. One
    sort of (entity, time) keys serves all three. O(n log n).
    """
    n = ent.shape[0]
    key = np.empty(n, np.int64)
    for i in range(n):
        key[i] = (np.int64(ent[i]) << 32) | (np.int64(t[i]) + 2**31)
    order = np.argsort(key)
    row_of = np.empty(n, np.int64)
    uniq = np.empty(n, np.int32)
    stay = np.zeros(n, np.int32)
    u = -1
    prev_e = np.int64(-1)
    prev_t = np.int64(0)
    for j in range(n):
        i = order[j]
        e = np.int64(ent[i])
        ti = np.int64(t[i])
        if u < 0 or e != prev_e:
            u += 1
            uniq[u] = e
        else:
            gap = ti - prev_t
            if gap <= stay_max and gap > stay[u]:
                stay[u] = gap
        row_of[i] = u
        prev_e = e
        prev_t = ti
    return uniq[: u + 1].copy(), row_of, stay[: u + 1].copy()


@njit(cache=True, nogil=True)
def day_presence(ents, seen, seen_t, shift, b0, n_blocks, block_s):  # noqa: ANN001, ANN201
    """(row, block) of every read in ``(seen, seen_t)`` of an entity in ``ents``.

    ``ents`` are distinct ids ascending (found by binary search); a read's block is
    ``(seen_t + shift) // block_s - b0`` clipped to ``0..n_blocks - 1``. Most history
    days hold none of the scene's entities: the answer is then empty and nothing else
    is allocated. O(len(seen) log len(ents)).
    """
    m = seen.shape[0]
    rows = np.empty(m, np.int64)
    blks = np.empty(m, np.int64)
    k = 0
    if ents.shape[0] == 0:
        return rows[:0], blks[:0]
    for i in range(m):
        r = np.searchsorted(ents, seen[i])
        if r < ents.shape[0] and ents[r] == seen[i]:
            b = (np.int64(seen_t[i]) + shift) // block_s - b0
            rows[k] = r
            blks[k] = min(max(b, 0), n_blocks - 1)
            k += 1
    return rows[:k], blks[:k]


@njit(cache=True, nogil=True)
def expected_visits(rate, share, hours, tod, own, denom, prior_days, fleet, fleet_mu):  # noqa: ANN001, ANN201
    """μ per entity and block: the larger of the area background
    ``rate * share * hours[b] * tod[r, b]`` and the entity's own habit
    ``(own[r, b] + prior_days * area) / denom``, at least ``fleet_mu`` for fleet vehicles.

    The operations and their order are those of the numpy expression in ``scene_hits``
    (``(rate * share)[:, None] * hours[None, :] * tod`` and so on), so μ is bit-identical.
    """
    u, n_blocks = tod.shape
    mu = np.empty((u, n_blocks))
    for r in range(u):
        base = rate[r] * share[r]
        for b in range(n_blocks):
            area = base * hours[b] * tod[r, b]
            habit = (np.float64(own[r, b]) + prior_days * area) / denom
            m = max(habit, area)
            if fleet[r]:
                m = max(m, fleet_mu)
            mu[r, b] = m
    return mu


@njit(cache=True, nogil=True)
def _less(a, b):  # noqa: ANN001, ANN202
    """numpy's sort order of floats: NaN after every number."""
    return a < b or (b != b and a == a)


@njit(cache=True, nogil=True)
def _before(m, d, off, best_m, best_d, best_off):  # noqa: ANN001, ANN202
    """Whether keys (m, d, off) sort strictly before the best so far (lexicographic)."""
    if _less(m, best_m):
        return True
    if _less(best_m, m):
        return False
    if _less(d, best_d):
        return True
    if _less(best_d, d):
        return False
    return _less(off, best_off)


@njit(cache=True, nogil=True)
def best_rows(row_of, cp, t, mu, cps, dist_m, b0, block_s, local_offset, mid, tolerance, near_m):  # noqa: ANN001, ANN201, PLR0913
    """Each entity's best read near the scene and the blocks at most as expected as it.

    The best read of entity ``r`` is the one in its least expected block (``mu[r, b]``),
    then at the nearest checkpoint, then nearest ``mid``, then the earliest: the first
    row of the entity in a stable ``np.lexsort`` by those keys (ties kept in row order).
    Returns ``(first, masked, dist, proximity)``: the row indices per entity, ``mu``
    with the blocks above ``mu_min * tolerance`` zeroed (the caller sums the rows in
    numpy, whose pairwise order a loop here would not repeat), the checkpoint distance
    of each best read (0 for a checkpoint not in ``cps``) and its proximity factor
    ``sqrt(min(1, near_m / max(dist, 1)))``. O(n + entities * blocks).
    """
    u, n_blocks = mu.shape
    size = 0
    for i in range(cp.shape[0]):
        size = max(size, np.int64(cp[i]) + 1)
    for j in range(cps.shape[0]):
        size = max(size, np.int64(cps[j]) + 1)
    dist_of_cp = np.zeros(size)
    for j in range(cps.shape[0]):
        dist_of_cp[cps[j]] = dist_m[j]
    first = np.full(u, -1, np.int64)
    best_mu = np.empty(u)
    best_d = np.empty(u)
    best_off = np.empty(u)
    for i in range(row_of.shape[0]):
        r = row_of[i]
        b = min(max((np.int64(t[i]) + local_offset) // block_s - b0, 0), n_blocks - 1)
        m = mu[r, b]
        d = dist_of_cp[cp[i]]
        off = abs(np.float64(t[i]) - mid)
        if first[r] >= 0 and not _before(m, d, off, best_mu[r], best_d[r], best_off[r]):
            continue
        first[r] = i
        best_mu[r] = m
        best_d[r] = d
        best_off[r] = off
    masked = np.empty((u, n_blocks))
    dist = np.empty(u)
    proximity = np.empty(u)
    for r in range(u):
        bound = best_mu[r] * tolerance
        for b in range(n_blocks):
            masked[r, b] = mu[r, b] if mu[r, b] <= bound else 0.0
        dist[r] = best_d[r]
        proximity[r] = np.sqrt(min(1.0, near_m / max(best_d[r], 1.0)))
    return first, masked, dist, proximity
