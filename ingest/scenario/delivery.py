"""How sensor reads reach the command center: ids, delays, late and duplicate messages.

Each read becomes one ``sighting`` message with a ``sighting_id`` numbered in
event order. It normally arrives a few seconds after ``at``; about 2 % arrive
5 minutes to 6 hours late (a camera that buffered while offline); about 0.5 %
are sent twice with the same ``sighting_id`` (at-least-once upstream) - the
copy is identical and marked nowhere.

Example
-------
>>> import numpy as np
>>> d = draw_delays(np.random.default_rng(0), 10_000)
>>> bool((d > 0).all()), 0.01 < float((d >= 300).mean()) < 0.03
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .clock import iso_many
from .registry import Context

__all__ = ["LATE_S", "Sightings", "draw_delays", "sighting_messages"]

LATE_S = 300.0  # a sighting arriving this much after ``at`` counts as late
P_LATE = 0.02
P_DUPLICATE = 0.005


def draw_delays(rng: np.random.Generator, n: int) -> np.ndarray:
    """Transport delays in seconds: mostly 1-30 s, :data:`P_LATE` of them 5 min-6 h."""
    delay = np.minimum(1.0 + rng.lognormal(np.log(3.0), 0.7, n), 90.0)
    late = rng.random(n) < P_LATE
    delay[late] = np.exp(rng.uniform(np.log(LATE_S), np.log(6 * 3600.0), int(late.sum())))
    return delay


@dataclass(frozen=True)
class Sightings:
    """Sighting messages (originals then duplicates) with event and arrival times."""

    messages: list[dict[str, Any]]
    at: np.ndarray
    arrivals: np.ndarray
    late: int
    duplicates: int
    unique: int


def sighting_messages(ctx: Context) -> Sightings:
    """All reads of ``ctx.reads`` inside the horizon as contract sighting messages.

    O(n log n) for the sort; the per-message work is building the dicts.
    """
    rng = ctx.rngs["delivery"]
    ent, cp, t = ctx.reads.arrays()
    t = np.rint(t)
    keep = (t >= ctx.t_start) & (t < ctx.t_end)
    ent, cp, t = ent[keep], cp[keep], t[keep]
    order = np.lexsort((cp, ent, t))
    ent, cp, t = ent[order], cp[order], t[order]
    # the same entity at the same checkpoint within a minute is one read
    same = np.zeros(len(t), dtype=bool)
    if len(t) > 1:
        key_order = np.lexsort((t, cp, ent))
        e2, c2, t2 = ent[key_order], cp[key_order], t[key_order]
        dup = (e2[1:] == e2[:-1]) & (c2[1:] == c2[:-1]) & (t2[1:] - t2[:-1] < 60)
        same[key_order[1:][dup]] = True
    ent, cp, t = ent[~same], cp[~same], t[~same]
    n = len(t)
    delay = draw_delays(rng, n)
    arrivals = t + delay
    kinds = np.asarray(ctx.entities.kinds, dtype=object)[ent].tolist()
    values = np.asarray(ctx.entities.values, dtype=object)[ent].tolist()
    cps = ctx.world.checkpoints
    cp_id = cps["checkpoint_id"].to_numpy(dtype=object)[cp].tolist()
    lon = cps["lon"].to_numpy()[cp].tolist()
    lat = cps["lat"].to_numpy()[cp].tolist()
    at = iso_many(t)
    prefix = f"SG{ctx.seed}-"
    messages = [
        {
            "kind": "sighting",
            "sighting_id": f"{prefix}{i:08d}",
            "entity_kind": k,
            "entity": v,
            "checkpoint_id": c,
            "lon": lo,
            "lat": la,
            "at": a,
        }
        for i, (k, v, c, lo, la, a) in enumerate(
            zip(kinds, values, cp_id, lon, lat, at, strict=True)
        )
    ]
    dups = np.flatnonzero(rng.random(n) < P_DUPLICATE)
    messages += [dict(messages[i]) for i in dups.tolist()]
    dup_arrival = arrivals[dups] + rng.uniform(1.0, 600.0, len(dups))
    return Sightings(
        messages=messages,
        at=np.concatenate([t, t[dups]]),
        arrivals=np.concatenate([arrivals, dup_arrival]),
        late=int((delay >= LATE_S).sum()),
        duplicates=len(dups),
        unique=n,
    )
