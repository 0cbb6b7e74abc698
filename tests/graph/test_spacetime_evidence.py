"""The compact evidence store behaves exactly like the dict of dicts it replaces."""

from __future__ import annotations

import random

import pytest

from graph.spacetime.copresence import Hit
from graph.spacetime.evidence import EvidenceStore, LinkEvidence

ENTITIES = [f"plate:浙A{i:05d}" for i in range(12)]
SPANS = {"A": (0, 3600), "B": (100, 7200), "C": (5000, 9000)}


def _hit(case: str, rng: random.Random) -> Hit:
    return Hit(case, f"CP-{rng.randrange(5)}", rng.uniform(50, 3000), rng.randrange(-600, 3600),
               rng.uniform(0.1, 4.0), rng.uniform(0.01, 0.9), rng.randrange(0, 9000))  # fmt: skip


def _evidence(pair: tuple[str, str], rng: random.Random) -> LinkEvidence:
    a, b = pair
    if rng.random() < 0.15:  # a companion bridge: kept whole
        ents = rng.sample(ENTITIES, 2)
        return LinkEvidence(a, b, "+".join(ents), round(rng.uniform(0, 8), 1), f"together {ents}",
                            _hit(a, rng), _hit(b, rng), kind="companion")  # fmt: skip
    e = rng.randrange(len(ENTITIES))
    return LinkEvidence(a, b, ENTITIES[e], round(rng.uniform(0, 8), 1), None, _hit(a, rng),
                        _hit(b, rng), near=rng.randrange(2, 40), ent_id=e,
                        spans=(*SPANS[a], *SPANS[b]))  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_store_matches_a_dict_of_dicts(seed: int) -> None:
    rng = random.Random(seed)
    ids = {k: i for i, k in enumerate(ENTITIES)}
    store = EvidenceStore(ids.get, ENTITIES.__getitem__, SPANS.__getitem__)
    ref: dict[tuple[str, str], dict[str, LinkEvidence]] = {}
    pairs = [("A", "B"), ("A", "C"), ("B", "C")]
    for _ in range(3000):
        pair = rng.choice(pairs)
        op = rng.random()
        if op < 0.6:  # keep the strongest
            ev = _evidence(pair, rng)
            per = ref.setdefault(pair, {})
            old = per.get(ev.entity)
            expect = old is None or ev.score > old.score
            if expect:
                per[ev.entity] = ev
            assert store.keep(ev) == expect
        elif op < 0.8:  # a revision replaces whatever its score
            ev = _evidence(pair, rng)
            old = ref.get(pair, {}).get(ev.entity)
            if old is not None and old.kind != "companion" and rng.random() < 0.3:
                ev = old  # judged again, unchanged: no change to pass on
            ref.setdefault(pair, {})[ev.entity] = ev
            assert store.put(pair, ev.entity, ev) == (ev is not old)
        else:  # a withdrawal
            per = ref.get(pair, {})
            entity = rng.choice(list(per) or ENTITIES)
            expect = per.pop(entity, None) is not None
            if pair in ref and not ref[pair]:
                del ref[pair]
            assert store.put(pair, entity, None) == expect
        if rng.random() < 0.05:
            for p in pairs:
                want = sorted(ref.get(p, {}).values(), key=lambda e: -e.score)
                got = store.between(*p)
                assert [(e.entity, e.score, e.detail, e.hit_a, e.hit_b, e.kind) for e in got] == [
                    (e.entity, e.score, e.detail, e.hit_a, e.hit_b, e.kind) for e in want
                ]
    assert set(store) == set(ref)
    assert store.entries == sum(len(v) for v in ref.values())
    for p, per in ref.items():
        assert store[p] == per


def test_the_sentence_is_written_on_first_read() -> None:
    rng = random.Random(1)
    ev = _evidence(("A", "B"), random.Random(3))
    while ev.kind == "companion":
        ev = _evidence(("A", "B"), rng)
    text = ev.detail
    assert text.startswith(ev.entity.split(":", 1)[1] + " seen ")
    assert f"near {ev.near} scenes" in text and "from scene A" in text and "from scene B" in text
    with pytest.raises(AttributeError, match="immutable"):
        ev.score = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="detail sentence or the windows"):
        LinkEvidence("A", "B", "plate:x", 1.0, None, ev.hit_a, ev.hit_b)


@pytest.mark.parametrize("seed", range(4))
def test_summary_of_small_and_large_pairs_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain-Python summary of a pair with few entries gives what the numpy one does."""
    import graph.spacetime.evidence as evidence

    rng = random.Random(seed)
    ids = {k: i for i, k in enumerate(ENTITIES)}
    store = EvidenceStore(ids.get, ENTITIES.__getitem__, SPANS.__getitem__)
    for _ in range(rng.randrange(5, 60)):
        store.keep(_evidence(rng.choice([("A", "B"), ("A", "C")]), rng))

    def digest(s: tuple[list[LinkEvidence], int, LinkEvidence | None]) -> tuple:
        top, n, bridge = s
        return [(e.entity, e.score) for e in top], n, bridge and (bridge.entity, bridge.score)

    small = [digest(store.summary(*p, 3)) for p in (("A", "B"), ("C", "A"))]
    monkeypatch.setattr(evidence, "_SMALL", 0)  # every pair through numpy
    assert [digest(store.summary(*p, 3)) for p in (("A", "B"), ("C", "A"))] == small
    assert any(n for _, n, _ in small)


def test_the_sentence_says_how_long_the_entity_stayed_near_a_scene() -> None:
    stayed = Hit("A", "CP-1", 300.0, 600, 3.0, 0.05, 600, stay_s=32 * 60)
    passed = Hit("B", "CP-2", 800.0, 1200, 2.0, 0.1, 9000, stay_s=60)
    ev = LinkEvidence("A", "B", "plate:浙J12345", 4.0, None, stayed, passed, near=2, ent_id=0,
                      spans=(*SPANS["A"], *SPANS["C"]))  # fmt: skip
    assert "from scene A 10 min into its window (around the scene for 32 min)," in ev.detail
    assert "from scene B" in ev.detail and ev.detail.count("around the scene") == 1


@pytest.mark.parametrize("seed", range(3))
def test_keeping_a_batch_at_once_is_keeping_each_in_turn(seed: int) -> None:
    """``keep_all`` (a scene query's thousand rows in one pass, new pairs built whole) stores
    what ``keep`` one by one stores, and names each stored row's pair in order."""
    rng = random.Random(seed)
    ids = {k: i for i, k in enumerate(ENTITIES)}
    one = EvidenceStore(ids.get, ENTITIES.__getitem__, SPANS.__getitem__)
    batch = EvidenceStore(ids.get, ENTITIES.__getitem__, SPANS.__getitem__)
    pairs = [("A", "B"), ("A", "C"), ("B", "C")]
    for _ in range(200):
        found = [_evidence(rng.choice(pairs), rng) for _ in range(rng.randint(0, 12))]
        expect = [ev.pair for ev in found if one.keep(ev)]
        assert batch.keep_all(found) == expect
    assert batch.entries == one.entries > 0
    for p in pairs:
        assert [(e.entity, e.score, e.detail, e.hit_a, e.hit_b) for e in batch.between(*p)] == [
            (e.entity, e.score, e.detail, e.hit_a, e.hit_b) for e in one.between(*p)
        ]
        assert batch.summary(*p) == one.summary(*p)


def test_the_fast_constructors_build_the_same_objects() -> None:
    """A scene query builds its hits and evidence without the constructors' argument
    handling; the objects must be the ones the constructors give, sentence included."""
    from graph.spacetime.copresence import Hit, make_hit
    from graph.spacetime.evidence import LinkEvidence

    args = ("C-1", "CP-9", 420.0, 900, 3.5, 0.03, 86_400, 1_200)
    slow, fast = Hit(*args), make_hit(*args)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    other = make_hit("C-2", "CP-3", 80.0, -300, 2.0, 0.13, 90_000, 0)
    spans = (85_000, 88_000, 89_000, 95_000)
    full = LinkEvidence("C-1", "C-2", "plate:浙B12345", 5.5, None, fast, other, "vehicle",
                        near=3, ent_id=7, spans=spans)  # fmt: skip
    quick = LinkEvidence.compact("C-1", "C-2", "plate:浙B12345", 5.5, fast, other, "vehicle",
                                 3, 7, spans)  # fmt: skip
    assert quick == full and hash(quick) == hash(full)
    assert (quick.near, quick.ent_id, quick.detail) == (full.near, full.ent_id, full.detail)
    assert "浙B12345" in quick.detail


@pytest.mark.parametrize("seed", range(6))
def test_summary_of_pairs_without_bridges_agrees_with_numpy(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary of a pair of interned entities only (no row kept whole: the small path's
    shortcut) equals the numpy one, ties in stored order, for any ``k``."""
    import graph.spacetime.evidence as evidence

    rng = random.Random(seed)
    ids = {k: i for i, k in enumerate(ENTITIES)}
    store = EvidenceStore(ids.get, ENTITIES.__getitem__, SPANS.__getitem__)
    pairs = [("A", "B"), ("A", "C"), ("B", "C")]
    for _ in range(rng.randrange(1, 40)):
        ev = _evidence(rng.choice(pairs), rng)
        if ev.kind != "companion":
            # equal scores in a pair: the ranking's ties
            store.keep(ev if rng.random() < 0.5 else _with_score(ev, float(rng.randrange(3))))

    def digest(s: tuple[list[LinkEvidence], int, LinkEvidence | None]) -> tuple:
        top, n, bridge = s
        return [(e.entity, e.score, e.detail) for e in top], n, bridge

    asked = [(p, k) for p in pairs for k in range(5)]
    small = [digest(store.summary(*p, k)) for p, k in asked]
    monkeypatch.setattr(evidence, "_SMALL", 0)  # every pair through numpy
    assert [digest(store.summary(*p, k)) for p, k in asked] == small
    assert any(n for _, n, _ in small)


def _with_score(ev: LinkEvidence, score: float) -> LinkEvidence:
    """``ev`` with another score (compact: its sentence written on read)."""
    return LinkEvidence.compact(
        ev.case_a,
        ev.case_b,
        ev.entity,
        score,
        ev.hit_a,
        ev.hit_b,
        ev.kind,
        ev.near,
        ev.ent_id,
        ev._spans,  # type: ignore[arg-type]
    )
