"""The three-tier organisation: centers from geography, teams from a roster file.

One provincial center, one center per city and one per county, named and
coded after the jurisdictions :func:`geo.jurisdictions.load_province` returns
(Zhejiang: 1 + 11 + 90). Teams belong to county centers; their size, skills
and capacity (open tasks at once) come from a roster TOML file (default: the
packaged ``tasking/roster.toml``). A team's status follows the ``team_status``
messages: ``available``, ``assigned``, ``en_route``, ``on_scene``, ``unavailable``.

Roster schema::

    [defaults]                       # every county gets `teams_per_county` teams
    size = 6                         # officers
    capacity = 3                     # open tasks at once
    skills = ["scene", "interview"]
    teams_per_county = 1

    [counties.330102]                # per-county override (any of the four keys,
    teams = 2                        #  `teams` for the count)

Team ids are ``T-<county adcode>-<NN>``, as the scenario's ``team_status`` messages use.

Example
-------
>>> org = Organisation.load(330000)          # doctest: +SKIP
>>> len(org.centers), org.center(330200).name  # doctest: +SKIP
(102, '宁波市')
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from geo.jurisdictions import load_province
from tasking.levels import Level
from tasking.schema import SchemaError, integer, load_toml, no_unknown_keys, strings, table

__all__ = [
    "DEFAULT_ROSTER",
    "TEAM_STATUSES",
    "Center",
    "Organisation",
    "Team",
    "load_roster",
]

log = logging.getLogger(__name__)

DEFAULT_ROSTER = Path(__file__).with_name("roster.toml")
TEAM_STATUSES = ("available", "assigned", "en_route", "on_scene", "unavailable")
_TEAM_KEYS = ("size", "capacity", "skills")


@dataclass(frozen=True, slots=True)
class Center:
    """A command center: one per jurisdiction; ``parent`` is 0 for the province."""

    adcode: int
    level: Level
    name: str
    parent: int


@dataclass
class Team:
    """A response team of a county center, with its latest reported status."""

    team_id: str
    county: int
    city: int
    size: int
    capacity: int
    skills: tuple[str, ...]
    status: str = "available"
    lon: float | None = None
    lat: float | None = None
    status_at: dt.datetime | None = None
    open_tasks: set[str] = field(default_factory=set)

    @property
    def load(self) -> int:
        return len(self.open_tasks)

    @property
    def free(self) -> int:
        """Tasks this team can still take (0 when unavailable)."""
        if self.status == "unavailable":
            return 0
        return max(0, self.capacity - self.load)


@dataclass(frozen=True, slots=True)
class TeamSpec:
    team_id: str
    county: int
    size: int
    capacity: int
    skills: tuple[str, ...]


def load_roster(path: Path | None, counties: list[int]) -> list[TeamSpec]:
    """The teams a roster file describes for ``counties``. ``SchemaError`` names a bad key.

    O(counties).
    """
    path = Path(path) if path is not None else DEFAULT_ROSTER
    data = load_toml(path)
    where = path.name
    no_unknown_keys(data, ("defaults", "counties"), "")
    defaults = table(data, "defaults", where)
    no_unknown_keys(defaults, (*_TEAM_KEYS, "teams_per_county"), "defaults")
    d_size = integer(defaults, "size", "defaults", 6, 1, 500)
    d_cap = integer(defaults, "capacity", "defaults", 3, 1, 100)
    d_skills = strings(defaults, "skills", "defaults", ["scene", "interview"])
    d_n = integer(defaults, "teams_per_county", "defaults", 1, 0, 99)
    overrides = table(data, "counties", where)
    known = set(counties)
    for key, value in overrides.items():
        name = f"counties.{key}"
        if not key.isdigit() or int(key) not in known:
            raise SchemaError(f"{name}: expected the adcode of a county of the province")
        if not isinstance(value, dict):
            raise SchemaError(f"{name} = {value!r}: expected a table")
        no_unknown_keys(value, (*_TEAM_KEYS, "teams"), name)
    specs: list[TeamSpec] = []
    for county in sorted(counties):
        o = overrides.get(str(county), {})
        name = f"counties.{county}"
        n = integer(o, "teams", name, d_n, 0, 99)
        size = integer(o, "size", name, d_size, 1, 500)
        cap = integer(o, "capacity", name, d_cap, 1, 100)
        skills = strings(o, "skills", name, list(d_skills))
        for k in range(n):
            specs.append(TeamSpec(f"T-{county}-{k + 1:02d}", county, size, cap, skills))
    return specs


class Organisation:
    """Centers and teams of one province; team status is updated from ``team_status``."""

    def __init__(self, centers: list[Center], teams: list[Team]) -> None:
        self.centers: dict[int, Center] = {c.adcode: c for c in centers}
        self.teams: dict[str, Team] = {t.team_id: t for t in teams}
        self.province = next(c.adcode for c in centers if c.level is Level.PROVINCE)
        self._by_county: dict[int, list[Team]] = {}
        for t in teams:
            self._by_county.setdefault(t.county, []).append(t)
        self._unknown: set[str] = set()
        self._lock = threading.RLock()

    @classmethod
    def load(cls, province: int = 330000, roster: Path | None = None) -> Organisation:
        """Centers from the province's jurisdictions, teams from ``roster`` (default packaged)."""
        zj = load_province(province)
        centers = [Center(zj.adcode, Level.PROVINCE, zj.name, 0)]
        for code, row in zj.cities.iterrows():
            centers.append(Center(int(code), Level.CITY, str(row["name"]), zj.adcode))
        city_of: dict[int, int] = {}
        for code, row in zj.counties.iterrows():
            city = int(row["city"]) or zj.adcode
            city_of[int(code)] = city
            centers.append(Center(int(code), Level.COUNTY, str(row["name"]), city))
        specs = load_roster(roster, list(city_of))
        teams = [
            Team(s.team_id, s.county, city_of[s.county], s.size, s.capacity, s.skills)
            for s in specs
        ]
        log.info("organisation: %d centers, %d teams", len(centers), len(teams))
        return cls(centers, teams)

    # -- hierarchy -------------------------------------------------------------
    def center(self, adcode: int) -> Center:
        try:
            return self.centers[adcode]
        except KeyError:
            raise KeyError(f"no command center with adcode {adcode}") from None

    def center_at(self, county: int, level: Level) -> int:
        """The adcode of the center at ``level`` above (or at) a county."""
        if level is Level.PROVINCE:
            return self.province
        if level is Level.CITY:
            return self.center(county).parent
        return county

    def parent(self, adcode: int) -> int | None:
        """The next center up, or ``None`` above the province."""
        p = self.center(adcode).parent
        return p or None

    def covers(self, adcode: int, county: int) -> bool:
        """Whether the center ``adcode`` is the county itself or one of its ancestors."""
        node: int | None = county
        while node:
            if node == adcode:
                return True
            node = self.centers[node].parent if node in self.centers else None
        return False

    def teams_in(self, county: int) -> list[Team]:
        return list(self._by_county.get(county, []))

    # -- status ------------------------------------------------------------------
    def apply_status(
        self,
        team_id: str,
        status: str,
        at: dt.datetime,
        lon: float | None = None,
        lat: float | None = None,
    ) -> bool:
        """Record a team's status if it is newer than what we have. ``False`` if ignored."""
        if status not in TEAM_STATUSES:
            raise ValueError(f"status = {status!r}: expected one of {', '.join(TEAM_STATUSES)}")
        with self._lock:
            team = self.teams.get(team_id)
            if team is None:
                if team_id not in self._unknown:
                    self._unknown.add(team_id)
                    log.warning("team_status for %s: not in the roster; ignored", team_id)
                return False
            if team.status_at is not None and at < team.status_at:
                return False
            team.status, team.status_at = status, at
            if lon is not None and lat is not None:
                team.lon, team.lat = lon, lat
            return True
