"""Benchmark: validating wire messages with the contract models.

Run as ``python -m bench.ingest [--quick] [--json] [--out DIR]``.

Generates synthetic but realistic contract messages as UTF-8 JSON lines —
mostly sightings (ANPR plate reads with Chinese plates, cell/Wi-Fi phone and
MAC probes at a few thousand checkpoints across Zhejiang's 11 cities, times in
``+08:00`` arriving roughly in order with some late), plus incidents with
persons, vehicles and organisations — and measures, single-threaded, in the
same run:

* **ours**: :func:`ingest.models.parse_message` on every line, giving typed,
  frozen models and field-naming errors;
* **baseline**: what a user would write instead: ``json.loads`` and a
  hand-written dict check (required keys present, ``isinstance`` types, enums
  in sets, ranges, ``datetime.fromisoformat`` plus a tzinfo check, the window
  order for incidents).

Both must accept every generated line (checked). Figures are messages per
second from the best of ``repeat`` passes; ``ratio`` is ours / baseline, so
above 1 means the contract models are faster.

Example
-------
>>> lines = make_sightings(3, seed=1)
>>> [parse_message(line).kind for line in lines]
['sighting', 'sighting', 'sighting']
>>> baseline_validate(lines[0])["kind"]
'sighting'
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pydantic

from bench._common import bench_parser, emit, peak_rss_mib, progress, ratios, stderr, timed
from ingest.models import KNOWN_CATEGORIES, ContractError, parse_message

__all__ = [
    "TARGET_SIGHTINGS_PER_S",
    "baseline_validate",
    "main",
    "make_incidents",
    "make_sightings",
    "run",
]

log = logging.getLogger(__name__)

#: Throughput the live pipeline needs from validation alone (DESIGN: micro-batched stream).
TARGET_SIGHTINGS_PER_S = 200_000
FULL_SIGHTINGS = 1_000_000
QUICK_SIGHTINGS = 100_000
#: One incident for every this many sightings.
SIGHTINGS_PER_INCIDENT = 20

# ------------------------------------------------------------------ synthetic data

# (city adcode, plate letter, centre lon, centre lat, relative traffic weight)
_CITIES = (
    (330100, "A", 120.16, 30.27, 0.22),  # 杭州
    (330200, "B", 121.55, 29.87, 0.16),  # 宁波
    (330300, "C", 120.70, 28.00, 0.13),  # 温州
    (330600, "D", 120.58, 30.03, 0.08),  # 绍兴
    (330500, "E", 120.09, 30.89, 0.05),  # 湖州
    (330400, "F", 120.76, 30.75, 0.08),  # 嘉兴
    (330700, "G", 119.65, 29.08, 0.10),  # 金华
    (330800, "H", 118.87, 28.94, 0.03),  # 衢州
    (331000, "J", 121.42, 28.66, 0.09),  # 台州
    (331100, "K", 119.92, 28.45, 0.04),  # 丽水
    (330900, "L", 122.21, 29.99, 0.02),  # 舟山
)
_OTHER_PROVINCES = "沪苏皖闽赣粤鲁豫鄂湘京"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on plates
_PLATE_CHARS = _PLATE_LETTERS + "0123456789"
_DIGITS = "0123456789"
_MOBILE_PREFIXES = ("130", "133", "135", "137", "138", "139", "150", "152", "158", "159",
                    "177", "180", "186", "187", "189", "199")  # fmt: skip
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红海波宁浩宇俊"
_PINYIN = ("Zhang Wei", "Wang Fang", "li na", "Chen Jianguo", "LIU YANG", "Xu Haibo")
# every known category plus two unknown (but well-formed) codes the contract keeps
_CATEGORIES = (*sorted(KNOWN_CATEGORIES), "theft.bicycle", "fraud.livestream")
_MO_TAGS = ("night", "target.truck", "tool.siphon", "target.warehouse", "lure.high_return",
            "fake.invoice", "entry.window", "vehicle.van", "cash.atm", "online.app")  # fmt: skip
_STREETS = ("蛟川街道", "招宝山街道", "稠城街道", "北苑街道", "滨江区长河街道", "鹿城区五马街道",
            "越城区城南街道", "椒江区海门街道", "婺城区城东街道")  # fmt: skip
_NARRATIVES = {
    "theft": "报案人称夜间停放的货车油箱被撬，柴油被盗，现场发现抽油软管。",
    "burglary": "店主早上开门发现卷帘门被撬，收银台现金及香烟被盗。",
    "robbery": "受害人称在路口被两名男子持刀抢走手机和现金，嫌疑人骑电动车逃离。",
    "fraud": "受害人通过微信群结识自称投资顾问的人员，按其指示转账后无法提现。",
    "other": "报案人称公司财务账目存在异常，怀疑有人员违规操作。",
}
_SOURCES = ("110", "walk-in", "online", "enterprise-station")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _pick(rng: np.random.Generator, chars: str, n: int) -> str:
    return "".join(chars[i] for i in rng.integers(0, len(chars), n))


def _plates(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` licence plates: mostly 浙 by city traffic, some other provinces, some EV (8 chars)."""
    weights = np.array([c[4] for c in _CITIES])
    cities = rng.choice(len(_CITIES), size=n, p=weights / weights.sum())
    out: list[str] = []
    for city in cities:
        prefix = "浙" + _CITIES[city][1]
        if rng.random() < 0.12:
            prefix = _pick(rng, _OTHER_PROVINCES, 1) + _pick(rng, "ABCDEFGH", 1)
        if rng.random() < 0.15:  # new-energy vehicle: D/F then 5 characters
            out.append(
                prefix + _pick(rng, "DF", 1) + _pick(rng, _PLATE_CHARS, 1) + _pick(rng, _DIGITS, 4)
            )
        else:
            out.append(prefix + _plate_body(rng))
    return out


def _plate_body(rng: np.random.Generator) -> str:
    """Five characters, mostly digits with at most two letters, as on ordinary plates."""
    shape = rng.random()
    if shape < 0.45:
        return _pick(rng, _PLATE_LETTERS, 1) + _pick(rng, _DIGITS, 4)
    if shape < 0.75:
        return _pick(rng, _DIGITS, 5)
    if shape < 0.9:
        return _pick(rng, _PLATE_LETTERS, 2) + _pick(rng, _DIGITS, 3)
    return _pick(rng, _DIGITS, 3) + _pick(rng, _PLATE_LETTERS, 1) + _pick(rng, _DIGITS, 1)


def _phone(rng: np.random.Generator) -> str:
    number = _MOBILE_PREFIXES[rng.integers(len(_MOBILE_PREFIXES))] + _pick(rng, _DIGITS, 8)
    style = rng.random()
    if style < 0.8:
        return number
    if style < 0.95:
        return f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"
    return f"+86{number}"


def _mac(rng: np.random.Generator) -> str:
    return ":".join(f"{b:02x}" for b in rng.integers(0, 256, 6))


def _checkpoints(rng: np.random.Generator, n: int) -> list[tuple[str, float, float, str]]:
    """``n`` sensors: (id, lon, lat, kind) around the city centres."""
    weights = np.array([c[4] for c in _CITIES])
    out = []
    for i, city in enumerate(rng.choice(len(_CITIES), size=n, p=weights / weights.sum())):
        adcode, _, lon, lat, _ = _CITIES[city]
        county = adcode + int(rng.integers(2, 28))
        kind = ("ANPR", "CELL", "WIFI")[int(rng.choice(3, p=[0.7, 0.25, 0.05]))]
        out.append(
            (
                f"{kind}-{county}-{i:05d}",
                round(lon + rng.normal(0, 0.25), 6),
                round(lat + rng.normal(0, 0.2), 6),
                kind,
            )
        )
    return out


def _rfc3339(moment: dt.datetime, millis: bool) -> str:
    return moment.isoformat(timespec="milliseconds" if millis else "seconds")


def make_sightings(n: int, seed: int = 20260301) -> list[bytes]:
    """``n`` sighting lines (UTF-8 JSON bytes) over three days from 2026-03-01.

    Plates are read by ANPR checkpoints, phones by cell probes, MACs by Wi-Fi
    probes; entities repeat (a pool per kind); about 3% arrive up to three
    hours late. Complexity: O(n).
    """
    rng = np.random.default_rng(seed)
    checkpoints = _checkpoints(rng, 3000)
    by_kind = {k: [c for c in checkpoints if c[3] == k] for k in ("ANPR", "CELL", "WIFI")}
    plates = _plates(rng, max(n // 5, 10))
    phones = [_phone(rng) for _ in range(max(n // 10, 10))]
    macs = [_mac(rng) for _ in range(max(n // 50, 10))]
    span = 3 * 86400.0
    offsets = np.sort(rng.uniform(0, span, n))
    late = rng.random(n) < 0.03
    offsets[late] -= rng.uniform(60, 3 * 3600, int(late.sum()))
    kinds = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    picks = rng.integers(0, 1 << 30, size=(n, 2))
    millis = rng.random(n) < 0.1
    lines: list[bytes] = []
    for i in range(n):
        kind = int(kinds[i])
        if kind == 0:
            entity_kind, pool, sensors = "plate", plates, by_kind["ANPR"]
        elif kind == 1:
            entity_kind, pool, sensors = "phone", phones, by_kind["CELL"]
        else:
            entity_kind, pool, sensors = "mac", macs, by_kind["WIFI"]
        entity = pool[picks[i, 0] % len(pool)]
        cp_id, lon, lat, _ = sensors[picks[i, 1] % len(sensors)]
        at = _rfc3339(_START + dt.timedelta(seconds=float(offsets[i])), bool(millis[i]))
        lines.append(
            f'{{"kind": "sighting", "sighting_id": "{cp_id}-{i:09d}", '
            f'"entity_kind": "{entity_kind}", "entity": "{entity}", '
            f'"checkpoint_id": "{cp_id}", "lon": {lon}, "lat": {lat}, "at": "{at}"}}'.encode()
        )
    return lines


def _id_number(rng: np.random.Generator, adcode: int, born: dt.date) -> str:
    body = f"{adcode + int(rng.integers(2, 28))}{born:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    check = _ID_CHECK[int(np.dot([int(c) for c in body], _ID_WEIGHTS)) % 11]
    if rng.random() < 0.03:  # a typo in the check digit
        check = "0" if check != "0" else "1"
    return body + check


def _person(rng: np.random.Generator, adcode: int) -> dict[str, Any]:
    role = ("suspect", "victim", "witness", "reporter")[int(rng.integers(4))]
    if rng.random() < 0.85:
        name = _pick(rng, _SURNAMES, 1) + _pick(rng, _GIVEN, int(rng.integers(1, 3)))
    else:
        name = _PINYIN[int(rng.integers(len(_PINYIN)))]
    person: dict[str, Any] = {"role": role, "name": name}
    born = dt.date(1960, 1, 1) + dt.timedelta(days=int(rng.integers(0, 45 * 365)))
    if rng.random() < 0.6:
        person["id_number"] = _id_number(rng, adcode, born)
    if rng.random() < 0.7:
        person["phone"] = _phone(rng)
    if rng.random() < 0.4:
        person["dob"] = born.isoformat()
    if rng.random() < 0.8:
        person["gender"] = "MF"[int(rng.integers(2))]
    return person


def make_incidents(n: int, seed: int = 20260302) -> list[bytes]:
    """``n`` incident lines (UTF-8 JSON bytes), with persons, vehicles and organisations.

    Occurrence windows run from minutes to a night (22:00-06:00 style) to weeks
    for frauds; a few use ``Z`` instead of ``+08:00``; a few carry unknown but
    well-formed categories. Complexity: O(n).
    """
    rng = np.random.default_rng(seed)
    plates = _plates(rng, max(n, 10))
    utc = dt.UTC
    lines: list[bytes] = []
    for i in range(n):
        adcode, _, lon, lat, _ = _CITIES[int(rng.integers(len(_CITIES)))]
        county = adcode + int(rng.integers(2, 28))
        category = _CATEGORIES[int(rng.integers(len(_CATEGORIES)))]
        reported = _START + dt.timedelta(seconds=float(rng.uniform(0, 3 * 86400)))
        end = reported - dt.timedelta(minutes=float(rng.exponential(120)))
        long_window = category.startswith(("fraud", "embezzlement", "bribery"))
        start = end - dt.timedelta(hours=float(rng.exponential(24 * 14 if long_window else 6)))
        zulu = rng.random() < 0.05

        def stamp(moment: dt.datetime, zulu: bool = zulu) -> str:
            if zulu:
                return moment.astimezone(utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            return moment.isoformat(timespec="seconds")

        message: dict[str, Any] = {
            "kind": "incident",
            "report_id": f"ZJ-{county}-2026-{i:07d}",
            "reported_at": stamp(reported),
            "occurred_start": stamp(start),
            "occurred_end": stamp(end),
            "lon": round(lon + float(rng.normal(0, 0.2)), 6),
            "lat": round(lat + float(rng.normal(0, 0.15)), 6),
            "address": f"浙江省{_STREETS[int(rng.integers(len(_STREETS)))]}{int(rng.integers(1, 300))}号",
            "category": category,
            "mo": sorted(
                {_MO_TAGS[int(k)] for k in rng.integers(0, len(_MO_TAGS), rng.integers(0, 4))}
            ),
            "persons": [_person(rng, adcode) for _ in range(int(rng.integers(0, 4)))],
            "vehicles": [
                {
                    "role": ("suspect", "victim", "involved")[int(rng.integers(3))],
                    "plate": plates[int(rng.integers(len(plates)))],
                }
                for _ in range(int(rng.integers(0, 3)))
            ],
            "organizations": [],
            "source": _SOURCES[int(rng.integers(len(_SOURCES)))],
        }
        if rng.random() < 0.1:
            message["case_id"] = f"ZJ-{county}-2026-{int(rng.integers(0, max(i, 1))):07d}"
        if rng.random() < 0.8:
            message["loss_cny"] = round(float(rng.lognormal(8, 2)), 2)
        if category.startswith(("fraud", "bribery", "ip", "embezzlement")) or rng.random() < 0.1:
            org: dict[str, str] = {"role": "victim", "name": "浙江某某贸易有限公司"}
            if rng.random() < 0.7:
                org["uscc"] = "9133" + _pick(rng, "0123456789ABCDEFGHJKLMNPQRTUWXY", 14)
            message["organizations"].append(org)
        if rng.random() < 0.6:
            message["narrative"] = _NARRATIVES.get(category.split(".")[0], _NARRATIVES["other"])
        lines.append(json.dumps(message, ensure_ascii=False).encode("utf-8"))
    return lines


# ----------------------------------------------------------------------- baseline

_KINDS = frozenset({"incident", "sighting", "team_status"})
_ENTITY_KINDS = frozenset({"plate", "phone", "mac"})
_PERSON_ROLES = frozenset({"suspect", "victim", "witness", "reporter"})
_VEHICLE_ROLES = frozenset({"suspect", "victim", "involved"})
_TEAM_STATUSES = frozenset({"available", "assigned", "en_route", "on_scene", "unavailable"})
_NUMBER = (int, float)


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj[key]  # KeyError for a missing key
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key}: wrong type {type(value).__name__}")
    return value


def _timestamp(obj: dict[str, Any], key: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(_require(obj, key, str))
    if moment.tzinfo is None:
        raise ValueError(f"{key}: naive timestamp")
    return moment


def _position(obj: dict[str, Any]) -> None:
    if not -180 <= _require(obj, "lon", _NUMBER) <= 180:
        raise ValueError("lon out of range")
    if not -90 <= _require(obj, "lat", _NUMBER) <= 90:
        raise ValueError("lat out of range")


def baseline_validate(raw: bytes) -> dict[str, Any]:
    """The hand-written check a user would write instead of the contract models.

    Raises ``ValueError``/``KeyError`` on a bad message; returns the plain dict.
    """
    obj = json.loads(raw)
    if not isinstance(obj, dict) or obj.get("kind") not in _KINDS:
        raise ValueError("not a message object")
    kind = obj["kind"]
    if kind == "sighting":
        for key in ("sighting_id", "entity", "checkpoint_id"):
            if not 1 <= len(_require(obj, key, str)) <= 64:
                raise ValueError(f"{key}: bad length")
        if _require(obj, "entity_kind", str) not in _ENTITY_KINDS:
            raise ValueError("bad entity_kind")
        _position(obj)
        _timestamp(obj, "at")
    elif kind == "incident":
        if not 1 <= len(_require(obj, "report_id", str)) <= 64:
            raise ValueError("report_id: bad length")
        reported = _timestamp(obj, "reported_at")
        start = _timestamp(obj, "occurred_start")
        end = _timestamp(obj, "occurred_end")
        if not start <= end <= reported:
            raise ValueError("occurrence window out of order")
        _position(obj)
        _require(obj, "category", str)
        if "loss_cny" in obj and _require(obj, "loss_cny", _NUMBER) < 0:
            raise ValueError("negative loss")
        for tag in obj.get("mo", []):
            if not isinstance(tag, str):
                raise ValueError("mo: not a string")
        for person in obj.get("persons", []):
            if person["role"] not in _PERSON_ROLES or not isinstance(person["name"], str):
                raise ValueError("bad person")
        for vehicle in obj.get("vehicles", []):
            if vehicle["role"] not in _VEHICLE_ROLES or not isinstance(vehicle["plate"], str):
                raise ValueError("bad vehicle")
        for org in obj.get("organizations", []):
            if not isinstance(org["name"], str):
                raise ValueError("bad organization")
    else:
        _require(obj, "team_id", str)
        if obj["status"] not in _TEAM_STATUSES:
            raise ValueError("bad status")
        if ("lon" in obj) != ("lat" in obj):
            raise ValueError("lon without lat")
        if "lon" in obj:
            _position(obj)
        _timestamp(obj, "at")
    return obj


# -------------------------------------------------------------------------- runner


def _count_valid(check: Callable[[bytes], Any], lines: Sequence[bytes]) -> int:
    """How many of ``lines`` ``check`` accepts (the loop being timed)."""
    ok = 0
    for line in lines:
        try:
            check(line)
        except (ContractError, ValueError, KeyError, TypeError):
            continue
        ok += 1
    return ok


def run(n_sightings: int, repeat: int, seed: int = 20260301) -> dict[str, Any]:
    """Generate the data, time both validators on it, return the result dict."""
    n_incidents = max(n_sightings // SIGHTINGS_PER_INCIDENT, 50)
    with progress() as bar:
        task = bar.add_task("generate messages", total=2)
        sightings = make_sightings(n_sightings, seed)
        bar.advance(task)
        incidents = make_incidents(n_incidents, seed + 1)
        bar.advance(task)

        per_s: dict[str, dict[str, float]] = {"ours": {}, "baseline": {}}
        checks = {"ours": parse_message, "baseline": baseline_validate}
        for label, lines in (("sightings", sightings), ("incidents", incidents)):
            for side, check in checks.items():
                task = bar.add_task(f"{side}: {label}", total=repeat)

                def one_pass(
                    check: Callable[[bytes], Any] = check,
                    lines: list[bytes] = lines,
                    task: Any = task,
                ) -> int:
                    accepted = _count_valid(check, lines)
                    bar.advance(task)
                    return accepted

                timing = timed(one_pass, repeat)
                if timing.result != len(lines):
                    raise RuntimeError(
                        f"{side} accepted {timing.result} of {len(lines)} generated {label}; "
                        "the generator and the validators disagree"
                    )
                per_s[side][f"{label}_per_s"] = round(timing.per_s(len(lines)), 1)

    ours = dict(per_s["ours"])
    baseline = dict(per_s["baseline"])
    ours["meets_target"] = int(ours["sightings_per_s"] >= TARGET_SIGHTINGS_PER_S)
    sighting_bytes = sum(map(len, sightings))
    return {
        "bench": "ingest",
        "params": {
            "n_sightings": n_sightings,
            "n_incidents": n_incidents,
            "repeat": repeat,
            "seed": seed,
            "target_sightings_per_s": TARGET_SIGHTINGS_PER_S,
            "mean_sighting_bytes": round(sighting_bytes / max(len(sightings), 1), 1),
            "mean_incident_bytes": round(sum(map(len, incidents)) / max(len(incidents), 1), 1),
            "threads": 1,
            "python": platform.python_version(),
            "pydantic": pydantic.VERSION,
            "peak_rss_mib": peak_rss_mib(),
        },
        "ours": ours,
        "baseline": baseline,
        "ratio": ratios(per_s["ours"], per_s["baseline"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Contract validation throughput: parse_message vs json.loads + dict checks.",
        parents=[bench_parser()],
    )
    # Hidden: override the number of sightings (the smoke test uses a tiny run).
    parser.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    n = args.n or (QUICK_SIGHTINGS if args.quick else FULL_SIGHTINGS)
    if n < 1:
        parser.error(f"--n: got {n}; expected a positive integer")
    repeat = args.repeat or 3
    stderr.print(f"[bold]bench ingest[/]: {n:,} sightings, best of {repeat}, single thread")
    result = run(n, repeat)
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
