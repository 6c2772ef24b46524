"""Schema evolution on tables that hold rows: safe changes keep every row and value, destructive ones are
refused (one line each, naming --allow-destructive) until allowed, and a deploy that fails halfway
converges on the next run with the failure recorded in the history table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from incidents.cli import app
from incidents.engine.apply import deploy, snapshot
from incidents.errors import TargetError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE
from incidents.sql.session import Session
from incidents.targets.local import open_local

REPO = Path(__file__).resolve().parents[1]
FQ = "INCIDENTS.CORE."

# A few hand-written rows, parents first, as a loader would write them.
ROWS = [
    f"INSERT INTO {FQ}USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES "
    "(1, 'ana@example.com', 'Ana', 'engineer'), (2, 'bo@example.com', 'Bo', 'manager')",
    f"INSERT INTO {FQ}INCIDENT_CATEGORIES (CATEGORY_ID, CODE, NAME) VALUES (1, 'PAYMENT', 'Payments')",
    f"INSERT INTO {FQ}INCIDENTS (INCIDENT_ID, INCIDENT_NUMBER, TITLE, CATEGORY_ID, PRIORITY, SEVERITY, "
    "IMPACT_LEVEL, SOURCE, REPORTER_ID) VALUES "
    "(1, 'INC-1', 'Checkout down', 1, 'high', 'SEV2', 'major', 'monitoring', 1), "
    "(2, 'INC-2', 'Slow search', 1, 'low', 'SEV4', 'minor', 'internal', 2)",
    f"INSERT INTO {FQ}INCIDENT_STATUS_HISTORY (STATUS_HISTORY_ID, INCIDENT_ID, PREVIOUS_STATUS, NEW_STATUS, "
    "CHANGED_BY, CHANGE_REASON, CHANGED_AT) VALUES "
    "(1, 1, NULL, 'new', 1, 'opened', '2026-01-01 10:00:00'), "
    "(2, 1, 'new', 'resolved', 2, NULL, '2026-01-01 12:00:00'), "
    "(3, 2, NULL, 'new', 2, 'seen', '2026-01-02 09:00:00')",
    f"INSERT INTO {FQ}SOLUTION_TEMPLATES (SOLUTION_ID, CODE, TITLE, STEPS, CREATED_BY) "
    "SELECT 1, 'RUNBOOK.RESTART', 'Restart', PARSE_JSON('[\"restart\"]'), 1",
    f"INSERT INTO {FQ}INCIDENT_SOLUTIONS (INCIDENT_SOLUTION_ID, INCIDENT_ID, SOLUTION_ID, APPLIED_BY, APPLIED_AT, "
    "EFFECTIVENESS_RATING, TIME_TO_APPLY_MINUTES, NOTES) VALUES (1, 1, 1, 2, '2026-01-01 11:00:00', 4, 15, 'worked')",
]
COUNTED = ("USERS", "INCIDENTS", "INCIDENT_STATUS_HISTORY", "INCIDENT_SOLUTIONS")


def edit(root: Path, table: str, old: str, new: str) -> None:
    path = root / "config" / "tables" / f"{table}.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text, (table, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def cli(runner: CliRunner, root: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(root)])


@pytest.fixture
def root(deployed_copy: Callable[..., Path], target: str) -> Path:
    """A deployed project copy (no views: none are needed here) whose tables hold ROWS, on a fresh
    local target; every test runs on the plain and on the Snowflake-rules target (deployed once per
    process and target, then copied)."""
    return deployed_copy("rows", after=tuple(ROWS), views=False)


def open_session(root: Path, local_dir: Path) -> tuple[Session, Any, Any]:
    project = load_project(root)
    env = environment(project, "dev")
    return open_local(local_dir, env), project, env


def table_rows(session: Session, table: str) -> list[dict[str, Any]]:
    return session.query(f"SELECT * FROM {FQ}{table} ORDER BY 1")


def counts(session: Session) -> dict[str, int]:
    return {t: session.query(f"SELECT COUNT(*) AS N FROM {FQ}{t}")[0]["N"] for t in COUNTED}


def test_safe_evolution_keeps_every_row_and_value(root: Path, local_dir: Path, runner: CliRunner) -> None:
    session, project, env = open_session(root, local_dir)
    try:
        before_counts = counts(session)
        before_history = table_rows(session, "INCIDENT_STATUS_HISTORY")
        before_solution = table_rows(session, "INCIDENT_SOLUTIONS")
    finally:
        session.close()

    # add a nullable column and a NOT NULL one with a default, widen a VARCHAR and a NUMBER,
    # rename a column (declared with renamed_from), add a view
    edit(root, "incident_status_history", "{name: previous_status,",
         "{name: prior_status, renamed_from: previous_status,")
    edit(root, "incident_status_history", "{name: change_reason, type: VARCHAR(1000)",
         "{name: change_reason, type: VARCHAR(4000)")
    edit(root, "incident_status_history", "primary_key:",
         "  - {name: channel, type: VARCHAR(30), nullable: false, default: \"'web'\"}\n"
         "  - {name: note, type: VARCHAR(100)}\nprimary_key:")
    edit(root, "incident_solutions", 'type: "NUMBER(1,0)"', 'type: "NUMBER(3,0)"')
    (root / "config" / "views.yml").write_text(
        "views:\n  - name: v_status_changes\n    columns: {incident_id: The incident., status_changes: Its changes.}\n",
        encoding="utf-8")
    (root / "templates" / "views" / "v_status_changes.sql.j2").write_text(
        "SELECT incident_id, COUNT(*) AS status_changes\nFROM {{ fq('incident_status_history') }}\n"
        "GROUP BY incident_id\n", encoding="utf-8")

    plan = cli(runner, root, "plan")
    assert "DESTRUCTIVE" not in plan.stdout, plan.stdout
    assert "RENAME COLUMN PREVIOUS_STATUS TO PRIOR_STATUS" in plan.stdout
    result = cli(runner, root, "deploy")
    assert result.exit_code == 0, result.output
    assert cli(runner, root, "diff").exit_code == 0

    session, project, env = open_session(root, local_dir)
    try:
        assert counts(session) == before_counts
        after = table_rows(session, "INCIDENT_STATUS_HISTORY")
        for old, new in zip(before_history, after, strict=True):
            assert new["PRIOR_STATUS"] == old["PREVIOUS_STATUS"]
            assert {k: new[k] for k in old if k != "PREVIOUS_STATUS"} == {
                k: v for k, v in old.items() if k != "PREVIOUS_STATUS"}
            assert new["CHANNEL"] == "web" and new["NOTE"] is None
            assert "PREVIOUS_STATUS" not in new
        [solution] = table_rows(session, "INCIDENT_SOLUTIONS")
        assert solution == before_solution[0]
        live = {r["COLUMN_NAME"]: r for r in session.query(
            "SELECT COLUMN_NAME, NUMERIC_PRECISION FROM INCIDENTS.INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = 'CORE' AND TABLE_NAME = 'INCIDENT_SOLUTIONS'")}
        assert live["EFFECTIVENESS_RATING"]["NUMERIC_PRECISION"] == 3
        assert session.query(f"SELECT * FROM {FQ}V_STATUS_CHANGES ORDER BY 1") == [
            {"INCIDENT_ID": 1, "STATUS_CHANGES": 2}, {"INCIDENT_ID": 2, "STATUS_CHANGES": 1}]
        assert not snapshot(session, Deployment(project, env)).changes
    finally:
        session.close()


def test_widening_a_varchar_in_one_session_is_done_in_place(root: Path, local_dir: Path) -> None:
    """Within one session fakesnow still knows VARCHAR lengths: the widening is planned as SET DATA TYPE.
    (Restating the live length teaches fakesnow it again; Snowflake would refuse a narrowing setup.)"""
    edit(root, "incident_status_history", "name: new_status, type: VARCHAR(20)", "name: new_status, type: VARCHAR(40)")
    session, project, env = open_session(root, local_dir)
    try:
        session.execute(f"ALTER TABLE {FQ}INCIDENT_STATUS_HISTORY ALTER COLUMN NEW_STATUS SET DATA TYPE VARCHAR(20)")
        snap = snapshot(session, Deployment(project, env))
        [change] = snap.changes
        assert (change.kind, change.column, change.declared, change.live, change.destructive) == (
            "type_changed", "new_status", "VARCHAR(40)", "VARCHAR(20)", False)
        [step] = snap.steps
        assert step.statements == (f"ALTER TABLE {FQ}INCIDENT_STATUS_HISTORY ALTER COLUMN NEW_STATUS "
                                   "SET DATA TYPE VARCHAR(40);",)
        deploy(session, Deployment(project, env))
        assert not snapshot(session, Deployment(project, env)).changes
        assert len(table_rows(session, "INCIDENT_STATUS_HISTORY")) == 3
    finally:
        session.close()


def test_destructive_changes_are_refused_one_line_each_until_allowed(root: Path, local_dir: Path,
                                                                     runner: CliRunner) -> None:
    edit(root, "incident_solutions", 'time_to_apply_minutes, type: "NUMBER(38,0)"',
         'time_to_apply_minutes, type: "NUMBER(10,0)"')                       # narrow
    edit(root, "incident_solutions", '{name: effectiveness_rating, type: "NUMBER(1,0)",',
         '{name: effectiveness_rating, type: "NUMBER(1,0)", nullable: false,')  # SET NOT NULL, rows present
    edit(root, "incident_solutions",
         '  - {name: notes, type: VARCHAR(4000), comment: "What worked, what did not, what to improve in the '
         'template."}\n', "")                                                   # drop a declared column

    refused = cli(runner, root, "deploy")
    assert refused.exit_code == 1, refused.output
    lines = [line for line in refused.stderr.splitlines() if line.startswith("refused:")]
    assert len(lines) == 3, refused.stderr
    for needle in ("time_to_apply_minutes", "effectiveness_rating", "NOTES"):
        [line] = [line for line in lines if needle in line]
        assert "--allow-destructive" in line
    assert "Traceback" not in refused.output

    session, _, _ = open_session(root, local_dir)
    try:
        [row] = table_rows(session, "INCIDENT_SOLUTIONS")
        assert row["NOTES"] == "worked"  # nothing dropped
    finally:
        session.close()
    assert cli(runner, root, "diff").exit_code == 1

    allowed = cli(runner, root, "deploy", "--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    diff = cli(runner, root, "diff")
    assert diff.exit_code == 0, diff.output  # includes: no false config_changed after the column drop
    session, _, _ = open_session(root, local_dir)
    try:
        [row] = table_rows(session, "INCIDENT_SOLUTIONS")
        assert "NOTES" not in row
        assert (row["TIME_TO_APPLY_MINUTES"], row["EFFECTIVENESS_RATING"]) == (15, 4)
    finally:
        session.close()


def test_not_null_column_without_default_on_a_table_with_rows_is_refused_even_when_allowed(
        root: Path, runner: CliRunner) -> None:
    edit(root, "incident_status_history", "primary_key:",
         "  - {name: channel, type: VARCHAR(30), nullable: false}\nprimary_key:")
    for args in ((), ("--allow-destructive",)):
        result = cli(runner, root, "deploy", *args)
        assert result.exit_code == 1, result.output
        assert "declare a default or make it nullable" in result.stderr
        assert "--allow-destructive" not in result.stderr  # it would not help


def test_failed_deploy_is_recorded_and_the_next_deploy_converges(root: Path, local_dir: Path,
                                                                 runner: CliRunner) -> None:
    # Changing the type family rebuilds the column; 'opened' cannot be cast to a number, so the step fails
    # after its scratch column was added (Snowflake commits each DDL: no rollback).
    edit(root, "incident_status_history", "{name: change_reason, type: VARCHAR(1000)",
         '{name: change_reason, type: "NUMBER(38,0)"')
    edit(root, "incident_comments", "primary_key:", "  - {name: language, type: VARCHAR(8)}\nprimary_key:")
    failed = cli(runner, root, "deploy", "--allow-destructive")
    assert failed.exit_code == 3, failed.output
    assert failed.stderr.startswith("target error:") and "Traceback" not in failed.output

    session, project, env = open_session(root, local_dir)
    try:
        history = session.query(f"SELECT OBJECT_NAME, ACTION, STATUS, CHECKSUM, ERROR FROM {FQ}{HISTORY_TABLE} "
                                f"WHERE DEPLOY_ID = (SELECT DEPLOY_ID FROM {FQ}{HISTORY_TABLE} ORDER BY DEPLOYED_AT "
                                "DESC LIMIT 1) ORDER BY OBJECT_NAME")
        assert [(r["OBJECT_NAME"], r["STATUS"]) for r in history] == [
            ("incident_comments", "ok"), ("incident_status_history", "failed")]
        failed_row = history[1]
        assert failed_row["CHECKSUM"] is None and "opened" in failed_row["ERROR"]
        # Remove the cause, as a person would.
        session.execute(f"UPDATE {FQ}INCIDENT_STATUS_HISTORY SET CHANGE_REASON = '7' WHERE CHANGE_REASON = 'opened'")
        session.execute(f"UPDATE {FQ}INCIDENT_STATUS_HISTORY SET CHANGE_REASON = '8' WHERE CHANGE_REASON = 'seen'")
        kinds = {(c.kind, c.column) for c in snapshot(session, Deployment(project, env)).changes}
        assert ("unexpected_column", "CHANGE_REASON__INCIDENTS_REBUILD") in kinds  # the half-done rebuild
    finally:
        session.close()

    again = cli(runner, root, "deploy", "--allow-destructive")
    assert again.exit_code == 0, again.output
    assert cli(runner, root, "diff").exit_code == 0
    session, _, _ = open_session(root, local_dir)
    try:
        assert [r["CHANGE_REASON"] for r in table_rows(session, "INCIDENT_STATUS_HISTORY")] == [7, None, 8]
    finally:
        session.close()


def test_rebuild_interrupted_after_dropping_the_old_column_keeps_its_values(root: Path, local_dir: Path) -> None:
    """If a rebuild stopped between DROP COLUMN and RENAME, the values live only in the scratch column:
    the next deploy renames it back instead of adding an empty column and dropping the scratch one."""
    session, project, env = open_session(root, local_dir)
    try:
        session.execute(f"ALTER TABLE {FQ}INCIDENT_STATUS_HISTORY RENAME COLUMN CHANGE_REASON "
                        "TO CHANGE_REASON__INCIDENTS_REBUILD")
        [change] = snapshot(session, Deployment(project, env)).changes
        assert (change.kind, change.column, change.destructive) == ("renamed_column", "change_reason", False)
        deploy(session, Deployment(project, env))
        assert not snapshot(session, Deployment(project, env)).changes
        reasons = [r["CHANGE_REASON"] for r in table_rows(session, "INCIDENT_STATUS_HISTORY")]
        assert reasons == ["opened", None, "seen"]
    finally:
        session.close()


def test_stray_object_in_the_way_of_a_missing_table(root: Path, local_dir: Path, runner: CliRunner) -> None:
    """A view holding a missing table's name: CREATE TABLE IF NOT EXISTS would silently skip on fakesnow. The
    create is refused until --allow-destructive drops the view first."""
    session, _, _ = open_session(root, local_dir)
    try:
        session.execute(f"DROP TABLE {FQ}INCIDENT_ATTACHMENTS")
        session.execute(f"CREATE VIEW {FQ}INCIDENT_ATTACHMENTS AS SELECT 1 AS X")
    finally:
        session.close()
    refused = cli(runner, root, "deploy")
    assert refused.exit_code == 1
    assert "view named INCIDENT_ATTACHMENTS is in the way" in refused.stderr
    plan = cli(runner, root, "plan", "--allow-destructive").stdout
    assert plan.index(f"DROP VIEW IF EXISTS {FQ}INCIDENT_ATTACHMENTS;") < plan.index(
        f"CREATE TABLE IF NOT EXISTS {FQ}INCIDENT_ATTACHMENTS (")
    assert cli(runner, root, "deploy", "--allow-destructive").exit_code == 0
    assert cli(runner, root, "diff").exit_code == 0


def make_team_required(root: Path) -> None:
    """users.team becomes NOT NULL while Ana's row has none: SET NOT NULL fails on Snowflake and locally."""
    edit(root, "users", "- {name: team, type: VARCHAR(100),", "- {name: team, type: VARCHAR(100), nullable: false,")


def test_a_failing_statement_is_a_clean_exit_3_with_the_failure_in_the_history(root: Path,
                                                                              runner: CliRunner) -> None:
    """One line naming the object, exit 3, no traceback; the failure is in the history."""
    make_team_required(root)
    result = cli(runner, root, "deploy", "--allow-destructive")
    assert result.exit_code == 3, result.output
    assert "users" in result.stderr and "SET NOT NULL" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    history = cli(runner, root, "query", f"SELECT OBJECT_NAME, STATUS FROM {FQ}{HISTORY_TABLE} "
                                         "WHERE STATUS = 'failed'", "--format", "csv")
    assert history.stdout.splitlines()[1:] == ["users,failed"]


def test_deploy_error_is_a_target_error_in_the_api(root: Path, local_dir: Path) -> None:
    """The API raises TargetError (what the CLI maps to exit 3) and still records the history."""
    make_team_required(root)
    session, project, env = open_session(root, local_dir)
    try:
        with pytest.raises(TargetError, match="TEAM"):
            deploy(session, Deployment(project, env), allow_destructive=True)
        rows = session.query(f"SELECT STATUS FROM {FQ}{HISTORY_TABLE} "
                             "WHERE OBJECT_NAME = 'users' AND STATUS = 'failed'")
        assert rows == [{"STATUS": "failed"}]
    finally:
        session.close()
