"""Person normalisation: IDs, USCCs, phones, names (Han, traditional, pinyin, homophones), flags."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.persons.encode import encode_persons
from graph.persons.identity import id_compatible, parse_phone, parse_resident_id, parse_uscc
from graph.persons.normalize import (
    COMPOUND_SURNAMES,
    FLAGS,
    T2S,
    fold_syllable,
    fold_traditional,
    normalize_name,
    normalize_person,
    pinyin_key,
    split_pinyin,
)
from ingest.identifiers import make_resident_id, make_uscc
from ingest.models import PersonMention
from ingest.scenario.names import (
    COMMON_NAMES,
    HOMOPHONES,
    NAME_STYLES,
    name_variant,
    random_name,
    to_pinyin,
)
from ingest.scenario.people import PHONE_FORMATS, format_phone, id_text

TODAY = dt.date(2026, 3, 1)

# ---------------------------------------------------------------- resident IDs

ID_M = make_resident_id(330102, dt.date(1990, 3, 7), 5, "M")  # 330102199003070115
ID_F = "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "normalized", "valid", "check_ok", "birth", "gender", "region"),
    [
        (ID_M, ID_M, True, True, dt.date(1990, 3, 7), "M", 330102),
        (ID_F, ID_F, True, True, dt.date(1949, 12, 31), "F", 110105),
        ("11010519491231002x", ID_F, True, True, dt.date(1949, 12, 31), "F", 110105),
        (
            "１１０１０５１９４９１２３１００２Ｘ",
            ID_F,
            True,
            True,
            dt.date(1949, 12, 31),
            "F",
            110105,
        ),
        ("110105 19491231 002X", ID_F, True, True, dt.date(1949, 12, 31), "F", 110105),
        (
            "110105194912310021",
            "110105194912310021",
            False,
            False,
            dt.date(1949, 12, 31),
            "F",
            110105,
        ),
        ("440524188001010014", "440524188001010014", True, True, dt.date(1880, 1, 1), "M", 440524),
        ("330102199002300112", "330102199002300112", False, False, None, "M", 330102),
    ],
)
def test_resident_id_check_digit_and_derived_fields(
    text: str,
    normalized: str,
    valid: bool,
    check_ok: bool,
    birth: dt.date | None,
    gender: str,
    region: int,
) -> None:
    info = parse_resident_id(text)
    assert info is not None
    assert (info.normalized, info.valid, info.check_ok) == (normalized, valid, check_ok)
    assert (info.birth_date, info.gender, info.region) == (birth, gender, region)
    assert info.complete and not info.partial and info.mask is None and info.known == 18


@pytest.mark.parametrize(
    ("text", "known", "birth", "gender", "region"),
    [
        (id_text(ID_M, "masked_dob", None), 10, None, "M", 330102),  # type: ignore[arg-type]
        (id_text(ID_M, "masked_tail", None), 14, dt.date(1990, 3, 7), None, 330102),  # type: ignore[arg-type]
        (id_text(ID_M, "masked_middle", None), 8, None, "M", None),  # type: ignore[arg-type]
        ("??????19900307????", 8, dt.date(1990, 3, 7), None, None),
    ],
)
def test_partial_ids_keep_their_mask_and_what_the_known_digits_say(
    text: str, known: int, birth: dt.date | None, gender: str | None, region: int | None
) -> None:
    info = parse_resident_id(text)
    assert info is not None and info.partial and not info.complete
    assert info.mask == info.normalized and "*" in info.mask
    assert info.check_ok is None and not info.valid
    assert (info.known, info.birth_date, info.gender, info.region) == (known, birth, gender, region)
    full = parse_resident_id(ID_M)
    assert full is not None
    assert id_compatible(info, full)
    other = parse_resident_id(make_resident_id(330212, dt.date(1991, 4, 8), 77, "F"))
    assert other is not None and not id_compatible(info, other)


@pytest.mark.parametrize(
    "text", ["33010219900307011", "3301021990030701155", "33010219900307011A", "ID:none", "X" * 18]
)
def test_malformed_ids_are_flagged_not_raised(text: str) -> None:
    info = parse_resident_id(text)
    assert info is not None and info.malformed and not info.valid and info.known == 0
    p = normalize_person({"role": "suspect", "name": "张伟", "id_number": text}, today=TODAY)
    assert "id_malformed" in p.flags
    assert encode_persons([p]).id_known[0] == 0  # never compared


def test_first_generation_15_digit_id_is_upgraded() -> None:
    info = parse_resident_id("330102900307011")
    assert info is not None
    assert info.normalized == ID_M and info.valid and info.legacy15
    assert parse_resident_id(None) is None and parse_resident_id("  ") is None
    assert parse_resident_id("*" * 18) is None


# ---------------------------------------------------------------- USCC


def test_uscc_validation() -> None:
    code = make_uscc(330211, 1)
    info = parse_uscc(code)
    assert info is not None and info.valid and info.org_code_ok and info.region == 330211
    assert info.registration_authority == "9" and info.entity_category == "1"
    lower = parse_uscc(code.lower()[:8] + " " + code.lower()[8:])
    assert lower is not None and lower.valid and lower.normalized == code
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    bad = parse_uscc(wrong)
    assert bad is not None and not bad.valid and not bad.malformed
    short = parse_uscc(code[:17])
    assert short is not None and short.malformed and not short.valid
    assert parse_uscc("91330211MA2AAAAAOI") is not None  # O and I are not in the alphabet
    assert parse_uscc("91330211MA2AAAAAOI").malformed  # type: ignore[union-attr]
    assert parse_uscc(None) is None


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize("fmt", PHONE_FORMATS)
def test_every_scenario_phone_format_normalises(fmt: str) -> None:
    written = format_phone("13812345678", fmt)  # type: ignore[arg-type]
    info = parse_phone(written)
    assert info is not None and info.number == "13812345678" and info.tail8 == "12345678"


@pytest.mark.parametrize(
    ("text", "number", "tail8"),
    [
        ("+86 138-1234-5678", "13812345678", "12345678"),
        ("0086 138 1234 5678", "13812345678", "12345678"),
        ("８６－１３８１２３４５６７８", "13812345678", "12345678"),
        ("手机:138.1234.5678", "13812345678", "12345678"),
        ("0571-8765 4321", None, "87654321"),  # a landline: no mobile, the tail still compares
        ("5678", None, None),
    ],
)
def test_phone_texts(text: str, number: str | None, tail8: str | None) -> None:
    info = parse_phone(text)
    assert info is not None and (info.number, info.tail8) == (number, tail8)
    p = normalize_person({"role": "victim", "name": "李娜", "phone": text}, today=TODAY)
    assert p.phone == number
    assert ("phone_unparseable" in p.flags) == (number is None)


# ---------------------------------------------------------------- names

ZHANG_WEI = ("张伟", "张 伟", "张\u3000伟", "張偉", "Zhang Wei", "ZHANG Wei", "ZHANG WEI")
ZHANG_WEI_LATIN = (
    "zhangwei",
    "Wei Zhang",
    "WEI Zhang",
    "Zhang, Wei",
    "ZHANGWEI",
    "Ｚｈａｎｇ Ｗｅｉ",
)


@pytest.mark.parametrize("text", ZHANG_WEI + ZHANG_WEI_LATIN)
def test_zhang_wei_in_every_spelling(text: str) -> None:
    n = normalize_name(text)
    assert n.pinyin == ("zhang", "wei")
    assert n.pinyin_key == "zan wei"
    if n.script == "han":
        assert (n.han, n.surname, n.given) == ("张伟", "张", "伟")
    else:
        assert (n.han, n.surname, n.given) == ("", "zhang", "wei")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("张伟", "张玮"),  # same pinyin
        ("张伟", "章炜"),
        ("王芳", "汪芳"),
        ("王芳", "汪舫"),
        ("李娜", "黎纳"),
        ("刘洋", "柳阳"),
        ("张伟", "臧伟"),  # zh / z
        ("陈静", "岑静"),  # ch / c
        ("施敏", "司敏"),  # sh / s
        ("南方", "蓝方"),  # n / l
        ("林峰", "凌峰"),  # -n / -ng
        ("吕敏", "Lu Min"),  # ü / u
    ],
)
def test_homophones_share_the_pinyin_key(a: str, b: str) -> None:
    assert normalize_name(a).pinyin_key == normalize_name(b).pinyin_key


def test_different_names_keep_different_keys() -> None:
    keys = {normalize_name(n).pinyin_key for n, _ in COMMON_NAMES}
    assert len(keys) >= 25  # 30 names; only true homophones may collide


@pytest.mark.parametrize(
    ("text", "han"),
    [
        ("張偉", "张伟"),
        ("陳麗華", "陈丽华"),
        ("劉國強", "刘国强"),
        ("黃曉紅", "黄晓红"),
        ("趙軍", "赵军"),
        ("吳靜", "吴静"),
        ("鄭華", "郑华"),
        ("楊濤", "杨涛"),
        ("歐陽鵬飛", "欧阳鹏飞"),
    ],
)
def test_traditional_folds_to_simplified(text: str, han: str) -> None:
    n = normalize_name(text)
    assert n.han == han
    assert n.pinyin == normalize_name(han).pinyin


def test_traditional_table_is_sound() -> None:
    assert len(T2S) >= 700
    for trad, simp in T2S.items():
        assert trad != simp
        simp.encode("gbk")  # every target is a mainland character
        assert fold_traditional(simp) == simp  # folding is idempotent
    assert fold_traditional("Zhang 張") == "Zhang 张"


@pytest.mark.parametrize(
    ("text", "surname", "given", "pinyin"),
    [
        ("欧阳建华", "欧阳", "建华", ("ou", "yang", "jian", "hua")),
        ("司马懿", "司马", "懿", ("si", "ma", "yi")),
        ("诸葛亮", "诸葛", "亮", ("zhu", "ge", "liang")),
        ("上官婉儿", "上官", "婉儿", ("shang", "guan", "wan", "er")),
        ("Ouyang Jianhua", "ouyang", "jianhua", ("ou", "yang", "jian", "hua")),
        ("ouyangjianhua", "ouyang", "jianhua", ("ou", "yang", "jian", "hua")),
        ("Jianhua OUYANG", "ouyang", "jianhua", ("ou", "yang", "jian", "hua")),
        ("曾志伟", "曾", "志伟", ("zeng", "zhi", "wei")),  # surname reading of 曾
        ("单田芳", "单", "田芳", ("shan", "tian", "fang")),
        ("WANG Xiuying", "wang", "xiuying", ("wang", "xiu", "ying")),
        ("Xiu-Ying Wang", "wang", "xiuying", ("wang", "xiu", "ying")),
        ("Lü Bu", "lv", "bu", ("lv", "bu")),
        ("LYU Bu", "lv", "bu", ("lv", "bu")),
    ],
)
def test_surname_split(text: str, surname: str, given: str, pinyin: tuple[str, ...]) -> None:
    n = normalize_name(text)
    assert (n.surname, n.given, n.pinyin) == (surname, given, pinyin)
    assert {"欧阳", "司马", "诸葛", "上官"} <= COMPOUND_SURNAMES


def test_pinyin_segmentation_and_folding() -> None:
    assert split_pinyin("xian") == ("xian",)
    assert split_pinyin("fangan") == ("fan", "gan")  # a vowel-initial syllable needs an apostrophe
    assert split_pinyin("zhangxiuying") == ("zhang", "xiu", "ying")
    assert split_pinyin("smith") is None
    assert [fold_syllable(s) for s in ("zhi", "chang", "shen", "niu", "ning")] == [
        "zi",
        "can",
        "sen",
        "liu",
        "lin",
    ]
    assert pinyin_key(("wang", "fang")) == pinyin_key(("wan", "fan"))


def _generator_surnames() -> str:
    from ingest.scenario import names as gen

    return gen._SURNAMES


def test_surname_readings_agree_with_the_generator() -> None:
    for ch in _generator_surnames():
        assert normalize_name(ch + "伟").surname_pinyin == (to_pinyin(ch + "伟")[0],), ch


def test_every_generator_style_folds_back_to_the_canonical_name() -> None:
    """Each way the scenario writes a name normalises to the canonical name's pinyin (the
    order of a two-syllable Latin name is a guess: its reversed reading must then match)."""
    rng = np.random.default_rng(11)
    misses = {s: 0 for s in NAME_STYLES}
    n = 600
    for i in range(n):
        canon = random_name(rng, "M" if i % 2 else "F") if i % 4 else COMMON_NAMES[i % 30][0]
        ref = normalize_name(canon)
        for style in NAME_STYLES:
            got = normalize_name(name_variant(canon, style, rng))
            if style == "homophone":
                assert got.pinyin_key == ref.pinyin_key, (canon, got.raw)
            elif got.pinyin != ref.pinyin:
                assert got.given_pinyin + got.surname_pinyin == ref.pinyin, (canon, got.raw)
                misses[style] += 1
    assert misses["canonical"] == misses["spacing"] == 0
    for style in ("pinyin", "pinyin_upper", "pinyin_caps", "pinyin_compact"):
        assert misses[style] <= 0.05 * n, (style, misses)
    assert misses["pinyin_swapped"] <= 0.12 * n, misses


def test_homophone_table_of_the_generator_is_covered() -> None:
    for canon, variants in HOMOPHONES.items():
        for v in variants:
            key_a = normalize_name("王" + canon).pinyin_key
            key_b = normalize_name("王" + v).pinyin_key
            syl_a, syl_b = normalize_name(canon).pinyin, normalize_name(v).pinyin
            if syl_a == syl_b:
                assert key_a == key_b


# ---------------------------------------------------------------- persons and flags


def test_person_mention_model_and_derived_fields() -> None:
    m = PersonMention(
        role="suspect",
        name="ZHANG Wei",
        id_number=ID_M,
        phone="+86 138-1234-5678",
        dob=dt.date(1990, 3, 7),
        gender="M",
    )
    p = normalize_person(m, today=TODAY)
    assert (p.surname, p.given, p.pinyin_key) == ("zhang", "wei", "zan wei")
    assert p.id is not None and p.id.valid and p.phone == "13812345678"
    assert p.dob == dt.date(1990, 3, 7) and p.gender == "M" and p.flags == frozenset()
    assert p.match_dob == dt.date(1990, 3, 7) and p.match_gender == "M"


@pytest.mark.parametrize(
    ("mention", "flags"),
    [
        ({"role": "suspect", "name": ""}, {"empty_name"}),
        ({"role": "suspect", "name": "  \u3000 "}, {"empty_name"}),
        ({"role": "suspect", "name": "不详"}, {"empty_name"}),
        ({"role": "suspect", "name": "???"}, {"empty_name"}),
        ({"role": "suspect", "name": None}, {"empty_name"}),
        ({"role": "suspect", "name": "张某"}, {"name_placeholder"}),
        ({"role": "suspect", "name": "张伟（音）"}, {"name_annotated"}),
        ({"role": "suspect", "name": "张伟2"}, {"name_has_digits"}),
        ({"role": "suspect", "name": "John Smith"}, {"name_nonpinyin"}),
        ({"role": "suspect", "name": "李Na"}, {"name_mixed_script"}),
        ({"role": "suspect", "name": "李娜", "dob": dt.date(1850, 1, 1)}, {"absurd_dob"}),
        ({"role": "suspect", "name": "李娜", "dob": dt.date(2030, 1, 1)}, {"absurd_dob"}),
        ({"role": "suspect", "name": "李娜", "dob": dt.date(2020, 1, 1)}, {"absurd_dob"}),
        ({"role": "victim", "name": "李娜", "dob": dt.date(2020, 1, 1)}, set()),
        ({"role": "suspect", "name": "李娜", "dob": "1990-13-45"}, {"dob_unparseable"}),
        ({"role": "suspect", "name": "李娜", "dob": "1990/3/7"}, set()),
        ({"role": "suspect", "name": "李娜", "gender": "X"}, {"gender_unparseable"}),
        ({"role": "suspect", "name": "李娜", "id_number": "33010219900307011"}, {"id_malformed"}),
        ({"role": "suspect", "name": "李娜", "id_number": ID_M[:17] + "9"}, {"id_bad_check"}),
        ({"role": "suspect", "name": "李娜", "id_number": ID_M[:14] + "****"}, {"id_partial"}),
        ({"role": "suspect", "name": "李娜", "id_number": "330102900307011"}, {"id_legacy15"}),
        (
            {"role": "suspect", "name": "李娜", "id_number": "330102199002300112"},
            {"id_bad_check", "id_bad_date"},
        ),
        (
            {"role": "suspect", "name": "李娜", "id_number": ID_M, "dob": dt.date(1990, 7, 3)},
            {"id_dob_mismatch"},
        ),
        (
            {"role": "suspect", "name": "李娜", "id_number": ID_M, "gender": "F"},
            {"id_gender_mismatch"},
        ),
        ({"role": "suspect", "name": "李娜", "phone": "12345"}, {"phone_unparseable"}),
    ],
)
def test_bad_input_is_flagged(mention: dict, flags: set[str]) -> None:
    p = normalize_person(mention, today=TODAY)
    assert set(p.flags) == flags
    assert set(p.flags) <= set(FLAGS)


def test_absurd_dates_are_not_matched_on() -> None:
    p = normalize_person({"role": "suspect", "name": "李娜", "dob": "1850-01-01"}, today=TODAY)
    assert p.dob == dt.date(1850, 1, 1) and p.match_dob is None
    assert encode_persons([p]).dob[0] == -1


def test_unvalidated_model_instances_are_accepted() -> None:
    m = PersonMention.model_construct(role="suspect", name="王芳", id_number="1234567890123456")
    p = normalize_person(m, today=TODAY)
    assert "id_malformed" in p.flags and p.pinyin == ("wang", "fang")


texts = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats(allow_nan=True))


@settings(max_examples=300, deadline=None)
@given(
    name=texts,
    id_number=texts,
    phone=texts,
    dob=st.one_of(texts, st.dates()),
    gender=texts,
    role=st.sampled_from(["suspect", "victim", "witness", "reporter", ""]),
)
def test_normalize_person_never_raises(
    name: object, id_number: object, phone: object, dob: object, gender: object, role: str
) -> None:
    mention = {
        "role": role,
        "name": name,
        "id_number": id_number,
        "phone": phone,
        "dob": dob,
        "gender": gender,
    }
    p = normalize_person(mention, today=TODAY)
    assert set(p.flags) <= set(FLAGS)
    enc = encode_persons([p])
    assert len(enc) == 1
    assert all(c.isascii() for c in p.pinyin_str) or "name_nonpinyin" in p.flags
