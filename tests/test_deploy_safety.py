"""Deploys that are killed or run twice: history is written step by step, the next deploy
converges, and a deploy lock keeps two deploys from applying at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app
from incidents.sql.session import Session
from incidents.workspace import Workspace


class Killed(BaseException):
    """Stands in for kill -9 / Ctrl-C: not an error the tool handles, it just stops."""


def kill_after(monkeypatch: pytest.MonkeyPatch, statements: int) -> None:
    sent = {"n": 0}
    real = Session.execute

    def execute(self: Session, sql: str, *args: object, **kwargs: object) -> object:
        if sql.lstrip().upper().startswith(("CREATE", "ALTER", "MERGE", "COMMENT")):
            sent["n"] += 1
            if sent["n"] > statements:
                raise Killed
        return real(self, sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "execute", execute)


def history(ws: Workspace) -> list[dict[str, object]]:
    sql = "SELECT OBJECT_KIND, OBJECT_NAME, STATUS FROM incidents_deploy_history ORDER BY DEPLOYED_AT"
    return ws.query(sql).to_records()


@pytest.mark.slow  # the kill-anywhere cases of tests/test_faults.py cover the same in the slow step too
@pytest.mark.parametrize("statements", [3, 20, 40])
def test_a_killed_deploy_leaves_history_for_every_completed_step(
        statements: int, project_copy: Path, local_dir: Path, monkeypatch: pytest.MonkeyPatch,
        runner: CliRunner) -> None:
    with monkeypatch.context() as patch:
        kill_after(patch, statements)
        with Workspace.open(project_copy) as ws, pytest.raises(Killed):
            ws.deploy()
    with Workspace.open(project_copy) as ws:
        recorded = {(r["OBJECT_KIND"], r["OBJECT_NAME"]) for r in history(ws)} if statements > 3 else set()
        live = {r["TABLE_NAME"].lower() for r in ws.query(
            "SELECT TABLE_NAME FROM information_schema.tables WHERE table_schema = 'CORE'")}
        # Every object the killed deploy created (bar the lock) has its history row.
        created = {name for name in live if name != "incidents_deploy_lock"}
        assert created <= {name for _, name in recorded} | ({"incidents_deploy_history"} if statements <= 3 else set())
        again = ws.deploy()
        assert again.applied and not again.refused
        assert ws.diff().in_sync
    # A config change to a table the killed deploy created is drift afterwards.
    users = project_copy / "config" / "tables" / "users.yml"
    users.write_text(users.read_text(encoding="utf-8").replace("comment: Everyone who", "comment: All who", 1),
                     encoding="utf-8")
    drift = runner.invoke(app, ["diff", "--format", "json", "--project-dir", str(project_copy)])
    assert drift.exit_code == 1, drift.output
    changes = {(c["kind"], c["object"]) for c in json.loads(drift.stdout)["changes"]}
    # fakesnow does not report table comments back, so the history checksum is what sees it here.
    assert changes in ({("table_comment_changed", "users")}, {("config_changed", "users")})


@pytest.mark.slow
def test_a_deploy_interrupted_holding_the_lock_does_not_block_the_next_one(
        project_copy: Path, local_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        kill_after(patch, 12)
        patch.setattr("incidents.engine.lock.DeployLock.release", lambda self: None)  # as if killed -9
        with Workspace.open(project_copy) as ws, pytest.raises(Killed):
            ws.deploy()
    with Workspace.open(project_copy) as ws:
        held = ws.query("SELECT DEPLOY_ID FROM incidents_deploy_lock")
        assert held[0]["DEPLOY_ID"] is not None  # the dead deploy still "holds" it
        ws.deploy(lock_timeout=0)  # local target: one process at a time, so a held lock is stale
        assert ws.diff().in_sync
        assert ws.query("SELECT DEPLOY_ID FROM incidents_deploy_lock")[0]["DEPLOY_ID"] is None


# --------------------------------------------------------------------------- two deploys at once

def _deploy_process(home: Path, repo: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SNOWFLAKE_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "incidents", "deploy", "-q", "--connection", "fake",
                             "--project-dir", str(repo), "--env", "staging", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _home(tmp_path: Path, server: dict) -> Path:
    home = tmp_path / "snowflake"
    home.mkdir()
    (home / "connections.toml").write_text(
        f'[fake]\naccount = "fakesnow"\nuser = "fake"\npassword = "snow"\nwarehouse = "COMPUTE_WH"\n'
        f'host = "{server["host"]}"\n'
        f'port = {server["port"]}\nprotocol = "http"\nnetwork_timeout = 30\nlogin_timeout = 30\n'
        "[fake.session_parameters]\nCLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false\n", encoding="utf-8")
    os.chmod(home / "connections.toml", 0o600)
    return home


@pytest.mark.slow
@pytest.mark.server
def test_two_deploys_at_once_one_waits_or_gives_up(server: dict, repo: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    first = _deploy_process(home, repo)
    with Workspace.open(repo, env="staging", connection="fake") as ws:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the first deploy holds the lock
            try:
                if ws.query("SELECT DEPLOY_ID FROM INCIDENTS_STAGING.CORE.INCIDENTS_DEPLOY_LOCK")[0]["DEPLOY_ID"]:
                    break
            except Exception:
                pass
            time.sleep(0.05)
        impatient = _deploy_process(home, repo, "--lock-timeout", "0")
        _, err = impatient.communicate(timeout=120)
        assert impatient.returncode == 3, err
        assert "deploy in progress by" in err and "since" in err and "Traceback" not in err
        patient = _deploy_process(home, repo, "--lock-timeout", "120")
        _, err1 = first.communicate(timeout=180)
        out2, err2 = patient.communicate(timeout=180)
        assert first.returncode == 0, err1
        assert patient.returncode == 0, err2
        assert "Deployed 0 change(s)" in out2 or "Up to date" in out2, out2  # the first one did it all
        created = ws.query("SELECT OBJECT_NAME, COUNT(*) AS n FROM INCIDENTS_STAGING.CORE.INCIDENTS_DEPLOY_HISTORY "
                           "WHERE ACTION = 'create' GROUP BY OBJECT_NAME HAVING COUNT(*) > 1")
        assert created.to_records() == [], "an object was created by both deploys"
        assert ws.diff().in_sync


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_deploy_json_is_printed_also_when_a_step_fails(project_copy: Path, local_dir: Path,
                                                       runner: CliRunner) -> None:
    view = project_copy / "templates" / "views" / "v_category_tree.sql.j2"
    view.write_text("SELECT 1 AS category_id FROM no_such_table", encoding="utf-8")
    views = project_copy / "config" / "views.yml"
    text = views.read_text(encoding="utf-8")
    start = text.index("  - name: v_category_tree")
    end = text.index("  - name:", start + 1)
    views.write_text(text[:start] + "  - name: v_category_tree\n    comment: Broken on purpose.\n"
                     "    columns: {category_id: The id.}\n" + text[end:], encoding="utf-8")
    result = runner.invoke(app, ["deploy", "--format", "json", "--project-dir", str(project_copy)])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    failed = [s for s in report["steps"] if s["status"] == "failed"]
    assert [(s["object_kind"], s["object"]) for s in failed] == [("view", "v_category_tree")]
    assert "NO_SUCH_TABLE" in failed[0]["error"].upper()
    assert any(s["status"] == "ok" for s in report["steps"])
    assert result.stderr.startswith("target error:")


@pytest.mark.slow
def test_a_statement_validate_would_reject_is_never_sent(project_copy: Path, local_dir: Path,
                                                         runner: CliRunner) -> None:
    args = ["--project-dir", str(project_copy)]
    assert runner.invoke(app, ["deploy", "-q", *args]).exit_code == 0
    view = project_copy / "templates" / "views" / "v_reopen_rate.sql.j2"
    view.write_text(view.read_text(encoding="utf-8").replace("    GROUP BY h.incident_id\n)",
                                                             "    GROUP BY h.incident_id\n) ) (", 1), encoding="utf-8")
    sla = project_copy / "config" / "tables" / "sla_policies.yml"  # a safe change in the same deploy
    text = sla.read_text(encoding="utf-8")
    sla.write_text(text.replace("columns:\n", "columns:\n  - {name: notes, type: TEXT}\n", 1), encoding="utf-8")
    refused = runner.invoke(app, ["deploy", *args])
    assert refused.exit_code == 2 and "dynamic_table v_reopen_rate" in refused.stderr  # a materialized view
    # Nothing of that deploy ran: the column is not there, the old view still answers, no history row.
    with Workspace.open(project_copy) as ws:
        assert [r["NAME"] for r in ws.query("SELECT column_name AS name FROM information_schema.columns "
                                            "WHERE table_name = 'SLA_POLICIES' AND column_name = 'NOTES'")] == []
        assert ws.query("SELECT COUNT(*) AS n FROM v_reopen_rate")[0]["N"] >= 0
        assert len(ws.history().deploys) == 1


def test_a_deploy_cut_off_before_its_end_has_its_bookkeeping_finished_by_the_next(
        runner: CliRunner, repo: Path, deployed_local: Path) -> None:
    """Cut after its last step but before its end row: the views it replaced have no fingerprint, so a
    view replaced by hand would go unseen. The next deploy records them (and its own end)."""
    with Workspace.open(repo) as ws:
        ws.session.execute("DELETE FROM incidents_deploy_history WHERE OBJECT_KIND IN ('deploy', 'column')")
        ws.session.execute("UPDATE incidents_deploy_history SET FINGERPRINT = NULL")
    plan = runner.invoke(app, ["plan", "--project-dir", str(repo)])
    assert "record deploy INCIDENTS.CORE" in plan.stdout, plan.stdout
    finished = runner.invoke(app, ["deploy", "--format", "json", "--project-dir", str(repo)])
    assert finished.exit_code == 0, finished.output
    assert [(s["object_kind"], s["action"]) for s in json.loads(finished.stdout)["steps"]] == [("deploy", "record")]
    with Workspace.open(repo) as ws:
        assert ws.history(limit=1).deploys[0].outcome == "ok"
        before = len(ws.trace)
        assert ws.deploy().up_to_date and len(ws.trace) - before <= 4  # a no-op again
        ws.session.execute("CREATE OR REPLACE VIEW INCIDENTS.CORE.V_INCIDENT_HEATMAP AS SELECT 1 AS X")
        [change] = ws.diff().changes
    assert (change.kind, change.object, change.detail) == ("changed_view", "v_incident_heatmap",
                                                           "view was replaced outside incidents")
