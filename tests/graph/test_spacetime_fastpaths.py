"""Fast paths of the space-time core give what the plain computations give."""

from __future__ import annotations

import numpy as np

from graph.spacetime.entities import EntityStats


def _stats() -> EntityStats:
    rng = np.random.default_rng(5)
    stats = EntityStats()
    n = 2000
    ent = rng.integers(0, 50, n).astype(np.int32)
    t = np.sort(rng.integers(0, 5 * 86400, n)).astype(np.int32)
    x = rng.normal(0, 5000, n)
    y = rng.normal(0, 5000, n)
    stats.update(ent, t, x, y)
    return stats


def test_time_of_day_factors_equal_one_interval_at_a_time() -> None:
    stats = _stats()
    ent = np.arange(0, 50, 3)
    starts = np.array([3600, 30000, 86400 + 7200, 100])
    ends = np.array([7200, 52000, 2 * 86400, 100 + 20 * 3600])
    both = stats.time_of_day_factors(ent, starts, ends)
    for j in range(starts.size):
        hours = np.arange(starts[j] // 3600, ends[j] // 3600 + 1)
        blocks = ((hours * 3600 + 8 * 3600) % 86400) // 21600
        weights = np.bincount(blocks, minlength=4)[:4] / max(len(hours), 1)
        counts = stats.blocks[ent].astype(np.float64)
        share = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + 4.0)
        np.testing.assert_array_equal(both[:, j], 4.0 * share @ weights)
        np.testing.assert_array_equal(
            stats.time_of_day_factor(ent, int(starts[j]), int(ends[j])), both[:, j]
        )


def test_is_fleet_with_a_given_rate_equals_without() -> None:
    stats = _stats()
    ent = np.arange(50)
    np.testing.assert_array_equal(
        stats.is_fleet(ent, stats.rate_per_hour(ent)), stats.is_fleet(ent)
    )
