"""Resident IDs (GB 11643), unified social credit codes (GB 32100) and phone numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.identifiers import (
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    make_uscc,
    normalize_phone,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

# Published examples: the two IDs printed in GB 11643-1999, and USCCs printed on
# the business licences of well-known companies (their org-code check digits agree too).
KNOWN_IDS = ["11010519491231002X", "440524188001010014"]
KNOWN_USCCS = [
    "91330100716105852F",  # Alibaba (China) Co., Ltd.
    "9144030071526726XG",  # Shenzhen Tencent Computer Systems Co., Ltd.
    "914403001922038216",  # Huawei Technologies Co., Ltd.
    "91110000100003495Y",
]


@pytest.mark.parametrize("rid", KNOWN_IDS)
def test_known_resident_ids_are_valid(rid: str) -> None:
    assert resident_id_check_char(rid[:17]) == rid[17]
    assert is_valid_resident_id(rid)
    assert is_valid_resident_id(rid.lower())


@pytest.mark.parametrize(
    "bad",
    [
        "110105194912310021",
        "11010519491231002",
        "11010519491331002X",
        "1101051949123100XX",
        "A1010519491231002X",
        "",
        None,
        11010519491231002,
    ],
)
def test_invalid_resident_ids(bad: object) -> None:
    assert not is_valid_resident_id(bad)


def test_make_resident_id_matches_standard_example_and_gender_parity() -> None:
    assert make_resident_id(110105, dt.date(1949, 12, 31), 0, "F") == "11010519491231002X"
    male = make_resident_id(330211, dt.date(1985, 3, 12), 17, "M")
    female = make_resident_id(330211, dt.date(1985, 3, 12), 17, "F")
    assert is_valid_resident_id(male) and is_valid_resident_id(female)
    assert int(male[16]) % 2 == 1 and int(female[16]) % 2 == 0
    assert male.startswith("33021119850312")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((33021, dt.date(1985, 1, 1), 1, "M"), "region_adcode"),
        ((330211, "1985-01-01", 1, "M"), "dob"),
        ((330211, dt.date(1985, 1, 1), 499, "M"), "seq"),
        ((330211, dt.date(1985, 1, 1), 1, "X"), "gender"),
    ],
)
def test_make_resident_id_rejects_bad_input(args: tuple, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make_resident_id(*args)


def test_check_char_rejects_bad_body() -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_char("1234")
    with pytest.raises(ValueError, match="expected 17 characters"):
        uscc_check_char("91330100716105852I")
    with pytest.raises(ValueError, match="8 characters"):
        org_code_check_char("7161058")


@given(
    st.integers(110000, 829999),
    st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    st.integers(0, 498),
    st.sampled_from(["M", "F"]),
    st.integers(0, 16),
    st.integers(1, 9),
)
def test_made_ids_are_valid_and_any_digit_change_breaks_them(
    region: int, dob: dt.date, seq: int, gender: str, pos: int, delta: int
) -> None:
    rid = make_resident_id(region, dob, seq, gender)  # type: ignore[arg-type]
    assert is_valid_resident_id(rid)
    typo = rid[:pos] + str((int(rid[pos]) + delta) % 10) + rid[pos + 1 :]
    assert not is_valid_resident_id(typo)


@pytest.mark.parametrize("code", KNOWN_USCCS)
def test_known_usccs_are_valid(code: str) -> None:
    assert is_valid_uscc(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert org_code_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize(
    "bad", ["91330100716105852G", "91330100716105852", "9133010071610585IF", "", None, 91330100]
)
def test_invalid_usccs(bad: object) -> None:
    assert not is_valid_uscc(bad)


@given(st.integers(110000, 829999), st.integers(0, 10**8 - 1))
def test_made_usccs_are_valid(region: int, seq: int) -> None:
    code = make_uscc(region, seq)
    assert is_valid_uscc(code)
    assert code.startswith(f"91{region}")
    assert org_code_check_char(code[8:16]) == code[16]


def test_make_uscc_is_injective_and_validates() -> None:
    codes = {make_uscc(330211, s) for s in range(2000)}
    assert len(codes) == 2000
    with pytest.raises(ValueError, match="seq"):
        make_uscc(330211, -1)
    with pytest.raises(ValueError, match="region_adcode"):
        make_uscc(3302110, 1)


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "138-1234-5678",
        "138 1234 5678",
        "+86 138-1234-5678",
        "+8613812345678",
        "0086 138 1234 5678",
        "86-13812345678",
        "(+86) 138 1234 5678",
        " 138.1234.5678 ",
        "8613812345678",
    ],
)
def test_normalize_phone_formats(written: str) -> None:
    assert normalize_phone(written) == "13812345678"


@pytest.mark.parametrize(
    "bad", ["12812345678", "1381234567", "+1 138 1234 5678", "phone", "", "0571-8888-6666", None]
)
def test_normalize_phone_rejects(bad: str | None) -> None:
    assert normalize_phone(bad) is None


def test_normalize_phone_type_error() -> None:
    with pytest.raises(TypeError, match="phone must be a str"):
        normalize_phone(13812345678)  # type: ignore[arg-type]
