"""The tool's own pipelines with masking on (issue 25), on the Snowflake-rules target, which applies masking
policies wherever Snowflake does (targets.rules.masking): to the owner too, inside DML, through views,
with the active roles of owner's-rights procedures and tasks, and with secondary roles.

Two deploy roles: dev as shipped (no `role:`, so pii_reader is granted to nobody and the tool reads PII
masked) and one declaring `role: DEPLOYER` (pii_reader granted to it: the tool reads PII in clear)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app
from incidents.errors import TargetError

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
ANALYST, PII = "INCIDENTS_DEV_ANALYST", "INCIDENTS_DEV_PII_READER"
PEOPLE = ("INSERT INTO users (user_id, email, full_name, role, team, is_active, timezone, created_at) VALUES "
          "(1, 'ana.silva@shop.example', 'Ana Silva', 'engineer', 'platform', TRUE, 'UTC', '2026-01-01'), "
          "(2, 'bo.chen@shop.example', 'Bo Chen', 'engineer', 'platform', TRUE, 'UTC', '2026-01-01'), "
          "(3, 'cy.ode@shop.example', 'Cy Ode', 'manager', 'platform', TRUE, 'UTC', '2026-01-01')")


def _declare_role(role: str) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        config = root / "config" / "project.yml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            "    target: local        #", f"    target: local\n    role: {role}  #", 1), encoding="utf-8")
    return prepare


@pytest.fixture
def deployed(deployed_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], Path]:
    """deployed(role): this test's copy of the project deployed on the rules target with
    three people, its environment declaring that deploy role (None: as shipped, none)."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")

    def make(role: str | None = None) -> Path:
        return deployed_copy(f"masking-{role}", _declare_role(role) if role else None, (PEOPLE,))
    return make


def one(ws: Workspace, sql: str) -> object:
    return ws.session.execute(sql)[1][0][0]


def _pipelines_run_clean(ws: Workspace) -> None:
    """ingest twice, the audit task, check: one system user, incidents opened by it, history by the audit
    user, and no false duplicate (the e-mails read masked alike when the role lacks pii_reader)."""
    ws.ingest((FIXTURES / "firing.json").read_text(encoding="utf-8"))
    target = one(ws, "SELECT MIN(incident_id) FROM incidents WHERE status = 'new'")
    ws.ingest((FIXTURES / "grouped.json").read_text(encoding="utf-8"))
    assert one(ws, "SELECT COUNT(*) FROM users WHERE user_key = 'system:alertmanager'") == 1
    assert one(ws, "SELECT COUNT(*) FROM incidents WHERE source = 'monitoring' AND reporter_id = "
                   "(SELECT user_id FROM users WHERE user_key = 'system:alertmanager')") >= 1
    ws.session.execute("EXECUTE TASK audit_incident_changes_task")  # the inserts so far: nothing to record
    ws.session.execute(f"UPDATE incidents SET status = 'acknowledged' WHERE incident_id = {target}")
    ws.session.execute("EXECUTE TASK audit_incident_changes_task")
    assert one(ws, "SELECT COUNT(*) FROM users WHERE user_key = 'system:audit'") == 1
    assert one(ws, f"SELECT COUNT(*) FROM incident_status_history WHERE incident_id = {target} AND changed_by = "
                   "(SELECT user_id FROM users WHERE user_key = 'system:audit')") == 1
    result = ws.check()
    assert result.ok, [f.to_dict() for f in result.failed]


def test_pipelines_run_clean_under_a_deploy_role_without_pii_reader(deployed: Callable[[str | None], Path]) -> None:
    with Workspace.open(deployed(None)) as ws:
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email NOT LIKE '***@%'") == 0  # the owner reads masked
        _pipelines_run_clean(ws)
        [(detail,)] = ws.session.execute(
            "SELECT detail FROM data_quality_results WHERE check_name = 'duplicate_key' AND table_name = 'users' "
            "AND column_name = 'email' AND record_key IS NULL")[1]
        assert detail == f"not checked: email read masked; run check under a role with {PII}"


def test_pipelines_run_clean_under_a_deploy_role_with_pii_reader(deployed: Callable[[str | None], Path]) -> None:
    with Workspace.open(deployed("DEPLOYER")) as ws:
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email LIKE '***@%'") == 0  # the owner reads in clear
        _pipelines_run_clean(ws)


def test_a_duplicate_email_is_found_by_pii_reader_and_recorded_hashed(deployed: Callable[[str | None], Path]) -> None:
    with Workspace.open(deployed(None)) as ws:
        ws.session.execute(f"GRANT ROLE {PII} TO ROLE DEPLOYER")  # as `role: DEPLOYER` in the env would
        email = "ana.silva@shop.example"
        ws.session.execute("INSERT INTO users (user_id, email, full_name, role, is_active, timezone, created_at) "
                           f"SELECT MAX(user_id) + 1, '{email}', 'Twin', 'engineer', TRUE, 'UTC', SYSDATE() FROM users")
        failed = {(f.table, f.column): f for f in ws.check().failed}
        duplicate = failed[("users", "email")]
        assert duplicate.failures == 1 and duplicate.samples[0][0] != email
        stored = ws.session.execute("SELECT record_key FROM data_quality_results WHERE table_name = 'users' "
                                    "AND record_key IS NOT NULL")[1]
        assert stored and all(email not in str(key) and len(str(key)) == 64 for (key,) in stored)


def test_masking_applies_inside_dml_through_views_and_to_the_owner(deployed: Callable[[str | None], Path]) -> None:
    with Workspace.open(deployed(None)) as ws:
        s = ws.session
        s.execute("CREATE TABLE copied AS SELECT user_id, email FROM users")  # the copy reads through the policy
        assert one(ws, "SELECT COUNT(*) FROM copied WHERE email NOT LIKE '***@%'") == 0
        s.execute("CREATE OR REPLACE VIEW v_people AS SELECT u.user_id, u.email FROM users AS u")
        s.execute(f"GRANT SELECT ON VIEW INCIDENTS.CORE.V_PEOPLE TO ROLE {PII}")
        s.execute(f"USE ROLE {PII}")  # pii_reader reads the table and the view in clear
        assert one(ws, "SELECT COUNT(*) FROM v_people WHERE email LIKE '***@%'") == 0
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email = 'ana.silva@shop.example'") == 1
        s.execute("USE ROLE DEPLOYER")
        assert one(ws, "SELECT COUNT(*) FROM v_people WHERE email NOT LIKE '***@%'") == 0
        # a WHERE on a masked column compares the masked value
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email = 'ana.silva@shop.example'") == 0


def test_secondary_roles_unmask_for_a_human_but_not_for_the_tool(deployed: Callable[[str | None], Path]) -> None:
    from incidents.targets.rules import rules_state

    root = deployed(None)
    state = rules_state(Path(os.environ["INCIDENTS_LOCAL_DIR"]))
    state.user_roles.setdefault(state.user, []).append(PII)  # the deploy user also holds pii_reader
    state.save()
    with Workspace.open(root) as ws:  # the tool's session: USE SECONDARY ROLES NONE
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email NOT LIKE '***@%'") == 0
        ws.session.execute("USE SECONDARY ROLES ALL")  # what a human's session has by default
        ws.session.execute(f"USE ROLE {ANALYST}")
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email LIKE '***@%'") == 0  # pii_reader, as a secondary role


def test_a_rebuild_of_a_masked_column_is_refused_naming_it(deployed: Callable[[str | None], Path],
                                                           runner: CliRunner) -> None:
    root = deployed(None)
    users = root / "config" / "tables" / "users.yml"
    declared = "{name: full_name, type: VARCHAR(200),"
    users.write_text(users.read_text(encoding="utf-8").replace(
        declared, declared + " default: \"'n/a'\",", 1), encoding="utf-8")
    result = runner.invoke(app, ["deploy", "--allow-destructive", "--project-dir", str(root)])
    assert result.exit_code == 1, result.output
    assert "users.full_name has a masking policy" in result.output and "PII_READER" in result.output
    with Workspace.open(root) as ws:
        ws.session.execute(f"USE ROLE {PII}")
        assert one(ws, "SELECT full_name FROM users WHERE user_id = 1") == "Ana Silva"  # not copied masked


def test_analyst_cannot_read_alert_payloads_pii_reader_can(deployed: Callable[[str | None], Path]) -> None:
    with Workspace.open(deployed(None)) as ws:
        ws.ingest((FIXTURES / "firing.json").read_text(encoding="utf-8"))
        ws.session.execute(f"USE ROLE {ANALYST}")
        with pytest.raises(TargetError, match="RAW_ALERTS' does not exist or not authorized"):
            ws.session.execute("SELECT payload FROM raw_alerts")
        assert one(ws, "SELECT COUNT(*) FROM incidents") == 1  # the rest of the tables, masked
        ws.session.execute(f"USE ROLE {PII}")
        assert one(ws, "SELECT COUNT(*) FROM raw_alerts WHERE payload IS NOT NULL") == 1


def test_renaming_a_clustering_key_column_drops_and_restores_the_key(deployed: Callable[[str | None], Path],
                                                                     runner: CliRunner) -> None:
    root = deployed(None)
    rows = root / "config" / "tables" / "raw_import_rows.yml"
    rows.write_text(rows.read_text(encoding="utf-8").replace("TO_DATE(landed_at)", "TO_DATE(landed_on)").replace(
        "{name: landed_at,", "{name: landed_on, renamed_from: landed_at,"), encoding="utf-8")
    result = runner.invoke(app, ["deploy", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output  # the rules target refuses RENAME COLUMN on a clustering-key column
    assert runner.invoke(app, ["diff", "--project-dir", str(root)]).exit_code == 0
    from incidents.targets.rules import rules_state

    assert rules_state(Path(os.environ["INCIDENTS_LOCAL_DIR"])).clustering["RAW_IMPORT_ROWS"] == ["LANDED_ON"]


def test_doctor_names_the_account_privileges_the_deploy_role_lacks(deployed: Callable[[str | None], Path],
                                                                  runner: CliRunner) -> None:
    from incidents.targets.rules import rules_state

    root = deployed(None)
    ok = runner.invoke(app, ["doctor", "--project-dir", str(root)])
    assert ok.exit_code == 0, ok.output
    assert "DEPLOYER holds every account privilege" in ok.output
    state = rules_state(Path(os.environ["INCIDENTS_LOCAL_DIR"]))
    state.account_privileges["DEPLOYER"] = ["CREATE ROLE", "EXECUTE TASK", "APPLY TAG"]
    state.save()
    result = runner.invoke(app, ["doctor", "--project-dir", str(root), "--format", "json"])
    assert result.exit_code == 2
    assert "DEPLOYER lacks MANAGE GRANTS, APPLY MASKING POLICY, EXECUTE MANAGED TASK" in result.stderr
    report, _ = json.JSONDecoder().raw_decode(result.stdout)  # the report, then the error as JSON
    assert report["missing"] == ["MANAGE GRANTS", "APPLY MASKING POLICY", "EXECUTE MANAGED TASK"]
    assert "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE DEPLOYER" in report["grants"]


def test_doctor_asks_for_manage_grants_only_with_future_grants(deployed: Callable[[str | None], Path],
                                                                runner: CliRunner) -> None:
    """A grant on an object needs only its ownership (deploy owns what it creates); future grants need
    MANAGE GRANTS (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege)."""
    from incidents.targets.rules import rules_state

    root = deployed(None)
    project = root / "config" / "project.yml"
    project.write_text(project.read_text(encoding="utf-8").replace("future_grants: true", "future_grants: false"),
                       encoding="utf-8")
    state = rules_state(Path(os.environ["INCIDENTS_LOCAL_DIR"]))
    state.account_privileges["DEPLOYER"] = ["CREATE ROLE", "EXECUTE TASK", "APPLY TAG", "APPLY MASKING POLICY",
                                            "EXECUTE MANAGED TASK"]
    state.save()
    result = runner.invoke(app, ["doctor", "--project-dir", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    report, _ = json.JSONDecoder().raw_decode(result.stdout)
    assert report["missing"] == [] and "MANAGE GRANTS" not in [n["privilege"] for n in report["needed"]]


def test_diff_reports_a_suspended_task_by_name_and_deploy_resumes_it(deployed: Callable[[str | None], Path],
                                                                    runner: CliRunner) -> None:
    root = deployed(None)
    with Workspace.open(root) as ws:
        assert ws.diff().in_sync
        ws.session.execute("ALTER TASK INCIDENTS.CORE.AUDIT_INCIDENT_CHANGES_TASK SUSPEND")
        changes = [c for c in ws.diff().changes if c.object_kind == "task"]
        assert [(c.kind, c.object, c.live) for c in changes] == [
            ("suspended_task", "audit_incident_changes_task", "suspended")]
    assert runner.invoke(app, ["deploy", "--project-dir", str(root)]).exit_code == 0
    with Workspace.open(root) as ws:
        assert ws.diff().in_sync


def test_diff_reports_an_unset_masking_policy_by_column_and_deploy_sets_it_again(
        deployed: Callable[[str | None], Path], runner: CliRunner) -> None:
    from incidents.targets.rules import rules_state

    root = deployed(None)
    local = Path(os.environ["INCIDENTS_LOCAL_DIR"])
    state = rules_state(local)
    state.masked.pop("USERS.EMAIL")  # as ALTER TABLE users MODIFY COLUMN email UNSET MASKING POLICY would
    state.save()
    with Workspace.open(root) as ws:
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email = 'ana.silva@shop.example'") == 1  # clear now
        changes = [(c.kind, c.object, c.column) for c in ws.diff().changes]
        assert changes == [("unset_masking_policy", "users.pii", "email")]
    assert runner.invoke(app, ["deploy", "--project-dir", str(root)]).exit_code == 0
    with Workspace.open(root) as ws:
        assert ws.diff().in_sync
        assert one(ws, "SELECT COUNT(*) FROM users WHERE email = 'ana.silva@shop.example'") == 0


def _replace_incidents(ws: Workspace) -> str:
    """CREATE OR REPLACE TABLE incidents, its own definition: Snowflake drops the table's history, so the audit
    stream on it goes stale (https://docs.snowflake.com/en/user-guide/streams-intro)."""
    from incidents.kinds.table import Tables

    declared = next(o for o in Tables().desired(ws.dep) if o.name == "incidents")
    return declared.statements[0].replace("CREATE TABLE IF NOT EXISTS", "CREATE OR REPLACE TABLE", 1)


DRIFTS = {  # by hand -> what diff names (kind, object, column) -> the statement deploy repairs it with
    "tag": (lambda ws: "ALTER TABLE INCIDENTS.CORE.USERS MODIFY COLUMN EMAIL UNSET TAG INCIDENTS.CORE.CLASSIFICATION",
            ("unset_tag", "users.pii", "email"),
            "ALTER TABLE INCIDENTS.CORE.USERS MODIFY COLUMN EMAIL SET TAG INCIDENTS.CORE.CLASSIFICATION = 'pii'"),
    "stream": (_replace_incidents, ("stale_stream", "incidents_audit_stream", None),
               "CREATE OR REPLACE STREAM INCIDENTS.CORE.INCIDENTS_AUDIT_STREAM ON TABLE INCIDENTS.CORE.INCIDENTS"),
    "clustering": (lambda ws: "ALTER TABLE INCIDENTS.CORE.RAW_IMPORT_ROWS DROP CLUSTERING KEY",
                   ("dropped_clustering_key", "raw_import_rows", None),
                   "ALTER TABLE INCIDENTS.CORE.RAW_IMPORT_ROWS CLUSTER BY (TO_DATE(LANDED_AT));"),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_diff_names_a_drift_made_by_hand_and_deploy_repairs_it(deployed: Callable[[str | None], Path],
                                                               runner: CliRunner, drift: str) -> None:
    by_hand, named, repair = DRIFTS[drift]
    root = deployed(None)
    with Workspace.open(root) as ws:
        ws.session.execute(by_hand(ws))
    found = runner.invoke(app, ["diff", "--project-dir", str(root), "--format", "json"])
    assert found.exit_code == 1, found.output
    assert [(c["kind"], c["object"], c["column"]) for c in json.loads(found.stdout)["changes"]] == [named]
    plan = runner.invoke(app, ["diff", "--project-dir", str(root), "--format", "sql"])
    assert repair in plan.stdout, plan.stdout
    deployed_now = runner.invoke(app, ["deploy", "--project-dir", str(root)])
    assert deployed_now.exit_code == 0, deployed_now.output
    clean = runner.invoke(app, ["diff", "--project-dir", str(root)])
    assert clean.exit_code == 0, clean.output


def test_a_restricted_table_added_later_does_not_keep_what_future_grants_give_it(
        deployed: Callable[[str | None], Path], runner: CliRunner) -> None:
    """A new table gets its schema's future grants when it is created (analyst: SELECT on future tables); a
    `restricted: true` one must not keep analyst's, and the next diff must not find it (it found an
    unexpected grant before deploy revoked what the future grant gave, in the same deploy)."""
    root = deployed(None)
    with Workspace.open(root) as ws:
        analyst = ws.env.access.role("analyst").name.upper()  # type: ignore[union-attr]
        future = ws.session.execute("SHOW FUTURE GRANTS IN SCHEMA INCIDENTS.CORE")[1]
    assert any(analyst in str(row).upper() for row in future), future  # else this test proves nothing
    (root / "config" / "tables" / "raw_extra.yml").write_text(
        "name: raw_extra\ncomment: A landing table added later.\nrestricted: true\ncolumns:\n"
        "  - {name: payload, type: VARCHAR(1000), comment: \"What arrived.\"}\n", encoding="utf-8")
    (root / "config" / "tables" / "notes_extra.yml").write_text(
        "name: notes_extra\ncomment: A table analyst may read.\ncolumns:\n"
        "  - {name: note, type: VARCHAR(1000), comment: \"A note.\"}\n", encoding="utf-8")
    result = runner.invoke(app, ["deploy", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    diff = runner.invoke(app, ["diff", "--project-dir", str(root), "--format", "json"])
    assert diff.exit_code == 0, diff.output
    with Workspace.open(root) as ws:
        held = {str(r[3]).upper() for r in ws.session.execute(f"SHOW GRANTS TO ROLE {analyst}")[1]}
    assert "INCIDENTS.CORE.NOTES_EXTRA" in held and "INCIDENTS.CORE.RAW_EXTRA" not in held
