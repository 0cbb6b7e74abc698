"""Wiring: one embedded command center (journal, dead letters, pipeline, linkage state).

Every entry point (``icc replay``, ``icc demo``, later ``icc run``) builds the
same :class:`Runtime`, so batch mode is the live pipeline fed from a file.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from geo.lookup import JurisdictionIndex
from graph.blas import one_blas_thread
from graph.cases import CaseBook
from graph.linkage import Linker
from graph.persons.sink import PersonSink
from graph.series import Series, export_series
from graph.spacetime.copresence import CoPresence
from graph.spacetime.sink import SpaceTimeSink
from graph.store import GraphSink, GraphStore, open_store
from icc.config import Settings
from icc.ops_retention import RetentionSink
from icc.status import StatusWriter
from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal
from ingest.pipeline import Ingestor
from tasking import Tasking
from tasking.plans import load_plans

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    journal: Journal
    deadletters: DeadLetterStore
    cases: CaseBook
    spacetime: SpaceTimeSink
    linker: Linker
    ingestor: Ingestor
    graph: GraphStore
    graph_sink: GraphSink
    tasking: Tasking | None = None
    #: prunes the journal's sightings to ICC_SIGHTING_RETENTION_DAYS (None: unset)
    retention: RetentionSink | None = None
    #: keeps derived/status.json current for ``icc status``
    status: StatusWriter | None = None

    @classmethod
    def open(cls, settings: Settings, reset: bool = False, rebuild: bool = True) -> Runtime:
        """Open (or create) the state under ``settings.data_dir`` and rebuild derived state.

        The graph store (``settings.graph_backend``) is fed by a :class:`GraphSink` after the
        linker. It holds derived state like the rest: with ``rebuild`` (or ``reset``) it is
        cleared first and rebuilt by the journal replay - for Neo4j too, so a graph written
        by an earlier run (whose series ids depended on its micro-batches) leaves nothing
        stale behind.
        """
        one_blas_thread()  # the same results on every machine, and no spinning thread
        plans = load_plans(settings.plans_path)  # fail at start, naming the bad key
        data_dir = Path(settings.data_dir)
        if reset and data_dir.exists():
            for name in ("journal.sqlite", "deadletter.sqlite"):
                for suffix in ("", "-wal", "-shm"):
                    (data_dir / f"{name}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(data_dir / "derived", ignore_errors=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        journal = Journal(settings.journal_path)
        deadletters = DeadLetterStore(settings.deadletter_path)
        cases = CaseBook(JurisdictionIndex.for_province(settings.province))
        days = settings.sighting_retention_days
        spacetime = SpaceTimeSink(CoPresence(retention_hours=days * 24) if days else None)
        retention = RetentionSink(settings.journal_path, spacetime.core.index) if days else None
        persons = PersonSink()
        linker = Linker(cases, spacetime, persons=persons)
        graph = open_store(
            settings.graph_backend,
            uri=settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password,
        )
        if reset or rebuild:
            graph.clear()
        graph_sink = GraphSink(graph, cases, linker, spacetime=spacetime, persons=persons)
        tasking = Tasking.open(
            settings.province, settings.audit_path, linker, plans, settings.roster_path
        )
        sinks = [cases, spacetime, persons, linker, graph_sink, tasking.sink]
        if retention is not None:
            sinks.insert(2, retention)  # right after the index it follows
        ingestor = Ingestor(journal, deadletters, sinks)
        runtime = cls(
            settings,
            journal,
            deadletters,
            cases,
            spacetime,
            linker,
            ingestor,
            graph,
            graph_sink,
            tasking,
            retention,
        )
        runtime.status = StatusWriter(runtime)
        if rebuild:
            ingestor.rebuild(
                breaks=runtime.tasking.service.command_positions() if runtime.tasking else ()
            )
        if runtime.tasking is not None:
            runtime.tasking.sink.catch_up()  # commands given after the journal's last batch
        ingestor.sinks.append(runtime.status)
        if rebuild:  # otherwise the caller is about to feed it (the first batch writes)
            runtime.status.write()
        return runtime

    @property
    def series(self) -> list[Series]:
        return self.linker.series()

    def export(self) -> dict:
        return export_series(self.series)

    def close(self) -> None:
        if self.retention is not None:
            self.retention.close()
        if self.status is not None:
            self.status.write()
        self.spacetime.close()  # the companion search thread
        self.journal.close()
        self.deadletters.close()
        self.graph.close()
        if self.tasking is not None:
            self.tasking.close()
