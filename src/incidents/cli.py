"""The `incidents` command line: options -> one core call -> output -> exit code.

No SQL or YAML handling here. Heavy modules (the connector, fakesnow, pandas) are imported by the
core only when a command needs a target, so `incidents --help` stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incidents import __version__
from incidents.errors import ConfigError, Found, IncidentsError

if TYPE_CHECKING:
    from rich.console import Console

    from incidents.models import Environment, Project
    from incidents.session import Session

app = typer.Typer(
    name="incidents",
    help="Schema-as-code for an ecommerce incident-management warehouse on Snowflake.\n\n"
    "Declare tables in config/, render DDL from templates/, deploy it in dependency order to the "
    "embedded local target (default) or a Snowflake account, seed sample data and detect drift.\n\n"
    "Exit codes: 0 ok, 1 something found (drift, stale files, refused changes), "
    "2 usage or config error, 3 target error (connection, SQL).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    "--env", "-e", envvar="INCIDENTS_ENV", show_envvar=True,
    help="Environment from config/project.yml [default: the project's default_env, usually dev].")]
ConnectionOpt = Annotated[str | None, typer.Option(
    "--connection", "-c", help="Snowflake connection name from connections.toml (implies the Snowflake target).")]
ProjectOpt = Annotated[Path | None, typer.Option(
    "--project-dir", envvar="INCIDENTS_PROJECT_DIR", show_envvar=True,
    help="Project folder [default: the current folder if it has config/project.yml, else the bundled example].")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print every statement as it runs.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final result.")]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Map the project's own exceptions to one line on stderr and an exit code; let bugs show a traceback."""
    try:
        yield
    except IncidentsError as exc:
        if not isinstance(exc, Found):
            label = {2: "error", 3: "target error"}.get(exc.exit_code, "error")
            _console(stderr=True).print(f"[bold red]{label}:[/] {_escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _project(project_dir: Path | None) -> Project:
    from incidents.config import find_project_dir, load_project

    return load_project(find_project_dir(project_dir))


def _env(project: Project, env: str | None) -> Environment:
    from incidents.config import environment

    return environment(project, env)


@contextlib.contextmanager
def _session(project: Project, env: Environment, connection: str | None, verbose: bool) -> Iterator[Session]:
    from incidents.targets import open_session

    session = open_session(project, env, connection=connection)
    try:
        yield session
    finally:
        if verbose:
            console = _console(stderr=True)
            for st in session.trace:
                console.print(f"[dim]-- {st.seconds * 1000:.0f} ms[/]\n{_escape(st.sql.strip())}")
        session.close()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"incidents {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Schema-as-code for an ecommerce incident-management warehouse on Snowflake."""


# --------------------------------------------------------------------------- render / validate

@app.command()
def render(
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 and name the files that are stale.")] = False,
    env: EnvOpt = None,
    project_dir: ProjectOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Render sql/01_schema.sql, sql/02_analytics_views.sql, sql/03_sample_data.sql and setup.sql.

    The files are committed so people with only SnowSQL or `snow sql` can run setup.sql as it is.
    Output is deterministic byte for byte.
    """
    with _errors():
        from incidents.render import render_files, stale_files, write_files

        project = _project(project_dir)
        environment = _env(project, env)
        files = render_files(project, environment, sample_sql=_sample_sql(project, environment))
        console = _console()
        if check:
            stale = stale_files(project.root, files)
            if stale:
                _console(stderr=True).print(
                    f"stale: {', '.join(stale)}; run `incidents render` and commit the result")
                raise Found("stale")
            if not quiet:
                console.print(f"{len(files)} rendered files are up to date.")
            return
        written = write_files(project.root, files)
        if not quiet:
            for rel in files:
                console.print(f"{'wrote    ' if rel in written else 'unchanged'} {rel}")


def _sample_sql(project: Project, env: Environment) -> str | None:
    try:
        from incidents.seed import render_sample_sql
    except ImportError:
        return None
    return render_sample_sql(project, env)


@app.command()
def validate(
    env: EnvOpt = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Check config, templates and every rendered statement offline (no connection).

    Every statement must parse as Snowflake SQL (sqlglot) and every view's documented columns must
    match its SELECT list.
    """
    with _errors():
        from incidents.validate import validate_project

        project = _project(project_dir)
        environment = _env(project, env)
        count = validate_project(project, environment)
        _console().print(f"ok: {len(project.tables)} tables, {len(project.views)} views, "
                         f"{count} statements valid (env {environment.name}).")


# --------------------------------------------------------------------------- deploy / plan / diff

@app.command()
def deploy(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the ordered statements; change nothing.")] = False,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="Also apply changes that can lose data (drop, narrow, rebuild).")] = False,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Bring the target to the declared state, in dependency order. Idempotent.

    Creates the database and schema if missing, then tables (parents first), in-place column
    changes, reference rows and views. Never drops or rewrites a table or column without
    --allow-destructive; refused changes are listed and the exit code is 1.
    """
    with _errors():
        from incidents.apply import StepResult
        from incidents.apply import deploy as run_deploy

        project = _project(project_dir)
        environment = _env(project, env)
        console = _console()
        text = output is TextJson.text

        def on_step(result: StepResult) -> None:
            if text and not quiet and not dry_run:
                console.print(_step_line(result))

        with _session(project, environment, connection, verbose) as session:
            report = run_deploy(session, project, environment, dry_run=dry_run,
                                allow_destructive=allow_destructive, on_step=on_step)
            where = f"{session.label} (env {environment.name})"
        if not text:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        elif dry_run:
            _print_plan(console, report.results, where)
        elif report.up_to_date:
            console.print(f"Up to date: {where} matches the config; nothing to deploy.")
        else:
            refused = len(report.refused)
            console.print(f"[bold]Deployed[/] {len(report.applied)} change(s) to {_escape(where)} "
                          f"in {report.seconds:.2f}s" + (f"; [yellow]{refused} refused[/]." if refused else "."))
        if report.refused:
            if dry_run:
                return  # the plan lists them; only a real deploy fails on them
            errors = _console(stderr=True)
            for r in report.refused:
                errors.print(f"refused: {r.step.object_kind} {r.step.object}: {_escape(r.step.refused or '')}")
            raise Found("refused")


def _step_line(result: object) -> str:
    from incidents.apply import StepResult

    assert isinstance(result, StepResult)
    step = result.step
    colour = {"ok": "green", "failed": "red", "refused": "yellow", "planned": "cyan"}[result.status]
    action = step.action if result.status in ("ok", "planned") else result.status
    mark = " [red](destructive)[/]" if step.destructive else ""
    timing = f" [dim]{result.seconds:.2f}s[/]" if result.status == "ok" else ""
    return f"  [{colour}]{action:<8}[/] {step.object_kind:<15} {_escape(step.object)}{mark}{timing}"


def _print_plan(console: Console, results: list, where: str) -> None:
    if not results:
        console.print(f"Up to date: {_escape(where)} matches the config; nothing to do.")
        return
    console.print(f"Plan for {_escape(where)}:")
    for result in results:
        step = result.step
        tag = "[red]DESTRUCTIVE[/]" if step.destructive else "[green]safe[/]"
        if step.refused:
            console.print(f"-- {tag} [yellow]refused[/] {step.object_kind} {_escape(step.object)}: "
                          f"{_escape(step.refused)}")
            continue
        console.print(f"-- {tag} {step.action} {step.object_kind} {_escape(step.object)}")
        for statement in step.statements:
            console.print(_escape(statement))


@app.command()
def plan(
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="Plan destructive changes as runnable instead of refused.")] = False,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print the statements `deploy` would run now, in order, each marked safe or destructive.

    Same as `deploy --dry-run`. Exit 0 even when there is something to do (use `diff` to gate CI).
    """
    deploy(dry_run=True, allow_destructive=allow_destructive, output=output, env=env, connection=connection,
           project_dir=project_dir, verbose=verbose, quiet=False)


@app.command()
def diff(
    output: Annotated[DiffFormat, typer.Option("--format", "-f", help="text, json or sql.")] = DiffFormat.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Compare the declared schema with the live target. Exit 0 in sync, 1 drift.

    text: a summary grouped by object; json: one entry per change (see README); sql: the statements
    that bring the live schema back to the declared one (destructive ones included, marked).
    """
    with _errors():
        from incidents.apply import snapshot

        project = _project(project_dir)
        environment = _env(project, env)
        with _session(project, environment, connection, verbose) as session:
            snap = snapshot(session, project, environment, allow_destructive=True)
            where = f"{session.label} (env {environment.name})"
        console = _console()
        if output is DiffFormat.json:
            typer.echo(json.dumps({"env": environment.name, "in_sync": not snap.changes,
                                   "changes": [c.as_dict() for c in snap.changes]}, indent=2))
        elif output is DiffFormat.sql:
            for step in (s for s in snap.steps if s.statements):
                tag = "DESTRUCTIVE" if step.destructive else "safe"
                typer.echo(f"-- {tag}: {step.action} {step.object_kind} {step.object}")
                for statement in step.statements:
                    typer.echo(statement)
        elif not snap.changes:
            console.print(f"In sync: {_escape(where)} matches the config.")
        else:
            _print_changes(console, snap.changes, where)
        if snap.changes:
            raise typer.Exit(1)


def _print_changes(console: Console, changes: list, where: str) -> None:
    console.print(f"[bold]Drift[/] in {_escape(where)}: {len(changes)} change(s)")
    current = None
    for change in changes:
        key = (change.object_kind if change.object_kind != "column" else "table", change.object)
        if key != current:
            current = key
            console.print(f"[bold]{key[0]} {_escape(change.object)}[/]")
        mark = " [red](destructive)[/]" if change.destructive else ""
        what = f"{change.column}: " if change.column else ""
        shown = [f"{label} {value}" for label, value in (("declared", change.declared), ("live", change.live))
                 if value is not None]
        values = f" [dim]({_escape(', '.join(shown))})[/]" if shown else ""
        console.print(f"  [yellow]{change.kind}[/] {_escape(what)}{_escape(change.detail)}{values}{mark}")


# --------------------------------------------------------------------------- seed / query

@app.command()
def seed(
    incidents: Annotated[int, typer.Option("--incidents", "-n", min=1, help="How many incidents to generate.")] = 5000,
    random_seed: Annotated[int, typer.Option("--random-seed", "-s", help="Seed of the generator.")] = 42,
    replace: Annotated[bool, typer.Option("--replace", help="Replace rows already in the tables.")] = False,
    start: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="First day of the generated history [default: END - 365 days].")] = None,
    end: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="'Now' of the generated history [default: today, UTC].")] = None,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Fill every table with realistic, deterministic sample data, bulk-loaded.

    The same options give the same rows on every run and backend. Refuses (exit 2) when the tables
    already hold rows, unless --replace.
    """
    with _errors():
        from incidents.seed import SeedOptions
        from incidents.seed import seed as run_seed

        project = _project(project_dir)
        environment = _env(project, env)
        options = SeedOptions(incidents=incidents, random_seed=random_seed, replace=replace,
                              start=start.date() if start else None, end=end.date() if end else None,
                              progress=output is TextJson.text and not quiet and sys.stdout.isatty())
        with _session(project, environment, connection, verbose) as session:
            report = run_seed(session, project, environment, options)
            where = f"{session.label} (env {environment.name})"
        if output is TextJson.json:
            typer.echo(json.dumps({"env": environment.name, "rows": report.rows,
                                   "seconds": round(report.seconds, 3)}, indent=2))
            return
        console = _console()
        total = sum(report.rows.values())
        if not quiet:
            for table, count in report.rows.items():
                console.print(f"  {table:<30} {count:>12,} rows")
        console.print(f"[bold]Seeded[/] {total:,} rows into {_escape(where)} in {report.seconds:.2f}s "
                      f"({total / max(report.seconds, 1e-9):,.0f} rows/s).")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run; `-` reads it from standard input.")],
    output: Annotated[QueryFormat, typer.Option("--format", "-f", help="table, csv or json.")] = QueryFormat.table,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run one SQL statement on the target and print the result.

    json prints an array of objects keyed by column name; csv has a header row.
    """
    with _errors():
        from incidents import output as fmt
        from incidents.sqltext import count_statements

        text = sys.stdin.read() if sql == "-" else sql
        count = count_statements(text)
        if count == 0:
            raise ConfigError("no SQL given (only blanks or comments); pass one statement", key="SQL")
        if count > 1:
            raise ConfigError(f"the SQL holds {count} statements; `incidents query` runs exactly one, "
                              "so nothing was run: pass them one at a time", key="SQL")
        project = _project(project_dir)
        environment = _env(project, env)
        with _session(project, environment, connection, verbose) as session:
            columns, rows = session.execute(text, obj="query")
        if output is QueryFormat.json:
            typer.echo(fmt.rows_as_json(columns, rows))
        elif output is QueryFormat.csv:
            typer.echo(fmt.rows_as_csv(columns, rows), nl=False)
        else:
            from rich.table import Table

            table = Table(*columns, show_lines=False)
            for row in rows:
                table.add_row(*(_escape(fmt.cell(v)) for v in row))
            console = _console()
            console.print(table)
            console.print(f"[dim]{len(rows)} row(s)[/]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
