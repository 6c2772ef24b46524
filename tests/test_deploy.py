"""Deploy on the local target: round trip through INFORMATION_SCHEMA, idempotence, persistence
across processes, dry runs and the deploy history."""

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
from incidents.engine.apply import deploy
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE
from incidents.sql import types as sqltypes
from incidents.targets.local import open_local

DDL_PREFIXES = ("CREATE", "ALTER", "DROP", "COMMENT", "MERGE", "INSERT", "UPDATE", "DELETE")


def _ddl(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(DDL_PREFIXES)]


def test_round_trip_live_schema_matches_config_and_second_deploy_runs_no_ddl(repo: Path, tmp_path: Path,
                                                                             target_heavy: str) -> None:
    project = load_project(repo)
    env = environment(project, "dev")
    session = open_local(tmp_path, env)
    try:
        first = deploy(session, Deployment(project, env))
        assert not first.refused and first.applied
        columns = session.query(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
            "NUMERIC_SCALE, IS_NULLABLE FROM INCIDENTS.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'CORE'")
        live = {(r["TABLE_NAME"], r["COLUMN_NAME"]): r for r in columns}
        for table in project.tables:
            for column in table.columns:
                row = live.get((table.name.upper(), column.name.upper()))
                assert row is not None, f"{table.name}.{column.name} missing"
                live_type = sqltypes.from_information_schema(
                    row["DATA_TYPE"], row["CHARACTER_MAXIMUM_LENGTH"], row["NUMERIC_PRECISION"], row["NUMERIC_SCALE"])
                assert sqltypes.same_on_backend(column.type, live_type, "local"), (table.name, column.name, live_type)
                assert (row["IS_NULLABLE"] == "YES") == column.nullable, (table.name, column.name)
        assert (HISTORY_TABLE.upper(), "CHECKSUM") in live

        session.trace.clear()
        second = deploy(session, Deployment(project, env))
        assert second.up_to_date
        sent = [s.sql for s in session.trace]
        assert _ddl(sent) == [], sent
        grants = [s for s in sent if s.startswith("SHOW GRANTS") or s.startswith("SHOW FUTURE GRANTS")]
        # Access, where the target has it: SHOW GRANTS TO and OF each of the 4 roles, future grants once.
        assert len(grants) in (0, 2 * 4 + 1), grants
        # and where it has access, one query each: the tasks' states (SHOW TASKS), where the masking policies
        # are set, where the tag is set, and which streams are stale (SHOW STREAMS).
        access_reads = [s for s in sent if s.startswith(("SHOW TASKS", "SHOW STREAMS")) or "POLICY_REFERENCES(" in s
                        or "TAG_REFERENCES_ALL_COLUMNS(" in s]
        assert len(access_reads) in (0, 4), access_reads
        # The schema's own reads stay 4 on both targets (the clustering keys come with the tables).
        assert len(sent) - len(grants) - len(access_reads) <= 4, sent
    finally:
        session.close()


@pytest.mark.slow
def test_deploy_records_history_with_checksums(repo: Path, tmp_path: Path) -> None:
    project = load_project(repo)
    env = environment(project, "dev")
    session = open_local(tmp_path, env)
    try:
        report = deploy(session, Deployment(project, env))
        rows = session.query(f"SELECT * FROM INCIDENTS.CORE.{HISTORY_TABLE.upper()} ORDER BY OBJECT_KIND, OBJECT_NAME")
    finally:
        session.close()
    ended = [r for r in rows if r["OBJECT_KIND"] == "deploy"]  # the row that says the deploy ended
    assert [(r["OBJECT_NAME"], r["ACTION"], r["STATUS"]) for r in ended] == [("INCIDENTS.CORE", "finish", "ok")]
    # One row per applied step, plus the live text of each default (what diff compares to).
    defaults = [r for r in rows if r["OBJECT_KIND"] == "column"]
    rows = [r for r in rows if r["OBJECT_KIND"] not in ("column", "deploy")]
    assert len(rows) == len(report.applied)
    assert {r["OBJECT_NAME"] for r in defaults} == {f"{t.name}.{c.name}" for t in project.tables for c in t.columns
                                                     if c.default is not None}
    assert all(r["ACTION"] == "record" and len(r["CHECKSUM"]) == len(r["FINGERPRINT"]) == 64 for r in defaults)
    tables = {r["OBJECT_NAME"]: r for r in rows if r["OBJECT_KIND"] == "table"}
    assert set(tables) >= {t.name for t in project.tables}
    for row in rows:
        assert row["STATUS"] == "ok" and row["ENV"] == "dev" and row["TOOL_VERSION"]
        assert len(row["CHECKSUM"]) == 64
        assert row["DURATION_MS"] >= 0 and row["STATEMENTS"] >= 1
    assert len({r["DEPLOY_ID"] for r in rows}) == 1


@pytest.mark.slow
def test_reference_rows_are_seeded_once_and_user_edits_survive(project_copy: Path, tmp_path: Path) -> None:
    project = load_project(project_copy)
    env = environment(project, "dev")
    fq = "INCIDENTS.CORE.SLA_POLICIES"
    session = open_local(tmp_path / "db", env)
    try:
        deploy(session, Deployment(project, env))
        rows = session.query(f"SELECT PRIORITY, RESOLVE_MINUTES FROM {fq} ORDER BY PRIORITY")
        assert {r["PRIORITY"]: r["RESOLVE_MINUTES"] for r in rows} == {
            "critical": 240, "high": 480, "low": 14400, "medium": 4320}
        # A user tightens a target by hand; an unchanged redeploy does not touch it.
        session.execute(f"UPDATE {fq} SET RESOLVE_MINUTES = 120 WHERE PRIORITY = 'critical'")
        assert deploy(session, Deployment(project, env)).up_to_date
        # The config gains a row: deploy merges it in and still keeps the user's edit.
        path = project_copy / "config" / "tables" / "sla_policies.yml"
        path.write_text(path.read_text() + "    - {priority: urgent, acknowledge_minutes: 1, "
                        "first_response_minutes: 5, resolve_minutes: 60}\n")
        changed = load_project(project_copy)
        report = deploy(session, Deployment(changed, env))
        assert [(r.step.object_kind, r.step.action) for r in report.applied] == [("reference_data", "merge")]
        rows = session.query(f"SELECT PRIORITY, RESOLVE_MINUTES FROM {fq} ORDER BY PRIORITY")
    finally:
        session.close()
    assert {r["PRIORITY"]: r["RESOLVE_MINUTES"] for r in rows} == {
        "critical": 120, "high": 480, "low": 14400, "medium": 4320, "urgent": 60}


def test_dry_run_prints_ordered_statements_and_changes_nothing(repo: Path, local_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["deploy", "--dry-run", "--project-dir", str(repo)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "CREATE DATABASE IF NOT EXISTS INCIDENTS;" in out
    assert out.index("CREATE DATABASE") < out.index("CREATE SCHEMA") < out.index("INCIDENTS.CORE.USERS (")
    assert out.index("INCIDENTS.CORE.USERS (") < out.index("INCIDENTS.CORE.INCIDENTS (")
    assert out.index("INCIDENTS.CORE.INCIDENTS (") < out.index("INCIDENTS.CORE.INCIDENT_STATUS_HISTORY (")
    # Nothing was created: a second dry run plans the same thing.
    again = runner.invoke(app, ["deploy", "--dry-run", "--project-dir", str(repo)])
    assert again.output == out


@pytest.mark.slow
def test_deploy_cli_text_and_json(repo: Path, local_dir: Path, runner: CliRunner) -> None:
    first = runner.invoke(app, ["deploy", "--project-dir", str(repo)])
    assert first.exit_code == 0, first.output + first.stderr
    assert "create   table           incidents" in first.output
    assert "Deployed" in first.output
    second = runner.invoke(app, ["deploy", "--project-dir", str(repo), "--format", "json"])
    assert second.exit_code == 0
    payload = json.loads(second.output)
    assert payload["up_to_date"] is True and payload["steps"] == [] and payload["env"] == "dev"
    text = runner.invoke(app, ["deploy", "--project-dir", str(repo)])
    assert "Up to date" in text.output


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "incidents", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.slow
def test_persistence_deploy_in_one_process_query_in_another(repo: Path, tmp_path: Path) -> None:
    env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(tmp_path / "db"), "INCIDENTS_PROJECT_DIR": str(repo)}
    assert _cli("deploy", "-q", env=env).returncode == 0
    inserted = _cli("query", "INSERT INTO INCIDENTS.CORE.USERS (USER_ID, EMAIL, FULL_NAME, ROLE) "
                    "VALUES (1, 'ana@example.com', 'Ana', 'engineer')", env=env)
    assert inserted.returncode == 0, inserted.stderr
    result = _cli("query", "SELECT USER_ID, EMAIL, IS_ACTIVE, TIMEZONE FROM USERS", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"USER_ID": 1, "EMAIL": "ana@example.com", "IS_ACTIVE": True,
                                          "TIMEZONE": "UTC"}]
    again = _cli("deploy", env=env)
    assert again.returncode == 0 and "Up to date" in again.stdout


@pytest.mark.slow
def test_lock_held_by_another_process_is_a_clean_exit_3(repo: Path, tmp_path: Path) -> None:
    project = load_project(repo)
    env = environment(project, "dev")
    session = open_local(tmp_path, env)
    try:
        deploy(session, Deployment(project, env))
        env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(tmp_path), "INCIDENTS_PROJECT_DIR": str(repo),
               "INCIDENTS_LOCAL_WAIT": "1"}
        result = _cli("query", "SELECT 1", env=env)
        # a holder that lets go within the wait: the command gets in (as between the receiver's batches)
        waiting = subprocess.Popen([sys.executable, "-m", "incidents", "query", "SELECT 1 AS one", "--format", "csv"],
                                   env={**env, "INCIDENTS_LOCAL_WAIT": "30"}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(2)
    finally:
        session.close()
    assert result.returncode == 3, result.stderr
    assert "another incidents process is using the local database" in result.stderr and "waited 1 s" in result.stderr
    assert "Traceback" not in result.stderr
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and out.splitlines() == ["ONE", "1"], err


def test_sql_error_names_statement_exit_3(repo: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", "SELECT * FROM NO_SUCH_TABLE", "--project-dir", str(repo)])
    assert result.exit_code == 3
    assert result.stderr.startswith("target error: query:")
    assert "NO_SUCH_TABLE" in result.stderr and "[statement: SELECT * FROM NO_SUCH_TABLE]" in result.stderr
    assert "Traceback" not in result.stderr
