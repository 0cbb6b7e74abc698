"""The graph store as a pipeline sink: after each micro-batch, write what changed.

:class:`GraphSink` runs after the :class:`~graph.linkage.Linker`. It reads
what the batch changed from the objects the earlier sinks keep, never by
rescanning them:

* **cases** of the batch's incident reports (new or supplemented): the
  ``Case`` node, its county (``IN``) and the county's city and province
  (``PART_OF``, written once), and ``INVOLVED_IN`` from its vehicles,
  organisations and the persons the resolver does not handle;
* **persons**: the mentions the resolver added since the last batch become
  ``Mention`` nodes (identifiers masked by the resolver); every mention whose
  cluster changed (a join, a merge of clusters, a split) moves its
  ``RESOLVED_TO``, and each touched cluster's ``Person`` node and
  ``INVOLVED_IN`` relationships are brought up to date (a cluster left empty
  is deleted). Finding the moved mentions compares two int64 arrays of one
  entry per resolved mention (vectorised), only in batches that added mentions;
* **links**: the pairs the linker (re)scored in this batch
  (:attr:`~graph.linkage.Linker.last_rescored`): an accepted link is merged as
  ``LINKED`` with its probability, features and evidence (JSON), a link that
  fell below the threshold is deleted; the space-time evidence of the pair
  becomes ``SEEN_NEAR`` from the vehicle/phone/MAC to each scene, with the
  checkpoint (a ``Checkpoint`` node, ``IN`` its county);
* **series**, when the linker's version moved: created or changed series are
  merged with their ``MEMBER_OF`` relationships (cases that left are
  unlinked), dissolved series deleted.

All of it goes to the store as one :class:`~graph.store.base.ChangeSet` (one
transaction in Neo4j). Per batch the work is proportional to the batch's
reports, the pairs rescored, the mentions added and - when series changed -
the number of series (a dict comparison by identity).

:attr:`GraphSink.seconds` keeps the time of each batch's :meth:`~GraphSink.apply`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from graph.cases import Case, CaseBook, batch_incidents
from graph.linkage import Link, Linker
from graph.persons.resolver import MentionView
from graph.persons.sink import PersonSink
from graph.spacetime.copresence import Hit
from graph.spacetime.entities import entity_key
from graph.spacetime.evidence import LinkEvidence
from graph.spacetime.sink import SpaceTimeSink
from graph.store.base import ChangeSet, GraphStore
from ingest.models import Message

__all__ = ["GraphSink", "mention_id", "org_id", "person_id", "plate_key"]

log = logging.getLogger(__name__)

#: entity kind of a space-time key -> node label
_ENTITY_LABELS = {"plate": "Vehicle", "phone": "Phone", "mac": "Mac"}
_ENTITY_KEYS = {"Vehicle": "plate", "Phone": "number", "Mac": "mac"}


def plate_key(plate: str) -> str:
    """The ``Vehicle`` key of a plate as written: the space-time core's normal form.

    >>> plate_key("浙b·12345")
    '浙B12345'
    """
    return entity_key("plate", plate).split(":", 1)[1]


def org_id(name: str, uscc: str | None) -> str:
    """The ``Organisation`` key: the credit code when given, else the name.

    >>> org_id("宁波港通物流有限公司", None), org_id("x", "91330211mA2aaaaa0x")
    ('name:宁波港通物流有限公司', '91330211MA2AAAAA0X')
    """
    return uscc.upper() if uscc else f"name:{name.strip()}"


def person_id(cluster: int) -> str:
    """The ``Person`` key of a resolver cluster."""
    return f"R{cluster}"


def mention_id(row: int) -> str:
    """The ``Mention`` key of a resolver row."""
    return f"m{row}"


def _iso(t: Any) -> str:
    return t.isoformat()


class GraphSink:
    """Writes each batch's changes of cases, persons, links and series to a graph store."""

    def __init__(
        self,
        store: GraphStore,
        cases: CaseBook,
        linker: Linker,
        *,
        spacetime: SpaceTimeSink | None = None,
        persons: PersonSink | None = None,
        keep_timings: int = 100_000,
    ) -> None:
        self.store = store
        self.cases = cases
        self.linker = linker
        self.spacetime = spacetime if spacetime is not None else linker.spacetime
        self.persons = persons if persons is not None else linker.persons
        self.resolved_roles: tuple[str, ...] = self.persons.roles if self.persons else ()
        #: wall time of each batch's apply, in seconds
        self.seconds: deque[float] = deque(maxlen=keep_timings)
        self._jurisdictions: set[int] = set()
        self._checkpoints: set[str] = set()
        self._entities: set[tuple[str, str]] = set()  # Vehicle/Phone/Mac nodes written
        self._linked: set[tuple[str, str]] = set()
        #: (space-time entity key, case) -> weight of the SEEN_NEAR written
        self._seen_near: dict[tuple[str, str], float] = {}
        self._rows = 0  # resolver rows written
        self._cluster = np.zeros(0, np.int64)  # cluster of each written row, as last written
        self._views: list[MentionView] = []  # the resolver's view of each written row
        self._members: dict[int, set[int]] = {}
        self._involved: dict[int, set[tuple[str, str]]] = {}
        self._series: dict[str, frozenset[str]] = {}
        self._linker_version = 0

    # -- sink -----------------------------------------------------------------
    def apply(self, messages: Sequence[Message]) -> None:
        start = time.perf_counter()
        cs = ChangeSet()
        pending_cps: list[str] = []
        touched = dict.fromkeys(m.case for m in batch_incidents(messages))
        for case_id in touched:
            case = self.cases.get(case_id)
            if case is not None:
                self._case(cs, case)
        self._persons(cs)
        self._links(cs, pending_cps)
        self._checkpoint_places(cs, pending_cps)
        self._series_changes(cs)
        if cs:
            self.store.apply(cs)
        took = time.perf_counter() - start
        self.seconds.append(took)
        if cs:
            log.debug("graph store: %d rows in %.1f ms", cs.count(), took * 1000)

    def timing(self) -> dict[str, float]:
        """Per-batch apply time so far: ``{"batches", "p50_ms", "p99_ms", "max_ms"}``."""
        if not self.seconds:
            return {"batches": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        ms = np.asarray(self.seconds) * 1000
        return {
            "batches": int(ms.size),
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }

    # -- cases ------------------------------------------------------------------
    def _case(self, cs: ChangeSet, case: Case) -> None:
        cid = case.case_id
        cs.merge_node(
            "Case",
            {
                "case_id": cid,
                "category": case.category,
                "category_known": case.category_known,
                "lon": case.lon,
                "lat": case.lat,
                "reported_at": _iso(case.reported_at),
                "occurred_start": _iso(case.occurred_start),
                "occurred_end": _iso(case.occurred_end),
                "county": case.county,
                "city": case.city,
                "address": case.address,
                "loss_cny": case.loss_cny,
                "mo": list(case.mo),
                "reports": len(case.report_ids),
                "outside_province": case.outside_province,
            },
        )
        if case.county:
            self._jurisdiction(cs, case.county)
            cs.merge_rel("IN", {"src_label": "Case", "src": cid, "dst": case.county})
        for v in case.vehicles:
            plate = plate_key(v.plate)
            self._entity(cs, "Vehicle", plate)
            cs.merge_rel(
                "INVOLVED_IN", {"src_label": "Vehicle", "src": plate, "dst": cid, "role": v.role}
            )
        for o in case.organizations:
            key = org_id(o.name, o.uscc)
            cs.merge_node("Organisation", {"org_id": key, "name": o.name, "uscc": o.uscc})
            cs.merge_rel(
                "INVOLVED_IN",
                {"src_label": "Organisation", "src": key, "dst": cid, "role": o.role},
            )
        for k, p in enumerate(case.persons):
            if p.role in self.resolved_roles:
                continue  # a resolved mention: written from the resolver (see _persons)
            pid = f"{cid}#{k}"
            cs.merge_node("Person", {"person_id": pid, "name": p.name, "resolved": False})
            cs.merge_rel(
                "INVOLVED_IN", {"src_label": "Person", "src": pid, "dst": cid, "role": p.role}
            )

    def _jurisdiction(self, cs: ChangeSet, county: int) -> None:
        if county in self._jurisdictions:
            return
        index = self.cases.index
        z = index.jurisdictions
        city = index.city_of_county(county)
        chain = [(county, "county")]
        if city and city != z.adcode:
            chain.append((city, "city"))
        chain.append((z.adcode, "province"))
        parents = [code for code, _ in chain[1:]] + [0]
        for (code, level), parent in zip(chain, parents, strict=True):
            if code in self._jurisdictions:
                break  # and so are its parents
            name = z.name if code == z.adcode else z.name_of(code)
            cs.merge_node(
                "Jurisdiction", {"adcode": code, "name": name, "level": level, "parent": parent}
            )
            if parent:
                cs.merge_rel("PART_OF", {"src": code, "dst": parent})
            self._jurisdictions.add(code)

    # -- persons ----------------------------------------------------------------
    def _persons(self, cs: ChangeSet) -> None:
        if self.persons is None:
            return
        resolver = self.persons.resolver
        n = len(resolver)
        if n == self._rows:
            return
        for row in range(self._rows, n):
            v = resolver.view(row)  # a row's view never changes (the resolver only appends)
            self._views.append(v)
            cs.merge_node(
                "Mention",
                {
                    "mention_id": mention_id(row),
                    "case_id": v.case_id,
                    "role": v.role,
                    "name": v.name,
                    "phone": v.phone,
                    "id_number": v.id_number,
                },
            )
        clusters = resolver.clusters()
        before = np.full(n, -1, np.int64)
        before[: self._rows] = self._cluster
        affected: set[int] = set()
        for row in np.flatnonzero(clusters != before).tolist():
            old, new = int(before[row]), int(clusters[row])
            if old >= 0:
                self._members[old].discard(row)
                affected.add(old)
                cs.delete_rel("RESOLVED_TO", {"src": mention_id(row), "dst": person_id(old)})
            self._members.setdefault(new, set()).add(row)
            affected.add(new)
            cs.merge_rel("RESOLVED_TO", {"src": mention_id(row), "dst": person_id(new)})
        for cluster in sorted(affected):
            self._person(cs, cluster)
        self._cluster = clusters
        self._rows = n

    def _person(self, cs: ChangeSet, cluster: int) -> None:
        pid = person_id(cluster)
        members = self._members.get(cluster)
        if not members:
            self._members.pop(cluster, None)
            self._involved.pop(cluster, None)
            cs.delete_node("Person", pid)
            return
        views = [self._views[r] for r in sorted(members)]
        cs.merge_node(
            "Person",
            {
                "person_id": pid,
                "name": self._views[cluster].name,  # a cluster's id is one of its rows
                "resolved": True,
                "mentions": len(members),
                "cases": len({v.case_id for v in views}),
                "phone": next((v.phone for v in views if v.phone), None),
                "id_number": next((v.id_number for v in views if v.id_number), None),
            },
        )
        want = {(v.case_id, v.role) for v in views}
        have = self._involved.get(cluster, set())
        for case_id, role in sorted(want - have):
            cs.merge_rel(
                "INVOLVED_IN", {"src_label": "Person", "src": pid, "dst": case_id, "role": role}
            )
        for case_id, role in sorted(have - want):
            cs.delete_rel(
                "INVOLVED_IN", {"src_label": "Person", "src": pid, "dst": case_id, "role": role}
            )
        self._involved[cluster] = want

    # -- links and the space-time evidence behind them ---------------------------
    def _links(self, cs: ChangeSet, pending_cps: list[str]) -> None:
        pairs = self.linker.last_rescored
        if not pairs:
            return
        linker, spacetime = self.linker, self.spacetime
        links, threshold = linker.links, linker.model.threshold
        # each pair's space-time summary as the linker scored it in this batch (when it
        # reads the same core), else summarised again
        summaries = linker.last_summaries if spacetime is linker.spacetime else {}
        # a quiet pair (no identity evidence, below the threshold, its summary the empty
        # one: see Linker.last_quiet) whose link was never written has nothing to write:
        # passed over without sorting it or reading its link or summary
        quiet = linker.last_quiet if summaries else frozenset()
        if quiet:  # the quiet pairs whose link was written are visited (a delete may be due)
            pairs = (pairs - quiet) | (pairs & quiet & self._linked)
        for pair in sorted(pairs):
            link = links.get(pair)
            if link is None:
                continue
            key = (link.case_a, link.case_b)
            if link.probability >= threshold:
                cs.merge_rel("LINKED", _linked_row(link))
                self._linked.add(key)
            elif key in self._linked:
                cs.delete_rel("LINKED", {"src": key[0], "dst": key[1]})
                self._linked.discard(key)
            if spacetime is not None:
                found = summaries.get(key)
                if found is None:
                    found = spacetime.summary(*key, 3)
                top, _, bridge = found
                if top or bridge is not None:  # most rescored pairs have no space-time evidence
                    self._evidence(cs, top, bridge, pending_cps)

    def _evidence(
        self,
        cs: ChangeSet,
        top: list[LinkEvidence],
        bridge: LinkEvidence | None,
        pending_cps: list[str],
    ) -> None:
        # the evidence behind the link as the linker reads it: the three strongest entities
        # and the best companion bridge (a busy scene pair can share hundreds of ordinary
        # entities; writing each as SEEN_NEAR cost GiBs at a province's scale and said nothing)
        for ev in (*top, bridge) if bridge is not None else top:
            if ev.kind == "companion":
                keys = ev.entity.split("+")
                for hit in (ev.hit_a, ev.hit_b):
                    self._hit(cs, self._owner(keys, hit), hit, pending_cps)
            else:
                self._hit(cs, ev.entity, ev.hit_a, pending_cps)
                self._hit(cs, ev.entity, ev.hit_b, pending_cps)

    def _owner(self, keys: list[str], hit: Hit) -> str:
        """Which of a companion pair's entities a hit belongs to."""
        core = self.spacetime.core  # type: ignore[union-attr]
        near = [k for k in keys if hit.case_id in core.entity_hits(k)]
        exact = [k for k in near if core.entity_hits(k)[hit.case_id] == hit]
        return (exact or near or keys)[0]

    def _hit(self, cs: ChangeSet, key: str, hit: Hit, pending_cps: list[str]) -> None:
        # most hits of a rescored pair were written at this weight already: that is told
        # by the entity key and case alone, before the key is split (one key names one
        # node: its kind names the label, the rest is the node's key)
        weight = hit.weight
        seen = (key, hit.case_id)
        before = self._seen_near.get(seen)
        if before is not None and before >= weight:
            return
        kind, _, value = key.partition(":")
        label = _ENTITY_LABELS.get(kind)
        if label is None:
            log.warning("space-time entity %r of unknown kind; not written", key)
            return
        self._seen_near[seen] = weight
        self._entity(cs, label, value)
        cs.merge_rel(
            "SEEN_NEAR",
            {
                "src_label": label,
                "src": value,
                "dst": hit.case_id,
                "checkpoint": hit.checkpoint,
                "dist_m": round(float(hit.dist_m), 1),
                "offset_s": int(hit.offset_s),
                "weight": round(float(weight), 4),
            },
        )
        if hit.checkpoint not in self._checkpoints:
            self._checkpoints.add(hit.checkpoint)
            pending_cps.append(hit.checkpoint)

    def _entity(self, cs: ChangeSet, label: str, value: str) -> None:
        """Merge a ``Vehicle``/``Phone``/``Mac`` node unless this sink wrote it already: its
        row is its key alone, so merging it again would change nothing (a vehicle of a case
        is often one seen near a scene, or named again by a supplementary report)."""
        node = (label, value)
        if node not in self._entities:
            self._entities.add(node)
            cs.merge_node(label, {_ENTITY_KEYS[label]: value})

    def _checkpoint_places(self, cs: ChangeSet, names: list[str]) -> None:
        """Checkpoint nodes for checkpoints first met in this batch, each ``IN`` its county."""
        if not names:
            return
        registry = self.spacetime.core.checkpoints  # type: ignore[union-attr]
        lon_all, lat_all, _, _ = registry.arrays
        ids = [registry.id_of(name) for name in names]
        lons, lats = lon_all[ids], lat_all[ids]
        counties = self.cases.index.counties_of(lons, lats)
        for name, lon, lat, county in zip(names, lons, lats, counties.tolist(), strict=True):
            cs.merge_node(
                "Checkpoint",
                {"checkpoint_id": name, "lon": float(lon), "lat": float(lat), "county": county},
            )
            if county:
                self._jurisdiction(cs, county)
                cs.merge_rel("IN", {"src_label": "Checkpoint", "src": name, "dst": county})

    # -- series -------------------------------------------------------------------
    def _series_changes(self, cs: ChangeSet) -> None:
        if self.linker.version == self._linker_version:
            return
        self._linker_version = self.linker.version
        current = dict(self.linker.tracker.series)
        for sid, members in current.items():
            old = self._series.get(sid, frozenset())
            if old is members or old == members:
                continue
            cs.merge_node("Series", {"series_id": sid, "size": len(members)})
            for case_id in sorted(members - old):
                cs.merge_rel("MEMBER_OF", {"src": case_id, "dst": sid})
            for case_id in sorted(old - members):
                cs.delete_rel("MEMBER_OF", {"src": case_id, "dst": sid})
        for sid in sorted(self._series.keys() - current.keys()):
            cs.delete_node("Series", sid)
        self._series = current


def _linked_row(link: Link) -> dict[str, Any]:
    return {
        "src": link.case_a,
        "dst": link.case_b,
        "probability": float(link.probability),
        "features": json.dumps({k: float(v) for k, v in link.features.items()}, sort_keys=True),
        "evidence": json.dumps([list(e) for e in link.evidence], ensure_ascii=False),
    }
