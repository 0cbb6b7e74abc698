"""People of the scenario and how a report mentions them.

A :class:`Person` is the ground truth (canonical name, valid resident ID, an
11-digit mobile). :func:`mention` renders one into a contract person mention
the way an officer may have written it: the name in a :mod:`.names` style, the
phone in one of :data:`PHONE_FORMATS`, the ID full, partial (masked with
``*``), absent or with a typo (a wrong check digit).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> people = PersonFactory(rng)
>>> p = people.new(name="张伟", gender="M")
>>> m = mention(p, "suspect", rng, name_style="pinyin", phone_format="intl_dashes", id_form="masked_dob")
>>> m["name"], m["phone"][:4], m["id_number"][6:14]
('Zhang Wei', '+86 ', '********')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ingest.identifiers import make_resident_id

from .names import NameStyle, name_variant, random_name, words

__all__ = [
    "ID_FORMS",
    "PHONE_FORMATS",
    "IdForm",
    "Person",
    "PersonFactory",
    "format_phone",
    "mention",
]

PhoneFormat = Literal[
    "plain",
    "dashes",
    "spaces",
    "intl_dashes",
    "intl_compact",
    "intl_00",
    "cn_prefix",
    "brackets",
]
#: Ways the same mobile number is written (all normalise to the same 11 digits).
PHONE_FORMATS: tuple[PhoneFormat, ...] = (
    "plain",
    "dashes",
    "spaces",
    "intl_dashes",
    "intl_compact",
    "intl_00",
    "cn_prefix",
    "brackets",
)
IdForm = Literal["full", "masked_dob", "masked_tail", "masked_middle", "absent", "typo"]
ID_FORMS: tuple[IdForm, ...] = (
    "full",
    "masked_dob",
    "masked_tail",
    "masked_middle",
    "absent",
    "typo",
)


_MOBILE_PREFIXES = words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
)
# Household registrations outside Zhejiang (many workers come from these provinces).
_OUTSIDE_REGIONS = (340123, 341221, 410102, 411323, 360102, 362321, 430102, 510104, 520102, 350102)


@dataclass(frozen=True)
class Person:
    """Ground truth of one person."""

    person_id: str
    name: str
    gender: str
    dob: dt.date
    id_number: str
    phone: str  # 11 digits
    region: int  # household registration (first 6 ID digits)


class PersonFactory:
    """Creates people with unique, valid resident IDs and unique phone numbers."""

    def __init__(self, rng: np.random.Generator, regions: tuple[int, ...] = (330102,)) -> None:
        self._rng = rng
        self._regions = regions
        self._seq: dict[tuple[int, dt.date, str], int] = {}
        self._phones: set[str] = set()
        self.people: list[Person] = []

    def set_regions(self, regions: tuple[int, ...]) -> None:
        """Zhejiang county adcodes used as household registrations."""
        self._regions = regions

    def new_phone(self) -> str:
        """A fresh 11-digit mobile number."""
        rng = self._rng
        while True:
            phone = _MOBILE_PREFIXES[int(rng.integers(len(_MOBILE_PREFIXES)))] + (
                f"{int(rng.integers(0, 10**8)):08d}"
            )
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def new(
        self,
        *,
        name: str | None = None,
        gender: str | None = None,
        region: int | None = None,
        age: tuple[int, int] = (20, 60),
    ) -> Person:
        """A new person; unspecified fields are drawn at random."""
        rng = self._rng
        if gender is None:
            gender = "M" if rng.random() < 0.6 else "F"
        if name is None:
            name = random_name(rng, gender)
        if region is None:
            if rng.random() < 0.2:
                region = _OUTSIDE_REGIONS[int(rng.integers(len(_OUTSIDE_REGIONS)))]
            else:
                region = self._regions[int(rng.integers(len(self._regions)))]
        years = rng.uniform(*age)
        dob = dt.date(2026, 3, 1) - dt.timedelta(days=int(years * 365.25))
        key = (region, dob, gender)
        seq = self._seq.get(key, int(rng.integers(0, 400))) % 499
        self._seq[key] = seq + 1
        person = Person(
            person_id=f"P{len(self.people) + 1:06d}",
            name=name,
            gender=gender,
            dob=dob,
            id_number=make_resident_id(region, dob, seq, gender),  # type: ignore[arg-type]
            phone=self.new_phone(),
            region=region,
        )
        self.people.append(person)
        return person


def format_phone(phone: str, fmt: PhoneFormat) -> str:
    """Write an 11-digit mobile in format ``fmt`` (see :data:`PHONE_FORMATS`)."""
    if len(phone) != 11 or not phone.isdigit():
        raise ValueError(f"phone {phone!r} is invalid; expected 11 digits")
    a, b, c = phone[:3], phone[3:7], phone[7:]
    out = {
        "plain": phone,
        "dashes": f"{a}-{b}-{c}",
        "spaces": f"{a} {b} {c}",
        "intl_dashes": f"+86 {a}-{b}-{c}",
        "intl_compact": f"+86{phone}",
        "intl_00": f"0086 {a} {b} {c}",
        "cn_prefix": f"86-{phone}",
        "brackets": f"(+86) {a} {b} {c}",
    }
    if fmt not in out:
        raise ValueError(f"phone format {fmt!r} is unknown; expected one of {PHONE_FORMATS}")
    return out[fmt]


def _typo(id_number: str, rng: np.random.Generator) -> str:
    """Change one order-code or region digit; the check character then no longer fits."""
    pos = int(rng.choice([3, 4, 5, 14, 15, 16]))
    digit = int(id_number[pos])
    new = (digit + int(rng.integers(1, 10))) % 10
    return id_number[:pos] + str(new) + id_number[pos + 1 :]


def id_text(id_number: str, form: IdForm, rng: np.random.Generator) -> str | None:
    """The ID as written in a report (``None`` when absent)."""
    if form == "full":
        return id_number
    if form == "masked_dob":
        return id_number[:6] + "*" * 8 + id_number[14:]
    if form == "masked_tail":
        return id_number[:14] + "****"
    if form == "masked_middle":
        return id_number[:4] + "*" * 10 + id_number[14:]
    if form == "absent":
        return None
    if form == "typo":
        return _typo(id_number, rng)
    raise ValueError(f"ID form {form!r} is unknown; expected one of {ID_FORMS}")


def mention(
    person: Person,
    role: str,
    rng: np.random.Generator,
    *,
    name_style: NameStyle = "canonical",
    phone_format: PhoneFormat | None = "plain",
    id_form: IdForm = "absent",
    with_dob: bool = False,
    with_gender: bool = False,
) -> dict[str, Any]:
    """A contract person mention of ``person``; ``phone_format=None`` leaves the phone out."""
    out: dict[str, Any] = {"role": role, "name": name_variant(person.name, name_style, rng)}
    written_id = id_text(person.id_number, id_form, rng)
    if written_id is not None:
        out["id_number"] = written_id
    if phone_format is not None:
        out["phone"] = format_phone(person.phone, phone_format)
    if with_dob:
        out["dob"] = person.dob.isoformat()
    if with_gender:
        out["gender"] = person.gender
    return out
