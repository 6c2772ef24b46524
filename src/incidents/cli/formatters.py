"""Every text and JSON rendering of a result for the terminal, in one place (as sqlfluff's
cli/formatters.py). The commands in cli/__init__.py only choose which formatter to call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import typer

from incidents.errors import IncidentsError

if TYPE_CHECKING:
    from rich.console import Console

    from incidents.checks import CheckResult
    from incidents.doctor import DoctorResult
    from incidents.engine.apply import DeployReport, StepResult
    from incidents.engine.status import DeployRecord, HistoryResult, StatusResult
    from incidents.purge import PurgeResult
    from incidents.results import DiffResult, QueryResult, RenderResult, SeedResult, ValidationResult
    from incidents.sql.session import Statement
    from incidents.sql.streaming import StreamedResult

STATUS_COLOURS = {"ok": "green", "failed": "red", "refused": "yellow", "planned": "cyan", "interrupted": "red"}


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    # emoji=False: a `:100:` in a message (a file and its line number) stays text, never an emoji.
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def error_line(label: str, message: str) -> None:
    console(stderr=True).print(f"[bold red]{label}:[/] {escape(message)}")


def error_json(exc: Exception) -> None:
    """{"error": {exit_code, kind, message, file, key}} on stdout, for --format json."""
    from incidents.output import dumps

    error = {"exit_code": getattr(exc, "exit_code", 1), "kind": type(exc).__name__, "message": str(exc),
             "file": getattr(exc, "file", None), "key": getattr(exc, "key", None)}
    typer.echo(dumps({"error": error}))


def echo_json(result: object) -> None:
    from incidents.output import dumps

    to_json = getattr(result, "to_json", None)
    typer.echo(to_json() if to_json else dumps(result.as_dict()))  # type: ignore[attr-defined]


def trace(statements: list[Statement]) -> None:
    """--verbose: every statement sent, with its time, on stderr."""
    out = console(stderr=True)
    for st in statements:
        out.print(f"[dim]-- {st.seconds * 1000:.0f} ms[/]\n{escape(st.sql.strip())}")


# --------------------------------------------------------------------------- render / validate

def render_check(result: RenderResult, stale: list[str], quiet: bool) -> None:
    if stale:
        console(stderr=True).print(f"stale: {', '.join(stale)}; run `incidents render` and commit the result")
    elif not quiet:
        console().print(f"{len(result.files)} rendered files are up to date.")


def render_written(result: RenderResult, written: list[str]) -> None:
    out = console()
    for rel in result.files:
        out.print(f"{'wrote    ' if rel in written else 'unchanged'} {rel}")


def validation(result: ValidationResult) -> None:
    console().print(f"ok: {result.tables} tables, {result.views} views, "
                    f"{result.statements} statements valid (env {result.env}).")


# --------------------------------------------------------------------------- deploy / plan

def step_line(result: StepResult) -> str:
    step = result.step
    colour = STATUS_COLOURS[str(result.status)]
    action = step.action if result.status in ("ok", "planned") else result.status
    mark = " [red](destructive)[/]" if step.destructive else ""
    timing = f" [dim]{result.seconds:.2f}s[/]" if result.status == "ok" else ""
    return f"  [{colour}]{action!s:<8}[/] {step.object_kind!s:<15} {escape(step.object)}{mark}{timing}"


def notices(report: DeployReport) -> None:
    for notice in report.notices:
        console(stderr=True).print(f"note: {escape(notice)}")


def plan(report: DeployReport, where: str) -> None:
    out = console()
    notices(report)
    if not report.results:
        out.print(f"Up to date: {escape(where)} matches the config; nothing to do.")
        return
    out.print(f"Plan for {escape(where)}:")
    for result in report.results:
        step = result.step
        tag = "[red]DESTRUCTIVE[/]" if step.destructive else "[green]safe[/]"
        if step.refused:
            out.print(f"-- {tag} [yellow]refused[/] {step.object_kind} {escape(step.object)}: {escape(step.refused)}")
            continue
        out.print(f"-- {tag} {step.action} {step.object_kind} {escape(step.object)}")
        for statement in step.statements:
            out.print(escape(statement))


def deploy_summary(report: DeployReport, where: str) -> None:
    out = console()
    notices(report)
    if report.up_to_date:
        out.print(f"Up to date: {escape(where)} matches the config; nothing to deploy.")
        return
    refused = len(report.refused)
    out.print(f"[bold]Deployed[/] {len(report.applied)} change(s) to {escape(where)} in {report.seconds:.2f}s"
              + (f"; [yellow]{refused} refused[/]." if refused else "."))


def refusals(report: DeployReport) -> None:
    errors = console(stderr=True)
    for r in report.refused:
        errors.print(f"refused: {r.step.object_kind} {r.step.object}: {escape(r.step.refused or '')}")


# --------------------------------------------------------------------------- diff

def diff_sql(result: DiffResult) -> None:
    for step in (s for s in result.steps if s.statements):
        tag = "DESTRUCTIVE" if step.destructive else "safe"
        typer.echo(f"-- {tag}: {step.action} {step.object_kind} {step.object}")
        for statement in step.statements:
            typer.echo(statement)


def diff_text(result: DiffResult) -> None:
    out = console()
    if result.in_sync:
        out.print(f"In sync: {escape(result.where)} matches the config.")
        return
    out.print(f"[bold]Drift[/] in {escape(result.where)}: {len(result.changes)} change(s)")
    current = None
    for change in result.changes:
        key = (change.object_kind if change.object_kind != "column" else "table", change.object)
        if key != current:
            current = key
            out.print(f"[bold]{key[0]} {escape(change.object)}[/]")
        mark = " [red](destructive)[/]" if change.destructive else ""
        what = f"{change.column}: " if change.column else ""
        shown = [f"{label} {value}" for label, value in (("declared", change.declared), ("live", change.live))
                 if value is not None]
        values = f" [dim]({escape(', '.join(shown))})[/]" if shown else ""
        out.print(f"  [yellow]{change.kind}[/] {escape(what)}{escape(change.detail)}{values}{mark}")


# --------------------------------------------------------------------------- check

def check_text(result: CheckResult) -> None:
    out = console()
    recorded = f", recorded at {result.checked_at} UTC" if result.recorded else " (not recorded)"
    if result.ok:
        out.print(f"[green]ok[/]: all {result.passed} data checks passed on {escape(result.where)}{recorded}.")
        return
    out.print(f"[bold red]{len(result.failed)} check(s) failed[/], {result.passed} passed, "
              f"on {escape(result.where)}{recorded}:")
    for failed in result.failed:
        where = f"{failed.table}.{failed.column}" if failed.column else failed.table
        out.print(f"  [red]{failed.check}[/] {escape(where)}: {failed.failures:,} row(s)")
        for key, detail in failed.samples:
            out.print(f"    {escape(str(key))}: {escape(str(detail))}")


# --------------------------------------------------------------------------- seed / query

def seed_summary(result: SeedResult, quiet: bool) -> None:
    out = console()
    if not quiet:
        for table, count in result.rows.items():
            out.print(f"  {table:<30} {count:>12,} rows")
    replaced = f" after {result.delete_seconds:.2f}s emptying the tables" if result.delete_seconds else ""
    out.print(f"[bold]Seeded[/] {result.total:,} rows into {escape(result.where)} in {result.seconds:.2f}s "
              f"({result.total / max(result.seconds, 1e-9):,.0f} rows/s){replaced}.")


def query_result(result: QueryResult, output: str, vertical: bool | None) -> None:
    if output == "json":
        typer.echo(result.to_json())
    elif output == "csv":
        typer.echo(result.to_csv(), nl=False)
    else:
        query_table(result, vertical)


def query_table(result: QueryResult, vertical: bool | None = None) -> None:
    """A table, or (psql's `\\x auto`) one block per row when the table would not fit."""
    out = console()
    _table_group(out, result.columns, result.rows, vertical)
    out.print(f"[dim]{len(result.rows)} row(s)[/]")


TABLE_GROUP_ROWS = 1000  # a streamed table is laid out this many rows at a time (psql's FETCH_COUNT)


def query_stream(result: StreamedResult, output: str, vertical: bool | None) -> None:
    """`incidents query` output written as the rows arrive, in bounded memory (issue 26.2). A table longer
    than TABLE_GROUP_ROWS is laid out group by group, as psql does with FETCH_COUNT (widths may differ
    between groups; vertical or not is decided by the first). A failure after output began ends it there
    (exit 3, the error on stderr) without a JSON error document after half an array."""
    import sys

    from incidents import export

    started = False

    def chunks() -> Iterator[object]:
        nonlocal started
        for chunk in result.chunks:
            started = True
            yield chunk

    try:
        if output in ("csv", "json"):
            sys.stdout.flush()
            write = export.write_csv if output == "csv" else export.write_json
            write(result.columns, chunks(), sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        out, total = console(), 0
        for group in export.in_row_groups(chunks(), TABLE_GROUP_ROWS):
            vertical = _table_group(out, result.columns, group, vertical, first=total + 1)
            total += len(group)
        if not total:
            _table_group(out, result.columns, [], vertical)
        out.print(f"[dim]{total} row(s)[/]")
    except IncidentsError as exc:
        exc.reported = started  # type: ignore[attr-defined]
        raise


def _table_group(out: Console, columns: list[str], rows: Sequence[tuple[object, ...]], vertical: bool | None,
                 first: int = 1) -> bool:
    """Rows as a table or as vertical blocks numbered from `first`; returns which it chose."""
    from incidents.output import cell

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    if vertical is None:
        vertical = bool(columns) and sum(widths) + 3 * len(widths) + 1 > out.width
    if vertical:
        _vertical(out, columns, cells, first)
    else:
        from rich.table import Table

        table = Table(*(escape(c) for c in columns), show_lines=False)
        for row in cells:
            table.add_row(*(escape(c) for c in row))
        out.print(table)
    return vertical


def _vertical(out: Console, columns: list[str], cells: list[list[str]], first: int = 1) -> None:
    label = max((len(c) for c in columns), default=0)
    for n, row in enumerate(cells, start=first):
        out.print(f"[bold]-[ RECORD {n} ]{'-' * max(label - 8, 4)}[/]")
        for name, value in zip(columns, row, strict=True):
            out.print(f"{escape(name):<{label}} | {escape(value)}")


def script_statement(n: int, statement: str, result: QueryResult, output: str, vertical: bool | None) -> None:
    """--file: each statement as it ends, then its rows (text) or its CSV."""
    first = " ".join(statement.split())
    console(stderr=output == "csv").print(f"[dim]-- [{n}] {escape(first[:100])}{'...' if len(first) > 100 else ''}[/]")
    if result.columns:
        query_result(result, output, vertical)
    elif output != "csv":
        console().print("[dim]done[/]")


def script_json(done: list[tuple[str, QueryResult]]) -> None:
    from incidents.output import dumps

    typer.echo(dumps([{"statement": st, "columns": r.columns, "rows": r.to_records()} for st, r in done]))


# --------------------------------------------------------------------------- status / history

def _when(at: object) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if hasattr(at, "strftime") else str(at)


def _deploy_line(record: DeployRecord) -> str:
    from incidents.kinds.base import StepStatus

    counts = ", ".join(f"{record.count(status)} {status}" for status in (StepStatus.OK, StepStatus.FAILED,
                                                                         StepStatus.REFUSED))
    colour = STATUS_COLOURS[record.outcome]
    return (f"{_when(record.finished_at)} [{colour}]{record.outcome}[/] ({counts}) by "
            f"{escape(record.deployed_by or '?')}, incidents {escape(record.tool_version)}, "
            f"env {escape(record.env)}, deploy {record.deploy_id[:8]}")


def status_text(result: StatusResult) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    target = result.target
    where = (f"local {target['path']}" if target["backend"] == "local" else
             f"snowflake account {target['account']}, user {target['user']}, role {target['role']}, "
             f"warehouse {target['warehouse']}")
    if not result.deployed:
        state = "[yellow]nothing deployed yet[/]: run `incidents deploy`"
    elif result.in_sync:
        state = "[green]in sync[/] with config"
    else:
        destructive = f", {result.destructive} destructive" if result.destructive else ""
        state = f"[yellow]{result.changes} change(s) to apply{destructive}[/]: see `incidents diff`"
    rows = [("project", escape(result.project)), ("env", escape(result.env)), ("target", escape(where)),
            ("schema", escape(f"{result.database}.{result.schema}")), ("state", state),
            ("last deploy", _deploy_line(result.last_deploy) if result.last_deploy else "none recorded")]
    width = max((len(name) for name in result.row_counts), default=0)
    rows += [("rows" if i == 0 else "", f"{escape(name):<{width}}  {n:>12,}")
             for i, (name, n) in enumerate(result.row_counts.items())]
    for key, value in rows:
        grid.add_row(key, value)
    console().print(grid)


def history_text(result: HistoryResult) -> None:
    out = console()
    if not result.deploys:
        out.print(f"no deploys recorded on {escape(result.where)}.")
        return
    for record in result.deploys:
        out.print(_deploy_line(record))
        for step in record.steps:
            colour = STATUS_COLOURS.get(step.status, "white")
            error = f"  {escape(step.error)}" if step.error else ""
            out.print(f"    [{colour}]{step.status:<8}[/] {escape(step.object_kind):<15} {escape(step.object):<34} "
                      f"{escape(step.action):<10} {step.duration_ms:>6} ms{error}")


# --------------------------------------------------------------------------- purge

def purge_text(result: PurgeResult, where: str) -> None:
    out = console()
    if not result.tables:
        out.print("No table declares retention: (config/tables/*.yml); nothing to purge.")
        return
    verb = "would delete" if result.dry_run else "deleted"
    out.print(f"Purge of {escape(where)}, ages from {result.as_of.isoformat(sep=' ')} UTC:")
    for t in result.tables:
        out.print(f"  {t.table:<28} {verb} {t.rows:>10,} row(s) older than {t.days} days by {t.column}")
    out.print(f"[bold]{result.total:,}[/] row(s) {'would be deleted' if result.dry_run else 'deleted'}.")


def doctor_text(result: DoctorResult) -> None:
    out = console()
    if not result.checked:
        out.print(f"env {escape(result.env)}: the local target has no roles; the privilege checks are Snowflake-only.")
        return
    if not result.needed:
        out.print(f"env {escape(result.env)} declares no access: no account privilege is needed.")
        return
    for privilege, why in result.needed:
        state = "[red]missing[/]" if privilege in result.missing else "[green]ok[/]"
        out.print(f"{state:>20}  {privilege:<22} {escape(why)}")
    if result.ok:
        out.print(f"role {escape(str(result.role))} holds every account privilege deploy needs.")
    else:
        for grant in result.grants():
            out.print(f"  {escape(grant)};")
