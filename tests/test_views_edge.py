"""Analytics views on degenerate data: an empty warehouse, only open incidents, and rows that break
the keys Snowflake does not enforce (loaded into an unconstrained copy of the schema)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator

import pytest

import views_dataset as vd
from incidents.engine.desired import desired_state
from incidents.project.config import load_project
from incidents.project.deployment import Deployment
from incidents.sql.session import Session
from views_dataset import REPO, checked, deploy_target, fq, select, utcnow

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, object]]:
    session, _, env = deploy_target(tmp_path_factory.mktemp("empty"))
    yield session, env
    session.close()


def test_every_view_selects_on_an_empty_warehouse(empty: tuple[Session, object]) -> None:
    session, env = empty
    counts = {v.name: len(select(session, env, v.name)) for v in load_project(REPO).views}
    assert counts.pop("v_incident_heatmap") == 168
    assert counts.pop("v_open_incident_aging") == 4  # one row per sla_policies priority
    assert counts.pop("v_system_health_overview") == 1
    # Deploy added the category tree (config's reference rows): one row per category, with zero incidents.
    assert [counts.pop(v) for v in ("v_category_tree", "v_category_performance", "v_category_rollup")] == [54] * 3
    assert {name: n for name, n in counts.items() if n} == {}


def test_empty_aggregates_are_zero_or_null(empty: tuple[Session, object]) -> None:
    session, env = empty
    (health,) = select(session, env, "v_system_health_overview")
    assert health["total_incidents"] == 0 and health["open_incidents"] == 0
    assert health["mttr_last_30d_minutes"] is None and health["as_of"] is None
    assert health["health_status"] == "green" and health["open_revenue_at_risk"] == 0
    aging = select(session, env, "v_open_incident_aging")
    assert {r["priority"] for r in aging} == set(vd.PRIORITIES)
    assert all(r["open_incidents"] == 0 and r["oldest_age_minutes"] is None for r in aging)
    assert all(r["incidents"] == 0 and r["share_of_incidents_pct"] is None
               for r in select(session, env, "v_incident_heatmap"))


@pytest.fixture(scope="module")
def only_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, object, vd.Dataset]]:
    session, _, env = deploy_target(tmp_path_factory.mktemp("open"))
    data = vd.build(utcnow())
    data.incidents = [i for i in data.incidents if i["status"] in vd.OPEN and i["parent_incident_id"] is None]
    keep = {i["incident_id"] for i in data.incidents}
    data.status_history = [h for h in data.status_history if h["incident_id"] in keep]
    data.assignments = [a for a in data.assignments if a["incident_id"] in keep]
    data.solutions = []
    vd.load(session, data, env.database, env.schema)
    yield session, env, data
    session.close()


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_only_open_incidents(only_open: tuple[Session, object, vd.Dataset]) -> None:
    session, env, data = only_open
    teams = select(session, env, "v_team_performance")
    assert teams and all(t["resolved_incidents"] == 0 and t["mttr_minutes"] is None for t in teams)
    assert all(t["resolution_rate_percentage"] == 0 for t in teams)  # 0 resolved of > 0 live incidents
    assert all(m["mttr_minutes"] is None for m in select(session, env, "v_monthly_incident_trends"))
    assert sum(r["open_incidents"] for r in select(session, env, "v_open_incident_aging")) == len(data.incidents)
    assert len(select(session, env, "v_active_incidents_dashboard")) == len(data.incidents)
    assert not [r for r in select(session, env, "v_duration_distribution") if r["metric"] == "resolve"]
    assert all(r["mttr_minutes"] is None and r["revenue_weighted_mttr_minutes"] is None
               for r in select(session, env, "v_revenue_weighted_mttr"))
    # Every incident is open now, so each one that was ever resolved has been reopened since.
    reopen = select(session, env, "v_reopen_rate")
    assert {r["priority"] for r in reopen} == {i["priority"] for i in data.incidents}
    for r in reopen:
        if r["ever_resolved_incidents"] == 0:
            assert r["reopen_rate_pct"] is None, r
        else:
            assert r["reopen_rate_pct"] == 100 and r["reopened_still_open"] == r["reopened_incidents"], r


# --------------------------------------------------------------------------- broken keys

@pytest.fixture(scope="module")
def unconstrained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, object]]:
    """Tables without PK/UK/FK (as Snowflake behaves), views rendered from the real config."""
    project = load_project(REPO)
    loose = dataclasses.replace(project, views=(), tables=tuple(
        dataclasses.replace(t, primary_key=(), unique_keys=(), foreign_keys=()) for t in project.tables))
    session, _, env = deploy_target(tmp_path_factory.mktemp("loose"), loose)
    for rendered in desired_state(Deployment(project, env)).of("view"):
        session.execute(rendered.text)
    # The materialized views as plain views of the same definition: the rows these tests insert one by one
    # are read at once (test_materialized checks that the refreshed tables hold the same rows).
    dep = Deployment(project, env)
    for view in (v for v in project.views if v.materialize):
        session.execute(dep.render("schema/view.sql.j2", view=view, body=dep.render(view.template, view=view)))
    yield session, env
    session.close()


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_data_quality_reports_broken_keys(unconstrained: tuple[Session, object]) -> None:
    session, env = unconstrained
    t0 = dt.datetime(2024, 5, 1, 12)
    session.execute(f"INSERT INTO {fq(env, 'users')} (user_id, email, full_name, role) VALUES "
                    "(1, 'a@x', 'A', 'engineer'), (2, 'a@x', 'B', 'wizard')")
    session.execute(f"DELETE FROM {fq(env, 'incident_categories')}")  # the test's own tree, not deploy's
    session.execute(f"INSERT INTO {fq(env, 'incident_categories')} (category_id, parent_category_id, code, name) "
                    "VALUES (1, NULL, 'ROOT', 'Root'), (50, 51, 'LOOP.A', 'A'), (51, 50, 'LOOP.B', 'B')")
    insert = (f"INSERT INTO {fq(env, 'incidents')} (incident_id, incident_number, title, category_id, status, "
              "priority, severity, impact_level, source, reporter_id, assignee_id, created_at, resolved_at) "
              "VALUES (%s, %s, 't', %s, %s, 'high', 'SEV2', 'major', 'internal', 1, %s, %s, %s)")
    for row in [(10, "INC-10", 1, "resolved", 1, t0, t0 + dt.timedelta(hours=1)),
                (10, "INC-10b", 1, "new", None, t0, None),          # duplicate incident_id
                (11, "INC-11", 999, "bogus", 77, t0, None)]:         # orphan category + assignee, bad status
        session.execute(insert, row)
    session.execute(f"INSERT INTO {fq(env, 'incident_status_history')} (status_history_id, incident_id, "
                    "previous_status, new_status, changed_by, changed_at) VALUES "
                    "(1, 12, NULL, 'new', 1, '2024-05-01 12:00:00')")  # orphan incident
    found = {(r["check_name"], r["table_name"], r["column_name"], r["record_key"])
             for r in checked(session, env)}
    assert found == {
        ("duplicate_key", "users", "email", hashlib.sha256(b"a@x").hexdigest()),  # a PII key: never in clear
        ("invalid_value", "users", "role", "2"),
        ("duplicate_key", "incidents", "incident_id", "10"),
        ("orphan_reference", "incidents", "category_id", "11"),
        ("orphan_reference", "incidents", "assignee_id", "11"),
        ("invalid_value", "incidents", "status", "11"),
        ("unreachable_category", "incident_categories", "parent_category_id", "50"),
        ("unreachable_category", "incident_categories", "parent_category_id", "51"),
        ("orphan_reference", "incident_status_history", "incident_id", "1"),
    }, found


def test_time_in_status_counts_incidents_outside_the_lifecycle_and_repeats(
        unconstrained: tuple[Session, object]) -> None:
    """v_time_in_status counts distinct incidents without COUNT(DISTINCT) for lifecycle statuses; check it
    against one on a revisited status, a status outside the lifecycle and an incident_id held by two rows."""
    session, env = unconstrained
    t0 = dt.datetime(2024, 6, 1, 8)
    incidents = [(100, "high"), (101, "low"), (102, "high"), (102, "low")]  # 102 twice: no PK on Snowflake
    history = {100: ["new", "investigating", "resolved", "investigating", "resolved"],
               101: ["new", "bogus", "bogus", "closed"], 102: ["new", "acknowledged"]}
    rows, sid = [], 1000
    for iid, statuses in history.items():
        for k, status in enumerate(statuses):
            sid += 1
            rows.append((sid, iid, status, t0 + dt.timedelta(minutes=10 * k * k + iid)))
    try:
        for iid, priority in incidents:
            session.execute(f"INSERT INTO {fq(env, 'incidents')} (incident_id, incident_number, title, category_id, "
                            "status, priority, severity, impact_level, source, reporter_id, created_at) VALUES "
                            "(%s, %s, 't', 1, 'new', %s, 'SEV3', 'minor', 'internal', 1, %s)",
                            (iid, f"INC-{iid}-{priority}", priority, t0))
        for row in rows:
            session.execute(f"INSERT INTO {fq(env, 'incident_status_history')} (status_history_id, incident_id, "
                            "new_status, changed_by, changed_at) VALUES (%s, %s, %s, 1, %s)", row)
        # Every incidents row with the id joins the stays (the view's inner join), as on Snowflake.
        ordered = {iid: [r for r in rows if r[1] == iid] for iid in history}
        stays = [(a[2], priority, iid, (b[3] - a[3]).total_seconds() / 60)
                 for iid, priority in incidents for a, b in itertools.pairwise(ordered[iid])]
        expected = {}
        for status, priority, iid, minutes in stays:
            e = expected.setdefault((status, priority), {"stays": 0, "ids": set(), "total": 0.0})
            e["stays"] += 1
            e["ids"].add(iid)
            e["total"] += minutes
        got = {(r["status"], r["priority"]): (r["stays"], r["incidents"], float(r["total_minutes"]))
               for r in select(session, env, "v_time_in_status")}
        assert got == {k: (e["stays"], len(e["ids"]), round(e["total"], 2)) for k, e in expected.items()}
        assert got[("investigating", "high")][:2] == (2, 1) and got[("bogus", "low")][:2] == (2, 1)
    finally:
        session.execute(f"DELETE FROM {fq(env, 'incident_status_history')} WHERE status_history_id > 1000")
        session.execute(f"DELETE FROM {fq(env, 'incidents')} WHERE incident_id >= 100")


def test_time_in_status_orders_ties_by_status_history_id(unconstrained: tuple[Session, object]) -> None:
    """Rows of one incident with the same changed_at are ordered by status_history_id (the view carries the
    status inside that sort key); a status outside the lifecycle keeps its text. Checked against the plain
    LEAD query."""
    session, env = unconstrained
    t0 = dt.datetime(2024, 7, 1, 8)
    rows = [(2005, 200, "investigating", t0), (2001, 200, "new", t0), (2003, 200, "weird", t0),
            (2004, 200, "acknowledged", t0 + dt.timedelta(minutes=7)),
            (2002, 200, "resolved", t0 + dt.timedelta(minutes=19))]
    reference = f"""
        SELECT s.status, i.priority, COUNT(*) AS stays, COUNT(DISTINCT s.incident_id) AS incidents,
               ROUND(SUM(DATEDIFF('second', s.changed_at, s.left_at) / 60), 2) AS total_minutes
        FROM (SELECT incident_id, new_status AS status, changed_at,
                     LEAD(changed_at) OVER (PARTITION BY incident_id ORDER BY changed_at, status_history_id) AS left_at
              FROM {fq(env, 'incident_status_history')}) AS s
        JOIN {fq(env, 'incidents')} AS i ON i.incident_id = s.incident_id
        WHERE s.left_at IS NOT NULL
        GROUP BY s.status, i.priority"""
    try:
        session.execute(f"INSERT INTO {fq(env, 'incidents')} (incident_id, incident_number, title, category_id, "
                        "status, priority, severity, impact_level, source, reporter_id, created_at) VALUES "
                        "(200, 'INC-200', 't', 1, 'new', 'medium', 'SEV3', 'minor', 'internal', 1, %s)", (t0,))
        for row in rows:
            session.execute(f"INSERT INTO {fq(env, 'incident_status_history')} (status_history_id, incident_id, "
                            "new_status, changed_by, changed_at) VALUES (%s, %s, %s, 1, %s)", row)
        got = {(r["status"], r["priority"]): (r["stays"], r["incidents"], float(r["total_minutes"]))
               for r in select(session, env, "v_time_in_status")}
        expected = {(r[0], r[1]): (r[2], r[3], float(r[4])) for r in session.execute(reference)[1]}
        assert got == expected
        # 2001 new -> 2003 weird -> 2005 investigating (all at t0) -> 2004 acknowledged -> 2002 resolved
        assert got[("new", "medium")][2] == 0 and got[("weird", "medium")][:2] == (1, 1)
        assert got[("investigating", "medium")][2] == 7 and got[("acknowledged", "medium")][2] == 12
    finally:
        session.execute(f"DELETE FROM {fq(env, 'incident_status_history')} WHERE status_history_id >= 2001")
        session.execute(f"DELETE FROM {fq(env, 'incidents')} WHERE incident_id = 200")
