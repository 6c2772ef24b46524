"""Coherence, key integrity and realism of seeded data, checked with SQL on the loaded tables.

Keys are checked by query, not left to fakesnow's enforcement: Snowflake does not enforce them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from incidents.config import environment, load_project
from incidents.models import Project
from incidents.seed import SeedOptions, seed
from incidents.seed.load import SEED_TABLES
from incidents.session import Session

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2025, 12, 31)
AS_OF = "'2026-01-01 00:00:00'::TIMESTAMP_NTZ"
OPEN = tuple(load_project(Path(__file__).resolve().parents[1]).lifecycle.open)  # project.yml `lifecycle:`
LIFECYCLE = ("detected_at", "created_at", "acknowledged_at", "first_response_at", "mitigated_at", "resolved_at",
             "closed_at")


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, project: Project,
       deploy_schema: Callable[..., Session]) -> Iterator[Session]:
    env = environment(project, "dev")
    session = deploy_schema(tmp_path_factory.mktemp("seeded"), project, env)
    seed(session, project, env, SeedOptions(incidents=3000, random_seed=11, end=END))
    yield session
    session.close()


def scalar(db: Session, sql: str) -> object:
    _, rows = db.execute(sql)
    return rows[0][0]


def violations(db: Session, where: str, table: str = "incidents") -> int:
    return int(scalar(db, f"SELECT COUNT(*) FROM {table} WHERE {where}"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- keys


def key_checks(project: Project, rename: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """One COUNT query per declared key; `rename` points a table at a copy (for the can-fail test)."""
    def name_of(table: str) -> str:
        return (rename or {}).get(table, table)

    checks = []
    for name in SEED_TABLES:
        table = project.table(name)
        assert table is not None
        for key in (table.primary_key, *table.unique_keys):
            cols = ", ".join(key)
            present = " AND ".join(f"{col} IS NOT NULL" for col in key)  # NULLs are distinct (users.user_key)
            checks.append((f"{name} unique ({cols})", f"SELECT COUNT(*) FROM (SELECT {cols} FROM {name_of(name)} "
                                                      f"WHERE {present} GROUP BY {cols} HAVING COUNT(*) > 1)"))
        for fk in table.foreign_keys:
            join = " AND ".join(f"p.{r} = c.{col}" for col, r in zip(fk.columns, fk.ref_columns, strict=True))
            present = " AND ".join(f"c.{col} IS NOT NULL" for col in fk.columns)
            checks.append((f"{name}.{'/'.join(fk.columns)} -> {fk.ref_table}",
                           f"SELECT COUNT(*) FROM {name_of(name)} c LEFT JOIN {name_of(fk.ref_table)} p ON {join} "
                           f"WHERE {present} AND p.{fk.ref_columns[0]} IS NULL"))
    return checks


def test_no_duplicate_keys_and_no_orphans(db: Session, project: Project) -> None:
    checks = key_checks(project)
    assert len(checks) > 20
    bad = {label: n for label, sql in checks if (n := scalar(db, sql))}
    assert bad == {}


def test_key_checks_can_fail(db: Session, project: Project) -> None:
    """The same checks find a duplicate key and a dangling reference, on a copy of incident_comments (so
    the shared seeded database stays clean)."""
    db.execute("CREATE TEMPORARY TABLE probe_comments AS SELECT * FROM incident_comments")
    try:
        db.execute("INSERT INTO probe_comments SELECT * FROM incident_comments ORDER BY comment_id LIMIT 1")
        db.execute("UPDATE probe_comments SET incident_id = -1 WHERE comment_id = "
                   "(SELECT MAX(comment_id) FROM incident_comments)")
        checks = key_checks(project, rename={"incident_comments": "probe_comments"})
        bad = {label: n for label, sql in checks if (n := scalar(db, sql))}
    finally:
        db.execute("DROP TABLE probe_comments")
    assert bad == {"incident_comments unique (comment_id)": 1, "incident_comments.incident_id -> incidents": 1}


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_timestamps_are_ordered_and_never_after_as_of(db: Session) -> None:
    for before, after in itertools.combinations(LIFECYCLE, 2):
        assert violations(db, f"{before} > {after}") == 0, (before, after)
    for column in (*LIFECYCLE, "updated_at"):
        assert violations(db, f"{column} > {AS_OF}") == 0, column
    assert violations(db, "updated_at < created_at") == 0
    for table, column in (("incident_status_history", "changed_at"), ("incident_assignment_history", "assigned_at"),
                          ("incident_comments", "created_at"), ("incident_comments", "edited_at"),
                          ("incident_attachments", "uploaded_at"), ("incident_solutions", "applied_at")):
        assert violations(db, f"{column} > {AS_OF}", table) == 0, (table, column)


def test_timestamps_match_the_status_of_the_incident(db: Session) -> None:
    closed_like = "('closed', 'cancelled', 'duplicate')"
    assert violations(db, "(resolved_at IS NOT NULL) <> (status IN ('resolved', 'closed'))") == 0
    assert violations(db, f"(closed_at IS NOT NULL) <> (status IN {closed_like})") == 0
    assert violations(db, "status <> 'new' AND status <> 'duplicate' AND acknowledged_at IS NULL") == 0
    assert violations(db, "status = 'new' AND (acknowledged_at IS NOT NULL OR assignee_id IS NOT NULL)") == 0
    assert violations(db, "status IN ('resolved', 'closed') AND (root_cause_category IS NULL "
                          "OR resolution_code IS NULL)") == 0
    assert violations(db, "status = 'duplicate' AND (parent_incident_id IS NULL OR resolution_code <> 'duplicate')"
                      ) == 0


def test_open_incidents_exist_at_every_stage_plus_cancelled_duplicate_and_reopened(db: Session) -> None:
    by_status = {r["STATUS"]: r["N"] for r in db.query("SELECT status, COUNT(*) AS n FROM incidents GROUP BY 1")}
    for status in (*OPEN, "resolved", "closed", "cancelled", "duplicate"):
        assert by_status.get(status, 0) > 0, status
    assert violations(db, "reopen_count > 0") > 0
    # some open incidents are old, not only the last days' arrivals
    assert violations(db, f"status IN {OPEN} AND created_at < DATEADD(day, -30, {AS_OF})") > 0


# --------------------------------------------------------------------------- replay


STATUS_REPLAY = """
WITH h AS (
    SELECT incident_id, new_status, previous_status, changed_at,
           LAG(new_status) OVER (PARTITION BY incident_id ORDER BY changed_at, status_history_id) AS lagged,
           ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY changed_at DESC, status_history_id DESC) AS rn
    FROM incident_status_history
), replay AS (
    SELECT incident_id,
           MAX(CASE WHEN rn = 1 THEN new_status END) AS last_status,
           COUNT_IF(previous_status IN ('resolved', 'closed')
                    AND new_status NOT IN ('resolved', 'closed', 'cancelled', 'duplicate')) AS reopens,
           COUNT_IF(NOT EQUAL_NULL(previous_status, lagged)) AS broken_links,
           COUNT_IF(lagged IS NULL AND new_status <> 'new') AS bad_first,
           MIN(CASE WHEN new_status = 'acknowledged' THEN changed_at END) AS acked,
           MIN(CASE WHEN new_status = 'investigating' THEN changed_at END) AS responded,
           MAX(CASE WHEN new_status IN ('closed', 'cancelled', 'duplicate') THEN changed_at END) AS closed,
           MIN(CASE WHEN new_status = 'new' THEN changed_at END) AS created
    FROM h GROUP BY incident_id
)
SELECT COUNT(*) FROM incidents i LEFT JOIN replay r ON r.incident_id = i.incident_id
WHERE r.incident_id IS NULL OR r.last_status <> i.status OR r.reopens <> i.reopen_count OR r.broken_links > 0
   OR r.bad_first > 0 OR NOT EQUAL_NULL(r.acked, i.acknowledged_at) OR NOT EQUAL_NULL(r.responded, i.first_response_at)
   OR NOT EQUAL_NULL(r.closed, i.closed_at) OR r.created <> i.created_at
"""

ASSIGNMENT_REPLAY = """
WITH h AS (
    SELECT a.*, ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY assigned_at DESC, assignment_id DESC) AS rn,
           LAG(new_assignee_id) OVER (PARTITION BY incident_id ORDER BY assigned_at, assignment_id) AS lagged
    FROM incident_assignment_history a
), replay AS (
    SELECT incident_id,
           MAX(CASE WHEN rn = 1 THEN new_assignee_id END) AS assignee,
           MAX(CASE WHEN rn = 1 THEN new_team END) AS team,
           COUNT_IF(previous_assignee_id IS NOT NULL AND previous_assignee_id <> new_assignee_id) AS reassignments,
           COUNT_IF(assignment_reason LIKE 'Escalated to level%') AS escalations,
           COUNT_IF(NOT EQUAL_NULL(previous_assignee_id, lagged)) AS broken_links
    FROM h GROUP BY incident_id
)
SELECT COUNT(*) FROM incidents i LEFT JOIN replay r ON r.incident_id = i.incident_id
WHERE NOT EQUAL_NULL(r.assignee, i.assignee_id) OR NOT EQUAL_NULL(r.team, i.assigned_team)
   OR COALESCE(r.reassignments, 0) <> i.reassignment_count OR COALESCE(r.escalations, 0) <> i.escalation_level
   OR i.is_escalated <> (i.escalation_level > 0) OR COALESCE(r.broken_links, 0) > 0
"""


def test_status_history_replays_to_the_incident(db: Session) -> None:
    assert scalar(db, STATUS_REPLAY) == 0


def test_assignment_history_replays_to_assignee_reassignments_and_escalation(db: Session) -> None:
    assert scalar(db, ASSIGNMENT_REPLAY) == 0
    assert violations(db, "reassignment_count > 0") > 0
    assert {r["L"] for r in db.query("SELECT DISTINCT escalation_level AS l FROM incidents")} >= {0, 1, 2}


def test_replay_check_detects_a_tampered_incident(db: Session) -> None:
    db.execute("UPDATE incidents SET status = 'new' WHERE incident_id = (SELECT MIN(incident_id) FROM incidents "
               "WHERE status = 'closed')")
    try:
        assert scalar(db, STATUS_REPLAY) == 1
    finally:
        db.execute("UPDATE incidents SET status = 'closed' WHERE status = 'new' AND closed_at IS NOT NULL")
    assert scalar(db, STATUS_REPLAY) == 0


def test_duplicates_point_to_an_earlier_original_of_the_same_category(db: Session) -> None:
    sql = """SELECT COUNT(*) FROM incidents d JOIN incidents p ON p.incident_id = d.parent_incident_id
             WHERE p.parent_incident_id IS NOT NULL OR p.category_id <> d.category_id OR p.created_at > d.created_at"""
    assert scalar(db, sql) == 0
    assert violations(db, "parent_incident_id IS NOT NULL AND status <> 'duplicate'") == 0


# --------------------------------------------------------------------------- realism


def test_lower_priority_takes_longer_and_costs_less(db: Session) -> None:
    rows = {r["PRIORITY"]: r for r in db.query(
        "SELECT priority, MEDIAN(DATEDIFF(minute, created_at, resolved_at)) AS minutes, "
        "AVG(revenue_impact) AS revenue FROM incidents WHERE resolved_at IS NOT NULL GROUP BY 1")}
    assert rows["critical"]["MINUTES"] < rows["high"]["MINUTES"] < rows["medium"]["MINUTES"] < rows["low"]["MINUTES"]
    assert rows["critical"]["REVENUE"] > rows["medium"]["REVENUE"] > rows["low"]["REVENUE"]


def test_categories_differ_in_mix_and_cost(db: Session) -> None:
    tops = {r["CODE"]: r for r in db.query(
        "SELECT p.code, COUNT(*) AS n, AVG(i.revenue_impact) AS revenue, "
        "COUNT_IF(i.priority = 'critical') / COUNT(*) AS critical_share "
        "FROM incidents i JOIN incident_categories c ON c.category_id = i.category_id "
        "JOIN incident_categories p ON p.category_id = COALESCE(c.parent_category_id, c.category_id) GROUP BY 1")}
    assert len(tops) == 10
    assert tops["SYSTEM_OUTAGE"]["CRITICAL_SHARE"] > 3 * tops["MOBILE"]["CRITICAL_SHARE"]
    leaves = {r["CODE"]: r for r in db.query(
        "SELECT c.code, COUNT(*) AS n, AVG(i.revenue_impact) AS revenue FROM incidents i "
        "JOIN incident_categories c ON c.category_id = i.category_id GROUP BY 1")}
    glitch, payment = leaves["MOBILE.UI_GLITCH"], leaves["PAYMENT.GATEWAY_TIMEOUT"]
    # payment outages are rarer and far costlier than UI glitches
    assert payment["N"] < glitch["N"]
    assert payment["REVENUE"] > 20 * glitch["REVENUE"]
    assert tops["PAYMENT"]["REVENUE"] > 3 * tops["MOBILE"]["REVENUE"]


def test_seasonality_weekday_deploys_and_sources(db: Session) -> None:
    daily = db.query(
        "SELECT AVG(IFF(created_at::DATE BETWEEN '2025-11-27' AND '2025-12-02', 1, 0)) * 365 / 6 AS cyber_ratio "
        "FROM incidents")[0]["CYBER_RATIO"]
    assert daily > 1.5  # cyber week has well over 1.5x the average daily volume
    deploys = db.query(
        "SELECT COUNT_IF(root_cause_category = 'deployment' AND DAYOFWEEKISO(created_at) <= 5) AS weekday, "
        "COUNT_IF(root_cause_category = 'deployment' AND DAYOFWEEKISO(created_at) > 5) AS weekend FROM incidents")[0]
    assert deploys["WEEKDAY"] > 8 * max(deploys["WEEKEND"], 1)
    sources = {r["SOURCE"] for r in db.query("SELECT DISTINCT source FROM incidents")}
    assert {"monitoring", "customer_report", "internal", "partner", "automated"} <= sources


def test_teams_and_templates_differ(db: Session) -> None:
    teams = [r["M"] for r in db.query(
        "SELECT assigned_team, MEDIAN(DATEDIFF(minute, acknowledged_at, resolved_at)) AS m FROM incidents "
        "WHERE resolved_at IS NOT NULL AND priority = 'medium' GROUP BY 1 HAVING COUNT(*) > 30")]
    assert len(teams) >= 5 and max(teams) > 1.4 * min(teams)
    rates = [r["R"] for r in db.query(
        "SELECT AVG(IFF(was_successful, 1, 0)) AS r FROM incident_solutions WHERE was_successful IS NOT NULL "
        "GROUP BY solution_id HAVING COUNT(*) >= 20")]
    assert len(rates) >= 5 and max(rates) - min(rates) > 0.3
    usage = scalar(db, "SELECT COUNT(*) FROM solution_templates t WHERE usage_count <> "
                       "(SELECT COUNT(*) FROM incident_solutions s WHERE s.solution_id = t.solution_id)")
    assert usage == 0


def test_json_columns_hold_real_variant_values(db: Session) -> None:
    row = db.query("SELECT metadata:region::VARCHAR AS region, ARRAY_SIZE(tags) AS tags, "
                   "ARRAY_SIZE(affected_services) AS services FROM incidents WHERE incident_id = 1")[0]
    assert row["REGION"] and row["TAGS"] >= 2 and row["SERVICES"] >= 1
    steps = scalar(db, "SELECT MIN(ARRAY_SIZE(steps)) FROM solution_templates")
    assert steps >= 2  # type: ignore[operator]
