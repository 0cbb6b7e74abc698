"""Valid contract messages for tests (plain dicts, as they travel on the wire)."""

from __future__ import annotations

from typing import Any


def incident(report_id: str = "ZJ-330211-0001", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "incident",
        "report_id": report_id,
        "reported_at": "2026-03-02T08:10:00+08:00",
        "occurred_start": "2026-03-01T22:00:00+08:00",
        "occurred_end": "2026-03-02T06:00:00+08:00",
        "lon": 121.70,
        "lat": 29.97,
        "address": "镇海区 蛟川街道 某物流园",
        "category": "theft.fuel",
        "mo": ["night", "target.truck", "tool.siphon"],
        "loss_cny": 4200.0,
        "persons": [{"role": "reporter", "name": "李强", "phone": "+86 138-1234-5678"}],
        "vehicles": [{"role": "victim", "plate": "浙B7K321"}],
        "organizations": [{"role": "victim", "name": "宁波镇海港通物流有限公司"}],
        "source": "enterprise-station",
    }
    base.update(over)
    return base


def sighting(sighting_id: str = "s-0001", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "sighting",
        "sighting_id": sighting_id,
        "entity_kind": "plate",
        "entity": "浙B12345",
        "checkpoint_id": "CP-330211-0003",
        "lon": 121.69,
        "lat": 29.96,
        "at": "2026-03-02T01:12:00+08:00",
    }
    base.update(over)
    return base


def team_status(team_id: str = "T-330211-01", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "team_status",
        "team_id": team_id,
        "status": "available",
        "lon": 121.71,
        "lat": 29.95,
        "at": "2026-03-02T07:00:00+08:00",
    }
    base.update(over)
    return base
