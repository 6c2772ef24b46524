"""The path to production: a deploy with no sample data holds everything the tool itself needs (the
category taxonomy as reference rows config owns), so alerts open incidents right away; categories evolve
with config (new, renamed, retired) without touching the incidents filed under them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from incidents import Workspace
from incidents.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"


def categories_yml(root: Path) -> Path:
    return root / "config" / "tables" / "incident_categories.yml"


@pytest.mark.slow  # the path test_e2e_alertmanager.py also runs; heavy
def test_a_deploy_without_seed_ingests_alerts_and_checks_clean(make_project, local_dir: Path) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        result = ws.ingest((FIXTURES / "grouped.json").read_text(encoding="utf-8"))
        assert (result.alerts, result.malformed, result.opened) == (3, 0, 3)
        codes = {r["CODE"] for r in ws.query(
            "SELECT c.CODE FROM INCIDENTS i JOIN INCIDENT_CATEGORIES c ON c.CATEGORY_ID = i.CATEGORY_ID")}
        assert codes <= {"PAYMENT", "PERFORMANCE", "SYSTEM_OUTAGE"} and codes
        assert ws.query("SELECT COUNT(*) AS N FROM INCIDENT_CATEGORIES WHERE PARENT_CATEGORY_ID IS NULL")[0]["N"] == 10
        assert ws.check().ok


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_categories_are_added_renamed_and_retired_by_config_and_incidents_keep_theirs(
        make_project, local_dir: Path) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        ws.ingest((FIXTURES / "firing.json").read_text(encoding="utf-8"))  # filed under SYSTEM_OUTAGE (id 1)
    path = categories_yml(root)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = data["reference_data"]["rows"]
    by_id = {r["category_id"]: r for r in rows}
    by_id[1]["name"] = "Site and API outages"             # renamed: same id, same code
    by_id[101]["is_active"] = False                       # retired
    rows.append({"category_id": 1099, "parent_category_id": 10, "code": "THIRD_PARTY.SHIPPING_CARRIER",
                 "name": "Shipping carrier API errors", "description": "Label and tracking calls fail.",
                 "default_priority": "medium", "is_active": True})  # new
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with Workspace.open(root, env="dev") as ws:
        diff = ws.diff()
        assert [(c.kind, c.object) for c in diff.changes] == [("config_changed", "incident_categories")]
        ws.deploy()
        got = {r["CATEGORY_ID"]: (r["NAME"], r["IS_ACTIVE"]) for r in ws.query(
            "SELECT CATEGORY_ID, NAME, IS_ACTIVE FROM INCIDENT_CATEGORIES WHERE CATEGORY_ID IN (1, 101, 1099)")}
        assert got == {1: ("Site and API outages", True), 101: ("Storefront down", False),
                       1099: ("Shipping carrier API errors", True)}
        assert ws.query("SELECT COUNT(*) AS N FROM INCIDENT_CATEGORIES")[0]["N"] == 55
        assert ws.query("SELECT CATEGORY_ID FROM INCIDENTS")[0]["CATEGORY_ID"] == 1
        assert ws.diff().in_sync and ws.deploy().up_to_date


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_reference_row_users_edited_is_kept_unless_config_owns_the_rows(make_project, local_dir: Path) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        ws.query("UPDATE SLA_POLICIES SET RESOLVE_MINUTES = 1 WHERE PRIORITY = 'low'")  # users own these
        ws.query("UPDATE INCIDENT_CATEGORIES SET NAME = 'hand edit' WHERE CATEGORY_ID = 3")  # config owns these
    path = root / "config" / "tables" / "sla_policies.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("Default: 4 h / 1 day / 10 days.", "Default (v2)."),
                    encoding="utf-8")
    categories = categories_yml(root)
    categories.write_text(categories.read_text(encoding="utf-8").replace(
        "name: Payment Processing", "name: Payments"), encoding="utf-8")
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        assert ws.query("SELECT RESOLVE_MINUTES FROM SLA_POLICIES WHERE PRIORITY = 'low'")[0]["RESOLVE_MINUTES"] == 1
        assert ws.query("SELECT NAME FROM INCIDENT_CATEGORIES WHERE CATEGORY_ID = 3")[0]["NAME"] == "Payments"


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_seed_refuses_when_a_category_it_files_under_is_not_deployed(make_project, local_dir: Path) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        ws.query("DELETE FROM INCIDENT_CATEGORIES WHERE CATEGORY_ID = 101")
        with pytest.raises(ConfigError, match=r"categories.yml: reference_data: .*101 SYSTEM_OUTAGE.SITE_DOWN"):
            ws.seed(incidents=10)
        assert ws.query("SELECT COUNT(*) AS N FROM INCIDENTS")[0]["N"] == 0


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_sample_data_is_never_in_the_future_and_check_flags_what_is(make_project, local_dir: Path) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
        ws.seed(incidents=2000)  # ends today: the latest events are from just before now
        future = ws.query(
            "SELECT COUNT_IF(GREATEST(created_at, NVL(acknowledged_at, created_at), NVL(resolved_at, created_at), "
            "NVL(closed_at, created_at), NVL(updated_at, created_at)) > SYSDATE()) AS N FROM incidents")[0]["N"]
        assert future == 0
        assert ws.query("SELECT COUNT(*) AS N FROM incident_status_history WHERE changed_at > SYSDATE()")[0]["N"] == 0
        assert ws.check().ok
        ws.query("UPDATE incidents SET resolved_at = DATEADD('day', 3, SYSDATE()) "
                 "WHERE incident_id = (SELECT MIN(incident_id) FROM incidents WHERE resolved_at IS NOT NULL)")
        failed = {(f.check, f.table, f.column) for f in ws.check().failed}
        assert ("future_timestamp", "incidents", "resolved_at") in failed
        with pytest.raises(ConfigError, match=r"--end .* is in the future"):
            ws.seed(incidents=10, replace=True, end=dt.date(2999, 1, 1))


def test_a_first_deploy_racing_another_says_the_database_is_in_use(tmp_path: Path, repo: Path) -> None:
    """Two first deploys started together: the second meets the file the first just created (DuckDB's lock)
    at its CREATE DATABASE, and says what the README promises, not DuckDB's text."""
    import subprocess
    import sys

    from incidents.errors import TargetError
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    env = environment(load_project(repo), "dev")
    session = open_local(tmp_path, env)  # no database file yet: nothing attached
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(tmp_path / "INCIDENTS.db")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(TargetError, match="another incidents process is using the local database in "):
            session.execute("CREATE DATABASE IF NOT EXISTS INCIDENTS")
    finally:
        holder.kill()
        session.close()
