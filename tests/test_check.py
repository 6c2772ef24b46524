"""`incidents check`: the data checks as a CI gate, on the local target."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert "every data check passed" in clean.output

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
