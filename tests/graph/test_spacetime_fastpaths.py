"""Fast paths of the space-time core give what the plain computations give."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from graph.spacetime import _kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry
from graph.spacetime.copresence import CoPresence
from graph.spacetime.entities import EntityStats, entity_key


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


def test_entity_ids_of_reported_forms_equal_their_normalised_keys() -> None:
    core = CoPresence()
    kinds = ["plate", "plate", "phone", "phone", "mac", "mac", "plate"]
    values = [
        "浙B12345",
        "浙b·12345",  # a reader's dot and lower case: the same plate
        "13812345678",
        "+86 138-1234-5678",
        "AA-BB-CC-DD-EE-FF",
        "aa:bb:cc:dd:ee:ff",
        "浙A00001",
    ]
    fast = core.entity_ids(kinds, values)
    plain = [core.entities.get(entity_key(k, v)) for k, v in zip(kinds, values, strict=True)]
    assert fast.tolist() == plain
    assert fast[0] == fast[1] and fast[2] == fast[3] and fast[4] == fast[5]
    assert len(set(fast.tolist())) == 4


def test_entity_ids_from_normal_keys_made_elsewhere_equal_those_from_reported_forms() -> None:
    """A worker validating ahead sends each entity's normal key: batch after batch, the
    ids (new ones in the order seen, repeats, reported forms that are not normal) are
    those the reported forms get."""
    rng = np.random.default_rng(4)
    forms = (
        [
            ("plate", "浙B12345"),
            ("plate", "浙b·12345"),
            ("plate", "浙B 12345"),
            ("phone", "13812345678"),
            ("phone", "+86 138-1234-5678"),
            ("phone", "0086 138 1234 5678"),
            ("mac", "AA-BB-CC-DD-EE-FF"),
            ("mac", "aa:bb:cc:dd:ee:ff"),
        ]
        + [("plate", f"浙A{i:05d}") for i in range(40)]
        + [("plate", f"浙a·{i:05d}") for i in range(40)]
    )
    reported, given = CoPresence(), CoPresence()
    for _ in range(6):
        picks = rng.integers(0, len(forms), size=50).tolist()
        kinds = [forms[i][0] for i in picks]
        values = [forms[i][1] for i in picks]
        keys = [entity_key(k, v) for k, v in zip(kinds, values, strict=True)]
        assert (
            reported.entity_ids(kinds, values).tolist()
            == given.entity_ids(kinds, values, keys).tolist()
        )
    assert reported.entities.values == given.entities.values
    with pytest.raises(ValueError, match="3 entity kinds but 2 keys"):
        given.entity_ids(["plate"] * 3, ["a", "b", "c"], ["plate:A", "plate:B"])


def test_register_many_equals_register_and_logs_a_moved_checkpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, many = CheckpointRegistry(), CheckpointRegistry()
    names = ["cp1", "cp2", "cp1", "cp3", "cp2"]
    lons = [120.1, 120.2, 120.1, 120.3, 120.2]
    lats = [30.1, 30.2, 30.1, 30.3, 30.2]
    expected = [one.register(n, lo, la) for n, lo, la in zip(names, lons, lats, strict=True)]
    assert many.register_many(names, lons, lats).tolist() == expected
    with caplog.at_level(logging.WARNING, logger="graph.spacetime.checkpoints"):
        ids = many.register_many(["cp3", "cp1"], [120.3, 120.5], [30.3, 30.1])
    assert ids.tolist() == [expected[3], expected[0]]  # a moved camera keeps its first place
    assert "checkpoint cp1 reported at (120.50000" in caplog.text
    assert "cp3" not in caplog.text


def test_checkpoints_registered_between_queries_are_found_as_if_registered_at_once() -> None:
    rng = np.random.default_rng(11)
    n = 600
    lon = 121.5 + rng.normal(0, 0.05, n)
    lat = 29.9 + rng.normal(0, 0.05, n)
    names = [f"CP-{i:04d}" for i in range(n)]
    growing = CheckpointRegistry()
    probes = [(121.5 + dx, 29.9 + dy) for dx, dy in rng.normal(0, 0.03, (8, 2))]
    for lo, hi in ((0, 1), (1, 40), (40, 41), (41, 300), (300, 600)):
        growing.register_many(names[lo:hi], lon[lo:hi], lat[lo:hi])
        # queries in between: the projected positions and the grid are then extended
        for px, py in probes:
            growing.near_scene(px, py)
        at_once = CheckpointRegistry()
        at_once.register_many(names[:hi], lon[:hi], lat[:hi])
        for px, py in probes:
            ids_g, dist_g = growing.within(px, py, 3000.0)
            ids_a, dist_a = at_once.within(px, py, 3000.0)
            assert ids_g.tolist() == ids_a.tolist()
            assert np.array_equal(dist_g, dist_a)
        assert all(
            np.array_equal(g, a) for g, a in zip(growing.arrays, at_once.arrays, strict=True)
        )
        assert growing.arrays[0].shape == (hi,)


def test_a_batch_prepared_at_once_and_indexed_run_by_run_equals_one_run_at_a_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The space-time sink interns a micro-batch's entities at once and indexes its
    sightings run by run (between reports); ids, checkpoints, index and skipped sightings
    (a sensor clock at 1970) come out as when each run is added on its own."""
    rng = np.random.default_rng(11)
    n = 400
    kinds = ["plate"] * n
    values = [f"浙B{int(v):05d}" for v in rng.integers(0, 60, n)]
    names = [f"CP-{int(c)}" for c in rng.integers(0, 9, n)]
    lons = [121.5 + 0.01 * int(c[3:]) for c in names]
    lats = [29.9] * n
    epoch = 1_772_000_000.0 + np.sort(rng.uniform(0, 3 * 86400, n))
    epoch[[5, 6, 150, 399]] = 0.0  # a reader whose clock was reset
    runs = [(0, 7), (7, 7), (7, 151), (151, 300), (300, n)]

    every = np.arange(9, dtype=np.int32)

    def held(core: CoPresence) -> int:
        return int(core.index.query(every, 0, 2**31 - 2)[0].size)

    one = CoPresence()
    after_each = []
    for lo, hi in runs:
        one.add_sighting_columns(
            kinds[lo:hi], values[lo:hi], names[lo:hi], lons[lo:hi], lats[lo:hi], epoch[lo:hi]
        )
        after_each.append((held(one), len(one.checkpoints)))
    assert [n for n, _ in after_each] == [5, 5, 148, 297, 396]
    assert after_each[0][1] < 9  # not every checkpoint was met in the first run
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        batch = CoPresence()
        prepared = batch.prepare_sightings(kinds, values, names, lons, lats, epoch)
        for (lo, hi), want in zip(runs, after_each, strict=True):
            assert batch.add_prepared(prepared, lo, hi) == []
            # a report after this run sees just these sightings and checkpoints (its scene
            # window takes the checkpoints known when it arrives)
            assert (held(batch), len(batch.checkpoints)) == want
    skipped = [r.getMessage() for r in caplog.records if "cannot hold" in r.getMessage()]
    assert [m.split()[0] for m in skipped] == ["2", "1", "1"]
    assert batch.rejected_too_old == one.rejected_too_old == 4
    assert list(batch.entities.ids) == list(one.entities.ids)
    assert list(batch.checkpoints.names.ids) == list(one.checkpoints.names.ids)
    for got, want in zip(
        batch.index.query(every, 0, 2**31 - 2), one.index.query(every, 0, 2**31 - 2), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    assert prepared.t.size == n


def _insert_merge(
    ptr: np.ndarray, cols: list[np.ndarray], add_ptr: np.ndarray, add_cols: list[np.ndarray]
) -> list[np.ndarray]:
    """The plain merge: each added segment inserted at the end of its checkpoint's rows."""
    n_cp = ptr.shape[0] - 1
    cps = np.repeat(np.arange(n_cp, dtype=np.int64), np.diff(add_ptr))
    at = ptr[cps + 1]
    return [ptr + add_ptr] + [np.insert(c, at, a) for c, a in zip(cols, add_cols, strict=True)]


@pytest.mark.parametrize("seed", range(6))
def test_merging_new_case_windows_in_one_pass_equals_inserting_them(seed: int) -> None:
    """Open scene windows by checkpoint, with the windows of cases added since appended
    after each checkpoint's rows (the standing matches keep that order)."""
    rng = np.random.default_rng(seed)
    n_cp = [1, 5, 40, 3, 17, 9][seed]

    def csr(rows: int) -> tuple[np.ndarray, list[np.ndarray]]:
        per = (
            np.bincount(rng.integers(0, n_cp, rows), minlength=n_cp)
            if rows
            else np.zeros(n_cp, np.int64)
        )
        ptr = np.zeros(n_cp + 1, np.int64)
        np.cumsum(per, out=ptr[1:])
        return ptr, [rng.integers(0, 10**6, rows).astype(np.int64) for _ in range(3)]

    base_ptr, base = csr([0, 12, 300, 0, 1, 50][seed])
    add_ptr, add = csr([4, 0, 25, 0, 1, 7][seed])
    got = kern.merge_csr(base_ptr, *base, add_ptr, *add)
    want = _insert_merge(base_ptr, base, add_ptr, add)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
