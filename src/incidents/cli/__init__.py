"""The `incidents` command line: options -> one Workspace call -> a formatter -> an exit code.

No SQL or YAML handling here. Heavy modules (the connector, fakesnow, pandas) are imported by the
core only when a command needs a target, so `incidents --help` stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incidents.cli import completion
from incidents.cli import formatters as fmt
from incidents.cli.common import (
    ConnectionOpt,
    DiffFormat,
    EnvOpt,
    ProjectOpt,
    QueryFormat,
    QuietOpt,
    TextJson,
    VerboseOpt,
    _errors,
    _workspace,
    show,
)
from incidents.errors import ConfigError, Found, IncidentsError
from incidents.version import __version__

if TYPE_CHECKING:
    from incidents.engine.apply import StepResult
    from incidents.results import QueryResult
    from incidents.workspace import Workspace

app = typer.Typer(
    name="incidents",
    help="Schema-as-code for an ecommerce incident-management warehouse on Snowflake.\n\n"
    "Declare tables in config/, render DDL from templates/, deploy it in dependency order to the "
    "embedded local target (default) or a Snowflake account, seed sample data and detect drift.\n\n"
    "Exit codes: 0 ok, 1 something found (drift, stale files, refused changes), "
    "2 usage or config error, 3 target error (connection, SQL).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


# --------------------------------------------------------------------------- init / render / validate

@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
) -> None:
    """Copy the bundled example project (config/, templates/, .gitignore, README) into DIR.

    Use it after installing the wheel: commands then run on your own copy, which you commit.

    Example: incidents init warehouse && cd warehouse && incidents deploy && incidents render
    """
    with _errors():
        from incidents.workspace import init_project

        written = init_project(directory)
        fmt.console().print(f"created {fmt.escape(', '.join(written))} in {fmt.escape(str(directory))}; "
                            "next: cd there, `incidents deploy`, `incidents render`, and commit")



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

    Examples: incidents render; incidents render --check (in CI or a pre-commit hook)
    """
    with _errors(), _workspace(project_dir, env) as ws:
        result = ws.render(validate=not check)  # --check compares files; writing validates first
        if check:
            stale = result.stale()
            fmt.render_check(result, stale, quiet)
            if stale:
                raise Found("stale")
            return
        written = result.write()
        if not quiet:
            fmt.render_written(result, written)


@app.command()
def validate(
    env: EnvOpt = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Check config, templates and every rendered statement offline (no connection).

    Every statement must parse as Snowflake SQL (sqlglot) and every view's documented columns must
    match its SELECT list.

    Examples: incidents validate; incidents validate --env prod
    """
    with _errors(), _workspace(project_dir, env) as ws:
        fmt.validation(ws.validate())


# --------------------------------------------------------------------------- deploy / plan / diff

@app.command()
def deploy(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the ordered statements; change nothing.")] = False,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="Also apply changes that can lose data (drop, narrow, rebuild).")] = False,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    lock_timeout: Annotated[float, typer.Option(
        "--lock-timeout", help="Seconds to wait while another deploy holds the lock.")] = 300.0,
    threads: Annotated[int, typer.Option(
        "--threads", help="Snowflake: sessions applying independent steps at once (1: one by one).")] = 4,
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

    Examples: incidents deploy; incidents deploy --env prod --format json; incidents deploy --dry-run
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        text = output is TextJson.text

        def on_step(result: StepResult) -> None:
            if text and not quiet and not dry_run:
                fmt.console().print(fmt.step_line(result))

        from incidents.engine.apply import DeployFailed

        try:
            report = ws.deploy(dry_run=dry_run, allow_destructive=allow_destructive, on_step=on_step,
                               lock_timeout=lock_timeout, threads=threads)
        except DeployFailed as exc:
            if not text:  # the report of the steps that ran, also when one failed
                fmt.echo_json(exc.report)
                exc.reported = True  # type: ignore[attr-defined]
            raise
        if not text:
            fmt.echo_json(report)
        elif dry_run:
            fmt.plan(report, ws.where)
        else:
            fmt.deploy_summary(report, ws.where)
        if report.refused and not dry_run:  # a plan lists them; only a real deploy fails on them
            fmt.refusals(report)
            raise Found("refused")


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

    Examples: incidents plan; incidents plan --env prod --allow-destructive
    """
    deploy(dry_run=True, allow_destructive=allow_destructive, output=output, lock_timeout=0, env=env,
           connection=connection, project_dir=project_dir, verbose=verbose, quiet=False)


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

    Examples: incidents diff; incidents diff --env prod --format json > drift.json
    """
    with _errors(output is DiffFormat.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.diff()
        if output is DiffFormat.json:
            fmt.echo_json(result)
        elif output is DiffFormat.sql:
            fmt.diff_sql(result)
        else:
            fmt.diff_text(result)
        if not result.in_sync:
            raise Found("drift")


@app.command()
def unlock(
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Free the deploy lock of a deploy that died (a crashed holder's lock also expires by itself).

    Only run it when no deploy is running: the next deploy could then apply alongside it.

    Example: incidents unlock --env prod
    """
    with _errors(), _workspace(project_dir, env, connection, verbose) as ws:
        holder = ws.unlock()
        fmt.console().print(f"unlocked: the lock was held by {fmt.escape(holder)}." if holder
                            else "the deploy lock was not held; nothing to do.")


# --------------------------------------------------------------------------- check

@app.command()
def check(
    record: Annotated[bool, typer.Option(
        "--record/--no-record",
        help="Store the run in data_quality_results (what v_data_quality_issues and v_data_quality_checks "
             "show).")] = True,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the declared data checks on live data. Exit 0 clean, 1 when any check fails.

    Primary and unique keys unique, foreign keys resolve, allowed_values respected, lifecycle
    timestamps in order and status history consistent (templates/check/problems.sql.j2), in one
    statement, each failure with its row count and up to five sample keys. The run is recorded in
    data_quality_results, which v_data_quality_issues, v_data_quality_checks and the report read;
    --no-record only looks. Neither Snowflake nor the local target enforces keys; use this as a CI
    gate after loads.

    Examples: incidents check; incidents check --env prod --format json; incidents check --no-record
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.check(record=record)
        show(result, output, lambda: fmt.check_text(result))
        if not result.ok:
            raise Found("checks failed")


# --------------------------------------------------------------------------- seed / query

@app.command()
def seed(
    incidents: Annotated[int, typer.Option(
        "--incidents", "-n", help="How many incidents to generate (1 to 50,000,000).")] = 5000,
    random_seed: Annotated[int, typer.Option(
        "--random-seed", "-s", help="Seed of the generator (0 to 4294967295).")] = 42,
    replace: Annotated[bool, typer.Option("--replace", help="Replace rows already in the tables.")] = False,
    start: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="First day of the generated history \\[default: END - 365 days].")] = None,
    end: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="'Now' of the generated history \\[default: today, UTC].")] = None,
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

    Examples: incidents seed; incidents seed -n 100000 --replace; incidents seed --end 2026-11-30
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.seed(incidents=incidents, random_seed=random_seed, replace=replace,
                         start=start.date() if start else None, end=end.date() if end else None,
                         progress=output is TextJson.text and not quiet and sys.stdout.isatty())
        show(result, output, lambda: fmt.seed_summary(result, quiet))


@app.command()
def query(
    sql: Annotated[str | None, typer.Argument(
        help="One SQL statement; `-` reads it from standard input. Omit it with --file.",
        autocompletion=completion.view_queries)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", "-F", help="Run the statements of this file one by one, stopping at the first failure.",
        dir_okay=False)] = None,
    output: Annotated[QueryFormat, typer.Option("--format", "-f", help="table, csv or json.")] = QueryFormat.table,
    limit: Annotated[int | None, typer.Option("--limit", help="Fetch at most N rows.", min=0)] = None,
    vertical: Annotated[bool, typer.Option(
        "--vertical", "-x", help="One block of column | value lines per row (automatic when too wide).")] = False,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run one SQL statement on the target and print the result (or a file of them with --file).

    json: an array of objects keyed by column name (NUMBER values keep every digit); csv: a header
    row; table: one block per row when the table is wider than the terminal.

    Examples: incidents query "SELECT * FROM v_monthly_incident_trends" --limit 12;
    incidents query -F checks.sql
    """
    with _errors(output is QueryFormat.json):  # --file prints its own array, then marks the error reported
        if file is not None:
            if sql is not None:
                raise ConfigError("give SQL or --file, not both", key="--file")
            _query_file(file, output, limit, vertical or None,
                        lambda: _workspace(project_dir, env, connection, verbose))
            return
        if sql is None:
            raise ConfigError("no SQL given; pass a statement, `-` for standard input, or --file FILE", key="SQL")
        text = sys.stdin.read() if sql == "-" else sql
        with _workspace(project_dir, env, connection, verbose) as ws:
            fmt.query_stream(ws.stream(text, limit=limit), output.value, vertical or None)


def _query_file(file: Path, output: QueryFormat, limit: int | None, vertical: bool | None,
                open_workspace: Callable[[], contextlib.AbstractContextManager[Workspace]]) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the SQL file: {getattr(exc, 'strerror', None) or exc}",
                          file=str(file)) from None
    done: list[tuple[str, QueryResult]] = []
    try:
        with open_workspace() as ws:
            for statement, result in ws.run_script(text, limit=limit):
                done.append((statement, result))
                if output is not QueryFormat.json:
                    fmt.script_statement(len(done), statement, result, output.value, vertical)
    except IncidentsError as exc:
        exc.reported = output is QueryFormat.json  # type: ignore[attr-defined]  # the array below says it
        raise
    finally:
        if output is QueryFormat.json:  # one document, also when a statement failed
            fmt.script_json(done)


# --------------------------------------------------------------------------- commands in their own modules
# Each module defines one command function over incidents.cli.common; registered here in help order.
from incidents.cli import doctor as _doctor  # noqa: E402
from incidents.cli import importers as _importers  # noqa: E402
from incidents.cli import ingest as _ingest  # noqa: E402
from incidents.cli import predict as _predict  # noqa: E402
from incidents.cli import purge as _purge  # noqa: E402
from incidents.cli import receive as _receive  # noqa: E402
from incidents.cli import related as _related  # noqa: E402
from incidents.cli import report as _report  # noqa: E402
from incidents.cli import sql as _sql  # noqa: E402
from incidents.cli import status as _status  # noqa: E402

app.command()(_status.status)
app.command()(_status.history)
app.command()(_doctor.doctor)
app.command()(_report.report)
app.command()(_ingest.ingest)
app.command()(_receive.receive)
app.command()(_related.related)
app.add_typer(_importers.app, name="import")
app.command()(_purge.purge)
app.command()(_sql.sql)
app.add_typer(_predict.app)


def _reflowed(doc: str) -> str:
    """A docstring's paragraphs as one line each, so help wraps them to the terminal (the source wraps at 110
    columns, which an 80-column help box broke into ragged halves). Indented blocks (examples) and lists stay."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if any(line.startswith((" ", "-", "*")) for line in p.splitlines()) else " ".join(p.split())
                       for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None)
        if doc:
            command.help = _reflowed(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def _one_line_warnings() -> None:
    """Our own warnings print as one `warning:` line on stderr, not Python's two-line form."""
    import warnings

    from incidents.errors import IncidentsWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def,unused-ignore]
        if issubclass(category, IncidentsWarning):
            fmt.error_line("warning", str(message))
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _quiet_connector_threads() -> None:
    """When the network drops, the connector's background threads (query cancel timers, telemetry)
    print their own tracebacks; the command reports the failure once, as one line, already."""
    import threading

    default = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not type(args.exc_value).__module__.startswith("snowflake.connector"):
            default(args)

    threading.excepthook = hook


def main() -> None:
    from incidents.cli import fasthelp

    fasthelp.install()  # rich help without rich's Markdown and Syntax (issue 26.3)
    _one_line_warnings()
    _quiet_connector_threads()
    if not _json_requested(sys.argv[1:]):
        app()
        return
    # --format json: even a usage error (an unknown option, a file that is not there) prints the JSON
    # error document a CI parser reads from stdout, not only typer's box on stderr.
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        # typer's usage errors (its vendored click's ClickException): they say what to fix themselves.
        show = getattr(exc, "format_message", None)
        if show is None:
            if type(exc).__name__ == "Abort":  # Ctrl-C at a prompt
                sys.exit(130)
            raise
        fmt.error_line("error", show())
        fmt.error_json(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


def _json_requested(argv: list[str]) -> bool:
    return any(a in ("--format=json", "-fjson") for a in argv) or any(
        a in ("--format", "-f") and b == "json" for a, b in itertools.pairwise(argv))


if __name__ == "__main__":
    main()
