"""`incidents ingest`: monitoring alerts from a file or stdin into raw_alerts and incidents."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    auto = "auto"
    alertmanager = "alertmanager"
    ndjson = "ndjson"


def ingest(
    file: Annotated[str, typer.Argument(help="File of alert payloads; `-` reads standard input.")] = "-",
    alert_format: Annotated[AlertFormat, typer.Option(
        "--input-format", "-i", help="auto (knows a webhook payload by version + alerts), alertmanager or ndjson.")
    ] = AlertFormat.auto,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Turn monitoring alerts (Alertmanager webhook payloads, NDJSON events) into incidents.

    One JSON document, an array of them, or one a line. All land in raw_alerts in one bulk load,
    then one set-based pass opens, deduplicates and resolves incidents (config/ingest.yml). The
    same input twice changes nothing. Malformed documents land with an error: exit 1 and a count.

    Examples:

      incidents ingest alerts.json

      cat events.ndjson | incidents ingest - -i ndjson --format json
    """
    with _errors(output is TextJson.json):
        text = _read(file)
        with _workspace(project_dir, env, connection, verbose) as ws:
            result = ws.ingest(text, format=alert_format.value)
        show(result, output, lambda: _summary(result, quiet))
    if not result.ok:
        first = f"; first: {result.errors[0]}" if result.errors else ""
        fmt.error_line("error", f"{result.malformed:,} malformed alert document(s) landed in raw_alerts with an "
                                f"error and were not ingested{first}")
        raise typer.Exit(1)


def _read(file: str) -> str:
    if file == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
        name = file
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); alert payloads are "
                          "UTF-8 JSON", file=name) from None


def _summary(result: IngestResult, quiet: bool) -> None:
    out = fmt.console()
    if not quiet:
        out.print(f"  landed    {result.alerts + result.malformed:>8,} alerts from {result.documents:,} documents "
                  f"(load {result.load_id}), {result.malformed:,} malformed")
        out.print(f"  episodes  {result.episodes:>8,}")
        for label, count in (("opened", result.opened), ("resolved", result.resolved),
                             ("repeated", result.repeated), ("noted", result.noted)):
            out.print(f"  {label:<9} {count:>8,} incidents")
    out.print(f"[bold]Ingested[/] {result.alerts:,} alerts into {fmt.escape(result.where)} in {result.seconds:.2f}s: "
              f"{result.opened:,} opened, {result.resolved:,} resolved, {result.repeated:,} repeated.")
