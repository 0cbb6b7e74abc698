"""Series detection over accepted links: guarded components with stable ids.

A series is a connected group of cases in the graph of accepted links, with
two guards against the giant component that chaining produces:

* a *weak bridge* — an edge whose removal splits the group and whose
  support is below ``strong`` — is cut, so one weak link never merges two
  series. The support of a bridge between sides A and B is the noisy-OR of
  every scored pair across them, ``1 - prod(1 - p(a, b))``, accepted or not:
  a 0.7 link seconded by a few 0.2-0.4 pairs between the same two groups
  holds, a lone 0.7 link does not;
* a group of ``min_split`` or more cases that falls into clear communities
  (Louvain, weighted by link probability, modularity >= ``min_modularity``) —
  two crews of the same city joined by a few links — is split along them, and a
  group larger than ``max_direct`` is always split. Communities that are not
  clear are still split apart where the weight of evidence across them (below)
  sums to zero or less: a few accepted links between two crews do not outweigh
  the many pairs across that say "not one series" (they are joined again, the
  pair of communities with the most evidence across first, while it is positive).

The groups are then refined case by case, by the weight of evidence between a
case and a group: each scored pair counts ``logit(p) + attach_nats`` (clipped
to ``[-floor_nats, 8]`` before the shift), a pair never scored (no shared entity,
not a near-repeat: common between the far-apart scenes of one crew)
``-unscored_nats``. A member of three or more whose sum with the rest of its group is
negative leaves it (a bystander case held by one accepted link); two groups whose
pairs across sum to more than ``merge_nats`` merge, largest sum first (the two
halves of a crew whose links across are each below the threshold, e.g. 0.3-0.5,
but that are many and consistent; one link across, even an accepted one, is
outweighed by the pairs across that were never scored); and a case in no series
joins the group where its sum is largest and positive (a case whose links to each
member are weak, e.g. 0.2-0.4, but that sits with all of them). All three are
repeated ``refine_rounds`` times. Cases are only moved into a group from outside
any series, and only groups being recomputed merge, so a refinement never reaches
beyond the groups being recomputed.

Ids are stable: a recomputed group keeps the id of the existing series it
overlaps most (Jaccard >= 0.5); otherwise it gets the next ``S-0001``-style id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping

import networkx as nx

__all__ = ["SeriesTracker"]

log = logging.getLogger(__name__)


def _ordered(g: nx.Graph, nodes: Iterable[str]) -> nx.Graph:
    """The subgraph of ``g`` on ``nodes``, built in sorted order (a copy).

    The weak-bridge cut and Louvain follow the graph's node and edge order, and a subgraph
    view of a small part of a graph lists its nodes in set order, which changes with the
    string hash seed of each process: a restart must find the same series."""
    sub = nx.Graph()
    keep = sorted(nodes)
    sub.add_nodes_from(keep)
    sub.add_edges_from(
        sorted((min(a, b), max(a, b), d) for a, b, d in g.subgraph(keep).edges(data=True))
    )
    return sub


def _support(side_a: set[str], side_b: set[str], scored: Mapping[tuple[str, str], float]) -> float:
    """Noisy-OR of the scored pairs between two groups."""
    miss = 1.0
    for x in sorted(side_a):
        for y in sorted(side_b):
            miss *= 1.0 - scored.get((x, y) if x < y else (y, x), 0.0)
    return 1.0 - miss


def _nats(p: float | None, floor: float, shift: float, unscored: float) -> float:
    """A pair's weight of evidence for sharing a series (see the module docstring)."""
    if p is None:
        return -unscored
    if p <= 0.0 or p >= 1.0:
        return shift + (-floor if p <= 0.0 else _CEILING)
    return shift + min(max(math.log(p / (1.0 - p)), -floor), _CEILING)


_CEILING = 8.0  # nats: one certain link does not outweigh every other pair of a group


class SeriesTracker:
    """Incremental series over a stream of accepted links."""

    def __init__(
        self,
        strong: float = 0.8,
        max_direct: int = 12,
        seed: int = 7,
        min_split: int = 6,
        min_modularity: float = 0.25,
        attach_nats: float = 2.0,
        floor_nats: float = 6.0,
        unscored_nats: float = 2.0,
        refine_rounds: int = 2,
        merge_nats: float = 2.0,
    ) -> None:
        if not (
            floor_nats > 0
            and attach_nats >= 0
            and unscored_nats >= 0
            and refine_rounds >= 0
            and merge_nats >= 0
        ):
            raise ValueError(
                f"attach_nats={attach_nats}, floor_nats={floor_nats}, "
                f"unscored_nats={unscored_nats}, refine_rounds={refine_rounds}, "
                f"merge_nats={merge_nats}: expected attach_nats >= 0, floor_nats > 0, "
                "unscored_nats >= 0, refine_rounds >= 0, merge_nats >= 0"
            )
        self.strong = strong
        self.max_direct = max_direct
        self.min_split = min_split
        self.min_modularity = min_modularity
        self.seed = seed
        self.attach_nats = attach_nats
        self.floor_nats = floor_nats
        self.unscored_nats = unscored_nats
        self.refine_rounds = refine_rounds
        self.merge_nats = merge_nats
        #: pairs above this probability weigh for a common series (logit(p) > -attach_nats)
        self._attractive = 1.0 / (1.0 + math.exp(attach_nats))
        self._near: dict[str, set[str]] = {}  # case -> cases it has an attractive pair with
        self.graph = nx.Graph()
        self.series: dict[str, frozenset[str]] = {}
        self._of_case: dict[str, str] = {}
        self._next = 1
        self.events: list[tuple[str, str, tuple[str, ...]]] = []  # (kind, series id, cases)

    def update(
        self,
        accepted: Mapping[tuple[str, str], float],
        changed: Iterable[tuple[str, str]],
        scored: Mapping[tuple[str, str], float] | None = None,
        *,
        exact: bool = False,
    ) -> bool:
        """Bring the series up to date; ``accepted`` holds every accepted link, ``changed`` the
        pairs whose score changed (accepted or not), ``scored`` (optional) every scored
        pair with its probability (sorted ids), for bridge support and the refinement.
        With ``exact``, ``changed`` is known to hold every pair accepted, dropped or
        rescored since the last update (the linker's case), and the accepted links are not
        compared one by one. Returns True if any series changed.

        Complexity: proportional to the components the changed pairs touch (plus the
        accepted links without ``exact``).
        """
        scored = scored if scored is not None else accepted
        changed = list(changed)
        touched: set[str] = set()
        graph = self.graph
        if exact:
            for a, b in changed:
                p = accepted.get((a, b))
                if p is None:
                    if graph.has_edge(a, b):
                        graph.remove_edge(a, b)
                        touched.update((a, b))
                elif not graph.has_edge(a, b) or graph[a][b]["p"] != p:
                    graph.add_edge(a, b, p=p)
                    touched.update((a, b))
        else:
            gone = [e for e in graph.edges if e not in accepted and e[::-1] not in accepted]
            touched.update(n for e in gone for n in e)
            graph.remove_edges_from(gone)
            for (a, b), p in accepted.items():
                if not graph.has_edge(a, b) or graph[a][b]["p"] != p:
                    graph.add_edge(a, b, p=p)
                    touched.update((a, b))
        for pair in changed:
            if pair in accepted or self._note(pair, scored.get(pair)):
                touched.update(pair)
        if not touched:
            return False
        nodes = set()
        for n in touched:
            if n in self.graph:
                nodes |= nx.node_connected_component(self.graph, n)
        nodes |= {c for n in touched for c in self.series.get(self._of_case.get(n, ""), ())}
        # built in sorted order: the weak-bridge cut and Louvain follow the graph's node and
        # edge order, and a subgraph view would list nodes in set order, which changes with
        # the hash seed of each process (a restart must find the same series)
        weigh = self._weigher(scored)
        groups = self._groups(_ordered(self.graph, nodes), scored, weigh)
        groups = self._refine(groups, nodes, weigh)
        return self._assign(groups, nodes.union(*groups))

    def partners(self, case: str) -> frozenset[str]:
        """Cases ``case`` has a pair with that weighs for a common series (see the module
        docstring: probability above ``1 / (1 + e**attach_nats)``)."""
        return frozenset(self._near.get(case, ()))

    def _note(self, pair: tuple[str, str], p: float | None) -> bool:
        """Keep the index of attractive pairs; True if the pair is or was attractive."""
        a, b = pair
        was = b in self._near.get(a, ())
        now = p is not None and p > self._attractive
        if now and not was:
            self._near.setdefault(a, set()).add(b)
            self._near.setdefault(b, set()).add(a)
        elif was and not now:
            self._near[a].discard(b)
            self._near[b].discard(a)
        return now or was

    def _weigher(self, scored: Mapping[tuple[str, str], float]) -> Callable[[str, str], float]:
        """A pair's weight of evidence for a common series (cached for one update)."""
        floor, shift, unscored = self.floor_nats, self.attach_nats, self.unscored_nats
        weight: dict[tuple[str, str], float] = {}

        def w(x: str, y: str) -> float:
            pair = (x, y) if x < y else (y, x)
            v = weight.get(pair)
            if v is None:
                v = weight[pair] = _nats(scored.get(pair), floor, shift, unscored)
            return v

        return w

    def _refine(
        self,
        groups: list[frozenset[str]],
        scope: set[str],
        w: Callable[[str, str], float],
    ) -> list[frozenset[str]]:
        """Members with negative evidence for their group leave it, groups with enough
        evidence between them merge, and cases in no series join the group they have the most
        (positive) evidence for. See the module docstring."""
        if not self.refine_rounds:
            return groups

        def gain(c: str, members: set[str]) -> float:
            return sum(w(c, m) for m in sorted(members) if m != c)

        out = [set(g) for g in groups]
        for _ in range(self.refine_rounds):
            moved = False
            for g in out:
                while len(g) >= 3:
                    c, s = min(((c, gain(c, g)) for c in sorted(g)), key=lambda cs: cs[1])
                    if s >= 0.0:
                        break
                    g.discard(c)
                    moved = True
            out = [g for g in out if len(g) >= 2]
            n_groups = len(out)
            out = self._merge(out, w)
            moved = moved or len(out) != n_groups
            of = {c: i for i, g in enumerate(out) for c in g}
            near = sorted({n for g in out for m in g for n in self._near.get(m, ())} - of.keys())
            joins: dict[int, set[str]] = {}
            for c in near:
                sid = self._of_case.get(c)
                if sid is not None and not self.series[sid] <= scope:
                    continue  # in a series outside the groups being recomputed
                best, best_gain = -1, 0.0
                for i in sorted({of[m] for m in self._near[c] if m in of}):
                    s = gain(c, out[i])
                    if s > best_gain:
                        best, best_gain = i, s
                if best >= 0:
                    joins.setdefault(best, set()).add(c)
            for i, cs in joins.items():
                out[i] |= cs
                moved = True
            if not moved:
                break
        return [frozenset(g) for g in out]

    def _merge(self, groups: list[set[str]], w: Callable[[str, str], float]) -> list[set[str]]:
        """Merge the two groups with the largest sum of evidence across, while it is above
        ``merge_nats`` and the merged group is no larger than ``max_direct`` (which the
        communities split would cut again). Only groups with an attractive pair (an
        accepted link or a pair in the index) across can sum above zero, so only those are
        weighed."""
        out = [set(g) for g in groups]
        while len(out) > 1:
            of = {c: i for i, g in enumerate(out) for c in g}
            across: set[tuple[int, int]] = set()
            for i, g in enumerate(out):
                for c in g:
                    near = self._near.get(c, set()).union(self.graph.adj.get(c, ()))
                    for n in near:
                        j = of.get(n, i)
                        if j != i and len(g) + len(out[j]) <= self.max_direct:
                            across.add((min(i, j), max(i, j)))
            best, best_sum = None, self.merge_nats
            for i, j in sorted(across):
                total = sum(w(x, y) for x in sorted(out[i]) for y in sorted(out[j]))
                if total > best_sum:
                    best, best_sum = (i, j), total
            if best is None:
                break
            i, j = best
            out[i] |= out.pop(j)
        return out

    def _split(self, parts: list[set[str]], w: Callable[[str, str], float]) -> list[set[str]]:
        """Communities joined again, the two with the largest sum of evidence across first,
        while that sum is positive: what is left apart has evidence against a common series."""
        out = [set(p) for p in sorted(parts, key=min)]
        while len(out) > 1:
            best, best_sum = None, 0.0
            for i in range(len(out)):
                for j in range(i + 1, len(out)):
                    total = sum(w(x, y) for x in sorted(out[i]) for y in sorted(out[j]))
                    if total > best_sum:
                        best, best_sum = (i, j), total
            if best is None:
                break
            i, j = best
            out[i] |= out.pop(j)
        return out

    def _groups(
        self,
        g: nx.Graph,
        scored: Mapping[tuple[str, str], float],
        w: Callable[[str, str], float],
    ) -> list[frozenset[str]]:
        weak = [(a, b) for a, b in nx.bridges(g) if g[a][b]["p"] < self.strong]
        for a, b in weak:
            p = g[a][b]["p"]
            g.remove_edge(a, b)
            sides = [nx.node_connected_component(g, a), nx.node_connected_component(g, b)]
            if min(len(s) for s in sides) < 2 or _support(*sides, scored) >= self.strong:
                g.add_edge(a, b, p=p)  # a leaf merges nothing; a seconded bridge holds
        out: list[frozenset[str]] = []
        for comp in sorted(nx.connected_components(g), key=min):
            if len(comp) < 2:
                continue
            if len(comp) < self.min_split:
                out.append(frozenset(comp))
                continue
            sub = _ordered(g, comp)
            parts = nx.community.louvain_communities(sub, weight="p", seed=self.seed)
            clear = (
                len(parts) > 1
                and nx.community.modularity(sub, parts, weight="p") >= self.min_modularity
            )
            if len(comp) <= self.max_direct and not clear:
                # no clear communities by link strength: split only along communities with
                # evidence against each other (two crews of one city held by a few links)
                kept = self._split(parts, w) if self.refine_rounds and len(parts) > 1 else [comp]
                out.extend(frozenset(p) for p in kept if len(p) >= 2)
                continue
            out.extend(frozenset(p) for p in parts if len(p) >= 2)
        return out

    def _assign(self, groups: list[frozenset[str]], scope: set[str]) -> bool:
        old = {sid: members for sid, members in self.series.items() if members & scope}
        changed = False
        taken: set[str] = set()
        new_series: dict[str, frozenset[str]] = {}
        for group in sorted(groups, key=lambda g: (-len(g), min(g))):
            best, best_j = None, 0.0
            for sid, members in old.items():
                if sid in taken:
                    continue
                j = len(group & members) / len(group | members)
                if j > best_j:
                    best, best_j = sid, j
            if best is not None and best_j >= 0.5:
                sid = best
            else:
                sid = f"S-{self._next:04d}"
                self._next += 1
            taken.add(sid)
            new_series[sid] = group
            if old.get(sid) != group:
                changed = True
                self.events.append(
                    ("updated" if sid in old else "created", sid, tuple(sorted(group)))
                )
        for sid in old:
            if sid not in taken:
                changed = True
                self.events.append(("dissolved", sid, tuple(sorted(old[sid]))))
                del self.series[sid]
        self.series.update(new_series)
        self._of_case = {c: sid for sid, members in self.series.items() for c in members}
        return changed
