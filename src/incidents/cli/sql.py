"""`incidents sql`: an interactive SQL shell that pays start-up (the connector import and the
connection) once, then runs statement after statement on the same session."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, QueryFormat, VerboseOpt, _errors, _workspace
from incidents.sql.text import count_statements, split_statements

if TYPE_CHECKING:
    from incidents.workspace import Workspace

PROMPT, CONTINUATION = "incidents> ", "      -> "
EXIT, HELP = {"exit", "quit", "\\q"}, {"help", "\\?"}
HISTORY_LINES = 1000
HELP_TEXT = """\
End each statement with `;` (a statement may span lines); each runs on its own, in order.
  exit, quit, \\q   leave (or Ctrl-D)        help, \\?   this text
  Ctrl-C            clear the statement being typed
Output: --format table|csv|json, --limit N rows per statement (set when starting the shell)."""


def sql(
    output: Annotated[QueryFormat, typer.Option("--format", "-f", help="table, csv or json.")] = QueryFormat.table,
    limit: Annotated[int | None, typer.Option("--limit", help="Fetch at most N rows per statement.", min=0)] = None,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Read SQL statements (each ending in `;`, over as many lines as needed) and run them one by one
    on one connection, printing each result as `incidents query` does.

    On a terminal: prompts, line editing and history (~/.incidents_sql_history, or
    $INCIDENTS_SQL_HISTORY; 1000 lines). Piped: no prompts, no history. A failing statement prints
    one error line and the next one runs; exit 0 if every statement succeeded, else the worst
    failure's code (3 target error, 2 user error). json prints one array per statement.

    Examples: incidents sql; echo "SELECT COUNT(*) FROM incidents;" | incidents sql --format csv
    """
    tty = _is_tty()
    with _errors(output is QueryFormat.json), _workspace(project_dir, env, connection) as ws:
        ws.require_deployed()  # before reading anything, and creating no files
        _ = ws.session  # connect now: the first statement then runs at once
        with _history(tty):
            worst = _Shell(ws, output, limit, tty, verbose).run(_tty_line if tty else _piped_line)
    if worst:
        raise typer.Exit(worst)


def _is_tty() -> bool:
    return sys.stdin.isatty()


def _tty_line(prompt: str) -> str | None:
    try:
        return input(prompt)  # line editing and history through readline, once imported
    except EOFError:
        typer.echo()
        return None


def _piped_line(prompt: str) -> str | None:
    line = sys.stdin.readline()
    return line.removesuffix("\n") if line else None


def _complete(text: str) -> bool:
    """True when `text` ends outside any statement, string or comment: one more word would start a
    new statement. Asks the lexer of sqltext rather than scanning the text a second way."""
    return count_statements(text + "\nx") > count_statements(text)


def _meta(line: str) -> str:
    return line.strip().rstrip(";").strip().lower()


class _Shell:
    def __init__(self, ws: Workspace, output: QueryFormat, limit: int | None, tty: bool, verbose: bool) -> None:
        self.ws, self.output, self.limit, self.tty, self.verbose = ws, output, limit, tty, verbose
        self.traced = len(ws.trace)  # statements already printed by --verbose

    def run(self, read: Callable[[str], str | None]) -> int:
        """Read and run until EOF or `exit`; returns the worst exit code seen (0: all succeeded)."""
        worst, buffer = 0, list[str]()
        while True:
            try:
                line = read(CONTINUATION if buffer else PROMPT)
            except KeyboardInterrupt:  # only a terminal sends it here: drop what was typed
                typer.echo()
                buffer.clear()
                continue
            if line is None:
                break
            if not buffer and _meta(line) in EXIT:
                return worst
            if not buffer and _meta(line) in HELP:
                typer.echo(HELP_TEXT)
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if _complete(text):
                buffer.clear()
                worst = max(worst, self.run_text(text))
        if buffer and not self.tty:  # piped text whose last statement lacks its `;`: run it too
            worst = max(worst, self.run_text("\n".join(buffer)))
        return worst

    def run_text(self, text: str) -> int:
        worst = 0
        for statement in split_statements(text):
            worst = max(worst, self.run_one(statement))
        return worst

    def run_one(self, statement: str) -> int:
        """Run one statement and print its result, or its error as the CLI prints one; the exit code."""
        try:
            with _errors(self.output is QueryFormat.json):
                result = self.ws.query(statement, limit=self.limit)
                fmt.query_result(result, self.output.value, None)
        except typer.Exit as exc:
            return exc.exit_code
        except KeyboardInterrupt:  # Ctrl-C while a statement runs: back to the prompt (a terminal only)
            if not self.tty:
                raise
            fmt.error_line("error", "interrupted; the statement may not have finished")
            return 2
        finally:
            self.trace()
        return 0

    def trace(self) -> None:
        """--verbose: the statements sent since the last call, as each one ends."""
        statements = self.ws.trace
        if self.verbose:
            fmt.trace(statements[self.traced:])
        self.traced = len(statements)


@contextlib.contextmanager
def _history(tty: bool) -> Iterator[None]:
    """On a terminal with readline: history loaded at start, saved (bounded) at exit. Piped: none."""
    readline = _readline() if tty else None
    if readline is None:
        yield
        return
    path = Path(os.environ.get("INCIDENTS_SQL_HISTORY") or os.path.expanduser("~/.incidents_sql_history"))
    readline.set_history_length(HISTORY_LINES)
    with contextlib.suppress(OSError):  # history is a convenience: a missing or unreadable file is no error
        readline.read_history_file(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)


def _readline() -> ModuleType | None:
    """The readline module, whose import makes input() edit lines and keep history; None where the
    Python build has none (Windows)."""
    try:
        import readline
    except ImportError:
        return None
    return readline
