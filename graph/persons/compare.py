"""Person comparators: string similarity kernels and Fellegi-Sunter comparison vectors.

Raw string comparators on :class:`~graph.persons.encode.StringArray` (or lists
of ``str``), numba-compiled, batched one-vs-many (``*_matrix``, like
``rapidfuzz.process.cdist``) or over pair index arrays (``*_pairs``):

* :func:`jaro_winkler_matrix`, :func:`jaro_winkler_pairs`, :func:`jaro_winkler`:
  the standard Jaro-Winkler similarity (match window ``max(|a|,|b|)//2 - 1``,
  half the transpositions, prefix scale 0.1 over at most 4 characters, applied
  when Jaro exceeds 0.7 - Winkler's boost threshold, as in rapidfuzz and
  jellyfish). Strings are at most 64 code points.
* :func:`levenshtein_matrix`, :func:`levenshtein_pairs`, :func:`levenshtein`:
  bounded edit distance: the distance if it is at most ``k``, else ``k + 1``.

:func:`compare_pairs` turns pairs of encoded person mentions into a matrix of
agreement levels (the gamma vectors of Fellegi-Sunter), one column per field
of :data:`FIELDS`. Every field uses ``-1`` (:data:`MISSING`) when either side
has no usable value; higher levels mean closer agreement:

========  ====================================================================
field     levels
========  ====================================================================
name      0 disagree; 1 surname and given name swapped (homophone key of one
          read given-first equals the other's); 2 Jaro-Winkler >= 0.92 on the
          pinyin; 3 same homophone key (张伟/张玮/章伟, 王芳/汪芳); 4 same
          pinyin; 5 same Han characters (after traditional folding). A Latin
          name's surname/given order is a guess (``Li Wang``), so when either
          side is Latin its reversed reading also counts for levels 4 and 3
id        0 conflict; 1 typo (complete IDs one digit or one adjacent swap
          apart, one of them failing its check); 2 compatible (partial IDs
          agree on >= 6 known characters, or equal complete IDs one of which
          fails its check); 3 exact (equal, both valid - the only exact key)
phone     0 conflict; 1 last eight digits agree; 2 the same 11-digit mobile
dob       0 conflict; 1 same year only; 2 one digit off; 3 day and month
          swapped; 4 exact
gender    0 disagree; 1 agree
========  ====================================================================

Example
-------
>>> round(jaro_winkler("zhangwei", "zhangwie"), 4), levenshtein("zhangwei", "wangwei", k=3)
(0.975, 2)
>>> level_name("name", 3), level_name("id", MISSING)
('homophone', 'missing')
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numba
import numpy as np

from . import _compare_kernels as kern
from .encode import EncodedPersons, StringArray, encode_strings

__all__ = [
    "DATE_CONFLICT",
    "DATE_EXACT",
    "DATE_ONE_DIGIT",
    "DATE_SWAPPED",
    "DATE_YEAR",
    "FIELDS",
    "GENDER_AGREE",
    "GENDER_DISAGREE",
    "ID_COMPATIBLE",
    "ID_CONFLICT",
    "ID_EXACT",
    "ID_TYPO",
    "LEVELS",
    "MISSING",
    "NAME_DISAGREE",
    "NAME_HAN",
    "NAME_HOMOPHONE",
    "NAME_JW",
    "NAME_PINYIN",
    "NAME_SWAPPED",
    "PHONE_CONFLICT",
    "PHONE_EXACT",
    "PHONE_LAST8",
    "compare_pairs",
    "explain",
    "jaro_winkler",
    "jaro_winkler_matrix",
    "jaro_winkler_pairs",
    "level_name",
    "levenshtein",
    "levenshtein_matrix",
    "levenshtein_pairs",
]

log = logging.getLogger(__name__)

#: Level of a field that is missing on either side.
MISSING = -1

NAME_DISAGREE = 0
NAME_SWAPPED = 1
NAME_JW = 2
NAME_HOMOPHONE = 3
NAME_PINYIN = 4
NAME_HAN = 5

ID_CONFLICT = 0
ID_TYPO = 1
ID_COMPATIBLE = 2
ID_EXACT = 3

PHONE_CONFLICT = 0
PHONE_LAST8 = 1
PHONE_EXACT = 2

DATE_CONFLICT = 0
DATE_YEAR = 1
DATE_ONE_DIGIT = 2
DATE_SWAPPED = 3
DATE_EXACT = 4

GENDER_DISAGREE = 0
GENDER_AGREE = 1

#: Columns of :func:`compare_pairs`.
FIELDS: tuple[str, ...] = ("name", "id", "phone", "dob", "gender")

#: Names of the levels 0, 1, ... of every field (``-1`` is ``"missing"``).
LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("disagree", "swapped", "jaro_winkler", "homophone", "pinyin", "han"),
    "id": ("conflict", "typo", "compatible", "exact"),
    "phone": ("conflict", "last8", "exact"),
    "dob": ("conflict", "year", "one_digit", "day_month_swapped", "exact"),
    "gender": ("disagree", "agree"),
}

#: Default Jaro-Winkler threshold of the name level :data:`NAME_JW`.
JW_THRESHOLD = 0.92
#: Known characters two IDs must share before a partial match counts.
MIN_ID_OVERLAP = 6
PREFIX_WEIGHT = 0.1
_PACK_CHUNK = 4096  # strings of ``b`` packed at a time (bounds the pattern table)


def level_name(field: str, level: int) -> str:
    """The name of ``level`` of ``field`` (see :data:`LEVELS`).

    >>> level_name("dob", DATE_SWAPPED)
    'day_month_swapped'
    """
    if field not in LEVELS:
        raise ValueError(f"field: got {field!r}; expected one of {FIELDS}")
    if level == MISSING:
        return "missing"
    names = LEVELS[field]
    if not 0 <= level < len(names):
        raise ValueError(f"level: got {level!r} for {field!r}; expected -1..{len(names) - 1}")
    return names[level]


def explain(gamma: np.ndarray | Sequence[int]) -> dict[str, str]:
    """One row of :func:`compare_pairs` as ``{field: level name}``.

    >>> explain([4, -1, 2, -1, 1])
    {'name': 'pinyin', 'id': 'missing', 'phone': 'exact', 'dob': 'missing', 'gender': 'agree'}
    """
    row = [int(x) for x in gamma]
    if len(row) != len(FIELDS):
        raise ValueError(f"gamma: got {len(row)} levels; expected {len(FIELDS)} ({FIELDS})")
    return {f: level_name(f, lv) for f, lv in zip(FIELDS, row, strict=True)}


# ---------------------------------------------------------------- helpers


def _as_strings(x: StringArray | Sequence[str], what: str) -> StringArray:
    if isinstance(x, StringArray):
        return x
    if isinstance(x, str) or not isinstance(x, Sequence | np.ndarray):
        raise TypeError(f"{what}: got {type(x).__name__}; expected a StringArray or list of str")
    return encode_strings(list(x))


def _pairs(ia: object, ib: object, na: int, nb: int) -> tuple[np.ndarray, np.ndarray]:
    ia = np.ascontiguousarray(ia)
    ib = np.ascontiguousarray(ib)
    for name, arr, n in (("ia", ia, na), ("ib", ib, nb)):
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: got {arr.dtype} array of shape {arr.shape}; expected int[]")
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(
                f"{name}: indices {int(arr.min())}..{int(arr.max())} out of range 0..{n - 1}"
            )
    if ia.shape != ib.shape:
        raise ValueError(f"ia and ib: got lengths {ia.size} and {ib.size}; expected equal")
    return ia.astype(np.int64, copy=False), ib.astype(np.int64, copy=False)


def _chunks(n: int) -> int:
    return max(1, min(n // 4096, numba.get_num_threads() * 8)) if n else 1


def _direct(a: StringArray, b: StringArray) -> bool:
    return a.max_code < 256 and b.max_code < 256


def _valid_codes(sa: StringArray) -> np.ndarray:
    width = np.arange(sa.codes.shape[1])
    return sa.codes[width[None, :] < sa.lengths[:, None]]


def _alphabet_ids(sa: StringArray, sb: StringArray) -> tuple[np.ndarray, np.ndarray, int]:
    """Code points as small ids for the pattern table: as they are below 256, else
    remapped to a dense alphabet of both arrays. Returns (a ids, b ids, table size)."""
    if _direct(sa, sb):
        return sa.codes.astype(np.int32), sb.codes.astype(np.int32), 256
    alpha = np.unique(np.concatenate([_valid_codes(sa), _valid_codes(sb)]))
    if alpha.size == 0:
        return np.zeros_like(sa.codes, np.int32), np.zeros_like(sb.codes, np.int32), 1
    ia = np.searchsorted(alpha, sa.codes).clip(0, alpha.size - 1).astype(np.int32)
    ib = np.searchsorted(alpha, sb.codes).clip(0, alpha.size - 1).astype(np.int32)
    return ia, ib, int(alpha.size)


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k: got {k!r}; expected an integer >= 0")
    return int(k)


# ---------------------------------------------------------------- Jaro-Winkler


_Packing = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _packed_chunks(
    sa: StringArray, sb: StringArray
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, _Packing]]:
    """Yield (col0, a ids, b codes, b lengths, packing) for column chunks of ``sb``.

    Code points below 256 are their own ids; otherwise each chunk gets its own
    dense alphabet (characters of ``a`` not in it map to an all-zero row).
    """
    direct = _direct(sa, sb)
    width = np.arange(sb.codes.shape[1])
    for c0 in range(0, len(sb), _PACK_CHUNK):
        c1 = min(len(sb), c0 + _PACK_CHUNK)
        codes = sb.codes[c0:c1]
        lengths = sb.lengths[c0:c1]
        if direct:
            a_ids = sa.codes.astype(np.int32)
            b_ids = codes.astype(np.int32)
            n_rows = 256
        else:
            alpha = np.unique(codes[width[None, :] < lengths[:, None]])
            n_rows = alpha.size + 1
            b_ids = np.searchsorted(alpha, codes).astype(np.int32)
            pos = np.searchsorted(alpha, sa.codes)
            found = (
                alpha[np.minimum(pos, max(alpha.size - 1, 0))] == sa.codes if alpha.size else False
            )
            a_ids = np.where(found, pos, alpha.size).astype(np.int32)
        order = np.argsort(lengths, kind="stable")
        wlp, ww, lane_idx = kern.pack_plan(lengths, order)
        pm = kern.pack_pm(b_ids, lengths, wlp, ww, lane_idx, n_rows)
        yield c0, a_ids, codes, lengths, (pm, wlp, ww, lane_idx)


def _row_chunks(n: int) -> int:
    return max(1, min(n, numba.get_num_threads() * 4))


def jaro_winkler_matrix(
    a: StringArray | Sequence[str], b: StringArray | Sequence[str], *, parallel: bool = False
) -> np.ndarray:
    """Jaro-Winkler similarity of every string of ``a`` with every string of ``b`` (cdist).

    Returns float64 ``(len(a), len(b))``. One thread unless ``parallel``.
    The strings of ``b`` are packed several to a 64-bit word by length (8-bit
    lanes for up to 8 characters, 16-bit for up to 16, ...), so one pass of
    word operations compares a row of ``a`` with 4-8 strings of ``b`` at once.
    O(|a| |b| L / lanes) word operations plus O(|b| L) to pack.

    >>> jaro_winkler_matrix(["zhangwei"], ["zhangwei", "wangwei", ""]).round(4).tolist()
    [[1.0, 0.869, 0.0]]
    """
    sa, sb = _as_strings(a, "a"), _as_strings(b, "b")
    out = np.empty((len(sa), len(sb)), np.float64)
    if out.size == 0:
        return out
    for col0, a_ids, _codes, lengths, (pm, wlp, ww, lane_idx) in _packed_chunks(sa, sb):
        args = (a_ids, sa.lengths, lengths, col0, pm, wlp, ww, lane_idx)
        if parallel:
            kern.jw_packed_par(*args, PREFIX_WEIGHT, out, _row_chunks(len(sa)))
        else:
            kern.jw_packed(*args, PREFIX_WEIGHT, out)
    return out


def jaro_winkler_pairs(
    a: StringArray | Sequence[str],
    b: StringArray | Sequence[str],
    ia: np.ndarray,
    ib: np.ndarray,
    *,
    parallel: bool = False,
) -> np.ndarray:
    """Jaro-Winkler of the pairs ``(a[ia[p]], b[ib[p]])``; float64 ``(len(ia),)``.

    Sorting pairs by ``ia`` lets the kernel reuse the pattern table of ``a``.
    O(n_pairs L).

    >>> jaro_winkler_pairs(["martha"], ["marhta", "x"], np.array([0, 0]), np.array([0, 1])).round(4)
    array([0.9611, 0.    ])
    """
    sa, sb = _as_strings(a, "a"), _as_strings(b, "b")
    ia, ib = _pairs(ia, ib, len(sa), len(sb))
    out = np.empty(ia.shape[0], np.float64)
    a_ids, b_ids, n_rows = _alphabet_ids(sa, sb)
    args = (a_ids, sa.lengths, b_ids, sb.lengths, ia, ib, n_rows, PREFIX_WEIGHT, out)
    if parallel:
        kern.jw_pairs_par(*args, _chunks(ia.shape[0]))
    else:
        kern.jw_pairs(*args)
    return out


def jaro_winkler(s1: str, s2: str) -> float:
    """Jaro-Winkler similarity of two strings (convenience; use the batched forms in loops).

    >>> round(jaro_winkler("张伟", "张玮"), 4), round(jaro_winkler("MARTHA", "MARHTA"), 4)
    (0.6667, 0.9611)
    """
    if not isinstance(s1, str) or not isinstance(s2, str):
        raise TypeError(f"s1, s2: got {type(s1).__name__}, {type(s2).__name__}; expected str")
    return float(jaro_winkler_matrix([s1], [s2])[0, 0])


# ---------------------------------------------------------------- Levenshtein


def levenshtein_matrix(
    a: StringArray | Sequence[str],
    b: StringArray | Sequence[str],
    k: int,
    *,
    parallel: bool = False,
) -> np.ndarray:
    """Bounded Levenshtein distance of every pair: the distance if <= ``k``, else ``k + 1``.

    Returns int32 ``(len(a), len(b))``. ``b`` is packed as for
    :func:`jaro_winkler_matrix`; Myers/Hyyrö's bit-vector steps run lane-wise.
    Strings whose lengths differ by more than ``k`` cost nothing beyond packing.

    >>> levenshtein_matrix(["kitten"], ["sitting", "kitten", "xyz"], k=3).tolist()
    [[3, 0, 4]]
    """
    k = _check_k(k)
    sa, sb = _as_strings(a, "a"), _as_strings(b, "b")
    out = np.empty((len(sa), len(sb)), np.int32)
    if out.size == 0:
        return out
    for col0, a_ids, _codes, _lengths, (pm, wlp, ww, lane_idx) in _packed_chunks(sa, sb):
        args = (a_ids, sa.lengths, col0, pm, wlp, ww, lane_idx, k, out)
        if parallel:
            kern.lev_packed_par(*args, _row_chunks(len(sa)))
        else:
            kern.lev_packed(*args)
    return out


def levenshtein_pairs(
    a: StringArray | Sequence[str],
    b: StringArray | Sequence[str],
    ia: np.ndarray,
    ib: np.ndarray,
    k: int,
    *,
    parallel: bool = False,
) -> np.ndarray:
    """Bounded Levenshtein of the pairs ``(a[ia[p]], b[ib[p]])``; int32 ``(len(ia),)``."""
    k = _check_k(k)
    sa, sb = _as_strings(a, "a"), _as_strings(b, "b")
    ia, ib = _pairs(ia, ib, len(sa), len(sb))
    out = np.empty(ia.shape[0], np.int32)
    a_ids, b_ids, n_rows = _alphabet_ids(sa, sb)
    args = (a_ids, sa.lengths, b_ids, sb.lengths, ia, ib, n_rows, k, out)
    if parallel:
        kern.lev_pairs_par(*args, _chunks(ia.shape[0]))
    else:
        kern.lev_pairs(*args)
    return out


def levenshtein(s1: str, s2: str, k: int | None = None) -> int:
    """Levenshtein distance of two strings, bounded by ``k`` (default: unbounded).

    >>> levenshtein("张伟", "章伟"), levenshtein("abcdef", "uvwxyz", k=2)
    (1, 3)
    """
    if not isinstance(s1, str) or not isinstance(s2, str):
        raise TypeError(f"s1, s2: got {type(s1).__name__}, {type(s2).__name__}; expected str")
    bound = max(len(s1), len(s2)) if k is None else k
    return int(levenshtein_matrix([s1], [s2], bound)[0, 0])


# ---------------------------------------------------------------- persons


def compare_pairs(
    a: EncodedPersons,
    b: EncodedPersons,
    ia: np.ndarray,
    ib: np.ndarray,
    *,
    jw_threshold: float = JW_THRESHOLD,
    min_id_overlap: int = MIN_ID_OVERLAP,
    parallel: bool = True,
) -> np.ndarray:
    """Agreement levels of the mention pairs ``(a[ia[p]], b[ib[p]])``.

    Returns int8 ``(len(ia), len(FIELDS))``; see the module docstring and the
    ``NAME_*``, ``ID_*``, ``PHONE_*``, ``DATE_*``, ``GENDER_*`` constants for
    the levels, :data:`MISSING` (-1) for a field missing on either side.
    ``parallel`` splits the pairs over numba's threads. O(n_pairs); the name
    field runs Jaro-Winkler only when the hashes of the Han name, pinyin and
    homophone key all differ.

    >>> from graph.persons.encode import encode_persons
    >>> from graph.persons.normalize import normalize_person
    >>> enc = encode_persons([normalize_person(m) for m in (
    ...     {"role": "suspect", "name": "张伟", "dob": "1990-03-07"},
    ...     {"role": "suspect", "name": "章玮", "dob": "1990-07-03"})])
    >>> explain(compare_pairs(enc, enc, np.array([0]), np.array([1]))[0])["dob"]
    'day_month_swapped'
    """
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, EncodedPersons):
            raise TypeError(
                f"{name}: got {type(x).__name__}; expected EncodedPersons (from encode_persons)"
            )
    if not 0.0 <= float(jw_threshold) <= 1.0:
        raise ValueError(f"jw_threshold: got {jw_threshold!r}; expected a number in [0, 1]")
    if isinstance(min_id_overlap, bool) or not 1 <= int(min_id_overlap) <= 18:
        raise ValueError(f"min_id_overlap: got {min_id_overlap!r}; expected 1..18")
    ia, ib = _pairs(ia, ib, len(a), len(b))
    out = np.empty((ia.shape[0], len(FIELDS)), np.int8)
    if ia.shape[0] == 0:
        return out
    kern.gamma_pairs(
        a.py, a.py_len, a.script, a.han_hash, a.py_hash, a.key_hash, a.swap_py_hash, a.swap_hash,
        a.id_chars, a.id_known, a.id_valid, a.phone, a.phone_tail, a.dob, a.gender,
        b.py, b.py_len, b.script, b.han_hash, b.py_hash, b.key_hash, b.swap_py_hash, b.swap_hash,
        b.id_chars, b.id_known, b.id_valid, b.phone, b.phone_tail, b.dob, b.gender,
        ia, ib, float(jw_threshold), int(min_id_overlap), out,
        _chunks(ia.shape[0]) if parallel else 1,
    )  # fmt: skip
    return out
