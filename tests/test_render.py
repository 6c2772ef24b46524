"""Rendering: the committed sql/ files are the golden files; output is deterministic and parses."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app
from incidents.engine.files import SETUP_FILE
from incidents.engine.validate import validate
from incidents.kinds.containers import SCHEMA_FILE
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.workspace import committed_files


def test_committed_files_match_templates(repo: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["render", "--check", "--project-dir", str(repo)])
    assert result.exit_code == 0, result.output + result.stderr


def test_render_is_deterministic(repo: Path) -> None:
    project = load_project(repo)
    env = environment(project, "dev")
    assert committed_files(Deployment(project, env)) == committed_files(Deployment(load_project(repo), env))


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_stale_file_is_named_and_exit_1(project_copy: Path, runner: CliRunner) -> None:
    assert runner.invoke(app, ["render", "--project-dir", str(project_copy)]).exit_code == 0
    check = runner.invoke(app, ["render", "--check", "--project-dir", str(project_copy)])
    assert check.exit_code == 0
    path = project_copy / "config" / "tables" / "users.yml"
    path.write_text(path.read_text().replace("Display name.", "Name shown in the UI."))
    check = runner.invoke(app, ["render", "--check", "--project-dir", str(project_copy)])
    assert check.exit_code == 1
    assert "sql/01_schema.sql" in check.stderr
    assert "sql/02_analytics_views.sql" not in check.stderr
    assert runner.invoke(app, ["render", "--project-dir", str(project_copy)]).exit_code == 0
    assert "Name shown in the UI." in (project_copy / SCHEMA_FILE).read_text()


def test_setup_sources_the_three_files_in_order(repo: Path) -> None:
    setup = (repo / SETUP_FILE).read_text()
    lines = [line for line in setup.splitlines() if line.startswith("!source")]
    assert lines == ["!source sql/01_schema.sql", "!source sql/02_analytics_views.sql",
                     "!source sql/03_sample_data.sql"]


@pytest.mark.slow
def test_every_rendered_statement_parses_as_snowflake(repo: Path) -> None:
    """Every statement of every environment: a kind's documented form (roles, grants, procedures,
    models) or sqlglot's Snowflake dialect; the committed files too."""
    project = load_project(repo)
    for env_name in project.environments:
        dep = Deployment(project, environment(project, env_name))
        assert validate(dep, committed_files(dep)) > 300, env_name


def test_prod_env_renders_its_database_and_retention(repo: Path) -> None:
    project = load_project(repo)
    sql = committed_files(Deployment(project, environment(project, "prod")))[SCHEMA_FILE]
    assert "CREATE TABLE IF NOT EXISTS INCIDENTS_PROD.CORE.INCIDENTS (" in sql
    assert "DATA_RETENTION_TIME_IN_DAYS = 30" in sql
    dev = committed_files(Deployment(project, environment(project, "dev")))[SCHEMA_FILE]
    assert "DATA_RETENTION_TIME_IN_DAYS" not in dev


def test_table_ddl_is_snowflake_native(repo: Path) -> None:
    sql = (repo / SCHEMA_FILE).read_text()
    assert "CLUSTER BY (TO_DATE(CREATED_AT))" in sql
    assert "REVENUE_IMPACT NUMBER(14,2) NOT NULL DEFAULT 0" in sql
    assert "METADATA VARIANT" in sql and "TAGS ARRAY" in sql
    assert "CONSTRAINT UK_USERS_EMAIL UNIQUE (EMAIL)" in sql
    assert "REFERENCES INCIDENTS.CORE.INCIDENT_CATEGORIES (CATEGORY_ID)" in sql
    # Never anything that loses data on a re-run, nor what fakesnow cannot parse.
    for forbidden in ("CREATE OR REPLACE TABLE", "CREATE OR ALTER", "NOT ENFORCED", " RELY", "DROP "):
        assert forbidden not in sql
