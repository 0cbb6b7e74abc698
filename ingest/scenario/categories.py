"""Case categories: how a case of each kind looks.

Each category has a :class:`CategorySpec`: its weight among background cases,
whether it is an enterprise-related case (the victim or the offender is a
company), how its time window looks (a theft discovered next morning gets a
wide ``22:00-06:00``-like window, a robbery a narrow one, a fraud one spanning
weeks), its modus-operandi tags, its loss range and its narrative template.

Example
-------
>>> import numpy as np
>>> s, e, r = make_window(np.random.default_rng(0), "night", 1772400000.0)
>>> s <= 1772400000.0 <= e <= r
True
>>> "theft.fuel" in ENTERPRISE_CATEGORIES, "fraud.telecom" in ENTERPRISE_CATEGORIES
(True, False)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .clock import CST, DAY, HOUR, hour_of_day
from .registry import Context

__all__ = [
    "CATEGORIES",
    "ENTERPRISE_CATEGORIES",
    "CategorySpec",
    "crime_time",
    "draw_loss",
    "draw_mo",
    "make_window",
    "narrative",
]


@dataclass(frozen=True)
class CategorySpec:
    """How cases of one category look."""

    weight: float  # share among background cases
    enterprise: bool
    timing: str  # night | day | narrow | fraud | long | telecom | mixed
    mo: tuple[tuple[str, ...], ...]  # one tag drawn from each group
    loss: tuple[float, float]  # CNY range (log-uniform)
    trades: tuple[str, ...] = ()  # victim company trades
    site: str = "urban"  # urban | rural (where scenes lie)
    p_suspect: float = 0.05  # background: chance a suspect is named
    sources: tuple[str, ...] = ("110",)
    narrative: str = ""


CATEGORIES: dict[str, CategorySpec] = {
    "theft.fuel": CategorySpec(
        6,
        True,
        "night",
        (
            ("night",),
            ("target.truck",),
            ("tool.siphon", "tool.drill"),
            ("fuel.diesel",),
            ("site.logistics_park", "site.construction", "site.roadside"),
        ),
        (1500, 30000),
        ("物流", "运输", "港务", "工程机械", "建设工程"),
        "rural",
        0.03,
        ("enterprise-station", "110"),
        "{org}报称，{when}停放在{address}的{n}辆货车油箱被撬，柴油被盗约{litres}升。",
    ),
    "theft.cargo": CategorySpec(
        6,
        True,
        "night",
        (
            ("night",),
            ("target.trailer", "target.warehouse"),
            ("lock.cut", "seal.broken"),
            ("goods.copper", "goods.electronics", "goods.textiles", "goods.tyres"),
        ),
        (8000, 400000),
        ("物流", "供应链管理", "仓储", "货运"),
        "rural",
        0.05,
        ("enterprise-station", "110"),
        "{org}报称，{when}其存放于{address}的货物被盗，货值约{loss}元。",
    ),
    "theft.cable": CategorySpec(
        4,
        True,
        "night",
        (("night",), ("target.cable",), ("tool.cutter", "tool.saw"), ("goods.copper",)),
        (3000, 120000),
        ("电力工程", "通信工程", "光伏科技", "建设"),
        "rural",
        0.02,
        ("enterprise-station", "110"),
        "{org}报称，{when}位于{address}的施工现场电缆被剪断盗走约{metres}米。",
    ),
    "burglary.commercial": CategorySpec(
        5,
        True,
        "night",
        (
            ("night",),
            ("entry.door_pried", "entry.window", "entry.roof"),
            ("target.cash", "target.safe", "target.goods"),
        ),
        (2000, 150000),
        ("商贸", "五金", "电子", "超市", "餐饮管理"),
        "urban",
        0.04,
        ("110",),
        "{org}报称，{when}位于{address}的店铺被撬，损失约{loss}元。",
    ),
    "fraud.contract": CategorySpec(
        6,
        True,
        "fraud",
        (
            ("contract.fake_company", "contract.fake_guarantee"),
            ("payment.advance", "payment.deposit"),
            ("goods.steel", "goods.chemicals", "goods.textiles", "goods.machinery"),
        ),
        (50000, 3000000),
        ("贸易", "机械制造", "纺织", "化工", "建材"),
        "urban",
        0.8,
        ("walk-in", "enterprise-station"),
        "{org}报称，其与对方签订购销合同并预付货款{loss}元后，对方失联未交货。",
    ),
    "fraud.invoice": CategorySpec(
        4,
        True,
        "long",
        (("invoice.fake_vat",), ("shell_company",), ("payment.cycle", "payment.cash")),
        (100000, 5000000),
        ("贸易", "化工", "建材", "供应链管理"),
        "urban",
        0.7,
        ("walk-in", "online"),
        "{org}发现取得的增值税专用发票系虚开，涉及金额约{loss}元。",
    ),
    "ip.trade_secret": CategorySpec(
        2,
        True,
        "long",
        (
            ("insider.former_employee", "insider.employee"),
            ("data.copy_usb", "data.email", "data.cloud"),
            ("competitor.new_company",),
        ),
        (200000, 8000000),
        ("新材料", "电子科技", "生物医药", "精密机械"),
        "urban",
        0.9,
        ("walk-in",),
        "{org}报称，其核心技术资料被离职员工带走并用于竞争企业，损失约{loss}元。",
    ),
    "ip.trademark": CategorySpec(
        2,
        True,
        "long",
        (("counterfeit.goods",), ("online.shop", "market.stall")),
        (20000, 600000),
        ("服饰", "日化", "五金工具", "电器"),
        "urban",
        0.6,
        ("walk-in", "online"),
        "{org}报称，发现有人销售假冒其注册商标的商品，涉案金额约{loss}元。",
    ),
    "embezzlement": CategorySpec(
        3,
        True,
        "long",
        (
            ("insider.accountant", "insider.cashier", "insider.manager"),
            ("funds.transfer", "funds.cash"),
        ),
        (30000, 2000000),
        ("贸易", "制造", "物业管理", "建设"),
        "urban",
        0.95,
        ("walk-in",),
        "{org}报称，公司员工利用职务便利侵占公司资金约{loss}元。",
    ),
    "bribery.commercial": CategorySpec(
        1,
        True,
        "long",
        (("insider.purchasing", "insider.sales"), ("kickback",)),
        (20000, 800000),
        ("建设", "医药", "贸易"),
        "urban",
        0.9,
        ("walk-in",),
        "{org}举报，其采购人员收受供应商财物约{loss}元。",
    ),
    "burglary.residential": CategorySpec(
        18,
        False,
        "mixed",
        (
            ("entry.door_pried", "entry.window", "entry.unlocked", "entry.key_copy"),
            ("target.cash", "target.jewellery", "target.electronics"),
        ),
        (500, 60000),
        (),
        "urban",
        0.03,
        ("110",),
        "报案人称，{when}其位于{address}的住宅被盗，损失约{loss}元。",
    ),
    "fraud.telecom": CategorySpec(
        20,
        False,
        "telecom",
        (
            (
                "phone.impersonate_police",
                "phone.customer_service",
                "online.shopping_refund",
                "online.part_time",
                "online.romance",
            ),
            ("payment.transfer",),
        ),
        (800, 500000),
        (),
        "urban",
        0.4,
        ("110", "online"),
        "报案人称，其接到自称{pretext}的电话后，按对方要求转账{loss}元。",
    ),
    "theft.vehicle": CategorySpec(
        8,
        False,
        "night",
        (
            ("night",),
            ("target.car", "target.ebike", "target.motorbike"),
            ("tool.signal_relay", "lock.broken"),
        ),
        (2000, 250000),
        (),
        "urban",
        0.02,
        ("110",),
        "报案人称，其停放在{address}的车辆被盗。",
    ),
    "robbery": CategorySpec(
        3,
        False,
        "narrow",
        (
            ("street", "shop"),
            ("weapon.knife", "weapon.none"),
            ("target.phone", "target.bag", "target.cash"),
        ),
        (300, 30000),
        (),
        "urban",
        0.15,
        ("110",),
        "报案人称，{when}在{address}被一男子抢走财物，价值约{loss}元。",
    ),
    "fraud.investment": CategorySpec(
        6,
        False,
        "fraud",
        (("investment.high_return",), ("platform.app", "recruit.seminar", "recruit.wechat")),
        (20000, 2000000),
        (),
        "urban",
        0.7,
        ("walk-in", "online"),
        "报案人称，其受高额回报引诱投资{loss}元，后平台无法提现、对方失联。",
    ),
    "other": CategorySpec(
        6,
        False,
        "day",
        (("misc",),),
        (0, 5000),
        (),
        "urban",
        0.1,
        ("110",),
        "报案人称，{when}在{address}发生纠纷，财物受损约{loss}元。",
    ),
}

#: Categories where an enterprise is the victim or the vehicle of the offence.
ENTERPRISE_CATEGORIES: frozenset[str] = frozenset(c for c, s in CATEGORIES.items() if s.enterprise)

_PRETEXTS = (
    "公安局民警",
    "快递客服",
    "电商客服",
    "银行工作人员",
    "贷款平台客服",
    "医保中心工作人员",
)


def _round(t: float, step: float, up: bool) -> float:
    local = t + 8 * HOUR
    q = np.ceil(local / step) if up else np.floor(local / step)
    return float(q * step - 8 * HOUR)


def make_window(rng: np.random.Generator, timing: str, t_c: float) -> tuple[float, float, float]:
    """(occurred_start, occurred_end, reported_at) around the true crime time ``t_c``.

    ``night``: last seen in the evening, found next morning (rounded to half hours,
    reported 10 min-2.5 h after discovery); ``day``: a few hours while people are
    out; ``narrow``: minutes, reported at once; ``fraud``/``long``: days to months
    before the discovery at ``t_c``; ``telecom``: the call, reported within hours.
    """
    half = 0.5 * HOUR
    if timing == "mixed":
        timing = "day" if 8.0 <= float(hour_of_day(np.array([t_c]))[0]) < 18.0 else "night"
    if timing == "night":
        start = _round(t_c - rng.uniform(1.5, 5.0) * HOUR, half, up=False)
        hour = float(hour_of_day(np.array([t_c]))[0])
        to_morning = ((24.0 - hour) % 24.0 + rng.uniform(5.5, 7.5)) % 24.0
        end = _round(t_c + max(1.0, min(to_morning, 10.0)) * HOUR, half, up=True)
        reported = end + rng.uniform(10, 150) * 60
    elif timing == "day":
        start = _round(t_c - rng.uniform(1.0, 7.0) * HOUR, half, up=False)
        end = _round(t_c + rng.uniform(0.5, 5.0) * HOUR, half, up=True)
        reported = end + rng.uniform(10, 90) * 60
    elif timing == "narrow":
        start = t_c - rng.uniform(0, 10) * 60
        end = t_c + rng.uniform(0, 10) * 60
        reported = end + rng.uniform(3, 40) * 60
    elif timing == "telecom":
        start = t_c - rng.uniform(0.2, 3.0) * HOUR
        end = t_c
        reported = end + rng.uniform(0.3, 6.0) * HOUR
    elif timing == "fraud":
        start = _round(t_c - rng.uniform(3, 45) * DAY, DAY, up=False)
        end = t_c
        reported = end + rng.uniform(0.5, 8.0) * HOUR
    elif timing == "long":
        start = _round(t_c - rng.uniform(30, 300) * DAY, DAY, up=False)
        end = t_c
        reported = end + rng.uniform(1.0, 10.0) * HOUR
    else:
        raise ValueError(
            f"timing {timing!r} is unknown; expected night/day/narrow/telecom/fraud/long"
        )
    return float(start), float(end), float(max(reported, end))


def crime_time(rng: np.random.Generator, ctx: Context, timing: str) -> float:
    """A plausible true time for a case of ``timing`` inside the scenario horizon."""
    span = ctx.t_end - ctx.t_start
    for _ in range(200):
        t = ctx.t_start + rng.uniform(0.0, span)
        h = float(hour_of_day(np.array([t]))[0])
        if timing == "night":
            ok = h >= 21.0 or h < 5.0
        elif timing in ("fraud", "long"):
            ok = 9.0 <= h < 17.5
        elif timing == "telecom":
            ok = 8.0 <= h < 22.0
        else:
            ok = 7.0 <= h < 23.0
        if ok and t < ctx.t_end - 0.25 * HOUR:
            return float(t)
    return float(ctx.t_start + 0.5 * span)


def draw_mo(rng: np.random.Generator, spec: CategorySpec) -> list[str]:
    """One tag from each MO group of ``spec``."""
    return [g[int(rng.integers(len(g)))] for g in spec.mo]


def draw_loss(rng: np.random.Generator, spec: CategorySpec) -> float:
    """A loss in CNY, log-uniform in the category's range, rounded to 10."""
    lo, hi = spec.loss
    if hi <= 0:
        return 0.0
    return float(round(np.exp(rng.uniform(np.log(max(lo, 1.0)), np.log(hi))), -1))


def narrative(
    rng: np.random.Generator,
    spec: CategorySpec,
    t_c: float,
    addr: str,
    org: str,
    loss: float | None,
    n: int = 1,
) -> str:
    """The free-text account of a case from its category's template."""
    when_t = dt.datetime.fromtimestamp(t_c, CST)
    part = (
        "凌晨"
        if when_t.hour < 6
        else "上午"
        if when_t.hour < 12
        else "下午"
        if when_t.hour < 18
        else "晚间"
    )
    when = f"{when_t.month}月{when_t.day}日{part}"
    return spec.narrative.format(
        org=org or "报案人",
        when=when,
        address=addr,
        n=n,
        litres=int(rng.integers(80, 900)),
        loss=int(loss or 0),
        metres=int(rng.integers(50, 1200)),
        pretext=_PRETEXTS[int(rng.integers(len(_PRETEXTS)))],
    )
