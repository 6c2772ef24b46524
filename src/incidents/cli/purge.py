"""`incidents purge`: delete the rows older than each table's `retention:`."""

from __future__ import annotations

from typing import Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, TextJson, VerboseOpt, _errors, _workspace, show
from incidents.errors import ConfigError


def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the expired rows; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete on a Snowflake environment (not needed for "
                                                           "the local target or --dry-run).")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Measure ages from this UTC date or timestamp instead of now (YYYY-MM-DD[ HH:MM:SS]).")] = None,
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Delete rows older than each table's `retention:` (config/tables/*.yml), children first.

    One COUNT for all retained tables, then one DELETE per table that has expired rows; prints the
    rows per table. On a Snowflake environment it deletes only with --yes. The rendered task in
    sql/05_audit_and_retention.sql runs the same DELETEs on a schedule.

    Examples: incidents purge --dry-run; incidents purge --env prod --yes; incidents purge --as-of 2026-01-01
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        from incidents.purge import in_the_future, parse_as_of

        if not dry_run and not yes and as_of is not None and in_the_future(parse_as_of(as_of)):
            raise ConfigError(f"{as_of} is in the future: measured from it, rows that have not expired would be "
                              "deleted; rerun with --yes if that is what you want, or --dry-run to count them",
                              key="--as-of")
        if not dry_run and not yes and (connection is not None or ws.env.target != "local"):
            where = f"Snowflake connection {connection}" if connection is not None else ws.env.target
            raise ConfigError(f"purge deletes rows in env {ws.env.name} ({where}); rerun with --yes, "
                              "or with --dry-run to count them first", key="--yes")
        result = ws.purge(dry_run=dry_run, as_of=as_of)
        show(result, output, lambda: fmt.purge_text(result, ws.where))
