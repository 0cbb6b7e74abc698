"""Benchmark: the live map with a province's worth of cases, in headless Chromium.

Run as ``python -m bench.dashboard [--quick] [--json] [--cases N] [--series N]``.
Both pages are served on loopback from this process and driven by Playwright
with Debian ``/usr/bin/chromium``:

* **ours** — :func:`dashboard.app.create_app` (signed in as a province analyst):
  cases as one GeoJSON payload drawn as canvas circle markers, series as
  links, county alert colours, KPI strip and series list;
* **baseline** — what a Dash user would write first: the same outlines and
  one ``dash_leaflet.CircleMarker`` component per case in a ``LayerGroup``,
  redrawn when the state version changes, polled with the same back-pressure
  as ours (without it, once a redraw takes longer than the poll interval, each
  answer is superseded by the next poll and the map never updates at all).

Figures (the same for both):

* ``first_load_ms`` — from navigation start until every case is drawn
  (median of the loads);
* ``update_p50_ms``/``update_p95_ms`` — a new case is added to the state; from
  the browser sending the poll that returns it until the frame in which the
  new case is drawn (server work + transfer + parse + render; the wait for
  the next poll, at most ``refresh_ms``, is excluded and reported apart as
  ``refresh_ms`` in the params);
* ``update_bytes`` — the body size of that response;
* ``is_capped`` — 1 if a page did not finish within :data:`CAP_MS` (3 min): its
  figure is then the cap, a lower bound.

Targets (issue 9): first load < 3 s and update p95 < 1 s with 30k cases and
200 series in view; ``meets_*`` flags are 1 when met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import bench_parser, emit, ratios, stderr

__all__ = ["BenchReader", "main", "synthetic_state"]

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=CST)

# browser-side: resolve with performance.now() in the first animation frame where ``cond`` holds
#: give up waiting for a page after this long (the figure is then reported as this cap)
CAP_MS = 180_000.0

# the latest callback response with a body, finished by time t: [startTime, bytes]
_REQUEST_JS = """(t) => {
  const hits = performance.getEntriesByType("resource").filter(
    (e) => e.name.includes("_dash-update-component") && e.responseEnd <= t && e.encodedBodySize > 2000);
  if (!hits.length) { return null; }
  const e = hits[hits.length - 1];
  return [e.startTime, e.encodedBodySize];
}"""


class BenchReader:
    """A thread-safe :class:`~dashboard.query.StateReader` over generated view records."""

    def __init__(self, cases: list, series: list) -> None:  # noqa: ANN001
        self._lock = threading.Lock()
        self._cases = sorted(cases, key=lambda c: c.reported_at)
        self._series = series
        self._version = 1
        self._now = NOW

    def add(self, case: Any) -> None:
        with self._lock:
            self._cases = [*self._cases, case]
            self._now = max(self._now, case.reported_at)
            self._version += 1

    def version(self) -> int:
        return self._version

    def now(self) -> dt.datetime:
        return self._now

    def cases(self, since: dt.datetime | None = None, categories: frozenset[str] | None = None):  # noqa: ANN201
        with self._lock:
            cases = self._cases
        return [
            c
            for c in cases
            if (since is None or c.reported_at >= since)
            and (categories is None or c.category in categories)
        ]

    def series(self) -> list:
        return list(self._series)

    def teams(self) -> list:
        return []

    def case_detail(self, case_id: str) -> None:
        return None

    def stats(self) -> Any:
        from dashboard.query import Stats

        with self._lock:
            cases = self._cases
        return Stats(
            messages_accepted=len(cases),
            cases=len(cases),
            series=len(self._series),
            by_category=dict(Counter(c.category for c in cases)),
        )


def synthetic_state(n_cases: int, n_series: int, seed: int = 7) -> tuple[list, list]:
    """``n_cases`` cases around real county centres over 30 days, ``n_series`` series of
    five cases each (chained links with one evidence sentence)."""
    from dashboard.query import CaseView, LinkView, SeriesView
    from geo.jurisdictions import load_province

    rng = random.Random(seed)
    counties = load_province(330000).counties
    anchors = [
        (int(code), float(p.x), float(p.y))
        for code, p in zip(counties.index, counties.geometry.representative_point(), strict=True)
    ]
    categories = ["theft.fuel", "theft.cargo", "burglary.commercial", "robbery", "fraud.telecom"]
    cases = []
    for i in range(n_cases):
        county, x, y = rng.choice(anchors)
        reported = NOW - dt.timedelta(minutes=rng.uniform(1, 30 * 24 * 60))
        cases.append(
            CaseView(
                case_id=f"ZJ-{county}-{i:06d}",
                category=rng.choice(categories),
                lon=x + rng.uniform(-0.04, 0.04),
                lat=y + rng.uniform(-0.04, 0.04),
                reported_at=reported,
                occurred_start=reported - dt.timedelta(hours=8),
                occurred_end=reported - dt.timedelta(hours=1),
                county=county,
                city=county // 100 * 100,
                loss_cny=round(rng.uniform(0, 20000), 0),
            )
        )
    chosen = rng.sample(range(n_cases), min(n_cases, 5 * n_series))
    series = []
    by_index = {}
    for s in range(n_series):
        members = [cases[j] for j in chosen[5 * s : 5 * s + 5]]
        if len(members) < 2:
            break
        sid = f"S-{s + 1:04d}"
        for m in members:
            by_index[m.case_id] = sid
        links = tuple(
            LinkView(a.case_id, b.case_id, 0.9, (("vehicle", f"浙B{s:05d} seen near both scenes"),))
            for a, b in zip(members, members[1:], strict=False)
        )
        series.append(
            SeriesView(
                sid,
                tuple(m.case_id for m in members),
                counties=tuple(sorted({m.county for m in members})),
                updated_at=max(m.reported_at for m in members),
                links=links,
                key_entities=(f"浙B{s:05d}",),
            )
        )
    import dataclasses

    cases = [
        dataclasses.replace(c, series_id=by_index[c.case_id], status="linked")
        if c.case_id in by_index
        else c
        for c in cases
    ]
    return cases, series


def _baseline_app(reader: BenchReader, refresh_ms: int) -> Any:
    """The plain dash-leaflet page: one CircleMarker component per case."""
    import dash
    import dash_leaflet as dl
    from dash import Input, Output, State, dcc, html

    from dashboard.live import next_want
    from dashboard.map import FAMILY_COLORS, base_layers, family_of

    assets = Path(__file__).resolve().parents[1] / "dashboard" / "assets"  # the outline styles
    app = dash.Dash(__name__, serve_locally=True, update_title=None, assets_folder=str(assets))
    app.layout = html.Div(
        [
            dl.Map(
                id="map",
                center=[29.2, 120.5],
                zoom=7,
                style={"height": "850px"},
                children=[
                    *base_layers(330000),
                    dl.Pane(name="baseline", children=dl.LayerGroup(id="layer", children=[])),
                ],
            ),
            dcc.Interval(id="refresh", interval=refresh_ms),
            dcc.Store(id="want"),
            dcc.Store(id="memo"),
        ]
    )

    # the same poll/redraw back-pressure as ours (without it a redraw slower than the
    # interval is superseded by the next poll and never shown)
    @app.callback(
        Output("want", "data"),
        Input("refresh", "n_intervals"),
        State("want", "data"),
        State("memo", "data"),
    )
    def poll(_n: int | None, want: dict | None, memo: dict | None) -> dict:
        # a 30k-component redraw can take longer than the app's lost-answer timeout
        now = reader.now()
        return next_want(reader.version(), now, "all", want, memo, time.time(), CAP_MS / 1000)

    @app.callback(
        Output("layer", "children"),
        Output("memo", "data"),
        Input("want", "data"),
        Input("refresh", "interval"),  # not an output of anything: the first draw runs at load
    )
    def redraw(want: dict | None, _interval: int) -> tuple[list, dict]:
        version = reader.version()
        markers = [
            dl.CircleMarker(
                center=[c.lat, c.lon],
                radius=6 if c.series_id else 4,
                color="#111111" if c.series_id else "#ffffff",
                weight=1,
                fillColor=FAMILY_COLORS[family_of(c.category)],
                fillOpacity=0.9,
                children=dl.Tooltip(f"{c.case_id} · {c.category}"),
            )
            for c in reader.cases()
        ]
        return markers, {"version": version, "want": (want or {}).get("seq", 0)}

    return app


@contextmanager
def _serve(flask_app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _new_case(i: int) -> Any:
    from dashboard.query import CaseView

    reported = NOW + dt.timedelta(minutes=i + 1)
    return CaseView(
        case_id=f"ZJ-330211-U{i:05d}",
        category="theft.fuel",
        lon=121.6 + 0.001 * i,
        lat=29.95,
        reported_at=reported,
        occurred_start=reported - dt.timedelta(hours=2),
        occurred_end=reported,
        county=330211,
        city=330200,
    )


def _wait(page: Any, cond: str, arg: Any) -> float | None:
    """``performance.now()`` of the first animation frame in which the JS condition ``cond``
    (over ``arg``) holds; ``None`` after :data:`CAP_MS`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"(arg) => {cond}", arg=arg, polling="raf", timeout=CAP_MS)
    except PlaywrightTimeout:
        return None
    return float(page.evaluate("performance.now()"))


def _measure(
    page: Any,
    url: str,
    reader: BenchReader,
    drawn_all: str,
    drawn_one: str,
    loads: int,
    updates: int,
    offset: int,
) -> dict[str, float]:
    """First loads and updates of one page; ``drawn_all``/``drawn_one`` are JS conditions."""
    n = len(reader.cases())
    first = []
    capped = 0.0
    for _ in range(loads):
        page.goto(url, wait_until="commit")
        done = _wait(page, drawn_all, n)
        capped = max(capped, 1.0 if done is None else 0.0)
        first.append(CAP_MS if done is None else done)
        stderr.print(f"[dim]  first load {first[-1]:.0f} ms")
        if done is None:
            break
    page.evaluate("performance.setResourceTimingBufferSize(100000)")
    page.wait_for_timeout(500)
    times, sizes = [], []
    for i in range(updates):
        page.evaluate("performance.clearResourceTimings()")
        case = _new_case(offset + i)
        reader.add(case)
        n += 1
        done = _wait(page, drawn_one, [case.case_id, n])
        if done is None:
            capped = 1.0
            times.append(CAP_MS)
            break
        hit = page.evaluate(_REQUEST_JS, done)
        if hit is None:
            log.warning("update %d: no callback response found; skipped", i)
            continue
        times.append(done - hit[0])
        sizes.append(hit[1])
        page.wait_for_timeout(200)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))] if times else 0.0
    return {
        "first_load_ms": round(statistics.median(first), 1),
        "update_p50_ms": round(statistics.median(times), 1) if times else 0.0,
        "update_p95_ms": round(p95, 1),
        "update_bytes": float(statistics.median(sizes)) if sizes else 0.0,
        "is_capped": capped,
    }


def run(n_cases: int, n_series: int, loads: int, updates: int, refresh_ms: int) -> dict:
    from playwright.sync_api import sync_playwright

    from dashboard.app import create_app
    from dashboard.audit import AuditLog
    from dashboard.auth import User, UserStore, hash_password

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stderr.print(f"generating {n_cases:,} cases and {n_series} series ...")
    cases, series = synthetic_state(n_cases, n_series)
    password = secrets.token_urlsafe(12)
    users = UserStore([User("bench", "analyst", 330000, hash_password(password, n=2**12))])
    ours_reader = BenchReader(cases, series)
    base_reader = BenchReader(cases, series)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        audit = AuditLog(Path(tmp) / "audit.sqlite")
        ours_app = create_app(ours_reader, refresh_ms=refresh_ms, users=users, audit=audit)
        base_app = _baseline_app(base_reader, refresh_ms)
        with (
            _serve(ours_app.server) as ours_url,
            _serve(base_app.server) as base_url,
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(ours_url + "login")
                page.fill("#username", "bench")
                page.fill("#password", password)
                page.click("#login-submit")
                page.wait_for_selector("#map")
                stderr.print("ours: dash-leaflet GeoJSON + canvas circle markers")
                ours = _measure(
                    page,
                    ours_url,
                    ours_reader,
                    "window.iccDrawn && window.iccDrawn.size >= arg",
                    "window.iccDrawn && window.iccDrawn.has(arg[0])",
                    loads,
                    updates,
                    0,
                )
                page.close()
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                stderr.print("baseline: one dash-leaflet CircleMarker component per case")
                sel = ".leaflet-baseline-pane path"
                baseline = _measure(
                    page,
                    base_url,
                    base_reader,
                    f"document.querySelectorAll({sel!r}).length >= arg",
                    f"document.querySelectorAll({sel!r}).length >= arg[1]",
                    loads,
                    updates,
                    0,
                )
            finally:
                browser.close()
        audit.close()
    ours["meets_first_load_3s"] = 1.0 if ours["first_load_ms"] < 3000 else 0.0
    ours["meets_update_p95_1s"] = 1.0 if ours["update_p95_ms"] < 1000 else 0.0
    return {
        "bench": "dashboard",
        "params": {
            "cases": n_cases,
            "series": n_series,
            "first_loads": loads,
            "updates": updates,
            "refresh_ms": refresh_ms,
            "browser": "Debian chromium (headless)",
        },
        "ours": ours,
        "baseline": baseline,
        "ratio": {
            k: v for k, v in ratios(ours, baseline).items() if not k.startswith(("is_", "meets_"))
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard", description=__doc__, parents=[bench_parser()]
    )
    parser.add_argument("--cases", type=int, default=None, help="cases in view (30000)")
    parser.add_argument("--series", type=int, default=None, help="series in view (200)")
    parser.add_argument("--updates", type=int, default=None, help="updates measured (20)")
    parser.add_argument("--refresh-ms", type=int, default=250)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium (make chromium)")
    n_cases = args.cases or (2000 if args.quick else 30_000)
    n_series = args.series or (20 if args.quick else 200)
    updates = args.updates or (4 if args.quick else 20)
    loads = 1 if args.quick else 3
    started = time.perf_counter()
    result = run(n_cases, n_series, loads, updates, args.refresh_ms)
    stderr.print(f"[dim]bench dashboard took {time.perf_counter() - started:.0f} s")
    emit(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
