"""``icc dashboard``: the page over an existing state directory, following the journal a
worker writes, with users only from ``ICC_USERS_FILE``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from icc.config import Settings
from icc.runtime import Runtime
from icc.serve import JournalFollower
from ingest.sources import RawMessage
from tests.factories import incident

from .conftest import _HASH, PASSWORD, free_port

REPO = Path(__file__).resolve().parents[2]


def _raw(msg: dict, n: int) -> RawMessage:
    return RawMessage(json.dumps(msg, ensure_ascii=False).encode("utf-8"), "test", str(n))


def test_the_follower_applies_what_a_worker_journals(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    worker = Runtime.open(settings)
    worker.ingestor.process([_raw(incident("ZJ-330211-0001"), 1)])
    dashboard = Runtime.open(settings, rebuild=False)
    try:
        follower = JournalFollower(dashboard, interval_s=0.05)
        assert follower.catch_up() == 1  # the rebuild
        assert {c.case_id for c in dashboard.cases.cases()} == {"ZJ-330211-0001"}
        follower.start()
        worker.ingestor.process([_raw(incident("ZJ-330211-0002"), 2)])
        deadline = time.monotonic() + 10
        while len(dashboard.cases.cases()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {c.case_id for c in dashboard.cases.cases()} == {"ZJ-330211-0001", "ZJ-330211-0002"}
        follower.stop()
        follower.join(timeout=5)
        assert follower.applied == 2 and follower.catch_up() == 0
        # the dashboard's metrics count the stream it follows
        totals = dashboard.ingestor.totals
        assert (totals.received, totals.accepted, totals.by_kind["incident"]) == (2, 2, 2)
    finally:
        dashboard.close()
        worker.close()
    with pytest.raises(ValueError, match="interval_s = 0: expected a positive number"):
        JournalFollower(dashboard, interval_s=0)


def _icc(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:  # noqa: ANN003
    return subprocess.Popen(
        [sys.executable, "-m", "icc", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_icc_dashboard_needs_a_users_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ICC_USERS_FILE"}
    env["ICC_DATA_DIR"] = str(tmp_path / "state")
    out, _ = _icc(["dashboard", "--port", str(free_port())], env).communicate(timeout=120)
    assert "ICC_USERS_FILE is not set" in out
    env["ICC_USERS_FILE"] = str(tmp_path / "missing.toml")
    proc = _icc(["dashboard", "--port", str(free_port())], env)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "missing.toml" in out and "no such file" in out


@pytest.mark.slow
def test_icc_dashboard_serves_the_state(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    worker = Runtime.open(settings)
    worker.ingestor.process([_raw(incident("ZJ-330211-0001"), 1)])
    worker.close()
    users = tmp_path / "users.toml"
    users.write_text(
        f'[[user]]\nname = "li"\nrole = "commander"\njurisdiction = 330000\npassword = "{_HASH}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "ICC_DATA_DIR": str(settings.data_dir), "ICC_USERS_FILE": str(users)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _icc(["dashboard", "--port", str(port)], env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            try:
                if requests.get(base + "/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "icc dashboard did not answer within 120 s"
            time.sleep(0.5)
        assert requests.get(base + "/healthz", timeout=10).json()["cases"] == 1
        assert "icc_cases 1" in requests.get(base + "/metrics", timeout=10).text
        with requests.Session() as s:
            assert s.get(base + "/", timeout=10, allow_redirects=False).status_code == 302
            resp = s.post(
                base + "/login",
                data={"username": "li", "password": PASSWORD},
                allow_redirects=False,
                timeout=30,
            )
            assert resp.status_code == 302
            page = s.get(base + "/", timeout=30)
            assert page.status_code == 200 and "Investigation Command Center" in page.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
