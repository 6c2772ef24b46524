"""What the Snowflake-rules target exposed, fixed: each change is planned as something Snowflake accepts
(or refused with a clear reason), shown on the Snowflake-rules target where plain fakesnow would have
let the old plan through."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from incidents.cli import app
from incidents.project.config import environment, load_project
from incidents.targets.rules import grant, rules_state

FQ = "INCIDENTS.CORE."
ROWS = (
    f"INSERT INTO {FQ}USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES (1, 'ana@example.com', 'Ana', 'engineer')",
    f"INSERT INTO {FQ}INCIDENT_CATEGORIES (CATEGORY_ID, CODE, NAME) VALUES (1, 'PAYMENT', 'Payments')",
    f"INSERT INTO {FQ}INCIDENTS (INCIDENT_ID, INCIDENT_NUMBER, TITLE, CATEGORY_ID, PRIORITY, SEVERITY, "
    "IMPACT_LEVEL, SOURCE, REPORTER_ID) VALUES "
    "(1, 'INC-1', 'Checkout down', 1, 'high', 'SEV2', 'major', 'monitoring', 1)",
    f"INSERT INTO {FQ}INCIDENT_STATUS_HISTORY (STATUS_HISTORY_ID, INCIDENT_ID, PREVIOUS_STATUS, NEW_STATUS, "
    "CHANGED_BY, CHANGE_REASON, CHANGED_AT) VALUES (1, 1, NULL, 'new', 1, 'opened', '2026-01-01 10:00:00')",
)
VIEWS_YML = ("views:\n  - name: v_user_emails\n    comment: Users and their e-mail.\n"
             "    columns: {user_id: The user., email: Their e-mail.}\n")
VIEW_SQL = "SELECT user_id, email FROM {{ fq('users') }}\n"


def cli(runner: CliRunner, root: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(root)])


def edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / "config" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def one_view(root: Path) -> None:
    (root / "config" / "views.yml").write_text(VIEWS_YML, encoding="utf-8")
    (root / "templates" / "views" / "v_user_emails.sql.j2").write_text(VIEW_SQL, encoding="utf-8")


@pytest.fixture
def rules_root(deployed_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project with one view, deployed on the Snowflake-rules target (enterprise), tables holding rows."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    return deployed_copy("fidelity", one_view, after=ROWS)


# A table no foreign key references: the local target (DuckDB) cannot alter a referenced one.
HISTORY = "tables/incident_status_history.yml"
AFTER = "  - {name: changed_at,"


def history_rows(runner: CliRunner, root: Path, columns: str) -> list[dict[str, object]]:
    result = cli(runner, root, "query", f"SELECT {columns} FROM {FQ}INCIDENT_STATUS_HISTORY ORDER BY 1",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_sysdate_column_is_added_and_backfilled_never_by_a_statement_that_fails(rules_root: Path,
                                                                                 runner: CliRunner) -> None:
    edit(rules_root, HISTORY, AFTER,
         "  - {name: seen_at, type: TIMESTAMP_NTZ(9), nullable: false, default: SYSDATE(), comment: UTC}\n" + AFTER)
    deployed = cli(runner, rules_root, "deploy")
    assert deployed.exit_code == 0, deployed.output
    [row] = history_rows(runner, rules_root, "STATUS_HISTORY_ID, SEEN_AT")
    assert row["SEEN_AT"] is not None  # the rows already there got the default, computed once
    # New rows would get no default: Snowflake gives a column added by ALTER TABLE only a literal one.
    again = cli(runner, rules_root, "deploy", "--allow-destructive")
    assert again.exit_code == 1 and "literal defaults" in again.stderr, again.output
    changes = json.loads(cli(runner, rules_root, "diff", "--format", "json").stdout)["changes"]
    assert [(c["kind"], c["column"]) for c in changes] == [("default_changed", "seen_at")]


def test_drop_default_of_a_default_added_by_alter_is_a_rebuild(rules_root: Path, runner: CliRunner) -> None:
    edit(rules_root, HISTORY, AFTER, "  - {name: channel, type: VARCHAR(10), default: \"'web'\"}\n" + AFTER)
    assert cli(runner, rules_root, "deploy").exit_code == 0  # ALTER TABLE ... ADD COLUMN ... DEFAULT 'web'
    edit(rules_root, HISTORY, "{name: channel, type: VARCHAR(10), default: \"'web'\"}",
         "{name: channel, type: VARCHAR(10)}")
    refused = cli(runner, rules_root, "deploy")
    assert refused.exit_code == 1 and "--allow-destructive" in refused.stderr
    rebuilt = cli(runner, rules_root, "deploy", "--allow-destructive")  # DROP DEFAULT would fail here
    assert rebuilt.exit_code == 0, rebuilt.output
    assert [r["CHANNEL"] for r in history_rows(runner, rules_root, "STATUS_HISTORY_ID, CHANNEL")] == ["web"]
    assert cli(runner, rules_root, "diff").exit_code == 0


def test_rebuilding_a_clustering_key_column_drops_and_restores_the_key(rules_root: Path, runner: CliRunner) -> None:
    edit(rules_root, "tables/incident_status_history.yml", "{name: changed_at, type: TIMESTAMP_NTZ(9)",
         "{name: changed_at, type: TIMESTAMP_TZ(9)")
    plan = cli(runner, rules_root, "plan", "--allow-destructive")
    assert "DROP CLUSTERING KEY" in plan.stdout and "CLUSTER BY (TO_DATE(CHANGED_AT))" in plan.stdout, plan.stdout
    result = cli(runner, rules_root, "deploy", "--allow-destructive")
    assert result.exit_code == 0, result.output
    assert rules_state(Path(rules_root).parent / "local").clustering["INCIDENT_STATUS_HISTORY"] == ["CHANGED_AT"]
    rows = cli(runner, rules_root, "query", f"SELECT COUNT(*) AS N FROM {FQ}INCIDENT_STATUS_HISTORY "
                                            "WHERE CHANGED_AT IS NOT NULL", "--format", "json")
    assert json.loads(rows.stdout) == [{"N": 1}]


def test_not_null_on_a_semi_structured_column_with_rows_is_refused_even_when_allowed(rules_root: Path,
                                                                                    runner: CliRunner) -> None:
    edit(rules_root, "tables/users.yml", "{name: metadata, type: VARIANT,", "{name: metadata, type: VARIANT, "
                                                                             "nullable: false,")
    result = cli(runner, rules_root, "deploy", "--allow-destructive")
    assert result.exit_code == 1
    assert "cannot set NOT NULL on a VARIANT column of a table that holds rows" in result.stderr
    assert "--allow-destructive" not in result.stderr.split("VARIANT column", 1)[1].splitlines()[0]


def test_replaced_views_keep_their_grants_and_hidden_view_text_is_not_comparable(rules_root: Path,
                                                                               runner: CliRunner) -> None:
    local = Path(rules_root).parent / "local"
    grant(local, "V_USER_EMAILS")
    (rules_root / "templates" / "views" / "v_user_emails.sql.j2").write_text(
        "SELECT user_id, LOWER(email) AS email FROM {{ fq('users') }}\n", encoding="utf-8")
    assert cli(runner, rules_root, "deploy").exit_code == 0
    assert "SELECT TO ROLE REPORTING" in rules_state(local).grants["V_USER_EMAILS"]
    assert cli(runner, rules_root, "diff").exit_code == 0  # the full CREATE text as sent is no drift

    state = rules_state(local)
    state.hide_view_definitions = True  # a role that does not own the view reads VIEW_DEFINITION as NULL
    state.save()
    result = cli(runner, rules_root, "diff", "--format", "json")
    assert result.exit_code == 1
    [change] = json.loads(result.stdout)["changes"]
    assert (change["kind"], change["object"]) == ("view_not_comparable", "v_user_emails")
    assert "cannot compare" in change["detail"]
    assert "cannot compare" in cli(runner, rules_root, "diff").stdout


def test_retention_and_clustering_changes_are_applied(rules_root: Path, runner: CliRunner) -> None:
    edit(rules_root, "project.yml", "    target: local", "    target: local\n    data_retention_days: 7")
    edit(rules_root, "tables/incidents.yml", "cluster_by: [TO_DATE(created_at)]",
         "cluster_by: [TO_DATE(created_at), status]")
    result = cli(runner, rules_root, "deploy", "--format", "json")
    assert result.exit_code == 0, result.output
    statements = [s for step in json.loads(result.stdout)["steps"] for s in step["statements"]]
    assert f"ALTER TABLE {FQ}INCIDENTS CLUSTER BY (TO_DATE(CREATED_AT), STATUS);" in statements
    assert f"ALTER TABLE {FQ}USERS SET DATA_RETENTION_TIME_IN_DAYS = 7;" in statements
    assert rules_state(Path(rules_root).parent / "local").clustering["INCIDENTS"] == ["CREATED_AT", "STATUS"]
    assert cli(runner, rules_root, "diff").exit_code == 0


def test_retention_above_one_day_on_standard_edition(rules_root: Path, runner: CliRunner,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    edit(rules_root, "project.yml", "    target: local", "    target: local\n    data_retention_days: 7")
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake:standard")
    failed = cli(runner, rules_root, "deploy")  # the account refuses it
    assert failed.exit_code == 3 and "Standard Edition" in failed.stderr, failed.output
    edit(rules_root, "project.yml", "    data_retention_days: 7", "    data_retention_days: 7\n    edition: standard")
    refused = cli(runner, rules_root, "deploy")  # declared: refused before anything is sent
    assert refused.exit_code == 2, refused.output
    assert "project.yml" in refused.stderr and "data_retention_days" in refused.stderr
    assert "Enterprise Edition" in refused.stderr


def test_edition_is_validated(rules_root: Path) -> None:
    edit(rules_root, "project.yml", "    target: local", "    target: local\n    edition: Enterprise")
    assert environment(load_project(rules_root), "dev").edition == "enterprise"


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_a_refused_default_change_stays_drift_when_the_same_table_is_altered(rules_root: Path,
                                                                             runner: CliRunner) -> None:
    """Deploy records the live text of the defaults it set; a default it refused to change on a table
    it altered for another reason is not one of them."""
    edit(rules_root, HISTORY, AFTER, "  - {name: channel, type: VARCHAR(10), default: \"'web'\"}\n" + AFTER)
    assert cli(runner, rules_root, "deploy").exit_code == 0
    edit(rules_root, HISTORY, "default: \"'web'\"}", "default: \"'app'\"}\n  - {name: note, type: VARCHAR(10)}")
    refused = cli(runner, rules_root, "deploy")
    assert refused.exit_code == 1, refused.output  # the rebuild needs --allow-destructive; the new column is added
    changes = json.loads(cli(runner, rules_root, "diff", "--format", "json").stdout)["changes"]
    assert [(c["kind"], c["column"]) for c in changes] == [("default_changed", "channel")]
