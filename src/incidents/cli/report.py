"""`incidents report`: the analytics views as one self-contained HTML file, or as text."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, QuietOpt, VerboseOpt, _errors, _workspace
from incidents.errors import ConfigError

if TYPE_CHECKING:
    from incidents.report.period import Period


class ReportFormat(str, Enum):
    html = "html"
    text = "text"


def report(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", dir_okay=False,
        help="File to write \\[default: reports/report-FROM_TO.html in the project, a folder git ignores; "
             "text goes to stdout].")] = None,
    output: Annotated[ReportFormat, typer.Option("--format", "-f", help="html or text.")] = ReportFormat.html,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="DATE", help="First day of the period, YYYY-MM-DD \\[default: 27 days before --to].")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="DATE",
        help="Last day of the period, YYYY-MM-DD \\[default: the last day with incidents].")] = None,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the analytics report: 15 sections of charts and tables, each from an analytics view.

    html: one self-contained, printable file (inline SVG, no script, no network), readable on a phone,
    written to reports/ in the project unless --out; the path is printed (alone on stdout with -q).
    text: the headline figures and key tables, 100 columns wide. Progress goes to stderr.
    Exit 1 when a section could not be computed (the report is written with the others).

    Examples: open "$(incidents report -q)";
    incidents report --from 2026-11-01 --to 2026-11-30 -o november.html;
    incidents report --format text | less
    """
    with _errors():
        from incidents.report.period import check_dates, parse_date

        first, last = parse_date(start, "--from"), parse_date(end, "--to")
        check_dates(first, last)
        if out is not None and not out.parent.expanduser().is_dir():
            raise ConfigError(f"cannot write the report: the folder {out.parent} does not exist", key="--out")
        with _workspace(project_dir, env, connection, verbose) as ws:
            result = ws.report(start=first, end=last, on_progress=None if quiet else _progress())
            root = ws.project.root
        began = time.perf_counter()
        if output is ReportFormat.text and out is None:
            typer.echo(result.to_text(), nl=False)
        else:
            path = out or _default_path(root, result.period, output.value)
            try:
                size = result.write(path, output.value)
            except OSError as exc:
                raise ConfigError(f"cannot write the report: {exc.strerror or exc}", key=str(path)) from None
            if quiet:
                typer.echo(str(path))
            else:
                fmt.console(stderr=True).print(
                    f"wrote {fmt.escape(str(path))} ({size / 1024:,.0f} kB; queries {result.seconds:.2f} s, "
                    f"rendering {time.perf_counter() - began:.2f} s)")
        if result.errors:
            for line in result.errors:
                fmt.error_line("warning", f"section not computed: {line}")
            raise typer.Exit(1)


def _default_path(project_root: Path, period: Period, output: str) -> Path:
    from incidents.report.files import default_path, ensure_folder

    path = default_path(project_root, period, output)
    try:
        ensure_folder(path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot create the reports folder: {exc.strerror or exc}; pass --out FILE",
                          key=str(path.parent)) from None
    return path


def _progress() -> Callable[[int, int, str, float | None], None]:
    """One line per finished query on stderr; on a terminal also the one running."""
    console = fmt.console(stderr=True)
    live = sys.stderr.isatty()

    def on_progress(done: int, total: int, label: str, seconds: float | None) -> None:
        if seconds is None:
            if live:
                console.print(f"[dim]querying {label} ({done + 1}/{total})...[/]", end="\r")
            return
        line = f"{done:>2}/{total} {label:<20} {seconds:6.2f} s"
        console.print(f"[dim]{line:<50}[/]")  # padded: it overwrites the "querying" line on a terminal

    return on_progress
