"""``icc demo``: the embedded pipeline fed by the scenario generator in real time, plus the map.

A feeder thread releases the generated stream at its arrival times, scaled by
``--speedup`` (simulated seconds per wall-clock second), in micro-batches through
the same :class:`~ingest.pipeline.Ingestor` every other source uses. The Dash
app is served on the main thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console

from icc.config import Settings
from icc.runtime import Runtime
from ingest.sources import RawMessage

if TYPE_CHECKING:
    from dashboard.auth import UserStore

__all__ = ["DEMO_USERS", "SimClock", "StreamFeeder", "demo_users", "run_demo"]

log = logging.getLogger(__name__)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class SimClock:
    """Simulated time: ``start`` at wall-clock ``wall0``, advancing ``speedup`` times faster."""

    start: dt.datetime
    speedup: float
    wall0: float

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self.wall0) * self.speedup)

    def wall_at(self, sim_epoch: float) -> float:
        return self.wall0 + (sim_epoch - self.start.timestamp()) / self.speedup


class StreamFeeder(threading.Thread):
    """Feed (arrival epoch, message dict) pairs to a runtime as simulated time reaches them."""

    def __init__(
        self,
        runtime: Runtime,
        arrivals: list[float],
        messages: list[dict],
        clock: SimClock,
        source: str,
        max_batch: int = 2000,
    ) -> None:
        super().__init__(name="icc-feeder", daemon=True)
        if len(arrivals) != len(messages):
            raise ValueError(
                f"arrivals ({len(arrivals)}) and messages ({len(messages)}) must have equal length"
            )
        self.runtime = runtime
        self.arrivals = arrivals
        self.messages = messages
        self.clock = clock
        self.source = source
        self.max_batch = max_batch
        self.fed = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        n = len(self.messages)
        i = 0
        while i < n and not self._stop_event.is_set():
            now = self.clock.now().timestamp()
            j = i
            while j < n and j - i < self.max_batch and self.arrivals[j] <= now:
                j += 1
            if j == i:
                wait = self.clock.wall_at(self.arrivals[i]) - time.monotonic()
                self._stop_event.wait(min(max(wait, 0.01), 0.5))
                continue
            batch = [
                RawMessage(
                    json.dumps(self.messages[k], ensure_ascii=False).encode("utf-8"),
                    self.source,
                    str(k),
                )
                for k in range(i, j)
            ]
            self.runtime.ingestor.process(batch)
            self.fed = j
            i = j
        log.info("feeder finished after %d messages", self.fed)


def _arrival_epochs(arrivals: object) -> list[float]:
    out: list[float] = []
    for a in arrivals:  # type: ignore[attr-defined]
        if isinstance(a, dt.datetime):
            out.append(a.timestamp())
        else:
            out.append(float(a))
    return out


#: the demo's users: one per role; fresh random passwords on every start (printed)
DEMO_USERS = (
    ("analyst", "analyst", 0),
    ("officer", "case_officer", 0),
    ("commander", "commander", 0),
    ("zhenhai", "county_team", 330211),  # 镇海区, Ningbo: the diesel-theft story
)


def demo_users(province: int) -> tuple[UserStore, list[tuple[str, str, str, str]]]:
    """A :class:`~dashboard.auth.UserStore` of :data:`DEMO_USERS` with random passwords, and
    (name, password, role, jurisdiction) to print. Only ``icc demo`` creates users."""
    import secrets

    from dashboard.auth import User, UserStore, hash_password

    users, logins = [], []
    for name, role, where in DEMO_USERS:
        adcode = where or province
        if adcode // 10000 != province // 10000:
            adcode = province
        password = secrets.token_urlsafe(9)
        users.append(User(name, role, adcode, hash_password(password)))
        logins.append((name, password, role, str(adcode)))
    return UserStore(users), logins


def run_demo(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    """Generate a scenario starting today, stream it in real time and serve the map."""
    from dashboard.app import create_app
    from dashboard.audit import AuditLog
    from icc.query import RuntimeReader
    from ingest.scenario import generate

    today = dt.datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    with out.status(f"generating scenario (seed {args.seed}, scale {args.scale}) ..."):
        scenario = generate(seed=args.seed, days=args.days, scale=args.scale, start=today)
    runtime = Runtime.open(settings, reset=args.reset)
    clock = SimClock(start=today, speedup=args.speedup, wall0=time.monotonic())
    feeder = StreamFeeder(
        runtime,
        _arrival_epochs(scenario.arrivals),
        scenario.messages,
        clock,
        source=f"scenario:seed={args.seed}",
    )
    feeder.start()
    users, logins = demo_users(settings.province)
    app = create_app(
        RuntimeReader(runtime, clock=clock.now),
        adcode=settings.province,
        users=users,
        audit=AuditLog(settings.data_dir / "dashboard-audit.sqlite"),
        tasking=runtime.tasking.service if runtime.tasking is not None else None,
    )
    from icc.ops import register_ops_routes

    register_ops_routes(app.server, runtime)  # /healthz, /metrics (open: see dashboard.auth)
    for name, password, role, where in logins:
        out.print(f"demo login: {name} / {password}  ({role}, {where})", highlight=False)
    if runtime.tasking is not None:
        from tasking.api import credentials, register_api

        register_api(app.server, runtime.tasking.service, credentials(settings.api_tokens))
    url = f"http://{args.host}:{args.port}/"
    out.print(
        f"[bold green]command center running[/]: {url}  "
        f"({len(scenario.messages)} scenario messages at {args.speedup:g}x real time; Ctrl-C stops)",
        highlight=False,
    )
    if args.verbose < 2:  # per-request lines would bury everything else
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("dash").setLevel(logging.WARNING)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    finally:
        feeder.stop()
        feeder.join(timeout=5)
        runtime.close()
    return 0
