"""Kernels that replaced small numpy calls on the per-run indexing path give the same
arrays, byte for byte, as the code they replaced."""

from __future__ import annotations

import numpy as np
import pytest

from graph.spacetime import _kernels as kern
from graph.spacetime.copresence import CoPresence
from graph.spacetime.entities import EntityStats
from graph.spacetime.index import PARTITION_S, SightingIndex


class _Window:
    """The fields of a scene window that the standing CSR reads."""

    def __init__(self, cps: np.ndarray, t0: int, t1: int) -> None:
        self.cps, self.t0, self.t1 = cps, t0, t1


class _Case:
    def __init__(self, window: _Window) -> None:
        self.window = window


def _random_cases(rng: np.random.Generator, n_cases: int, n_cp: int) -> list[_Case]:
    cases = []
    for _ in range(n_cases):
        size = int(rng.integers(0, 12))
        cps = rng.integers(0, n_cp, size).astype(np.int32)  # repeats allowed
        t0 = int(rng.integers(0, 10**6))
        cases.append(_Case(_Window(cps, t0, t0 + int(rng.integers(0, 10**5)))))
    return cases


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert x.shape == y.shape
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("seed", range(20))
def test_merge_window_is_merge_csr_of_window_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cp = int(rng.integers(1, 40))
    built_cases = _random_cases(rng, int(rng.integers(0, 30)), n_cp)
    added = _random_cases(rng, int(rng.integers(1, 4)), n_cp)
    built = CoPresence._window_rows(built_cases, 0, n_cp)
    first = len(built_cases)
    expected = kern.merge_csr(*built, *CoPresence._window_rows(added, first, n_cp))
    got = built
    for k, case in enumerate(added):
        w = case.window
        got = kern.merge_window(*got, w.cps, w.t0, w.t1, first + k)
    _same(got, expected)


@pytest.mark.parametrize("seed", range(20))
def test_by_hour_is_a_stable_argsort_by_hour(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    base = int(rng.integers(0, 10**8))
    t = (base + rng.integers(0, int(rng.integers(1, 6)) * PARTITION_S, n)).astype(np.int32)
    cp = rng.integers(0, 50, n).astype(np.int32)
    ent = rng.integers(0, 1000, n).astype(np.int32)
    hours = t // PARTITION_S
    h0, h1 = int(hours.min()), int(hours.max())
    order = np.argsort(hours, kind="stable")
    got_cp, got_ent, got_t, bounds = kern.by_hour(cp, ent, t, h0, h1, PARTITION_S)
    _same((got_cp, got_ent, got_t), (cp[order], ent[order], t[order]))
    counts = np.bincount(hours - h0, minlength=h1 - h0 + 1)
    assert bounds.tolist() == [0, *np.cumsum(counts).tolist()]
    assert kern.extent(ent, cp, t) == (ent.min(), cp.min(), t.min(), t.max())


def _append_by_argsort(idx: SightingIndex, ent: np.ndarray, cp: np.ndarray, t: np.ndarray) -> None:
    """The hour split the index did before :func:`kern.by_hour` (no retention here)."""
    idx.watermark = max(idx.watermark, int(t.max()))
    hours = t // PARTITION_S
    order = np.argsort(hours, kind="stable")
    hs = hours[order]
    cuts = (np.flatnonzero(np.diff(hs)) + 1).tolist()
    for s, e in zip([0, *cuts], [*cuts, hs.size], strict=True):
        sel = order[s:e]
        idx._push(int(hs[s]), cp[sel], ent[sel], t[sel])
    idx._drop_expired()
    idx._compact_settled()


@pytest.mark.parametrize("seed", range(10))
def test_append_fills_the_partitions_as_before(seed: int) -> None:
    rng = np.random.default_rng(seed)
    new, old = SightingIndex(run_size=1024), SightingIndex(run_size=1024)
    clock = 10**7
    for _ in range(60):
        n = int(rng.integers(1, 200))
        clock += int(rng.integers(0, 1800))
        t = (clock - rng.integers(0, 3 * PARTITION_S, n)).astype(np.int32)
        cp = rng.integers(0, 30, n).astype(np.int32)
        ent = rng.integers(0, 500, n).astype(np.int32)
        assert new.append(ent, cp, t).accepted == n
        _append_by_argsort(old, ent, cp, t)
    assert new.partitions.keys() == old.partitions.keys()
    for hour, part in new.partitions.items():
        ref = old.partitions[hour]
        assert part.n == ref.n and len(part.runs) == len(ref.runs)
        _same(
            (part.cp[: part.n], part.ent[: part.n], part.t[: part.n]),
            (ref.cp[: ref.n], ref.ent[: ref.n], ref.t[: ref.n]),
        )
        for run, ref_run in zip(part.runs, ref.runs, strict=True):
            _same((run.ptr, run.ent, run.t), (ref_run.ptr, ref_run.ent, ref_run.t))


@pytest.mark.parametrize("seed", range(10))
def test_update_at_is_update_of_gathered_positions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs, ys = rng.normal(0, 1e5, 64), rng.normal(3e6, 1e5, 64)
    new, old = EntityStats(), EntityStats()
    for _ in range(30):
        n = int(rng.integers(1, 150))
        ent = rng.integers(0, 3000, n).astype(np.int32)
        cp = rng.integers(0, 64, n).astype(np.int32)
        t = rng.integers(0, 10**7, n).astype(np.int32)
        new.update_at(ent, t, cp, xs, ys)
        old.update(ent, t, xs[cp], ys[cp])
    for name in ("count", "first", "last", "blocks", "moments", "earliest", "latest"):
        a, b = getattr(new, name), getattr(old, name)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), name


def _rebuilt_windows(cop: CoPresence) -> tuple[np.ndarray, ...]:
    """The standing CSR as it was kept before refits: merged while no checkpoint was
    added, else rebuilt from the open cases (also when :meth:`_standing` found new
    checkpoints)."""
    now = cop.index.watermark
    stale = cop._min_close < now - 3600
    if cop._windows is not None and (cop._unbuilt or stale):
        ptr = cop._windows[0]
        if stale or ptr.shape[0] - 1 != len(cop.checkpoints):
            cop._windows = None
        else:
            first = len(cop._open) - cop._unbuilt
            added = cop._window_rows(cop._open[first:], first, ptr.shape[0] - 1)
            cop._windows = kern.merge_csr(*cop._windows, *added)
    if cop._windows is not None and cop._windows[0].shape[0] - 1 < len(cop.checkpoints):
        cop._windows = None
    if cop._windows is None:
        cop._open = [case for case in cop._open if case.close_at >= now]
        cop._min_close = min((c.close_at for c in cop._open), default=2**62)
        cop._windows = cop._window_rows(cop._open, 0, len(cop.checkpoints))
    cop._unbuilt = 0
    return cop._windows


@pytest.mark.parametrize("seed", range(10))
def test_standing_windows_refit_is_the_rebuild(seed: int) -> None:
    rng = np.random.default_rng(seed)
    new, old = CoPresence(), CoPresence()
    clock = 0
    for step in range(300):
        if rng.random() < 0.1 or step == 0:
            fresh = int(rng.integers(1, 4))
            for cop in (new, old):
                for k in range(fresh):
                    cop.checkpoints.register(f"cp-{step}-{k}", 121.0 + step * 1e-3, 30.0)
        n_cp = len(new.checkpoints)
        clock += int(rng.integers(0, 1200))
        for _ in range(int(rng.integers(0, 3))):
            cps = rng.integers(0, n_cp, int(rng.integers(0, 6))).astype(np.int32)
            t0 = clock - int(rng.integers(0, 7200))
            window = _Window(cps, t0, t0 + int(rng.integers(0, 7200)))
            close_at = window.t1 + int(rng.integers(0, 3)) * 1800
            for cop in (new, old):
                case = _Case(window)
                case.close_at = close_at
                cop._open.append(case)
                cop._unbuilt += 1
                cop._min_close = min(cop._min_close, case.close_at)
        new.index.watermark = old.index.watermark = clock
        _same(new._standing_windows(), _rebuilt_windows(old))
        assert [c.window for c in new._open] == [c.window for c in old._open]
        assert new._min_close == old._min_close


@pytest.mark.parametrize("seed", range(10))
def test_moved_rows_is_the_numpy_comparison(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lon0, lat0 = rng.uniform(120, 122, 50), rng.uniform(29, 31, 50)
    ids = rng.integers(0, 50, 300).astype(np.int32)
    jitter = rng.choice([0.0, 0.0005, 0.001, 0.0011, 0.5, np.nan], (2, 300))
    lons, lats = lon0[ids] + jitter[0], lat0[ids] - jitter[1]
    moved = (np.abs(lon0[ids] - lons) > 0.001) | (np.abs(lat0[ids] - lats) > 0.001)
    got = kern.moved_rows(ids, lon0, lat0, lons, lats, 0.001)
    _same((got,), (np.flatnonzero(moved),))
