"""Numba kernels of companion detection (see :mod:`graph.spacetime.companions` for the model).

Pipeline, each step parallel over numba threads unless noted:

1. :func:`minmax3` — bounds of the three input columns in one pass;
2. :func:`sort_by_cp` — stable counting sort of the rows by checkpoint;
3. :func:`segment_pass` — per checkpoint segment, while it is in cache: sort it
   by time (a local counting sort plus insertion repair; skipped when already
   ordered), count the distinct entities of every (checkpoint, hour) group, and
   count the qualifying co-occurrences per hash bucket of their pair key;
4. :func:`emit_pairs` — the same window scan writes every co-occurrence straight
   into its hash bucket: a pair key ``(a << bits) | b`` and a payload
   ``(t - t_min) << 32 | gap << 16 | distinct``;
5. :func:`group_buckets` — inside each (cache-sized) bucket, a local hash table
   makes equal keys contiguous: no global sort of the co-occurrences;
6. :func:`long_runs` (sequential) and :func:`evaluate_runs` — the events and
   evidence of pairs with enough co-occurrences;
7. :func:`partner_counts` and :func:`marked_trips` — for the entities in those
   pairs only: their distinct partners and their own trips.

All kernels take plain integer/float arrays; none touches a Python object.
Results do not depend on the number of threads or chunks (up to float
summation order).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "bucket_offsets",
    "cooccurrence_weight",
    "cp_chunks",
    "emit_pairs",
    "evaluate_runs",
    "gather_run",
    "group_buckets",
    "long_runs",
    "mark_entities",
    "marked_trips",
    "minmax3",
    "partner_counts",
    "segment_pass",
    "sort_by_cp",
]

HOUR_S = 3600
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_SMALL = 24  # below this many rows, insertion sort beats a local counting sort


@njit(cache=True, parallel=True, nogil=True)
def minmax3(cp, ent, t, n_chunks):  # noqa: ANN001, ANN201
    """(min, max) of cp, ent and t as int64[6] in one parallel pass. O(n)."""
    n = cp.shape[0]
    part = np.empty((n_chunks, 6), np.int64)
    for c in prange(n_chunks):
        s = n * c // n_chunks
        e = n * (c + 1) // n_chunks
        cmin = np.int64(2**31)
        cmax = np.int64(-(2**31) - 1)
        emin = cmin
        emax = cmax
        tmin = cmin
        tmax = cmax
        for i in range(s, e):
            x = np.int64(cp[i])
            cmin = min(cmin, x)
            cmax = max(cmax, x)
            x = np.int64(ent[i])
            emin = min(emin, x)
            emax = max(emax, x)
            x = np.int64(t[i])
            tmin = min(tmin, x)
            tmax = max(tmax, x)
        part[c, 0] = cmin
        part[c, 1] = cmax
        part[c, 2] = emin
        part[c, 3] = emax
        part[c, 4] = tmin
        part[c, 5] = tmax
    out = part[0].copy()
    for c in range(1, n_chunks):
        for k in range(0, 6, 2):
            out[k] = min(out[k], part[c, k])
            out[k + 1] = max(out[k + 1], part[c, k + 1])
    return out


@njit(cache=True, parallel=True, nogil=True)
def sort_by_cp(cp, ent, t, n_cp, n_chunks, out_ent, out_t):  # noqa: ANN001, ANN201
    """Stable counting sort by checkpoint into ``out_ent``/``out_t``; returns ptr int64[n_cp+1].

    O(n + n_chunks * n_cp). Outputs are allocated by the caller (numpy asks the
    kernel for huge pages; numba's allocator does not).
    """
    n = cp.shape[0]
    hist = np.zeros((n_chunks, n_cp), np.int64)
    for c in prange(n_chunks):
        s = n * c // n_chunks
        e = n * (c + 1) // n_chunks
        for i in range(s, e):
            hist[c, cp[i]] += 1
    ptr = np.empty(n_cp + 1, np.int64)
    run = np.int64(0)
    for b in range(n_cp):
        ptr[b] = run
        for c in range(n_chunks):
            v = hist[c, b]
            hist[c, b] = run
            run += v
    ptr[n_cp] = run
    for c in prange(n_chunks):
        s = n * c // n_chunks
        e = n * (c + 1) // n_chunks
        for i in range(s, e):
            b = cp[i]
            j = hist[c, b]
            hist[c, b] = j + 1
            out_ent[j] = ent[i]
            out_t[j] = t[i]
    return ptr


@njit(cache=True, nogil=True)
def cp_chunks(ptr, n_chunks):  # noqa: ANN001, ANN201
    """Checkpoint boundaries splitting the rows into ``n_chunks`` parts of about equal size."""
    n_cp = ptr.shape[0] - 1
    n = ptr[n_cp]
    out = np.empty(n_chunks + 1, np.int64)
    out[0] = 0
    c = 0
    for k in range(1, n_chunks):
        target = n * k // n_chunks
        while c < n_cp and ptr[c] < target:
            c += 1
        out[k] = c
    out[n_chunks] = n_cp
    return out


@njit(cache=True, nogil=True)
def _pow2_at_least(x):  # noqa: ANN001, ANN202
    p = 1
    while p < x:
        p <<= 1
    return p


@njit(cache=True, nogil=True)
def _insertion_sort_t(ent, t, s, e):  # noqa: ANN001, ANN202
    """Stable insertion sort of rows [s, e) by t, in place. O(m + inversions)."""
    for i in range(s + 1, e):
        ti = t[i]
        if t[i - 1] <= ti:
            continue
        ei = ent[i]
        j = i - 1
        while j >= s and t[j] > ti:
            t[j + 1] = t[j]
            ent[j + 1] = ent[j]
            j -= 1
        t[j + 1] = ti
        ent[j + 1] = ei


@njit(cache=True, nogil=True)
def _sort_segment(ent, t, s, e, st, se, cnt):  # noqa: ANN001, ANN202
    """Stable sort of rows [s, e) by time, in place, with scratch ``st``/``se``/``cnt``. O(m)."""
    m = e - s
    ordered = True
    for i in range(s + 1, e):
        if t[i] < t[i - 1]:
            ordered = False
            break
    if ordered:
        return
    if m <= _SMALL:
        _insertion_sort_t(ent, t, s, e)
        return
    t0 = t[s]
    t1 = t[s]
    for i in range(s, e):
        t0 = min(t0, t[i])
        t1 = max(t1, t[i])
    span = np.int64(t1) - np.int64(t0)
    lg = 0
    while (1 << lg) < m:
        lg += 1
    bl = 0
    while (np.int64(1) << bl) <= span:
        bl += 1
    shift = max(0, bl - lg)
    nb = (span >> shift) + 1
    cnt[: nb + 1] = 0
    for i in range(s, e):
        cnt[((np.int64(t[i]) - t0) >> shift) + 1] += 1
    for b in range(nb):
        cnt[b + 1] += cnt[b]
    for i in range(s, e):
        b = (np.int64(t[i]) - t0) >> shift
        j = cnt[b]
        cnt[b] = j + 1
        st[j] = t[i]
        se[j] = ent[i]
    _insertion_sort_t(se, st, 0, m)
    for j in range(m):
        t[s + j] = st[j]
        ent[s + j] = se[j]


@njit(cache=True, nogil=True)
def _hour_distinct(ent, t, s, e, d, hs):  # noqa: ANN001, ANN202
    """Write into d[s:e] the distinct entities of each row's hour group (rows time-ordered)."""
    i = s
    while i < e:
        h_end = (t[i] // HOUR_S + 1) * HOUR_S
        j = i + 1
        while j < e and t[j] < h_end:
            j += 1
        m = j - i
        cnt = 0
        if m <= 8:
            for a in range(i, j):
                x = ent[a]
                dup = False
                for b in range(i, a):
                    if ent[b] == x:
                        dup = True
                        break
                if not dup:
                    cnt += 1
        else:
            size = _pow2_at_least(2 * m)
            mask = size - 1
            hs[:size] = -1
            for a in range(i, j):
                x = ent[a]
                slot = ((np.int64(x) * 0x9E3779B1) >> 16) & mask
                while hs[slot] != -1 and hs[slot] != x:
                    slot = (slot + 1) & mask
                if hs[slot] == -1:
                    hs[slot] = x
                    cnt += 1
        for r in range(i, j):
            d[r] = cnt
        i = j


@njit(cache=True, nogil=True)
def _bucket(key, kb):  # noqa: ANN001, ANN202
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - kb))


@njit(cache=True, nogil=True)
def _scan_segment(ent, t, d, s, e, max_gap, min_gap, q, cap, bits, kb, t_min, write, pos, kp):  # noqa: ANN001, ANN202
    """Sliding window over one time-ordered checkpoint segment.

    Counts every qualifying co-occurrence into ``pos[bucket]`` (``write`` False)
    or writes it at ``pos[bucket]`` and advances it (``write`` True).
    """
    for i in range(s, e):
        di = d[i]
        if min_gap * di > q:  # even a pair in the same second would be background
            continue
        ti = t[i]
        ei = ent[i]
        jend = min(e, i + 1 + cap)
        for j in range(i + 1, jend):
            dt = t[j] - ti
            if dt > max_gap or dt * di > q:
                break
            ej = ent[j]
            if ej == ei:
                continue
            dm = max(di, d[j])
            g = max(dt, min_gap)
            if g * dm > q:
                continue
            if ei < ej:
                key = (np.int64(ei) << bits) | np.int64(ej)
            else:
                key = (np.int64(ej) << bits) | np.int64(ei)
            bk = _bucket(key, kb)
            if write:
                k = pos[bk]
                kp[k, 0] = key
                kp[k, 1] = ((np.int64(ti) - t_min) << 32) | (np.int64(g) << 16) | np.int64(dm)
                pos[bk] = k + 1
            else:
                pos[bk] += 1


@njit(cache=True, parallel=True, nogil=True)
def segment_pass(ptr, ent, t, d, chunks, n_workers, max_gap, min_gap, q, cap, bits, kb):  # noqa: ANN001, ANN201
    """Time-order each checkpoint segment in place, count distinct entities per hour, count pairs.

    Fills ``d`` (int32[n], distinct entities of each row's (checkpoint, hour)
    group) and returns ``hist`` (int64[n_chunks, 2**kb], qualifying co-occurrences per
    chunk and pair-key bucket). A row pair (i, j) at one checkpoint qualifies
    if the entities differ, j is among the ``cap`` rows after i, ``t_j - t_i <=
    max_gap`` and ``max(t_j - t_i, min_gap) * max(d_i, d_j) <= q``.
    O(n + co-occurrences) time, O(largest segment) scratch per chunk. Worker
    ``w`` takes chunks ``w, w + n_workers, ...`` (busy and quiet checkpoints mix).
    """
    n_chunks = chunks.shape[0] - 1
    hist = np.zeros((n_chunks, 1 << kb), np.int64)
    for w in prange(n_workers):
        for k in range(w, n_chunks, n_workers):
            _segment_chunk(ptr, ent, t, d, chunks, k, max_gap, min_gap, q, cap, bits, kb, hist[k])
    return hist


@njit(cache=True, nogil=True)
def _segment_chunk(ptr, ent, t, d, chunks, k, max_gap, min_gap, q, cap, bits, kb, row):  # noqa: ANN001, ANN202
    """:func:`segment_pass` for the checkpoints of chunk ``k``, counting into ``row``."""
    longest = 1
    for c in range(chunks[k], chunks[k + 1]):
        longest = max(longest, ptr[c + 1] - ptr[c])
    st = np.empty(longest, np.int32)
    se = np.empty(longest, np.int32)
    cnt = np.empty(_pow2_at_least(longest) + 1, np.int64)
    hs = np.empty(_pow2_at_least(2 * longest), np.int32)
    unused = np.empty((0, 2), np.int64)
    for c in range(chunks[k], chunks[k + 1]):
        s = ptr[c]
        e = ptr[c + 1]
        if e == s:
            continue
        _sort_segment(ent, t, s, e, st, se, cnt)
        _hour_distinct(ent, t, s, e, d, hs)
        _scan_segment(ent, t, d, s, e, max_gap, min_gap, q, cap, bits, kb, 0, False, row, unused)


@njit(cache=True, nogil=True)
def bucket_offsets(hist):  # noqa: ANN001, ANN201
    """Exclusive scan of ``hist`` in bucket-major order: (start per chunk and bucket, bucket ptr)."""
    n_chunks, nbk = hist.shape
    off = np.empty((n_chunks, nbk), np.int64)
    bptr = np.empty(nbk + 1, np.int64)
    run = np.int64(0)
    for b in range(nbk):
        bptr[b] = run
        for c in range(n_chunks):
            off[c, b] = run
            run += hist[c, b]
    bptr[nbk] = run
    return off, bptr


@njit(cache=True, parallel=True, nogil=True)
def emit_pairs(
    ptr, ent, t, d, chunks, n_workers, off, kp, max_gap, min_gap, q, cap, bits, kb, t_min
):  # noqa: ANN001, ANN201
    """Write the co-occurrences counted by :func:`segment_pass` into their buckets of ``kp``.

    ``kp`` is int64[total, 2]: pair key and payload side by side (one write
    stream per bucket). Chunks are dealt to workers as in :func:`segment_pass`.
    """
    n_chunks = chunks.shape[0] - 1
    for w in prange(n_workers):
        for k in range(w, n_chunks, n_workers):
            pos = off[k].copy()
            for c in range(chunks[k], chunks[k + 1]):
                _scan_segment(
                    ent, t, d, ptr[c], ptr[c + 1], max_gap, min_gap, q, cap, bits, kb, t_min,
                    True, pos, kp,
                )  # fmt: skip


@njit(cache=True, parallel=True, nogil=True)
def group_buckets(kp, bptr, min_len, kb, n_work):  # noqa: ANN001, ANN201
    """Group every bucket of ``kp`` (rows: key, payload) in place by key, keeping what scoring needs.

    Afterwards bucket ``b`` (rows ``bptr[b]`` on) holds first its ``n_long[b]``
    co-occurrences of keys seen at least ``min_len`` times, grouped by key
    (keys and payloads), then ``n_short[b]`` rows with one key for every other
    distinct key (payloads dropped). This fits: every short key had at least
    one row. Keys keep the order of their first row. A local open-addressing
    table (load <= 1/2, only its occupied slots visited and reset) per bucket:
    O(total + buckets), scratch O(largest bucket) per work chunk.
    Returns (n_long, n_short).
    """
    nbk = bptr.shape[0] - 1
    n_long = np.zeros(nbk, np.int64)
    n_short = np.zeros(nbk, np.int64)
    for w in prange(n_work):
        b0 = nbk * w // n_work
        b1 = nbk * (w + 1) // n_work
        longest = 1
        for b in range(b0, b1):
            longest = max(longest, bptr[b + 1] - bptr[b])
        size_max = _pow2_at_least(2 * longest)
        tab = np.empty((size_max, 2), np.int64)  # key (-1: free), count then position
        for h in range(size_max):
            tab[h, 0] = -1
        occ = np.empty(longest, np.int64)  # occupied slots in order of first use
        slot_of = np.empty(longest, np.int64)
        scratch = np.empty((longest, 2), np.int64)
        for b in range(b0, b1):
            s = bptr[b]
            e = bptr[b + 1]
            m = e - s
            if m == 0:
                continue
            size = _pow2_at_least(2 * m)
            mask = np.uint64(size - 1)
            lg = 0
            while (1 << lg) < size:
                lg += 1
            # slot: the hash bits just below the bucket's (those depend on every key bit)
            shift = np.uint64(max(0, 64 - kb - lg))
            n_occ = 0
            for i in range(s, e):
                key = kp[i, 0]
                h = np.int64(((np.uint64(key) * _GOLDEN) >> shift) & mask)
                while tab[h, 0] != -1 and tab[h, 0] != key:
                    h = (h + 1) & (size - 1)
                if tab[h, 0] == -1:
                    tab[h, 0] = key
                    tab[h, 1] = 1
                    occ[n_occ] = h
                    n_occ += 1
                else:
                    tab[h, 1] += 1
                slot_of[i - s] = h
            n_lg = np.int64(0)
            for u in range(n_occ):
                c = tab[occ[u], 1]
                if c >= min_len:
                    n_lg += c
            n_sh = np.int64(0)
            if n_lg == 0:  # the usual case: nothing to keep but the distinct keys
                for u in range(n_occ):
                    kp[s + u, 0] = tab[occ[u], 0]
                n_sh = n_occ
            else:
                # long slots get their positions (count -> -(position + 1)); short keys follow
                run = np.int64(0)
                for u in range(n_occ):
                    h = occ[u]
                    c = tab[h, 1]
                    if c >= min_len:
                        tab[h, 1] = -(run + 1)
                        run += c
                    else:
                        scratch[n_lg + n_sh, 0] = tab[h, 0]
                        n_sh += 1
                for i in range(s, e):
                    h = slot_of[i - s]
                    if tab[h, 1] < 0:
                        j = -tab[h, 1] - 1
                        tab[h, 1] -= 1
                        scratch[j, 0] = kp[i, 0]
                        scratch[j, 1] = kp[i, 1]
                for j in range(n_lg):
                    kp[s + j, 0] = scratch[j, 0]
                    kp[s + j, 1] = scratch[j, 1]
                for j in range(n_lg, n_lg + n_sh):
                    kp[s + j, 0] = scratch[j, 0]
            for u in range(n_occ):
                tab[occ[u], 0] = -1
            n_long[b] = n_lg
            n_short[b] = n_sh
    return n_long, n_short


@njit(cache=True, nogil=True)
def long_runs(kp, bptr, n_long):  # noqa: ANN001, ANN201
    """Start and end of every run of equal keys in the buckets' long parts. O(long rows + buckets)."""
    nbk = bptr.shape[0] - 1
    n_runs = 0
    for b in range(nbk):
        s = bptr[b]
        for i in range(s, s + n_long[b]):
            if i == s or kp[i, 0] != kp[i - 1, 0]:
                n_runs += 1
    starts = np.empty(n_runs, np.int64)
    ends = np.empty(n_runs, np.int64)
    r = 0
    for b in range(nbk):
        i = bptr[b]
        e = i + n_long[b]
        while i < e:
            j = i + 1
            while j < e and kp[j, 0] == kp[i, 0]:
                j += 1
            starts[r] = i
            ends[r] = j
            r += 1
            i = j
    return starts, ends


_FILTER_BITS = 18  # 32 KiB: stays in L1 while the exact bitmap (n_ent bits) may not


@njit(cache=True, nogil=True)
def _filter_slot(x):  # noqa: ANN001, ANN202
    return ((np.int64(x) * 0x9E3779B1) >> 14) & ((1 << _FILTER_BITS) - 1)


@njit(cache=True, nogil=True)
def mark_entities(marked, n_ent):  # noqa: ANN001, ANN201
    """(filter, bitmap) flagging the entity ids in ``marked``: a hashed 2**18-bit filter
    (L1-resident, ~3 % false positives for 8k ids) in front of an exact bitmap of n_ent bits."""
    filt = np.zeros(1 << (_FILTER_BITS - 3), np.uint8)
    bitmap = np.zeros((n_ent >> 3) + 1, np.uint8)
    for i in range(marked.shape[0]):
        x = marked[i]
        h = _filter_slot(x)
        filt[h >> 3] |= np.uint8(1 << (h & 7))
        bitmap[x >> 3] |= np.uint8(1 << (x & 7))
    return filt, bitmap


@njit(cache=True, nogil=True)
def _is_marked(x, filt, bitmap):  # noqa: ANN001, ANN202
    h = _filter_slot(x)
    return (filt[h >> 3] >> (h & 7)) & 1 and (bitmap[x >> 3] >> (x & 7)) & 1


@njit(cache=True, parallel=True, nogil=True)
def partner_counts(kp, bptr, n_long, n_short, bits, marked, filt, bitmap, n_work):  # noqa: ANN001, ANN201
    """Distinct partners of each entity in sorted ``marked``, from the grouped buckets.

    ``filt``/``bitmap`` (:func:`mark_entities`) flag the marked entities so that
    the scan touches only a small, cache-resident array for the others.
    O(long rows + distinct keys) time, O(n_work * len(marked)) memory.
    """
    nbk = bptr.shape[0] - 1
    m = marked.shape[0]
    part = np.zeros((n_work, m), np.int32)
    mask_b = (np.int64(1) << bits) - 1
    for w in prange(n_work):
        for bk in range(nbk * w // n_work, nbk * (w + 1) // n_work):
            s = bptr[bk]
            e_long = s + n_long[bk]
            for i in range(s, e_long + n_short[bk]):
                key = kp[i, 0]
                if s < i < e_long and kp[i - 1, 0] == key:
                    continue  # the long part repeats each key once per co-occurrence
                a = key >> bits
                b = key & mask_b
                if _is_marked(a, filt, bitmap):
                    part[w, np.searchsorted(marked, a)] += 1
                if _is_marked(b, filt, bitmap):
                    part[w, np.searchsorted(marked, b)] += 1
    out = np.zeros(m, np.int32)
    for w in range(n_work):
        for k in range(m):
            out[k] += part[w, k]
    return out


@njit(cache=True, parallel=True, nogil=True)
def marked_trips(ent, t, marked, filt, bitmap, gap, n_chunks):  # noqa: ANN001, ANN201
    """Trips of each entity in sorted ``marked``: its sightings chained while <= ``gap`` s apart.

    One parallel pass over all rows picks the marked entities' sightings (a
    filter test per row), then each entity's times are sorted and chained.
    O(n + s log s) for s sightings of marked entities.
    """
    n = ent.shape[0]
    m = marked.shape[0]
    part = np.zeros((n_chunks, m + 1), np.int64)
    for c in prange(n_chunks):
        for i in range(n * c // n_chunks, n * (c + 1) // n_chunks):
            x = ent[i]
            if _is_marked(x, filt, bitmap):
                part[c, np.searchsorted(marked, x) + 1] += 1
    # slot-major offsets: entity k's sightings from chunk c start at part[c, k]
    run = np.int64(0)
    starts = np.empty(m + 1, np.int64)
    for k in range(m):
        starts[k] = run
        for c in range(n_chunks):
            v = part[c, k + 1]
            part[c, k + 1] = run
            run += v
    starts[m] = run
    times = np.empty(run, np.int64)
    for c in prange(n_chunks):
        for i in range(n * c // n_chunks, n * (c + 1) // n_chunks):
            x = ent[i]
            if _is_marked(x, filt, bitmap):
                k = np.searchsorted(marked, x) + 1
                times[part[c, k]] = t[i]
                part[c, k] += 1
    trips = np.zeros(m, np.int64)
    for k in prange(m):
        seg = np.sort(times[starts[k] : starts[k + 1]])
        if seg.shape[0]:
            cnt = 1
            for j in range(1, seg.shape[0]):
                if seg[j] - seg[j - 1] > gap:
                    cnt += 1
            trips[k] = cnt
    return trips


@njit(cache=True, nogil=True)
def cooccurrence_weight(g, d):  # noqa: ANN001, ANN201
    """Evidence ``-ln p`` of one co-occurrence, ``p = 1 - exp(-2 g d / 3600)``."""
    return -math.log(-math.expm1(-2.0 * g * d / HOUR_S))


@njit(cache=True, parallel=True, nogil=True)
def evaluate_runs(kp, starts, ends, bits, t_min, event_window, decay, min_events, n_work):  # noqa: ANN001, ANN201
    """Events and evidence of each run of co-occurrences of one pair.

    Co-occurrences are ordered by time and chained into events while
    consecutive ones are at most ``event_window`` seconds apart; an event's
    evidence is ``max w + decay * (sum w - max w)``. A run spanning at most
    ``(min_events - 1) * event_window`` seconds cannot reach ``min_events``
    events (one trip past many cameras): it gets ``events = 0`` and no weights
    are computed. Returns (a, b, events, evidence, first_t, last_t).
    O(L log L) per run of length L.
    """
    m = starts.shape[0]
    a = np.empty(m, np.int32)
    b = np.empty(m, np.int32)
    events = np.zeros(m, np.int32)
    evidence = np.zeros(m, np.float64)
    first_t = np.empty(m, np.int32)
    last_t = np.empty(m, np.int32)
    mask_b = (np.int64(1) << bits) - 1
    mask16 = np.int64(0xFFFF)
    reach = np.int64(min_events - 1) * event_window
    for w in prange(n_work):
        r0 = m * w // n_work
        r1 = m * (w + 1) // n_work
        longest = 1
        for r in range(r0, r1):
            longest = max(longest, ends[r] - starts[r])
        tt = np.empty(longest, np.int64)
        pp = np.empty(longest, np.int64)
        for r in range(r0, r1):
            s = starts[r]
            ln = ends[r] - s
            key = kp[s, 0]
            a[r] = key >> bits
            b[r] = key & mask_b
            lo = kp[s, 1] >> 32
            hi = lo
            for k in range(ln):
                tk = kp[s + k, 1] >> 32
                lo = min(lo, tk)
                hi = max(hi, tk)
            first_t[r] = lo + t_min
            last_t[r] = hi + t_min
            if min_events > 1 and hi - lo <= reach:
                continue
            if ln <= 32:  # insertion sort by time
                for k in range(ln):
                    p = kp[s + k, 1]
                    tk = p >> 32
                    j = k - 1
                    while j >= 0 and tt[j] > tk:
                        tt[j + 1] = tt[j]
                        pp[j + 1] = pp[j]
                        j -= 1
                    tt[j + 1] = tk
                    pp[j + 1] = p
            else:
                order = np.argsort(kp[s : s + ln, 1] >> 32)
                for k in range(ln):
                    p = kp[s + order[k], 1]
                    tt[k] = p >> 32
                    pp[k] = p
            nev = 0
            total = 0.0
            cur_max = 0.0
            cur_sum = 0.0
            for k in range(ln):
                p = pp[k]
                wk = cooccurrence_weight(np.float64((p >> 16) & mask16), np.float64(p & mask16))
                if k > 0 and tt[k] - tt[k - 1] > event_window:
                    total += cur_max + decay * (cur_sum - cur_max)
                    nev += 1
                    cur_max = wk
                    cur_sum = wk
                elif k == 0:
                    cur_max = wk
                    cur_sum = wk
                else:
                    cur_max = max(cur_max, wk)
                    cur_sum += wk
            total += cur_max + decay * (cur_sum - cur_max)
            events[r] = nev + 1
            evidence[r] = total
    return a, b, events, evidence, first_t, last_t


@njit(cache=True, nogil=True)
def gather_run(ptr, ent, t, t0, t1, out_cp, out_ent, out_t, k):  # noqa: ANN001, ANN201
    """Append every row of a bucketed run with t0 <= t <= t1 (checkpoint from ``ptr``); returns new k."""
    n_cp = ptr.shape[0] - 1
    for c in range(n_cp):
        for j in range(ptr[c], ptr[c + 1]):
            tj = t[j]
            if t0 <= tj <= t1:
                out_cp[k] = c
                out_ent[k] = ent[j]
                out_t[k] = tj
                k += 1
    return k
