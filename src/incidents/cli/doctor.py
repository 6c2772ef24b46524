"""`incidents doctor`: the deploy role's account privileges, checked before a deploy needs them."""

from __future__ import annotations

from typing import Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, TextJson, VerboseOpt, _errors, _workspace, show
from incidents.errors import ConfigError


def doctor(
    output: Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")] = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Check that the deploy role holds the account privileges access, masking and tasks need
    (CREATE ROLE, MANAGE GRANTS, APPLY MASKING POLICY, APPLY TAG, EXECUTE TASK, EXECUTE MANAGED TASK),
    read with SHOW GRANTS; names each one missing with the GRANT that gives it. Exit 2 if any is missing.

    On the local target there are no roles: it says the checks are Snowflake-only and exits 0.

    Examples: incidents doctor --env prod; incidents doctor --env prod --format json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = ws.doctor()
        show(result, output, lambda: fmt.doctor_text(result))
        if not result.ok:
            raise ConfigError(f"the deploy role {result.role} lacks {', '.join(result.missing)}; grant "
                              f"{'them' if len(result.missing) > 1 else 'it'} as shown above (as ACCOUNTADMIN)")
