"""Identifiers of people and enterprises, parsed the way person matching needs them.

* :func:`parse_resident_id` reads a PRC resident identity number (GB 11643)
  as written in a report - full, partial (``*`` for digits not given), with a
  wrong check character, in full-width digits, the 15-digit first-generation
  form, or simply malformed - and never raises. It returns an :class:`IdInfo`
  with the normalised text, whether the check character fits, and what the
  known digits reveal (birth date, gender, household-registration region).
* :func:`parse_uscc` does the same for an enterprise's unified social credit
  code (GB 32100 check character, GB 11714 organisation-code check).
* :func:`parse_phone` wraps :func:`ingest.identifiers.normalize_phone` for
  dirty input: full-width digits, stray text, landlines; it keeps the digits so
  a comparator can still match the last eight.

The check characters themselves come from :mod:`ingest.identifiers`; this
module only decides what a written identifier tells a matcher. An invalid
check character is evidence (``check_ok=False``), never an exact key.

Example
-------
>>> info = parse_resident_id("11010519491231002x")
>>> info.normalized, info.valid, info.birth_date.isoformat(), info.gender, info.region
('11010519491231002X', True, '1949-12-31', 'F', 110105)
>>> parse_resident_id("330102********123X").mask
'330102********123X'
>>> parse_phone("（+86）138 1234 5678").number
'13812345678'
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ingest.identifiers import (
    USCC_ALPHABET,
    normalize_phone,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

__all__ = [
    "ID_LENGTH",
    "IdInfo",
    "PhoneInfo",
    "UsccInfo",
    "id_compatible",
    "parse_phone",
    "parse_resident_id",
    "parse_uscc",
]

#: Characters of a second-generation resident ID.
ID_LENGTH = 18
#: Earliest birth year read from an ID (as :func:`ingest.identifiers.is_valid_resident_id`).
_MIN_YEAR = 1800

_ID_SEPARATORS = re.compile(r"[\s\-_.·/]")
_ID_CHARS = re.compile(r"^[0-9*]{17}[0-9X*]$")
_USCC_SEPARATORS = re.compile(r"[\s\-_.·/]")
_NOT_DIGIT = re.compile(r"[^0-9]")

Gender = Literal["M", "F"]


@dataclass(frozen=True)
class IdInfo:
    """What a written resident ID number tells (see :func:`parse_resident_id`).

    Attributes
    ----------
    raw:
        The text as written.
    normalized:
        NFKC, separators removed, upper case (``x`` -> ``X``); a 15-digit
        first-generation number is upgraded to 18 characters. ``*`` marks
        unknown characters.
    complete:
        18 characters, none unknown.
    check_ok:
        The GB 11643 check character fits (``None`` when it cannot be checked:
        partial or malformed).
    valid:
        ``complete`` and ``check_ok`` and a real birth date - the only IDs that
        may serve as an exact key.
    malformed:
        Not an ID at all after normalisation (wrong length, letters, ...).
    legacy15:
        Written as a 15-digit first-generation number.
    birth_date, gender, region:
        Derived from the known digits when they are known (region: the
        6-digit adcode of the household registration).
    mask:
        The pattern with ``*`` for a partial ID; ``None`` otherwise.
    known:
        Number of known characters (0-18).
    """

    raw: str
    normalized: str
    complete: bool
    check_ok: bool | None
    valid: bool
    malformed: bool
    legacy15: bool
    birth_date: dt.date | None
    gender: Gender | None
    region: int | None
    mask: str | None
    known: int

    @property
    def partial(self) -> bool:
        """Some but not all characters are known (a masked ID)."""
        return not self.malformed and 0 < self.known < ID_LENGTH


def _date_or_none(digits8: str) -> dt.date | None:
    if len(digits8) != 8 or not digits8.isdigit():
        return None
    try:
        born = dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:]))
    except ValueError:
        return None
    return born if born.year >= _MIN_YEAR else None


def _malformed(raw: str, text: str) -> IdInfo:
    return IdInfo(
        raw=raw,
        normalized=text,
        complete=False,
        check_ok=None,
        valid=False,
        malformed=True,
        legacy15=False,
        birth_date=None,
        gender=None,
        region=None,
        mask=None,
        known=0,
    )


def parse_resident_id(s: object) -> IdInfo | None:
    """Parse a resident ID as written; ``None`` for no ID (``None`` or blank). Never raises.

    Accepts full-width characters, spaces or dashes inside, a lowercase ``x``,
    ``*`` (or ``＊``, ``?``) for unknown characters, and the 15-digit
    first-generation form (``RRRRRRYYMMDDSSS``: the century ``19`` is inserted
    and the check character computed; ``legacy15`` is set). Anything else that
    is not 18 characters of ``[0-9*]{17}[0-9X*]`` is ``malformed``. O(1).

    >>> parse_resident_id("33010219900307123").malformed  # 17 digits
    True
    >>> parse_resident_id("330102900307123").normalized  # first generation
    '330102199003071230'
    """
    if s is None:
        return None
    raw = s if isinstance(s, str) else str(s)
    text = unicodedata.normalize("NFKC", raw)
    text = _ID_SEPARATORS.sub("", text).upper().replace("?", "*")
    if not text:
        return None
    legacy = False
    if len(text) == 15 and text.isdigit():
        body = text[:6] + "19" + text[6:]
        text = body + resident_id_check_char(body)
        legacy = True
    if len(text) != ID_LENGTH or not _ID_CHARS.match(text):
        return _malformed(raw, text)
    known = sum(c != "*" for c in text)
    if known == 0:
        return None
    complete = known == ID_LENGTH
    birth = _date_or_none(text[6:14])
    region = int(text[:6]) if text[:6].isdigit() else None
    gender: Gender | None = None
    if text[16] != "*":
        gender = "M" if int(text[16]) % 2 == 1 else "F"
    check_ok: bool | None = None
    if complete:
        check_ok = resident_id_check_char(text[:17]) == text[17]
    return IdInfo(
        raw=raw,
        normalized=text,
        complete=complete,
        check_ok=check_ok,
        valid=bool(complete and check_ok and birth is not None),
        malformed=False,
        legacy15=legacy,
        birth_date=birth,
        gender=gender,
        region=region,
        mask=None if complete else text,
        known=known,
    )


def id_compatible(a: IdInfo, b: IdInfo, min_overlap: int = 6) -> bool:
    """True if the known characters of ``a`` and ``b`` agree wherever both are known and
    at least ``min_overlap`` positions are known in both. O(18).

    >>> x = parse_resident_id("330102199003070115")
    >>> id_compatible(x, parse_resident_id("330102********0115"))
    True
    """
    if a.malformed or b.malformed:
        return False
    both = 0
    for ca, cb in zip(a.normalized, b.normalized, strict=True):
        if ca == "*" or cb == "*":
            continue
        if ca != cb:
            return False
        both += 1
    return both >= min_overlap


@dataclass(frozen=True)
class PhoneInfo:
    """A phone number as written: the 11-digit mobile when there is one, and its digits."""

    raw: str
    number: str | None
    digits: str

    @property
    def ok(self) -> bool:
        """An 11-digit mainland mobile number was found."""
        return self.number is not None

    @property
    def tail8(self) -> str | None:
        """The last eight digits (of the mobile, or of whatever digits were written)."""
        src = self.number or self.digits
        return src[-8:] if len(src) >= 8 else None


def parse_phone(s: object) -> PhoneInfo | None:
    """Parse a phone number; ``None`` for no phone. Never raises. O(len(s)).

    Tries :func:`ingest.identifiers.normalize_phone` on the NFKC text (so
    full-width digits and brackets work), then on its digits alone (drops stray
    words such as ``手机:``). ``number`` is ``None`` when no mobile is found.

    >>> parse_phone("0086 138 1234 5678").number, parse_phone("0571-8765 4321").number
    ('13812345678', None)
    """
    if s is None:
        return None
    raw = s if isinstance(s, str) else str(s)
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    number = normalize_phone(text)
    digits = _NOT_DIGIT.sub("", text)
    if number is None and digits:
        number = normalize_phone(("+" if text.startswith("+") else "") + digits)
    return PhoneInfo(raw=raw, number=number, digits=digits)


@dataclass(frozen=True)
class UsccInfo:
    """What a written unified social credit code tells (see :func:`parse_uscc`)."""

    raw: str
    normalized: str
    valid: bool
    malformed: bool
    org_code_ok: bool | None
    registration_authority: str | None
    entity_category: str | None
    region: int | None


_USCC_SET = frozenset(USCC_ALPHABET)


def parse_uscc(s: object) -> UsccInfo | None:
    """Parse a USCC; ``None`` for no code. Never raises. O(1).

    Normalises NFKC, separators and case; ``valid`` means 18 characters of the
    GB 32100 alphabet with a fitting check character. The embedded GB 11714
    organisation code (characters 9-17) is checked too (``org_code_ok``).

    >>> info = parse_uscc("91330211 MA2AAAAA0X")
    >>> info.normalized, info.malformed
    ('91330211MA2AAAAA0X', False)
    """
    if s is None:
        return None
    raw = s if isinstance(s, str) else str(s)
    text = _USCC_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not text:
        return None
    if len(text) != 18 or any(c not in _USCC_SET for c in text):
        return UsccInfo(raw, text, False, True, None, None, None, None)
    valid = uscc_check_char(text[:17]) == text[17]
    org = text[8:17]
    try:
        org_ok: bool | None = org_code_check_char(org[:8]) == org[8]
    except ValueError:
        org_ok = None
    region = int(text[2:8]) if text[2:8].isdigit() else None
    return UsccInfo(
        raw=raw,
        normalized=text,
        valid=valid,
        malformed=False,
        org_code_ok=org_ok,
        registration_authority=text[0],
        entity_category=text[1],
        region=region,
    )
