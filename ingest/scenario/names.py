"""Chinese personal names and the ways officers write them down.

A name is a one-character surname plus a one- or two-character given name.
:data:`COMMON_NAMES` are the names most shared in China (张伟 alone has
hundreds of thousands of bearers), so unrelated suspects carry them.

:func:`name_variant` writes a canonical name the way a report may hold it:
homophone characters (张伟 → 张玮), a space (张 伟), pinyin in several
spellings (``Zhang Wei``, ``ZHANG Wei``, ``zhangwei``) or with the order
swapped (``Wei Zhang``).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> name_variant("张伟", "pinyin", rng), name_variant("张伟", "pinyin_swapped", rng)
('Zhang Wei', 'Wei Zhang')
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pypinyin import lazy_pinyin

__all__ = [
    "COMMON_NAMES",
    "HOMOPHONES",
    "NAME_STYLES",
    "NameStyle",
    "name_variant",
    "random_name",
    "to_pinyin",
    "words",
]

#: The most frequent full names in China with the usual gender of their bearers.
COMMON_NAMES: tuple[tuple[str, str], ...] = (
    ("张伟", "M"),
    ("王伟", "M"),
    ("王芳", "F"),
    ("李伟", "M"),
    ("李娜", "F"),
    ("张敏", "F"),
    ("李静", "F"),
    ("王静", "F"),
    ("刘伟", "M"),
    ("王秀英", "F"),
    ("张丽", "F"),
    ("李秀英", "F"),
    ("王丽", "F"),
    ("张静", "F"),
    ("李强", "M"),
    ("王敏", "F"),
    ("李敏", "F"),
    ("王磊", "M"),
    ("刘洋", "M"),
    ("王艳", "F"),
    ("王勇", "M"),
    ("李军", "M"),
    ("张勇", "M"),
    ("李杰", "M"),
    ("张杰", "M"),
    ("张磊", "M"),
    ("王强", "M"),
    ("李娟", "F"),
    ("王军", "M"),
    ("陈静", "F"),
)

# Surnames by rough frequency in Zhejiang (polyphonic ones get their surname reading).
_SURNAMES = (
    "王陈张李吴徐周金朱林叶杨沈黄胡蒋许郑方孙钱何潘姚汪俞赵刘楼应毛施郭邵冯丁章程"
    "严余梁马罗袁戴吕顾贾宋唐韩曹彭曾谢夏蔡董卢陆邱石任鲍江傅童孔范"
)
_SURNAME_WEIGHTS = np.linspace(3.0, 0.4, len(_SURNAMES))
_SURNAME_PINYIN = {"曾": "zeng", "吕": "lv", "单": "shan", "覃": "qin", "解": "xie", "仇": "qiu"}


def words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words of ``text`` (for compact literal word lists)."""
    return tuple(text.split())


_GIVEN_M = words(
    "伟 强 磊 军 洋 勇 杰 涛 明 超 刚 平 辉 鹏 华 飞 鑫 波 斌 宇 浩 凯 健 俊 帆 旭 宁 龙 林 阳 "
    "建华 建国 建军 志强 志明 海涛 小龙 文斌 国强 晓东 俊杰 子轩 浩然 宇轩 建平 永明 立新 伟东 "
    "海峰 国平 建新 志刚 春雷 卫东 晓峰 家豪 一鸣 天宇"
)
_GIVEN_F = words(
    "芳 娜 敏 静 丽 艳 娟 霞 玲 婷 雪 琳 慧 莹 颖 倩 洁 晶 燕 萍 红 梅 丹 兰 佳 秀英 桂英 "
    "欣怡 梓涵 诗涵 雨萱 晓燕 丽娟 秀兰 美玲 海燕 玉兰 丽萍 雅琴 晓红 春燕 佳怡 思琪 "
    "雅婷 婉婷 金凤 素芬 亚萍"
)

#: Characters an officer may write for one heard syllable (same pinyin).
HOMOPHONES: dict[str, tuple[str, ...]] = {
    "张": ("章",),
    "王": ("汪",),
    "李": ("黎",),
    "刘": ("柳",),
    "徐": ("许",),
    "许": ("徐",),
    "何": ("贺",),
    "吴": ("伍",),
    "朱": ("诸",),
    "金": ("靳",),
    "林": ("琳", "霖"),
    "伟": ("玮", "炜", "韦"),
    "芳": ("方", "舫"),
    "娜": ("纳",),
    "敏": ("民", "珉"),
    "静": ("晶", "菁", "靖"),
    "丽": ("莉", "俐"),
    "强": ("蔷",),
    "磊": ("垒", "蕾"),
    "军": ("君", "钧"),
    "洋": ("阳", "扬"),
    "勇": ("永", "咏"),
    "艳": ("燕", "雁"),
    "杰": ("洁", "捷"),
    "涛": ("韬", "滔"),
    "明": ("铭", "鸣"),
    "超": ("朝", "潮"),
    "英": ("瑛", "莹"),
    "霞": ("侠",),
    "平": ("萍", "苹"),
    "刚": ("钢", "纲"),
    "桂": ("贵",),
    "华": ("桦", "骅"),
    "辉": ("晖", "徽"),
    "鹏": ("朋",),
    "斌": ("彬", "滨"),
    "宇": ("雨", "羽"),
    "浩": ("昊", "皓"),
    "凯": ("恺", "楷"),
    "婷": ("亭", "庭"),
    "晓": ("小", "筱"),
    "建": ("健", "剑"),
    "东": ("冬", "栋"),
    "波": ("博",),
    "红": ("虹", "宏"),
    "梅": ("玫",),
    "玲": ("铃", "龄"),
    "燕": ("艳", "雁"),
    "萍": ("平", "苹"),
    "娟": ("鹃", "涓"),
    "兰": ("岚", "蓝"),
    "飞": ("菲",),
    "龙": ("隆", "珑"),
    "峰": ("锋", "枫"),
    "欣": ("新", "馨"),
    "佳": ("家", "嘉"),
    "琴": ("勤", "芹"),
    "志": ("智",),
    "国": ("帼",),
    "秀": ("绣",),
    "春": ("椿",),
    "新": ("欣", "馨"),
    "文": ("雯", "闻"),
    "娇": ("姣",),
}

NameStyle = Literal[
    "canonical",
    "homophone",
    "spacing",
    "pinyin",
    "pinyin_upper",
    "pinyin_caps",
    "pinyin_compact",
    "pinyin_swapped",
]
NAME_STYLES: tuple[NameStyle, ...] = (
    "canonical",
    "homophone",
    "spacing",
    "pinyin",
    "pinyin_upper",
    "pinyin_caps",
    "pinyin_compact",
    "pinyin_swapped",
)
PINYIN_STYLES: frozenset[str] = frozenset(s for s in NAME_STYLES if s.startswith("pinyin"))


def random_name(rng: np.random.Generator, gender: str) -> str:
    """A plausible full name for a person of ``gender`` ('M' or 'F')."""
    if gender not in ("M", "F"):
        raise ValueError(f"gender {gender!r} is invalid; expected 'M' or 'F'")
    p = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    surname = _SURNAMES[int(rng.choice(len(_SURNAMES), p=p))]
    pool = _GIVEN_M if gender == "M" else _GIVEN_F
    return surname + pool[int(rng.integers(len(pool)))]


def to_pinyin(name: str) -> tuple[str, str]:
    """(surname, given name) in toneless pinyin, lowercase: ``('zhang', 'xiuying')``."""
    if not name:
        raise ValueError("name is empty; expected a Chinese name such as '张伟'")
    surname = _SURNAME_PINYIN.get(name[0]) or lazy_pinyin(name[0])[0]
    given = "".join(lazy_pinyin(name[1:]))
    return surname, given


def _homophone(name: str, rng: np.random.Generator) -> str:
    # Prefer a given-name character: officers hear the surname more reliably.
    positions = [i for i in range(len(name) - 1, -1, -1) if name[i] in HOMOPHONES]
    if not positions:
        return name[0] + " " + name[1:]
    pos = positions[0] if rng.random() < 0.75 else positions[int(rng.integers(len(positions)))]
    choices = HOMOPHONES[name[pos]]
    return name[:pos] + choices[int(rng.integers(len(choices)))] + name[pos + 1 :]


def name_variant(name: str, style: NameStyle, rng: np.random.Generator) -> str:
    """``name`` (canonical Chinese) written in ``style``; see the module docstring."""
    if style == "canonical":
        return name
    if style == "homophone":
        return _homophone(name, rng)
    if style == "spacing":
        sep = " " if rng.random() < 0.7 else "\u3000"  # ASCII or ideographic space
        return name[0] + sep + name[1:]
    surname, given = to_pinyin(name)
    if style == "pinyin":
        return f"{surname.title()} {given.title()}"
    if style == "pinyin_upper":
        return f"{surname.upper()} {given.title()}"
    if style == "pinyin_caps":
        return f"{surname.upper()} {given.upper()}"
    if style == "pinyin_compact":
        return surname + given
    if style == "pinyin_swapped":
        return f"{given.title()} {surname.title()}"
    raise ValueError(f"name style {style!r} is unknown; expected one of {NAME_STYLES}")
