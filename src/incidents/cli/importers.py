"""`incidents import servicenow|jira FILE`: ticketing history into incidents, status and assignment
history and users (README, "Importing history")."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import (
    ConnectionOpt,
    EnvOpt,
    ProjectOpt,
    QuietOpt,
    TextJson,
    VerboseOpt,
    _errors,
    _workspace,
    show,
)

if TYPE_CHECKING:
    from incidents.importers.result import ImportResult

app = typer.Typer(
    name="import",
    help="Import ticketing history: a ServiceNow incident export (CSV) or Jira Service Management issues (JSON).\n\n"
    "Incidents keep their source number; their status and assignment history, people and mapped fields "
    "(config/import.yml) come along. Importing the same or an overlapping export again changes nothing; a "
    "later one updates what changed. Rows that cannot make an incident land in raw_import_rows with their "
    "error: exit 1 and a count, the rest is imported.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileArg = Annotated[Path, typer.Argument(help="The export file.", dir_okay=False)]
OutputOpt = Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")]


@app.command("servicenow")
def servicenow(
    file: FileArg,
    date_format: Annotated[str | None, typer.Option(
        "--date-format", metavar="ORDER",
        help="day-first, month-first, iso or a strptime pattern such as '%d.%m.%Y %H:%M:%S' "
             "\\[default: servicenow.date_format of config/import.yml; auto: decided from the dates].")] = None,
    output: OutputOpt = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Import a ServiceNow incident export: the list export or the audit event log (CSV).

    Columns are the incident table's field names (number, incident_state, sys_mod_count, sys_updated_at,
    assigned_to, assignment_group, priority "2 - High", ...); `?` or empty is missing. Status and
    assignment history come from each change of incident_state, assigned_to and assignment_group.

    Examples:

      incidents import servicenow incident_event_log.csv

      incidents import servicenow incidents.csv --date-format month-first --format json
    """
    _run("servicenow", file, date_format, output, env, connection, project_dir, verbose, quiet)


@app.command("jira")
def jira(
    file: FileArg,
    output: OutputOpt = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Import Jira Service Management issues as the REST search API returns them with expand=changelog.

    One search response, a JSON array of responses or issues, or one a line (NDJSON). Status and
    assignee history come from the changelog; priority, created, resolutiondate, components, labels
    and SLA fields ("Time to resolution", "Time to first response") where present.

    Example: incidents import jira issues.json
    """
    _run("jira", file, None, output, env, connection, project_dir, verbose, quiet)


def _run(source: str, file: Path, date_format: str | None, output: TextJson, env: str | None,
         connection: str | None, project_dir: Path | None, verbose: bool, quiet: bool) -> None:
    json_output = output is TextJson.json
    with _errors(json_output):
        with _workspace(project_dir, env, connection, verbose) as ws:
            progress = None if quiet or json_output else _Progress(file.name)
            try:
                result = ws.import_(source, file, date_format=date_format,
                                    on_progress=progress.update if progress else None)
            finally:
                if progress is not None:
                    progress.close()
        show(result, output, lambda: _summary(result, quiet))
    if not result.ok:
        first = f"; first: {result.errors[0]}" if result.errors else ""
        fmt.error_line("error", f"{result.rejected:,} row(s) could not make an incident and landed in raw_import_rows "
                                f"with their error (the rest was imported){first}")
        raise typer.Exit(1)


class _Progress:
    """Reading: a bar over the file's bytes on a terminal; the pass: its step. Elsewhere one line per phase."""

    def __init__(self, name: str) -> None:
        self.name, self.live = name, sys.stderr.isatty()
        self.console = fmt.console(stderr=True)
        self.began = time.perf_counter()
        self.phase, self.detail = "", ""
        self.bar: Any = None
        self.task: Any = None
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description:<34}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                                TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.start()

    def update(self, phase: str, done: int, total: int, detail: str) -> None:
        if phase != self.phase:
            self._finish_phase()
            self.phase = phase
            if self.bar is not None:
                label = f"reading {self.name}" if phase == "read" else "deriving incidents and history"
                self.task = self.bar.add_task(label[:34], total=max(total, 1), detail="")
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done, total=max(total, 1), detail=detail)
        self.detail = detail

    def _finish_phase(self) -> None:
        if self.phase and not self.live:
            what = "read and landed" if self.phase == "read" else "derived incidents and history"
            self.console.print(f"[dim]{what} ({self.detail}) at {time.perf_counter() - self.began:.1f} s[/]")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        else:
            self._finish_phase()


def _summary(result: ImportResult, quiet: bool) -> None:
    out = fmt.console()
    if not quiet:
        dates = f", {result.date_order} dates" if result.source == "servicenow" else ""
        out.print(f"  read       {result.rows:>10,} rows{dates}, {result.rejected:,} rejected (load {result.load_id})")
        out.print(f"  incidents  {result.incidents:>10,}: {result.inserted:,} inserted, {result.updated:,} updated, "
                  f"{result.unchanged:,} unchanged")
        out.print(f"  history    {result.status_rows:>10,} status and {result.assignment_rows:,} assignment rows "
                  f"written, {result.removed_rows:,} removed")
        out.print(f"  people     {result.people:>10,} ({result.people_inserted:,} new users)")
        if result.truncated_changelogs:
            out.print(f"  [yellow]note[/]: {result.truncated_changelogs:,} issue(s) came with a shortened changelog; "
                      "their early history is partial (export them with the full changelog)")
        for line in _fallback_lines(result):
            out.print(f"  fell back  {fmt.escape(line)}")
    out.print(f"[bold]Imported[/] {result.rows:,} rows of {fmt.escape(Path(result.file).name)} into "
              f"{fmt.escape(result.where)} in {result.seconds:.2f}s: {result.incidents:,} incidents "
              f"({result.inserted:,} new, {result.updated:,} updated).")


def _fallback_lines(result: ImportResult, shown: int = 5) -> list[str]:
    """Per field: the values that got the mapping's default, most incidents first."""
    by_field: dict[str, list[Any]] = {}
    for fallback in result.fallbacks:
        by_field.setdefault(fallback.field, []).append(fallback)
    lines = []
    for name, values in by_field.items():
        values.sort(key=lambda f: -f.incidents)
        parts = [f"{'(missing)' if f.value is None else repr(f.value)} ({f.incidents:,})" for f in values[:shown]]
        more = f" and {len(values) - shown:,} more" if len(values) > shown else ""
        lines.append(f"{name}: {', '.join(parts)}{more}; map them in config/import.yml")
    return lines

