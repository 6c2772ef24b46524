"""Config loading: the shipped project is valid; environment and project-folder mistakes are exit 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from incidents.cli import app
from incidents.project.config import load_project
from incidents.sql.types import SqlType


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


def _replace(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# Broken-config cases live in tests/fixtures/config_errors/ (test_config_errors.py).


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
