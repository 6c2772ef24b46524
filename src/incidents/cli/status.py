"""`incidents status` and `incidents history`: where am I, and what did past deploys do."""

from __future__ import annotations

from typing import Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, TextJson, VerboseOpt, _errors, _workspace, show


def status(
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show the project folder, environment, target, schema, sync state, last deploy and row counts.

    Reads only (creates nothing on a local target never deployed). Exit 0 whatever the state; use
    `incidents diff` to gate CI on drift.

    Examples: incidents status; incidents status --env prod --format json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.status()
        show(result, output, lambda: fmt.status_text(result))


def history(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many deploys to show, newest first.",
                                       min=1)] = 10,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """List past deploys, newest first, each with its steps and their status (ok, failed, refused).

    Read from the deploy history table every deploy writes to as each step ends, so a deploy that
    was killed shows the steps it completed.

    Examples: incidents history; incidents history -n 1 --format json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.history(limit=limit)
        show(result, output, lambda: fmt.history_text(result))
