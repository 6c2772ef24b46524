"""`incidents sql`: statements read over many lines, run one by one on one connection."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app
from incidents.cli import sql as shell


def _sql(runner: CliRunner, project: Path, text: str, *args: str) -> object:
    return runner.invoke(app, ["sql", *args, "--project-dir", str(project)], input=text)


def _documents(text: str) -> list[object]:
    """The JSON documents printed one after another (one per statement)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
        at += len(text[at:]) - len(text[at:].lstrip())
    return docs


INSERT = ("INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE, TEAM) VALUES\n"
          "  (1, 'ana@example.com', 'Ana, Lead', 'manager', 'Payments'),\n"
          "  (2, 'bo@example.com', 'Bo', 'customer', NULL);\n")
SELECT = "SELECT USER_ID, FULL_NAME,\n       TEAM\nFROM USERS\nORDER BY USER_ID;\n"


def test_piped_statements_print_csv_and_nothing_else(repo: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = _sql(runner, repo, INSERT + SELECT + "SELECT 'x' AS a, 2 AS b; SELECT 3 AS c;\n", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["number of rows inserted"], ["2"],
        ["USER_ID", "FULL_NAME", "TEAM"], ["1", "Ana, Lead", "Payments"], ["2", "Bo", ""],
        ["A", "B"], ["x", "2"], ["C"], ["3"]]


def test_piped_statements_print_one_json_array_each(repo: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = _sql(runner, repo, INSERT + SELECT, "--format", "json", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert _documents(result.stdout) == [[{"number of rows inserted": 2}],
                                         [{"USER_ID": 1, "FULL_NAME": "Ana, Lead", "TEAM": "Payments"}]]


def test_a_failing_statement_prints_one_line_and_the_next_runs(repo: Path, deployed_local: Path,
                                                               runner: CliRunner) -> None:
    text = "SELECT 1 AS a;\nSELECT * FROM no_such_table;\nSELECT 2 AS b;\n"
    result = _sql(runner, repo, text, "--format", "csv")
    assert result.exit_code == 3
    assert result.stdout == "A\n1\nB\n2\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "NO_SUCH_TABLE" in lines[0].upper(), result.stderr
    assert "Traceback" not in result.output


def test_json_prints_an_error_document_in_place_of_the_failed_one(repo: Path, deployed_local: Path,
                                                                  runner: CliRunner) -> None:
    result = _sql(runner, repo, "SELECT * FROM no_such_table;\nSELECT 2 AS b;\n", "--format", "json")
    assert result.exit_code == 3
    first, second = _documents(result.stdout)
    assert first["error"]["exit_code"] == 3 and second == [{"B": 2}]


@pytest.mark.parametrize("command", ["exit", "quit;", "  \\q  "])
def test_exit_stops_before_later_statements(command: str, repo: Path, deployed_local: Path,
                                            runner: CliRunner) -> None:
    result = _sql(runner, repo, f"SELECT 1 AS a;\n{command}\nSELECT * FROM no_such_table;\n", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "A\n1\n" and result.stderr == ""


def test_semicolons_in_strings_and_comments_do_not_end_a_statement(repo: Path, deployed_local: Path,
                                                                   runner: CliRunner) -> None:
    text = "-- a comment; not the end\nSELECT 'a;\nb' AS s, /* ; */ 'it''s;' AS t\n;\nSELECT $$;$$ AS u"
    result = _sql(runner, repo, text, "--format", "json")
    assert result.exit_code == 0, result.output
    # the last statement has no `;`: piped text runs it at end of input anyway
    assert _documents(result.stdout) == [[{"S": "a;\nb", "T": "it's;"}], [{"U": ";"}]]


def test_nothing_deployed_says_so_and_creates_nothing(project_copy: Path, local_dir: Path,
                                                      runner: CliRunner) -> None:
    result = _sql(runner, project_copy, "SELECT 1;\n")
    assert result.exit_code == 2
    assert result.stderr == "error: nothing deployed on the local target yet: run `incidents deploy`\n"
    assert not local_dir.exists()


def test_help_and_no_history_when_piped(repo: Path, deployed_local: Path, runner: CliRunner, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "history"
    monkeypatch.setenv("INCIDENTS_SQL_HISTORY", str(history))
    result = _sql(runner, repo, "help\nSELECT 1 AS a;\n", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == shell.HELP_TEXT + "\nA\n1\n"
    assert "incidents>" not in result.output and not history.exists()


def test_terminal_prompts_ctrl_c_clears_and_history_is_bounded(repo: Path, deployed_local: Path, runner: CliRunner,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("readline")
    history = tmp_path / "history"
    history.write_text("".join(f"SELECT {i};\n" for i in range(1200)), encoding="utf-8")
    monkeypatch.setenv("INCIDENTS_SQL_HISTORY", str(history))
    monkeypatch.setattr(shell, "_is_tty", lambda: True)
    typed: list[object] = ["SELECT * FROM", KeyboardInterrupt, "SELECT 1", "AS a;", "SELECT 'never run'"]
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        if not typed:
            raise EOFError
        line = typed.pop(0)
        if line is KeyboardInterrupt:
            raise KeyboardInterrupt
        return str(line)

    monkeypatch.setattr("builtins.input", fake_input)
    result = _sql(runner, repo, "", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert prompts == [shell.PROMPT, shell.CONTINUATION, shell.PROMPT, shell.CONTINUATION, shell.PROMPT,
                       shell.CONTINUATION]
    assert result.stdout == "\nA\n1\n\n"  # a new line after ^C and after ^D; the unfinished statement is dropped
    assert len(history.read_text(encoding="utf-8").splitlines()) == shell.HISTORY_LINES
