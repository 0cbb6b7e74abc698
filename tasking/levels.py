"""Named command levels: ``county``, ``city``, ``province``.

Levels are never bare integers (numbering conventions differ between forces:
some call the province "level 1", others "level 3"). Order goes from the
lowest tier up: ``county < city < province``.

Example
-------
>>> Level.parse("city").parent
<Level.PROVINCE: 'province'>
>>> Level.COUNTY < Level.CITY
True
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LEVEL_NAMES", "Level"]

LEVEL_NAMES = ("county", "city", "province")


class Level(StrEnum):
    """A tier of the organisation; compares by rank (county lowest)."""

    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"

    @property
    def rank(self) -> int:
        return LEVEL_NAMES.index(self.value)

    @property
    def parent(self) -> Level | None:
        """The next tier up (``None`` above the province)."""
        r = self.rank
        return Level(LEVEL_NAMES[r + 1]) if r + 1 < len(LEVEL_NAMES) else None

    @property
    def child(self) -> Level | None:
        """The next tier down (``None`` below the county)."""
        r = self.rank
        return Level(LEVEL_NAMES[r - 1]) if r > 0 else None

    @classmethod
    def parse(cls, value: object, where: str = "level") -> Level:
        """A level from its name; ``ValueError`` naming ``where`` and the bad value otherwise."""
        if isinstance(value, Level):
            return value
        if isinstance(value, str) and value.strip().lower() in LEVEL_NAMES:
            return cls(value.strip().lower())
        raise ValueError(f"{where} = {value!r}: expected one of {', '.join(LEVEL_NAMES)}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank
