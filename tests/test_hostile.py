"""Hostile and mistaken input from the second probe (issue 22; /work/shared/research/probe-2026-12-03.md)
that is not alert payloads: each lands with one clear line and its exit code, never a traceback, and
never takes good data down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app
from incidents.engine.lock import Holder


def test_a_lock_holder_cannot_forge_lines_or_drive_the_terminal() -> None:
    holder = Holder("d1", "eve\x1b[2J\nerror: forged line", "host\x1b]0;OWNED\x07", "2026-12-01", "2026-12-02")
    shown = str(holder)
    assert "\n" not in shown and "\x1b" not in shown and "\x07" not in shown
    assert "eve\\x1b[2J\\nerror: forged line" in shown


def test_purge_refuses_a_future_as_of_and_deletes_nothing(project_copy: Path, deployed_local: Path,
                                                          runner: CliRunner) -> None:
    args = ["--project-dir", str(project_copy)]
    with Workspace.open(project_copy) as ws:
        ws.query("INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES (1, 'a@x', 'A', 'engineer')")
        ws.query("INSERT INTO INCIDENTS (INCIDENT_ID, INCIDENT_NUMBER, TITLE, CATEGORY_ID, PRIORITY, SEVERITY, STATUS, "
                 "IMPACT_LEVEL, SOURCE, REPORTER_ID) VALUES (1, 'INC-1', 't', 1, 'low', 'SEV4', 'new', 'none', "
                 "'manual', 1)")
        ws.query("INSERT INTO INCIDENT_COMMENTS (COMMENT_ID, INCIDENT_ID, AUTHOR_ID, COMMENT_TYPE, BODY, CREATED_AT) "
                 "VALUES (1, 1, 1, 'note', 'x', '2026-11-01 00:00:00')")
    for as_of in ("9999-12-31 23:59:59.999999", "2062-01-01"):
        result = runner.invoke(app, ["purge", "--as-of", as_of, "--format", "json", *args])
        assert result.exit_code == 2, result.output
        assert "is in the future" in result.stderr and "--yes" in result.stderr
        assert json.loads(result.stdout)["error"]["key"] == "--as-of"
    with Workspace.open(project_copy) as ws:
        assert ws.query("SELECT COUNT(*) AS N FROM INCIDENT_COMMENTS")[0]["N"] == 1


def test_purge_without_yes_names_the_snowflake_connection_it_would_delete_in(runner: CliRunner, repo: Path,
                                                                             tmp_path: Path) -> None:
    home = tmp_path / "sf"
    home.mkdir()
    (home / "connections.toml").write_text('[fake]\naccount = "a"\nuser = "u"\npassword = "p"\nwarehouse = "W"\n',
                                           encoding="utf-8")
    (home / "connections.toml").chmod(0o600)
    result = runner.invoke(app, ["purge", "--connection", "fake", "--project-dir", str(repo)],
                           env={"SNOWFLAKE_HOME": str(home)})
    assert result.exit_code == 2
    assert "Snowflake connection fake" in result.stderr and "(local)" not in result.stderr


def test_usage_errors_print_a_json_document_under_format_json(repo: Path) -> None:
    import subprocess
    import sys

    for argv in (["deploy", "--bogus", "--format", "json"], ["query", "-F", "missing.sql", "--format", "json"]):
        done = subprocess.run([sys.executable, "-m", "incidents", *argv, "--project-dir", str(repo)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert json.loads(done.stdout)["error"]["exit_code"] == 2, done.stdout
        assert "Traceback" not in done.stderr


def test_init_never_overwrites_a_file_and_ignores_the_local_target(tmp_path: Path, runner: CliRunner) -> None:
    folder = tmp_path / "repo"
    (folder / "config" / "tables").mkdir(parents=True)
    mine = folder / "config" / "tables" / "users.yml"
    mine.write_text("name: users  # my own edited table\n", encoding="utf-8")
    (folder / ".gitignore").write_text("node_modules/\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 2 and "config/tables/users.yml" in result.stderr and "never overwrites" in result.stderr
    assert mine.read_text(encoding="utf-8") == "name: users  # my own edited table\n"
    mine.unlink()
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    assert ".incidents/" in (folder / ".gitignore").read_text(encoding="utf-8").split()
    assert "node_modules/" in (folder / ".gitignore").read_text(encoding="utf-8")
    long_name = runner.invoke(app, ["init", str(tmp_path / ("x" * 300))])
    assert long_name.exit_code == 2 and "File name too long" in long_name.stderr


KILL_MID_SEED = """
import os, sys
from incidents import Workspace
from incidents.seed import load

real_write, calls = load.Loader.write, []

def dying_write(self, name, frame):
    calls.append(name)
    if len(calls) == int(sys.argv[2]):
        os._exit(137)  # as kill -9: no cleanup, no rollback by us
    return real_write(self, name, frame)

load.Loader.write = dying_write
with Workspace.open(sys.argv[1]) as ws:
    ws.seed(incidents=3000, replace=True, end=__import__("datetime").date(2026, 11, 30))
"""


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_seed_killed_half_way_leaves_the_old_rows_as_they_were(project_copy: Path, deployed_local: Path) -> None:
    """issue 22 (H5): --replace used to empty the tables first, so a kill left neither the old rows nor the new."""
    import subprocess
    import sys

    def counts() -> dict[str, int]:
        with Workspace.open(project_copy) as ws:
            return {t: ws.query(f"SELECT COUNT(*) AS N FROM {t}")[0]["N"]
                    for t in ("users", "incidents", "incident_status_history", "incident_comments")}

    with Workspace.open(project_copy) as ws:
        ws.seed(incidents=1000, end=__import__("datetime").date(2026, 11, 1))
    before = counts()
    for dies_at in (2, 6):  # in the dimensions; in the incidents' children, after the old rows were deleted
        done = subprocess.run([sys.executable, "-c", KILL_MID_SEED, str(project_copy), str(dies_at)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 137, done.stderr
        assert counts() == before
    with Workspace.open(project_copy) as ws:
        assert ws.check().ok
