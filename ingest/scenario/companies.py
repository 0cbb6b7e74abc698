"""Enterprises: names in the usual ``<place><brand><trade>有限公司`` form and valid USCCs.

Example
-------
>>> import numpy as np
>>> book = CompanyBook(np.random.default_rng(2))
>>> c = book.new(330211, "宁波市", "镇海区", "物流")
>>> c.name.endswith("物流有限公司"), c.uscc[2:8]
(True, '330211')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.identifiers import make_uscc

from .names import words

__all__ = ["Company", "CompanyBook", "short_place"]


_BRANDS = words(
    "恒达 华信 鑫源 永盛 天成 宏远 金泰 瑞丰 安顺 通达 众鑫 盛世 德润 海越 中拓 宏图 锦程 东方 "
    "新亚 博远 亿达 汇丰 浙通 顺捷 力源 华瑞 嘉诚 万隆 隆兴 和泰 恒信 振华 富春 甬港 四明 凯达"
)


@dataclass(frozen=True)
class Company:
    """Ground truth of one enterprise."""

    name: str
    uscc: str
    county: int


def short_place(name: str) -> str:
    """``镇海区`` → ``镇海``, ``宁波市`` → ``宁波``; two-character names stay as they are."""
    if len(name) > 2 and name[-1] in "市区县":
        return name[:-1]
    return name.replace("畲族自治", "")


class CompanyBook:
    """Issues companies with unique names and USCCs."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._seq = 0
        self._names: set[str] = set()
        self.companies: list[Company] = []

    def new(self, county: int, city_name: str, county_name: str, trade: str) -> Company:
        """A company registered in ``county`` doing ``trade`` (物流, 化工, ...)."""
        rng = self._rng
        for attempt in range(200):
            brand = _BRANDS[int(rng.integers(len(_BRANDS)))]
            roll = rng.random()
            if roll < 0.45:
                place = short_place(city_name) + short_place(county_name)
            elif roll < 0.8:
                place = short_place(city_name)
            else:
                place = "浙江"
            name = f"{place}{brand}{trade}有限公司"
            if attempt > 50:
                name = f"{place}{brand}{trade}{attempt}号有限公司"
            if name not in self._names:
                break
        self._names.add(name)
        self._seq += 1
        company = Company(name=name, uscc=make_uscc(county, self._seq * 7 + 3), county=county)
        self.companies.append(company)
        return company
