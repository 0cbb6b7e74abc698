"""Tasking: the three-tier organisation, contingency plans, dispatch, timers, audit.

The thin public surface: :class:`Tasking` wires the organisation (roster), the
validated plan book, the audit trail, the service and the pipeline sink for
one province. See the modules for each topic:

=============  ==========================================================
``levels``     named levels (county / city / province)
``org``        centers from geography, teams from the roster, team status
``plans``      the plan file schema and its validation
``rules``      which plan triggers and which center leads
``dispatch``   team selection, task expansion, capacity, span of control
``timers``     event-time acknowledgement and escalation timers
``audit``      the append-only audit trail (SQLite)
``commands``   the command log that restores activations and tasks on restart
``service``    suggestions, activations, commands, escalation
``sink``       the pipeline sink (series events, team status, clock)
``api``        JSON over HTTP on the dashboard's Flask server
=============  ==========================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from graph.linkage import Linker
from tasking.audit import AuditLog
from tasking.commands import CommandLog
from tasking.levels import Level
from tasking.org import Organisation
from tasking.plans import PlanBook, PlanError, load_plans
from tasking.service import TaskingService
from tasking.sink import TaskingSink

__all__ = ["Level", "PlanError", "Tasking"]

log = logging.getLogger(__name__)


@dataclass
class Tasking:
    """Everything tasking needs for one province, ready to join the pipeline."""

    org: Organisation
    plans: PlanBook
    audit: AuditLog
    service: TaskingService
    sink: TaskingSink

    @classmethod
    def open(
        cls,
        province: int,
        audit_path: Path,
        linker: Linker,
        plans: Path | PlanBook | None = None,
        roster: Path | None = None,
        auto_confirm: bool = False,
    ) -> Tasking:
        """Load and validate the plan file (``PlanError`` naming the bad key) and the roster,
        open the audit trail and build the service and sink."""
        book = plans if isinstance(plans, PlanBook) else load_plans(plans)
        org = Organisation.load(province, roster)
        audit = AuditLog(audit_path)
        try:
            service = TaskingService(org, book, audit, linker.cases, auto_confirm=auto_confirm)
        except Exception:
            audit.close()
            raise
        # commanders' and teams' commands, given again on restart (same SQLite file)
        service.attach_commands(CommandLog(audit_path))
        log.info("tasking: %d plans, %d teams", len(book.plans), len(org.teams))
        return cls(org, book, audit, service, TaskingSink(service, linker))

    def close(self) -> None:
        if self.service.commands is not None:
            self.service.commands.close()
        self.audit.close()
