"""Kafka topics of the contract and how messages are keyed onto them.

``icc.incidents``, ``icc.sightings``, ``icc.teams`` carry the contract's
messages (CONTRACT.md); ``icc.deadletter`` receives what failed to decode or
validate, with headers naming the error and the source position. Keys keep
one case's reports, one entity's sightings and one team's statuses in one
partition, so they stay in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEADLETTER",
    "DEFAULT_TOPIC_MAP",
    "INCIDENTS",
    "INPUT_TOPICS",
    "SIGHTINGS",
    "TEAMS",
    "key_of",
]

INCIDENTS = "icc.incidents"
SIGHTINGS = "icc.sightings"
TEAMS = "icc.teams"
DEADLETTER = "icc.deadletter"
INPUT_TOPICS: tuple[str, ...] = (INCIDENTS, SIGHTINGS, TEAMS)

#: message kind -> topic
DEFAULT_TOPIC_MAP: Mapping[str, str] = {
    "incident": INCIDENTS,
    "sighting": SIGHTINGS,
    "team_status": TEAMS,
}


def key_of(message: Mapping[str, Any]) -> bytes | None:
    """The partition key of a (decoded, possibly invalid) message: case, entity or team.

    ``None`` when the message has none of them (it is still published; a
    consumer dead-letters it).
    """
    kind = message.get("kind")
    if kind == "incident":
        key = message.get("case_id") or message.get("report_id")
    elif kind == "sighting":
        key = message.get("entity")
    elif kind == "team_status":
        key = message.get("team_id")
    else:
        key = None
    return str(key).encode("utf-8") if isinstance(key, str | int) and key != "" else None
