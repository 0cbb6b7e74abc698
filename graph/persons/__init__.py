"""Person matching: one suspect behind many spellings (issue 5).

* :mod:`.normalize` - names (Han, traditional, pinyin, homophones), dates,
  genders and flags: :func:`normalize_person`;
* :mod:`.identity` - resident IDs, USCCs, phones: :func:`parse_resident_id`,
  :func:`parse_uscc`, :func:`parse_phone`;
* :mod:`.encode` - normalised mentions as fixed-width numpy columns:
  :func:`encode_persons`;
* :mod:`.compare` - numba comparators (Jaro-Winkler, bounded Levenshtein,
  ID/phone/date/name agreement levels) and :func:`compare_pairs`, the gamma
  matrix for Fellegi-Sunter;
* :mod:`.em` - Fellegi-Sunter with m/u estimated by EM (:class:`FellegiSunter`, :func:`fit_em`);
* :mod:`.blocking` - blocking rules and the streaming block index;
* :mod:`.resolver` - streaming resolution (:class:`PersonResolver`) and the case-pair
  evidence it yields (:func:`person_evidence`);
* :mod:`.sink` - the pipeline sink feeding suspect mentions to the resolver.

Example
-------
>>> from graph.persons import encode_persons, normalize_person, compare_pairs
>>> import numpy as np
>>> ps = [normalize_person({"role": "suspect", "name": n, "phone": p})
...       for n, p in [("张伟", "138 1234 5678"), ("Zhang Wei", "+86 13812345678")]]
>>> enc = encode_persons(ps)
>>> compare_pairs(enc, enc, np.array([0]), np.array([1]))[0].tolist()  # name, id, phone, dob, gender
[4, -1, 2, -1, -1]
"""

from __future__ import annotations

from .compare import (
    FIELDS,
    compare_pairs,
    jaro_winkler,
    jaro_winkler_matrix,
    jaro_winkler_pairs,
    level_name,
    levenshtein,
    levenshtein_matrix,
    levenshtein_pairs,
)
from .em import FellegiSunter, fit_em
from .encode import EncodedPersons, StringArray, encode_persons, encode_strings
from .identity import IdInfo, PhoneInfo, UsccInfo, parse_phone, parse_resident_id, parse_uscc
from .normalize import NameParts, NormalizedPerson, normalize_name, normalize_person, pinyin_key
from .resolver import PersonResolver, Resolution, person_evidence

__all__ = [
    "FIELDS",
    "EncodedPersons",
    "FellegiSunter",
    "PersonResolver",
    "Resolution",
    "fit_em",
    "person_evidence",
    "IdInfo",
    "NameParts",
    "NormalizedPerson",
    "PhoneInfo",
    "StringArray",
    "UsccInfo",
    "compare_pairs",
    "encode_persons",
    "encode_strings",
    "jaro_winkler",
    "jaro_winkler_matrix",
    "jaro_winkler_pairs",
    "level_name",
    "levenshtein",
    "levenshtein_matrix",
    "levenshtein_pairs",
    "normalize_name",
    "normalize_person",
    "parse_phone",
    "parse_resident_id",
    "parse_uscc",
    "pinyin_key",
]
