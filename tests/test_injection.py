"""Hostile config values: every field that reaches SQL, with payloads that try to end a string or an
identifier and append a statement. Each case is either refused (exit 2, naming the file and key) or
rendered so that Snowflake's lexer (ours and sqlglot's) sees exactly the statements of a clean
project; one deploy of all accepted payloads together leaves every table and row in place."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType

from incidents.cli import app
from incidents.errors import ConfigError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.sql.text import split_statements
from incidents.workspace import committed_files

DROP = "DROP TABLE INCIDENTS.CORE.SLA_POLICIES"
PAYLOADS = {
    "issue_8": "'\\'';" + DROP + ";--'",        # the reported one: \' ends the string in Snowflake
    "quote": "x'; " + DROP + "; --",
    "backslash_quote": "x\\'; " + DROP + "; --",
    "trailing_backslash": "x\\",
    "double_backslash": "x\\\\'; " + DROP + "; --",
    "dollar": "$$; " + DROP + "; $$",
    "comment_close": "*/; " + DROP + "; /*",
    "double_quote": '"; ' + DROP + '; --',
    "newline": "x\n'; " + DROP + "; --\n",
    "semicolon_only": "a;b",
}


def edit_yaml(root: Path, rel: str, change: Callable[[Any], None]) -> None:
    path = root / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def column(data: dict, name: str) -> dict:
    return next(c for c in data["columns"] if c["name"] == name)


def _set(path: tuple[Any, ...], value_of: Callable[[str], Any]) -> Callable[[str], Callable[[Any], None]]:
    """An edit that sets data[path...] = value_of(payload); path items are keys, or column names."""
    def edit(payload: str) -> Callable[[Any], None]:
        def change(data: Any) -> None:
            target = data
            for part in path[:-1]:
                target = column(target, part[1:]) if isinstance(part, str) and part.startswith("@") else target[part]
            target[path[-1]] = value_of(payload)
        return change
    return edit


def same(p: str) -> str:
    return p


def sql_quoted(p: str) -> str:
    return "'" + p.replace("'", "''") + "'"


# field -> (file, edit). Every place a config value can reach SQL text.
FIELDS: dict[str, tuple[str, Callable[[str], Callable[[Any], None]]]] = {
    "column_default_raw": ("config/tables/users.yml", _set(("@timezone", "default"), same)),
    "column_default_quoted": ("config/tables/users.yml", _set(("@timezone", "default"), sql_quoted)),
    "column_comment": ("config/tables/users.yml", _set(("@timezone", "comment"), same)),
    "table_comment": ("config/tables/users.yml", _set(("comment",), same)),
    "allowed_values": ("config/tables/incidents.yml", _set(("@source", "allowed_values"),
                                                           lambda p: ["monitoring", p])),
    "reference_row_text": ("config/tables/sla_policies.yml", _set(("reference_data", "rows", 0, "description"), same)),
    "reference_row_key": ("config/tables/sla_policies.yml", _set(("reference_data", "rows", 3, "priority"), same)),
    "view_comment": ("config/views.yml", _set(("views", 0, "comment"), same)),
    "view_column_doc": ("config/views.yml", _set(("views", 0, "columns", "category_id"), same)),
    "cluster_by": ("config/tables/incidents.yml", _set(("cluster_by",), lambda p: [p])),
    "column_type": ("config/tables/users.yml", _set(("@timezone", "type"), lambda p: f"VARCHAR(64){p}")),
    "column_name": ("config/tables/users.yml", _set(("@timezone", "name"), same)),
    "table_name": ("config/tables/users.yml", _set(("name",), lambda p: f"users{p}")),
    "database": ("config/project.yml", _set(("database",), same)),
    "env_schema": ("config/project.yml", _set(("environments", "dev", "schema"), lambda p: f"core{p}")),
    "env_warehouse": ("config/project.yml", _set(("environments", "prod", "warehouse"), same)),
    "currency": ("config/project.yml", _set(("currency",), same)),
}


def baseline_counts(root: Path) -> dict[str, int]:
    project = load_project(root)
    files = committed_files(Deployment(project, environment(project, None)))
    return {rel: len(split_statements(text)) for rel, text in files.items() if rel.endswith(".sql")}


def sqlglot_statements(sql: str) -> int:
    """Statements by sqlglot's Snowflake tokenizer: runs of tokens between semicolons."""
    count, pending = 0, False
    for token in Snowflake().tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            count, pending = count + pending, False
        else:
            pending = True
    return count + pending


@pytest.fixture(scope="module")
def clean_counts(tmp_path_factory: pytest.TempPathFactory, repo_path: Path) -> dict[str, int]:
    return baseline_counts(repo_path)


@pytest.fixture(scope="module")
def repo_path() -> Path:
    return Path(__file__).resolve().parents[1]


def corpus() -> list[Any]:
    """Every field x payload; the default suite runs the reported payload through every field and
    every payload through the defaults, the rest is marked slow."""
    cases = []
    for field in FIELDS:
        for payload in PAYLOADS:
            quick = payload == "issue_8" or field.startswith("column_default")
            marks = () if quick else (pytest.mark.slow,)
            cases.append(pytest.param(field, payload, id=f"{field}-{payload}", marks=marks))
    return cases


@pytest.mark.parametrize(("field", "payload"), corpus())
def test_payload_is_refused_or_quoted(field: str, payload: str, tmp_path: Path, repo_path: Path,
                                      clean_counts: dict[str, int]) -> None:
    # Only config/ is copied: the repository's templates (compiled once per worker) render it.
    shutil.copytree(repo_path / "config", tmp_path / "config")
    rel, edit = FIELDS[field]
    edit_yaml(tmp_path, rel, edit(PAYLOADS[payload]))
    try:
        project = load_project(tmp_path)
        files = committed_files(Deployment(project, environment(project, None)))
    except ConfigError as exc:
        assert exc.file, f"the error names no file: {exc}"
        assert exc.file == rel or exc.file.startswith("templates/"), str(exc)
        return
    for name, text in files.items():
        if name.endswith(".sql"):
            assert len(split_statements(text)) == clean_counts[name], (name, field, payload)
            assert sqlglot_statements(text) == clean_counts[name], (name, field, payload)
    # Outside string literals the payload's DROP never appears.
    code = re.sub(r"'(?:[^'\\]|\\.|'')*'", "''", files["sql/01_schema.sql"] + files["sql/02_analytics_views.sql"])
    assert DROP not in code


@pytest.mark.parametrize("field", ["column_name", "table_name", "database", "env_schema"])
def test_identifier_with_trailing_newline_is_refused(field: str, project_copy: Path, runner: Any) -> None:
    """`$` matches before a final newline; YAML `name: |` produces one (issue 8, defect 2)."""
    rel, edit = FIELDS[field]
    edit_yaml(project_copy, rel, edit("\n") if field != "column_name" else _set(("@timezone", "name"),
                                                                              lambda p: "timezone\n")(""))
    result = runner.invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    assert rel in result.output and "invalid identifier" in result.output


def test_template_printing_a_config_value_bare_is_refused(project_copy: Path, runner: Any) -> None:
    edit_yaml(project_copy, "config/project.yml", _set(("variables", "evil"), same)(PAYLOADS["quote"]))
    view = project_copy / "templates/views/v_category_tree.sql.j2"
    view.write_text(view.read_text(encoding="utf-8").replace("SELECT", "SELECT '{{ vars.evil }}' AS x, ", 1),
                    encoding="utf-8")
    result = runner.invoke(app, ["render", "--check", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    assert "templates/views/v_category_tree.sql.j2" in result.output and "| literal" in result.output


@pytest.mark.slow
def test_deploy_of_every_accepted_payload_keeps_every_table(project_copy: Path, local_dir: Path,
                                                             runner: Any) -> None:
    payload = PAYLOADS["issue_8"]
    for field in ("column_default_quoted", "column_comment", "allowed_values", "reference_row_text",
                  "view_column_doc"):
        rel, edit = FIELDS[field]
        edit_yaml(project_copy, rel, edit(payload))
    edit_yaml(project_copy, "config/tables/incident_comments.yml",
              _set(("@is_public", "comment"), same)(PAYLOADS["backslash_quote"]))
    args = ["--project-dir", str(project_copy)]
    result = runner.invoke(app, ["deploy", "-q", *args])
    assert result.exit_code == 0, result.output
    project = load_project(project_copy)
    tables = runner.invoke(app, ["query", "SELECT COUNT(*) AS n FROM information_schema.tables "
                                          "WHERE table_schema = 'CORE' AND table_type = 'BASE TABLE'",
                                 "--format", "csv", *args])
    assert tables.exit_code == 0, tables.output
    materialized = [v for v in project.views if v.materialize]  # the local target's stand-in tables
    assert int(tables.output.splitlines()[1]) == len(project.tables) + 2 + len(materialized)  # + history, lock
    rows = runner.invoke(app, ["query", "SELECT description FROM sla_policies WHERE priority = 'critical'",
                               "--format", "json", *args])
    assert rows.exit_code == 0, rows.output
    assert payload in rows.output.replace("\\\\", "\\")


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_query_refuses_several_statements_before_running_any(project_copy: Path, deployed_local: Path,
                                                             runner: Any) -> None:
    args = ["--project-dir", str(project_copy)]
    result = runner.invoke(app, ["query", "SELECT 1 AS a; DROP TABLE incident_attachments", *args])
    assert result.exit_code == 2, result.output
    assert "2 statements" in result.output and "nothing was run" in result.output
    still = runner.invoke(app, ["query", "SELECT COUNT(*) AS n FROM incident_attachments", "--format", "csv", *args])
    assert still.exit_code == 0, still.output
    for text in ("\n-- only a comment", "/* ; */ ;", "  "):
        empty = runner.invoke(app, ["query", text, *args])
        assert empty.exit_code == 2 and "no SQL given" in empty.output, empty.output
    # A ';' inside strings, quoted names and comments does not split a statement.
    one = runner.invoke(app, ["query", "SELECT 'a;b' AS \"x;y\" -- ;\n;", "--format", "csv", *args])
    assert one.exit_code == 0 and "a;b" in one.output, one.output


SPLIT_CASES = [
    ("SELECT 1; SELECT 2", 2),
    ("SELECT 'a;b'", 1),
    ("SELECT 'it''s; fine'", 1),
    ("SELECT 'a\\'; DROP TABLE t; --'", 1),
    ("SELECT 'x\\''; DROP TABLE t; --'", 2),
    ("SELECT $$;$$;", 1),
    ('SELECT "a;""b"; SELECT 2', 2),
    ("SELECT 1 /* ; */", 1),
    ("SELECT 1 // ; x\n", 1),
    ("-- ;\n", 0),
    (";;", 0),
    ("SELECT 1 - 2 / 3;", 1),
    ("SELECT 'unterminated; DROP TABLE t", 1),
]


@pytest.mark.parametrize(("sql", "expected"), SPLIT_CASES)
def test_split_statements_agrees_with_sqlglot(sql: str, expected: int) -> None:
    assert len(split_statements(sql)) == expected
    if "unterminated" not in sql:  # sqlglot raises on an unterminated string; Snowflake runs to the end
        assert sqlglot_statements(sql) == expected
