"""The live map in a real browser (Debian chromium driven by Playwright).

Test 1 serves ``create_app`` over a reader whose case list grows in a thread;
test 2 is the acceptance test "``icc demo`` serves the page" and runs the real
command. Both assert that the page requests nothing but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard.app import create_app

from .conftest import NOW, ListReader, free_port, make_case

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).with_name("_artifacts")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# SVG paths of the outline layers in Leaflet's overlay pane (cases live in their own pane).
OUTLINE_PATHS = ".leaflet-overlay-pane svg path"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture
def browser_page() -> Iterator:
    """A fresh chromium page that records the host of every request it makes."""
    sync_api = pytest.importorskip("playwright.sync_api")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.requested = []  # type: ignore[attr-defined]
            page.on("request", lambda req: page.requested.append(req.url))  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def _case_count(page) -> int:  # noqa: ANN001 - playwright Page
    text = page.inner_text("#case-count").strip().replace(",", "")
    return int(text) if text.isdigit() else -1


def _wait_for_count(page, predicate, timeout_s: float) -> int:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    count = _case_count(page)
    while not predicate(count):
        if time.monotonic() > deadline:
            raise AssertionError(f"#case-count stayed at {count} for {timeout_s:.0f} s")
        page.wait_for_timeout(250)
        count = _case_count(page)
    return count


def _assert_loopback_only(requested: list[str]) -> None:
    assert requested, "the page made no requests at all"
    outside = [u for u in requested if urlsplit(u).hostname != "127.0.0.1"]
    assert not outside, f"the page requested outside hosts: {outside[:10]}"


def _wait_for_outlines(page) -> None:  # noqa: ANN001
    page.wait_for_function(
        f"document.querySelectorAll({OUTLINE_PATHS!r}).length >= 90", timeout=60_000
    )


class _Grower(threading.Thread):
    """Adds one case every ``every_s`` seconds until ``n`` were added."""

    def __init__(self, reader: ListReader, n: int, every_s: float) -> None:
        super().__init__(name="case-grower", daemon=True)
        self.reader, self.n, self.every_s = reader, n, every_s
        self.stop = threading.Event()

    def run(self) -> None:
        counties = [330211, 330782, 330106, 330302, 330481, 330522, 331002, 330902]
        for i in range(self.n):
            if self.stop.wait(self.every_s):
                return
            county = counties[i % len(counties)]
            category = ("theft.fuel", "fraud.telecom", "burglary.commercial", "robbery")[i % 4]
            later = NOW + dt.timedelta(minutes=10 * (i + 1))
            self.reader.add(
                make_case(f"ZJ-{county}-G{i:03d}", category, county, 0, now=later), now=later
            )


def test_live_map_updates_and_stays_local(browser_page, serve, sample_cases) -> None:  # noqa: ANN001
    reader = ListReader(sample_cases)
    grow = 6
    app = create_app(reader, refresh_ms=300)
    url = serve(app.server)
    grower = _Grower(reader, grow, every_s=0.4)
    page = browser_page
    try:
        page.goto(url, wait_until="domcontentloaded")
        assert page.title() == "Investigation Command Center — 浙江省"
        _wait_for_outlines(page)
        grower.start()
        final = _wait_for_count(page, lambda c: c == len(sample_cases) + grow, timeout_s=60)
        assert final == len(sample_cases) + grow
        page.wait_for_function(
            f"document.querySelectorAll('.leaflet-cases-pane path').length === {final}",
            timeout=20_000,
        )
        status = page.inner_text("#status")
        assert f"{final} cases" in status and "dead-lettered" in status
        n_outline = page.locator(OUTLINE_PATHS).count()
        assert n_outline >= 90 + 11 + 1, n_outline
        grower.join(timeout=10)

        # The time filter is relative to the stream time: the last hour holds the grown cases.
        since = reader.now() - dt.timedelta(hours=1)
        recent = sum(1 for c in reader.cases() if c.reported_at >= since)
        assert 0 < recent < final
        page.get_by_role("option", name="last 1 h").click()
        _wait_for_count(page, lambda c: c == recent, timeout_s=20)
        page.get_by_role("option", name="all", exact=True).click()
        _wait_for_count(page, lambda c: c == final, timeout_s=20)

        # The category filter narrows the drawn cases; "Deselect All" shows everything again.
        page.click("#category-filter")
        options = page.locator(".dash-dropdown-options")
        options.get_by_role("option", name="robbery", exact=True).click()
        robberies = sum(1 for c in reader.cases() if c.category == "robbery")
        _wait_for_count(page, lambda c: c == robberies, timeout_s=20)
        page.get_by_text("Deselect All").click()
        page.keyboard.press("Escape")
        _wait_for_count(page, lambda c: c == final, timeout_s=20)

        ARTIFACTS.mkdir(exist_ok=True)
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "map.png"))
    finally:
        grower.stop.set()
        grower.join(timeout=5)
    _assert_loopback_only(page.requested)


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"icc demo exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"icc demo did not answer at {url} within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the process and its children (``make`` runs the demo as a child)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child left behind by make


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("icc.cli") is None, reason="the icc console script is not written yet"
)
def test_make_demo_serves_the_page(browser_page, tmp_path: Path) -> None:  # noqa: ANN001
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "ICC_DATA_DIR": str(tmp_path / "data")}
    log_path = tmp_path / "demo.log"
    venv_python = REPO / ".venv" / "bin" / "python"
    if (
        shutil.which("make")
        and venv_python.exists()
        and Path(sys.executable).resolve() == venv_python.resolve()
    ):
        # exactly what a newcomer types (the venv is already installed by `make test`)
        cmd = ["make", "-s", "demo", f"PORT={port}", "SPEEDUP=600"]
    else:
        cmd = [
            sys.executable,
            "-m",
            "icc",
            "demo",
            "--port",
            str(port),
            "--speedup",
            "600",
            "--seed",
            "3",
            "--scale",
            "0.1",
            "--reset",
        ]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            try:
                _wait_http(url, proc, timeout_s=120)
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\n--- demo output ---\n{log_path.read_text()[-4000:]}"
                ) from exc
            page = browser_page
            page.goto(url, wait_until="domcontentloaded")
            _wait_for_outlines(page)
            count = _wait_for_count(page, lambda c: c > 0, timeout_s=90)
            assert count > 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo.png"))
            _assert_loopback_only(page.requested)
        finally:
            _stop(proc)
