"""Person comparators: JW / Levenshtein kernels vs references, agreement levels, the scenario."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cdist

from graph.persons.compare import (
    DATE_CONFLICT,
    DATE_EXACT,
    DATE_ONE_DIGIT,
    DATE_SWAPPED,
    DATE_YEAR,
    FIELDS,
    ID_COMPATIBLE,
    ID_CONFLICT,
    ID_EXACT,
    ID_TYPO,
    LEVELS,
    MISSING,
    NAME_DISAGREE,
    NAME_HAN,
    NAME_HOMOPHONE,
    NAME_JW,
    NAME_PINYIN,
    NAME_SWAPPED,
    PHONE_CONFLICT,
    PHONE_EXACT,
    PHONE_LAST8,
    compare_pairs,
    explain,
    jaro_winkler,
    jaro_winkler_matrix,
    jaro_winkler_pairs,
    level_name,
    levenshtein,
    levenshtein_matrix,
    levenshtein_pairs,
)
from graph.persons.encode import EncodedPersons, encode_persons, encode_strings
from graph.persons.normalize import NormalizedPerson, normalize_person
from ingest.identifiers import make_resident_id
from ingest.models import parse_message
from ingest.scenario import generate

TODAY = dt.date(2026, 3, 1)

# ---------------------------------------------------------------- references


def ref_jaro_winkler(s1: str, s2: str, p: float = 0.1) -> float:
    """Textbook Jaro-Winkler: greedy matching in the window, half transpositions, boost > 0.7."""
    l1, l2 = len(s1), len(s2)
    if l1 == 0 or l2 == 0:
        return 1.0 if l1 == l2 else 0.0
    window = max(max(l1, l2) // 2 - 1, 0)
    used1, used2 = [False] * l1, [False] * l2
    m = 0
    for i, c in enumerate(s1):
        for j in range(max(0, i - window), min(l2, i + window + 1)):
            if not used2[j] and s2[j] == c:
                used1[i] = used2[j] = True
                m += 1
                break
    if m == 0:
        return 0.0
    a = [c for c, u in zip(s1, used1, strict=True) if u]
    b = [c for c, u in zip(s2, used2, strict=True) if u]
    t = sum(x != y for x, y in zip(a, b, strict=True)) // 2
    jaro = (m / l1 + m / l2 + (m - t) / m) / 3.0
    if jaro > 0.7:
        prefix = 0
        for x, y in zip(s1[:4], s2[:4], strict=False):
            if x != y:
                break
            prefix += 1
        jaro += prefix * p * (1.0 - jaro)
    return jaro


def ref_levenshtein(s1: str, s2: str) -> int:
    prev = list(range(len(s2) + 1))
    for i, c in enumerate(s1, 1):
        cur = [i]
        for j, d in enumerate(s2, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (c != d)))
        prev = cur
    return prev[-1]


words = st.text(alphabet="abcdeé张伟玮", min_size=0, max_size=24)
long_words = st.text(alphabet="ab", min_size=0, max_size=64)


@settings(max_examples=150, deadline=None)
@given(st.lists(words, min_size=1, max_size=12), st.lists(words, min_size=1, max_size=12))
def test_jaro_winkler_matches_the_textbook_definition(a: list[str], b: list[str]) -> None:
    want = np.array([[ref_jaro_winkler(x, y) for y in b] for x in a])
    got = jaro_winkler_matrix(a, b)
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    ia, ib = (
        np.array([i for i, _ in itertools.product(range(len(a)), range(len(b)))]),
        np.array([j for _, j in itertools.product(range(len(a)), range(len(b)))]),
    )
    assert np.allclose(jaro_winkler_pairs(a, b, ia, ib), want.ravel(), rtol=0, atol=1e-12)
    assert jaro_winkler(a[0], b[0]) == pytest.approx(want[0, 0], abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(long_words, min_size=1, max_size=8), st.lists(long_words, min_size=1, max_size=8))
def test_jaro_winkler_up_to_64_characters(a: list[str], b: list[str]) -> None:
    want = np.array([[ref_jaro_winkler(x, y) for y in b] for x in a])
    assert np.allclose(jaro_winkler_matrix(a, b), want, rtol=0, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(words, min_size=1, max_size=10),
    st.lists(words, min_size=1, max_size=10),
    st.integers(0, 8),
)
def test_bounded_levenshtein_matches_dynamic_programming(
    a: list[str], b: list[str], k: int
) -> None:
    full = np.array([[ref_levenshtein(x, y) for y in b] for x in a])
    want = np.where(full <= k, full, k + 1)
    assert np.array_equal(levenshtein_matrix(a, b, k), want)
    ia = np.repeat(np.arange(len(a)), len(b))
    ib = np.tile(np.arange(len(b)), len(a))
    assert np.array_equal(levenshtein_pairs(a, b, ia, ib, k), want.ravel())
    assert levenshtein(a[0], b[0]) == full[0, 0]


def _random_strings(rng: random.Random, alphabet: str, n: int, max_len: int) -> list[str]:
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(n)]


@pytest.mark.parametrize(
    ("alphabet", "max_len"),
    [("abc", 12), ("abcdefghijklmnopqrstuvwxyz", 40), ("张伟玮章王李", 10), ("ab", 64)],
)
def test_agreement_with_rapidfuzz(alphabet: str, max_len: int) -> None:
    rng = random.Random(len(alphabet) * 100 + max_len)
    a = _random_strings(rng, alphabet, 120, max_len)
    b = _random_strings(rng, alphabet, 150, max_len)
    rf = cdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1, dtype=np.float64)
    assert np.array_equal(jaro_winkler_matrix(a, b), rf)
    assert np.array_equal(jaro_winkler_matrix(a, b, parallel=True), rf)
    for k in (0, 2, 5):
        rfl = cdist(a, b, scorer=Levenshtein.distance, score_cutoff=k, workers=1)
        assert np.array_equal(levenshtein_matrix(a, b, k), rfl)
        assert np.array_equal(levenshtein_matrix(a, b, k, parallel=True), rfl)
    ia = np.array([rng.randrange(len(a)) for _ in range(500)])
    ib = np.array([rng.randrange(len(b)) for _ in range(500)])
    assert np.array_equal(jaro_winkler_pairs(a, b, ia, ib, parallel=True), rf[ia, ib])


def test_more_strings_than_one_pack_chunk() -> None:
    rng = random.Random(5)
    a = _random_strings(rng, "abcdefgh", 3, 20)
    b = _random_strings(rng, "abcdefgh张", 9000, 20)
    rf = cdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1, dtype=np.float64)
    assert np.array_equal(jaro_winkler_matrix(a, b), rf)


def test_string_comparator_inputs_are_validated() -> None:
    with pytest.raises(TypeError, match="StringArray"):
        jaro_winkler_matrix("abc", ["abc"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        jaro_winkler_pairs(["a"], ["b"], np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="equal"):
        jaro_winkler_pairs(["a"], ["b"], np.array([0, 0]), np.array([0]))
    with pytest.raises(ValueError, match="k"):
        levenshtein_matrix(["a"], ["b"], -1)
    with pytest.raises(ValueError, match="width"):
        encode_strings(["a"], width=65)
    assert jaro_winkler_matrix([], ["a"]).shape == (0, 1)
    assert encode_strings(["x" * 80]).lengths.tolist() == [64]  # truncated, logged


# ---------------------------------------------------------------- agreement levels

ID_A = make_resident_id(330102, dt.date(1990, 3, 7), 5, "M")
ID_B = make_resident_id(330102, dt.date(1990, 3, 7), 6, "M")


def person(name: str = "张伟", **fields: object) -> NormalizedPerson:
    return normalize_person({"role": "suspect", "name": name, **fields}, today=TODAY)


def levels(a: NormalizedPerson, b: NormalizedPerson) -> dict[str, str]:
    enc = encode_persons([a, b])
    return explain(compare_pairs(enc, enc, np.array([0]), np.array([1]))[0])


def _typo(id_number: str, pos: int) -> str:
    return id_number[:pos] + str((int(id_number[pos]) + 3) % 10) + id_number[pos + 1 :]


@pytest.mark.parametrize(
    ("ida", "idb", "level"),
    [
        (ID_A, ID_A, ID_EXACT),
        (ID_A, ID_A.lower(), ID_EXACT),
        (ID_A, ID_B, ID_CONFLICT),
        (ID_A, _typo(ID_A, 15), ID_TYPO),  # one digit off, the typo fails its check
        (ID_A, ID_A[:3] + ID_A[4] + ID_A[3] + ID_A[5:], ID_TYPO),  # adjacent swap
        (_typo(ID_A, 15), _typo(ID_A, 15), ID_COMPATIBLE),  # same bad number: never exact
        (ID_A, ID_A[:6] + "*" * 8 + ID_A[14:], ID_COMPATIBLE),
        (ID_A, ID_A[:14] + "****", ID_COMPATIBLE),
        (ID_A[:6] + "*" * 8 + ID_A[14:], ID_A[:14] + "****", ID_COMPATIBLE),
        (ID_B, ID_A[:6] + "*" * 8 + ID_A[14:], ID_CONFLICT),
        ("3301" + "*" * 14, ID_A, MISSING),  # too little overlap to say anything
        (ID_A, None, MISSING),
        ("33010219900307011", ID_A, MISSING),  # malformed
    ],
)
def test_id_levels(ida: str, idb: str | None, level: int) -> None:
    got = levels(person(id_number=ida), person(id_number=idb))
    assert got["id"] == level_name("id", level)


@pytest.mark.parametrize(
    ("pa", "pb", "level"),
    [
        ("138 1234 5678", "+86 138-1234-5678", PHONE_EXACT),
        ("13812345678", "13912345678", PHONE_LAST8),
        ("13812345678", "021-1234 5678", PHONE_LAST8),
        ("13812345678", "13812345679", PHONE_CONFLICT),
        ("13812345678", None, MISSING),
        ("12345", "13812345678", MISSING),
    ],
)
def test_phone_levels(pa: str, pb: str | None, level: int) -> None:
    assert levels(person(phone=pa), person(phone=pb))["phone"] == level_name("phone", level)


@pytest.mark.parametrize(
    ("da", "db", "level"),
    [
        ("1990-03-07", "1990-03-07", DATE_EXACT),
        ("1990-03-07", "1990-07-03", DATE_SWAPPED),
        ("1990-03-07", "1990-03-08", DATE_ONE_DIGIT),
        ("1990-03-07", "1980-03-07", DATE_ONE_DIGIT),
        ("1990-03-07", "1990-11-21", DATE_YEAR),
        ("1990-03-07", "1985-06-21", DATE_CONFLICT),
        ("1990-03-07", None, MISSING),
        ("1990-03-07", "1850-03-07", MISSING),  # absurd: not matched on
    ],
)
def test_date_levels(da: str, db: str | None, level: int) -> None:
    assert levels(person(dob=da), person(dob=db))["dob"] == level_name("dob", level)


def test_birth_date_and_gender_fall_back_to_the_id() -> None:
    got = levels(person(id_number=ID_A), person(dob="1990-03-07", gender="M"))
    assert got["dob"] == "exact" and got["gender"] == "agree"
    got = levels(person(gender="F"), person(gender="M"))
    assert got["gender"] == "disagree"


@pytest.mark.parametrize(
    ("na", "nb", "level"),
    [
        ("张伟", "張偉", NAME_HAN),
        ("张伟", "张 伟", NAME_HAN),
        ("张伟", "Zhang Wei", NAME_PINYIN),
        ("张伟", "zhangwei", NAME_PINYIN),
        ("张伟", "WEI Zhang", NAME_PINYIN),
        ("张伟", "张玮", NAME_PINYIN),
        ("王丽", "Li Wang", NAME_PINYIN),  # a Latin name's order is a guess
        ("王芳", "汪舫", NAME_PINYIN),
        ("张伟", "章伟", NAME_PINYIN),
        ("张伟", "臧伟", NAME_HOMOPHONE),
        ("林峰", "Ling Feng", NAME_HOMOPHONE),
        ("张伟", "Zhang Wie", NAME_JW),  # a typo
        ("张秀英", "张秀", NAME_JW),
        ("张伟", "伟张", NAME_SWAPPED),
        ("张伟", "王伟", NAME_DISAGREE),
        ("张伟", "李娜", NAME_DISAGREE),
        ("张伟", "", MISSING),
        ("张伟", "张某", MISSING),
    ],
)
def test_name_levels(na: str, nb: str, level: int) -> None:
    assert levels(person(na), person(nb))["name"] == level_name("name", level)


def ref_levels(a: NormalizedPerson, b: NormalizedPerson) -> list[int]:
    """The levels of the compare module docstring, computed from the normalised fields."""

    def name() -> int:
        if not a.pinyin or not b.pinyin or "name_placeholder" in a.flags | b.flags:
            return MISSING
        if a.name_han and a.name_han == b.name_han:
            return NAME_HAN
        latin = "latin" in (a.script, b.script)
        rev_a, rev_b = a.given_pinyin + a.surname_pinyin, b.given_pinyin + b.surname_pinyin
        if a.pinyin == b.pinyin or (latin and (rev_a == b.pinyin or a.pinyin == rev_b)):
            return NAME_PINYIN
        if a.pinyin_key == b.pinyin_key or (
            latin and (a.swapped_key == b.pinyin_key or a.pinyin_key == b.swapped_key)
        ):
            return NAME_HOMOPHONE
        if ref_jaro_winkler(a.pinyin_str, b.pinyin_str) >= 0.92:
            return NAME_JW
        if a.swapped_key == b.pinyin_key or a.pinyin_key == b.swapped_key:
            return NAME_SWAPPED
        return NAME_DISAGREE

    def ident() -> int:
        ia, ib = a.id, b.id
        if ia is None or ib is None or ia.malformed or ib.malformed:
            return MISSING
        pairs = [(x, y) for x, y in zip(ia.normalized, ib.normalized, strict=True)]
        known = [(k, x, y) for k, (x, y) in enumerate(pairs) if x != "*" and y != "*"]
        diff = [k for k, x, y in known if x != y]
        agree = len(known) - len(diff)
        if not diff:
            if ia.complete and ib.complete:
                return ID_EXACT if ia.valid and ib.valid else ID_COMPATIBLE
            return ID_COMPATIBLE if agree >= 6 else MISSING
        bad = (ia.complete and not ia.valid) or (ib.complete and not ib.valid)
        swap = len(diff) == 2 and diff[1] == diff[0] + 1 and pairs[diff[0]] == pairs[diff[1]][::-1]
        return ID_TYPO if bad and agree >= 6 and (len(diff) == 1 or swap) else ID_CONFLICT

    def phone() -> int:
        ta = (a.phone or a.phone_digits or "")[-8:]
        tb = (b.phone or b.phone_digits or "")[-8:]
        if len(ta) < 8 or len(tb) < 8:
            return MISSING
        if a.phone and a.phone == b.phone:
            return PHONE_EXACT
        return PHONE_LAST8 if ta == tb else PHONE_CONFLICT

    def dob() -> int:
        x, y = a.match_dob, b.match_dob
        if x is None or y is None:
            return MISSING
        if x == y:
            return DATE_EXACT
        if x.year == y.year and (x.month, x.day) == (y.day, y.month):
            return DATE_SWAPPED
        if sum(c != d for c, d in zip(f"{x:%Y%m%d}", f"{y:%Y%m%d}", strict=True)) == 1:
            return DATE_ONE_DIGIT
        return DATE_YEAR if x.year == y.year else DATE_CONFLICT

    ga, gb = a.match_gender, b.match_gender
    gender = MISSING if ga is None or gb is None else int(ga == gb)
    return [name(), ident(), phone(), dob(), gender]


def _scenario_mentions(scale: float = 0.2) -> tuple[list[dict], list[dict]]:
    sc = generate(seed=7, days=1, scale=scale)
    incidents = []
    for raw in sc.messages:
        if raw.get("kind") == "incident":
            incidents.append(parse_message(_json(raw)))
    return incidents, sc.truth["series"]


def _json(raw: dict) -> bytes:
    import json

    return json.dumps(raw, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def scenario() -> tuple[list, list[dict]]:
    return _scenario_mentions()


def test_compare_pairs_matches_the_reference_on_scenario_mentions(scenario: tuple) -> None:
    incidents, _ = scenario
    people = [normalize_person(p, today=TODAY) for inc in incidents for p in inc.persons]
    rng = np.random.default_rng(3)
    # mutate some mentions so every level shows up
    extra = [
        person(
            p.name_raw,
            id_number=_typo(p.id.normalized, 16),
            dob="1990-07-03",
            phone="139" + p.phone[3:],
        )
        for p in people[:40]
        if p.id is not None and p.id.complete and p.phone
    ]
    targeted = [
        person(name, dob=dob)
        for name, dob in [
            ("张伟", "1990-03-07"),
            ("伟张", "1990-07-03"),
            ("Zhang Wie", "1990-03-08"),
            ("臧伟", "1990-12-30"),
            ("張偉", None),
            ("Wei Zhang", "1990-03-07"),
            ("张某", "1990-03-07"),
        ]
    ]
    base = len(people)
    people += extra + targeted
    enc = encode_persons(people)
    n, t = len(people), len(targeted)
    ia = rng.integers(0, n, 4000)
    ib = rng.integers(0, n, 4000)
    firsts = [
        k for k, p in enumerate(people[:base]) if p.id is not None and p.id.complete and p.phone
    ]
    ia = np.concatenate([ia, firsts[: len(extra)], np.repeat(np.arange(n - t, n), t)])
    ib = np.concatenate([ib, np.arange(base, base + len(extra)), np.tile(np.arange(n - t, n), t)])
    same_name = [
        (i, j)
        for i, j in itertools.combinations(range(n), 2)
        if people[i].pinyin_key == people[j].pinyin_key
    ][:2000]
    ia = np.concatenate([ia, [i for i, _ in same_name]]).astype(np.int64)
    ib = np.concatenate([ib, [j for _, j in same_name]]).astype(np.int64)
    got = compare_pairs(enc, enc, ia, ib)
    assert got.dtype == np.int8 and got.shape == (len(ia), len(FIELDS))
    want = np.array([ref_levels(people[i], people[j]) for i, j in zip(ia, ib, strict=True)])
    bad = np.argwhere(got != want)
    assert bad.size == 0, [
        (people[ia[r]].name_raw, people[ib[r]].name_raw, FIELDS[c], got[r, c], want[r, c])
        for r, c in bad[:5]
    ]
    assert np.array_equal(compare_pairs(enc, enc, ia, ib, parallel=False), got)
    for f, col in zip(FIELDS, got.T, strict=True):  # every level occurs
        assert set(np.unique(col)) == set(range(-1, len(LEVELS[f]))), f


def test_compare_pairs_validates_inputs() -> None:
    enc = encode_persons([person()])
    with pytest.raises(TypeError, match="EncodedPersons"):
        compare_pairs([person()], enc, np.array([0]), np.array([0]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        compare_pairs(enc, enc, np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match="jw_threshold"):
        compare_pairs(enc, enc, np.array([0]), np.array([0]), jw_threshold=2.0)
    assert compare_pairs(enc, enc, np.array([], np.int64), np.array([], np.int64)).shape == (0, 5)


def test_encoded_persons_take_and_concat() -> None:
    people = [person("张伟", phone="13812345678"), person("Li Na", id_number=ID_A)]
    enc = encode_persons(people)
    both = EncodedPersons.concat([enc.take([1]), enc.take([0])])
    assert len(both) == 2 and both.py_hash[0] == enc.py_hash[1]
    assert both.flagged("id_bad_check").tolist() == [False, False]
    assert enc.nbytes > 0


# ---------------------------------------------------------------- the scenario


def _suspects(incidents: Sequence, case_ids: set[str]) -> list:
    return [
        p for inc in incidents if inc.case in case_ids for p in inc.persons if p.role == "suspect"
    ]


def test_same_suspect_across_a_fraud_series_agrees(scenario: tuple) -> None:
    """Mentions of one fraudster across his series: names at least homophone-equal, and the
    phone or ID (when both mentions have one) agreeing."""
    incidents, series = scenario
    person_series = [t for t in series if t["link"] == "person"]
    assert person_series
    name_ok = pairs = id_phone_ok = id_phone_pairs = 0
    for truth in person_series:
        mentions = _suspects(incidents, set(truth["case_ids"]))
        phones = truth["phones"]
        by_suspect: dict[int, list[NormalizedPerson]] = {}
        for m in mentions:
            p = normalize_person(m, today=TODAY)
            who = phones.index(p.phone) if p.phone in phones else (0 if len(phones) == 1 else None)
            if who is not None:
                by_suspect.setdefault(who, []).append(p)
        for group in by_suspect.values():
            enc = encode_persons(group)
            ij = np.array(list(itertools.combinations(range(len(group)), 2)), np.int64)
            if not len(ij):
                continue
            g = compare_pairs(enc, enc, ij[:, 0], ij[:, 1])
            pairs += len(g)
            name_ok += int((g[:, 0] >= NAME_HOMOPHONE).sum())
            both = (g[:, 1] != MISSING) | (g[:, 2] != MISSING)
            id_phone_pairs += int(both.sum())
            agree = (g[:, 1] >= ID_TYPO) | (g[:, 2] >= PHONE_LAST8)
            id_phone_ok += int((agree & both).sum())
    assert pairs >= 10
    assert name_ok >= 0.9 * pairs, (name_ok, pairs)
    assert id_phone_ok == id_phone_pairs, (id_phone_ok, id_phone_pairs)


def test_unrelated_suspects_with_a_common_name_disagree(scenario: tuple) -> None:
    """Different people sharing 张伟, 王芳, ... are told apart by ID, phone or birth date."""
    incidents, series = scenario
    in_series = {c for t in series for c in t["case_ids"]}
    background = [
        (inc.case, p) for inc in incidents if inc.case not in in_series for p in inc.persons
    ]
    series_suspects = [
        (inc.case, p)
        for inc in incidents
        if inc.case in in_series
        for p in inc.persons
        if p.role == "suspect"
    ]
    mentions = [(c, normalize_person(p, today=TODAY)) for c, p in background + series_suspects]
    people = [p for _, p in mentions]
    enc = encode_persons(people)
    ij = [
        (i, j)
        for i, j in itertools.combinations(range(len(mentions)), 2)
        if mentions[i][0] != mentions[j][0]
        and people[i].pinyin_key == people[j].pinyin_key
        and (mentions[i][0] not in in_series or mentions[j][0] not in in_series)
    ]
    assert len(ij) >= 5  # the decoys are there
    arr = np.array(ij, np.int64)
    g = compare_pairs(enc, enc, arr[:, 0], arr[:, 1])
    assert (g[:, 0] >= NAME_HOMOPHONE).all()
    assert not (g[:, 1] == ID_EXACT).any() and not (g[:, 2] == PHONE_EXACT).any()
    informative = (g[:, 1:4] != MISSING).any(axis=1)
    conflict = (g[:, 1] == ID_CONFLICT) | (g[:, 2] == PHONE_CONFLICT) | (g[:, 3] == DATE_CONFLICT)
    assert (conflict | ~informative).all()
    assert informative.mean() >= 0.8
