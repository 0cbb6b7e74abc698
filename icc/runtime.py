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
from graph.cases import CaseBook
from graph.linkage import Linker
from graph.persons.sink import PersonSink
from graph.series import Series, export_series
from graph.spacetime.sink import SpaceTimeSink
from icc.config import Settings
from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal
from ingest.pipeline import Ingestor

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

    @classmethod
    def open(cls, settings: Settings, reset: bool = False, rebuild: bool = True) -> Runtime:
        """Open (or create) the state under ``settings.data_dir`` and rebuild derived state."""
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
        spacetime = SpaceTimeSink()
        persons = PersonSink()
        linker = Linker(cases, spacetime, persons=persons)
        ingestor = Ingestor(journal, deadletters, [cases, spacetime, persons, linker])
        runtime = cls(settings, journal, deadletters, cases, spacetime, linker, ingestor)
        if rebuild:
            ingestor.rebuild()
        return runtime

    @property
    def series(self) -> list[Series]:
        return self.linker.series()

    def export(self) -> dict:
        return export_series(self.series)

    def close(self) -> None:
        self.journal.close()
        self.deadletters.close()
