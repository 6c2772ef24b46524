"""Open a Session on a target: the embedded local database (fakesnow, targets.local) or a Snowflake
account (targets.snowflake). The only package that imports snowflake.connector or fakesnow, and only
inside the functions that need them, so `incidents --help` starts fast."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from incidents.errors import ConfigError
from incidents.project.config import PACKAGED_PROJECT
from incidents.project.deployment import Deployment
from incidents.project.models import Project
from incidents.sql.session import Session


def local_dir(project: Project, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the local target keeps its database files."""
    if environ.get("INCIDENTS_LOCAL_DIR"):
        path = Path(environ["INCIDENTS_LOCAL_DIR"]).expanduser()
        try:
            path.exists()  # the operating system's verdict on the name itself (too long, not a name)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot use it for the local database: {getattr(exc, 'strerror', None) or exc}; point "
                              "it at a folder you can write", key="INCIDENTS_LOCAL_DIR") from None
        return path
    # The example project inside the installed package is not ours to write into.
    base = Path.cwd() if project.root.resolve() == PACKAGED_PROJECT.resolve() else project.root
    return base / ".incidents"


def local_database_file(dep: Deployment, environ: Mapping[str, str] = os.environ) -> Path:
    """The DuckDB file of the environment's database on the local target (there once deployed)."""
    return local_dir(dep.project, environ) / f"{dep.database.upper()}.db"


def open_session(dep: Deployment, *, connection: str | None = None, environ: Mapping[str, str] = os.environ,
                 read_only: bool = False) -> Session:
    """Connect to the environment's target; `--connection` always means Snowflake. A read-only
    session on a local target never deployed is an empty in-memory one: reading must not create
    the .incidents/ folder."""
    if connection is None and dep.env.target == "local":
        from incidents.targets.local import open_local

        path = local_dir(dep.project, environ)
        in_memory = read_only and not local_database_file(dep, environ).is_file()
        return _primary_role_only(open_local(path, dep.env, in_memory=in_memory), dep)
    from incidents.targets.snowflake import open_snowflake, snowflake_params

    return _primary_role_only(open_snowflake(snowflake_params(dep.env, connection, environ), dep.env), dep)


def _primary_role_only(session: Session, dep: Deployment) -> Session:
    """USE SECONDARY ROLES NONE on a target that has roles (Snowflake, the rules target): the tool acts
    through its deploy role alone (templates/session/secondary_roles.sql.j2; README "Access and privacy")."""
    if session.access_control:
        try:
            session.execute(dep.sql("session/secondary_roles"), obj="session")
        except BaseException:
            session.close()
            raise
    return session
