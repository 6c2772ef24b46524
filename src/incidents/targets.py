"""Open a Session on a target: the embedded local database (fakesnow) or a Snowflake account.

The only module that imports snowflake.connector or fakesnow, and only inside the functions that
need them, so `incidents --help` starts fast.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from incidents import __version__
from incidents.config import PACKAGED_PROJECT
from incidents.errors import ConfigError, TargetError, first_line
from incidents.models import Environment, Project
from incidents.session import Session

APPLICATION = "incidents"
# Options that connections.toml may carry and we pass to the connector as they are.
_PASSTHROUGH = {
    "account", "user", "password", "authenticator", "private_key_file", "private_key_file_pwd", "token",
    "role", "warehouse", "host", "port", "protocol", "region", "login_timeout", "network_timeout",
    "session_parameters", "client_session_keep_alive", "ocsp_fail_open", "passcode", "oauth_client_id",
}
_ENV_VARS = {
    "SNOWFLAKE_ACCOUNT": "account", "SNOWFLAKE_USER": "user", "SNOWFLAKE_PASSWORD": "password",
    "SNOWFLAKE_AUTHENTICATOR": "authenticator", "SNOWFLAKE_PRIVATE_KEY_FILE": "private_key_file",
    "SNOWFLAKE_PRIVATE_KEY_PATH": "private_key_file", "SNOWFLAKE_PRIVATE_KEY_FILE_PWD": "private_key_file_pwd",
    "SNOWFLAKE_TOKEN": "token", "SNOWFLAKE_ROLE": "role", "SNOWFLAKE_WAREHOUSE": "warehouse",
    "SNOWFLAKE_HOST": "host",
}
SECRET_KEYS = {"password", "private_key_file_pwd", "token", "passcode"}


def local_dir(project: Project, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the local target keeps its database files."""
    if environ.get("INCIDENTS_LOCAL_DIR"):
        return Path(environ["INCIDENTS_LOCAL_DIR"]).expanduser()
    # The example project inside the installed package is not ours to write into.
    base = Path.cwd() if project.root.resolve() == PACKAGED_PROJECT.resolve() else project.root
    return base / ".incidents"


def open_session(project: Project, env: Environment, *, connection: str | None = None,
                 environ: Mapping[str, str] = os.environ) -> Session:
    """Connect to the environment's target; `--connection` always means Snowflake."""
    if connection is None and env.target == "local":
        return open_local(local_dir(project, environ), env)
    return open_snowflake(snowflake_params(env, connection, environ), env)


# --------------------------------------------------------------------------- local (fakesnow)

def _quiet_fakesnow() -> None:
    # sqlglot logs every Snowflake property DuckDB ignores (CLUSTER BY, COMMENT); not the user's business.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")


def open_local(path: Path, env: Environment) -> Session:
    _quiet_fakesnow()
    import duckdb
    import snowflake.connector.errors
    from fakesnow.instance import FakeSnow

    path.mkdir(parents=True, exist_ok=True)
    exists = (path / f"{env.database.upper()}.db").is_file()
    try:
        # Attach an existing database file; a new one is created by deploy's CREATE DATABASE.
        fake = FakeSnow(db_path=path, create_database_on_connect=exists, create_schema_on_connect=False)
        conn = fake.connect(database=env.database, schema=env.schema)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise TargetError(f"another incidents process is using the local database in {path}; "
                              "wait for it to finish (or set INCIDENTS_LOCAL_DIR)") from None
        raise TargetError(f"cannot open the local database in {path}: {exc}") from None

    def is_target_error(exc: BaseException) -> bool:
        return isinstance(exc, (snowflake.connector.errors.Error, duckdb.Error))

    return Session(conn, "local", label=f"local:{path}", emulated=True, is_target_error=is_target_error,
                   on_close=fake.duck_conn.close, hint=_local_hint)


def _local_hint(message: str) -> str | None:
    if "Dependency Error" in message:
        return ("the local target (DuckDB) cannot alter or drop a table that foreign keys reference; "
                "Snowflake can. Recreate the local database (delete .incidents/) to start over")
    if ("Constraint Error" in message or "violates" in message) and "NOT NULL" not in message:
        return "the local target enforces PRIMARY/UNIQUE/FOREIGN KEY constraints; Snowflake does not"
    return None


# --------------------------------------------------------------------------- Snowflake

def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None


def snowflake_home(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("SNOWFLAKE_HOME") or Path.home() / ".snowflake").expanduser()


def snowflake_params(env: Environment, connection: str | None,
                     environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Resolve connection parameters the way the Snowflake CLI does.

    connections.toml (or [connections] in config.toml) under SNOWFLAKE_HOME / ~/.snowflake; the
    connection named by --connection, else the environment's `connection`, else the default
    connection; SNOWFLAKE_* environment variables override file values (CI sets only those).
    """
    home = snowflake_home(environ)
    connections: dict[str, Any] = {}
    default_name = environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME")
    config_toml = home / "config.toml"
    if config_toml.is_file():
        data = _read_toml(config_toml)
        connections.update(data.get("connections", {}))
        default_name = default_name or data.get("default_connection_name")
    connections_toml = home / "connections.toml"
    if connections_toml.is_file():
        data = _read_toml(connections_toml)
        default_name = default_name or data.pop("default_connection_name", None)
        connections.update({k: v for k, v in data.items() if isinstance(v, dict)})

    name = connection or env.connection or default_name or "default"
    base = connections.get(name)
    from_env = {key: environ[var] for var, key in _ENV_VARS.items() if environ.get(var)}
    if base is None:
        if connection is not None:
            known = ", ".join(sorted(connections)) or "none"
            raise ConfigError(f"no connection named {name!r} in {home}/connections.toml (known: {known}); "
                              "add it or use SNOWFLAKE_* environment variables", key="--connection")
        if not from_env.get("account"):
            raise ConfigError(
                f"environment {env.name!r} targets Snowflake but no connection {name!r} was found in "
                f"{home}/connections.toml and SNOWFLAKE_ACCOUNT is not set; add the connection or set "
                "SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_FILE)",
                key="--env")
        base = {}
    params = {k: v for k, v in base.items() if k in _PASSTHROUGH}
    if "private_key_path" in base:
        params.setdefault("private_key_file", base["private_key_path"])
    params.update(from_env)
    if env.warehouse:
        params["warehouse"] = env.warehouse
    if env.role:
        params["role"] = env.role
    for required in ("account", "user"):
        if not params.get(required):
            raise ConfigError(f"connection {name!r} has no {required}; set it in connections.toml or "
                              f"SNOWFLAKE_{required.upper()}", key="--connection")
    if not (params.get("password") or params.get("private_key_file") or params.get("authenticator")
            or params.get("token")):
        raise ConfigError(f"connection {name!r} has no credentials; set password or private_key_file in "
                          "connections.toml, or SNOWFLAKE_PASSWORD / SNOWFLAKE_PRIVATE_KEY_FILE",
                          key="--connection")
    key_file = params.get("private_key_file")
    if key_file and not Path(str(key_file)).expanduser().is_file():
        raise ConfigError(f"private key file not found: {key_file}", key="private_key_file")
    session_parameters = dict(params.get("session_parameters") or {})
    session_parameters.setdefault("QUERY_TAG", json.dumps(
        {"application": APPLICATION, "version": __version__, "env": env.name}, sort_keys=True))
    params["session_parameters"] = session_parameters
    params["_connection_name"] = name
    return params


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters safe to print: secrets replaced."""
    return {k: ("***" if k in SECRET_KEYS and v else v) for k, v in params.items()}


def open_snowflake(params: dict[str, Any], env: Environment) -> Session:
    import snowflake.connector
    import snowflake.connector.errors

    params = dict(params)
    name = params.pop("_connection_name", "?")
    if params.get("private_key_file"):
        params["private_key_file"] = str(Path(str(params["private_key_file"])).expanduser())
    try:
        conn = snowflake.connector.connect(application=APPLICATION, database=env.database, schema=env.schema,
                                           **params)
    except snowflake.connector.errors.Error as exc:
        # The connector's messages never contain the password; still, say only the first line.
        message = first_line(exc)
        raise TargetError(f"cannot connect to Snowflake with connection {name!r} "
                          f"(account {params.get('account')!r}): {message}") from None

    def is_target_error(exc: BaseException) -> bool:
        return isinstance(exc, snowflake.connector.errors.Error)

    # A fakesnow server on loopback speaks Snowflake's protocol but keeps fakesnow's semantics.
    emulated = str(params.get("host", "")) in ("127.0.0.1", "localhost", "::1")
    return Session(conn, "snowflake", label=f"snowflake:{params.get('account')}", emulated=emulated,
                   is_target_error=is_target_error)
