"""The scene query's numba kernels give, bit for bit, what the numpy code they replaced gave.

Each reference below is the plain numpy computation the kernel replaced in
``graph.spacetime.scene`` or ``graph.spacetime.entities``; results are compared as
bytes, so a last-bit difference in a weight fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from graph.spacetime import _kernels as kern_index
from graph.spacetime import _scene_kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry
from graph.spacetime.entities import EntityStats, _block_weights
from graph.spacetime.index import PARTITION_S, SightingIndex
from graph.spacetime.scene import (
    BLOCK_S,
    LOCAL_OFFSET_S,
    NEAR_M,
    STAY_MAX_S,
    SceneWindow,
    _held_days,
)

SIZES = [0, 1, 2, 7, 300]
SEEDS = range(6)


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def _reads(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ent, cp, t) with many repeated entities, checkpoints and times (ties)."""
    ent = rng.integers(0, max(1, n // 4), n).astype(np.int32)
    cp = rng.integers(0, 6, n).astype(np.int32)
    t = (100_000_000 + rng.integers(0, 30, n) * 3000).astype(np.int32)  # five blocks
    return ent, cp, t


def _stays_reference(row_of: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int32)
    if t.size < 2:
        return out
    order = np.lexsort((t, row_of))
    r, tt = row_of[order], t[order].astype(np.int64)
    gap = np.diff(tt)
    ok = (r[1:] == r[:-1]) & (gap <= STAY_MAX_S)
    np.maximum.at(out, r[1:][ok], gap[ok].astype(np.int32))
    return out


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_entity_rows_equal_unique_and_stays(n: int, seed: int) -> None:
    ent, _, t = _reads(np.random.default_rng(seed), n)
    uniq, row_of, stay = kern.entity_rows(ent, t, STAY_MAX_S)
    want_uniq, want_row = np.unique(ent, return_inverse=True)
    _same(uniq, want_uniq)
    np.testing.assert_array_equal(row_of, want_row)
    _same(stay, _stays_reference(want_row, t, want_uniq.size))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_day_presence_equals_the_binary_search(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    seen, _, seen_t = _reads(rng, n)
    ents = np.unique(rng.integers(0, max(1, n // 3), rng.integers(0, 12))).astype(np.int32)
    shift, b0, n_blocks = 86400 + LOCAL_OFFSET_S, int(rng.integers(4633, 4639)), 3
    rows, blks = kern.day_presence(ents, seen, seen_t, shift, b0, n_blocks, BLOCK_S)
    if ents.size == 0 or seen.size == 0:
        assert rows.size == blks.size == 0
        return
    row = np.minimum(np.searchsorted(ents, seen), ents.size - 1)
    keep = ents[row] == seen
    blk = (seen_t[keep] + shift) // BLOCK_S - b0
    np.testing.assert_array_equal(rows, row[keep])
    np.testing.assert_array_equal(blks, np.clip(blk, 0, n_blocks - 1))


def _mu_inputs(rng: np.random.Generator, u: int, n_blocks: int) -> dict[str, np.ndarray]:
    return {
        "rate": rng.exponential(0.5, u),
        "share": rng.random(u),
        "hours": np.maximum(rng.random(n_blocks) * 6.0, 1.0 / 60.0),
        "tod": rng.random((u, n_blocks)) * 2.0,
        "own": rng.integers(0, 4, (u, n_blocks)).astype(np.int64),
        "fleet": rng.random(u) < 0.2,
    }


@pytest.mark.parametrize("u", [0, 1, 5, 200])
@pytest.mark.parametrize("seed", SEEDS)
def test_expected_visits_equal_the_numpy_expression(u: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _mu_inputs(rng, u, int(rng.integers(1, 9)))
    available, prior = int(rng.integers(0, 8)), 2.0
    mu = kern.expected_visits(
        x["rate"], x["share"], x["hours"], x["tod"], x["own"], available + prior, prior,
        x["fleet"], 3.0,
    )  # fmt: skip
    area = (x["rate"] * x["share"])[:, None] * x["hours"][None, :] * x["tod"]
    want = np.maximum((x["own"] + prior * area) / (available + prior), area)
    want[x["fleet"]] = np.maximum(want[x["fleet"]], 3.0)
    _same(mu, want)


@pytest.mark.parametrize("n", SIZES[1:])
@pytest.mark.parametrize("seed", SEEDS)
def test_best_rows_equal_the_stable_lexsort(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ent, cp, t = _reads(rng, n)
    cps = np.array([0, 1, 2, 3, 4], np.int32)  # checkpoint 5 is not near: distance 0
    dist_m = rng.choice([200.0, 900.0, 1500.0, 4000.0], cps.size)
    start, end = int(t.min()) + 3000, int(t.max()) - 3000
    b0 = (int(t.min()) + LOCAL_OFFSET_S) // BLOCK_S
    n_blocks = (int(t.max()) + LOCAL_OFFSET_S) // BLOCK_S - b0 + 1
    uniq, row_of = np.unique(ent, return_inverse=True)
    mu = rng.choice([0.01, 0.2, 0.2, 3.0], (uniq.size, n_blocks))  # ties between blocks
    mid = 0.5 * (start + end)
    first, masked, dist, proximity = kern.best_rows(
        row_of, cp, t, mu, cps, dist_m, b0, BLOCK_S, LOCAL_OFFSET_S, mid, 1 + 1e-9, NEAR_M
    )
    dist_of_cp = np.zeros(int(max(cp.max(), cps.max())) + 1)
    dist_of_cp[cps] = dist_m
    blk = np.clip((t + LOCAL_OFFSET_S) // BLOCK_S - b0, 0, n_blocks - 1)
    row_mu = mu[row_of, blk]
    order = np.lexsort((np.abs(t - mid), dist_of_cp[cp], row_mu, row_of))
    want_first = order[np.r_[True, row_of[order][1:] != row_of[order][:-1]]]
    np.testing.assert_array_equal(first, want_first)
    bound = row_mu[want_first][:, None] * (1 + 1e-9)
    _same(masked, np.where(mu <= bound, mu, 0.0))
    _same(dist, dist_of_cp[cp[want_first]])
    _same(proximity, np.sqrt(np.minimum(1.0, NEAR_M / np.maximum(dist, 1.0))))


def _stats(seed: int) -> EntityStats:
    rng = np.random.default_rng(seed)
    stats = EntityStats()
    n = 3000
    stats.update(
        rng.integers(0, 60, n).astype(np.int32),
        np.sort(rng.integers(0, 4 * 86400, n)).astype(np.int32),
        rng.normal(0, 8000, n),
        rng.normal(0, 8000, n),
    )
    return stats


@pytest.mark.parametrize("seed", SEEDS)
def test_entity_statistics_equal_their_numpy_formulas(seed: int) -> None:
    stats = _stats(seed)
    ent = np.array([0, 3, 59, 17, 17, 2000], np.int64)  # 2000: never seen, beyond the arrays
    inside = ent < stats.count.shape[0]
    e = np.where(inside, ent, 0)
    n = np.where(inside, stats.count[e], 0).astype(np.float64)
    floor_h = max(1.0, min(24.0, (stats.latest - stats.earliest) / 3600.0))
    span_h = np.maximum(floor_h, (stats.last[e].astype(np.float64) - stats.first[e]) / 3600.0)
    rate = n / span_h
    _same(stats.rate_per_hour(ent), rate)
    known = ent[inside]
    m = stats.moments[known]
    cnt = np.maximum(stats.count[known].astype(np.float64), 1.0)
    mx, my = m[:, 0] / cnt, m[:, 1] / cnt
    spread = np.sqrt(np.maximum(m[:, 2] / cnt - mx * mx - my * my, 0.0) / 2.0) / 1000.0
    _same(stats.spread_km(known), spread)
    per_day = rate[inside] * 24.0
    fleet = (per_day > stats.FLEET_PER_DAY) | (per_day * spread > stats.FLEET_REACH_KM)
    _same(stats.is_fleet(known), fleet)
    assert not stats.is_fleet(ent)[-1] and stats.spread_km(ent)[-1] == 0.0
    counts = stats.blocks[known].astype(np.float64)
    share4 = 4.0 * ((counts + 1.0) / (counts.sum(axis=1, keepdims=True) + 4.0))
    got = stats.time_of_day_factors(known, np.array([3600, 40000]), np.array([30000, 90000]))
    _same(got[:, 1], share4 @ _block_weights(11, 25))
    _same(stats.rate_per_hour(np.empty(0, np.int64)), np.empty(0))


def test_held_days_are_the_days_with_a_partition_inside_the_retention() -> None:
    idx = SightingIndex(retention_hours=24 * 5)
    base = 100_000_000 - 100_000_000 % 86400
    hours = [2, 3, 30, 31, 77, 100, 120, 121, 122]  # gaps of whole days
    for h in hours:
        t = np.array([base + h * PARTITION_S], np.int32)
        idx.append(np.array([1], np.int32), np.array([0], np.int32), t)
    w = SceneWindow(np.array([0], np.int32), np.zeros(1), 800.0, 0.0, 0.0, 0, 0, 0, 0)
    for t0 in range(base + 96 * 3600, base + 124 * 3600, 5400):
        window = SceneWindow(w.cps, w.dist_m, 800.0, 0.0, 0.0, t0, t0 + 7200, t0 - 900, t0 + 8100)
        want = [
            (k, window.t0 - k * 86400, window.t1 - k * 86400)
            for k in range(1, 8)
            if window.t1 - k * 86400 >= idx.oldest_time
            and any(
                h in idx.partitions
                for h in range(
                    (window.t0 - k * 86400) // PARTITION_S,
                    (window.t1 - k * 86400) // PARTITION_S + 1,
                )
            )
        ]
        assert list(_held_days(idx, window, 7)) == want


def _correlate_reference(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The correlation as numpy adds it: tap by tap in order, every row."""
    ny = a.shape[0]
    r = k.shape[0] // 2
    out = np.zeros(a.shape)
    for d in range(k.shape[0]):
        lo, hi = max(0, r - d), min(ny, ny + r - d)  # rows i with 0 <= i + d - r < ny
        if lo < hi:
            out[lo:hi] += k[d] * a[lo + d - r : hi + d - r]
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (60, 45), (200, 130)])
@pytest.mark.parametrize("seed", range(4))
def test_correlate_rows_skipping_empty_rows_equals_every_row(
    shape: tuple[int, int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = np.where(rng.random(shape) < 0.03, rng.integers(1, 5, shape), 0).astype(np.float64)
    a[rng.random(shape[0]) < 0.5] = 0.0  # whole empty rows, as in a raster's padding
    for sigma in (1.0, 2.5, 4.0):
        reach = int(np.ceil(5.5 * sigma))
        d = np.arange(-reach, reach + 1, dtype=np.float64)
        k = np.exp(-(d**2) / (2.0 * sigma**2))
        _same(kern_index.correlate_rows(a, k), _correlate_reference(a, k))


@pytest.mark.parametrize("seed", SEEDS)
def test_background_equals_the_four_statistics(seed: int) -> None:
    stats = _stats(seed)
    registry = CheckpointRegistry()
    rng = np.random.default_rng(seed)
    for i in range(40):
        registry.register(f"cp{i}", 121.5 + 0.05 * rng.random(), 29.8 + 0.05 * rng.random())
    rasters = registry.density_rasters()
    starts, ends = np.array([3600, 40000]), np.array([30000, 90000])
    for ent in (np.empty(0, np.int32), np.array([7], np.int32), np.arange(60, dtype=np.int32)):
        rate, share, tod, fleet = stats.background(ent, 120.0, -300.0, 4, rasters, starts, ends)
        _same(rate, stats.rate_per_hour(ent))
        _same(share, stats.share_near(ent, 120.0, -300.0, 4, rasters))
        _same(tod, stats.time_of_day_factors(ent, starts, ends))
        _same(fleet, stats.is_fleet(ent))
