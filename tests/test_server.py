"""The real client code path: the unpatched connector talks to a fakesnow server on loopback,
configured through connections.toml exactly as a user configures a Snowflake account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.cli import app

pytestmark = pytest.mark.server


def _toml(home: Path, server: dict, password: str = "snow", port: int | None = None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "connections.toml").write_text(
        "[fake]\n"
        f'account = "fakesnow"\nuser = "fake"\npassword = "{password}"\nwarehouse = "COMPUTE_WH"\n'
        f'host = "{server["host"]}"\nport = {port or server["port"]}\nprotocol = "http"\n'
        "network_timeout = 5\nlogin_timeout = 5\n"
        "[fake.session_parameters]\nCLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false\n"
    )
    (home / "connections.toml").chmod(0o600)  # as a user keeps a file with a password (else: a warning)


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_deploy_query_and_diff_through_the_real_connector(server: dict, repo: Path, tmp_path: Path,
                                                          runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "snowflake"
    _toml(home, server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    args = ["--connection", "fake", "--project-dir", str(repo)]
    first = runner.invoke(app, ["deploy", *args])
    assert first.exit_code == 0, first.output + first.stderr
    assert "snowflake:fakesnow" in first.output and "create   table           incidents" in first.output
    assert "snow" not in first.output.replace("snowflake", "").replace("fakesnow", ""), "no password printed"

    rows = runner.invoke(app, ["query", "SELECT COUNT(*) AS N FROM INCIDENTS.INFORMATION_SCHEMA.TABLES "
                                        "WHERE TABLE_SCHEMA = 'CORE'", "--format", "json", *args])
    assert rows.exit_code == 0, rows.stderr
    assert json.loads(rows.output)[0]["N"] >= 10

    again = runner.invoke(app, ["deploy", *args])
    assert again.exit_code == 0 and "Up to date" in again.output
    diff = runner.invoke(app, ["diff", *args])
    assert diff.exit_code == 0, diff.output
    status = runner.invoke(app, ["status", *args])  # the server has no CURRENT_ACCOUNT(): said, not exit 3
    assert status.exit_code == 0 and "account unknown" in status.output and "in sync" in status.output, \
        status.output


def test_sql_error_through_the_connector_is_exit_3(server: dict, repo: Path, tmp_path: Path, runner: CliRunner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "snowflake"
    _toml(home, server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    result = runner.invoke(app, ["query", "SELECT * FROM NOPE.NOPE.NOPE", "--connection", "fake",
                                 "--project-dir", str(repo)])
    assert result.exit_code == 3
    assert "target error" in result.stderr and "NOPE" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_account_is_exit_3_without_secrets(repo: Path, tmp_path: Path, runner: CliRunner,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "snowflake"
    _toml(home, {"host": "127.0.0.1", "port": 9}, password="hunter2-secret", port=9)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    result = runner.invoke(app, ["query", "SELECT 1", "--connection", "fake", "--project-dir", str(repo)])
    assert result.exit_code == 3, result.output + result.stderr
    assert "cannot connect to Snowflake with connection 'fake'" in result.stderr
    assert "hunter2" not in result.stderr + result.output
    assert "Traceback" not in result.stderr


def test_snowflake_env_without_credentials_is_exit_2(repo: Path, tmp_path: Path, runner: CliRunner,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_DEFAULT_CONNECTION_NAME"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(app, ["deploy", "--env", "prod", "--project-dir", str(repo)])
    assert result.exit_code == 2
    assert "environment 'prod' targets Snowflake" in result.stderr and "SNOWFLAKE_ACCOUNT" in result.stderr
