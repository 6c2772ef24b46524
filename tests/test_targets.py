"""Snowflake connection resolution, the way the Snowflake CLI does it. Pure: no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from incidents.errors import ConfigError
from incidents.project.models import Environment
from incidents.targets.snowflake import redact, snowflake_params

PROD = Environment(name="prod", target="snowflake", database="INCIDENTS_PROD", schema="CORE", connection="prod",
                   warehouse="REPORTING_WH")


def _home(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "connections.toml").write_text(text)
    (tmp_path / "connections.toml").chmod(0o600)
    return {"SNOWFLAKE_HOME": str(tmp_path)}


def test_named_connection_from_connections_toml(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "acme-prod"\nuser = "deployer"\npassword = "s3cret"\n'
                              'role = "SYSADMIN"\n')
    params = snowflake_params(PROD, None, environ)
    assert params["account"] == "acme-prod" and params["user"] == "deployer" and params["role"] == "SYSADMIN"
    assert params["warehouse"] == "REPORTING_WH"  # from the environment config
    assert '"application": "incidents"' in params["session_parameters"]["QUERY_TAG"]
    assert redact(params)["password"] == "***"


def test_env_vars_override_and_suffice_for_ci(tmp_path: Path) -> None:
    environ = {"SNOWFLAKE_HOME": str(tmp_path), "SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_USER": "ci",
               "SNOWFLAKE_PASSWORD": "pw"}
    params = snowflake_params(PROD, None, environ)
    assert (params["account"], params["user"], params["password"]) == ("acme", "ci", "pw")


def test_explicit_connection_flag_must_exist(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\npassword = "p"\n')
    with pytest.raises(ConfigError) as info:
        snowflake_params(PROD, "nope", environ)
    assert "no connection named 'nope'" in str(info.value) and "known: prod" in str(info.value)


def test_missing_credentials_name_what_to_set(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\n')
    with pytest.raises(ConfigError) as info:
        snowflake_params(PROD, None, environ)
    assert "no credentials" in str(info.value) and "SNOWFLAKE_PASSWORD" in str(info.value)


def test_no_connection_and_no_env_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        snowflake_params(PROD, None, {"SNOWFLAKE_HOME": str(tmp_path)})
    assert "SNOWFLAKE_ACCOUNT is not set" in str(info.value)


def test_key_pair_file_must_exist(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\nprivate_key_file = "/nope/key.p8"\n')
    with pytest.raises(ConfigError) as info:
        snowflake_params(PROD, None, environ)
    assert "private key file not found: /nope/key.p8" in str(info.value)


def test_default_connection_from_config_toml(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('default_connection_name = "dev"\n[connections.dev]\naccount = "d"\n'
                                          'user = "u"\nauthenticator = "externalbrowser"\nwarehouse = "WH"\n')
    env = Environment(name="x", target="snowflake", database="D", schema="S")
    params = snowflake_params(env, None, {"SNOWFLAKE_HOME": str(tmp_path)})
    assert params["account"] == "d" and params["authenticator"] == "externalbrowser"


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    environ = _home(tmp_path, "[prod\n")
    with pytest.raises(ConfigError) as info:
        snowflake_params(PROD, None, environ)
    assert "connections.toml" in str(info.value) and "invalid TOML" in str(info.value)


def test_a_connections_file_others_can_read_gets_one_warning_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from incidents.errors import IncidentsWarning

    environ = _home(tmp_path, '[prod]\naccount = "acme-prod"\npassword = "s3cret"\n')  # no user
    (tmp_path / "connections.toml").chmod(0o644)
    warned = pytest.warns(IncidentsWarning, match=r"other users can read it \(mode 644\); run `chmod 0600 ")
    with warned, pytest.raises(ConfigError):
        snowflake_params(PROD, None, environ)

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "incidents", "diff", "--env", "prod", "--project-dir", str(repo)],
                          env={**os.environ, **environ}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("warning: ") and "chmod 0600" in lines[0]
    assert "has no user" in lines[1] and "s3cret" not in done.stderr
def test_sessions_are_utc_unless_the_connection_sets_a_time_zone(tmp_path: Path) -> None:
    """SYSDATE() defaults are UTC anyway; CURRENT_TIMESTAMP() and friends follow the session's TIMEZONE."""
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\npassword = "p"\n')
    assert snowflake_params(PROD, None, environ)["session_parameters"]["TIMEZONE"] == "UTC"
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\npassword = "p"\n'
                              '[prod.session_parameters]\nTIMEZONE = "Europe/Paris"\n')
    assert snowflake_params(PROD, None, environ)["session_parameters"]["TIMEZONE"] == "Europe/Paris"


def test_an_environment_without_a_warehouse_is_refused_before_any_query(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\npassword = "p"\n')
    env = Environment(name="prod", target="snowflake", database="D", schema="S", connection="prod")
    with pytest.raises(ConfigError) as info:
        snowflake_params(env, None, environ)
    assert "no warehouse is set" in str(info.value) and "SNOWFLAKE_WAREHOUSE" in str(info.value)
    assert info.value.key == "environments.prod.warehouse"
    with_env_var = snowflake_params(env, None, {**environ, "SNOWFLAKE_WAREHOUSE": "WH"})
    assert with_env_var["warehouse"] == "WH"


def test_a_token_without_an_authenticator_is_a_programmatic_access_token(tmp_path: Path) -> None:
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\ntoken = "pat-secret"\n')
    params = snowflake_params(PROD, None, environ)
    assert params["authenticator"] == "PROGRAMMATIC_ACCESS_TOKEN" and params["token"] == "pat-secret"
    assert redact(params)["token"] == "***"
    environ = _home(tmp_path, '[prod]\naccount = "a"\nuser = "u"\ntoken = "t"\nauthenticator = "oauth"\n')
    assert snowflake_params(PROD, None, environ)["authenticator"] == "oauth"  # an explicit choice is kept


def test_local_tables_are_created_without_enforced_keys() -> None:
    """Snowflake declares keys and enforces none; DuckDB would enforce them, so they are not sent there."""
    from incidents.targets.local import keys_declared_not_enforced as local_form

    sent = local_form("CREATE TABLE IF NOT EXISTS D.S.T (A NUMBER(38,0) NOT NULL PRIMARY KEY, "
                      "B NUMBER(38,0) REFERENCES D.S.U (X), C VARCHAR UNIQUE, "
                      "CONSTRAINT PK PRIMARY KEY (A), CONSTRAINT UK UNIQUE (C), "
                      "CONSTRAINT FK FOREIGN KEY (B) REFERENCES D.S.U (X), FOREIGN KEY (B) REFERENCES D.S.U (X)) "
                      "COMMENT = 'keys'")
    assert not re.search(r"KEY|UNIQUE|REFERENCES|CONSTRAINT", sent), sent
    assert re.fullmatch(r"CREATE TABLE IF NOT EXISTS D\.S\.T \(A \w+\(38, ?0\) NOT NULL, B \w+\(38, ?0\), "
                        r"C VARCHAR\) COMMENT ?= ?'keys'", sent), sent
    for untouched in ("SELECT 'PRIMARY KEY' AS X", "CREATE TABLE T (A INT)",
                      "CREATE TABLE T AS SELECT 'UNIQUE' AS X", "INSERT INTO T VALUES ('FOREIGN KEY')"):
        assert local_form(untouched) == untouched
