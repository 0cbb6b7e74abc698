"""``icc dashboard``: serve the command center over an existing state directory.

Unlike ``icc demo`` it generates and replays nothing and creates no users: it
reads the journal under ``ICC_DATA_DIR`` that ``icc run`` / ``icc replay``
workers write, follows it as it grows (:class:`JournalFollower`, polling the
SQLite journal), and serves the page, the tasking API (``/api/tasking``,
``ICC_API_TOKENS``) and ``/healthz`` + ``/metrics``. Sign-in needs
``ICC_USERS_FILE`` (see :mod:`dashboard.auth`); without it the command refuses
to start rather than serve a page nobody can use.

Example
-------
::

    ICC_USERS_FILE=/data/users.toml icc dashboard --host 0.0.0.0 --port 8050
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from icc.config import Settings
    from icc.runtime import Runtime

__all__ = ["JournalFollower", "add_dashboard_command", "run_dashboard"]

log = logging.getLogger(__name__)


class JournalFollower(threading.Thread):
    """Apply the journal's new entries to a runtime's sinks, every ``interval_s`` seconds.

    The runtime must be opened with ``rebuild=False``: :meth:`catch_up` is the rebuild
    (from sequence 0) and then the follow-up. Only this thread writes the derived state.
    """

    def __init__(self, runtime: Runtime, interval_s: float = 1.0, batch: int = 5000) -> None:
        super().__init__(name="icc-journal-follower", daemon=True)
        if not interval_s > 0:
            raise ValueError(f"interval_s = {interval_s!r}: expected a positive number")
        self.runtime = runtime
        self.interval_s = interval_s
        self.batch = batch
        self.seq = 0
        self.applied = 0
        self._stop_event = threading.Event()

    def catch_up(self) -> int:
        """Apply every entry after the last one applied; returns how many."""
        from ingest.models import parse_message

        chunk: list[Any] = []
        count = 0
        ingestor = self.runtime.ingestor
        for seq, entry in self.runtime.journal.iter_entries(after_seq=self.seq):
            chunk.append(parse_message(entry.payload))
            self.seq = seq
            if len(chunk) >= self.batch:
                ingestor.apply_journalled(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            ingestor.apply_journalled(chunk)
            count += len(chunk)
        self.applied += count
        if count:
            log.info("applied %d journalled messages (up to seq %d)", count, self.seq)
        return count

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                self.catch_up()
            except Exception:  # keep serving; the next poll tries again
                log.exception("following the journal failed at seq %d", self.seq)


def add_dashboard_command(sub: Any) -> None:
    """Add ``icc dashboard`` to the ``icc`` subcommands."""
    from icc.cli import _port, _positive_float

    d = sub.add_parser(
        "dashboard",
        help="serve the command center over ICC_DATA_DIR (needs ICC_USERS_FILE; no demo data)",
    )
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=_port, default=8050)
    d.add_argument(
        "--follow-interval",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="how often to read new journal entries (default 1)",
    )


def run_dashboard(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    """Open the state, follow the journal and serve the page until interrupted."""
    from dashboard.app import create_app
    from dashboard.audit import AuditLog
    from dashboard.auth import UserStore
    from icc.ops import register_ops_routes
    from icc.query import RuntimeReader
    from icc.runtime import Runtime

    users_file = (os.environ.get("ICC_USERS_FILE") or "").strip()
    if not users_file:
        raise ValueError(
            "ICC_USERS_FILE is not set: expected the path of a TOML users file (one user "
            "table per user, scrypt hashes from `python -m dashboard.auth hash`; README, "
            "'Users and roles')"
        )
    if not Path(users_file).is_file():
        raise FileNotFoundError(f"ICC_USERS_FILE = {users_file!r}: no such file")
    users = UserStore.from_file(users_file)
    if not len(users):
        raise ValueError(f"ICC_USERS_FILE = {users_file!r}: expected at least one user")
    runtime = Runtime.open(settings, rebuild=False)
    follower = JournalFollower(runtime, interval_s=args.follow_interval)
    try:
        n = follower.catch_up()
        out.print(f"state rebuilt from {n} journalled messages in {settings.data_dir}")
        follower.start()
        app = create_app(
            RuntimeReader(runtime),
            adcode=settings.province,
            users=users,
            audit=AuditLog(settings.data_dir / "dashboard-audit.sqlite"),
            tasking=runtime.tasking.service if runtime.tasking is not None else None,
        )
        register_ops_routes(app.server, runtime)
        if runtime.tasking is not None:
            from tasking.api import credentials, register_api

            register_api(app.server, runtime.tasking.service, credentials(settings.api_tokens))
        if args.verbose < 2:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        out.print(
            f"[bold green]command center[/]: http://{args.host}:{args.port}/ "
            f"({len(users)} users; Ctrl-C stops)",
            highlight=False,
        )
        app.run(host=args.host, port=args.port, debug=False)
    finally:
        follower.stop()
        if follower.is_alive():
            follower.join(timeout=5)
        runtime.close()
    return 0
