"""`incidents ingest`: monitoring alerts from a file or stdin into raw_alerts and incidents."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from enum import Enum
from typing import TYPE_CHECKING, Annotated, BinaryIO

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
from incidents.errors import ConfigError

if TYPE_CHECKING:
    from incidents.results import IngestResult


class AlertFormat(str, Enum):
    """incidents.ingest.parse.FORMATS + changes.CHANGE_FORMATS, spelled out here: importing the ingest package
    would double the CLI's start-up (tests/test_vendor_formats.py checks the two lists agree)."""

    auto = "auto"
    alertmanager = "alertmanager"
    ndjson = "ndjson"
    grafana = "grafana"
    pagerduty = "pagerduty"
    changes = "changes"
    github_deployment = "github-deployment"
    pagerduty_change = "pagerduty-change"


def ingest(
    file: Annotated[str, typer.Argument(help="File of alert payloads; `-` reads standard input.")] = "-",
    alert_format: Annotated[AlertFormat, typer.Option(
        "--input-format", "-i", help="auto (each document by its keys), alertmanager, ndjson, grafana, "
                                     "pagerduty (v3 webhooks), or changes: changes (NDJSON), github-deployment, "
                                     "pagerduty-change.")
    ] = AlertFormat.auto,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Turn monitoring alerts into incidents, and change events (deploys) into change_events.

    JSON documents, an array or one a line, read as a stream: alerts land in raw_alerts, then a
    set-based pass opens, groups, deduplicates and resolves incidents (config/ingest.yml); PagerDuty
    events that open nothing are counted as ignored; changes land in raw_changes and merge into
    change_events. The same input twice changes nothing. Malformed documents land with an error:
    exit 1. Exit 2 for empty input, input that is not alert JSON (nothing lands), or a document
    over 64 MiB.

    Examples: incidents ingest alerts.json; cat events.ndjson | incidents ingest - -i ndjson -f json;
    incidents ingest deploys.ndjson -i changes; incidents ingest pd-webhooks.ndjson -i pagerduty
    """
    with _errors(output is TextJson.json):
        with _opened(file) as (stream, name), _workspace(project_dir, env, connection, verbose) as ws:
            result = ws.ingest(stream, format=alert_format.value, name=name)
        show(result, output, lambda: _summary(result, quiet))
    if result.stopped:
        fmt.error_line("error", f"{name}: {result.stopped}; the {result.alerts:,} alerts before it were ingested")
        raise typer.Exit(2)
    if not result.ok:
        first = f"; first: {result.errors[0]}" if result.errors else ""
        fmt.error_line("error", f"{result.malformed:,} malformed {_landed_in(alert_format, result)} with an error "
                                f"and were not ingested{first}")
        raise typer.Exit(1)


def _landed_in(alert_format: AlertFormat, result: IngestResult) -> str:
    from incidents.ingest.changes import CHANGE_FORMATS

    if alert_format.value in CHANGE_FORMATS:
        return "change document(s) landed in raw_changes"
    if result.changes:
        return "document(s) landed in raw_alerts / raw_changes"
    return "alert document(s) landed in raw_alerts"


@contextlib.contextmanager
def _opened(file: str) -> Iterator[tuple[BinaryIO, str]]:
    """The input as a binary stream, read in blocks by ingest (never whole: memory stays flat)."""
    if file == "-":
        if sys.stdin.isatty():
            raise ConfigError("reading alerts from the terminal: give a FILE, or pipe the alerts in", file="<stdin>")
        yield sys.stdin.buffer, "<stdin>"
        return
    try:
        stream = open(file, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    with stream:
        yield stream, file


def _summary(result: IngestResult, quiet: bool) -> None:
    out = fmt.console()
    if not quiet:
        out.print(f"  landed    {result.alerts + result.malformed:>8,} alerts from {result.documents:,} documents "
                  f"(load {result.load_id}), {result.malformed:,} malformed")
        out.print(f"  episodes  {result.episodes:>8,}")
        for label, count in (("opened", result.opened), ("resolved", result.resolved),
                             ("repeated", result.repeated), ("noted", result.noted)):
            out.print(f"  {label:<9} {count:>8,} incidents")
        if result.grouped:
            out.print(f"  grouped   {result.grouped:>8,} alert episodes joined the incident of their group")
        if result.changes:
            out.print(f"  changes   {result.changes:>8,} change events into change_events")
        if result.ignored:
            out.print(f"  ignored   {result.ignored:>8,} events that open and resolve nothing (PagerDuty "
                      "acknowledged, annotated...)")
    out.print(f"[bold]Ingested[/] {result.alerts:,} alerts into {fmt.escape(result.where)} in {result.seconds:.2f}s: "
              f"{result.opened:,} opened, {result.resolved:,} resolved, {result.repeated:,} repeated.")
