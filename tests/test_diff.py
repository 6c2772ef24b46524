"""`incidents diff`: every kind of hand-made drift is reported exactly, in text, json and sql, with
exit 1; deploy repairs it and diff is clean again; no false drift right after a deploy, also in a
new process; the json output keeps its documented schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from incidents.cli import app

REPO = Path(__file__).resolve().parents[1]
FQ = "INCIDENTS.CORE."

# Our own two views, so the view scenarios do not depend on config/views.yml of the repository.
VIEWS_YML = """\
views:
  - name: v_comment_counts
    comment: Comments per incident.
    columns: {incident_id: Incident, comments: Number of comments}
  - name: v_public_comments
    columns: {comment_id: Comment, incident_id: Incident}
"""
VIEW_TEMPLATES = {
    "v_comment_counts": "SELECT incident_id, COUNT(*) AS comments\nFROM {{ fq('incident_comments') }}\n"
                        "GROUP BY incident_id\n",
    "v_public_comments": "SELECT comment_id, incident_id FROM {{ fq('incident_comments') }} WHERE is_public\n",
}


def with_two_views(dest: Path) -> Path:
    """A project copy (conftest's make_project) reduced to our two views."""
    (dest / "config" / "views.yml").write_text(VIEWS_YML, encoding="utf-8")
    for name, body in VIEW_TEMPLATES.items():
        (dest / "templates" / "views" / f"{name}.sql.j2").write_text(body, encoding="utf-8")
    return dest


def cli(runner: CliRunner, root: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(root)])


@pytest.fixture
def project(deployed_copy: Callable[..., Path], target: str) -> Path:
    """A deployed copy of the project on a fresh local target (local_dir sets INCIDENTS_LOCAL_DIR), plain
    and under Snowflake's rules (conftest's `target`); deployed once per process and target, then copied."""
    return deployed_copy("two-views", with_two_views)


@pytest.fixture
def project_heavy(deployed_copy: Callable[..., Path], target_heavy: str) -> Path:
    """`project` for a test that starts processes: its Snowflake-rules run is marked slow."""
    return deployed_copy("two-views", with_two_views)


DRIFT = Path(__file__).parent / "fixtures" / "drift"  # one folder per case: setup.sql + expected.json


# The default suite runs every other scenario (on the Snowflake-rules target); `-m slow` runs them all.
SCENARIOS = sorted(p.name for p in DRIFT.iterdir() if (p / "setup.sql").is_file())


@pytest.mark.parametrize("name", [n if i % 2 == 0 else pytest.param(n, marks=pytest.mark.slow)
                                  for i, n in enumerate(SCENARIOS)])
def test_hand_made_drift_is_reported_exactly_and_deploy_repairs_it(name: str, project: Path,
                                                                   runner: CliRunner) -> None:
    drift = json.loads((DRIFT / name / "expected.json").read_text(encoding="utf-8"))
    made = cli(runner, project, "query", "--file", str(DRIFT / name / "setup.sql"))
    assert made.exit_code == 0, made.output

    as_json = cli(runner, project, "diff", "--format", "json")
    assert as_json.exit_code == 1, as_json.output
    payload = json.loads(as_json.stdout)
    assert payload["in_sync"] is False
    grants = [c for c in payload["changes"] if c["object_kind"] == "grant"]
    assert [(c["kind"], c["object_kind"], c["object"], c["column"], c["destructive"]) for c in payload["changes"]
            if c not in grants] == [(drift["kind"], drift["object_kind"], drift["object"], drift["column"],
                                     drift["destructive"])]
    # Where grants exist (the Snowflake-rules target), a view replaced without COPY GRANTS lost its grants.
    lost = drift.get("drops_grants") and os.environ.get("INCIDENTS_LOCAL_RULES")
    assert {(c["kind"], c["declared"]) for c in grants} == ({
        ("missing_grant", f"SELECT ON VIEW {drift['object'].upper()} TO ROLE INCIDENTS_DEV_{role}")
        for role in ("READER", "ANALYST", "WRITER", "PII_READER")} if lost else set())

    text = cli(runner, project, "diff")
    assert text.exit_code == 1
    assert "Drift" in text.stdout and drift["kind"] in text.stdout
    shown = f"{drift['column']}: " if drift["column"] else drift["object"]
    assert shown in text.stdout
    assert ("(destructive)" in text.stdout) == drift["destructive"]

    as_sql = cli(runner, project, "diff", "--format", "sql")
    assert as_sql.exit_code == 1
    assert drift["repair_sql"] in as_sql.stdout, as_sql.stdout
    assert as_sql.stdout.startswith("-- DESTRUCTIVE" if drift["destructive"] else "-- safe")

    if drift["destructive"]:
        refused = cli(runner, project, "deploy")
        assert refused.exit_code == 1, refused.output
        assert "--allow-destructive" in refused.stderr
        assert cli(runner, project, "diff").exit_code == 1  # nothing was dropped
    repaired = cli(runner, project, "deploy", *(["--allow-destructive"] if drift["destructive"] else []))
    assert repaired.exit_code == 0, repaired.output
    clean = cli(runner, project, "diff")
    assert clean.exit_code == 0, clean.output
    assert "In sync" in clean.stdout


def test_diff_json_schema_is_stable(project: Path, runner: CliRunner) -> None:
    """The documented schema: {env, in_sync, changes: [{kind, object_kind, object, column, declared, live,
    destructive, detail}]}; declared/live/column are strings or null."""
    in_sync = json.loads(cli(runner, project, "diff", "--format", "json").stdout)
    assert in_sync == {"env": "dev", "in_sync": True, "changes": []}

    # NUMBER precision survives a reopen of the local files (VARCHAR lengths do not).
    cli(runner, project, "query", f"ALTER TABLE {FQ}INCIDENT_SOLUTIONS ALTER COLUMN TIME_TO_APPLY_MINUTES "
                                  "SET DATA TYPE NUMBER(10,0)")
    cli(runner, project, "query", f"CREATE TABLE {FQ}STRAY (X INT)")
    payload = json.loads(cli(runner, project, "diff", "--format", "json").stdout)
    assert set(payload) == {"env", "in_sync", "changes"}
    assert payload["env"] == "dev" and payload["in_sync"] is False
    keys = {"kind", "object_kind", "object", "column", "declared", "live", "destructive", "detail"}
    for change in payload["changes"]:
        assert set(change) == keys
        assert isinstance(change["destructive"], bool) and isinstance(change["detail"], str) and change["detail"]
        assert all(change[k] is None or isinstance(change[k], str) for k in ("column", "declared", "live"))
    by_kind = {c["kind"]: c for c in payload["changes"]}
    assert by_kind["type_changed"] == {
        "kind": "type_changed", "object_kind": "column", "object": "incident_solutions",
        "column": "time_to_apply_minutes", "declared": "NUMBER(38,0)", "live": "NUMBER(10,0)", "destructive": False,
        "detail": "widening is done in place"}
    assert by_kind["unexpected_table"]["live"] == "0 rows" and by_kind["unexpected_table"]["destructive"] is True


def test_diff_sql_of_an_in_sync_target_is_empty(project: Path, runner: CliRunner) -> None:
    result = cli(runner, project, "diff", "--format", "sql")
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.slow
def test_no_false_drift_after_deploy_nor_in_a_new_process(project_heavy: Path, local_dir: Path,
                                                           runner: CliRunner) -> None:
    project = project_heavy
    assert cli(runner, project, "diff").exit_code == 0
    # A new process reopens the files: fakesnow forgets VARCHAR lengths and comments, DuckDB gives the
    # view text back rewritten; none of that may read as drift.
    env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(local_dir), "INCIDENTS_PROJECT_DIR": str(project)}
    for args in (["diff"], ["diff", "--format", "json"], ["deploy"]):
        result = subprocess.run([sys.executable, "-m", "incidents", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Up to date" in result.stdout


def test_repository_project_has_no_false_drift(repo: Path, local_dir: Path, runner: CliRunner,
                                              target_heavy: str) -> None:
    """The real project, views included when config/views.yml declares them."""
    deployed = cli(runner, repo, "deploy", "-q")
    assert deployed.exit_code == 0, deployed.output
    result = cli(runner, repo, "diff", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["in_sync"] is True


def test_diff_of_an_empty_target_lists_everything_missing(make_project: Callable[..., Path], local_dir: Path,
                                                          runner: CliRunner) -> None:
    root = with_two_views(make_project())
    result = cli(runner, root, "diff", "--format", "json")
    assert result.exit_code == 1
    kinds = [c["kind"] for c in json.loads(result.stdout)["changes"]]
    assert kinds[:2] == ["missing_database", "missing_schema"]
    assert kinds.count("missing_view") == 2 and "missing_table" in kinds


def test_config_change_since_last_deploy_is_reported(project: Path, runner: CliRunner) -> None:
    """A change only the history checksum can see on fakesnow (a column comment) is reported, and a deploy
    records it."""
    yml = project / "config" / "tables" / "incident_comments.yml"
    yml.write_text(yml.read_text().replace('"Text of the comment."', '"The text."'))
    result = cli(runner, project, "diff", "--format", "json")
    assert result.exit_code == 1
    assert [(c["kind"], c["object"]) for c in json.loads(result.stdout)["changes"]] == [
        ("config_changed", "incident_comments")]
    assert cli(runner, project, "deploy").exit_code == 0
    assert cli(runner, project, "diff").exit_code == 0


def test_view_template_change_is_reported_and_replaced(project: Path, runner: CliRunner) -> None:
    (project / "templates" / "views" / "v_public_comments.sql.j2").write_text(
        "SELECT comment_id, incident_id FROM {{ fq('incident_comments') }}\n"
        "WHERE is_public AND NOT is_system_generated\n")
    result = cli(runner, project, "diff", "--format", "json")
    assert result.exit_code == 1
    [change] = json.loads(result.stdout)["changes"]
    assert (change["kind"], change["object"]) == ("changed_view", "v_public_comments")
    assert "templates/config" in change["detail"]
    assert cli(runner, project, "deploy").exit_code == 0
    assert cli(runner, project, "diff").exit_code == 0


def test_plan_marks_each_statement_safe_or_destructive(project: Path, runner: CliRunner) -> None:
    cli(runner, project, "query", f"CREATE TABLE {FQ}STRAY (X INT)")
    cli(runner, project, "query", f"ALTER TABLE {FQ}INCIDENT_ATTACHMENTS DROP COLUMN DESCRIPTION")
    refused = cli(runner, project, "plan")
    assert refused.exit_code == 0, refused.output
    assert "-- safe alter table incident_attachments" in refused.stdout
    assert "DESTRUCTIVE refused table STRAY" in refused.stdout and "--allow-destructive" in refused.stdout
    allowed = cli(runner, project, "plan", "--allow-destructive")
    assert "-- DESTRUCTIVE drop table STRAY" in allowed.stdout
    assert f"DROP TABLE IF EXISTS {FQ}STRAY;" in allowed.stdout
    # plan changes nothing
    assert cli(runner, project, "diff").exit_code == 1


@pytest.mark.slow  # a deploy on the Snowflake-rules target
def test_views_made_by_the_committed_file_with_comments_stripped_are_in_sync(deployed_copy: Callable[..., Path],
                                                                              runner: CliRunner,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`snow sql -f setup.sql` strips `--` comments and records no deploy history (issue 24.5: 28 view drifts
    until the first deploy). The same code is in sync; a view whose code differs is still reported. On the
    Snowflake-rules target, whose VIEW_DEFINITION is the text sent, as Snowflake's (fakesnow's is DuckDB's)."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    import incidents
    from incidents.engine.desired import desired_state
    from incidents.kinds.view import VIEW
    from incidents.sql.text import without_comments

    root = deployed_copy("views-by-snow-sql")
    with incidents.Workspace.open(root) as ws:
        views = desired_state(ws.dep).of(VIEW)
        for view in views:
            ws.session.execute(without_comments(view.statements[0]))
        ws.session.execute("DELETE FROM INCIDENTS.CORE.INCIDENTS_DEPLOY_HISTORY WHERE OBJECT_KIND = 'view'")
    in_sync = cli(runner, root, "diff", "--format", "json")
    assert in_sync.exit_code == 0, in_sync.output
    with incidents.Workspace.open(root) as ws:
        ws.session.execute(without_comments(views[0].statements[0]).replace("COMMENT '", "COMMENT 'by hand: ", 1))
    drift = cli(runner, root, "diff", "--format", "json")
    assert drift.exit_code == 1
    assert [c["object"] for c in json.loads(drift.stdout)["changes"]] == [views[0].name]
