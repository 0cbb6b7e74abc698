"""Numba kernels of the person comparators. Internal: use :mod:`graph.persons.compare`.

Strings are rows of a fixed-width code-point matrix (at most 64 wide) with a
length each. Jaro and Levenshtein are bit-parallel over one 64-bit word:

* a *pattern-match table* maps each character of string ``a`` to the bit set
  of its positions - a direct 256-entry table when every code point is below
  256, otherwise a 256-slot open-addressing hash table;
* **Jaro** (as in rapidfuzz / Hyyrö's formulation): for each character of
  ``b`` the lowest not yet matched position of ``a`` inside the match window
  is taken with one AND and one lowest-bit isolation, so matching is O(len b);
  transpositions are counted in one pass over the matched bits;
* **Levenshtein**: Myers' bit-vector algorithm in Hyyrö's form, O(len b) word
  operations, stopping as soon as the distance must exceed the bound ``k``.

No kernel touches a Python object; all are compiled with ``cache=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = [
    "gamma_pairs",
    "jw_packed",
    "jw_packed_par",
    "jw_pairs",
    "jw_pairs_par",
    "lev_packed",
    "lev_packed_par",
    "lev_pairs",
    "lev_pairs_par",
    "pack_plan",
    "pack_pm",
]

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U15 = np.uint64(15)
_UALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_TABLE = 256

# ---------------------------------------------------------------- pattern tables
# Strings reach the kernels as small integer ids (code points below 256 as they
# are, anything else remapped to a dense alphabet by the caller), so the
# pattern table is a plain array indexed by id.


@njit(cache=True, inline="always")
def _pm_build(a, r, la, pm):  # noqa: ANN001, ANN202
    """Set pm[id] to the positions of id in a[r, :la]."""
    for i in range(la):
        pm[a[r, i]] |= _U1 << np.uint64(i)


@njit(cache=True, inline="always")
def _pm_clear(a, r, la, pm):  # noqa: ANN001, ANN202
    for i in range(la):
        pm[a[r, i]] = _U0


@njit(cache=True, inline="always")
def _fill_bm(b, r, lb, pm, bm):  # noqa: ANN001, ANN202
    """bm[j] = positions in a (the table's string) of b[r, j]."""
    for j in range(lb):
        bm[j] = pm[b[r, j]]


# ---------------------------------------------------------------- Jaro-Winkler


@njit(cache=True, inline="always")
def _jaro_winkler(a, ra, la, b, rb, lb, bm, prefix_weight):  # noqa: ANN001, ANN202
    """Jaro-Winkler of a[ra, :la], b[rb, :lb] given bm[j] = positions of b[rb, j] in a."""
    if la == 0 or lb == 0:
        return 1.0 if la == lb else 0.0
    bound = max(la, lb) // 2 - 1
    if bound < 0:
        bound = 0
    pf = _U0  # matched positions of a
    tf = _U0  # matched positions of b
    win = _UALL >> np.uint64(63 - min(bound, 63))
    grow = min(bound, lb)
    for j in range(grow):  # the window's lower edge is still at 0
        x = bm[j] & win & ~pf
        bit = x & (~x + _U1)
        pf |= bit
        tf |= np.uint64(bit != _U0) << np.uint64(j)
        win = (win << _U1) | _U1
    for j in range(grow, lb):
        x = bm[j] & win & ~pf
        bit = x & (~x + _U1)
        pf |= bit
        tf |= np.uint64(bit != _U0) << np.uint64(j)
        win <<= _U1
    if pf == _U0:
        return 0.0
    m = 0
    t = 0
    while tf != _U0:  # k-th matched char of b against the k-th matched char of a
        j = trailing_zeros(tf)
        pbit = pf & (~pf + _U1)
        t += (bm[j] & pbit) == _U0
        pf ^= pbit
        tf &= tf - _U1
        m += 1
    return _winkler(a, ra, la, b, rb, lb, m, t, prefix_weight)


@njit(cache=True, inline="always")
def _winkler(a, ra, la, b, rb, lb, m, t, prefix_weight):  # noqa: ANN001, ANN202
    """Jaro from matches and half-transpositions, with Winkler's prefix boost above 0.7."""
    mf = float(m)
    sim = (mf / la + mf / lb + (mf - (t // 2)) / mf) / 3.0
    if sim > 0.7:
        p = 0
        top = min(4, la, lb)
        while p < top and np.int64(a[ra, p]) == np.int64(b[rb, p]):
            p += 1
        sim += p * prefix_weight * (1.0 - sim)
    return sim


@njit(cache=True)
def _jw_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, pw, out, start, stop):  # noqa: ANN001, ANN202
    pm = np.zeros(n_rows, np.uint64)
    bm = np.zeros(64, np.uint64)
    last = -1
    for p in range(start, stop):
        i = ia[p]
        if i != last:
            if last >= 0:
                _pm_clear(a_ids, last, a_len[last], pm)
            _pm_build(a_ids, i, a_len[i], pm)
            last = i
        j = ib[p]
        lb = b_len[j]
        _fill_bm(b_ids, j, lb, pm, bm)
        out[p] = _jaro_winkler(a_ids, i, a_len[i], b_ids, j, lb, bm, pw)


@njit(cache=True)
def jw_pairs(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, pw, out):  # noqa: ANN001, ANN201
    """out[p] = JW(a[ia[p]], b[ib[p]]), one thread. O(sum of lengths)."""
    _jw_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, pw, out, 0, ia.shape[0])


@njit(cache=True, parallel=True)
def jw_pairs_par(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, pw, out, n_chunks):  # noqa: ANN001, ANN201
    """:func:`jw_pairs` split into ``n_chunks`` contiguous chunks run in parallel."""
    n = ia.shape[0]
    for c in prange(n_chunks):
        start = n * c // n_chunks
        stop = n * (c + 1) // n_chunks
        _jw_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, pw, out, start, stop)


# ---------------------------------------------------------------- Levenshtein


@njit(cache=True, inline="always")
def _levenshtein(la, lb, bm, k):  # noqa: ANN001, ANN202
    """Levenshtein distance of a[:la], b[:lb] (bm as for Jaro), or k + 1 if above k."""
    if la == 0:
        return lb if lb <= k else k + 1
    if lb == 0:
        return la if la <= k else k + 1
    if abs(la - lb) > k:
        return k + 1
    vp = _UALL >> np.uint64(64 - la)
    vn = _U0
    last = _U1 << np.uint64(la - 1)
    d = la
    for j in range(lb):
        x = bm[j] | vn
        d0 = (((x & vp) + vp) ^ vp) | x
        hp = vn | ~(d0 | vp)
        hn = vp & d0
        if hp & last:
            d += 1
        elif hn & last:
            d -= 1
        hp = (hp << _U1) | _U1
        hn = hn << _U1
        vp = hn | ~(d0 | hp)
        vn = hp & d0
        if d - (lb - 1 - j) > k:
            return k + 1
    return d if d <= k else k + 1


@njit(cache=True)
def _lev_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, k, out, start, stop):  # noqa: ANN001, ANN202
    pm = np.zeros(n_rows, np.uint64)
    bm = np.zeros(64, np.uint64)
    last = -1
    for p in range(start, stop):
        i = ia[p]
        if i != last:
            if last >= 0:
                _pm_clear(a_ids, last, a_len[last], pm)
            _pm_build(a_ids, i, a_len[i], pm)
            last = i
        j = ib[p]
        lb = b_len[j]
        if abs(np.int64(a_len[i]) - lb) > k:
            out[p] = k + 1
            continue
        _fill_bm(b_ids, j, lb, pm, bm)
        out[p] = _levenshtein(a_len[i], lb, bm, k)


@njit(cache=True)
def lev_pairs(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, k, out):  # noqa: ANN001, ANN201
    """out[p] = bounded Levenshtein(a[ia[p]], b[ib[p]], k), one thread."""
    _lev_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, k, out, 0, ia.shape[0])


@njit(cache=True, parallel=True)
def lev_pairs_par(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, k, out, n_chunks):  # noqa: ANN001, ANN201
    """:func:`lev_pairs` in parallel chunks."""
    n = ia.shape[0]
    for c in prange(n_chunks):
        start = n * c // n_chunks
        stop = n * (c + 1) // n_chunks
        _lev_pairs_range(a_ids, a_len, b_ids, b_len, ia, ib, n_rows, k, out, start, stop)


# ---------------------------------------------------------------- packed (SWAR) matrices
#
# For one-vs-many work the strings of ``b`` are packed several to a 64-bit
# word: strings of equal length ``lp`` share a word, each in a lane of W = 8,
# 16, 32 or 64 bits (the smallest lane that holds ``lp``). The pattern table
# ``pm[c, w]`` has, in lane k of word w, the positions of character c in the
# k-th string of the word. The bit-parallel Jaro and Levenshtein steps then
# run on all lanes at once with lane-wise arithmetic (carries kept inside a
# lane), and the loop over words vectorises. Rows of ``a`` are the queries.

_BLOCK = 64  # words processed together (scratch stays in L1)


@njit(cache=True)
def pack_plan(lengths, order):  # noqa: ANN001, ANN201
    """Words of equal-length strings: (lp[nw], lane width[nw], lane_idx[nw, 8] or -1)."""
    n = order.shape[0]
    nw = 0
    i = 0
    while i < n:  # count words
        lp = lengths[order[i]]
        lanes = 64 // _lane_width(lp)
        j = i
        while j < n and lengths[order[j]] == lp:
            j += 1
        nw += (j - i + lanes - 1) // lanes
        i = j
    wlp = np.empty(nw, np.int64)
    ww = np.empty(nw, np.int64)
    lane_idx = np.full((nw, 8), -1, np.int64)
    w = 0
    i = 0
    while i < n:
        lp = lengths[order[i]]
        width = _lane_width(lp)
        lanes = 64 // width
        j = i
        while j < n and lengths[order[j]] == lp:
            j += 1
        for s0 in range(i, j, lanes):
            wlp[w] = lp
            ww[w] = width
            for k in range(min(lanes, j - s0)):
                lane_idx[w, k] = order[s0 + k]
            w += 1
        i = j
    return wlp, ww, lane_idx


@njit(cache=True, inline="always")
def _lane_width(lp):  # noqa: ANN001, ANN202
    if lp <= 8:
        return 8
    if lp <= 16:
        return 16
    if lp <= 32:
        return 32
    return 64


@njit(cache=True)
def pack_pm(ids, lengths, wlp, ww, lane_idx, n_rows):  # noqa: ANN001, ANN201
    """Pattern table pm[alphabet id, word] of the packed strings (row n_rows-1 stays 0)."""
    nw = wlp.shape[0]
    pm = np.zeros((n_rows, nw), np.uint64)
    for w in range(nw):
        width = ww[w]
        for k in range(64 // width):
            s = lane_idx[w, k]
            if s < 0:
                break
            for p in range(lengths[s]):
                pm[ids[s, p], w] |= _U1 << np.uint64(k * width + p)
    return pm


@njit(cache=True, inline="always")
def _lane_consts(width):  # noqa: ANN001, ANN202
    ones = _U0
    for k in range(64 // width):
        ones |= _U1 << np.uint64(k * width)
    return ones, ones << np.uint64(width - 1)


@njit(cache=True, inline="always")
def _lane_inc(y, ones, hi, nhi):  # noqa: ANN001, ANN202
    """y + 1 in every lane, without carries between lanes."""
    return ((y & nhi) + ones) ^ (y & hi)


@njit(cache=True, inline="always")
def _lane_nonzero(v, hi, nhi):  # noqa: ANN001, ANN202
    """The high bit of every lane of v that is not zero."""
    return (((v & nhi) + nhi) | v) & hi


@njit(cache=True, inline="always")
def _lanes_out(mc, tc, pre, nb, width, lane_m, lane_t, lane_p, prefix_len):  # noqa: ANN001, ANN202
    """Per lane: matches, half transpositions and prefix length, as floats."""
    lanes = 64 // width
    lanemask = _UALL >> np.uint64(64 - width)
    for w in range(nb):
        mw = mc[w]
        tw = tc[w]
        pw = pre[w]
        for k in range(lanes):
            shift = np.uint64(k * width)
            q = w * lanes + k
            lane_m[q] = float((mw >> shift) & lanemask)
            lane_t[q] = float(((tw >> shift) & lanemask) >> _U1)
            lane_p[q] = prefix_len[np.int64((pw >> shift) & _U15)]


@njit(cache=True)
def _jw_packed_rows(  # noqa: ANN202
    a_ids, a_len, b_len, col0, pm, wlp, ww, lane_idx, pw, out, r0, r1
):  # noqa: ANN001
    nw = wlp.shape[0]
    pf = np.zeros(_BLOCK, np.uint64)
    mc = np.zeros(_BLOCK, np.uint64)
    tc = np.zeros(_BLOCK, np.uint64)
    pre = np.zeros(_BLOCK, np.uint64)
    tj = np.zeros((64, _BLOCK), np.uint64)
    winb = np.zeros(64, np.uint64)
    lane_m = np.zeros(_BLOCK * 8, np.float64)
    lane_t = np.zeros(_BLOCK * 8, np.float64)
    lane_p = np.zeros(_BLOCK * 8, np.float64)
    sims = np.zeros(_BLOCK * 8, np.float64)
    prefix_len = np.array([0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4], np.float64)
    for i in range(r0, r1):
        lt = np.int64(a_len[i])
        g0 = 0
        while g0 < nw:
            lp = wlp[g0]
            width = ww[g0]
            lanes = 64 // width
            g1 = g0
            while g1 < nw and wlp[g1] == lp:
                g1 += 1
            if lt == 0 or lp == 0:
                for w in range(g0, g1):
                    for k in range(lanes):
                        s = lane_idx[w, k]
                        if s >= 0:
                            out[i, col0 + s] = 1.0 if lt == lp else 0.0
                g0 = g1
                continue
            ones, hi = _lane_consts(width)
            nhi = ~hi
            sh = np.uint64(width - 1)
            bound = max(lt, lp) // 2 - 1
            if bound < 0:
                bound = 0
            for j in range(lt):  # the match window of a's j-th char, in every lane
                lo = max(j - bound, 0)
                top = min(j + bound, lp - 1)
                if lo > top:
                    winb[j] = _U0
                else:
                    wm = (_UALL >> np.uint64(63 - top)) & (_UALL << np.uint64(lo))
                    winb[j] = wm * ones
            n_pre = min(4, lt)
            flt = float(lt)
            flp = float(lp)
            for b0 in range(g0, g1, _BLOCK):
                nb = min(_BLOCK, g1 - b0)
                for w in range(nb):
                    pf[w] = _U0
                    mc[w] = _U0
                    tc[w] = _U0
                for j in range(lt):
                    row = pm[a_ids[i, j]]
                    wj = winb[j]
                    for w in range(nb):
                        x = row[b0 + w] & wj & ~pf[w]
                        bit = x & _lane_inc(~x, ones, hi, nhi)
                        pf[w] |= bit
                        nz = _lane_nonzero(bit, hi, nhi)
                        tj[j, w] = nz
                        mc[w] += nz >> sh
                for j in range(lt):  # transpositions
                    row = pm[a_ids[i, j]]
                    for w in range(nb):
                        sel = tj[j, w]
                        full = (sel - (sel >> sh)) | sel
                        rest = pf[w]
                        pbit = rest & _lane_inc(~rest, ones, hi, nhi) & full
                        tc[w] += _lane_nonzero(pbit & ~row[b0 + w], hi, nhi) >> sh
                        pf[w] = rest ^ pbit
                # common prefix (up to 4): bit p of a lane set while a[:p+1] == b[:p+1]
                row = pm[a_ids[i, 0]]
                for w in range(nb):
                    pre[w] = row[b0 + w] & ones
                for p in range(1, n_pre):
                    row = pm[a_ids[i, p]]
                    step = ones << np.uint64(p)
                    for w in range(nb):
                        pre[w] |= (pre[w] << _U1) & row[b0 + w] & step
                cnt = nb * lanes  # lane counts as floats; constant widths unroll
                if width == 8:
                    _lanes_out(mc, tc, pre, nb, 8, lane_m, lane_t, lane_p, prefix_len)
                elif width == 16:
                    _lanes_out(mc, tc, pre, nb, 16, lane_m, lane_t, lane_p, prefix_len)
                elif width == 32:
                    _lanes_out(mc, tc, pre, nb, 32, lane_m, lane_t, lane_p, prefix_len)
                else:
                    _lanes_out(mc, tc, pre, nb, 64, lane_m, lane_t, lane_p, prefix_len)
                for q in range(cnt):  # vectorisable: Jaro and Winkler's boost of every lane
                    mf = lane_m[q]
                    safe = mf if mf > 0.0 else 1.0
                    sim = (mf / flt + mf / flp + (mf - lane_t[q]) / safe) / 3.0
                    boost = lane_p[q] * pw * (1.0 - sim)
                    sim = sim + boost if sim > 0.7 else sim
                    sims[q] = sim if mf > 0.0 else 0.0
                for w in range(nb):
                    for k in range(lanes):
                        s = lane_idx[b0 + w, k]
                        if s < 0:
                            break
                        out[i, col0 + s] = sims[w * lanes + k]
            g0 = g1


@njit(cache=True)
def jw_packed(a_ids, a_len, b_len, col0, pm, wlp, ww, lane_idx, pw, out):  # noqa: ANN001, ANN201
    """out[i, col0 + s] = JW(a[i], b[s]) for all rows of a and packed strings s; one thread."""
    _jw_packed_rows(a_ids, a_len, b_len, col0, pm, wlp, ww, lane_idx, pw, out, 0, a_len.shape[0])


@njit(cache=True, parallel=True)
def jw_packed_par(a_ids, a_len, b_len, col0, pm, wlp, ww, lane_idx, pw, out, n_chunks):  # noqa: ANN001, ANN201
    """:func:`jw_packed` with the rows of ``a`` split into ``n_chunks`` parallel chunks."""
    n = a_len.shape[0]
    for c in prange(n_chunks):
        _jw_packed_rows(
            a_ids, a_len, b_len, col0, pm, wlp, ww, lane_idx, pw, out,
            n * c // n_chunks, n * (c + 1) // n_chunks,
        )  # fmt: skip


@njit(cache=True)
def _lev_packed_rows(a_ids, a_len, col0, pm, wlp, ww, lane_idx, k, out, r0, r1):  # noqa: ANN001, ANN202
    nw = wlp.shape[0]
    vp = np.zeros(_BLOCK, np.uint64)
    vn = np.zeros(_BLOCK, np.uint64)
    dist = np.zeros(_BLOCK, np.uint64)
    for i in range(r0, r1):
        lt = np.int64(a_len[i])
        g0 = 0
        while g0 < nw:
            lp = wlp[g0]
            width = ww[g0]
            lanes = 64 // width
            g1 = g0
            while g1 < nw and wlp[g1] == lp:
                g1 += 1
            if abs(lt - lp) > k or lt == 0 or lp == 0:
                d = abs(lt - lp)
                d = d if d <= k else k + 1
                for w in range(g0, g1):
                    for q in range(lanes):
                        s = lane_idx[w, q]
                        if s >= 0:
                            out[i, col0 + s] = d
                g0 = g1
                continue
            ones, hi = _lane_consts(width)
            nhi = ~hi
            nones = ~ones
            lanemask = _UALL >> np.uint64(64 - width)
            full = (_UALL >> np.uint64(64 - lp)) * ones
            last = (_U1 << np.uint64(lp - 1)) * ones
            shl = np.uint64(lp - 1)
            for b0 in range(g0, g1, _BLOCK):
                nb = min(_BLOCK, g1 - b0)
                for w in range(nb):
                    vp[w] = full
                    vn[w] = _U0
                    dist[w] = np.uint64(lp) * ones
                for j in range(lt):
                    row = pm[a_ids[i, j]]
                    for w in range(nb):
                        x = row[b0 + w] | vn[w]
                        v = vp[w]
                        xv = x & v
                        total = ((xv & nhi) + (v & nhi)) ^ ((xv ^ v) & hi)  # lane-wise add
                        d0 = (total ^ v) | x
                        hp = vn[w] | ~(d0 | v)
                        hn = v & d0
                        dist[w] = dist[w] + ((hp & last) >> shl) - ((hn & last) >> shl)
                        hp = ((hp << _U1) & nones) | ones
                        hn = (hn << _U1) & nones
                        vp[w] = hn | ~(d0 | hp)
                        vn[w] = hp & d0
                for w in range(nb):
                    dw = dist[w]
                    for q in range(lanes):
                        s = lane_idx[b0 + w, q]
                        if s < 0:
                            break
                        d = np.int64((dw >> np.uint64(q * width)) & lanemask)
                        out[i, col0 + s] = d if d <= k else k + 1
            g0 = g1


@njit(cache=True)
def lev_packed(a_ids, a_len, col0, pm, wlp, ww, lane_idx, k, out):  # noqa: ANN001, ANN201
    """out[i, col0 + s] = bounded Levenshtein(a[i], b[s], k) for packed b; one thread."""
    _lev_packed_rows(a_ids, a_len, col0, pm, wlp, ww, lane_idx, k, out, 0, a_len.shape[0])


@njit(cache=True, parallel=True)
def lev_packed_par(a_ids, a_len, col0, pm, wlp, ww, lane_idx, k, out, n_chunks):  # noqa: ANN001, ANN201
    """:func:`lev_packed` with the rows of ``a`` in parallel chunks."""
    n = a_len.shape[0]
    for c in prange(n_chunks):
        _lev_packed_rows(
            a_ids, a_len, col0, pm, wlp, ww, lane_idx, k, out,
            n * c // n_chunks, n * (c + 1) // n_chunks,
        )  # fmt: skip


# ---------------------------------------------------------------- agreement levels


@njit(cache=True, inline="always")
def _id_level(ca, i, ka, va, cb, j, kb, vb, min_overlap):  # noqa: ANN001, ANN202
    """-1 missing, 0 conflict, 1 typo, 2 compatible, 3 exact (see compare.ID_*)."""
    if ka == 0 or kb == 0:
        return -1
    agree = 0
    dis = 0
    d0 = -1
    d1 = -1
    for t in range(18):
        x = ca[i, t]
        y = cb[j, t]
        if x == 255 or y == 255:
            continue
        if x == y:
            agree += 1
        else:
            if dis == 0:
                d0 = t
            elif dis == 1:
                d1 = t
            dis += 1
    if dis == 0:
        if ka == 18 and kb == 18:
            return 3 if (va and vb) else 2
        return 2 if agree >= min_overlap else -1
    bad_complete = (ka == 18 and not va) or (kb == 18 and not vb)
    if bad_complete and agree >= min_overlap:
        if dis == 1:
            return 1
        if dis == 2 and d1 == d0 + 1 and ca[i, d0] == cb[j, d1] and ca[i, d1] == cb[j, d0]:
            return 1
    return 0


@njit(cache=True, inline="always")
def _phone_level(pa, ta, pb, tb):  # noqa: ANN001, ANN202
    """-1 missing, 0 conflict, 1 last eight digits agree, 2 exact."""
    if (pa < 0 and ta < 0) or (pb < 0 and tb < 0):
        return -1
    if pa >= 0 and pa == pb:
        return 2
    if ta >= 0 and ta == tb:
        return 1
    return 0


@njit(cache=True, inline="always")
def _date_level(d1, d2):  # noqa: ANN001, ANN202
    """-1 missing, 0 conflict, 1 same year, 2 one digit off, 3 day/month swapped, 4 exact."""
    if d1 < 0 or d2 < 0:
        return -1
    if d1 == d2:
        return 4
    y1 = d1 // 10000
    y2 = d2 // 10000
    m1 = (d1 // 100) % 100
    m2 = (d2 // 100) % 100
    a1 = d1 % 100
    a2 = d2 % 100
    if y1 == y2 and m1 == a2 and a1 == m2:
        return 3
    diff = 0
    x = d1
    y = d2
    for _ in range(8):
        if x % 10 != y % 10:
            diff += 1
        x //= 10
        y //= 10
    if diff == 1:
        return 2
    if y1 == y2:
        return 1
    return 0


@njit(cache=True, inline="always")
def _name_fuzzy(a_py, i, la, b_py, j, lb, a_swap, a_key, b_swap, b_key, threshold, pm, bm):  # noqa: ANN001, ANN202
    """Name level below the exact ones: 2 Jaro-Winkler of the pinyin, 1 swapped, 0."""
    _pm_build(a_py, i, la, pm)
    _fill_bm(b_py, j, lb, pm, bm)
    jw = _jaro_winkler(a_py, i, la, b_py, j, lb, bm, 0.1)
    _pm_clear(a_py, i, la, pm)
    if jw >= threshold:
        return 2
    if a_swap == b_key or a_key == b_swap:
        return 1
    return 0


@njit(cache=True)
def _gamma_range(  # noqa: ANN202, PLR0913
    a_py, a_pylen, a_script, a_han_hash, a_py_hash, a_key_hash, a_swpy_hash, a_swap_hash,
    a_id, a_idk, a_idv, a_phone, a_tail, a_dob, a_gender,
    b_py, b_pylen, b_script, b_han_hash, b_py_hash, b_key_hash, b_swpy_hash, b_swap_hash,
    b_id, b_idk, b_idv, b_phone, b_tail, b_dob, b_gender,
    ia, ib, jw_threshold, min_overlap, out, start, stop,
):  # fmt: skip  # noqa: ANN001
    pm = np.zeros(_TABLE, np.uint64)
    bm = np.zeros(64, np.uint64)
    for p in range(start, stop):
        i = ia[p]
        j = ib[p]
        # name
        la = np.int64(a_pylen[i])
        lb = np.int64(b_pylen[j])
        if la == 0 or lb == 0:
            lvl = -1
        elif a_han_hash[i] != 0 and a_han_hash[i] == b_han_hash[j]:
            lvl = 5
        else:
            # a Latin name's order is a guess: its reversed reading counts as the same name
            latin = a_script[i] == 2 or b_script[j] == 2
            swapped_py = a_swpy_hash[i] == b_py_hash[j] or a_py_hash[i] == b_swpy_hash[j]
            swapped_key = a_swap_hash[i] == b_key_hash[j] or a_key_hash[i] == b_swap_hash[j]
            if a_py_hash[i] == b_py_hash[j] or (latin and swapped_py):
                lvl = 4
            elif a_key_hash[i] == b_key_hash[j] or (latin and swapped_key):
                lvl = 3
            else:
                lvl = _name_fuzzy(
                    a_py,
                    i,
                    la,
                    b_py,
                    j,
                    lb,
                    a_swap_hash[i],
                    a_key_hash[i],
                    b_swap_hash[j],
                    b_key_hash[j],
                    jw_threshold,
                    pm,
                    bm,
                )

        out[p, 0] = lvl
        out[p, 1] = _id_level(a_id, i, a_idk[i], a_idv[i], b_id, j, b_idk[j], b_idv[j], min_overlap)
        out[p, 2] = _phone_level(a_phone[i], a_tail[i], b_phone[j], b_tail[j])
        out[p, 3] = _date_level(a_dob[i], b_dob[j])
        ga = a_gender[i]
        gb = b_gender[j]
        if ga == 0 or gb == 0:
            out[p, 4] = -1
        else:
            out[p, 4] = 1 if ga == gb else 0


@njit(cache=True, parallel=True)
def gamma_pairs(  # noqa: ANN201, PLR0913
    a_py, a_pylen, a_script, a_han_hash, a_py_hash, a_key_hash, a_swpy_hash, a_swap_hash,
    a_id, a_idk, a_idv, a_phone, a_tail, a_dob, a_gender,
    b_py, b_pylen, b_script, b_han_hash, b_py_hash, b_key_hash, b_swpy_hash, b_swap_hash,
    b_id, b_idk, b_idv, b_phone, b_tail, b_dob, b_gender,
    ia, ib, jw_threshold, min_overlap, out, n_chunks,
):  # fmt: skip  # noqa: ANN001
    """Comparison vectors of pairs (ia[p], ib[p]) into out (n_pairs, 5), in n_chunks."""
    n = ia.shape[0]
    for c in prange(n_chunks):
        start = n * c // n_chunks
        stop = n * (c + 1) // n_chunks
        _gamma_range(
            a_py, a_pylen, a_script, a_han_hash, a_py_hash, a_key_hash, a_swpy_hash,
            a_swap_hash, a_id, a_idk, a_idv, a_phone, a_tail, a_dob, a_gender,
            b_py, b_pylen, b_script, b_han_hash, b_py_hash, b_key_hash, b_swpy_hash,
            b_swap_hash, b_id, b_idk, b_idv, b_phone, b_tail, b_dob, b_gender,
            ia, ib, jw_threshold, min_overlap, out, start, stop,
        )  # fmt: skip
