"""Config loading: the shipped project is valid, and every kind of broken config is one clear
line naming the file and key, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app
from incidents.config import load_project
from incidents.sqltypes import SqlType


def test_shipped_project_loads_all_nine_spec_tables_in_fk_order(repo: Path) -> None:
    project = load_project(repo)
    names = [t.name for t in project.tables]
    for table in ("users", "incident_categories", "incidents", "incident_status_history",
                  "incident_assignment_history", "incident_comments", "incident_attachments",
                  "solution_templates", "incident_solutions"):
        assert table in names
    for table in project.tables:  # parents come first
        for parent in table.parents:
            assert names.index(parent) < names.index(table.name), (table.name, parent)
    incidents = project.table("incidents")
    assert incidents is not None
    assert incidents.column("revenue_impact").type == SqlType("NUMBER", (14, 2))  # type: ignore[union-attr]
    assert all(c.comment for t in project.tables for c in t.columns), "every column has a comment"
    assert all(t.comment for t in project.tables)


def _write(project: Path, rel: str, text: str) -> None:
    (project / rel).write_text(text, encoding="utf-8")


def _replace(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BROKEN = {
    "yaml syntax": (
        lambda p: _write(p, "config/tables/users.yml", "name: users\ncolumns: [\n  - {name: a\n"),
        ["config/tables/users.yml:", "invalid YAML"]),
    "unknown key": (
        lambda p: _replace(p, "config/tables/users.yml", "primary_key:", "primary_keys:"),
        ["config/tables/users.yml", "primary_keys", "unknown key"]),
    "unknown column key": (
        lambda p: _replace(p, "config/tables/users.yml", 'nullable: false, comment: "Display name."',
                           'nulable: false, comment: "Display name."'),
        ["config/tables/users.yml", "columns[2].nulable", "unknown key"]),
    "bad type": (
        lambda p: _replace(p, "config/tables/users.yml", "type: VARCHAR(200)", "type: VARCHAR2000"),
        ["config/tables/users.yml", "columns[2].type", "unsupported type"]),
    "wrong value type": (
        lambda p: _replace(p, "config/tables/users.yml", 'nullable: false, comment: "Display name."',
                           'nullable: sometimes, comment: "Display name."'),
        ["config/tables/users.yml", "columns[2].nullable", "expected a boolean"]),
    "dangling fk": (
        lambda p: _replace(p, "config/tables/incidents.yml", "references: {table: incident_categories",
                           "references: {table: incident_category"),
        ["config/tables/incidents.yml", "foreign_keys[0].references", "unknown table 'incident_category'"]),
    "invalid identifier": (
        lambda p: _replace(p, "config/tables/users.yml", "name: team,", "name: team-name,"),
        ["config/tables/users.yml", "columns[4].name", "invalid identifier 'team-name'"]),
    "reserved identifier": (
        lambda p: _replace(p, "config/tables/users.yml", "name: team,", "name: select,"),
        ["config/tables/users.yml", "reserved word"]),
    "duplicate column": (
        lambda p: _replace(p, "config/tables/users.yml", "name: team,", "name: email,"),
        ["config/tables/users.yml", "duplicate column 'email'"]),
    "unknown env target": (
        lambda p: _replace(p, "config/project.yml", "target: local", "target: postgres"),
        ["config/project.yml", "environments.dev.target", "unknown target 'postgres'"]),
    "unsafe default": (
        lambda p: _replace(p, "config/tables/users.yml", "default: \"'UTC'\"", "default: \"'a'; DROP TABLE x\""),
        ["config/tables/users.yml", "columns[6].default", "unsupported default"]),
    "quote in table comment": (
        lambda p: _replace(p, "config/tables/users.yml", "comment: Everyone who", "comment: Everyone's who"),
        ["config/tables/users.yml", "comment", "cannot contain '"]),
    "fk to a non-key": (
        lambda p: _replace(p, "config/tables/incidents.yml", "references: {table: users, columns: [user_id]}",
                           "references: {table: users, columns: [team]}"),
        ["config/tables/incidents.yml", "not a primary or unique key"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_is_one_line_exit_2(case: str, project_copy: Path, runner: CliRunner) -> None:
    mutate, expected = BROKEN[case]
    mutate(project_copy)
    result = runner.invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "Traceback" not in message
    assert message.startswith("error: ")
    assert len(message.strip().splitlines()) == 1, message
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_unknown_env_is_exit_2(repo: Path, runner: CliRunner, local_dir: Path) -> None:
    result = runner.invoke(app, ["deploy", "--project-dir", str(repo), "--env", "qa"])
    assert result.exit_code == 2
    assert "unknown environment 'qa'" in result.stderr
    assert "dev, staging, prod" in result.stderr
    assert not local_dir.exists(), "nothing was opened"


def test_missing_project_dir_is_exit_2(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "--project-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no config/project.yml" in result.stderr


def test_fk_cycle_is_reported(project_copy: Path, runner: CliRunner) -> None:
    _replace(project_copy, "config/tables/users.yml", "unique_keys:",
             "foreign_keys:\n  - columns: [user_id]\n    references: {table: incidents, columns: [incident_id]}\n"
             "unique_keys:")
    result = runner.invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    assert "foreign keys form a cycle" in result.stderr
