"""Numba kernels of the sighting index: bucketing by checkpoint and window scans.

All kernels take plain int32/float64 arrays; none touches a Python object.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "bucket_by_cp",
    "expand_cp",
    "scan_run",
    "scan_tail",
    "standing_matches",
]


@njit(cache=True)
def bucket_by_cp(cp, ent, t, n_cp):  # noqa: ANN001, ANN201
    """Stable counting sort of (ent, t) by checkpoint: returns (ptr[n_cp+1], ent, t). O(n + n_cp)."""
    n = cp.shape[0]
    ptr = np.zeros(n_cp + 1, dtype=np.int64)
    for i in range(n):
        ptr[cp[i] + 1] += 1
    for c in range(n_cp):
        ptr[c + 1] += ptr[c]
    pos = ptr[:-1].copy()
    out_ent = np.empty(n, dtype=np.int32)
    out_t = np.empty(n, dtype=np.int32)
    for i in range(n):
        c = cp[i]
        j = pos[c]
        out_ent[j] = ent[i]
        out_t[j] = t[i]
        pos[c] = j + 1
    return ptr, out_ent, out_t


@njit(cache=True)
def expand_cp(ptr):  # noqa: ANN001, ANN201
    """Inverse of the bucketing's pointer array: the checkpoint of every row."""
    n_cp = ptr.shape[0] - 1
    out = np.empty(ptr[n_cp], dtype=np.int32)
    for c in range(n_cp):
        for j in range(ptr[c], ptr[c + 1]):
            out[j] = c
    return out


@njit(cache=True)
def scan_run(ptr, ent, t, q_cps, t0, t1, out_ent, out_cp, out_t, k):  # noqa: ANN001, ANN201
    """Append rows of a bucketed run at checkpoints ``q_cps`` with t0 <= t <= t1; returns new k."""
    n_cp = ptr.shape[0] - 1
    for qi in range(q_cps.shape[0]):
        c = q_cps[qi]
        if c >= n_cp:
            continue
        for j in range(ptr[c], ptr[c + 1]):
            tj = t[j]
            if t0 <= tj <= t1:
                out_ent[k] = ent[j]
                out_cp[k] = c
                out_t[k] = tj
                k += 1
    return k


@njit(cache=True)
def segment_total(ptr, q_cps):  # noqa: ANN001, ANN201
    """Rows a run holds at the queried checkpoints (those the run knows)."""
    n_cp = ptr.shape[0] - 1
    total = 0
    for c in q_cps:
        if c < n_cp:
            total += ptr[c + 1] - ptr[c]
    return total


@njit(cache=True)
def scan_tail(cp, ent, t, n, mark, t0, t1, out_ent, out_cp, out_t, k):  # noqa: ANN001, ANN201
    """Append unsorted tail rows whose checkpoint is marked and t0 <= t <= t1; returns new k."""
    m = mark.shape[0]
    for i in range(n):
        c = cp[i]
        if c < m and mark[c] and t0 <= t[i] <= t1:
            out_ent[k] = ent[i]
            out_cp[k] = c
            out_t[k] = t[i]
            k += 1
    return k


@njit(cache=True)
def standing_matches(cp, t, w_ptr, w_t0, w_t1):  # noqa: ANN001, ANN201
    """Match arriving sightings against open case windows indexed by checkpoint.

    ``w_ptr`` (CSR over checkpoints) lists, for each checkpoint, the open windows
    near it with bounds ``w_t0``/``w_t1``. Returns parallel arrays
    (sighting index, window index) for every sighting inside a window. O(n * w).
    """
    n = cp.shape[0]
    n_cp = w_ptr.shape[0] - 1
    count = 0
    for i in range(n):
        c = cp[i]
        if c < n_cp:
            for j in range(w_ptr[c], w_ptr[c + 1]):
                if w_t0[j] <= t[i] <= w_t1[j]:
                    count += 1
    s_idx = np.empty(count, dtype=np.int64)
    w_idx = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(n):
        c = cp[i]
        if c < n_cp:
            for j in range(w_ptr[c], w_ptr[c + 1]):
                if w_t0[j] <= t[i] <= w_t1[j]:
                    s_idx[k] = i
                    w_idx[k] = j
                    k += 1
    return s_idx, w_idx


@njit(cache=True, nogil=True)
def merge_csr(ptr, t0, t1, owner, add_ptr, add_t0, add_t1, add_owner):  # noqa: ANN001, ANN201
    """Two CSRs over the same checkpoints as one: each checkpoint's rows of the first, then
    its rows of the second (what ``np.insert`` at each segment's end gives, in one pass).
    Returns (ptr, t0, t1, owner). O(rows)."""
    n_cp = ptr.shape[0] - 1
    total = t0.shape[0] + add_t0.shape[0]
    out_ptr = ptr + add_ptr
    o0 = np.empty(total, t0.dtype)
    o1 = np.empty(total, t1.dtype)
    ow = np.empty(total, owner.dtype)
    k = 0
    for c in range(n_cp):
        for j in range(ptr[c], ptr[c + 1]):
            o0[k] = t0[j]
            o1[k] = t1[j]
            ow[k] = owner[j]
            k += 1
        for j in range(add_ptr[c], add_ptr[c + 1]):
            o0[k] = add_t0[j]
            o1[k] = add_t1[j]
            ow[k] = add_owner[j]
            k += 1
    return out_ptr, o0, o1, ow


@njit(cache=True, nogil=True)
def correlate_rows(a, k):  # noqa: ANN001, ANN201
    """``out[i, j] = sum_d k[d] * a[i + d - r, j]`` with zeros outside ``a`` (r = len(k) // 2):
    a 1-D correlation down the rows of a C-ordered 2-D array.

    Rows of ``a`` that are all zero are skipped: a density raster is mostly padding and
    empty country, and their terms are exact zeros (``out`` is unchanged by adding
    ``k[d] * 0.0`` when ``k`` is finite and ``out`` is not -0.0), so the sums, taken in
    the same order of ``d``, are bit for bit those of the full loop.
    """
    ny, nx = a.shape
    r = k.shape[0] // 2
    live = np.zeros(ny, np.bool_)
    for i in range(ny):
        for j in range(nx):
            if a[i, j] != 0.0:
                live[i] = True
                break
    out = np.zeros((ny, nx))
    for i in range(ny):
        for d in range(k.shape[0]):
            src = i + d - r
            if 0 <= src < ny and live[src]:
                w = k[d]
                for j in range(nx):
                    out[i, j] += w * a[src, j]
    return out


@njit(cache=True, nogil=True)
def cell_code(cx, cy):  # noqa: ANN001, ANN201
    """One int64 per grid cell that sorts as (cx, cy) does: cells of one column are a run."""
    return np.int64(cx) * np.int64(2**32) + (np.int64(cy) + np.int64(2**31))


@njit(cache=True, nogil=True)
def cells_near(codes, ids, cx, cy, r):  # noqa: ANN001, ANN201
    """Checkpoint ids in the cells ``cx - r .. cx + r`` by ``cy - r .. cy + r``.

    ``codes`` (:func:`cell_code` of each checkpoint's cell) is sorted, and ``ids`` in
    the same order ascending within a cell. Cells come column by column (``cx``), each
    column's cells by ``cy``: the order of a loop over the cells of a dictionary grid,
    found with two binary searches a column instead of a lookup a cell. O(r log n + out).
    """
    lo = np.empty(2 * r + 1, np.int64)
    hi = np.empty(2 * r + 1, np.int64)
    total = 0
    for k in range(2 * r + 1):
        lo[k] = np.searchsorted(codes, cell_code(cx - r + k, cy - r), side="left")
        hi[k] = np.searchsorted(codes, cell_code(cx - r + k, cy + r), side="right")
        total += hi[k] - lo[k]
    out = np.empty(total, np.int32)
    m = 0
    for k in range(2 * r + 1):
        for j in range(lo[k], hi[k]):
            out[m] = ids[j]
            m += 1
    return out


@njit(cache=True, nogil=True)
def nearest_first(ids, dist, radius):  # noqa: ANN001, ANN201
    """``ids`` and ``dist`` of the rows with ``dist <= radius``, nearest first, ties in
    their given order (a stable sort: numpy's ``argsort(kind="stable")`` of the kept rows
    gives the same permutation). O(n log n)."""
    keep = np.flatnonzero(dist <= radius)
    kept = dist[keep]
    order = np.argsort(kept, kind="mergesort")
    return ids[keep][order], kept[order]


@njit(cache=True, nogil=True)
def merge_window(ptr, t0, t1, owner, cps, w_t0, w_t1, w_owner):  # noqa: ANN001, ANN201
    """A CSR over checkpoints (ptr, t0, t1, owner) with one more window added after each of
    its checkpoints' rows: the window ``(w_t0, w_t1, w_owner)`` near the checkpoints ``cps``.

    What :func:`merge_csr` gives with the window's own CSR (rows stably sorted by
    checkpoint), without building that CSR first: a case opening costs one pass over the
    open windows' rows (block copies between the window's checkpoints) instead of a dozen
    small numpy calls. Checkpoints outside the CSR (none, when the CSR covers every
    registered checkpoint) are left out. O(rows + n_cp).
    """
    n_cp = ptr.shape[0] - 1
    m = 0
    for c in cps:
        if 0 <= c < n_cp:
            m += 1
    at = np.empty(m, np.int64)  # the window's checkpoints in the CSR, ascending
    m = 0
    for c in cps:
        if 0 <= c < n_cp:
            at[m] = c
            m += 1
    at.sort()
    out_ptr = np.empty(n_cp + 1, np.int64)
    k = 0
    for c in range(n_cp + 1):
        while k < m and at[k] < c:
            k += 1
        out_ptr[c] = ptr[c] + k
    total = t0.shape[0] + m
    o0 = np.empty(total, t0.dtype)
    o1 = np.empty(total, t1.dtype)
    ow = np.empty(total, owner.dtype)
    src = 0
    dst = 0
    for k in range(m + 1):
        end = ptr[at[k] + 1] if k < m else t0.shape[0]  # copy up to the next insertion
        o0[dst : dst + end - src] = t0[src:end]
        o1[dst : dst + end - src] = t1[src:end]
        ow[dst : dst + end - src] = owner[src:end]
        dst += end - src
        src = end
        if k < m:
            o0[dst] = w_t0
            o1[dst] = w_t1
            ow[dst] = w_owner
            dst += 1
    return out_ptr, o0, o1, ow


@njit(cache=True, nogil=True)
def extent(ent, cp, t):  # noqa: ANN001, ANN201
    """(least entity id, least checkpoint id, earliest time, latest time) of a non-empty
    batch of sightings: what an append checks and needs, in one pass instead of four
    numpy reductions."""
    e_min = ent[0]
    c_min = cp[0]
    t_min = t[0]
    t_max = t[0]
    for i in range(1, ent.shape[0]):
        e_min = min(e_min, ent[i])
        c_min = min(c_min, cp[i])
        t_min = min(t_min, t[i])
        t_max = max(t_max, t[i])
    return e_min, c_min, t_min, t_max


@njit(cache=True, nogil=True)
def by_hour(cp, ent, t, h0, h1, hour_s):  # noqa: ANN001, ANN201
    """Sightings with times in the hours ``h0..h1`` grouped by hour, arrival order kept
    within an hour (a stable counting sort: the order of ``argsort(t // hour_s,
    kind="stable")``). Returns (cp, ent, t, bounds int64[h1 - h0 + 2]): hour ``h0 + k``'s
    rows are ``bounds[k]:bounds[k + 1]``. O(n + h1 - h0)."""
    n = t.shape[0]
    bounds = np.zeros(h1 - h0 + 2, np.int64)
    for i in range(n):
        bounds[t[i] // hour_s - h0 + 1] += 1
    for k in range(h1 - h0 + 1):
        bounds[k + 1] += bounds[k]
    pos = bounds[:-1].copy()
    out_cp = np.empty(n, cp.dtype)
    out_ent = np.empty(n, ent.dtype)
    out_t = np.empty(n, t.dtype)
    for i in range(n):
        k = t[i] // hour_s - h0
        j = pos[k]
        out_cp[j] = cp[i]
        out_ent[j] = ent[i]
        out_t[j] = t[i]
        pos[k] = j + 1
    return out_cp, out_ent, out_t, bounds


@njit(cache=True, nogil=True)
def moved_rows(ids, lon0, lat0, lons, lats, tol):  # noqa: ANN001, ANN201
    """Rows whose reported position is more than ``tol`` degrees (in lon or in lat) from
    the registered one of their checkpoint ``ids[i]``: ``np.flatnonzero`` of
    ``(|lon0[ids] - lons| > tol) | (|lat0[ids] - lats| > tol)`` in one pass. O(n)."""
    n = ids.shape[0]
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        c = ids[i]
        if abs(lon0[c] - lons[i]) > tol or abs(lat0[c] - lats[i]) > tol:
            out[k] = i
            k += 1
    return out[:k]


@njit(cache=True, nogil=True)
def refit_csr(ptr, t0, t1, owner, new_owner, n_cp):  # noqa: ANN001, ANN201
    """A CSR over checkpoints (ptr, t0, t1, owner) without the rows whose owner is dropped
    (``new_owner[o] < 0``), the others' owners renumbered to ``new_owner[o]``, over
    ``n_cp`` checkpoints (at least as many as ``ptr`` covers; the new ones empty).

    Rows keep their order, so each checkpoint still lists its windows in the order their
    cases were added: the CSR a build from the kept cases alone would give. O(rows + n_cp).
    """
    old_n = ptr.shape[0] - 1
    out_ptr = np.zeros(n_cp + 1, np.int64)
    for c in range(old_n):
        for j in range(ptr[c], ptr[c + 1]):
            if new_owner[owner[j]] >= 0:
                out_ptr[c + 1] += 1
    for c in range(n_cp):
        out_ptr[c + 1] += out_ptr[c]
    total = out_ptr[n_cp]
    o0 = np.empty(total, t0.dtype)
    o1 = np.empty(total, t1.dtype)
    ow = np.empty(total, owner.dtype)
    k = 0
    for j in range(ptr[old_n]):
        o = new_owner[owner[j]]
        if o >= 0:
            o0[k] = t0[j]
            o1[k] = t1[j]
            ow[k] = o
            k += 1
    return out_ptr, o0, o1, ow
