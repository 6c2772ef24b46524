"""Fault injection: a cold deploy through the real connector loses its network after statement k
(tests/faultproxy.py in front of the fakesnow server). Whatever k, the failed deploy exits 3 with
one line, the next deploy converges, `diff` is clean and `history` shows the attempt that failed.

The default suite runs a sample of k; `-m slow` a wider one; benchmarks/fault_sweep.py every k.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from faultproxy import FaultProxy
from incidents.workspace import Workspace

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[1]


def fault_project(dest: Path, database: str) -> Path:
    """A copy of the repository's project whose staging environment deploys into `database`
    (the fakesnow server is shared by every test of the process)."""
    from conftest import copy_project

    project = copy_project(dest)
    config = project / "config" / "project.yml"
    text = config.read_text(encoding="utf-8")
    assert "database: INCIDENTS_STAGING" in text
    config.write_text(text.replace("database: INCIDENTS_STAGING", f"database: {database}"), encoding="utf-8")
    return project


def snowflake_home(dest: Path, port: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "connections.toml").write_text(
        f'[fake]\naccount = "fakesnow"\nuser = "fake"\npassword = "snow"\nhost = "127.0.0.1"\nport = {port}\n'
        'protocol = "http"\nwarehouse = "WH"\nnetwork_timeout = 2\nlogin_timeout = 5\n'
        "[fake.session_parameters]\nCLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false\n", encoding="utf-8")
    os.chmod(dest / "connections.toml", 0o600)
    return dest


def deploy_process(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SNOWFLAKE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "incidents", "deploy", "--env", "staging", "--connection", "fake",
                           "--lock-timeout", "5", "-q", "--project-dir", str(project)],
                          env=env, capture_output=True, text=True, timeout=600)


def cut_and_recover(server: dict, tmp_path: Path, k: int, lose: str) -> dict[str, object]:
    """Deploy with the network cut after statement k, then deploy again with it back; return what
    a user would see of both."""
    project = fault_project(tmp_path / "project", f"FAULT_{lose.upper()}_{k}")
    proxy = FaultProxy((server["host"], server["port"]), cut_after=k, lose=lose)
    home = snowflake_home(tmp_path / "snowflake", proxy.port)
    try:
        failed = deploy_process(project, home)
        proxy.heal()
        again = deploy_process(project, home)
        os.environ["SNOWFLAKE_HOME"] = str(home)
        try:
            with Workspace.open(project, env="staging", connection="fake") as ws:
                diff = ws.diff()
                history = ws.history(limit=5)
        finally:
            os.environ.pop("SNOWFLAKE_HOME")
    finally:
        proxy.close()
    return {"failed": failed, "again": again, "diff": diff, "history": history}


def assert_converged(outcome: dict[str, object]) -> None:
    failed, again = outcome["failed"], outcome["again"]
    assert failed.returncode == 3, failed.stdout + failed.stderr  # type: ignore[union-attr]
    lines = failed.stderr.splitlines()  # type: ignore[union-attr]
    assert len(lines) == 1 and lines[0].startswith("target error: "), failed.stderr  # type: ignore[union-attr]
    assert "snow" not in lines[0].replace("snowflake", "").replace("fakesnow", ""), "no password"
    assert again.returncode == 0, again.stdout + again.stderr  # type: ignore[union-attr]
    assert outcome["diff"].in_sync, [c.as_dict() for c in outcome["diff"].changes]  # type: ignore[union-attr]
    deploys = outcome["history"].deploys  # type: ignore[union-attr]
    assert deploys[0].outcome == "ok"  # the deploy that converged
    if len(deploys) > 1:  # the attempt, once it got as far as creating the history table
        assert [d.outcome for d in deploys[1:]] in (["interrupted"], ["failed"]), [d.outcome for d in deploys]


@pytest.mark.slow
def test_a_deploy_whose_answer_is_lost_mid_way_converges_next_time(server: dict, tmp_path: Path) -> None:
    # Statement 41 of a cold deploy runs on the server, but its answer never arrives.
    outcome = cut_and_recover(server, tmp_path, 41, "response")
    assert_converged(outcome)
    attempt = outcome["history"].deploys[1]  # type: ignore[union-attr]
    assert attempt.outcome == "interrupted" and attempt.count("ok") > 5  # its completed steps are recorded


@pytest.mark.slow
@pytest.mark.parametrize("lose", ["request", "response"])
@pytest.mark.parametrize("k", [0, 1, 3, 6, 10, 15, 24, 30, 50, 70])
def test_a_deploy_cut_off_anywhere_converges_next_time(server: dict, tmp_path: Path, k: int, lose: str) -> None:
    outcome = cut_and_recover(server, tmp_path, k, lose)
    if outcome["failed"].returncode == 0:  # type: ignore[union-attr]
        pytest.skip(f"a cold deploy sends fewer than {k + 1} statements")
    assert_converged(outcome)
