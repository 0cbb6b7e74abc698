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
  group larger than ``max_direct`` is always split.

Ids are stable: a recomputed group keeps the id of the existing series it
overlaps most (Jaccard >= 0.5); otherwise it gets the next ``S-0001``-style id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import networkx as nx

__all__ = ["SeriesTracker"]

log = logging.getLogger(__name__)


def _support(side_a: set[str], side_b: set[str], scored: Mapping[tuple[str, str], float]) -> float:
    """Noisy-OR of the scored pairs between two groups."""
    miss = 1.0
    for x in side_a:
        for y in side_b:
            miss *= 1.0 - scored.get((x, y) if x < y else (y, x), 0.0)
    return 1.0 - miss


class SeriesTracker:
    """Incremental series over a stream of accepted links."""

    def __init__(
        self,
        strong: float = 0.8,
        max_direct: int = 12,
        seed: int = 7,
        min_split: int = 6,
        min_modularity: float = 0.25,
    ) -> None:
        self.strong = strong
        self.max_direct = max_direct
        self.min_split = min_split
        self.min_modularity = min_modularity
        self.seed = seed
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
    ) -> bool:
        """Bring the series up to date; ``accepted`` holds every accepted link, ``changed`` the
        pairs whose score changed, ``scored`` (optional) every scored pair with its
        probability (sorted ids), for bridge support. Returns True if any series changed.

        Complexity: proportional to the components the changed pairs touch.
        """
        stale = {
            n for e in self.graph.edges if e not in accepted and e[::-1] not in accepted for n in e
        }
        self.graph.remove_edges_from(
            [e for e in list(self.graph.edges) if e not in accepted and e[::-1] not in accepted]
        )
        touched = set(stale)
        for (a, b), p in accepted.items():
            if not self.graph.has_edge(a, b) or self.graph[a][b]["p"] != p:
                self.graph.add_edge(a, b, p=p)
                touched.update((a, b))
        touched.update(n for pair in changed for n in pair)
        if not touched:
            return False
        nodes = set()
        for n in touched:
            if n in self.graph:
                nodes |= nx.node_connected_component(self.graph, n)
        nodes |= {c for n in touched for c in self.series.get(self._of_case.get(n, ""), ())}
        groups = self._groups(self.graph.subgraph(nodes).copy(), scored or accepted)
        return self._assign(groups, nodes)

    def _groups(self, g: nx.Graph, scored: Mapping[tuple[str, str], float]) -> list[frozenset[str]]:
        weak = [(a, b) for a, b in nx.bridges(g) if g[a][b]["p"] < self.strong]
        for a, b in weak:
            p = g[a][b]["p"]
            g.remove_edge(a, b)
            sides = [nx.node_connected_component(g, a), nx.node_connected_component(g, b)]
            if min(len(s) for s in sides) < 2 or _support(*sides, scored) >= self.strong:
                g.add_edge(a, b, p=p)  # a leaf merges nothing; a seconded bridge holds
        out: list[frozenset[str]] = []
        for comp in nx.connected_components(g):
            if len(comp) < 2:
                continue
            if len(comp) < self.min_split:
                out.append(frozenset(comp))
                continue
            sub = g.subgraph(comp)
            parts = nx.community.louvain_communities(sub, weight="p", seed=self.seed)
            clear = (
                len(parts) > 1
                and nx.community.modularity(sub, parts, weight="p") >= self.min_modularity
            )
            if len(comp) <= self.max_direct and not clear:
                out.append(frozenset(comp))
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
