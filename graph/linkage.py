"""The case-linkage graph: scored, explained links between cases, and the series they form.

:class:`Linker` is the last sink of the pipeline. After the case registry and
the evidence cores have taken a batch, it rescores every pair of cases whose
evidence changed, keeps the links the model accepts, and updates the series
(:mod:`graph.seriesdetect`). Nothing is re-run from scratch: work is
proportional to the evidence that changed.
"""

from __future__ import annotations

import itertools
import logging
import threading
from array import array
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from graph.cases import CaseBook, batch_incidents
from graph.features import (
    FEATURES,
    CaseTerms,
    PairEvidence,
    case_terms,
    pattern_only_vector,
    sentences,
    terms_vector,
)
from graph.linkmodel import Contribution, LinkModel, load_link_model
from graph.linktrees import TreeLinkModel
from graph.pattern import PatternIndex
from graph.persons.sink import PersonSink
from graph.series import Evidence, Series
from graph.seriesdetect import SeriesTracker
from graph.spacetime.evidence import LinkEvidence
from graph.spacetime.scene import STOP_S
from graph.spacetime.sink import SpaceTimeSink
from graph.summary import SeriesEvent, SeriesSummary, summarize
from ingest.models import Message

__all__ = ["Link", "Linker"]

log = logging.getLogger(__name__)

#: a pair's space-time evidence as the model reads it: the three strongest entities, how
#: many entities there are, the strongest companion bridge (``SpaceTimeSink.summary``)
Summary = tuple[list[LinkEvidence], int, LinkEvidence | None]


@dataclass(frozen=True)
class Link:
    """A scored candidate link between two cases and why."""

    case_a: str
    case_b: str
    probability: float
    values: array  # the feature vector, in FEATURES order (compact: a link per scored pair)
    evidence: tuple[tuple[str, str], ...]  # (kind, sentence); empty below the threshold

    @classmethod
    def scored(
        cls,
        case_a: str,
        case_b: str,
        probability: float,
        values: array,
        evidence: tuple[tuple[str, str], ...],
    ) -> Link:
        """``Link(case_a, case_b, probability, values, evidence)``, the same object built
        without the frozen dataclass's ``__init__`` (a guarded setattr a field): a batch
        makes one for each of its tens of thousands of scored pairs."""
        link = _new_object(cls)
        _set_attribute(
            link,
            "__dict__",
            {
                "case_a": case_a,
                "case_b": case_b,
                "probability": probability,
                "values": values,
                "evidence": evidence,
            },
        )
        return link

    @property
    def pair(self) -> tuple[str, str]:
        return (self.case_a, self.case_b)

    @property
    def features(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.values, strict=True))


_new_object = object.__new__
_set_attribute = object.__setattr__


class _Probabilities(Mapping[tuple[str, str], float]):
    """Read-only view: pair -> link probability, over the linker's links."""

    def __init__(self, links: Mapping[tuple[str, str], Link]) -> None:
        self._links = links

    def __getitem__(self, pair: tuple[str, str]) -> float:
        return self._links[pair].probability

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)


#: members taken into a series by the refinement whose reasons a series lists (each: a line
#: and up to two evidence sentences of its strongest pair)
JOINED_SHOWN = 20
#: a scored pair at or above this probability is rescored from time to time even if its
#: own evidence does not change (see :meth:`Linker._stale`)
REFRESH_MIN_P = 0.05
#: at most this many stale pairs rescored with each batch that brings new cases
REFRESH_PER_BATCH = 64
#: a live pair is stale once the cases registered have grown by this factor since it was
#: scored: the stream-wide features move with the share of new cases, fast at the start
#: of a stream and hardly at all after days (a province's day then refreshes little)
REFRESH_GROWTH = 1.25


class Linker:
    """Scores candidate pairs from the evidence cores and maintains the series."""

    def __init__(
        self,
        cases: CaseBook,
        spacetime: SpaceTimeSink,
        model: LinkModel | TreeLinkModel | None = None,
        persons: PersonSink | None = None,
        pattern: PatternIndex | None = None,
    ) -> None:
        self.cases = cases
        self.spacetime = spacetime
        self.persons = persons
        self.pattern = pattern if pattern is not None else PatternIndex()
        self.model = model or load_link_model()
        self.links: dict[tuple[str, str], Link] = {}
        #: pairs at or above REFRESH_MIN_P -> cases registered when scored, oldest first
        self._live: dict[tuple[str, str], int] = {}
        self._accepted: dict[tuple[str, str], float] = {}  # links at or above the threshold
        self.tracker = SeriesTracker()
        #: evidence sentences of the pair that explains a refined-in member (see _joined),
        #: with the probability they were written at
        self._explained: dict[tuple[str, str], tuple[float, tuple[tuple[str, str], ...]]] = {}
        self._lock = threading.RLock()
        self.version = 0
        #: case pairs the last :meth:`apply` (re)scored: a change feed for the graph store sink
        self.last_rescored: frozenset[tuple[str, str]] = frozenset()
        #: the space-time summary each pair of the last :meth:`apply` was scored on (the
        #: graph store sink writes its evidence without summarising the pair again)
        self.last_summaries: dict[tuple[str, str], Summary] = {}
        self._summaries: dict[tuple[str, str], Summary] | None = None
        #: pairs of :attr:`last_rescored` (each as ``(case_a, case_b)`` with ``case_a <
        #: case_b``) scored without identity evidence (their summary the empty one) and
        #: below the threshold: most of them, and nothing of theirs for the graph store to
        #: write unless it wrote their link before
        self.last_quiet: frozenset[tuple[str, str]] = frozenset()
        self._quiet: list[tuple[str, str]] | None = None
        #: (entity, category) -> scenes, while a batch's pairs are scored (state is still)
        self._scenes: dict[tuple[str, str | None], int] | None = None

    # -- sink -----------------------------------------------------------------
    def apply(self, messages: Sequence[Message]) -> None:
        self.last_rescored = frozenset()
        self.last_summaries = {}
        self.last_quiet = frozenset()
        changed = self.spacetime.drain_changed()
        new_cases = False
        for msg in batch_incidents(messages):
            case = self.cases.get(msg.case)
            if case is not None:
                changed.update(self.pattern.add(case))
                new_cases = True
        if self.persons is not None:
            changed |= self.persons.drain_changed()
        if new_cases:
            changed.update(self._stale(changed))
        if not changed:
            return
        with self._lock:
            touched = False
            threshold = self.model.threshold
            summaries = self._summaries = {}
            quiet = self._quiet = []
            self._scenes = {}
            try:
                pairs = sorted(changed)  # sorted: evidence order must not depend on hashing
                links, live, accepted = self.links, self._live, self._accepted
                registered = len(self.pattern)  # the pattern index does not grow meanwhile
                for pair, link in zip(pairs, self._score_pairs(pairs), strict=True):
                    if link is None:
                        continue
                    links[pair] = link
                    live.pop(pair, None)
                    p = link.probability
                    if p >= REFRESH_MIN_P:
                        live[pair] = registered  # now the most recently scored
                    if p >= threshold:
                        accepted[pair] = p
                    else:
                        accepted.pop(pair, None)
                    touched = True
            finally:
                self._summaries = self._scenes = self._quiet = None
            self.last_summaries = summaries
            self.last_quiet = frozenset(quiet)
            self.last_rescored = frozenset(p for p in changed if p in self.links)
            if touched:
                # work per batch is proportional to the accepted links, not to every pair
                # ever scored: the scored probabilities are read through a view
                accepted = self._accepted
                # exact: every pair accepted, dropped or rescored in this batch is in
                # last_rescored (_accepted changes only for the pairs scored above)
                probabilities = _Probabilities(self.links)
                if self.tracker.update(accepted, self.last_rescored, probabilities, exact=True):
                    self.version += 1

    # -- scoring --------------------------------------------------------------
    def _stale(self, changed: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """The least recently scored live pairs (up to REFRESH_PER_BATCH) not in ``changed``.

        A pair is rescored when its evidence changes, but some of its features follow the
        rest of the stream: the category's share of all cases, the same-category cases
        closer than the pair, the scenes its vehicle was near. Early in a stream these move
        a lot, and a pair scored then keeps a score the model would no longer give it (the
        model is trained on what the whole stream says). Each batch that brings new cases
        also rescores the oldest-scored pairs that could still cross the threshold, once the
        cases registered have grown by REFRESH_GROWTH since they were scored (up to
        REFRESH_PER_BATCH a batch). The pairs are in scoring order, so the search stops at
        the first one that is not stale yet.
        """
        out: list[tuple[str, str]] = []
        stale_below = len(self.pattern) / REFRESH_GROWTH
        for pair, cases in self._live.items():
            if len(out) >= REFRESH_PER_BATCH or cases > stale_below:
                break
            if pair not in changed:
                out.append(pair)
        return out

    def evidence(self, case_a: str, case_b: str) -> PairEvidence:
        """Identity evidence the cores hold for a pair (either order)."""
        a, b = self.cases.get(case_a), self.cases.get(case_b)
        same = a is not None and b is not None and a.category == b.category
        category = a.category if same and a is not None else None
        closer = self.pattern.closer(case_a, case_b)
        return self._evidence(case_a, case_b, closer, category, self._person(case_a, case_b))

    def _person(self, case_a: str, case_b: str) -> tuple[float, str] | None:
        """The person evidence between two cases (``None``: none, or no person sink)."""
        return self.persons.between(case_a, case_b) if self.persons is not None else None

    def _evidence(
        self,
        case_a: str,
        case_b: str,
        closer: int,
        category: str | None,
        person: tuple[float, str] | None,
    ) -> PairEvidence:
        """:meth:`evidence` with what a batch gathers for all its pairs at once: the pattern
        index's ``closer``, the category the two cases share (``None``: they differ) and
        the person evidence."""
        ev = PairEvidence()
        ev.closer = closer
        if category is not None:
            ev.cat_share = self.pattern.share(category)
        near, n_near, bridge = found = self.spacetime.summary(case_a, case_b, 3)
        if self._summaries is not None:  # scoring a batch's pairs: kept for the graph store
            self._summaries[(case_a, case_b)] = found
        if near:
            core = self.spacetime.core
            ev.crowd = min(core.crowd(case_a), core.crowd(case_b))
            best = near[0]
            a_hit, b_hit = best.hit_a, best.hit_b
            # the weaker side: the score is both hits' weights less the ubiquity penalty
            # (one hit's if the two were one trip); what is left of it once the stronger
            # hit is replaced by the weaker
            penalty = max(0.0, a_hit.weight + b_hit.weight - best.score)
            ev.st_best = max(0.0, 2.0 * min(a_hit.weight, b_hit.weight) - penalty)
            ev.st_entities = n_near
            ev.st_scenes = self._scenes_of(best.entity, case_a)
            ev.stops = (a_hit.stay_s >= STOP_S) + (b_hit.stay_s >= STOP_S)
            ev.details.extend([(e.kind, e) for e in near])
        if bridge is not None:
            ev.companion = bridge.score
            # the bridge's entity is "key_a+key_b" (graph.spacetime.sink): each vehicle's
            # record near scenes of this kind; the weaker of the two speaks for the crew
            ev.comp_scenes = min(self._scenes_of(key, case_a) for key in bridge.entity.split("+"))
            ev.details.append(("companion", bridge))
        if person is not None:
            ev.person = max(0.0, person[0])
            ev.details.insert(0, ("person", person[1]))
        return ev

    def _scenes_of(self, entity: str, like_case: str) -> int:
        """How many scenes of the same category as ``like_case`` the entity was near."""
        category = self.spacetime.categories.get(like_case)
        memo = self._scenes  # a tick's bridges ask about the same few vehicles many times
        key = (entity, category)
        if memo is not None:
            count = memo.get(key)
            if count is not None:
                return count
        near = self.spacetime.core.entity_hits(entity)
        count = sum(1 for c in near if self.spacetime.categories.get(c) == category)
        if memo is not None:
            memo[key] = count
        return count

    def score(self, case_a: str, case_b: str, *, explain: bool = False) -> Link | None:
        """Score a pair now. The evidence sentences are written for a link that is kept
        (probability at or above the threshold) or ``explain``ed; the millions of weak
        pairs a province day scores keep their numbers only."""
        return self._score_pairs([(case_a, case_b)], explain=explain)[0]

    def _score_pairs(
        self, pairs: Sequence[tuple[str, str]], *, explain: bool = False
    ) -> list[Link | None]:
        """:meth:`score` of each pair (``None``: a case unknown), as a batch.

        What is the same for many pairs is worked out once: each case's terms
        (:func:`case_terms`), the pattern index's ``closer`` (one compiled call per
        category) and the probabilities (one pass of the model over all the vectors). A
        pair without identity evidence (no entity near both scenes, companion bridge or
        person: most near-repeat pairs) is scored on its pattern features without
        gathering any (:func:`pattern_only_vector`); the numbers are those of
        :meth:`evidence` and :func:`pair_vector`, to the last bit.
        """
        terms = self._terms_of(pairs)
        closer = self.pattern.closer_many(pairs)
        persons = self._persons_of(pairs)
        scored: list[tuple[int, PairEvidence | None]] = []  # (pair's place, its evidence)
        vectors: list[list[float]] = []
        stored = self.spacetime.evidence
        summaries = self._summaries
        share = self.pattern.share
        for k, ((case_a, case_b), near, person) in enumerate(
            zip(pairs, closer, persons, strict=True)
        ):
            a, b = terms[case_a], terms[case_b]
            if a is None or b is None:
                continue
            # no identity evidence (no person evidence, no space-time evidence stored for
            # the pair): its summary is the empty one (kept for the graph store as
            # evidence() would keep it) and its features its pattern features. The
            # membership test is atomic: evidence the companion worker adds meanwhile is
            # read as if it came just after (the pair is in the next batch's changes)
            if (
                person is None
                and ((case_a, case_b) if case_a < case_b else (case_b, case_a)) not in stored
            ):
                if summaries is not None:
                    summaries[(case_a, case_b)] = ([], 0, None)
                cat_share = share(a.category) if a.category == b.category else 1.0
                vectors.append(pattern_only_vector(a, b, near, cat_share))
                scored.append((k, None))
                continue
            category = a.category if a.category == b.category else None
            ev = self._evidence(case_a, case_b, near, category, person)
            vectors.append(terms_vector(a, b, ev))
            scored.append((k, ev))
        out: list[Link | None] = [None] * len(pairs)
        probabilities = self.model.probabilities_of(vectors)
        threshold = self.model.threshold
        quiet = self._quiet  # scoring a batch's pairs: the quiet ones noted for the store
        for (k, ev), x, p in zip(scored, vectors, probabilities, strict=True):
            case_a, case_b = pairs[k]
            lo, hi = (case_a, case_b) if case_a <= case_b else (case_b, case_a)
            kept = ev is not None and (explain or p >= threshold)
            if quiet is not None and ev is None and p < threshold and case_a < case_b:
                quiet.append(pairs[k])
            out[k] = Link.scored(lo, hi, p, array("d", x), sentences(ev) if kept else ())
        return out

    def _terms_of(self, pairs: Sequence[tuple[str, str]]) -> dict[str, CaseTerms | None]:
        """Case id -> its :class:`CaseTerms` (``None``: not a known case), for every case of
        ``pairs``, each worked out once."""
        ids = list(dict.fromkeys(itertools.chain.from_iterable(pairs)))  # each case once
        return {
            case_id: case_terms(case) if case is not None else None
            for case_id, case in zip(ids, self.cases.get_many(ids), strict=True)
        }

    def _persons_of(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, str] | None]:
        """:meth:`_person` of each pair (all ``None`` without a person sink), looked up
        under one hold of the person sink's lock rather than one a pair."""
        if self.persons is None:
            return [None] * len(pairs)
        return self.persons.between_many(pairs)

    def explain(self, case_a: str, case_b: str) -> tuple[Link | None, list[Contribution]]:
        """The link between two cases (scored now, even if never a candidate) and each
        feature's contribution to its logit."""
        link = self.score(case_a, case_b, explain=True)
        if link is None:
            return None, []
        return link, self.model.contributions(link.features)

    # -- reads ----------------------------------------------------------------
    def summaries(self) -> list[SeriesSummary]:
        """A summary of every current series (cases, span, jurisdictions, loss, key entities)."""
        return summarize(self.series(), self.cases)

    def drain_events(self) -> list[SeriesEvent]:
        """Series created, updated or dissolved since the last call, oldest first."""
        with self._lock:
            events, self.tracker.events = self.tracker.events, []
        return [SeriesEvent(kind, sid, cases) for kind, sid, cases in events]

    def series_members(self) -> dict[str, frozenset[str]]:
        """Series id -> its cases, for every current series (a copy; no evidence)."""
        with self._lock:
            return dict(self.tracker.series)

    def series(self, only: Collection[str] | None = None) -> list[Series]:
        """Current series with their evidence sentences, strongest link first; with
        ``only``, just the series of those ids (those that exist, in the same order).

        All series: one pass over the accepted links (not over every scored pair, once per
        series). ``only`` looks at the pairs inside each series asked for (a tasking sink
        after a micro-batch asks for the few that changed): O(members^2) each.
        """
        with self._lock:
            inside: dict[str, list[tuple[str, str]]] = {}  # accepted links inside a series
            if only is None:
                wanted = list(self.tracker.series.items())
                of = {c: sid for sid, members in wanted for c in members}
                for pair in self._accepted:
                    sid = of.get(pair[0])
                    if sid is not None and of.get(pair[1]) == sid:
                        inside.setdefault(sid, []).append(pair)
            else:
                asked = set(only)
                wanted = [(sid, m) for sid, m in self.tracker.series.items() if sid in asked]
                for sid, members in wanted:
                    inside[sid] = [
                        pair
                        for pair in itertools.combinations(sorted(members), 2)
                        if pair in self._accepted
                    ]
            return [self._series(sid, members, inside.get(sid, [])) for sid, members in wanted]

    def _series(self, sid: str, members: frozenset[str], inside: list[tuple[str, str]]) -> Series:
        """A series with its evidence: the sentences of its accepted links ``inside``
        (strongest first, 12 at most), then why members and groups without one joined."""
        rows = []
        covered: set[str] = set()  # members with an accepted link inside their series
        for pair in inside:
            p = self._accepted[pair]
            covered.update(pair)
            for i, (kind, text) in enumerate(self.links[pair].evidence):
                rows.append((-p, pair, i, kind, text))
        details: list[Evidence] = []
        seen: set[str] = set()
        for *_, kind, text in sorted(rows):
            if text not in seen:
                seen.add(text)
                details.append(Evidence(kind, text))
                if len(details) == 12:
                    break
        for case_id in sorted(members - covered)[:JOINED_SHOWN]:
            details.extend(self._joined(case_id, members))
        for part in _linked_parts(inside)[1:JOINED_SHOWN]:
            details.extend(self._bridged(part, members))
        return Series(sid, tuple(sorted(members)), tuple(details))

    def _bridged(self, part: frozenset[str], members: frozenset[str]) -> list[Evidence]:
        """Why a group of cases held together by accepted links belongs with the rest of its
        series, where no accepted link crosses (the series refinement merged two groups on
        the sum of their weaker links): a line naming how many such links cross and the
        strongest, and that pair's evidence."""
        rest = members - part
        scored = []
        for case_id in sorted(part):
            for other in self.tracker.partners(case_id) & rest:
                pair = (case_id, other) if case_id < other else (other, case_id)
                link = self.links.get(pair)
                if link is not None:
                    scored.append((link.probability, pair))
        if not scored:
            return []
        p, pair = max(scored)
        head = Evidence(
            "series",
            f"{', '.join(sorted(part))} joined the series on {len(scored)} links with its "
            f"other cases, none strong alone (strongest: {pair[0]} and {pair[1]}, "
            f"probability {p:.2f})",
        )
        return [head, *(Evidence(kind, text) for kind, text in self._sentences(pair, p)[:2])]

    def _sentences(self, pair: tuple[str, str], p: float) -> tuple[tuple[str, str], ...]:
        """A pair's evidence sentences, scored on demand and kept while its probability is
        the same."""
        kept = self._explained.get(pair)
        if kept is None or kept[0] != p:
            link = self.score(*pair, explain=True)
            kept = self._explained[pair] = (p, link.evidence if link is not None else ())
        return kept[1]

    def _joined(self, case_id: str, members: frozenset[str]) -> list[Evidence]:
        """Why a case with no accepted link inside its series belongs to it (the series
        refinement took it in on the weight of its weaker links): a line naming how many
        members it has such links with and its strongest, and that pair's evidence."""
        scored = []
        for other in self.tracker.partners(case_id) & members:
            pair = (case_id, other) if case_id < other else (other, case_id)
            link = self.links.get(pair)
            if link is not None:
                scored.append((link.probability, other, pair))
        if not scored:
            return []
        p, other, pair = max(scored)
        head = Evidence(
            "series",
            f"{case_id} joined on its links with {len(scored)} of the series' cases, none "
            f"strong alone (strongest: {other}, probability {p:.2f})",
        )
        return [head, *(Evidence(kind, text) for kind, text in self._sentences(pair, p)[:2])]


def _linked_parts(links: Sequence[tuple[str, str]]) -> list[frozenset[str]]:
    """The groups of cases connected by ``links``, largest first (then by smallest id)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    parts: dict[str, set[str]] = {}
    for c in parent:
        parts.setdefault(find(c), set()).add(c)
    return sorted((frozenset(p) for p in parts.values()), key=lambda p: (-len(p), min(p)))
