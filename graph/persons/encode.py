"""Normalised person mentions as fixed-width numpy columns for the numba comparators.

:func:`encode_persons` turns a sequence of :class:`~graph.persons.normalize.NormalizedPerson`
into an :class:`EncodedPersons`: one row per mention, no Python objects, so
kernels can compare millions of pairs. :func:`encode_strings` does the same
for plain strings (a :class:`StringArray` of code points), which is what the
raw Jaro-Winkler and Levenshtein kernels take.

Columns of :class:`EncodedPersons` (``n`` rows):

========================  ==============  ===============================================
column                    dtype, shape    meaning
========================  ==============  ===============================================
``han``, ``han_len``      uint32 (n, 8)   Han name code points (simplified), length
``py``, ``py_len``        uint8 (n, 32)   pinyin, surname first, no separators (ASCII)
``syl``, ``n_syl``        int16 (n, 8)    pinyin syllable ids (:data:`SYLLABLE_IDS`)
``key_syl``               int16 (n, 8)    homophone-folded syllable ids
``n_surname``             int8 (n,)       syllables of the surname
``script``                int8 (n,)       0 no name, 1 Han, 2 Latin, 3 mixed
``han_hash`` ...          int64 (n,)      63-bit hashes of the Han name, pinyin, pinyin
                                          key, and of pinyin and key read given-name
                                          first, surname key; 0 = none
``id_chars``              uint8 (n, 18)   ID characters: 0-9, 10 for X, 255 unknown
``id_known``              int8 (n,)       known ID characters (0: no usable ID)
``id_valid``              bool (n,)       complete with a fitting check character
``id_key``                int64 (n,)      the complete ID as an integer, -1 otherwise
``phone``                 int64 (n,)      the 11-digit mobile, -1 if none
``phone_tail``            int32 (n,)      last 8 digits of any written number, -1 if none
``dob``                   int32 (n,)      birth date to match on as YYYYMMDD, -1 if none
``gender``                int8 (n,)       0 unknown, 1 male, 2 female
``flags``                 uint32 (n,)     bit ``k`` set for the k-th flag of :data:`FLAGS`
========================  ==============  ===============================================

Names longer than the widths are truncated (flag ``name_truncated``); the
hashes are of the full strings, so exact levels stay exact. A name that is
empty or only a placeholder (张某) encodes as no name (``py_len == 0``).

Example
-------
>>> from graph.persons.normalize import normalize_person
>>> enc = encode_persons([normalize_person({"role": "suspect", "name": "Zhang Wei"})])
>>> len(enc), bytes(enc.py[0, : enc.py_len[0]]).decode(), int(enc.n_surname[0])
(1, 'zhangwei', 1)
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from .normalize import FLAGS, PINYIN_SYLLABLES, NormalizedPerson, fold_syllable, pinyin_key

__all__ = [
    "FLAG_BITS",
    "HAN_WIDTH",
    "KEY_IDS",
    "MAX_WIDTH",
    "PY_WIDTH",
    "SYLLABLE_IDS",
    "SYL_WIDTH",
    "EncodedPersons",
    "StringArray",
    "encode_persons",
    "encode_strings",
    "hash63",
    "syllable_id",
]

log = logging.getLogger(__name__)

HAN_WIDTH = 8
PY_WIDTH = 32
SYL_WIDTH = 8
#: Widest string the bit-parallel kernels take (one 64-bit word).
MAX_WIDTH = 64
_UNKNOWN_ID = 255
_X = 10
_SCRIPTS = {"han": 1, "latin": 2, "mixed": 3}

#: Id (1..) of every pinyin syllable; other tokens hash to 1024..32767.
SYLLABLE_IDS: dict[str, int] = {s: i + 1 for i, s in enumerate(sorted(PINYIN_SYLLABLES))}
#: Id of every homophone-folded syllable.
KEY_IDS: dict[str, int] = {
    s: i + 1 for i, s in enumerate(sorted({fold_syllable(p) for p in PINYIN_SYLLABLES}))
}
#: Bit of every flag in :attr:`EncodedPersons.flags`.
FLAG_BITS: dict[str, int] = {name: 1 << k for k, name in enumerate(FLAGS)}


def syllable_id(syllable: str, table: dict[str, int] | None = None) -> int:
    """Id of ``syllable`` in ``table`` (default :data:`SYLLABLE_IDS`); a stable hash
    in 1024..32767 for anything else (a non-pinyin token). O(len)."""
    table = SYLLABLE_IDS if table is None else table
    known = table.get(syllable)
    if known is not None:
        return known
    return 1024 + zlib.crc32(syllable.encode("utf-8")) % (32768 - 1024)


def hash63(text: str) -> int:
    """A stable non-negative 63-bit hash of ``text``; 0 for the empty string.

    >>> hash63("") == 0 and hash63("zhang wei") == hash63("zhang wei") > 0
    True
    """
    if not text:
        return 0
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "little") & (2**63 - 1)) or 1


@dataclass(frozen=True)
class StringArray:
    """Strings as a fixed-width code-point matrix: ``codes[i, :lengths[i]]`` is string i.

    ``max_code`` is the largest code point (the kernels use a direct lookup
    table when it is below 256).
    """

    codes: np.ndarray
    lengths: np.ndarray
    max_code: int

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.lengths.ndim != 1:
            raise ValueError(
                f"codes/lengths: got shapes {self.codes.shape}/{self.lengths.shape}; "
                "expected (n, width) and (n,)"
            )
        if self.codes.shape[0] != self.lengths.shape[0]:
            raise ValueError(
                f"codes has {self.codes.shape[0]} rows but lengths {self.lengths.shape[0]}"
            )
        if self.codes.shape[1] > MAX_WIDTH:
            raise ValueError(f"width {self.codes.shape[1]} exceeds {MAX_WIDTH}")

    def decode(self, i: int) -> str:
        """String ``i`` back as text."""
        return "".join(map(chr, self.codes[i, : self.lengths[i]].tolist()))


def encode_strings(
    strings: Sequence[str], width: int | None = None, dtype: type | None = None
) -> StringArray:
    """Encode ``strings`` as a :class:`StringArray`. O(total length).

    ``width`` defaults to the longest string (at most :data:`MAX_WIDTH`; longer
    strings are truncated, with a logged warning). ``dtype`` defaults to uint8
    when every code point is below 256, else uint32.

    >>> sa = encode_strings(["zhangwei", "李娜"])
    >>> sa.codes.dtype.name, sa.lengths.tolist(), sa.decode(1)
    ('uint32', [8, 2], '李娜')
    """
    if isinstance(strings, str):
        raise TypeError("strings: got one str; expected a sequence of str")
    strings = list(strings)
    for k, s in enumerate(strings):
        if not isinstance(s, str):
            raise TypeError(f"strings[{k}]: got {type(s).__name__} {s!r}; expected str")
    longest = max((len(s) for s in strings), default=0)
    if width is None:
        width = max(1, min(longest, MAX_WIDTH))
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"width: got {width}; expected 1..{MAX_WIDTH}")
    if longest > width:
        log.warning(
            "%d strings longer than width %d were truncated",
            sum(len(s) > width for s in strings),
            width,
        )
    max_code = max((max(map(ord, s)) for s in strings if s), default=0)
    if dtype is None:
        dtype = np.uint8 if max_code < 256 else np.uint32
    codes = np.zeros((len(strings), width), dtype=dtype)
    lengths = np.zeros(len(strings), dtype=np.int32)
    if np.iinfo(dtype).max < max_code:
        raise ValueError(f"dtype {np.dtype(dtype).name} cannot hold code point {max_code}")
    for i, s in enumerate(strings):
        s = s[:width]
        if s:
            codes[i, : len(s)] = [ord(c) for c in s]
        lengths[i] = len(s)
    return StringArray(codes, lengths, int(max_code))


@dataclass(frozen=True)
class EncodedPersons:
    """Person mentions as columns (see the module docstring for every column)."""

    han: np.ndarray
    han_len: np.ndarray
    py: np.ndarray
    py_len: np.ndarray
    syl: np.ndarray
    key_syl: np.ndarray
    n_syl: np.ndarray
    n_surname: np.ndarray
    script: np.ndarray
    han_hash: np.ndarray
    py_hash: np.ndarray
    key_hash: np.ndarray
    swap_py_hash: np.ndarray
    swap_hash: np.ndarray
    surname_hash: np.ndarray
    id_chars: np.ndarray
    id_known: np.ndarray
    id_valid: np.ndarray
    id_key: np.ndarray
    phone: np.ndarray
    phone_tail: np.ndarray
    dob: np.ndarray
    gender: np.ndarray
    flags: np.ndarray

    def __len__(self) -> int:
        return int(self.py_len.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the columns."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def take(self, idx: np.ndarray | Sequence[int]) -> EncodedPersons:
        """The rows ``idx`` (any integer index array) as a new :class:`EncodedPersons`."""
        idx = np.asarray(idx, dtype=np.int64)
        return EncodedPersons(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: Sequence[EncodedPersons]) -> EncodedPersons:
        """Rows of ``parts`` one after another (for an index that grows by batches)."""
        if not parts:
            return encode_persons([])
        return EncodedPersons(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(EncodedPersons)
            }
        )

    def flagged(self, flag: str) -> np.ndarray:
        """Boolean mask of rows carrying ``flag`` (a key of :data:`FLAGS`)."""
        if flag not in FLAG_BITS:
            raise ValueError(f"flag: got {flag!r}; expected one of {sorted(FLAG_BITS)}")
        return (self.flags & np.uint32(FLAG_BITS[flag])) != 0


def _id_chars(text: str) -> list[int]:
    return [_UNKNOWN_ID if c == "*" else _X if c == "X" else ord(c) - 48 for c in text]


def encode_persons(persons: Sequence[NormalizedPerson]) -> EncodedPersons:
    """Encode normalised mentions as :class:`EncodedPersons`. O(n) Python work per row.

    >>> from graph.persons.normalize import normalize_person
    >>> enc = encode_persons([normalize_person({"role": "victim", "name": "李娜",
    ...                                         "id_number": "11010519491231002X"})])
    >>> int(enc.id_known[0]), bool(enc.id_valid[0]), int(enc.dob[0]), int(enc.gender[0])
    (18, True, 19491231, 2)
    """
    n = len(persons)
    han = np.zeros((n, HAN_WIDTH), np.uint32)
    han_len = np.zeros(n, np.int8)
    py = np.zeros((n, PY_WIDTH), np.uint8)
    py_len = np.zeros(n, np.int8)
    syl = np.zeros((n, SYL_WIDTH), np.int16)
    key_syl = np.zeros((n, SYL_WIDTH), np.int16)
    n_syl = np.zeros(n, np.int8)
    n_surname = np.zeros(n, np.int8)
    script = np.zeros(n, np.int8)
    han_hash = np.zeros(n, np.int64)
    py_hash = np.zeros(n, np.int64)
    key_hash = np.zeros(n, np.int64)
    swap_py_hash = np.zeros(n, np.int64)
    swap_hash = np.zeros(n, np.int64)
    surname_hash = np.zeros(n, np.int64)
    id_chars = np.full((n, 18), _UNKNOWN_ID, np.uint8)
    id_known = np.zeros(n, np.int8)
    id_valid = np.zeros(n, np.bool_)
    id_key = np.full(n, -1, np.int64)
    phone = np.full(n, -1, np.int64)
    phone_tail = np.full(n, -1, np.int32)
    dob = np.full(n, -1, np.int32)
    gender = np.zeros(n, np.int8)
    flags = np.zeros(n, np.uint32)
    truncated = FLAG_BITS["name_truncated"]
    for i, p in enumerate(persons):
        if not isinstance(p, NormalizedPerson):
            raise TypeError(
                f"persons[{i}]: got {type(p).__name__}; expected a NormalizedPerson "
                "(from normalize_person)"
            )
        f = 0
        for name in p.flags:
            f |= FLAG_BITS.get(name, 0)
        usable = bool(p.pinyin) and "name_placeholder" not in p.flags
        if usable:
            pys = p.pinyin_str
            text = pys.encode("ascii", "replace")
            if len(text) > PY_WIDTH or len(p.name_han) > HAN_WIDTH or len(p.pinyin) > SYL_WIDTH:
                f |= truncated
            text = text[:PY_WIDTH]
            py[i, : len(text)] = np.frombuffer(text, np.uint8)
            py_len[i] = len(text)
            h = p.name_han[:HAN_WIDTH]
            if h:
                han[i, : len(h)] = [ord(c) for c in h]
            han_len[i] = len(h)
            sy = p.pinyin[:SYL_WIDTH]
            n_syl[i] = len(sy)
            n_surname[i] = min(len(p.surname_pinyin), SYL_WIDTH)
            for k, s in enumerate(sy):
                syl[i, k] = syllable_id(s)
                key_syl[i, k] = syllable_id(fold_syllable(s), KEY_IDS)
            script[i] = _SCRIPTS.get(p.script, 0)
            han_hash[i] = hash63(p.name_han)
            py_hash[i] = hash63(" ".join(p.pinyin))
            key_hash[i] = hash63(p.pinyin_key)
            swap_py_hash[i] = hash63(" ".join(p.given_pinyin + p.surname_pinyin))
            swap_hash[i] = hash63(p.swapped_key)
            surname_hash[i] = hash63(pinyin_key(p.surname_pinyin))
        info = p.id
        if info is not None and not info.malformed and info.known > 0:
            id_chars[i] = _id_chars(info.normalized)
            id_known[i] = info.known
            id_valid[i] = info.valid
            if info.complete:
                id_key[i] = int(info.normalized[:17]) * 11 + (
                    _X if info.normalized[17] == "X" else int(info.normalized[17])
                )
        if p.phone is not None:
            phone[i] = int(p.phone)
        tail = p.phone or p.phone_digits or ""
        if len(tail) >= 8:
            phone_tail[i] = int(tail[-8:])
        born = p.match_dob
        if born is not None:
            dob[i] = born.year * 10000 + born.month * 100 + born.day
        g = p.match_gender
        gender[i] = 1 if g == "M" else 2 if g == "F" else 0
        flags[i] = f
    return EncodedPersons(
        han=han,
        han_len=han_len,
        py=py,
        py_len=py_len,
        syl=syl,
        key_syl=key_syl,
        n_syl=n_syl,
        n_surname=n_surname,
        script=script,
        han_hash=han_hash,
        py_hash=py_hash,
        key_hash=key_hash,
        swap_py_hash=swap_py_hash,
        swap_hash=swap_hash,
        surname_hash=surname_hash,
        id_chars=id_chars,
        id_known=id_known,
        id_valid=id_valid,
        id_key=id_key,
        phone=phone,
        phone_tail=phone_tail,
        dob=dob,
        gender=gender,
        flags=flags,
    )
