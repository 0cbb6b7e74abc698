"""Licence plates: 浙 + the city letter + five characters, unique within a scenario.

City letters: 杭州 A, 宁波 B, 温州 C, 绍兴 D, 湖州 E, 嘉兴 F, 金华 G, 衢州 H,
台州 J, 丽水 K, 舟山 L. New-energy cars carry D/F and five digits
(``浙BD12345``); taxis a T (``浙AT1234``); letters I and O are never used.

Example
-------
>>> import numpy as np
>>> book = PlateBook(np.random.default_rng(1))
>>> plate = book.new(330200)
>>> plate[:2], len(plate) in (7, 8)
('浙B', True)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["CITY_LETTERS", "PlateBook"]

CITY_LETTERS: dict[int, str] = {
    330100: "A",
    330200: "B",
    330300: "C",
    330400: "F",
    330500: "E",
    330600: "D",
    330700: "G",
    330800: "H",
    330900: "L",
    331000: "J",
    331100: "K",
}
_OTHER_PROVINCES = ("沪A", "沪B", "苏E", "苏B", "皖A", "皖K", "赣B", "闽C", "苏A", "沪D")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"

PlateStyle = Literal["car", "taxi", "bus", "truck"]


class PlateBook:
    """Issues unique plates; remembers every plate it issued."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.issued: set[str] = set()

    def _tail(self, style: PlateStyle) -> str:
        rng = self._rng
        digits = [_DIGITS[d] for d in rng.integers(0, 10, 5)]
        if style == "taxi":
            return "T" + "".join(digits[:4])
        if style == "car" and rng.random() < 0.15:  # new-energy: D (pure electric) / F (hybrid)
            return ("D" if rng.random() < 0.7 else "F") + "".join(digits)
        n_letters = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
        for pos in rng.choice(5, n_letters, replace=False):
            digits[pos] = _LETTERS[rng.integers(len(_LETTERS))]
        return "".join(digits)

    def new(self, city: int, style: PlateStyle = "car", *, outside: bool = False) -> str:
        """A fresh plate of a vehicle registered in ``city`` (or another province)."""
        if city not in CITY_LETTERS and not outside:
            raise ValueError(
                f"city {city} has no plate letter; expected one of {sorted(CITY_LETTERS)}"
            )
        for _ in range(1000):
            if outside:
                prefix = _OTHER_PROVINCES[self._rng.integers(len(_OTHER_PROVINCES))]
            else:
                prefix = "浙" + CITY_LETTERS[city]
            plate = prefix + self._tail(style)
            if plate not in self.issued:
                self.issued.add(plate)
                return plate
        raise RuntimeError(
            f"could not find a free {style} plate for city {city}"
        )  # pragma: no cover

    def many(
        self, cities: np.ndarray, style: PlateStyle = "car", outside: np.ndarray | None = None
    ) -> list[str]:
        """One fresh plate per entry of ``cities``."""
        out = []
        for i, c in enumerate(cities.tolist()):
            out.append(
                self.new(int(c), style, outside=bool(outside[i]) if outside is not None else False)
            )
        return out
