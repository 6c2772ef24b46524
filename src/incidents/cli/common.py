"""What every command module of the CLI shares: option types, output formats, error mapping and
the workspace context. Light imports only: this runs on every `incidents` start-up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incidents.cli import completion
from incidents.cli import formatters as fmt
from incidents.errors import Found, IncidentsError

if TYPE_CHECKING:
    from incidents.workspace import Workspace


class TextJson(str, Enum):
    text = "text"
    json = "json"


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    sql = "sql"


class QueryFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


EnvOpt = Annotated[str | None, typer.Option(
    "--env", "-e", envvar="INCIDENTS_ENV", show_envvar=True, autocompletion=completion.environments,
    help="Environment of config/project.yml \\[default: its default_env].")]
ConnectionOpt = Annotated[str | None, typer.Option(
    "--connection", "-c", autocompletion=completion.connections,
    help="Snowflake connection name from connections.toml (implies the Snowflake target).")]
ProjectOpt = Annotated[Path | None, typer.Option(
    "--project-dir", envvar="INCIDENTS_PROJECT_DIR", show_envvar=True,
    help="Project folder \\[default: here if ./config/project.yml exists, else the bundled example].")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print every statement as it runs.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final result.")]


@contextlib.contextmanager
def _errors(json_output: object = None) -> Iterator[None]:
    """Map the project's own exceptions to one line on stderr and an exit code; let bugs show a
    traceback. With json_output true, a failure also prints {"error": {...}} on stdout, so a CI
    parser reading stdout gets a document, never nothing or half of one."""
    try:
        yield
    except IncidentsError as exc:
        if not isinstance(exc, Found):
            fmt.error_line({2: "error", 3: "target error"}.get(exc.exit_code, "error"), str(exc))
            if json_output and not getattr(exc, "reported", False):
                fmt.error_json(exc)
        raise typer.Exit(exc.exit_code) from None


@contextlib.contextmanager
def _workspace(project_dir: Path | None, env: str | None, connection: str | None = None,
               verbose: bool = False) -> Iterator[Workspace]:
    from incidents.workspace import Workspace

    ws = Workspace.open(project_dir, env=env, connection=connection)
    try:
        yield ws
    finally:
        ws.close()
        if verbose:
            fmt.trace(ws.trace)


def show(result: object, output: TextJson, text: Callable[[], None]) -> None:
    """--format json prints the result's JSON; text calls the command's own formatter."""
    if output is TextJson.json:
        fmt.echo_json(result)
    else:
        text()
