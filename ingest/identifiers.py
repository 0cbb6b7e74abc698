"""Chinese identifiers: resident ID numbers, unified social credit codes, phone numbers.

* PRC resident identity number (GB 11643-1999): 6-digit region code, 8-digit
  date of birth, 3-digit order code (odd for men, even for women) and one check
  character computed with ISO 7064 MOD 11-2.
* Unified social credit code (GB 32100-2015): registration authority, entity
  category, 6-digit region code, 9-character organization code (GB 11714, with
  its own check character) and one check character over a 31-symbol alphabet.
* Mobile phone numbers as people write them (``+86 138-1234-5678``,
  ``0086 138 1234 5678``, ...) normalised to the 11 digits.

Example
-------
>>> resident_id_check_char("11010519491231002")
'X'
>>> is_valid_resident_id("11010519491231002X")
True
>>> normalize_phone("+86 138-1234-5678")
'13812345678'
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

__all__ = [
    "USCC_ALPHABET",
    "is_valid_resident_id",
    "is_valid_uscc",
    "make_resident_id",
    "make_uscc",
    "normalize_phone",
    "org_code_check_char",
    "resident_id_check_char",
    "uscc_check_char",
]

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 ...
_ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE_JUNK = re.compile(r"[\s\-\u2010-\u2015.()（）\u3000/]")


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) for 17 leading digits.

    ISO 7064 MOD 11-2: weights ``2**(17-i) mod 11``; O(1).

    >>> resident_id_check_char("44052418800101001")
    '4'
    """
    if (
        not isinstance(first17, str)
        or len(first17) != 17
        or not first17.isascii()
        or not first17.isdigit()
    ):
        raise ValueError(
            f"resident ID body {first17!r} is invalid; expected a string of exactly 17 ASCII digits"
        )
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _valid_birth_date(digits8: str) -> bool:
    try:
        born = dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:]))
    except ValueError:
        return False
    return born.year >= 1800


def is_valid_resident_id(s: object) -> bool:
    """True if ``s`` is an 18-character resident ID with a real birth date and a correct
    check character (a lowercase ``x`` is accepted). Never raises.

    >>> is_valid_resident_id("11010519491231002X"), is_valid_resident_id("110105194912310021")
    (True, False)
    """
    if not isinstance(s, str) or len(s) != 18 or not s.isascii():
        return False
    body, check = s[:17], s[17].upper()
    if not body.isdigit() or not _valid_birth_date(body[6:14]):
        return False
    return resident_id_check_char(body) == check


def make_resident_id(region_adcode: int, dob: dt.date, seq: int, gender: Literal["M", "F"]) -> str:
    """Build a valid resident ID.

    ``seq`` (0-498) numbers people of one region born on one day; the 3-digit order
    code is ``2*seq + 1`` for men (odd) and ``2*seq + 2`` for women (even).

    >>> make_resident_id(110105, dt.date(1949, 12, 31), 0, "F")
    '11010519491231002X'
    """
    if isinstance(region_adcode, bool) or not isinstance(region_adcode, int):
        raise ValueError(f"region_adcode {region_adcode!r} is invalid; expected a six-digit int")
    if not 110000 <= region_adcode <= 829999:
        raise ValueError(
            f"region_adcode {region_adcode} is out of range; expected a six-digit code 110000-829999"
        )
    if not isinstance(dob, dt.date) or isinstance(dob, dt.datetime):
        raise ValueError(f"dob {dob!r} is invalid; expected a datetime.date")
    if dob.year < 1800:
        raise ValueError(f"dob {dob.isoformat()} is invalid; expected a year from 1800 on")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 498:
        raise ValueError(f"seq {seq!r} is invalid; expected an int from 0 to 498")
    if gender not in ("M", "F"):
        raise ValueError(f"gender {gender!r} is invalid; expected 'M' or 'F'")
    order = 2 * seq + (1 if gender == "M" else 2)
    body = f"{region_adcode:06d}{dob:%Y%m%d}{order:03d}"
    return body + resident_id_check_char(body)


def org_code_check_char(first8: str) -> str:
    """The GB 11714 organization-code check character for 8 digits/uppercase letters.

    >>> org_code_check_char("71610585")  # Alibaba (China) Co., Ltd.: 71610585-2
    '2'
    """
    if not isinstance(first8, str) or len(first8) != 8 or not re.fullmatch(r"[0-9A-Z]{8}", first8):
        raise ValueError(
            f"organization code body {first8!r} is invalid; expected 8 characters 0-9 or A-Z"
        )
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of a unified social credit code.

    Each character has its value in :data:`USCC_ALPHABET` (no I, O, S, V, Z);
    ``check = 31 - (sum(value * weight) mod 31)``, 31 meaning ``0``. O(1).
    """
    if (
        not isinstance(first17, str)
        or len(first17) != 17
        or any(c not in _USCC_VALUE for c in first17)
    ):
        raise ValueError(
            f"USCC body {first17!r} is invalid; expected 17 characters from {USCC_ALPHABET}"
        )
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(s: object) -> bool:
    """True if ``s`` is an 18-character unified social credit code with a correct check
    character (uppercase, as issued). Never raises.
    """
    if not isinstance(s, str) or len(s) != 18 or any(c not in _USCC_VALUE for c in s):
        return False
    return uscc_check_char(s[:17]) == s[17]


def make_uscc(region_adcode: int, seq: int) -> str:
    """Build a valid USCC of an enterprise (``91``) registered in ``region_adcode``.

    ``seq`` (0 to 99,999,999) is turned into a distinct, scrambled 8-digit
    organization-code body that gets its own GB 11714 check character, so
    different ``seq`` give different codes.

    >>> code = make_uscc(330211, 1)
    >>> code[:8], is_valid_uscc(code)
    ('91330211', True)
    """
    if isinstance(region_adcode, bool) or not isinstance(region_adcode, int):
        raise ValueError(f"region_adcode {region_adcode!r} is invalid; expected a six-digit int")
    if not 110000 <= region_adcode <= 829999:
        raise ValueError(
            f"region_adcode {region_adcode} is out of range; expected a six-digit code 110000-829999"
        )
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 10**8:
        raise ValueError(f"seq {seq!r} is invalid; expected an int from 0 to 99999999")
    # 48271 is odd and not a multiple of 5, so this is a bijection on 0..10**8-1.
    body8 = f"{(seq * 48271 + 31415926) % 10**8:08d}"
    org = body8 + org_code_check_char(body8)
    first17 = f"91{region_adcode:06d}{org}"
    return first17 + uscc_check_char(first17)


def normalize_phone(s: object) -> str | None:
    """The 11-digit mainland mobile number written in ``s``, or ``None``.

    Removes spaces, dashes, dots and brackets, then a ``+86``, ``0086`` or ``86``
    country prefix. Complexity O(len(s)).

    >>> [normalize_phone(p) for p in ("0086 138 1234 5678", "13812345678", "5678")]
    ['13812345678', '13812345678', None]
    """
    if s is None:
        return None
    if not isinstance(s, str):
        raise TypeError(f"phone must be a str, got {type(s).__name__} {s!r}")
    digits = _PHONE_JUNK.sub("", s.strip())
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("86"):
            return None
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else None
