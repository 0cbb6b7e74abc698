"""Streaming person resolution: every new mention joins, links or starts a cluster at once.

:class:`PersonResolver` keeps every mention it has seen in a growable
columnar store (:class:`PersonStore`, amortised O(1) appends, no ``concat``)
and a blocking index (:class:`~graph.persons.blocking.BlockIndex`). For a new
mention :meth:`PersonResolver.add`

1. normalises and encodes it (:func:`~graph.persons.normalize.normalize_person`,
   :func:`~graph.persons.encode.encode_persons`) - bad input is flagged, never raised;
2. looks up the earlier mentions sharing a blocking key (at most
   ``max_block`` per rule), compares them with it
   (:func:`~graph.persons.em.person_gamma`) and scores the comparisons with a
   Fellegi-Sunter model (posterior log-odds in nats);
3. decides: an edge to an earlier mention is *strong* when its log-odds reach
   ``join_log_odds`` **and** the evidence includes an identifying field (the
   ID and phone weights - plus the birth date's for a rare name - sum to
   ``min_identifying_weight``) or the log-odds alone reach
   ``strong_log_odds``. A name, however common, is never enough:
   two different 张伟 with different phones, IDs and birth dates score far
   below zero, and two 张伟 with nothing else written are only *linked*
   (listed as possible matches for an officer), not merged;
4. joins the cluster of its best strong edge, and merges the other clusters
   it has strong edges to - unless that would exceed ``max_cluster_size``, or
   the two clusters hold different valid resident IDs; a merge is then
   checked for weak bridges: an edge whose removal disconnects the cluster
   graph into two parts of at least two mentions each, with log-odds below
   ``bridge_log_odds``, is cut and the parts become separate clusters again.

Clusters keep their edges (mention pairs with log-odds), so the evidence for
any member can be traced. Work per mention is bounded by the rule caps and the
cluster cap; nothing is re-run in batch. Decisions depend only on the model,
the configuration and the order of the mentions, so replaying a journal
rebuilds the same clusters; one writer at a time (an internal lock).

:func:`resolve_batch` resolves a list of mentions the same way (pairs from
:func:`~graph.persons.blocking.dedupe_pairs`, all compared in one parallel
call, then the same decisions in order): its result equals adding the
mentions one at a time. :func:`person_evidence` turns a :class:`Resolution`
into case-to-case evidence sentences for the linkage graph.

Example
-------
>>> r = PersonResolver()
>>> a = r.add({"role": "suspect", "name": "张伟", "phone": "138 1234 5678"}, "case-A")
>>> b = r.add({"role": "suspect", "name": "Zhang Wei", "phone": "+86 138-1234-5678"}, "case-B")
>>> c = r.add({"role": "suspect", "name": "张伟", "phone": "139 0000 1111"}, "case-C")
>>> a.action, b.action, b.cluster == a.cluster, c.action, c.cluster == a.cluster
('start', 'join', True, 'start', False)
>>> person_evidence(b)[0][3]
'suspect Zhang Wei (case case-B) is 张伟 (case case-A): same phone 138****5678, same name in pinyin'
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .blocking import (
    PERSON_RULES,
    BlockIndex,
    BlockingRule,
    dedupe_pairs,
    person_keys,
    prior_counts,
)
from .compare import FIELDS, LEVELS, MISSING
from .em import (
    PERSON_LEVELS,
    EMResult,
    FellegiSunter,
    fit_fellegi_sunter,
    person_gamma,
    random_pairs,
)
from .encode import SYLLABLE_IDS, EncodedPersons, encode_persons
from .normalize import normalize_person

__all__ = [
    "DEFAULT_PERSON_MODEL",
    "ROLES",
    "Evidence",
    "Match",
    "MentionView",
    "PersonResolver",
    "PersonStore",
    "Resolution",
    "ResolverConfig",
    "default_person_model",
    "fit_person_model",
    "person_evidence",
    "resolve_batch",
]

log = logging.getLogger(__name__)

#: Roles a mention may have (index = code kept per row; 0 = anything else).
ROLES: tuple[str, ...] = ("", "suspect", "victim", "witness", "reporter")
_ROLE_CODE = {r: k for k, r in enumerate(ROLES)}
_SYLLABLES = {v: k for k, v in SYLLABLE_IDS.items()}

#: Parameters of the default person model: :func:`fit_person_model` (``u`` from
#: random pairs, ``m`` by EM on blocked candidates, monotone weights) on the
#: 1,118 suspect mentions of ``ingest.scenario.generate(7, 3, 4)``, rounded.
#: Refit on your own data; the prior belongs to an index of about that size.
DEFAULT_PERSON_MODEL: dict[str, Any] = {
    "fields": list(FIELDS),
    "levels": [list(LEVELS[f]) for f in FIELDS],
    "m": [
        [0.002676, 2.48e-06, 0.0005545, 0.0002903, 0.265, 0.7315],
        [0.00135, 0.01359, 0.8291, 0.1559],
        [0.0004591, 0.0003113, 0.9992],
        [0.002038, 0.001746, 0.001746, 0.001746, 0.9927],
        [0.0007308, 0.9993],
    ],
    "u": [
        [0.9889, 3e-05, 0.0067, 8.5e-05, 0.00115, 0.003175],
        [0.9994, 1.275e-05, 0.0005483, 5.1e-05],
        [0.999, 1.042e-05, 0.001001],
        [0.9703, 0.02269, 0.002327, 0.0001939, 0.004461],
        [0.4821, 0.5179],
    ],
    "prior": 0.0006575,
}


def default_person_model() -> FellegiSunter:
    """The model :data:`DEFAULT_PERSON_MODEL` describes."""
    return FellegiSunter.from_dict(DEFAULT_PERSON_MODEL)


def fit_person_model(
    enc: EncodedPersons,
    rules: Sequence[BlockingRule] = PERSON_RULES,
    *,
    n_random: int = 200_000,
    seed: int = 0,
) -> tuple[FellegiSunter, EMResult]:
    """Fit a person model on mentions without labels (see :func:`~graph.persons.em.fit_fellegi_sunter`).

    Candidates come from ``rules``; ``u`` from ``n_random`` random pairs.
    O(n log n + candidates + n_random).
    """
    if not isinstance(enc, EncodedPersons):
        raise TypeError(f"enc: got {type(enc).__name__}; expected EncodedPersons")
    if len(enc) < 3:
        raise ValueError(f"enc: got {len(enc)} mentions; expected at least 3 to fit a model")
    ia, ib = dedupe_pairs(person_keys(enc, rules), rules)
    if ia.size == 0:
        raise ValueError("no candidate pairs: blocking found no mentions sharing a key")
    gamma = person_gamma(enc, enc, ia, ib)
    ra, rb = random_pairs(len(enc), None, n_random, seed)
    gamma_r = person_gamma(enc, enc, ra, rb)
    n = len(enc)
    return fit_fellegi_sunter(gamma, gamma_r, FIELDS, PERSON_LEVELS, n_total_pairs=n * (n - 1) / 2)


# --------------------------------------------------------------------------- store


class PersonStore:
    """A growable columnar store of encoded mentions (capacity doubles; appends amortised O(rows)).

    :meth:`view` returns the filled rows as an :class:`EncodedPersons` of
    array views (no copy), valid until the next :meth:`append`.

    >>> from graph.persons import encode_persons, normalize_person
    >>> s = PersonStore(capacity=1)
    >>> s.append(encode_persons([normalize_person({"role": "victim", "name": n}) for n in "甲乙丙"]))
    range(0, 3)
    >>> len(s), len(s.view())
    (3, 3)
    """

    def __init__(self, capacity: int = 1024) -> None:
        template = encode_persons([])
        self._names = tuple(f.name for f in fields(EncodedPersons))
        cap = max(1, int(capacity))
        self._cols = {
            name: np.zeros((cap, *getattr(template, name).shape[1:]), getattr(template, name).dtype)
            for name in self._names
        }
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @property
    def capacity(self) -> int:
        return int(self._cols["py_len"].shape[0])

    @property
    def nbytes(self) -> int:
        return int(sum(c.nbytes for c in self._cols.values()))

    def append(self, enc: EncodedPersons) -> range:
        """Append the rows of ``enc``; returns their row numbers."""
        if not isinstance(enc, EncodedPersons):
            raise TypeError(f"enc: got {type(enc).__name__}; expected EncodedPersons")
        m = len(enc)
        need = self.n + m
        if need > self.capacity:
            size = self.capacity
            while size < need:
                size *= 2
            for name in self._names:
                old = self._cols[name]
                grown = np.zeros((size, *old.shape[1:]), old.dtype)
                grown[: self.n] = old[: self.n]
                self._cols[name] = grown
        for name in self._names:
            self._cols[name][self.n : need] = getattr(enc, name)
        rows = range(self.n, need)
        self.n = need
        return rows

    def view(self) -> EncodedPersons:
        """The filled rows as views."""
        return EncodedPersons(**{name: self._cols[name][: self.n] for name in self._names})

    def row(self, name: str, i: int) -> Any:
        """Column ``name`` of row ``i``."""
        return self._cols[name][i]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResolverConfig:
    """Thresholds of :class:`PersonResolver` (log-odds in nats).

    ``join_log_odds``: an edge needs at least this posterior log-odds (3 nats:
    a probability of 0.95 - the prior is fitted on a small set, and in a large
    index a one-digit-off ID with a homophone name must not be enough);
    ``min_identifying_weight``: ... and the weights of the
    ``identifying_fields`` (default ID and phone; a name never is one) must sum
    to at least this, unless the log-odds reach ``strong_log_odds``; ``link_log_odds``: weaker
    candidates above this are reported as possible matches;
    ``bridge_log_odds``: bridges below this are cut after a merge;
    ``max_cluster_size``: no cluster grows beyond it; ``rules``: blocking.

    ``dob_identifies_below``: the birth date's weight counts as identifying too
    when fewer than this many earlier mentions share the new mention's name
    (the ``name_rule`` block; 0 turns it off). Name plus birth date singles out
    a person with a rare name, but not a 张伟: among a few thousand 张伟 several
    share any birth date. The count is the one the mention meets on arrival,
    so streaming and batch still agree.
    """

    join_log_odds: float = 3.0
    min_identifying_weight: float = 3.0
    strong_log_odds: float = 10.0
    link_log_odds: float = -3.0
    bridge_log_odds: float = 4.0
    max_cluster_size: int = 64
    identifying_fields: tuple[str, ...] = ("id", "phone")
    dob_identifies_below: int = 20
    name_rule: str = "name"
    rules: tuple[BlockingRule, ...] = PERSON_RULES

    def __post_init__(self) -> None:
        for name in ("join_log_odds", "min_identifying_weight", "strong_log_odds",
                     "link_log_odds", "bridge_log_odds"):  # fmt: skip
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name}: got {value!r}; expected a finite number")
        if self.link_log_odds > self.join_log_odds:
            raise ValueError(
                f"link_log_odds: got {self.link_log_odds}; expected <= join_log_odds "
                f"({self.join_log_odds})"
            )
        if isinstance(self.max_cluster_size, bool) or int(self.max_cluster_size) < 2:
            raise ValueError(f"max_cluster_size: got {self.max_cluster_size!r}; expected >= 2")
        if not self.rules:
            raise ValueError("rules: got none; expected at least one BlockingRule")
        ident = tuple(self.identifying_fields)
        if any(f not in FIELDS or f == "name" for f in ident):
            raise ValueError(
                f"identifying_fields: got {ident!r}; expected fields of {FIELDS} other than 'name'"
            )
        object.__setattr__(self, "identifying_fields", ident)
        below = self.dob_identifies_below
        if isinstance(below, bool) or not isinstance(below, int) or below < 0:
            raise ValueError(f"dob_identifies_below: got {below!r}; expected an integer >= 0")
        if below and self.name_rule not in [r.name for r in self.rules]:
            raise ValueError(
                f"name_rule: got {self.name_rule!r}; expected the name of one of the rules "
                f"{[r.name for r in self.rules]}"
            )
        object.__setattr__(self, "rules", tuple(self.rules))


@dataclass(frozen=True)
class Match:
    """A scored comparison of the new mention with an earlier one.

    ``reason`` says why a candidate did not become an edge of the new
    mention's cluster: ``""`` (it did), ``"weak"`` (below the join rules),
    ``"cluster_full"``, ``"id_conflict"`` or ``"weak_bridge"``.
    """

    row: int
    case_id: str
    log_odds: float
    gamma: tuple[int, ...]
    reason: str = ""


@dataclass(frozen=True)
class MentionView:
    """What a sentence shows of a mention: masked identifiers only."""

    row: int
    case_id: str
    role: str
    name: str
    phone: str | None
    id_number: str | None


@dataclass(frozen=True)
class Evidence:
    """Identity evidence between the new mention and one member of its cluster.

    ``log_odds`` is the stronger of the direct comparison and the best chain
    of cluster edges (the chain's weakest edge); ``via`` is the first member of
    that chain when it beat the direct comparison.
    """

    other: MentionView
    log_odds: float
    direct_log_odds: float
    gamma: tuple[int, ...]
    weights: tuple[float, ...]
    via: MentionView | None = None


@dataclass(frozen=True)
class Resolution:
    """What :meth:`PersonResolver.add` did with one mention.

    ``action``: ``"start"`` (a new cluster, nothing similar), ``"link"`` (a
    new cluster, with possible matches in ``possible``) or ``"join"`` (an
    existing cluster; ``merged`` lists clusters merged into it). ``split``
    lists clusters separated again by cutting weak bridges. ``members`` are
    the rows of the mention's cluster afterwards; ``flags`` the normalisation
    flags of the mention (bad input).
    """

    row: int
    case_id: str
    mention: MentionView
    action: str
    cluster: int
    matches: tuple[Match, ...]
    possible: tuple[Match, ...]
    merged: tuple[int, ...]
    split: tuple[int, ...]
    members: tuple[int, ...]
    flags: frozenset[str]
    evidence: tuple[Evidence, ...] = field(default=(), compare=True)

    def key(self) -> tuple[Any, ...]:
        """The decision without floating-point detail (for comparing runs)."""
        return (
            self.row, self.action, self.cluster, self.members, self.merged, self.split,
            tuple((m.row, m.reason) for m in self.matches),
            tuple((m.row, m.reason) for m in self.possible),
        )  # fmt: skip


# --------------------------------------------------------------------------- resolver


def _mask_phone(phone: int, tail: int) -> str | None:
    if phone >= 0:
        s = f"{phone:011d}"
        return f"{s[:3]}****{s[7:]}"
    if tail >= 0:
        return f"****{tail % 10000:04d}"
    return None


def _mask_id(chars: np.ndarray, known: int) -> str | None:
    if known <= 0:
        return None
    out = []
    for t, c in enumerate(chars.tolist()):
        if 6 <= t < 14 or c == 255:
            out.append("*")
        else:
            out.append("X" if c == 10 else str(c))
    return "".join(out)


class PersonResolver:
    """Incremental person resolution over a growing index (see the module docstring).

    ``model`` scores comparison vectors (default :func:`default_person_model`);
    ``config`` holds the thresholds. :meth:`add` resolves one mention,
    :meth:`resolve` a micro-batch the same way, :meth:`preload` bulk-loads
    mentions already resolved (each its own cluster) without comparisons.

    Per mention: O(normalise) + O(sum of rule caps) comparisons + O(cluster
    size) for the cluster update. Memory: about 200 bytes per mention in the
    store plus 16 per mention and rule in the index.
    """

    def __init__(
        self,
        model: FellegiSunter | None = None,
        config: ResolverConfig | None = None,
        *,
        capacity: int = 1024,
    ) -> None:
        self.model = model if model is not None else default_person_model()
        if not isinstance(self.model, FellegiSunter):
            raise TypeError(f"model: got {type(self.model).__name__}; expected FellegiSunter")
        if tuple(self.model.fields) != FIELDS:
            raise ValueError(f"model.fields: got {self.model.fields}; expected {FIELDS}")
        self.config = config if config is not None else ResolverConfig()
        self.store = PersonStore(capacity)
        self.index = BlockIndex(self.config.rules, capacity)
        self._cluster = np.zeros(max(1, capacity), np.int64)
        self._role = np.zeros(max(1, capacity), np.int8)
        self._case: list[str] = []
        self._members: dict[int, list[int]] = {}  # clusters of two or more
        self._adj: dict[int, dict[int, float]] = {}  # edges of rows in such clusters
        self._views: dict[int, MentionView] = {}  # see view()
        self._lock = threading.RLock()  # one writer at a time; decisions depend on order

    # ---------------------------------------------------------------- public

    def __len__(self) -> int:
        return len(self.store)

    def add(self, mention: object, case_id: str) -> Resolution:
        """Resolve one mention of case ``case_id`` against everything seen so far."""
        return self.resolve([mention], [case_id])[0]

    def resolve(self, mentions: Sequence[object], case_ids: Sequence[str]) -> list[Resolution]:
        """Resolve a micro-batch in order; equal to :meth:`add` on each in turn.

        On an empty resolver the candidates come from one
        :func:`~graph.persons.blocking.dedupe_pairs` call; otherwise from the
        index, row by row. All comparisons run in one (parallel) call.
        """
        mentions, case_ids = self._check(mentions, case_ids)
        if not mentions:
            return []
        with self._lock:
            return self._resolve(mentions, case_ids)

    def _resolve(self, mentions: list[object], case_ids: list[str]) -> list[Resolution]:
        persons = [normalize_person(m) for m in mentions]
        enc = encode_persons(persons)
        keys = person_keys(enc, self.config.rules)
        base = len(self.store)
        name_rule = self._name_rule
        if base == 0 and len(mentions) > 1:
            ia, ib = dedupe_pairs(keys, self.config.rules)
            name_counts = prior_counts(keys[:, [max(name_rule, 0)]])[:, 0]
            self.index.add(keys)
        else:
            parts_a, parts_b = [], []
            name_counts = np.zeros(len(mentions), np.int64)
            for k in range(len(mentions)):
                cand = self.index.candidates(keys[k])
                parts_a.append(cand)
                parts_b.append(np.full(cand.size, base + k, np.int64))
                if name_rule >= 0:
                    name_counts[k] = self.index.counts(keys[k])[name_rule]
                self.index.add(keys[k : k + 1])
            ia = np.concatenate(parts_a)
            ib = np.concatenate(parts_b) - base
        rows = self.store.append(enc)
        self._grow(len(self.store))
        for k, (p, c) in enumerate(zip(persons, case_ids, strict=True)):
            self._role[base + k] = _ROLE_CODE.get(p.role, 0)
            self._case.append(c)
            self._cluster[base + k] = base + k
        view = self.store.view()
        ib_rows = ib + base
        gamma = person_gamma(view, view, ia, ib_rows, parallel=ia.size >= 4096)
        lo = self.model.log_odds(gamma)
        ident = self._identifying(gamma)
        if name_rule >= 0 and "dob" not in self.config.identifying_fields:
            rare = name_counts[ib] < self.config.dob_identifies_below
            ident = ident + np.where(rare, self._weights_of("dob", gamma), 0.0)
        bounds = np.searchsorted(ib_rows, np.arange(base, base + len(mentions) + 1))
        out = []
        for k, j in enumerate(rows):
            s, e = int(bounds[k]), int(bounds[k + 1])
            out.append(self._decide(j, ia[s:e], gamma[s:e], lo[s:e], ident[s:e],
                                    persons[k].flags))  # fmt: skip
        return out

    def preload(
        self, mentions: Sequence[object] | EncodedPersons, case_ids: Sequence[str]
    ) -> range:
        """Bulk-load mentions already resolved (e.g. a registry), one cluster each.

        No comparisons are made; later mentions are compared with them.
        ``mentions`` may already be encoded. O(rows).
        """
        if isinstance(mentions, EncodedPersons):
            enc = mentions
            roles = np.zeros(len(enc), np.int8)
        else:
            mentions, _ = self._check(mentions, case_ids)
            persons = [normalize_person(m) for m in mentions]
            enc = encode_persons(persons)
            roles = np.array([_ROLE_CODE.get(p.role, 0) for p in persons], np.int8)
        if len(case_ids) != len(enc):
            raise ValueError(
                f"case_ids: got {len(case_ids)}; expected {len(enc)} (one per mention)"
            )
        with self._lock:
            base = len(self.store)
            self.index.add(person_keys(enc, self.config.rules))
            rows = self.store.append(enc)
            self._grow(len(self.store))
            self._cluster[base : base + len(enc)] = np.arange(base, base + len(enc))
            self._role[base : base + len(enc)] = roles
            self._case.extend(str(c) for c in case_ids)
        return rows

    def cluster_of(self, row: int) -> int:
        """Cluster id of mention ``row`` (the id is one of the cluster's rows)."""
        self._check_row(row)
        return int(self._cluster[row])

    def members(self, cluster: int) -> tuple[int, ...]:
        """Rows of ``cluster``, ascending."""
        got = self._members.get(int(cluster))
        if got is not None:
            return tuple(sorted(got))
        self._check_row(cluster)
        return (int(cluster),) if self._cluster[cluster] == cluster else ()

    def clusters(self) -> np.ndarray:
        """Cluster id of every mention, int64 ``(n,)`` (a copy)."""
        return self._cluster[: len(self.store)].copy()

    def edges(self, cluster: int) -> list[tuple[int, int, float]]:
        """The edges ``(row_a, row_b, log_odds)`` (``row_a < row_b``) inside ``cluster``."""
        out = []
        for r in self.members(cluster):
            for s, w in self._adj.get(r, {}).items():
                if r < s:
                    out.append((r, s, w))
        return sorted(out)

    def explain(self, row_a: int, row_b: int) -> list[tuple[str, str, float]]:
        """Per-field ``(field, level, weight)`` of comparing two stored mentions."""
        self._check_row(row_a)
        self._check_row(row_b)
        view = self.store.view()
        g = person_gamma(view, view, np.array([row_a]), np.array([row_b]), parallel=False)
        return self.model.explain(g[0])

    def view(self, row: int) -> MentionView:
        """The masked view of mention ``row``.

        Built once per row and kept: a stored row never changes (the resolver only
        appends), and the same row is viewed again by every later joiner's evidence and by
        the graph store sink.
        """
        self._check_row(row)
        view = self._views.get(row)
        if view is None:
            with self._lock:  # a writer fills a new row's case and role after storing it
                view = self._views[int(row)] = self._view(int(row))
        return view

    def _view(self, row: int) -> MentionView:
        st = self.store
        return MentionView(
            row=int(row),
            case_id=self._case[row],
            role=ROLES[int(self._role[row])],
            name=self._name(row),
            phone=_mask_phone(int(st.row("phone", row)), int(st.row("phone_tail", row))),
            id_number=_mask_id(st.row("id_chars", row), int(st.row("id_known", row))),
        )

    def split_weak_bridges(self, cluster: int, threshold: float | None = None) -> list[int]:
        """Cut bridges below ``threshold`` (default ``config.bridge_log_odds``) in ``cluster``
        that separate parts of two or more mentions; returns the new clusters' ids."""
        thr = self.config.bridge_log_odds if threshold is None else float(threshold)
        with self._lock:
            return self._split(int(cluster), thr)

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _check(
        mentions: Sequence[object], case_ids: Sequence[str]
    ) -> tuple[list[object], list[str]]:
        if isinstance(mentions, str | bytes | Mapping) or not isinstance(mentions, Sequence):
            raise TypeError(
                f"mentions: got {type(mentions).__name__}; expected a list of person mentions"
            )
        if isinstance(case_ids, str) or not isinstance(case_ids, Sequence):
            raise TypeError(f"case_ids: got {type(case_ids).__name__}; expected a list of str")
        if len(mentions) != len(case_ids):
            raise ValueError(
                f"case_ids: got {len(case_ids)} for {len(mentions)} mentions; expected one each"
            )
        for k, (m, c) in enumerate(zip(mentions, case_ids, strict=True)):
            if not isinstance(m, Mapping) and not hasattr(m, "name"):
                raise TypeError(
                    f"mentions[{k}]: got {type(m).__name__} {m!r}; expected a PersonMention "
                    "or a dict with its fields (role, name, id_number, phone, dob, gender)"
                )
            if not isinstance(c, str) or not c:
                raise TypeError(f"case_ids[{k}]: got {c!r}; expected a non-empty str")
        return list(mentions), list(case_ids)

    def _check_row(self, row: int) -> None:
        if isinstance(row, bool) or not 0 <= int(row) < len(self.store):
            raise ValueError(f"row: got {row!r}; expected 0..{len(self.store) - 1}")

    def _grow(self, n: int) -> None:
        if n > self._cluster.shape[0]:
            size = self._cluster.shape[0]
            while size < n:
                size *= 2
            for name in ("_cluster", "_role"):
                old = getattr(self, name)
                grown = np.zeros(size, old.dtype)
                grown[: old.shape[0]] = old
                setattr(self, name, grown)

    @property
    def _name_rule(self) -> int:
        """Index of the rule whose block size measures how common a name is; -1 if off."""
        if not self.config.dob_identifies_below:
            return -1
        return [r.name for r in self.config.rules].index(self.config.name_rule)

    def _weights_of(self, name: str, gamma: np.ndarray) -> np.ndarray:
        f = FIELDS.index(name)
        return self.model.weight_table[f, gamma[:, f].astype(np.int64) + 1]

    def _identifying(self, gamma: np.ndarray) -> np.ndarray:
        out = np.zeros(gamma.shape[0], np.float64)
        for name in self.config.identifying_fields:
            out += self._weights_of(name, gamma)
        return out

    def _name(self, row: int) -> str:
        st = self.store
        hl = int(st.row("han_len", row))
        if hl > 0:
            return "".join(map(chr, st.row("han", row)[:hl].tolist()))
        n = int(st.row("n_syl", row))
        if n == 0:
            return "(no name)"
        syl = [_SYLLABLES.get(int(s), "?") for s in st.row("syl", row)[:n].tolist()]
        k = max(1, int(st.row("n_surname", row)))
        return " ".join(p for p in ("".join(syl[:k]).title(), "".join(syl[k:]).title()) if p)

    def _valid_ids(self, rows: Sequence[int]) -> set[int]:
        st = self.store
        return {int(st.row("id_key", r)) for r in rows if st.row("id_valid", r)}

    def _rows_of(self, cluster: int) -> list[int]:
        return self._members.get(cluster, [cluster])

    def _decide(
        self,
        j: int,
        cand: np.ndarray,
        gamma: np.ndarray,
        lo: np.ndarray,
        ident: np.ndarray,
        flags: frozenset[str],
    ) -> Resolution:
        cfg = self.config
        strong = (lo >= cfg.join_log_odds) & (
            (ident >= cfg.min_identifying_weight) | (lo >= cfg.strong_log_odds)
        )
        pre = self._cluster[cand] if cand.size else np.zeros(0, np.int64)
        # clusters with strong edges, best first (ties: lower cluster id)
        best: dict[int, float] = {}
        for q in np.flatnonzero(strong).tolist():
            c = int(pre[q])
            if lo[q] > best.get(c, -math.inf):
                best[c] = float(lo[q])
        order = sorted(best, key=lambda c: (-best[c], c))
        reason: dict[int, str] = {}
        target = -1
        merged: list[int] = []
        ids = self._valid_ids([j])
        size = 1
        for c in order:
            rows = self._rows_of(c)
            c_ids = self._valid_ids(rows)
            if size + len(rows) > cfg.max_cluster_size:
                reason[c] = "cluster_full"
            elif ids and c_ids and not (ids & c_ids):
                reason[c] = "id_conflict"
            else:
                if target < 0:
                    target = c
                else:
                    merged.append(c)
                size += len(rows)
                ids |= c_ids
        split: list[int] = []
        cluster = j
        if target >= 0:
            cluster = target
            joined = np.array([target, *merged], np.int64)
            members = list(self._rows_of(target))
            for c in merged:
                members.extend(self._rows_of(c))
                self._members.pop(c, None)
            members.append(j)
            self._members[cluster] = members
            for r in members:
                self._cluster[r] = cluster
            adj_j = self._adj.setdefault(j, {})
            for q in np.flatnonzero(strong & np.isin(pre, joined)).tolist():
                i = int(cand[q])
                w = float(lo[q])
                adj_j[i] = w
                self._adj.setdefault(i, {})[j] = w
            if merged:
                split = self._split(cluster, cfg.bridge_log_odds)
                cluster = int(self._cluster[j])
        matches, possible = [], []
        for q in np.flatnonzero(strong | (lo >= cfg.link_log_odds)).tolist():
            i = int(cand[q])
            g = tuple(gamma[q].tolist())
            if strong[q] and int(self._cluster[i]) == cluster:
                matches.append(Match(i, self._case[i], float(lo[q]), g))
            else:
                why = reason.get(int(pre[q]), "weak_bridge") if strong[q] else "weak"
                possible.append(Match(i, self._case[i], float(lo[q]), g, why))
        matches.sort(key=lambda m: (-m.log_odds, m.row))
        possible.sort(key=lambda m: (-m.log_odds, m.row))
        if target >= 0:
            action = "join"
        elif possible:
            action = "link"
        else:
            action = "start"
        members_t = self.members(cluster)
        evidence = self._evidence(j, members_t, cand, gamma, lo) if action == "join" else ()
        return Resolution(
            row=j,
            case_id=self._case[j],
            mention=self.view(j),
            action=action,
            cluster=cluster,
            matches=tuple(matches),
            possible=tuple(possible),
            merged=tuple(c for c in merged if int(self._cluster[c]) == cluster),
            split=tuple(split),
            members=members_t,
            flags=flags,
            evidence=evidence,
        )

    def _split(self, cluster: int, threshold: float) -> list[int]:
        """Cut weak bridges of ``cluster`` until none is left; returns the new clusters' ids."""
        new: list[int] = []
        work = [cluster]
        while work:
            c = work.pop()
            rows = self._rows_of(c)
            if len(rows) < 4:
                continue
            cut = _weakest_bridge(rows, self._adj, threshold)
            if cut is None:
                continue
            a, b = cut
            del self._adj[a][b]
            del self._adj[b][a]
            part = _component(a, self._adj)
            rest = [r for r in rows if r not in part]
            parts = []
            for comp in (sorted(part), sorted(rest)):
                cid = c if c in comp else comp[0]
                for r in comp:
                    self._cluster[r] = cid
                if len(comp) > 1:
                    self._members[cid] = comp
                else:
                    self._members.pop(cid, None)
                parts.append(cid)
                if cid != c:
                    new.append(cid)
            work.extend(parts)
        if new:
            log.debug("cluster %d: weak bridges cut into %s", cluster, new)
        return new

    def _evidence(
        self, j: int, members: Sequence[int], cand: np.ndarray, gamma: np.ndarray, lo: np.ndarray
    ) -> tuple[Evidence, ...]:
        others = [r for r in members if r != j and self._case[r] != self._case[j]]
        if not others:
            return ()
        direct: dict[int, tuple[float, tuple[int, ...]]] = {}
        pos = np.searchsorted(cand, others)  # candidates are sorted
        for r, q in zip(others, pos.tolist(), strict=True):
            if q < cand.size and cand[q] == r:
                direct[r] = (float(lo[q]), tuple(gamma[q].tolist()))
        missing = [r for r in others if r not in direct]
        if missing:
            view = self.store.view()
            g = person_gamma(view, view, np.array(missing, np.int64),
                             np.full(len(missing), j, np.int64), parallel=False)  # fmt: skip
            lo_m = self.model.log_odds(g)
            for k, r in enumerate(missing):
                direct[r] = (float(lo_m[k]), tuple(g[k].tolist()))
        path, via = _bottleneck(j, self._adj)
        out = []
        for r in others:
            d_lo, g_r = direct[r]
            p_lo = path.get(r, -math.inf)
            use_path = p_lo > d_lo + 1e-6  # a chain only when strictly stronger
            weights = tuple(w for _, _, w in self.model.explain(g_r))
            hop = via.get(r, -1)
            out.append(Evidence(
                other=self.view(r),
                log_odds=p_lo if use_path else d_lo,
                direct_log_odds=d_lo,
                gamma=g_r,
                weights=weights,
                via=self.view(hop) if use_path and hop >= 0 and hop != r else None,
            ))  # fmt: skip
        out.sort(key=lambda e: (-e.log_odds, e.other.row))
        return tuple(out)


def _component(start: int, adj: Mapping[int, Mapping[int, float]]) -> set[int]:
    seen = {start}
    stack = [start]
    while stack:
        r = stack.pop()
        for s in adj.get(r, {}):
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return seen


def _weakest_bridge(
    rows: Sequence[int], adj: Mapping[int, Mapping[int, float]], threshold: float
) -> tuple[int, int] | None:
    """The weakest bridge below ``threshold`` whose sides both hold >= 2 rows, or ``None``.

    Iterative Tarjan (discovery times and low links) with subtree sizes. O(V + E).
    """
    total = len(rows)
    disc: dict[int, int] = {}
    low: dict[int, int] = {}
    sub: dict[int, int] = {}
    best: tuple[float, int, int] | None = None
    t = 0
    for root in sorted(rows):
        if root in disc:
            continue
        disc[root] = low[root] = t
        sub[root] = 1
        t += 1
        stack: list[tuple[int, int, Any]] = [(root, -1, iter(sorted(adj.get(root, {}))))]
        while stack:
            v, parent, it = stack[-1]
            advanced = False
            for w in it:
                if w == parent:
                    continue
                if w in disc:
                    low[v] = min(low[v], disc[w])
                else:
                    disc[w] = low[w] = t
                    sub[w] = 1
                    t += 1
                    stack.append((w, v, iter(sorted(adj.get(w, {})))))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if parent >= 0:
                low[parent] = min(low[parent], low[v])
                sub[parent] += sub[v]
                if low[v] > disc[parent]:
                    weight = adj[parent][v]
                    if weight < threshold and sub[v] >= 2 and total - sub[v] >= 2:
                        cand = (weight, min(parent, v), max(parent, v))
                        if best is None or cand < best:
                            best = cand
    return None if best is None else (best[1], best[2])


def _bottleneck(
    start: int, adj: Mapping[int, Mapping[int, float]]
) -> tuple[dict[int, float], dict[int, int]]:
    """Best-chain strength from ``start`` to every reachable row: the maximum over paths
    of the weakest edge (a max-min Dijkstra), and each row's first hop. O(E log V)."""
    best: dict[int, float] = {start: math.inf}
    first: dict[int, int] = {}
    heap = [(-math.inf, start, -1)]
    done: set[int] = set()
    while heap:
        neg, v, hop = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        for w, weight in adj.get(v, {}).items():
            strength = min(-neg, weight)
            if strength > best.get(w, -math.inf):
                best[w] = strength
                first[w] = w if v == start else hop
                heapq.heappush(heap, (-strength, w, first[w]))
    best.pop(start, None)
    return best, first


def resolve_batch(
    mentions: Sequence[object],
    case_ids: Sequence[str],
    model: FellegiSunter | None = None,
    config: ResolverConfig | None = None,
) -> tuple[PersonResolver, list[Resolution]]:
    """Resolve ``mentions`` in order on a fresh resolver, in one batch.

    The same decisions as adding them one at a time
    (``PersonResolver.add``), with all candidate pairs found by one
    :func:`~graph.persons.blocking.dedupe_pairs` and compared in one
    parallel call. Returns the resolver (to keep streaming into) and the
    resolutions. O(n log n + candidates) plus the per-mention decisions.
    """
    resolver = PersonResolver(model, config, capacity=max(1024, len(mentions)))
    return resolver, resolver.resolve(mentions, case_ids)


# --------------------------------------------------------------------------- evidence

_NAME_PHRASE = {
    "han": "same name",
    "pinyin": "same name in pinyin",
    "homophone": "similar-sounding name",
    "jaro_winkler": "similar name",
    "swapped": "same name with surname and given name swapped",
    "disagree": "different name",
}
_DOB_PHRASE = {
    "exact": "same birth date",
    "day_month_swapped": "birth date with day and month swapped",
    "one_digit": "birth date one digit apart",
    "year": "same birth year",
    "conflict": "different birth date",
}


def _phrases(e: Evidence, new: MentionView) -> list[str]:
    out: list[tuple[float, str]] = []
    for f, lv, w in zip(FIELDS, e.gamma, e.weights, strict=True):
        if lv == MISSING:
            continue
        level = LEVELS[f][lv]
        if f == "name":
            text = _NAME_PHRASE[level]
            if level == "pinyin" and not new.name.isascii() and not e.other.name.isascii():
                text = "homophone name"  # different characters, same reading
        elif f == "id":
            shown = new.id_number or e.other.id_number
            text = {"exact": f"same ID {shown}", "compatible": f"ID compatible ({shown})",
                    "typo": f"ID one typo apart ({shown})", "conflict": "different ID"}[level]  # fmt: skip
        elif f == "phone":
            text = {"exact": f"same phone {new.phone}", "last8": f"phone ending alike ({new.phone})",
                    "conflict": "different phone"}[level]  # fmt: skip
        elif f == "dob":
            text = _DOB_PHRASE[level]
        else:
            if level == "agree":
                continue
            text = "different gender"
        out.append((w, text))
    out.sort(key=lambda x: -x[0])
    return [t for _, t in out]


def person_evidence(
    resolution: Resolution, *, roles: Sequence[str] = ("suspect",)
) -> list[tuple[str, str, float, str]]:
    """Case-to-case identity evidence from a resolution: ``(case_a, case_b, nats, sentence)``.

    When a mention whose role is in ``roles`` joins a cluster, every member of
    the cluster from another case (with a role in ``roles``) yields one tuple:
    ``case_a`` the member's case, ``case_b`` the new mention's, ``nats`` the
    posterior log-odds that they are the same person (the direct comparison or,
    if stronger, the chain of cluster edges), and a sentence for the case
    officer with identifiers masked. One tuple per other case (the strongest).
    Empty for any other action. O(cluster size).
    """
    if not isinstance(resolution, Resolution):
        raise TypeError(f"resolution: got {type(resolution).__name__}; expected Resolution")
    new = resolution.mention
    if resolution.action != "join" or new.role not in roles:
        return []
    best: dict[str, tuple[float, str]] = {}
    for e in resolution.evidence:
        if e.other.role not in roles or e.other.case_id == new.case_id:
            continue
        if e.other.case_id in best and best[e.other.case_id][0] >= e.log_odds:
            continue
        head = (
            f"{new.role} {new.name} (case {new.case_id}) is {e.other.name} (case {e.other.case_id})"
        )
        phrases = _phrases(e, new)
        if e.via is not None:
            sentence = (
                f"{head} through {e.via.name} (case {e.via.case_id}), "
                f"the same person by a chain of matches"
            )
            if phrases:
                sentence += "; directly: " + ", ".join(phrases)
        else:
            sentence = head + (": " + ", ".join(phrases) if phrases else "")
        best[e.other.case_id] = (round(e.log_odds, 4), sentence)
    return [(case, new.case_id, nats, s) for case, (nats, s) in best.items()]
