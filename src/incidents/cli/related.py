"""`incidents related INC-...`: an incident's cluster and the changes before it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, TextJson, VerboseOpt, _errors, _workspace, show

if TYPE_CHECKING:
    from incidents.results import RelatedResult


def related(
    number: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident number, e.g. INC-2026-000123.")],
    hours: Annotated[int, typer.Option(help="How far back to list changes to its services.")] = 24,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show an incident's related incidents and the changes before it.

    Related: the incidents of its service that overlap it in time (v_incident_clusters; a later one
    of the leader's category is a likely duplicate). Changes: those to its services in the --hours
    before it started, latest first; the one v_change_incidents links it to is marked, and a change
    blamed for another incident (the first of its service after the change) names that one.
    Exit 2 when no incident has that number.

    Examples: incidents related INC-2026-000123; incidents related ALERT-000000000017 --hours 72 -f json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.related(number, hours=hours)
        show(result, output, lambda: _text(result))


def _text(result: RelatedResult) -> None:
    out = fmt.console()
    inc = result.incident
    out.print(f"[bold]{fmt.escape(str(inc['incident_number']))}[/] {fmt.escape(str(inc['title']))} "
              f"({inc['status']}, started {inc['started_at']})")
    if result.cluster:
        out.print(f"Cluster {fmt.escape(str(result.cluster[0]['cluster_id']))}: {len(result.cluster)} overlapping "
                  "incidents of its service")
        for row in result.cluster:
            marks = "leader" if row["is_leader"] else ("likely duplicate" if row["likely_duplicate"] else "")
            out.print(f"  {fmt.escape(str(row['incident_number'])):<18} {row['started_at']!s:<26} "
                      f"{row['status']:<13} {fmt.escape(str(row['title']))}{'  [' + marks + ']' if marks else ''}")
    else:
        out.print("No overlapping incident of its service.")
    if not result.changes:
        out.print(f"No change to its services in the {result.hours} h before it started.")
        return
    out.print(f"Changes to its services in the {result.hours} h before it started (latest first):")
    for row in result.changes:
        mark = ("  <- linked (v_change_incidents)" if row["linked"] else
                f"  (linked to {fmt.escape(str(row['linked_incident']))}, the first incident after it)"
                if row["linked_incident"] else "")
        out.print(f"  {float(row['minutes_before']):>8.1f} min before  {fmt.escape(str(row['service']))} "
                  f"{fmt.escape(str(row['version'] or row['change_key']))} ({row['status']}){mark}")
