"""Pair features for case linkage: what the evidence says about two cases being one series.

Each candidate pair of cases gets a fixed vector of numbers, the input of the
link model (:mod:`graph.linkmodel`):

==================  ==========================================================
``st_best``         strongest co-presence evidence (nats): one entity near both scenes,
                    scored by the *weaker* of its two hits (twice its rarity weight, less
                    the ubiquity penalty): an entity already explained at one scene (a
                    crew's vehicle at its own scenes) says only as much about the other
                    scene as its hit there
``st_entities``     log(1 + distinct entities near both scenes)
``st_scenes``       log(1 + scenes of the same category the best entity was near)
``companion``       log(1 + strongest companion bridge in nats): A's entity travels with B's
``person``          log(1 + strongest person identity evidence, posterior log-odds in nats)
``same_category``   1 if the two categories are equal
``same_family``     1 if they share the family (theft, fraud, burglary, ...)
``mo_jaccard``      Jaccard similarity of the modus-operandi tags
``log_km``          log(1 + km between the scenes)
``log_gap_days``    log(1 + days between the windows' starts)
``both_night``      1 if both windows cover the small hours (00:00-05:00)
``near_repeat``     1 if same category and within the pattern bounds (:mod:`graph.pattern`)
``log_closer``      log(1 + same-category cases closer in space and time than the pair)
``cat_rarity``      -ln(share of all cases in the category) when the categories are equal
``log_crowd``       log(1 + unusual entities near the quieter of the two scenes): the more
                    entities could coincide by chance, the less one coincidence says
``comp_scenes``     log(1 + scenes of the same category the less active of the two vehicles
                    of the companion bridge was near): a crew that switched vehicles leaves
                    each vehicle near several scenes of its kind
``st_stops``        at how many of the two scenes (0-2) the best entity stayed: two of its
                    reads near the scene at least 8 min (and at most 90 min) apart, seen
                    arriving and leaving rather than driving past once
==================  ==========================================================
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.distance import EARTH_RADIUS_M
from graph.cases import Case

__all__ = [
    "FEATURES",
    "CaseTerms",
    "PairEvidence",
    "case_terms",
    "pair_features",
    "pair_vector",
    "pattern_only_vector",
    "pattern_terms",
    "sentences",
    "terms_vector",
]

FEATURES: tuple[str, ...] = (
    "st_best",
    "st_entities",
    "st_scenes",
    "companion",
    "person",
    "same_category",
    "same_family",
    "mo_jaccard",
    "log_km",
    "log_gap_days",
    "both_night",
    "near_repeat",
    "log_closer",
    "cat_rarity",
    "log_crowd",
    "comp_scenes",
    "st_stops",
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class PairEvidence:
    """Identity evidence gathered for one pair of cases, with sentences for the officer."""

    st_best: float = 0.0
    st_entities: int = 0
    st_scenes: int = 0
    companion: float = 0.0
    person: float = 0.0
    closer: int = -1  # same-category cases closer than the pair; -1: not a near-repeat pair
    cat_share: float = 1.0  # the category's share of all cases
    crowd: int = 0  # unusual entities near the quieter of the two scenes
    comp_scenes: int = 0  # same-category scenes of the less active companion vehicle
    stops: int = 0  # scenes (0-2) the best entity stayed near (``Hit.stay_s`` >= STOP_S)
    #: (kind, sentence), or (kind, evidence object whose ``detail`` is the sentence,
    #: written only if the link is kept or explained: see :func:`sentences`)
    details: list[tuple[str, Any]] = field(default_factory=list)


def sentences(ev: PairEvidence) -> tuple[tuple[str, str], ...]:
    """The evidence sentences of a pair, written now."""
    return tuple((kind, d if isinstance(d, str) else d.detail) for kind, d in ev.details)


def _family(category: str) -> str:
    return category.split(".", 1)[0]


def _terms_km(a: CaseTerms, b: CaseTerms) -> float:
    """Great-circle km between two cases' scenes."""
    dp, dl = b.lat_rad - a.lat_rad, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + a.cos_lat * b.cos_lat * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) / 1000.0


#: latitude -> (radians, cosine): a busy scene is in hundreds of pairs
_LAT_TERMS: dict[float, tuple[float, float]] = {}


def _lat_terms(lat: float) -> tuple[float, float]:
    terms = _LAT_TERMS.get(lat)
    if terms is None:
        if len(_LAT_TERMS) >= _SMALL_HOURS_MAX:
            _LAT_TERMS.clear()
        p = math.radians(lat)
        terms = _LAT_TERMS[lat] = (p, math.cos(p))
    return terms


#: case id -> (window start, end, covers the small hours): a province's busy scene is
#: scored in hundreds of pairs, and hashing or converting an aware datetime is slow
_SMALL_HOURS: dict[str, tuple[dt.datetime, dt.datetime, bool]] = {}
_SMALL_HOURS_MAX = 1 << 16


def _covers_small_hours(case: Case) -> bool:
    start, end = case.occurred_start, case.occurred_end
    memo = _SMALL_HOURS.get(case.case_id)
    if memo is not None and memo[0] is start and memo[1] is end:
        return memo[2]
    if len(_SMALL_HOURS) >= _SMALL_HOURS_MAX:
        _SMALL_HOURS.clear()
    covers = _window_covers_small_hours(start, end)
    _SMALL_HOURS[case.case_id] = (start, end, covers)
    return covers


def _window_covers_small_hours(start: dt.datetime, end: dt.datetime) -> bool:
    start = start.astimezone(SHANGHAI)
    end = end.astimezone(SHANGHAI)
    if end - start >= dt.timedelta(days=1):
        return True
    probe = start.replace(hour=2, minute=30, second=0, microsecond=0)
    return any(start <= probe + dt.timedelta(days=d) <= end for d in (0, 1))


def pair_features(a: Case, b: Case, ev: PairEvidence) -> dict[str, float]:
    """The feature vector of a candidate pair (see the module docstring), by name."""
    return dict(zip(FEATURES, pair_vector(a, b, ev), strict=True))


def pair_vector(a: Case, b: Case, ev: PairEvidence) -> list[float]:
    """:func:`pair_features` as a list in :data:`FEATURES` order (the form the linker
    scores and keeps: no dictionary a pair)."""
    return terms_vector(case_terms(a), case_terms(b), ev)


@dataclass(frozen=True, slots=True)
class CaseTerms:
    """What the pattern features read of one case, worked out once. A case is in many
    pairs of a batch (a new report's near-repeat neighbours, its co-presence partners):
    its MO set, family, latitude terms and small-hours window are the same in each."""

    category: str
    family: str
    mo: frozenset[str]
    lon: float
    lat_rad: float
    cos_lat: float
    start: dt.datetime
    night: bool  # the window covers the small hours
    #: ``start`` as whole microseconds: wall-clock ones, the UTC offset's (``None``: none),
    #: and the tzinfo, so that a pair's gap is integer arithmetic (see :func:`_gap_us`)
    wall_us: int = 0
    offset_us: int | None = None
    tz: dt.tzinfo | None = None

    @classmethod
    def of(
        cls,
        category: str,
        mo: frozenset[str],
        lon: float,
        lat: float,
        start: dt.datetime,
        night: bool,
    ) -> CaseTerms:
        """The terms of a case with these values (the derived ones worked out here)."""
        lat_rad, cos_lat = _lat_terms(lat)
        offset = start.utcoffset()
        return cls(
            category,
            _family(category),
            mo,
            lon,
            lat_rad,
            cos_lat,
            start,
            night,
            (start.replace(tzinfo=None) - _EPOCH) // _MICROSECOND,
            None if offset is None else offset // _MICROSECOND,
            start.tzinfo,
        )


_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


def _gap_us(a: CaseTerms, b: CaseTerms) -> int:
    """``a.start - b.start`` in microseconds, as the datetimes subtract: wall times if they
    share the tzinfo (or have equal offsets), else UTC times (a naive and an aware one
    raise TypeError, as they do). Exact, and a third of the cost of the subtraction of two
    aware datetimes of different tzinfo objects (each case's report has its own)."""
    if a.tz is b.tz or a.offset_us == b.offset_us:
        return a.wall_us - b.wall_us
    return (a.wall_us - a.offset_us) - (b.wall_us - b.offset_us)  # type: ignore[operator]


#: case id -> (the case, its scene and window, its MO then, its terms): a case is in pairs
#: of many batches (near-repeat neighbours and co-presence partners arrive over days), and
#: its terms change only with what they are made of (a later report adds to its MO)
_TERMS: dict[str, tuple[Case, tuple, list[str], CaseTerms]] = {}


def case_terms(case: Case) -> CaseTerms:
    """A case's :class:`CaseTerms`, as they are now."""
    source = (case.category, case.lon, case.lat, case.occurred_start, case.occurred_end)
    memo = _TERMS.get(case.case_id)
    if memo is not None and memo[0] is case and memo[1] == source and memo[2] == case.mo:
        return memo[3]
    if len(_TERMS) >= _SMALL_HOURS_MAX:
        _TERMS.clear()
    terms = CaseTerms.of(
        case.category,
        frozenset(case.mo),
        case.lon,
        case.lat,
        case.occurred_start,
        _covers_small_hours(case),
    )
    _TERMS[case.case_id] = (case, source, list(case.mo), terms)
    return terms


def terms_vector(a: CaseTerms, b: CaseTerms, ev: PairEvidence) -> list[float]:
    """:func:`pair_vector` from the two cases' terms: the identity features of ``ev`` around
    the pattern features (:func:`pattern_terms`)."""
    return [
        float(ev.st_best),
        math.log1p(ev.st_entities),
        math.log1p(ev.st_scenes),
        math.log1p(max(ev.companion, 0.0)),
        math.log1p(ev.person),
        *pattern_terms(a, b, ev.closer, ev.cat_share),
        math.log1p(ev.crowd),
        math.log1p(ev.comp_scenes),
        float(ev.stops),
    ]


def pattern_terms(a: CaseTerms, b: CaseTerms, closer: int, cat_share: float) -> list[float]:
    """The features from ``same_category`` to ``cat_rarity`` (FEATURES order): what the two
    cases and the pattern index say, with no identity evidence."""
    union = len(a.mo) + len(b.mo) - len(common := a.mo & b.mo)
    # abs(timedelta.total_seconds()): its microseconds over 10**6 (one rounding), the same
    gap = abs(_gap_us(a, b)) / 1_000_000 / 86400.0
    same = a.category == b.category
    near = closer >= 0 and same
    return [
        float(same),
        float(same or a.family == b.family),
        len(common) / union if union else 0.0,
        math.log1p(_terms_km(a, b)),
        math.log1p(gap),
        float(a.night and b.night),
        float(near),
        math.log1p(closer) if near else 0.0,
        -math.log(max(cat_share, 1e-6)) if same else 0.0,
    ]


def pattern_only_vector(a: CaseTerms, b: CaseTerms, closer: int, cat_share: float) -> list[float]:
    """:func:`terms_vector` of a pair without identity evidence (no entity, companion or
    person: most of the near-repeat pairs a batch scores), without gathering any."""
    return [*_NO_IDENTITY_HEAD, *pattern_terms(a, b, closer, cat_share), *_NO_IDENTITY_TAIL]


def _identity_split() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The identity features of a pair without identity evidence, before and after the
    pattern features: what :func:`terms_vector` computes for an empty :class:`PairEvidence`
    (computed here, not written out, so the two cannot part)."""
    head = FEATURES.index("same_category")
    tail = FEATURES.index("cat_rarity") + 1
    terms = CaseTerms.of("", frozenset(), 0.0, 0.0, dt.datetime(2026, 1, 1), False)
    empty = terms_vector(terms, terms, PairEvidence())
    return tuple(empty[:head]), tuple(empty[tail:])


def as_vector(features: Mapping[str, float]) -> list[float]:
    return [float(features[name]) for name in FEATURES]


_NO_IDENTITY_HEAD, _NO_IDENTITY_TAIL = _identity_split()
