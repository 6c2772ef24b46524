"""`incidents check`: the data checks as a CI gate, on the local target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app


def test_check_before_deploy_says_so(project_copy: Path, local_dir: Path, runner: CliRunner) -> None:
    before = runner.invoke(app, ["check", "--project-dir", str(project_copy)])
    assert before.exit_code == 2, before.output
    assert "nothing deployed on the local target yet: run `incidents deploy`" in before.stderr
    assert not local_dir.exists()  # reading creates nothing


def test_check_gates_on_failed_checks(project_copy: Path, deployed_local: Path, runner: CliRunner) -> None:
    args = ["--project-dir", str(project_copy)]
    clean = runner.invoke(app, ["check", *args])
    assert clean.exit_code == 0, clean.output
    assert re.search(r"all \d+ data checks passed", clean.output) and "recorded at" in clean.output

    # Snowflake would not stop these either: allowed_values are not constraints.
    values = ", ".join(f"('bad{i}', 1, 2, 3)" for i in range(6))
    insert = runner.invoke(app, ["query", "INSERT INTO sla_policies (priority, acknowledge_minutes, "
                                 f"first_response_minutes, resolve_minutes) VALUES {values}", *args])
    assert insert.exit_code == 0, insert.output
    failed = runner.invoke(app, ["check", "--format", "json", *args])
    assert failed.exit_code == 1, failed.output
    report = json.loads(failed.output)
    assert report["ok"] is False
    [check] = report["failed"]
    assert (check["check"], check["table"], check["column"], check["failures"]) == \
        ("invalid_value", "sla_policies", "priority", 6)
    assert [s["key"] for s in check["samples"]] == [f"bad{i}" for i in range(5)]  # at most five samples
    text = runner.invoke(app, ["check", *args])
    assert text.exit_code == 1 and "invalid_value sla_policies.priority: 6 row(s)" in text.output


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_check_records_its_runs_and_the_view_shows_the_latest(project_copy: Path, deployed_local: Path,
                                                              runner: CliRunner) -> None:
    args = ["--project-dir", str(project_copy)]

    def query(sql: str) -> list[list[object]]:
        result = runner.invoke(app, ["query", sql, "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return [list(r.values()) for r in json.loads(result.output)]

    assert query("SELECT COUNT(*) FROM v_data_quality_issues") == [[0]]  # nothing recorded yet
    assert query("SELECT COUNT(*) FROM v_data_quality_checks") == [[0]]  # never checked: no rows at all
    looked = runner.invoke(app, ["check", "--no-record", *args])
    assert looked.exit_code == 0 and "(not recorded)" in looked.output, looked.output
    assert query("SELECT COUNT(*) FROM data_quality_results") == [[0]]

    clean = runner.invoke(app, ["check", *args])
    assert clean.exit_code == 0
    declared = int(re.search(r"all (\d+) data checks passed", clean.output).group(1))  # type: ignore[union-attr]
    [[checks, runs]] = query("SELECT COUNT(*), COUNT(DISTINCT checked_at) FROM data_quality_results")
    assert (checks, runs) == (declared, 1)  # one row per passing check
    assert query("SELECT COUNT(*), COUNT_IF(passed), SUM(failures) FROM v_data_quality_checks") == [
        [declared, declared, 0]]
    values = ", ".join(f"('bad{i}', 1, 2, 3)" for i in range(7))
    assert runner.invoke(app, ["query", "INSERT INTO sla_policies (priority, acknowledge_minutes, "
                               f"first_response_minutes, resolve_minutes) VALUES {values}", *args]).exit_code == 0
    assert runner.invoke(app, ["check", *args]).exit_code == 1
    shown = query("SELECT check_name, table_name, column_name, record_key, failures FROM v_data_quality_issues "
                  "ORDER BY record_key")
    assert shown == [["invalid_value", "sla_policies", "priority", f"bad{i}", 7] for i in range(5)]
    assert query("SELECT COUNT(DISTINCT checked_at) FROM data_quality_results") == [[2]]  # runs are kept
    assert query("SELECT check_name, table_name, column_name, failures FROM v_data_quality_checks "
                 "WHERE NOT passed") == [["invalid_value", "sla_policies", "priority", 7]]  # one row per check
    assert query("SELECT COUNT(*), COUNT_IF(passed) FROM v_data_quality_checks") == [[declared, declared - 1]]

    assert runner.invoke(app, ["query", "DELETE FROM sla_policies WHERE priority LIKE 'bad%'", *args]).exit_code == 0
    assert runner.invoke(app, ["check", *args]).exit_code == 0
    assert query("SELECT COUNT(*) FROM v_data_quality_issues") == [[0]]  # the latest run is clean


def test_keys_are_declared_not_enforced_locally_and_check_finds_the_violations(
        project_copy: Path, deployed_local: Path, runner: CliRunner) -> None:
    """As on Snowflake, the local target takes a duplicate primary key and a dangling foreign key (and a
    deploy that references the table still works); `incidents check` is what catches them."""
    args = ["--project-dir", str(project_copy)]
    rows = ("INSERT INTO users (user_id, email, full_name, role) VALUES (7, 'a@example.com', 'A', 'engineer'), "
            "(7, 'b@example.com', 'B', 'engineer')")
    assert runner.invoke(app, ["query", rows, *args]).exit_code == 0
    orphan = ("INSERT INTO incident_categories (category_id, code, name, parent_category_id) "
              "VALUES (900, 'ORPHAN', 'Orphan', 12345)")
    assert runner.invoke(app, ["query", orphan, *args]).exit_code == 0
    failed = runner.invoke(app, ["check", "--format", "json", *args])
    assert failed.exit_code == 1, failed.output
    found = {(c["check"], c["table"], c["column"], c["failures"]) for c in json.loads(failed.output)["failed"]}
    assert ("duplicate_key", "users", "user_id", 1) in found, found
    assert ("orphan_reference", "incident_categories", "parent_category_id", 1) in found, found
    assert runner.invoke(app, ["deploy", *args]).exit_code == 0  # nothing to do, nothing refused
