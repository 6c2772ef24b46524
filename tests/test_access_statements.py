"""Statement shapes of the access and task side (issue 25, item 11), rendered offline: the documented clause
order of CREATE PROCEDURE, and the warehouse setup.sql runs on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO
from incidents import Workspace
from incidents.cli import app
from incidents.errors import ConfigError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.workspace import committed_files


def _files(env: str = "prod", **overrides: str) -> dict[str, str]:
    project = load_project(REPO)
    dep = Deployment(project, environment(project, env))
    if overrides:
        import dataclasses

        dep = Deployment(project, dataclasses.replace(dep.env, **overrides))
    return committed_files(dep)


def test_every_procedure_puts_comment_before_execute_as() -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/create-procedure (Snowflake Scripting):
    # ... LANGUAGE SQL [ COMMENT = '...' ] [ EXECUTE AS { CALLER | OWNER } ] AS ...
    heads = [m.group(0) for text in _files().values()
             for m in re.finditer(r"CREATE OR REPLACE PROCEDURE .*?\n\s*AS\n", text, re.S)]
    assert len(heads) >= 2
    for head in heads:
        assert head.index("COMMENT =") < head.index("EXECUTE AS"), head


def test_setup_uses_the_declared_warehouse_or_says_it_needs_one() -> None:
    assert "USE WAREHOUSE TRANSFORM_WH;" in _files(warehouse="TRANSFORM_WH")["setup.sql"]
    assert "declares no `warehouse:`" in _files()["setup.sql"]


def test_deploy_says_when_schema_future_grants_shadow_database_ones() -> None:
    from incidents.kinds.base import Step
    from incidents.kinds.grant import GRANT, Grants

    future = Step(GRANT, "R", "grant", ("GRANT SELECT ON FUTURE TABLES IN SCHEMA D.S TO ROLE R",))
    plain = Step(GRANT, "R", "grant", ("GRANT SELECT ON TABLE D.S.T TO ROLE R",))
    [notice] = Grants().notices([plain, future])
    assert "take precedence over database-level future grants" in notice
    assert Grants().notices([plain]) == []


def test_doctor_on_the_local_target_says_its_checks_are_snowflake_only(deployed_local: Path, repo: Path,
                                                                       runner: CliRunner,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INCIDENTS_LOCAL_RULES", raising=False)
    result = runner.invoke(app, ["doctor", "--project-dir", str(repo)])
    assert result.exit_code == 0 and "privilege checks are Snowflake-only" in result.output


def test_access_on_a_snowflake_account_needs_the_edition_declared(repo: Path) -> None:
    from types import SimpleNamespace

    with Workspace.open(repo, env="prod") as ws:
        with pytest.raises(ConfigError, match=r"environments.prod.edition: .*declare `edition: standard`"):
            ws._require_edition(SimpleNamespace(backend="snowflake", access_control=True))  # type: ignore[arg-type]
        ws._require_edition(SimpleNamespace(backend="local", access_control=True))  # type: ignore[arg-type]
