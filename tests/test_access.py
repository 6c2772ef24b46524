"""Access and privacy: roles and grants deployed and diffed, PII masked for roles without pii_reader,
retention purged exactly, and all of it skipped (with one notice) on the plain local target.

Roles, grants and masking run on the Snowflake-rules target (incidents.targets.rules), which emulates them;
what that emulation does not cover is listed in incidents/testing_access.py and the README."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import REPO, copy_project
from incidents import Workspace
from incidents.cli import app
from incidents.engine.desired import desired_state
from incidents.engine.validate import check_statement
from incidents.errors import ConfigError, TargetError
from incidents.kinds import forms
from incidents.kinds.access_object import is_access_statement, match
from incidents.kinds.base import DesiredState
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.sql.text import split_statements
from incidents.workspace import committed_files

READER, ANALYST, WRITER, PII = (f"INCIDENTS_DEV_{k}" for k in ("READER", "ANALYST", "WRITER", "PII_READER"))
AS_OF = "2027-03-01"  # the seed's year ends 2026-06-30: some attachments (365 days) expire, no comment (730)


def cli(runner: CliRunner, root: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(root)])


def _deploy_and_seed(base: Path, edition: str) -> tuple[Path, Path]:
    """The repository's project, deployed and seeded (300 incidents) on the Snowflake-rules target."""
    import os

    root = copy_project(base / "project")
    if edition == "standard":
        text = (root / "config" / "project.yml").read_text(encoding="utf-8")
        (root / "config" / "project.yml").write_text(
            text.replace("    target: local        #", "    target: local\n    edition: standard  #", 1),
            encoding="utf-8")
    old = {k: os.environ.get(k) for k in ("INCIDENTS_LOCAL_RULES", "INCIDENTS_LOCAL_DIR")}
    os.environ.update(INCIDENTS_LOCAL_RULES=f"snowflake:{edition}", INCIDENTS_LOCAL_DIR=str(base / "local"))
    try:
        with Workspace.open(root) as ws:
            ws.deploy()
            ws.seed(incidents=300, end=dt.date(2026, 6, 30))
    finally:
        for key, value in old.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return root, base / "local"


_BUILT: dict[str, tuple[Path, Path]] = {}


@pytest.fixture
def seeded(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, local_dir: Path,
           monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """seeded(edition): this test's copy of the project deployed + seeded on the Snowflake-rules
    target of that edition (built once per test process)."""
    def make(edition: str = "enterprise") -> Path:
        if edition not in _BUILT:
            _BUILT[edition] = _deploy_and_seed(tmp_path_factory.mktemp(f"access-{edition}"), edition)
        root, local = _BUILT[edition]
        shutil.copytree(root, tmp_path / "project")
        shutil.copytree(local, local_dir)
        monkeypatch.setenv("INCIDENTS_LOCAL_RULES", f"snowflake:{edition}")
        return tmp_path / "project"
    return make


@pytest.fixture
def workspace(seeded: Callable[[str], Path]) -> Iterator[Workspace]:
    with Workspace.open(seeded("enterprise")) as ws:
        yield ws


ACCESS_KINDS = {"role", "grant", "masking_policy", "tag", "secure_view", "stream", "procedure", "task"}


def _access_objects(state: DesiredState) -> list[object]:
    return [o for o in state.all() if o.kind in ACCESS_KINDS and o.deployed]


def rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in ws.query(sql)]


# --------------------------------------------------------------------------- rendered SQL

def test_rendered_access_and_task_files_parse_as_snowflake_sql() -> None:
    project = load_project(REPO)
    env = environment(project, "dev")
    files = committed_files(Deployment(project, env))
    for rel in ("sql/04_access.sql", "sql/05_audit_and_retention.sql"):
        for statement in split_statements(files[rel]):
            check_statement(statement, rel)
        assert (REPO / rel).read_text(encoding="utf-8") == files[rel]  # committed as rendered
    access = files["sql/04_access.sql"]
    assert access.count("CREATE ROLE IF NOT EXISTS") == 4
    assert "SET MASKING POLICY INCIDENTS.CORE.PII_EMAIL_MASK FORCE" in access
    assert "GRANT SELECT ON VIEW INCIDENTS.CORE.V_INCIDENT_OVERVIEW TO ROLE INCIDENTS_DEV_READER" in access
    assert "ON TABLE INCIDENTS.CORE.USERS TO ROLE INCIDENTS_DEV_READER" not in access  # reader: views only
    tasks = files["sql/05_audit_and_retention.sql"]
    assert ("CREATE STREAM IF NOT EXISTS INCIDENTS.CORE.INCIDENTS_AUDIT_STREAM ON TABLE INCIDENTS.CORE.INCIDENTS"
            in tasks)
    assert "SCHEDULE = 'USING CRON 0 3 * * * UTC'" in tasks
    Workspace(project, env).validate()  # every statement, and each one inside the procedures


@pytest.mark.parametrize("statement", [
    "GRANT SELECT ON VIEW A.B.C FROM ROLE R",                        # GRANT ... FROM
    "GRANT SELECT ON FUTURE VIEWS IN DATABASE A TO ROLE R",          # not the schema form we render
    "CREATE MASKING POLICY IF NOT EXISTS P AS (val VARCHAR) RETURNS VARCHAR -> CASE WHEN THEN END",
    "CREATE OR REPLACE TASK T SCHEDULE = 'every day' AS CALL P()",
    "ALTER TABLE T MODIFY COLUMN C SET MASKING POLICY",
])
def test_the_grammar_check_refuses_what_snowflake_would(statement: str) -> None:
    with pytest.raises(ConfigError):
        check_statement(statement, "test")


def test_every_rendered_access_statement_follows_a_documented_form() -> None:
    project = load_project(REPO)
    for name in ("dev", "prod"):
        env = environment(project, name)
        state = desired_state(Deployment(project, env))
        access = [o for o in state.all() if o.kind in ACCESS_KINDS]
        assert access
        for obj in access:
            for statement in obj.statements:
                if is_access_statement(statement):
                    assert match(forms(), statement), statement


def test_standard_edition_masks_with_secure_views_and_keeps_pii_tables_from_analyst(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    path = root / "config" / "project.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("    data_retention_days: 1\n",
                                                             "    data_retention_days: 1\n    edition: standard\n"),
                    encoding="utf-8")
    project = load_project(root)
    env = environment(project, "staging")
    state = desired_state(Deployment(project, env))
    kinds = {str(o.kind) for o in state.all()}
    assert "masking_policy" not in kinds and "tag" not in kinds and "secure_view" in kinds
    analyst = {(g.model.on, g.model.name) for g in state.of("grant") if g.model.role == "INCIDENTS_STAGING_ANALYST"}
    assert ("VIEW", "USERS_MASKED") in analyst and ("TABLE", "USERS") not in analyst
    assert ("TABLE", "SLA_POLICIES") in analyst  # no PII in it


# --------------------------------------------------------------------------- the plain local target

@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_the_local_target_skips_access_with_one_notice(runner: CliRunner, project_copy: Path,
                                                       local_dir: Path) -> None:
    result = cli(runner, project_copy, "deploy", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["notices"]) == 1 and "Snowflake-only" in report["notices"][0]
    assert not [s for s in report["steps"] if s["object_kind"] in ("role", "grant", "masking_policy", "task")]
    text = cli(runner, project_copy, "deploy")
    assert text.exit_code == 0
    assert [line for line in text.stderr.splitlines() if line.startswith("note:")] == [
        line for line in text.stderr.splitlines() if line.strip()]
    assert len(text.stderr.strip().splitlines()) == 1
    assert cli(runner, project_copy, "diff").exit_code == 0  # nothing of access is drift here


# --------------------------------------------------------------------------- who may see what

@pytest.mark.slow  # shares the seeded rules-target fixture; one test of it stays in the default suite
def test_a_role_without_pii_reader_reads_masked_values_even_the_owner(workspace: Workspace) -> None:
    query = "SELECT email, full_name FROM users WHERE role = 'engineer' ORDER BY user_id LIMIT 3"
    owner = rows(workspace, query)  # the deploy role owns the table, and holds no pii_reader (dev declares no role)
    workspace.session.execute(f"USE ROLE {PII}")
    clear = rows(workspace, query)
    workspace.session.execute(f"USE ROLE {ANALYST}")
    masked = rows(workspace, query)
    assert len(masked) == 3 and masked == owner
    for (email, name), (clear_email, clear_name) in zip(masked, clear, strict=True):
        assert email == "***@" + str(clear_email).split("@")[1] != clear_email  # the domain is kept
        assert name == str(clear_name)[0] + "***"
    bodies = rows(workspace, "SELECT DISTINCT body FROM incident_comments")
    assert bodies == [("***",)]


@pytest.mark.slow  # shares the seeded rules-target fixture; one test of it stays in the default suite
def test_a_reader_reads_the_views_but_not_the_base_tables(workspace: Workspace) -> None:
    workspace.session.execute(f"USE ROLE {READER}")
    assert rows(workspace, "SELECT COUNT(*) FROM v_incident_overview") == [(300,)]
    for table in ("users", "incidents", "incident_comments"):
        with pytest.raises(TargetError, match="does not exist or not authorized"):
            workspace.query(f"SELECT COUNT(*) FROM {table}")


@pytest.mark.slow  # shares the seeded rules-target fixture; one test of it stays in the default suite
def test_a_writer_updates_lifecycle_tables_but_not_reference_rows(workspace: Workspace) -> None:
    workspace.session.execute(f"USE ROLE {WRITER}")
    workspace.session.execute("UPDATE incidents SET root_cause = 'disk full' WHERE incident_id = 1")
    with pytest.raises(TargetError, match="not authorized"):
        workspace.session.execute("UPDATE sla_policies SET description = 'x'")
    workspace.session.execute(f"USE ROLE {READER}")
    with pytest.raises(TargetError, match="not authorized"):
        workspace.session.execute("UPDATE incidents SET root_cause = 'x' WHERE incident_id = 1")


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_standard_edition_analyst_reads_pii_masked_through_the_secure_view(seeded: Callable[[str], Path]) -> None:
    with Workspace.open(seeded("standard")) as ws:
        assert ws.diff().in_sync  # secure views, their grants, no masking policy: all as declared
        clear = rows(ws, "SELECT email FROM users ORDER BY user_id LIMIT 1")[0][0]
        ws.session.execute(f"USE ROLE {ANALYST}")
        with pytest.raises(TargetError, match="not authorized"):
            ws.query("SELECT email FROM users")
        assert rows(ws, "SELECT email FROM users_masked ORDER BY user_id LIMIT 1") == [
            ("***@" + str(clear).split("@")[1],)]
        ws.session.execute(f"USE ROLE {PII}")
        assert rows(ws, "SELECT email FROM users_masked ORDER BY user_id LIMIT 1") == [(clear,)]


# --------------------------------------------------------------------------- grants diffed like tables

@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_diff_reports_grants_added_and_revoked_by_hand(seeded: Callable[[str], Path], runner: CliRunner) -> None:
    root = seeded("enterprise")
    assert cli(runner, root, "diff").exit_code == 0
    with Workspace.open(root) as ws:
        ws.session.execute(f"REVOKE SELECT ON VIEW INCIDENTS.CORE.V_TEAM_PERFORMANCE FROM ROLE {READER}")
        ws.session.execute(f"GRANT SELECT ON TABLE INCIDENTS.CORE.USERS TO ROLE {READER}")
    drift = cli(runner, root, "diff", "--format", "json")
    assert drift.exit_code == 1
    changes = [(c["kind"], c["declared"] or c["live"]) for c in json.loads(drift.stdout)["changes"]]
    assert changes == [("missing_grant", f"SELECT ON VIEW V_TEAM_PERFORMANCE TO ROLE {READER}"),
                       ("unexpected_grant", f"SELECT ON TABLE USERS TO ROLE {READER}")]
    refused = cli(runner, root, "deploy")  # the missing grant comes back; the revoke needs consent
    assert refused.exit_code == 1 and "--allow-destructive" in refused.stderr, refused.output
    changes = [c["kind"] for c in json.loads(cli(runner, root, "diff", "--format", "json").stdout)["changes"]]
    assert changes == ["unexpected_grant"]
    assert cli(runner, root, "deploy", "--allow-destructive").exit_code == 0
    assert cli(runner, root, "diff").exit_code == 0
    with Workspace.open(root) as ws:
        ws.session.execute(f"USE ROLE {READER}")
        with pytest.raises(TargetError, match="not authorized"):
            ws.query("SELECT COUNT(*) FROM users")


@pytest.mark.slow  # shares the seeded rules-target fixture; one test of it stays in the default suite
def test_diff_reads_grants_in_a_number_of_queries_fixed_by_the_roles(workspace: Workspace) -> None:
    before = len(workspace.trace)
    assert workspace.diff().in_sync
    sent = [s.sql for s in workspace.trace[before:] if s.obj != "session"]  # the connection's set-up, once
    grants = [s for s in sent if s.startswith(("SHOW GRANTS", "SHOW FUTURE GRANTS"))]
    assert len(grants) == 2 * 4 + 1  # TO and OF per role, FUTURE once
    assert sum(s.startswith("SHOW TASKS") for s in sent) == 1  # every task's state, once
    assert sum(s.startswith("SHOW STREAMS") for s in sent) == 1  # every stream's staleness, once
    assert sum("TAG_REFERENCES_ALL_COLUMNS(" in s for s in sent) == 1  # every PII table's tags, in one query
    # The schema's own introspection (4, clustering keys with the tables), the tasks, the masking policies,
    # the streams, the tags.
    assert len(sent) - len(grants) <= 8


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_a_dropped_role_is_created_again_with_its_grants(seeded: Callable[[str], Path], runner: CliRunner) -> None:
    from incidents.targets.rules import rules_state

    root = seeded("enterprise")
    local = Path(__import__("os").environ["INCIDENTS_LOCAL_DIR"])
    state = rules_state(local)
    state.roles.pop(WRITER)
    state.grants = {k: [e for e in v if not e.endswith(f"ROLE {WRITER}")] for k, v in state.grants.items()}
    state.save()
    drift = json.loads(cli(runner, root, "diff", "--format", "json").stdout)["changes"]
    assert drift[0]["kind"] == "missing_role" and {c["object"] for c in drift} == {WRITER}
    assert cli(runner, root, "deploy").exit_code == 0
    assert cli(runner, root, "diff").exit_code == 0


# --------------------------------------------------------------------------- retention

EXPIRED = {"incident_comments": ("created_at", 730), "incident_attachments": ("uploaded_at", 365),
           "data_quality_results": ("checked_at", 90)}


def _counts(ws: Workspace) -> dict[str, tuple[int, int]]:
    """(expired, kept) rows per retained table, counted directly."""
    found = {}
    for table, (column, days) in EXPIRED.items():
        [(expired, kept)] = rows(ws, f"SELECT COUNT_IF({column} < DATEADD(day, -{days}, '{AS_OF}'::TIMESTAMP_NTZ)), "
                                     f"COUNT_IF({column} >= DATEADD(day, -{days}, '{AS_OF}'::TIMESTAMP_NTZ)) "
                                     f"FROM {table}")
        found[table] = (int(expired or 0), int(kept or 0))  # COUNT_IF over no rows: NULL on the local target
    ws.close()  # the CLI opens the local target next; one process holds it at a time
    return found


def test_purge_dry_run_counts_equal_a_direct_count_and_purge_removes_exactly_those(
        workspace: Workspace, runner: CliRunner) -> None:
    before = _counts(workspace)
    assert before["incident_attachments"][0] > 0 and before["incident_attachments"][1] > 0
    incidents = rows(workspace, "SELECT COUNT(*) FROM incidents")
    root = workspace.project.root
    workspace.close()
    dry = cli(runner, root, "purge", "--dry-run", "--as-of", AS_OF, "--format", "json")
    assert dry.exit_code == 0, dry.output
    counted = {t["table"]: t["rows"] for t in json.loads(dry.stdout)["tables"]}
    assert counted == {table: expired for table, (expired, _) in before.items()}
    assert _counts(workspace) == before  # a dry run deletes nothing
    done = cli(runner, root, "purge", "--as-of", AS_OF, "--yes")  # a future --as-of needs --yes
    assert done.exit_code == 0, done.output
    assert re.search(rf"{before['incident_attachments'][0]}\s+row\(s\) older than 365 days", done.stdout)
    assert _counts(workspace) == {table: (0, kept) for table, (_, kept) in before.items()}
    assert rows(workspace, "SELECT COUNT(*) FROM incidents") == incidents  # the incident itself is kept
    workspace.close()
    again = cli(runner, root, "purge", "--as-of", AS_OF, "--yes", "--format", "json")
    assert json.loads(again.stdout)["total"] == 0


def test_purge_on_a_snowflake_environment_needs_yes(runner: CliRunner, project_copy: Path, local_dir: Path) -> None:
    result = cli(runner, project_copy, "purge", "--env", "prod")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --yes: purge deletes rows in env prod (snowflake); rerun with --yes, or with --dry-run to count "
        "them first"]


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("tables/users.yml", "nullable: false, default: \"TRUE\",", "nullable: false, default: \"TRUE\", pii: true,",
     "columns[5].pii: only VARCHAR columns can be masked"),
    ("tables/users.yml", "pii: email}", "pii: phone}", "columns[1].pii: unknown kind 'phone'"),
    ("project.yml", "    reader: {}", "    auditor: {}", "access.roles.auditor: unknown key"),
    ("project.yml", "purge_schedule: USING CRON 0 3 * * * UTC", "purge_schedule: daily",
     "access.purge_schedule: expected 'USING CRON"),
    ("tables/incidents.yml", "primary_key: [incident_id]",
     "primary_key: [incident_id]\nretention: {days: 30, column: created_at}",
     "config/tables/incident_alerts.yml: foreign_keys[0]: references incidents, which declares "
     "retention"),
    ("tables/incident_comments.yml", "retention: {days: 730, column: created_at}",
     "retention: {days: 730, column: body}", "body is VARCHAR(16777216); retention needs a DATE or TIMESTAMP column"),
])
def test_access_config_mistakes_are_one_line_naming_file_and_key(runner: CliRunner, project_copy: Path,
                                                                 file: str, old: str, new: str, message: str) -> None:
    path = project_copy / "config" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = cli(runner, project_copy, "validate")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: config/") and message in line, line
    assert message.startswith("config/") or line.startswith(f"error: config/{file}:"), line


# --------------------------------------------------------------------------- audit without triggers

@pytest.mark.slow  # shares the seeded rules-target fixture; one test of it stays in the default suite
def test_the_audit_task_records_direct_updates_once_and_leaves_recorded_ones_alone(workspace: Workspace) -> None:
    s = workspace.session

    def one(sql: str) -> object:
        return s.execute(sql)[1][0][0]

    s.execute("EXECUTE TASK audit_incident_changes_task")  # the seed's inserts are not updates: nothing
    start = one("SELECT COUNT(*) FROM incident_status_history"), one("SELECT COUNT(*) FROM incident_assignment_history")
    [(direct, old_status), (recorded, recorded_status)] = s.execute(
        "SELECT incident_id, status FROM incidents WHERE status IN ('new', 'acknowledged', 'investigating') "
        "ORDER BY incident_id LIMIT 2")[1]
    new_assignee = one("SELECT MIN(user_id) FROM users WHERE role = 'engineer'")
    # A reassignment to another team (the local target cannot UPDATE a foreign-key column such as
    # assignee_id of a referenced table: DuckDB rewrites it as a delete and an insert).
    s.execute(f"UPDATE incidents SET status = 'mitigated', assigned_team = 'audit-test team', updated_at = SYSDATE() "
              f"WHERE incident_id = {direct}")
    # A change made the way the lifecycle makes them: the incident and its history row together.
    s.execute(f"UPDATE incidents SET status = 'identified', updated_at = SYSDATE() WHERE incident_id = {recorded}")
    s.execute("INSERT INTO incident_status_history (status_history_id, incident_id, previous_status, new_status, "
              f"changed_by, change_reason, changed_at) SELECT MAX(status_history_id) + 1, {recorded}, "
              f"'{recorded_status}', 'identified', {new_assignee}, 'by the tool', SYSDATE() "
              "FROM incident_status_history")
    assert one("SELECT COUNT(*) FROM incidents_audit_stream") == 4  # two updates: a DELETE and an INSERT row each

    s.execute("EXECUTE TASK audit_incident_changes_task")
    # Found by its user_key: its e-mail reads masked, to the owner too (dev's deploy role holds no pii_reader).
    assert one("SELECT COUNT(*) FROM users WHERE email = 'audit@system.incidents.invalid'") == 0
    [(audit_user, audit_email)] = s.execute("SELECT user_id, email FROM users WHERE user_key = 'system:audit'")[1]
    assert audit_email == "***@system.incidents.invalid"
    rows = s.execute("SELECT incident_id, previous_status, new_status, changed_by FROM incident_status_history "
                     "WHERE change_reason LIKE 'Recorded by the audit task%'")[1]
    assert rows == [(direct, old_status, "mitigated", audit_user)]
    [(team, assigned_by)] = s.execute("SELECT new_team, assigned_by FROM incident_assignment_history "
                                      "WHERE assignment_reason LIKE 'Recorded by the audit task%'")[1]
    assert (team, assigned_by) == ("audit-test team", audit_user)
    assert one("SELECT COUNT(*) FROM incident_status_history") == start[0] + 2  # the tool's row and the audit's
    assert one("SELECT COUNT(*) FROM incidents_audit_stream") == 0  # consumed
    s.execute("EXECUTE TASK audit_incident_changes_task")
    assert one("SELECT COUNT(*) FROM incident_status_history") == start[0] + 2  # once, not again
    assert one("SELECT COUNT(*) FROM incident_assignment_history") == start[1] + 1


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_a_table_dropped_by_hand_gets_its_masking_policy_and_grants_back(seeded: Callable[[str], Path],
                                                                         runner: CliRunner) -> None:
    from incidents.targets.rules import rules_state

    root = seeded("enterprise")
    local = Path(__import__("os").environ["INCIDENTS_LOCAL_DIR"])
    with Workspace.open(root) as ws:
        ws.session.execute("DROP TABLE INCIDENTS.CORE.INCIDENT_COMMENTS")
    assert "INCIDENT_COMMENTS.BODY" not in rules_state(local).masked
    changes = json.loads(cli(runner, root, "diff", "--format", "json").stdout)["changes"]
    assert [c["kind"] for c in changes] == ["missing_table"]  # its grants and policy go with it, unlisted
    assert cli(runner, root, "deploy").exit_code == 0
    assert rules_state(local).masked["INCIDENT_COMMENTS.BODY"] == "PII_TEXT_MASK"
    assert cli(runner, root, "diff").exit_code == 0
    with Workspace.open(root) as ws:
        ws.session.execute(f"USE ROLE {ANALYST}")
        assert rows(ws, "SELECT COUNT(*) FROM incident_comments") == [(0,)]


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_project_without_access_declares_no_roles_and_renders_no_access_files(
        tmp_path: Path, local_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_project(tmp_path / "p")
    path = root / "config" / "project.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("# Who may see what")
    path.write_text(text[:start] + text[text.index("# Free-form values"):], encoding="utf-8")
    project = load_project(root)
    env = environment(project, "dev")
    assert env.access is None and not _access_objects(desired_state(Deployment(project, env)))
    assert "sql/04_access.sql" not in committed_files(Deployment(project, env))
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")  # a target that has roles: still none made
    result = cli(runner, root, "deploy", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["notices"] == [] and not [s for s in report["steps"] if s["object_kind"] in ("role", "grant")]


def test_check_runs_clean_with_masking_on_under_a_deploy_role_without_pii_reader(workspace: Workspace) -> None:
    result = workspace.check()  # masked e-mails all read ***@shop.example: compared, they would all be duplicates
    assert result.ok, [f.to_dict() for f in result.failed]
    assert rows(workspace, "SELECT detail FROM data_quality_results WHERE check_name = 'duplicate_key' "
                           "AND table_name = 'users' AND column_name = 'email'") == [
        (f"not checked: email read masked; run check under a role with {PII}",)]
