"""The command line itself: help texts, start-up cost, query output formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents import __version__
from incidents.cli import app

COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]  # every command, new ones too


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, runner: CliRunner) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert "Example" in result.output, "1-3 examples in every command's help"
    assert len(result.output.splitlines()) < 60, "one screen"


def test_root_help_lists_commands_and_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    assert "2 usage or config error" in " ".join(result.output.split())


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"incidents {__version__}"


def test_help_imports_neither_connector_nor_fakesnow_nor_pandas() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['incidents', '--help']\n"
        "from incidents.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'snowflake', 'fakesnow', 'pandas', 'duckdb', 'numpy', 'pyarrow', 'sqlglot'})\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY=\n" in result.stdout, result.stdout[-300:]


@pytest.fixture
def deployed(repo: Path, deployed_local: Path, runner: CliRunner) -> Path:
    sql = ("INSERT INTO INCIDENTS.CORE.USERS (USER_ID, EMAIL, FULL_NAME, ROLE, TEAM) VALUES "
           "(1, 'ana@example.com', 'Ana, Lead', 'manager', 'Payments'), (2, 'bo@example.com', 'Bo', 'customer', NULL)")
    assert runner.invoke(app, ["query", sql, "--project-dir", str(repo)]).exit_code == 0
    return repo


SELECT = "SELECT USER_ID, FULL_NAME, TEAM FROM USERS ORDER BY USER_ID"


def test_query_json_is_an_array_of_objects(deployed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", SELECT, "--format", "json", "--project-dir", str(deployed)])
    assert result.exit_code == 0
    assert json.loads(result.output) == [{"USER_ID": 1, "FULL_NAME": "Ana, Lead", "TEAM": "Payments"},
                                         {"USER_ID": 2, "FULL_NAME": "Bo", "TEAM": None}]


def test_query_csv_has_header_and_quotes(deployed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", SELECT, "--format", "csv", "--project-dir", str(deployed)])
    assert result.exit_code == 0
    assert list(csv.reader(io.StringIO(result.output))) == [
        ["USER_ID", "FULL_NAME", "TEAM"], ["1", "Ana, Lead", "Payments"], ["2", "Bo", ""]]


def test_query_table_and_stdin(deployed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", "-", "--project-dir", str(deployed)], input=SELECT)
    assert result.exit_code == 0
    assert "Ana, Lead" in result.output and "NULL" in result.output and "2 row(s)" in result.output


def test_query_without_sql_is_exit_2(deployed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", "  ", "--project-dir", str(deployed)])
    assert result.exit_code == 2 and "no SQL given" in result.stderr


def test_verbose_prints_statements(deployed: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "-v", "--project-dir", str(deployed)])
    assert result.exit_code == 0, result.output
    assert "INFORMATION_SCHEMA" in result.stderr


def test_query_file_runs_statements_in_order_and_stops_at_the_first_failure(
        deployed: Path, runner: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "script.sql"
    script.write_text("SELECT COUNT(*) AS n FROM users;\n-- a comment; with a semicolon\n"
                      "UPDATE users SET team = 'Core' WHERE user_id = 2;\nSELECT * FROM no_such_table;\n"
                      "DELETE FROM users;\n", encoding="utf-8")
    result = runner.invoke(app, ["query", "-F", str(script), "--project-dir", str(deployed)])
    assert result.exit_code == 3, result.output
    assert "-- [1] SELECT COUNT(*) AS n FROM users" in result.stdout and "-- [2]" in result.stdout
    assert "NO_SUCH_TABLE" in result.stderr and "-- [4]" not in result.stdout
    after = runner.invoke(app, ["query", "SELECT COUNT(*) AS n, MAX(team) AS t FROM users", "--format", "json",
                                "--project-dir", str(deployed)])
    assert json.loads(after.stdout) == [{"N": 2, "T": "Payments"}]  # the DELETE after the failure never ran
    core = runner.invoke(app, ["query", "SELECT team FROM users WHERE user_id = 2", "--format", "csv",
                               "--project-dir", str(deployed)])
    assert core.stdout.splitlines()[1] == "Core"  # the UPDATE before it did
    as_json = runner.invoke(app, ["query", "-F", str(script), "--format", "json", "--project-dir", str(deployed)])
    assert as_json.exit_code == 3
    assert [s["statement"].split()[0] for s in json.loads(as_json.stdout)] == ["SELECT", "--"]


def test_query_limit_and_vertical(deployed: Path, runner: CliRunner) -> None:
    limited = runner.invoke(app, ["query", SELECT, "--limit", "1", "--format", "csv", "--project-dir", str(deployed)])
    assert limited.exit_code == 0
    assert limited.stdout.splitlines() == ["USER_ID,FULL_NAME,TEAM", '1,"Ana, Lead",Payments']
    vertical = runner.invoke(app, ["query", SELECT, "-x", "--project-dir", str(deployed)])
    assert vertical.exit_code == 0
    assert "-[ RECORD 2 ]" in vertical.stdout and "FULL_NAME | Bo" in vertical.stdout
    wide = runner.invoke(app, ["query", "SELECT * FROM v_incident_overview", "--project-dir", str(deployed)],
                         env={"COLUMNS": "60"})
    assert wide.exit_code == 0 and "0 row(s)" in wide.stdout and "…" not in wide.stdout


def test_init_copies_the_example_into_a_folder_you_own(tmp_path: Path, runner: CliRunner,
                                                       local_dir: Path) -> None:
    dest = tmp_path / "warehouse"
    result = runner.invoke(app, ["init", str(dest)])
    assert result.exit_code == 0, result.output
    assert (dest / "config" / "project.yml").is_file() and (dest / "templates" / "views").is_dir()
    assert ".incidents/" in (dest / ".gitignore").read_text(encoding="utf-8")
    workflows = sorted(p.name for p in (dest / ".github" / "workflows").iterdir())
    assert workflows == ["incidents-deploy.yml", "incidents-drift.yml"]
    rendered = runner.invoke(app, ["render", "--project-dir", str(dest)])
    assert rendered.exit_code == 0 and (dest / "setup.sql").is_file()
    again = runner.invoke(app, ["init", str(dest)])
    assert again.exit_code == 2 and "already holds a project" in again.stderr


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_render_refuses_to_write_into_the_installed_package(project_copy: Path, runner: CliRunner,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("incidents.project.config.PACKAGED_PROJECT", project_copy)
    result = runner.invoke(app, ["render", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    assert "incidents init" in result.stderr and not (project_copy / "setup.sql").exists()


def test_json_commands_print_an_error_document_on_failure(repo: Path, deployed_local: Path,
                                                         runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "--format", "json", "--project-dir", str(repo), "--env", "qa"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["exit_code"] == 2 and error["kind"] == "ConfigError" and error["key"] == "--env"
    assert "unknown environment 'qa'" in error["message"] and "unknown environment" in result.stderr
    query = runner.invoke(app, ["query", "SELECT * FROM nowhere", "--format", "json", "--project-dir", str(repo)])
    assert query.exit_code == 3 and json.loads(query.stdout)["error"]["kind"] == "TargetError"


def test_help_shows_the_defaults_rich_markup_used_to_eat(runner: CliRunner) -> None:
    result = runner.invoke(app, ["deploy", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "[default: its default_env]" in text
    assert "[default: here if ./config/project.yml exists, else the bundled example]" in text


def test_count_star_gets_snowflakes_header(project_copy: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["query", "SELECT COUNT(*) FROM sla_policies", "--format", "json",
                                 "--project-dir", str(project_copy)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"COUNT(*)": 4}]  # DuckDB alone would say count_star()


def _complete(words: str, cwd: Path, separator: str | None = None) -> list[str]:
    import os

    script = Path(sys.executable).parent / "incidents"
    env = {**os.environ, "_INCIDENTS_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split(" ")) - 1)}
    done = subprocess.run([str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(separator) if separator else done.stdout.split()


def test_shell_completion_offers_environments_and_views_from_config(project_copy: Path) -> None:
    assert _complete("incidents deploy --env ", project_copy) == ["dev", "prod", "staging"]
    assert _complete("incidents diff -e st", project_copy) == ["staging"]
    views = sorted(_complete("incidents query v_sla", project_copy))
    assert views == ["v_sla_breach_risk", "v_sla_breach_training", "v_sla_performance", "v_sla_tuning"]
    import os

    # The script `--show-completion` prints, asked for bash by name: that flag detects the shell from the process
    # tree, which a test worker does not have.
    show = subprocess.run([str(Path(sys.executable).parent / "incidents")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "_INCIDENTS_COMPLETE": "source_bash"})
    assert show.returncode == 0 and "_INCIDENTS_COMPLETE" in show.stdout


def test_query_completion_is_one_quoted_argument_the_shell_does_not_expand(project_copy: Path) -> None:
    offered = _complete("incidents query SEL", project_copy, separator="\n")
    assert "SELECT\\ \\*\\ FROM\\ v_category_tree" in offered, offered
    # what bash then runs: one argument, nothing expanded
    words = subprocess.run(["bash", "-c", f"printf '%s\\n' {offered[0]}"], capture_output=True, text=True,
                           cwd=project_copy).stdout.splitlines()
    assert words == [offered[0].replace("\\", "")], words


def test_help_labels_no_flag_with_a_type() -> None:
    shown = subprocess.run([str(Path(sys.executable).parent / "incidents"), "deploy", "--help"],
                           capture_output=True, text=True, timeout=60, env={"COLUMNS": "120", "PATH": ""})
    assert shown.returncode == 0, shown.stderr
    assert "--dry-run" in shown.stdout and "<bool>" not in shown.stdout
    assert "<str>" in shown.stdout  # an option that takes a value keeps its type


def test_help_paragraphs_wrap_to_the_terminal_not_to_the_source() -> None:
    shown = subprocess.run([str(Path(sys.executable).parent / "incidents"), "receive", "--help"],
                           capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": ""})
    assert shown.returncode == 0, shown.stderr
    assert "a PagerDuty v3 webhook subscription at http://HOST:PORT/" in shown.stdout  # one source line break apart
    assert "  INCIDENTS_RECEIVE_TOKEN=s3cret incidents receive --port 9095" in shown.stdout  # examples kept


@pytest.mark.parametrize("statement", ["SELECT 'no end", "SELECT $$ no end", "COPY INTO @~/out FROM (SELECT 1)"],
                         ids=["unterminated_quote", "unterminated_dollar", "copy_into_stage"])
def test_sql_the_local_target_cannot_run_is_exit_3_naming_it(statement: str, repo: Path, deployed_local: Path,
                                                             runner: CliRunner) -> None:
    """The emulator failing a statement (sqlglot's tokenizer, a fakesnow transform's assertion) is the
    target's error: one line with the statement, exit 3, never a traceback (issue 22)."""
    for args in (["query", statement], ["sql"]):
        result = runner.invoke(app, [*args, "--project-dir", str(repo)],
                               input=statement + "\n" if args == ["sql"] else None)
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert statement.split()[0] in result.output
