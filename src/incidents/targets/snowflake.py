"""The Snowflake target: connection parameters resolved the way the Snowflake CLI resolves them
(connections.toml, the default connection, SNOWFLAKE_* variables), checked before connecting, and a
Session over the connector. Secrets are never printed."""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from incidents.errors import ConfigError, IncidentsWarning, TargetError, first_line
from incidents.project.models import Environment
from incidents.sql.session import Session
from incidents.version import __version__

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


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return data
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None


def snowflake_home(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("SNOWFLAKE_HOME") or Path.home() / ".snowflake").expanduser()


# Parameters whose type the connector trusts: a wrong one would surface as a traceback deep inside it.
_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "port": (int,), "login_timeout": (int, float), "network_timeout": (int, float),
    "session_parameters": (dict,), "client_session_keep_alive": (bool,), "ocsp_fail_open": (bool,),
}
_TEXT_PARAMS = _PASSTHROUGH - set(_PARAM_TYPES)


def snowflake_params(env: Environment, connection: str | None,
                     environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Resolve connection parameters the way the Snowflake CLI does.

    connections.toml (or [connections] in config.toml) under SNOWFLAKE_HOME / ~/.snowflake; the
    connection named by --connection, else the environment's `connection`, else the default
    connection; SNOWFLAKE_* environment variables override file values (CI sets only those).
    """
    home = snowflake_home(environ)
    connections, default_name = read_connections(home, environ)
    name = connection or env.connection or default_name or "default"
    from_env = {key: environ[var] for var, key in _ENV_VARS.items() if environ.get(var)}
    base = connections.get(name)
    if base is None:
        _no_connection(env, name, connection, home, sorted(connections), from_env)
        base = {}
    _check_types(base, name, home)
    params = {k: v for k, v in base.items() if k in _PASSTHROUGH}
    if "private_key_path" in base:
        params.setdefault("private_key_file", base["private_key_path"])
    params.update(from_env)
    params.update({k: v for k, v in (("warehouse", env.warehouse), ("role", env.role)) if v})
    _check_credentials(params, name)
    _check_warehouse(params, env, name)
    if params.get("token") and not params.get("authenticator"):
        # The connector reads `token` only with an authenticator that takes one (else it asks for a
        # password: "Password is empty"): PROGRAMMATIC_ACCESS_TOKEN for a programmatic access token, the
        # token users create for tools; an OAuth access token needs authenticator = "oauth" set explicitly.
        # https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-connect
        params["authenticator"] = "PROGRAMMATIC_ACCESS_TOKEN"
    session_parameters = dict(params.get("session_parameters") or {})
    # Timestamps documented as UTC are UTC whatever the account's default time zone, unless the connection
    # chose one. https://docs.snowflake.com/en/sql-reference/parameters#timezone
    session_parameters.setdefault("TIMEZONE", "UTC")
    session_parameters.setdefault("QUERY_TAG", json.dumps(
        {"application": APPLICATION, "version": __version__, "env": env.name}, sort_keys=True))
    params["session_parameters"] = session_parameters
    params["_connection_name"] = name
    return params


def read_connections(home: Path, environ: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    connections: dict[str, Any] = {}
    default_name = environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME")
    config_toml = home / "config.toml"
    if config_toml.is_file():
        data = _read_toml(config_toml)
        sections = data.get("connections", {})
        connections.update(sections if isinstance(sections, dict) else {})
        default_name = default_name or data.get("default_connection_name")
    connections_toml = home / "connections.toml"
    if connections_toml.is_file():
        _warn_if_others_can_read(connections_toml)
        data = _read_toml(connections_toml)
        default_name = default_name or data.pop("default_connection_name", None)
        connections.update({k: v for k, v in data.items() if isinstance(v, dict)})
    return connections, default_name if isinstance(default_name, str) else None


def _warn_if_others_can_read(path: Path) -> None:
    """The file holds credentials: say so in one line, with the fix (the connector would print six)."""
    if os.name != "posix":
        return
    info = path.stat()
    if info.st_mode & 0o077 or info.st_uid != os.getuid():
        fix = f"chmod 0600 {path}" + (" and chown it to yourself" if info.st_uid != os.getuid() else "")
        warnings.warn(IncidentsWarning(f"{path} holds credentials but other users can read it "
                                       f"(mode {info.st_mode & 0o777:o}); run `{fix}`"), stacklevel=2)


def _no_connection(env: Environment, name: str, connection: str | None, home: Path, known: list[str],
                   from_env: dict[str, str]) -> None:
    if connection is not None:
        raise ConfigError(f"no connection named {name!r} in {home}/connections.toml (known: "
                          f"{', '.join(known) or 'none'}); add it or use SNOWFLAKE_* environment variables",
                          key="--connection")
    if not from_env.get("account"):
        raise ConfigError(
            f"environment {env.name!r} targets Snowflake but no connection {name!r} was found in "
            f"{home}/connections.toml and SNOWFLAKE_ACCOUNT is not set; add the connection or set "
            "SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_FILE)",
            key="--env")


def _check_types(base: Mapping[str, Any], name: str, home: Path) -> None:
    """Wrong types in connections.toml are the user's mistake: say which key (never its value)."""
    for key, value in base.items():
        kinds = _PARAM_TYPES.get(key, (str,) if key in _TEXT_PARAMS or key == "private_key_path" else None)
        if kinds is None or (isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)):
            continue
        wanted = " or ".join({int: "a whole number", float: "a number", dict: "a table", bool: "true or false",
                              str: "a string"}[k] for k in kinds)
        raise ConfigError(f"expected {wanted} in connection {name!r}, got a {type(value).__name__}",
                          file=str(home / "connections.toml"), key=f"{name}.{key}")
    port = base.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and not 1 <= port <= 65535:
        raise ConfigError(f"expected a port from 1 to 65535 in connection {name!r}, got {port}",
                          file=str(home / "connections.toml"), key=f"{name}.port")


def _check_warehouse(params: dict[str, Any], env: Environment, name: str) -> None:
    """Without a warehouse the first query fails with "No active warehouse"; say so before any query."""
    if not params.get("warehouse"):
        raise ConfigError(f"environment {env.name!r} targets Snowflake but no warehouse is set; add `warehouse:` "
                          f"to environments.{env.name} in config/project.yml, `warehouse` to connection {name!r} in "
                          "connections.toml, or set SNOWFLAKE_WAREHOUSE", key=f"environments.{env.name}.warehouse")


def _check_credentials(params: dict[str, Any], name: str) -> None:
    for required in ("account", "user"):
        if not params.get(required):
            raise ConfigError(f"connection {name!r} has no {required}; set it in connections.toml or "
                              f"SNOWFLAKE_{required.upper()}", key="--connection")
    if not any(params.get(k) for k in ("password", "private_key_file", "authenticator", "token")):
        raise ConfigError(f"connection {name!r} has no credentials; set password or private_key_file in "
                          "connections.toml, or SNOWFLAKE_PASSWORD / SNOWFLAKE_PRIVATE_KEY_FILE",
                          key="--connection")
    key_file = params.get("private_key_file")
    if key_file:
        path = Path(str(key_file)).expanduser()
        if not path.is_file():
            raise ConfigError(f"private key file not found: {key_file}", key="private_key_file")
        head = path.read_bytes()[:4096]
        if b"-----BEGIN" not in head or b"PRIVATE KEY" not in head:
            raise ConfigError(f"{key_file} is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----'); "
                              "point private_key_file at the .p8 file", key="private_key_file")


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters safe to print: secrets replaced."""
    return {k: ("***" if k in SECRET_KEYS and v else v) for k, v in params.items()}


def open_snowflake(params: dict[str, Any], env: Environment) -> Session:
    import snowflake.connector
    import snowflake.connector.errors

    params = dict(params)
    name = params.pop("_connection_name", "?")
    warnings.filterwarnings("ignore", message="Bad owner or permissions")  # said once, by us, above
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
    except (ValueError, TypeError) as exc:
        # What the connector raises on parameters it cannot use before it talks to Snowflake: a private key
        # file that has a PEM header but is not a key (or needs another passphrase), a malformed host.
        what = "private_key_file" if params.get("private_key_file") else "--connection"
        raise ConfigError(f"connection {name!r} cannot be used: {type(exc).__name__}: {first_line(exc)}",
                          key=what) from None

    def is_target_error(exc: BaseException) -> bool:
        return isinstance(exc, snowflake.connector.errors.Error)

    # A fakesnow server on loopback speaks Snowflake's protocol but keeps fakesnow's semantics.
    emulated = str(params.get("host", "")) in ("127.0.0.1", "localhost", "::1")
    from snowflake.connector.pandas_tools import write_pandas

    return Session(conn, "snowflake", label=f"snowflake:{params.get('account')}", emulated=emulated,
                   is_target_error=is_target_error, access_control=not emulated, write_pandas=write_pandas,
                   rewrite=_without_dynamic_tables if emulated else _as_sent)


def _as_sent(sql: str) -> str:
    return sql


def _without_dynamic_tables(sql: str) -> str:
    """fakesnow has no dynamic tables, behind the connector either: the local target's form of them."""
    from incidents.targets.local import dynamic_as_table

    return dynamic_as_table(sql)
