"""Materialized views (`materialize:` in config/views.yml): dynamic tables on Snowflake, tables the loads
refresh on the local target. The tables must hold exactly the rows the view's SELECT gives, after a seed,
after an ingest and an import (refreshed by incident where declared) and on the hand-made dataset; deploy must switch a
view to its dynamic table and back without asking for --allow-destructive; Snowflake's syntax is checked
offline and by the Snowflake-rules target."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import incidents
import views_dataset as vd
from incidents.cli import app
from incidents.engine.desired import desired_state
from incidents.engine.diff import diff
from incidents.engine.plan import plan
from incidents.errors import ConfigError
from incidents.importers.synthetic import write_servicenow
from incidents.kinds.base import FAKESNOW, SNOWFLAKE, DesiredState, HistoryEntry, LiveState, LiveTable, Step
from incidents.kinds.dynamic_table import DynamicTables, as_plain_table, refresh
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Project
from incidents.sql.session import Session
from live_states import in_sync

REPO = Path(__file__).resolve().parents[1]
MATERIALIZED = ("v_reopen_rate", "v_assignment_handoffs", "v_time_in_status")


def dep_of(env: Any, project: Project | None = None) -> Deployment:
    return Deployment(project or load_project(REPO), env)


def table_rows(session: Session, dep: Deployment, name: str) -> list[tuple[Any, ...]]:
    return sorted((_plain(r) for r in session.execute(f"SELECT * FROM {dep.fq(name)}")[1]), key=repr)


def view_rows(session: Session, dep: Deployment, name: str) -> list[tuple[Any, ...]]:
    """The rows of the view's own SELECT (its template, the one definition), computed now."""
    view = next(v for v in dep.project.views if v.name == name)
    body = dep.render(view.template, view=view)
    return sorted((_plain(r) for r in session.execute(f"SELECT * FROM ({body}) AS v")[1]), key=repr)


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in row)


def assert_tables_hold_the_views_rows(session: Session, dep: Deployment) -> None:
    for name in MATERIALIZED:
        held, computed = table_rows(session, dep, name), view_rows(session, dep, name)
        assert computed, f"{name}: the view's SELECT gives no rows, so the comparison would prove nothing"
        assert held == computed, f"{name}: the table does not hold the view's rows"


# --------------------------------------------------------------------------- the hand-made dataset

@pytest.fixture(scope="module")
def handmade(deployed_template: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Session, Deployment, vd.Dataset]]:
    from incidents.targets.local import open_local

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    local = tmp_path_factory.mktemp("materialized") / "local"
    shutil.copytree(deployed_template, local)  # the repository's project, deployed once per test process
    project = load_project(REPO)
    env = environment(project, "dev")
    session = open_local(local, env)
    data = vd.build(vd.utcnow())
    vd.load(session, data, env.database, env.schema)  # a load ends with the refresh, as seed and ingest do
    yield session, Deployment(project, env), data
    session.close()


def test_the_shipped_config_materializes_the_three_slow_views() -> None:
    project = load_project(REPO)
    assert tuple(v.name for v in project.views if v.materialize) == MATERIALIZED
    handoffs = next(v for v in project.views if v.name == "v_assignment_handoffs")
    assert handoffs.materialize is not None and handoffs.materialize.by_incident


def test_materialized_rows_equal_the_views_rows_on_the_handmade_dataset(
        handmade: tuple[Session, Deployment, vd.Dataset]) -> None:
    session, dep, _ = handmade
    assert_tables_hold_the_views_rows(session, dep)


def test_a_refresh_by_incident_replaces_only_the_rows_of_the_incidents_it_is_given(
        handmade: tuple[Session, Deployment, vd.Dataset]) -> None:
    session, dep, data = handmade
    with_assignments = sorted({a["incident_id"] for a in data.assignments})
    changed, untouched = with_assignments[:3], with_assignments[3]
    history = dep.fq("incident_assignment_history")
    session.execute(f"CREATE OR REPLACE TEMPORARY TABLE saved_assignments AS SELECT * FROM {history} "
                    f"WHERE incident_id = {changed[2]}")
    try:
        # One incident changes status, one gets one assignment more, one loses its assignments; a fourth changes
        # too but is not named to the refresh.
        status = {i["incident_id"]: i["status"] for i in data.incidents}
        other = next(s for s in ("duplicate", "cancelled") if s not in (status[changed[0]], status[untouched]))
        session.execute(f"UPDATE {dep.fq('incidents')} SET status = '{other}' WHERE incident_id IN ({changed[0]}, "
                        f"{untouched})")
        session.execute(f"INSERT INTO {history} (assignment_id, incident_id, new_assignee_id, new_team, assigned_by, "
                        f"assigned_at) SELECT 900000, {changed[1]}, MIN(user_id), 'payments', MIN(user_id), "
                        f"'2030-01-01'::TIMESTAMP_NTZ FROM {dep.fq('users')}")
        session.execute(f"DELETE FROM {history} WHERE incident_id = {changed[2]}")
        before = table_rows(session, dep, "v_assignment_handoffs")
        assert before != view_rows(session, dep, "v_assignment_handoffs"), "the changes must show in the view"
        timings = refresh(session, dep, incidents=f"SELECT incident_id FROM {dep.fq('incidents')} "
                                                   f"WHERE incident_id IN ({', '.join(map(str, changed))})")
        assert set(timings) == set(MATERIALIZED)
        after = {r[0]: r for r in table_rows(session, dep, "v_assignment_handoffs")}
        computed = {r[0]: r for r in view_rows(session, dep, "v_assignment_handoffs")}
        assert {k: v for k, v in after.items() if k != untouched} == {k: v for k, v in computed.items()
                                                                      if k != untouched}
        assert changed[2] not in after and after[changed[1]][5] == computed[changed[1]][5]  # assignments
        stale = {r[0]: r for r in before}[untouched]
        assert after[untouched] == stale != computed[untouched], "an incident it was not given keeps its rows"
        # The other two were refreshed whole: they already show the untouched incident's change.
        for name in ("v_reopen_rate", "v_time_in_status"):
            assert table_rows(session, dep, name) == view_rows(session, dep, name)
    finally:
        session.execute(f"DELETE FROM {history} WHERE assignment_id = 900000")
        session.execute(f"INSERT INTO {history} SELECT * FROM saved_assignments")
        session.execute("DROP TABLE IF EXISTS saved_assignments")
        for row in data.incidents:
            if row["incident_id"] in (changed[0], untouched):
                session.execute(f"UPDATE {dep.fq('incidents')} SET status = %s WHERE incident_id = %s",
                                (row["status"], row["incident_id"]))
        refresh(session, dep)
    assert_tables_hold_the_views_rows(session, dep)


def test_the_views_tests_read_the_tables(handmade: tuple[Session, Deployment, vd.Dataset]) -> None:
    """test_views checks the three against an implementation written from their definitions; it reads the
    tables (they are tables here), so those checks hold for the materialized rows."""
    session, dep, _ = handmade
    names = ", ".join(f"'{name.upper()}'" for name in MATERIALIZED)
    kinds = {r[0]: r[1] for r in session.execute(
        f"SELECT TABLE_NAME, TABLE_TYPE FROM {dep.database}.INFORMATION_SCHEMA.TABLES "
        f"WHERE TABLE_SCHEMA = '{dep.schema}' AND TABLE_NAME IN ({names})")[1]}
    assert {kinds[name.upper()] for name in MATERIALIZED} == {"BASE TABLE"}


# --------------------------------------------------------------------------- a seeded warehouse, then ingest

def _alert(status: str, alertname: str, starts: str, ends: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    labels = {"alertname": alertname, "service": "checkout", "severity": "critical"}
    return {"status": status, "labels": labels, "annotations": {"summary": alertname}, "startsAt": starts,
            "endsAt": ends, "generatorURL": "", "fingerprint": f"fp-{alertname}"}


def _payload(*alerts: dict[str, Any]) -> str:
    return json.dumps({"receiver": "incidents", "status": alerts[0]["status"], "alerts": list(alerts),
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                       "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0})


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_seed_ingest_and_import_keep_the_tables_equal_to_the_views(repo: Path, deployed_local: Path,
                                                                   tmp_path: Path) -> None:
    with incidents.Workspace.open(repo) as ws:
        report = ws.seed(incidents=1500, end=dt.date(2026, 11, 30))
        dep, session = ws.dep, ws.session
        assert 0 < report.refresh_seconds < report.seconds
        assert_tables_hold_the_views_rows(session, dep)
        opened = ws.ingest(_payload(_alert("firing", "MatDown", "2026-11-29T10:00:00Z")))
        assert opened.opened == 1
        [(incident,)] = session.execute(f"SELECT MAX(incident_id) FROM {dep.fq('incidents')}")[1]
        # Someone hands the new incident around by hand (no refresh follows such a write) ...
        session.execute(f"INSERT INTO {dep.fq('incident_assignment_history')} (assignment_id, incident_id, "
                        f"new_assignee_id, new_team, assigned_by, assigned_at) SELECT 990000 + ROW_NUMBER() OVER "
                        f"(ORDER BY user_id), {incident}, user_id, 'payments', user_id, "
                        f"'2026-11-29 10:05:00'::TIMESTAMP_NTZ FROM {dep.fq('users')} "
                        f"QUALIFY ROW_NUMBER() OVER (ORDER BY user_id) <= 2")
        assert incident not in {r[0] for r in table_rows(session, dep, "v_assignment_handoffs")}
        # ... and the resolution that arrives next refreshes that incident's row with everything in it.
        resolved = ws.ingest(_payload(_alert("resolved", "MatDown", "2026-11-29T10:00:00Z", "2026-11-29T10:40:00Z")))
        assert resolved.resolved == 1
        assert_tables_hold_the_views_rows(session, dep)
        row = next(r for r in table_rows(session, dep, "v_assignment_handoffs") if r[0] == incident)
        assert (row[3], row[5]) == ("resolved", 2)  # status, assignments
        # An import of ServiceNow history (incidents with their assignments) refreshes them by incident too.
        imported = ws.import_("servicenow", write_servicenow(tmp_path / "incident_event_log.csv", 40, seed=5))
        assert imported.inserted == 40 and imported.assignment_rows > 0
        assert_tables_hold_the_views_rows(session, dep)
        handed = session.execute(f"SELECT COUNT(*) FROM {dep.fq('v_assignment_handoffs')} AS h JOIN "
                                 f"{dep.fq('incidents')} AS i ON i.incident_id = h.incident_id "
                                 f"WHERE i.source_key LIKE 'servicenow:%'")[1][0][0]
        assert handed > 0


# --------------------------------------------------------------------------- deploy: a view and its dynamic table

def _plain_views(project: Project) -> Project:
    return dataclasses.replace(project, views=tuple(dataclasses.replace(v, materialize=None) for v in project.views))


@pytest.fixture(scope="module")
def both() -> tuple[DesiredState, DesiredState]:
    """(desired with the shipped materialized views, desired with every view plain)."""
    project = load_project(REPO)
    env = environment(project, "dev")
    return desired_state(Deployment(project, env)), desired_state(Deployment(_plain_views(project), env))


def summary(steps: list[Step]) -> list[tuple[str, str, str, bool, bool]]:
    return [(s.object_kind, s.object, s.action, s.destructive, s.runs) for s in steps]


def steps_for(desired: DesiredState, live: LiveState, *, allow_destructive: bool = False) -> list[Step]:
    return plan(desired, live, diff(desired, live, SNOWFLAKE), allow_destructive=allow_destructive)


def test_materializing_a_view_of_ours_replaces_it_without_asking(both: tuple[DesiredState, DesiredState]) -> None:
    materialized, plain = both
    steps = steps_for(materialized, in_sync(plain))
    assert summary(steps) == [step for name in MATERIALIZED for step in (
        ("view", name.upper(), "drop", False, True), ("dynamic_table", name, "create", False, True))]
    assert steps[0].statements == ("DROP VIEW IF EXISTS INCIDENTS.CORE.V_REOPEN_RATE;",)
    assert steps[1].statements[0].startswith("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.V_REOPEN_RATE\n")


def test_dropping_materialize_puts_the_view_back_without_asking(both: tuple[DesiredState, DesiredState]) -> None:
    materialized, plain = both
    steps = steps_for(plain, in_sync(materialized))
    assert summary(steps) == [step for name in MATERIALIZED for step in (
        ("dynamic_table", name.upper(), "drop", False, True), ("view", name, "create", False, True))]
    assert steps[0].statements == ("DROP DYNAMIC TABLE IF EXISTS INCIDENTS.CORE.V_REOPEN_RATE;",)


def test_a_table_of_someone_else_in_the_way_is_dropped_only_when_allowed(
        both: tuple[DesiredState, DesiredState]) -> None:
    materialized, _ = both
    live = in_sync(materialized)
    live.extra["dynamic_table"].discard("V_REOPEN_RATE")
    del live.history[("dynamic_table", "V_REOPEN_RATE")]
    live.tables["V_REOPEN_RATE"] = LiveTable("V_REOPEN_RATE", {}, 12, None)
    refused = steps_for(materialized, live)
    assert summary(refused) == [("table", "V_REOPEN_RATE", "drop", True, False),
                                ("dynamic_table", "v_reopen_rate", "create", False, False)]
    allowed = steps_for(materialized, live, allow_destructive=True)
    assert [s.statements[0][:40] for s in allowed] == ["DROP TABLE IF EXISTS INCIDENTS.CORE.V_RE",
                                                       "CREATE OR REPLACE DYNAMIC TABLE INCIDENT"]


@pytest.mark.parametrize(("change", "detail"), [
    (lambda live: live.history.update({("dynamic_table", "V_TIME_IN_STATUS"): HistoryEntry("old", None)}),
     "dynamic table definition changed in templates/config"),
    (lambda live: live.history.pop(("dynamic_table", "V_TIME_IN_STATUS")),
     "dynamic table was not created by incidents deploy"),
    (lambda live: live.extra["dynamic_table"].discard("V_TIME_IN_STATUS"), "dynamic table does not exist"),
])
def test_a_dynamic_table_is_diffed_through_the_deploy_history(both: tuple[DesiredState, DesiredState],
                                                             change: Any, detail: str) -> None:
    materialized, _ = both
    live = in_sync(materialized)
    change(live)
    [found] = diff(materialized, live, SNOWFLAKE)
    assert (found.object_kind, found.object, found.detail, found.destructive) == (
        "dynamic_table", "v_time_in_status", detail, False)
    [step] = steps_for(materialized, live)
    assert step.statements[0].startswith("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.V_TIME_IN_STATUS")


@pytest.mark.parametrize("caps", [FAKESNOW, SNOWFLAKE], ids=["fakesnow", "snowflake"])
def test_in_sync_plans_nothing(both: tuple[DesiredState, DesiredState], caps: Any) -> None:
    materialized, _ = both
    live = in_sync(materialized)
    assert diff(materialized, live, caps) == []
    assert plan(materialized, live, []) == []


def test_a_stray_dynamic_table_is_dropped_only_when_allowed(both: tuple[DesiredState, DesiredState]) -> None:
    materialized, _ = both
    live = in_sync(materialized)
    live.extra["dynamic_table"].add("HAND_MADE")
    [step] = steps_for(materialized, live)
    assert summary([step]) == [("dynamic_table", "HAND_MADE", "drop", True, False)]
    [step] = steps_for(materialized, live, allow_destructive=True)
    assert step.statements == ("DROP DYNAMIC TABLE IF EXISTS INCIDENTS.CORE.HAND_MADE;",)


@pytest.mark.slow
def test_deploy_switches_a_view_to_its_dynamic_table_and_back(target: str, deployed_copy: Any,
                                                              runner: CliRunner) -> None:
    """End to end, on both targets: a warehouse deployed with plain views, then with the shipped config,
    then plain again; each deploy needs no flag and leaves nothing to diff; the reader role reads it."""
    root = deployed_copy("plain-views", prepare=_strip_materialize)
    args = ["--project-dir", str(root)]
    views_yml = root / "config" / "views.yml"
    plain = views_yml.read_text(encoding="utf-8")
    assert runner.invoke(app, ["seed", "-n", "300", "--end", "2026-11-30", "-q", *args]).exit_code == 0
    views_yml.write_text((REPO / "config" / "views.yml").read_text(encoding="utf-8"), encoding="utf-8")
    for expected in ("dynamic_table", "view"):
        deployed = runner.invoke(app, ["deploy", "--format", "json", *args])
        assert deployed.exit_code == 0, deployed.output
        steps = json.loads(deployed.stdout)["steps"]
        assert {s["object_kind"] for s in steps if s["action"] == "create"} >= {expected}
        assert runner.invoke(app, ["diff", *args]).exit_code == 0
        with incidents.Workspace.open(root) as ws:
            if expected == "dynamic_table":
                refresh(ws.session, ws.dep)
            if target == "snowflake-rules":
                ws.session.execute("USE ROLE INCIDENTS_DEV_READER")
            counted = ws.session.query("SELECT COUNT(*) AS n FROM v_assignment_handoffs")[0]["N"]
            assert counted > 0
        views_yml.write_text(plain, encoding="utf-8")


def _strip_materialize(root: Path) -> None:
    path = root / "config" / "views.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for view in data["views"]:
        view.pop("materialize", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


# --------------------------------------------------------------------------- Snowflake's syntax, offline and emulated

def test_the_rendered_statement_follows_snowflakes_syntax(both: tuple[DesiredState, DesiredState]) -> None:
    materialized, _ = both
    kind = DynamicTables()
    for obj in materialized.of("dynamic_table"):
        assert kind.check_statement(obj.statements[0], "test")
        kind.check_object(obj, [])


@pytest.mark.parametrize(("statement", "wrong"), [
    ("CREATE OR REPLACE DYNAMIC TABLE d.s.t WAREHOUSE = wh TARGET_LAG = '1 hour' AS SELECT 1 AS x", "order"),
    ("CREATE OR REPLACE DYNAMIC TABLE d.s.t TARGET_LAG = '1 hour' AS SELECT 1 AS x", "no warehouse"),
    ("CREATE OR REPLACE DYNAMIC TABLE d.s.t TARGET_LAG = 'hourly' WAREHOUSE = wh AS SELECT 1 AS x", "lag"),
    ("CREATE OR REPLACE DYNAMIC TABLE d.s.t TARGET_LAG = '1 hour' WAREHOUSE = wh REFRESH_MODE = LAZY AS SELECT 1",
     "mode"),
])
def test_a_statement_out_of_snowflakes_syntax_is_refused_offline(statement: str, wrong: str) -> None:
    with pytest.raises(ConfigError, match="does not follow Snowflake's syntax"):
        DynamicTables().check_statement(statement, f"test ({wrong})")


def test_a_query_that_does_not_parse_is_refused_offline() -> None:
    with pytest.raises(ConfigError, match="Snowflake SQL"):
        DynamicTables().check_statement("CREATE OR REPLACE DYNAMIC TABLE d.s.t TARGET_LAG = '1 hour' WAREHOUSE = wh "
                                        "AS SELECT ) FROM", "test")


def test_the_local_target_runs_the_same_select_as_a_plain_table() -> None:
    sql = ("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.V_X\n(\n    A COMMENT 'it''s (a) -- not AS x',\n    B\n)\n"
           "TARGET_LAG = '1 hour'\nWAREHOUSE = WH\nREFRESH_MODE = FULL\nCOMMENT = 'c'\nCOPY GRANTS\nAS\n"
           "SELECT 'AS' AS a, 2 AS b\n;")
    assert as_plain_table(sql) == "CREATE OR REPLACE TABLE INCIDENTS.CORE.V_X AS\nSELECT 'AS' AS a, 2 AS b"
    dropped = "DROP TABLE IF EXISTS INCIDENTS.CORE.V_X"
    assert as_plain_table("DROP DYNAMIC TABLE IF EXISTS INCIDENTS.CORE.V_X;") == dropped
    assert as_plain_table("SELECT 1") == "SELECT 1"


@pytest.mark.parametrize(("statement", "error"), [
    ("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.T TARGET_LAG = '1 hour' WAREHOUSE = WH "
     "REFRESH_MODE = INCREMENTAL AS SELECT SYSDATE() AS now_", "non-deterministic function SYSDATE"),
    ("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.T TARGET_LAG = '30 seconds' WAREHOUSE = WH AS SELECT 1 AS x",
     "at least 1 minute"),
    ("CREATE OR REPLACE DYNAMIC TABLE INCIDENTS.CORE.T WAREHOUSE = WH TARGET_LAG = '1 hour' AS SELECT 1 AS x",
     "syntax error"),
])
def test_the_snowflake_rules_target_refuses_what_snowflake_refuses(statement: str, error: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from incidents.errors import TargetError
    from incidents.targets.local import open_local

    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    project = load_project(REPO)
    session = open_local(tmp_path, environment(project, "dev"), in_memory=True)
    try:
        with pytest.raises(TargetError, match=error):
            session.execute(statement)
    finally:
        session.close()


def test_snowflake_refreshes_its_dynamic_tables_itself() -> None:
    """On a Snowflake session the refresh sends nothing (the connection would fail the test if used)."""
    class Unusable:
        def cursor(self) -> Any:
            raise AssertionError("the refresh sent a statement to Snowflake")

    session = Session(Unusable(), "snowflake", emulated=False, access_control=True)
    project = load_project(REPO)
    assert refresh(session, dep_of(environment(project, "prod"), project)) == {}
    assert session.trace == []




@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_deploy_cut_off_before_recording_its_dynamic_tables_finishes_next_time(deployed_copy: Any,
                                                                                runner: CliRunner) -> None:
    """The local stand-in table is made, the kill comes before its history row: the next deploy knows the
    table by its name and columns and replaces it, with no flag (it was refused as "a table in the way")."""
    root = deployed_copy("matview-cut", after=(
        "DELETE FROM INCIDENTS.CORE.INCIDENTS_DEPLOY_HISTORY WHERE OBJECT_KIND = 'dynamic_table'",))
    args = ["--project-dir", str(root)]
    deployed = runner.invoke(app, ["deploy", *args])
    assert deployed.exit_code == 0, deployed.output
    assert "refused" not in deployed.output and "in the way" not in deployed.output
    assert runner.invoke(app, ["diff", *args]).exit_code == 0
