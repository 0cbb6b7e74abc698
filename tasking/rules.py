"""Which plan applies to a series or a case, and which center leads.

:class:`Situation` holds the facts a trigger looks at (categories, number of
cases, counties and cities spanned, total loss, victims). :func:`select_plan`
tries the plans from the highest level down and returns the first whose
trigger holds. :func:`lead_center` applies the plan's lead rule:

* ``majority`` - the center, at the plan's level, of the jurisdiction holding
  most of the cases (ties: the one of the earliest case);
* ``first`` - the center, at the plan's level, of the earliest case;
* an adcode - that center.

A province-level plan is always led by the provincial center. A situation
with no known county (every scene outside the province) is led by the province.

Example
-------
>>> plan = select_plan(book, situation)            # doctest: +SKIP
>>> lead_center(plan, situation, org)              # doctest: +SKIP
330200
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graph.cases import Case
from tasking.levels import Level
from tasking.org import Organisation
from tasking.plans import Plan, PlanBook

__all__ = ["Situation", "lead_center", "matches", "select_plan", "situation_of"]


@dataclass(frozen=True)
class Situation:
    """The facts about a series (or a single case) that plan triggers test."""

    subject: str  # series id, or the case id of a single case
    case_ids: tuple[str, ...]
    categories: tuple[str, ...]
    counties: tuple[int, ...]  # affected counties, earliest case's first
    county_cases: dict[int, int]  # cases per county
    cities: tuple[int, ...]
    total_loss_cny: float
    victims: int
    entities: tuple[str, ...] = ()
    cases: tuple[Case, ...] = field(default=(), repr=False)

    @property
    def n_cases(self) -> int:
        return len(self.case_ids)


def _victim_key(name: str, id_number: str | None) -> str:
    return id_number or "".join(name.split()).lower()


def situation_of(subject: str, cases: Sequence[Case], entities: Iterable[str] = ()) -> Situation:
    """Facts about ``cases`` (one series, or one case). O(cases + persons)."""
    ordered = sorted(cases, key=lambda c: (c.occurred_start, c.case_id))
    per_county: Counter[int] = Counter(c.county for c in ordered if c.county)
    counties: list[int] = []
    for c in ordered:
        if c.county and c.county not in counties:
            counties.append(c.county)
    victims = {
        _victim_key(p.name, p.id_number) for c in ordered for p in c.persons if p.role == "victim"
    }
    return Situation(
        subject=subject,
        case_ids=tuple(c.case_id for c in ordered),
        categories=tuple(sorted({c.category for c in ordered})),
        counties=tuple(counties),
        county_cases=dict(per_county),
        cities=tuple(sorted({c.city for c in ordered if c.city})),
        total_loss_cny=float(sum(c.loss_cny for c in ordered)),
        victims=len(victims),
        entities=tuple(entities),
        cases=tuple(ordered),
    )


def matches(plan: Plan, s: Situation) -> bool:
    """Whether every condition of ``plan``'s trigger holds for ``s``. O(categories x patterns)."""
    t = plan.trigger
    checks = (
        t.category_matches(s.categories),
        s.n_cases >= t.min_cases,
        t.max_cases is None or s.n_cases <= t.max_cases,
        len(s.counties) >= t.min_counties,
        t.max_counties is None or len(s.counties) <= t.max_counties,
        len(s.cities) >= t.min_cities,
        t.max_cities is None or len(s.cities) <= t.max_cities,
        s.total_loss_cny >= t.min_total_loss_cny,
        s.victims >= t.min_victims,
    )
    return all(checks)


def select_plan(book: PlanBook, s: Situation, at_level: Level | None = None) -> Plan | None:
    """The first plan (highest level first, then file order) whose trigger holds.

    With ``at_level``, only plans of that level are considered, and if none of them
    triggers (a commander's explicit choice, e.g. escalating a small series) the first
    plan of that level made for the situation's categories is taken, then the first
    with no category condition, then the level's first plan: escalating a burglary
    series to the province must not start the province's fraud plan.
    """
    candidates = [p for p in book.ordered() if at_level is None or p.level is at_level]
    for plan in candidates:
        if matches(plan, s):
            return plan
    if at_level is None or not candidates:
        return None
    for fits in (
        lambda p: "*" not in p.trigger.categories and p.trigger.category_matches(s.categories),
        lambda p: "*" in p.trigger.categories,
    ):
        chosen = next((p for p in candidates if fits(p)), None)
        if chosen is not None:
            return chosen
    return candidates[0]


def lead_center(plan: Plan, s: Situation, org: Organisation) -> int:
    """The adcode of the center that leads ``plan`` for ``s`` (see the module docstring)."""
    if plan.level is Level.PROVINCE or not s.counties:
        return org.province
    if isinstance(plan.lead, int):
        return plan.lead
    if plan.lead == "first":
        return org.center_at(s.counties[0], plan.level)
    votes: Counter[int] = Counter()
    for county, n in s.county_cases.items():
        votes[org.center_at(county, plan.level)] += n
    order = {org.center_at(c, plan.level): i for i, c in reversed(list(enumerate(s.counties)))}
    return max(votes, key=lambda code: (votes[code], -order.get(code, 0)))
