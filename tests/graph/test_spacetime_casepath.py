"""Fast paths of a report's scene (``CoPresence.add_case``) against the plain ones."""

from __future__ import annotations

import numpy as np
import pytest

from graph.spacetime.copresence import CoPresence, _Case, _index_second
from graph.spacetime.evidence import EvidenceStore, _Rows
from graph.spacetime.index import BASE_EPOCH, to_index_time
from graph.spacetime.scene import SceneHits, SceneWindow


def test_index_second_equals_to_index_time() -> None:
    rng = np.random.default_rng(5)
    times = np.r_[
        BASE_EPOCH + rng.uniform(0, 2**31 - 1, 2000),
        BASE_EPOCH + rng.integers(0, 2**31 - 1, 200),
        [BASE_EPOCH, BASE_EPOCH + 0.5, BASE_EPOCH + 2**31 - 1, BASE_EPOCH + 2**31 - 1e-3],
    ]
    for t in times.tolist():
        assert _index_second(t) == int(to_index_time(np.array([t]))[0])
        assert type(_index_second(t)) is int


@pytest.mark.parametrize(
    "t", [BASE_EPOCH - 1e-6, BASE_EPOCH - 86400.0, BASE_EPOCH + 2.0**31, float("nan"), float("inf")]
)
def test_index_second_refuses_what_the_index_cannot_hold(t: float) -> None:
    with pytest.raises(ValueError, match="outside what the index holds"):
        _index_second(t)


def _case(core: CoPresence, number: int) -> tuple[_Case, SceneWindow]:
    start = 1000 * number
    w = SceneWindow(np.arange(3, dtype=np.int32), np.ones(3), 800.0, 0.0, 0.0,
                    start, start + 3600, start - 600, start + 4200)  # fmt: skip
    case = _Case(f"C{number:03d}", w, close_at=w.t1)
    core.cases[case.case_id] = case
    return case, w


def _hits(w: SceneWindow, ent: np.ndarray, rng: np.random.Generator) -> SceneHits:
    n = ent.size
    return SceneHits(
        w,
        ent.astype(np.int32),
        rng.integers(0, 5, n).astype(np.int32),
        (w.t0 + rng.integers(0, 4800, n)).astype(np.int32),
        rng.uniform(0, 3000, n),
        rng.choice([0.0, 0.03, 0.4, 1.7, 4.6], n),
        rng.uniform(0, 1, n),
        rng.integers(0, 3000, n).astype(np.int32),
    )


def test_register_hits_makes_the_evidence_the_plain_path_makes() -> None:
    """Each row of a scene query's evidence (shared windows per case pair, hits named by
    list indexing) equals :meth:`CoPresence._evidence` of the same two hits."""
    core = CoPresence()
    for i in range(5):
        core.checkpoints.names.intern(f"CP{i}")
    for i in range(40):
        core.entities.intern(("plate:", "phone:", "mac:")[i % 3] + f"E{i}")
    rng = np.random.default_rng(2)
    made = 0
    for number in (5, 1, 9, 3, 7, 2, 8):  # case ids not in arrival order: both pair orders
        case, w = _case(core, number)
        size = 0 if number == 1 else (1 if number == 9 else 12)
        hits = _hits(w, np.sort(rng.choice(20, size, replace=False)), rng)
        found = core._register_hits(case, hits)
        for ev in found:
            a, b = ev.hit_a, ev.hit_b
            plain = core._evidence(ev.ent_id, a, b)
            assert ev == plain and ev.detail == plain.detail
            assert (ev.near, ev.ent_id, ev._spans) == (plain.near, plain.ent_id, plain._spans)
            assert core.cases[ev.case_a].hits[ev.ent_id] is a
        made += len(found)
        shared = {
            (ev.pair, ev.entity)
            for other in core.cases
            if other != case.case_id
            for ev in core.evidence_between(case.case_id, other)
        }
        assert {(ev.pair, ev.entity) for ev in found} <= shared
    assert made > 20


def test_first_rows_of_a_pair_equal_rows_written_one_by_one() -> None:
    core = CoPresence()
    core.entities.intern("plate:X")
    for i in range(5):
        core.checkpoints.names.intern(f"CP{i}")
    rng = np.random.default_rng(4)
    (a, wa), (b, wb) = _case(core, 1), _case(core, 2)
    hit_a = core._hits_of(a.case_id, _hits(wa, np.array([0]), rng), np.array([0]))[0][1]
    hit_b = core._hits_of(b.case_id, _hits(wb, np.array([0]), rng), np.array([0]))[0][1]
    core.near[0] = {a.case_id: hit_a, b.case_id: hit_b}
    ev = core._evidence(0, hit_a, hit_b)
    first = _Rows.first(ev)
    plain = _Rows()
    EvidenceStore(core.entities.get, core.entities.value, lambda c: (0, 0))._write(plain, -1, ev)
    for name in ("cols", "keys", "rows", "hits", "whole"):
        assert getattr(first, name) == getattr(plain, name), name
    assert first.cols.typecode == "d" and first.keys.typecode == "q" and first.rows.typecode == "i"
    assert _Rows.first(ev).cols is not first.cols  # copies, never the templates
