"""`incidents status` and `incidents history`, and reading commands that must create nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app


def _run(runner: CliRunner, project: Path, *args: str) -> object:
    return runner.invoke(app, [*args, "--project-dir", str(project)])


@pytest.mark.parametrize("command", [
    ["status"], ["history"], ["diff"], ["plan"], ["check"], ["unlock"], ["query", "SELECT 1"],
    ["seed", "-n", "10"],
])
def test_reading_commands_create_no_local_database(command: list[str], project_copy: Path, local_dir: Path,
                                                   runner: CliRunner) -> None:
    result = _run(runner, project_copy, *command)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    assert not local_dir.exists(), f"{command[0]} created {local_dir}"


@pytest.mark.parametrize("command", [["query", "SELECT 1"], ["history"], ["check"], ["seed", "-n", "10"]])
def test_commands_that_need_a_deployed_target_say_so(command: list[str], project_copy: Path, local_dir: Path,
                                                     runner: CliRunner) -> None:
    result = _run(runner, project_copy, *command)
    assert result.exit_code == 2
    assert result.stderr == "error: nothing deployed on the local target yet: run `incidents deploy`\n"


def test_diff_before_any_deploy_lists_everything_missing(project_copy: Path, local_dir: Path,
                                                        runner: CliRunner) -> None:
    result = _run(runner, project_copy, "diff", "--format", "json")
    assert result.exit_code == 1
    changes = json.loads(result.stdout)["changes"]
    assert {c["object_kind"] for c in changes} >= {"database", "schema", "table", "view"}


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_status_before_and_after_deploy(project_copy: Path, local_dir: Path, runner: CliRunner) -> None:
    before = _run(runner, project_copy, "status", "--format", "json")
    assert before.exit_code == 0, before.output
    state = json.loads(before.stdout)
    assert state["deployed"] is False and state["in_sync"] is False and state["last_deploy"] is None
    assert state["target"] == {"backend": "local", "path": str(local_dir)}
    assert state["changes"] > 30 and state["row_counts"] == {}
    text = _run(runner, project_copy, "status")
    assert "nothing deployed yet: run `incidents deploy`" in text.stdout

    assert _run(runner, project_copy, "deploy", "-q").exit_code == 0
    assert _run(runner, project_copy, "query", "INSERT INTO sla_policies (priority, acknowledge_minutes, "
                "first_response_minutes, resolve_minutes) VALUES ('P9', 1, 2, 3)").exit_code == 0
    after = json.loads(_run(runner, project_copy, "status", "--format", "json").stdout)
    assert after["deployed"] is True and after["in_sync"] is True and after["changes"] == 0
    assert after["database"] == "INCIDENTS" and after["schema"] == "CORE"
    last = after["last_deploy"]
    assert last["outcome"] == "ok" and last["failed"] == 0 and last["ok"] > 30
    assert last["tool_version"] and last["deployed_by"]
    assert after["row_counts"]["sla_policies"] == 5  # the 4 reference rows and ours
    assert after["row_counts"]["incidents"] == 0
    shown = _run(runner, project_copy, "status").stdout
    assert "in sync with config" in shown and "sla_policies" in shown
    deploys = json.loads(_run(runner, project_copy, "history", "--format", "json").stdout)["deploys"]
    assert [(d["outcome"], d["deploy_id"]) for d in deploys] == [("ok", last["deploy_id"])]


def test_status_counts_changes_after_a_config_edit(project_copy: Path, deployed_local: Path,
                                                   runner: CliRunner) -> None:
    templates = project_copy / "config" / "tables" / "solution_templates.yml"
    templates.write_text(templates.read_text(encoding="utf-8").replace(
        "columns:\n", "columns:\n  - {name: pager_channel, type: VARCHAR(100)}\n", 1), encoding="utf-8")
    state = json.loads(_run(runner, project_copy, "status", "--format", "json").stdout)
    assert state["in_sync"] is False and state["changes"] == 1 and state["destructive_changes"] == 0
    assert "1 change(s) to apply" in _run(runner, project_copy, "status").stdout


@pytest.mark.slow
def test_history_groups_deploys_newest_first_with_failed_and_refused_steps(
        project_copy: Path, local_dir: Path, runner: CliRunner) -> None:
    assert _run(runner, project_copy, "deploy", "-q").exit_code == 0
    assert _run(runner, project_copy, "seed", "-n", "20", "-q").exit_code == 0
    # A destructive edit (refused) together with a safe one (applied) ...
    sla = project_copy / "config" / "tables" / "sla_policies.yml"
    sla.write_text(sla.read_text(encoding="utf-8").replace(
        "columns:\n", "columns:\n  - {name: notes, type: VARCHAR(100)}\n", 1), encoding="utf-8")
    users = project_copy / "config" / "tables" / "users.yml"
    users.write_text(users.read_text(encoding="utf-8").replace(  # NOT NULL without default, on rows
        "columns:\n", "columns:\n  - {name: badge, type: VARCHAR(10), nullable: false}\n", 1), encoding="utf-8")
    second = _run(runner, project_copy, "deploy")
    assert second.exit_code == 1, second.output  # a refusal fails the deploy

    result = _run(runner, project_copy, "history", "--format", "json")
    assert result.exit_code == 0, result.output
    deploys = json.loads(result.stdout)["deploys"]
    assert len(deploys) == 2
    newest, first = deploys
    assert newest["finished_at"] >= first["finished_at"]
    assert (newest["ok"], newest["refused"], newest["failed"]) == (1, 1, 0)
    assert {(s["object"], s["status"]) for s in newest["steps"]} == {("sla_policies", "ok"), ("users.badge", "refused")}
    assert first["ok"] > 30 and first["steps"][0]["object_kind"] == "database"

    one = json.loads(_run(runner, project_copy, "history", "-n", "1", "--format", "json").stdout)["deploys"]
    assert [d["deploy_id"] for d in one] == [newest["deploy_id"]]
    shown = _run(runner, project_copy, "history", "-n", "1").stdout
    assert "refused" in shown and "users" in shown and "sla_policies" in shown


def test_history_rejects_a_bad_limit(project_copy: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = _run(runner, project_copy, "history", "--limit", "0")
    assert result.exit_code == 2
    assert "--limit" in result.stderr and "Traceback" not in result.output
