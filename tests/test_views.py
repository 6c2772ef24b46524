"""Analytics views: deployed on a local target, loaded with a known dataset, and checked view by view
against an independent Python computation of the definitions in config/views.yml."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

import views_dataset as vd
from incidents.engine.desired import desired_state
from incidents.kinds.view import DOCS_FILE, render_docs
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment
from incidents.sql.session import Session
from views_dataset import REPO, deploy_target, fq, select, utcnow

SPEC_VIEWS = ("v_incident_overview", "v_sla_performance", "v_team_performance", "v_monthly_incident_trends",
              "v_weekly_incident_trends", "v_high_impact_incidents", "v_revenue_impact_by_category",
              "v_incident_sources", "v_escalation_patterns", "v_solution_effectiveness",
              "v_active_incidents_dashboard", "v_system_health_overview", "v_category_performance")
TOL = 0.011  # averages of per-incident minutes rounded to 2 decimals, then rounded again
AGE_TOL = 2.0  # minutes between building the expectation and the query's SYSDATE()
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")


def assert_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]], key: tuple[str, ...],
                tol: float = TOL, loose: dict[str, float] | None = None) -> None:
    """Same keys, and for every expected column the same value (numbers within tol)."""
    by_key = {tuple(r[k] for k in key): r for r in actual}
    assert len(by_key) == len(actual), f"duplicate keys {key} in the view"
    exp_keys = {tuple(r[k] for k in key) for r in expected}
    assert set(by_key) == exp_keys, (sorted(set(by_key) - exp_keys, key=str), sorted(exp_keys - set(by_key), key=str))
    for row in expected:
        got = by_key[tuple(row[k] for k in key)]
        for col, want in row.items():
            assert col in got, f"column {col} missing from the view"
            _same(got[col], want, tol=(loose or {}).get(col, tol), where=f"{key}={[row[k] for k in key]} {col}")


def _same(got: Any, want: Any, *, tol: float, where: str) -> None:
    if want is None or got is None:
        assert got is None and want is None, f"{where}: got {got!r}, want {want!r}"
    elif isinstance(want, bool) or isinstance(got, bool):
        assert bool(got) == want and isinstance(got, bool), f"{where}: got {got!r}, want {want!r}"
    elif isinstance(want, (int, float, decimal.Decimal)):
        assert abs(float(got) - float(want)) <= tol, f"{where}: got {got!r}, want {want!r}"
    else:
        assert got == want, f"{where}: got {got!r}, want {want!r}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, Environment, vd.Dataset]]:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    session, _project, env = deploy_target(tmp_path_factory.mktemp("views"))
    data = vd.build(utcnow())
    vd.load(session, data, env.database, env.schema)
    yield session, env, data
    session.close()


def ov(data: vd.Dataset) -> dict[int, dict[str, Any]]:
    return vd.overview(data, utcnow())


# --------------------------------------------------------------------------- offline checks

def test_issue_floor_spec_views_and_eight_more() -> None:
    names = [v.name for v in load_project(REPO).views]
    assert set(SPEC_VIEWS) <= set(names)
    assert len(set(names) - set(SPEC_VIEWS)) >= 8


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_every_rendered_view_parses_as_snowflake(env_name: str) -> None:
    project = load_project(REPO)
    for rendered in desired_state(Deployment(project, environment(project, env_name))).of("view"):
        statements = sqlglot.parse(rendered.text, read="snowflake")
        assert statements and all(s is not None and not isinstance(s, exp.Command) for s in statements), rendered.name


def test_every_view_and_column_is_documented() -> None:
    for view in load_project(REPO).views:
        assert view.comment and view.columns, view.name
        assert all(text.strip() for _, text in view.columns), view.name
        # fakesnow stores view comments with unescaped quotes: an apostrophe breaks the local deploy.
        assert "'" not in view.comment and all("'" not in text for _, text in view.columns), view.name


def test_docs_file_is_generated_from_views_yml() -> None:
    assert (REPO / DOCS_FILE).read_text(encoding="utf-8") == render_docs(load_project(REPO)), \
        "docs/views.md is stale: run `incidents render`"


# --------------------------------------------------------------------------- deployed checks

@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_view_columns_follow_views_yml(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, _ = world
    for view in load_project(REPO).views:
        columns, _ = session.execute(f"SELECT * FROM {fq(env, view.name)} LIMIT 0")
        assert [c.lower() for c in columns] == [name for name, _ in view.columns], view.name


def test_spec_example_queries_run_as_written(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, _ = world
    prefix = f"{env.database}.{env.schema}."
    rows = session.query(f"SELECT * FROM {prefix}v_monthly_incident_trends ORDER BY month DESC LIMIT 12")
    assert len(rows) == 12 and isinstance(rows[0]["MONTH"], dt.date) and not isinstance(rows[0]["MONTH"], dt.datetime)
    assert rows[0]["MONTH"] == utcnow().date().replace(day=1)
    rows = session.query(f"SELECT * FROM {prefix}v_category_performance ORDER BY total_incidents DESC")
    assert rows[0]["TOTAL_INCIDENTS"] >= rows[-1]["TOTAL_INCIDENTS"]
    rows = session.query(f"SELECT * FROM {prefix}v_active_incidents_dashboard WHERE priority IN ('critical', 'high') "
                         "ORDER BY created_at")
    assert rows and all(r["PRIORITY"] in ("critical", "high") for r in rows)
    rows = session.query(f"SELECT * FROM {prefix}v_team_performance WHERE total_assigned_incidents >= 10 "
                         "ORDER BY resolution_rate_percentage DESC")
    assert rows and [r["RESOLUTION_RATE_PERCENTAGE"] for r in rows] == sorted(
        (r["RESOLUTION_RATE_PERCENTAGE"] for r in rows), reverse=True)


def test_category_tree(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    assert_rows(select(session, env, "v_category_tree"), list(vd.category_tree(data).values()), ("category_id",))


def test_incident_overview(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = ov(data)
    cols = [name for name, _ in next(v for v in load_project(REPO).views if v.name == "v_incident_overview").columns]
    rows = [{c: e[c] for c in cols} for e in expected.values()]
    assert_rows(select(session, env, "v_incident_overview"), rows, ("incident_id",), loose={"age_minutes": AGE_TOL})
    # The hand-made edge cases behave as documented.
    by_id = {r["incident_id"]: r for r in select(session, env, "v_incident_overview")}
    assert by_id[1600]["minutes_to_acknowledge"] is None  # acknowledged before created
    assert by_id[1601]["minutes_to_resolve"] is None and by_id[1601]["is_resolved"] is True
    assert by_id[1604]["minutes_to_acknowledge"] is None and by_id[1604]["resolve_sla_met"] is None
    assert by_id[2001]["acknowledge_sla_met"] is True and by_id[2001]["first_response_sla_met"] is False
    assert by_id[2000]["acknowledge_sla_met"] is None  # 2 minutes old, 5-minute target: pending


def _sla_met_pct(rows: list[dict[str, Any]], col: str) -> float | None:
    measured = [r[col] for r in rows if r[col] is not None]
    return vd.pct(sum(measured), len(measured))


def test_sla_performance(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = []
    for (cid, impact), rows in vd.group(ov(data).values(), lambda r: (r["category_id"], r["impact_level"])).items():
        expected.append({
            "category_id": cid, "impact_level": impact, "category_code": rows[0]["category_code"],
            "total_incidents": len(rows),
            "acknowledge_sla_measured": vd.count(rows, lambda r: r["acknowledge_sla_met"] is not None),
            "acknowledge_sla_met_pct": _sla_met_pct(rows, "acknowledge_sla_met"),
            "first_response_sla_met_pct": _sla_met_pct(rows, "first_response_sla_met"),
            "resolve_sla_measured": vd.count(rows, lambda r: r["resolve_sla_met"] is not None),
            "resolve_sla_met_pct": _sla_met_pct(rows, "resolve_sla_met"),
            "resolve_sla_breached": vd.count(rows, lambda r: r["resolve_sla_met"] is False),
            "avg_minutes_to_acknowledge": vd.mean(r["minutes_to_acknowledge"] for r in rows),
            "avg_minutes_to_resolve": vd.mean(r["minutes_to_resolve"] for r in rows),
        })
    assert_rows(select(session, env, "v_sla_performance"), expected, ("category_id", "impact_level"))


def test_team_performance(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = []
    for team, rows in vd.group(ov(data).values(), lambda r: r["assigned_team"] or "(unassigned)").items():
        live = [r for r in rows if r["status"] not in vd.EXCLUDED]
        expected.append({
            "team": team, "total_assigned_incidents": len(rows),
            "open_incidents": vd.count(rows, lambda r: r["status"] in vd.OPEN),
            "resolved_incidents": vd.count(rows, lambda r: r["status"] in vd.RESOLVED),
            "cancelled_or_duplicate_incidents": len(rows) - len(live),
            "resolution_rate_percentage": vd.pct(vd.count(rows, lambda r: r["status"] in vd.RESOLVED), len(live)),
            "assignees": len({r["assignee_id"] for r in rows if r["assignee_id"] is not None}),
            "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows),
            "median_minutes_to_resolve": vd.percentile((r["minutes_to_resolve"] for r in rows), 0.5),
            "resolve_sla_met_pct": _sla_met_pct(rows, "resolve_sla_met"),
            "escalation_rate_pct": vd.pct(vd.count(rows, lambda r: r["is_escalated"]), len(rows)),
            "revenue_impact": sum(float(r["revenue_impact"]) for r in live),
        })
    assert_rows(select(session, env, "v_team_performance"), expected, ("team",))


def _month_spine(first: dt.date, last: dt.date) -> list[dt.date]:
    out = [first]
    while out[-1] < last:
        m = out[-1]
        out.append(dt.date(m.year + m.month // 12, m.month % 12 + 1, 1))
    return out


def test_monthly_incident_trends(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    o = ov(data)
    by_month = vd.group(o.values(), lambda r: r["created_at"].date().replace(day=1))
    months = _month_spine(min(by_month), max(by_month))
    assert dt.date(2024, 6, 1) in months and dt.date(2024, 6, 1) not in by_month  # the empty month
    expected, previous = [], None
    for month in months:
        rows = by_month.get(month, [])
        live = [r for r in rows if r["status"] not in vd.EXCLUDED]
        expected.append({
            "month": month, "total_incidents": len(rows),
            "critical_incidents": vd.count(rows, lambda r: r["priority"] == "critical"),
            "low_incidents": vd.count(rows, lambda r: r["priority"] == "low"),
            "open_incidents": vd.count(rows, lambda r: r["status"] in vd.OPEN),
            "resolved_incidents": vd.count(rows, lambda r: r["status"] in vd.RESOLVED),
            "cancelled_or_duplicate_incidents": len(rows) - len(live),
            "escalated_incidents": vd.count(rows, lambda r: r["is_escalated"]),
            "avg_minutes_to_acknowledge": vd.mean(r["minutes_to_acknowledge"] for r in rows),
            "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows),
            "median_minutes_to_resolve": vd.percentile((r["minutes_to_resolve"] for r in rows), 0.5),
            "resolve_sla_met_pct": _sla_met_pct(rows, "resolve_sla_met"),
            "customers_affected": sum(r["customers_affected"] for r in live),
            "revenue_impact": sum(float(r["revenue_impact"]) for r in live),
            "incidents_change_pct": None if previous is None else vd.pct(len(rows) - previous, previous),
        })
        previous = len(rows)
    actual = select(session, env, "v_monthly_incident_trends")
    assert_rows(actual, expected, ("month",))
    june = next(r for r in actual if r["month"] == dt.date(2024, 6, 1))
    assert june["total_incidents"] == 0 and june["mttr_minutes"] is None and june["revenue_impact"] == 0


def test_weekly_incident_trends(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    by_week = vd.group(ov(data).values(),
                       lambda r: r["created_at"].date() - dt.timedelta(days=r["created_at"].weekday()))
    weeks = [min(by_week)]
    while weeks[-1] < max(by_week):
        weeks.append(weeks[-1] + dt.timedelta(days=7))
    expected, previous = [], None
    for week in weeks:
        rows = by_week.get(week, [])
        expected.append({
            "week_start": week, "total_incidents": len(rows),
            "critical_high_incidents": vd.count(rows, lambda r: r["priority"] in ("critical", "high")),
            "resolved_incidents": vd.count(rows, lambda r: r["status"] in vd.RESOLVED),
            "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows),
            "resolve_sla_met_pct": _sla_met_pct(rows, "resolve_sla_met"),
            "revenue_impact": sum(float(r["revenue_impact"]) for r in rows if r["status"] not in vd.EXCLUDED),
            "incidents_change_pct": None if previous is None else vd.pct(len(rows) - previous, previous),
        })
        previous = len(rows)
    actual = select(session, env, "v_weekly_incident_trends")
    assert all(r["week_start"].weekday() == 0 for r in actual)
    assert_rows(actual, expected, ("week_start",))


def test_high_impact_incidents(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    threshold = next(w["points"] for w in vd.reference_rows("impact_score_weights") if w["factor"] == "threshold")
    rows = [r for r in ov(data).values()
            if r["status"] not in vd.EXCLUDED and r["business_impact_score"] >= threshold]
    # Ties on the score are broken by revenue, customers, then duration (open: age so far; unknown last).
    def order(r: dict[str, Any]) -> tuple[float, ...]:
        duration = r["minutes_to_resolve"] if r["minutes_to_resolve"] is not None else r["age_minutes"]
        return (-r["business_impact_score"], -float(r["revenue_impact"]), -r["customers_affected"],
                -duration if duration is not None else float("inf"))
    keys = sorted(order(r) for r in rows)
    expected = [{"incident_id": r["incident_id"], "business_impact_score": r["business_impact_score"],
                 "score_revenue_points": r["score_revenue_points"], "impact_rank": keys.index(order(r)) + 1}
                for r in rows]
    assert expected, "the dataset should contain high-impact incidents"
    assert_rows(select(session, env, "v_high_impact_incidents"), expected, ("incident_id",))


def test_revenue_impact_by_category(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    live = [r for r in ov(data).values() if r["status"] not in vd.EXCLUDED]
    grand = sum(float(r["revenue_impact"]) for r in live)
    expected = []
    for cid, rows in vd.group(live, lambda r: r["category_id"]).items():
        total = sum(float(r["revenue_impact"]) for r in rows)
        customers = sum(r["customers_affected"] for r in rows)
        expected.append({"category_id": cid, "counted_incidents": len(rows),
                         "incidents_with_revenue_impact": vd.count(rows, lambda r: r["revenue_impact"] > 0),
                         "total_revenue_impact": total, "avg_revenue_impact": round(total / len(rows), 2),
                         "max_revenue_impact": max(float(r["revenue_impact"]) for r in rows),
                         "revenue_share_pct": vd.pct(total, grand), "customers_affected": customers,
                         "revenue_per_affected_customer": None if not customers else round(total / customers, 2)})
    assert_rows(select(session, env, "v_revenue_impact_by_category"), expected, ("category_id",))


def test_incident_sources(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    everything = list(ov(data).values())
    expected = []
    for (src, system), rows in vd.group(everything, lambda r: (r["source"], r["source_system"] or "(none)")).items():
        excl = vd.count(rows, lambda r: r["status"] in vd.EXCLUDED)
        expected.append({"source": src, "source_system": system, "total_incidents": len(rows),
                         "share_of_incidents_pct": vd.pct(len(rows), len(everything)),
                         "open_incidents": vd.count(rows, lambda r: r["status"] in vd.OPEN),
                         "cancelled_or_duplicate_pct": vd.pct(excl, len(rows)),
                         "avg_minutes_to_acknowledge": vd.mean(r["minutes_to_acknowledge"] for r in rows),
                         "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows)})
    assert_rows(select(session, env, "v_incident_sources"), expected, ("source", "source_system"))


def test_escalation_patterns(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = []
    for (top, prio), rows in vd.group(ov(data).values(), lambda r: (r["top_category_name"], r["priority"])).items():
        esc = [r for r in rows if r["is_escalated"]]
        expected.append({"top_category_name": top, "priority": prio, "total_incidents": len(rows),
                         "escalated_incidents": len(esc), "escalation_rate_pct": vd.pct(len(esc), len(rows)),
                         "level_2_incidents": vd.count(rows, lambda r: r["escalation_level"] == 2),
                         "avg_escalation_level": vd.mean(r["escalation_level"] for r in esc),
                         "mttr_escalated_minutes": vd.mean(r["minutes_to_resolve"] for r in esc),
                         "mttr_not_escalated_minutes": vd.mean(r["minutes_to_resolve"] for r in rows
                                                               if not r["is_escalated"])})
    assert_rows(select(session, env, "v_escalation_patterns"), expected, ("top_category_name", "priority"))


def test_solution_effectiveness(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    o = ov(data)
    expected = []
    for t in data.templates:
        apps = [a for a in data.solutions if a["solution_id"] == t["solution_id"]]
        known = [a["was_successful"] for a in apps if a["was_successful"] is not None]
        expected.append({
            "solution_id": t["solution_id"], "times_applied": len(apps),
            "incidents_applied_to": len({a["incident_id"] for a in apps}),
            "successful_applications": sum(known), "success_rate_pct": vd.pct(sum(known), len(known)),
            "avg_effectiveness_rating": vd.mean(a["effectiveness_rating"] for a in apps),
            "avg_time_to_apply_minutes": vd.mean(a["time_to_apply_minutes"] for a in apps),
            "avg_minutes_to_resolve_when_applied": vd.mean(o[a["incident_id"]]["minutes_to_resolve"] for a in apps),
            "last_applied_at": max((a["applied_at"] for a in apps), default=None)})
    actual = select(session, env, "v_solution_effectiveness")
    assert_rows(actual, expected, ("solution_id",))
    assert next(r for r in actual if r["solution_id"] == 3)["times_applied"] == 0  # never used, still listed


def _pending(r: dict[str, Any]) -> tuple[str, int]:
    if r["acknowledged_at"] is None:
        return "acknowledge", r["sla_acknowledge_minutes"]
    if r["first_response_at"] is None:
        return "first_response", r["sla_first_response_minutes"]
    return "resolve", r["sla_resolve_minutes"]


def _band(elapsed: float) -> str:
    for limit, name in ((100, "breached"), (90, "90_to_100"), (75, "75_to_90"), (50, "50_to_75")):
        if elapsed >= limit:
            return name
    return "under_50"


def test_sla_breach_risk_and_active_dashboard(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected, dashboard = [], []
    for r in ov(data).values():
        if r["status"] not in vd.OPEN:
            continue
        milestone, target = _pending(r)
        elapsed = 100 * r["age_minutes"] / target
        expected.append({"incident_id": r["incident_id"], "pending_milestone": milestone, "target_minutes": target,
                         "risk_band": _band(elapsed), "age_minutes": r["age_minutes"],
                         "minutes_to_breach": target - r["age_minutes"]})
        dashboard.append({"incident_id": r["incident_id"], "priority": r["priority"], "risk_band": _band(elapsed),
                          "is_acknowledged": r["acknowledged_at"] is not None,
                          "assignee_name": r["assignee_name"],
                          "is_resolve_sla_breached": r["age_minutes"] > r["sla_resolve_minutes"]})
    assert {e["risk_band"] for e in expected} >= {"breached", "under_50", "50_to_75", "75_to_90", "90_to_100"}
    loose = {"age_minutes": AGE_TOL, "minutes_to_breach": AGE_TOL}
    assert_rows(select(session, env, "v_sla_breach_risk"), expected, ("incident_id",), loose=loose)
    assert_rows(select(session, env, "v_active_incidents_dashboard"), dashboard, ("incident_id",))


def test_system_health_overview(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    now = utcnow()
    rows = list(ov(data).values())
    since = {h: now - dt.timedelta(hours=h) for h in (24, 24 * 7, 24 * 30)}
    opened = [r for r in rows if r["status"] in vd.OPEN]
    resolved_30 = [r for r in rows if r["status"] in vd.RESOLVED and r["resolved_at"]
                   and r["resolved_at"] >= since[720]]
    expected = {
        "total_incidents": len(rows), "open_incidents": len(opened),
        "open_critical_incidents": vd.count(opened, lambda r: r["priority"] == "critical"),
        "unacknowledged_open_incidents": vd.count(opened, lambda r: r["acknowledged_at"] is None),
        "open_resolve_sla_breached": vd.count(opened, lambda r: r["resolve_sla_met"] is False),
        "incidents_last_24h": vd.count(rows, lambda r: r["created_at"] >= since[24]),
        "incidents_last_7d": vd.count(rows, lambda r: r["created_at"] >= since[168]),
        "mtta_last_30d_minutes": vd.mean(r["minutes_to_acknowledge"] for r in rows if r["created_at"] >= since[720]),
        "mttr_last_30d_minutes": vd.mean(r["minutes_to_resolve"] for r in resolved_30),
        "open_revenue_at_risk": sum(float(r["revenue_impact"]) for r in opened),
        "oldest_open_age_minutes": max(r["age_minutes"] for r in opened),
        "health_status": "red",
    }
    (actual,) = select(session, env, "v_system_health_overview")
    assert_rows([actual], [expected], ("total_incidents",), loose={"oldest_open_age_minutes": AGE_TOL})
    assert abs((actual["as_of"] - now).total_seconds()) < 120  # SYSDATE() is UTC


def test_category_performance_and_rollup(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    o = list(ov(data).values())
    tree = vd.category_tree(data)
    perf, rollup = [], []
    for cid, cat in tree.items():
        rows = [r for r in o if r["category_id"] == cid]
        live = [r for r in rows if r["status"] not in vd.EXCLUDED]
        perf.append({"category_id": cid, "depth": cat["depth"], "total_incidents": len(rows),
                     "resolution_rate_pct": vd.pct(vd.count(rows, lambda r: r["status"] in vd.RESOLVED), len(live)),
                     "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows),
                     "median_minutes_to_resolve": vd.percentile((r["minutes_to_resolve"] for r in rows), 0.5),
                     "p90_minutes_to_resolve": vd.percentile((r["minutes_to_resolve"] for r in rows), 0.9),
                     "reopened_incidents": vd.count(rows, lambda r: r["reopen_count"] > 0),
                     "revenue_impact": sum(float(r["revenue_impact"]) for r in live)})
        subtree = {c for c, t in tree.items() if cat["category_path"] == t["category_path"]
                   or t["category_path"].startswith(cat["category_path"] + " > ")}
        sub_rows = [r for r in o if r["category_id"] in subtree]
        rollup.append({"category_id": cid, "descendant_categories": len(subtree) - 1, "direct_incidents": len(rows),
                       "subtree_incidents": len(sub_rows),
                       "subtree_open_incidents": vd.count(sub_rows, lambda r: r["status"] in vd.OPEN),
                       "subtree_mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in sub_rows),
                       "subtree_revenue_impact": sum(float(r["revenue_impact"]) for r in sub_rows
                                                     if r["status"] not in vd.EXCLUDED)})
    assert_rows(select(session, env, "v_category_performance"), perf, ("category_id",))
    assert_rows(select(session, env, "v_category_rollup"), rollup, ("category_id",))
    pay = next(r for r in rollup if r["category_id"] == 2)
    assert pay["descendant_categories"] == 3 and pay["subtree_incidents"] > pay["direct_incidents"]


def test_duration_distribution(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    o = list(ov(data).values())
    expected = []
    for prio in vd.PRIORITIES:
        for order, metric in enumerate(("acknowledge", "first_response", "mitigate", "resolve"), start=1):
            values = [r[f"minutes_to_{metric}"] for r in o if r["priority"] == prio]
            values = [v for v in values if v is not None]
            if values:
                expected.append({"priority": prio, "metric": metric, "metric_order": order,
                                 "incidents_measured": len(values), "avg_minutes": vd.mean(values),
                                 "median_minutes": vd.percentile(values, 0.5),
                                 "p90_minutes": vd.percentile(values, 0.9),
                                 "min_minutes": min(values), "max_minutes": max(values)})
    assert_rows(select(session, env, "v_duration_distribution"), expected, ("priority", "metric"))


def test_open_incident_aging(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    edges = [("age_under_1h", 0, 60), ("age_1h_to_4h", 60, 240), ("age_4h_to_24h", 240, 1440),
             ("age_1d_to_3d", 1440, 4320), ("age_3d_to_7d", 4320, 10080), ("age_7d_to_30d", 10080, 43200),
             ("age_over_30d", 43200, float("inf"))]
    expected = []
    for prio in vd.PRIORITIES:
        ages = [r["age_minutes"] for r in ov(data).values() if r["status"] in vd.OPEN and r["priority"] == prio]
        row = {"priority": prio, "open_incidents": len(ages),
               "median_age_minutes": vd.percentile(ages, 0.5), "oldest_age_minutes": max(ages, default=None)}
        row.update({name: sum(lo <= a < hi for a in ages) for name, lo, hi in edges})
        expected.append(row)
    loose = {"median_age_minutes": AGE_TOL, "oldest_age_minutes": AGE_TOL}
    assert_rows(select(session, env, "v_open_incident_aging"), expected, ("priority",), loose=loose)


def test_reopen_rate(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    history = vd.group(data.status_history, lambda h: h["incident_id"])
    incidents = {i["incident_id"]: i for i in data.incidents}
    stats: dict[str, dict[str, int]] = {}
    for iid, rows in history.items():
        resolutions = sum(h["new_status"] in vd.RESOLVED for h in rows)
        reopens = sum(h["previous_status"] in vd.RESOLVED and h["new_status"] in vd.OPEN for h in rows)
        s = stats.setdefault(incidents[iid]["priority"], {"ever": 0, "reopened": 0, "events": 0, "still": 0})
        s["ever"] += resolutions > 0
        s["reopened"] += reopens > 0
        s["events"] += reopens
        s["still"] += reopens > 0 and incidents[iid]["status"] in vd.OPEN
    expected = [{"priority": p, "ever_resolved_incidents": s["ever"], "reopened_incidents": s["reopened"],
                 "reopen_rate_pct": vd.pct(s["reopened"], s["ever"]), "reopen_events": s["events"],
                 "reopened_still_open": s["still"]} for p, s in stats.items()]
    assert sum(s["reopened"] for s in stats.values()) > 0
    assert_rows(select(session, env, "v_reopen_rate"), expected, ("priority",))


def test_assignment_handoffs(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    incidents = {i["incident_id"]: i for i in data.incidents}
    expected = []
    for iid, rows in vd.group(data.assignments, lambda a: a["incident_id"]).items():
        rows = sorted(rows, key=lambda a: (a["assigned_at"], a["assignment_id"]))
        gaps = [(b["assigned_at"] - a["assigned_at"]).total_seconds() for a, b in itertools.pairwise(rows)]
        first = vd.seconds(incidents[iid]["created_at"], rows[0]["assigned_at"])
        expected.append({
            "incident_id": iid, "assignments": len(rows), "reassignments": len(rows) - 1,
            "distinct_assignees": len({a["new_assignee_id"] for a in rows}),
            "distinct_teams": len({a["new_team"] for a in rows}),
            "ping_pong_returns": sum(rows[k]["new_assignee_id"] == rows[k - 2]["new_assignee_id"]
                                     for k in range(2, len(rows))),
            "cross_team_handoffs": sum(a["previous_team"] is not None and a["new_team"] != a["previous_team"]
                                       for a in rows),
            "minutes_to_first_assignment": vd.minutes(first),
            "avg_minutes_between_handoffs": vd.minutes(sum(gaps) / len(gaps)) if gaps else None,
            "max_minutes_between_handoffs": vd.minutes(max(gaps)) if gaps else None})
    assert sum(e["ping_pong_returns"] for e in expected) > 0
    assert_rows(select(session, env, "v_assignment_handoffs"), expected, ("incident_id",))


def test_time_in_status(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    incidents = {i["incident_id"]: i for i in data.incidents}
    stays: list[dict[str, Any]] = []
    for iid, rows in vd.group(data.status_history, lambda h: h["incident_id"]).items():
        rows = sorted(rows, key=lambda h: (h["changed_at"], h["status_history_id"]))
        for a, b in itertools.pairwise(rows):
            stays.append({"incident_id": iid, "status": a["new_status"], "priority": incidents[iid]["priority"],
                          "minutes": (b["changed_at"] - a["changed_at"]).total_seconds() / 60})
    expected = []
    for (status, prio), rows in vd.group(stays, lambda s: (s["status"], s["priority"])).items():
        mins = [s["minutes"] for s in rows]
        expected.append({"status": status, "priority": prio, "stays": len(rows),
                         "incidents": len({s["incident_id"] for s in rows}), "total_minutes": round(sum(mins), 2),
                         "avg_minutes": vd.mean(mins), "median_minutes": vd.percentile(mins, 0.5),
                         "p90_minutes": vd.percentile(mins, 0.9)})
    assert_rows(select(session, env, "v_time_in_status"), expected, ("status", "priority"))


def test_incident_heatmap(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    cells = vd.group(data.incidents, lambda i: (i["created_at"].isoweekday(), i["created_at"].hour))
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    expected = [{"day_of_week_iso": d, "hour_of_day": h, "day_name": names[d - 1],
                 "incidents": len(cells.get((d, h), [])),
                 "critical_high_incidents": vd.count(cells.get((d, h), []),
                                                     lambda i: i["priority"] in ("critical", "high")),
                 "share_of_incidents_pct": vd.pct(len(cells.get((d, h), [])), len(data.incidents))}
                for d in range(1, 8) for h in range(24)]
    assert_rows(select(session, env, "v_incident_heatmap"), expected, ("day_of_week_iso", "hour_of_day"))


def _black_friday(year: int) -> dt.date:
    # Independent of the SQL: walk November to its fourth Thursday.
    thursdays = [dt.date(year, 11, day) for day in range(1, 31) if dt.date(year, 11, day).weekday() == 3]
    return thursdays[3] + dt.timedelta(days=1)


def test_peak_event_comparison(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    assert _black_friday(2024) == dt.date(2024, 11, 29) and _black_friday(2025) == dt.date(2025, 11, 28)
    o = list(ov(data).values())
    expected = []
    for year in sorted({r["created_at"].year for r in o}):
        bf = _black_friday(year)
        peak = [r for r in o if bf <= r["created_at"].date() <= bf + dt.timedelta(days=3)]
        base = [r for r in o if bf - dt.timedelta(days=35) <= r["created_at"].date() < bf - dt.timedelta(days=7)]
        expected.append({
            "year": year, "black_friday": bf, "cyber_monday": bf + dt.timedelta(days=3),
            "peak_incidents": len(peak), "peak_incidents_per_day": round(len(peak) / 4, 2),
            "baseline_incidents": len(base), "baseline_incidents_per_day": round(len(base) / 28, 2),
            "peak_to_baseline_ratio": None if not base else round((len(peak) / 4) / (len(base) / 28), 2),
            "peak_mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in peak),
            "baseline_mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in base),
            "peak_revenue_impact": sum(float(r["revenue_impact"]) for r in peak if r["status"] not in vd.EXCLUDED),
        })
    assert expected[0]["peak_incidents"] >= 4 and expected[0]["baseline_incidents"] >= 2
    assert_rows(select(session, env, "v_peak_event_comparison"), expected, ("year",))


def test_revenue_weighted_mttr(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = []
    for prio, rows in vd.group(ov(data).values(), lambda r: r["priority"]).items():
        done = [r for r in rows if r["minutes_to_resolve"] is not None]
        rev = sum(float(r["revenue_impact"]) for r in done)
        cust = sum(r["customers_affected"] for r in done)
        opened = [r for r in rows if r["status"] in vd.OPEN]
        expected.append({
            "priority": prio, "resolved_incidents": len(done),
            "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in done),
            "revenue_weighted_mttr_minutes": None if not rev else round(
                sum(r["minutes_to_resolve"] * float(r["revenue_impact"]) for r in done) / rev, 2),
            "customer_weighted_mttr_minutes": None if not cust else round(
                sum(r["minutes_to_resolve"] * r["customers_affected"] for r in done) / cust, 2),
            "open_incidents": len(opened), "revenue_at_risk": sum(float(r["revenue_impact"]) for r in opened),
            "revenue_at_risk_sla_breached": sum(float(r["revenue_impact"]) for r in opened
                                                if r["resolve_sla_met"] is False),
            "customers_at_risk": sum(r["customers_affected"] for r in opened)})
    assert_rows(select(session, env, "v_revenue_weighted_mttr"), expected, ("priority",))


def test_customer_impact_summary(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    expected = []
    live = [r for r in ov(data).values() if r["status"] not in vd.EXCLUDED]
    for level, rows in vd.group(live, lambda r: r["impact_level"]).items():
        durations = [(r, vd.seconds(r["detected_at"] or r["created_at"], r["mitigated_at"] or r["resolved_at"]))
                     for r in rows]
        hit = [r for r in rows if r["customers_affected"] > 0]
        customers = sum(r["customers_affected"] for r in rows)
        revenue = sum(float(r["revenue_impact"]) for r in rows)
        expected.append({
            "impact_level": level, "incidents": len(rows), "incidents_with_customer_impact": len(hit),
            "customers_affected": customers,
            "avg_customers_per_impacting_incident": None if not hit else round(customers / len(hit), 2),
            "max_customers_affected": max(r["customers_affected"] for r in rows),
            "avg_impact_minutes": vd.mean(s / 60 for _, s in durations if s is not None),
            "customer_impact_minutes": round(sum(r["customers_affected"] * s / 60 for r, s in durations
                                                 if s is not None), 2),
            "revenue_impact": revenue,
            "revenue_per_affected_customer": None if not customers else round(revenue / customers, 2)})
    assert_rows(select(session, env, "v_customer_impact_summary"), expected, ("impact_level",), tol=0.05)


def test_assignee_workload(world: tuple[Session, Environment, vd.Dataset]) -> None:
    session, env, data = world
    o = list(ov(data).values())
    expected = []
    for u in data.users:
        rows = [r for r in o if r["assignee_id"] == u["user_id"]]
        if u["role"] not in vd.STAFF_ROLES and not rows:
            continue
        opened = [r for r in rows if r["status"] in vd.OPEN]
        expected.append({
            "user_id": u["user_id"], "assigned_incidents": len(rows), "open_incidents": len(opened),
            "open_critical_high_incidents": vd.count(opened, lambda r: r["priority"] in ("critical", "high")),
            "open_resolve_sla_breached": vd.count(opened, lambda r: r["resolve_sla_met"] is False),
            "avg_open_age_minutes": vd.mean(r["age_minutes"] for r in opened),
            "open_impact_score": round(sum(r["business_impact_score"] for r in opened), 2),
            "resolved_incidents": vd.count(rows, lambda r: r["status"] in vd.RESOLVED),
            "mttr_minutes": vd.mean(r["minutes_to_resolve"] for r in rows)})
    actual = select(session, env, "v_assignee_workload")
    assert_rows(actual, expected, ("user_id",), loose={"avg_open_age_minutes": AGE_TOL})
    assert 30 in {r["user_id"] for r in actual} and 2 not in {r["user_id"] for r in actual}


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_data_quality_on_constrained_data(world: tuple[Session, Environment, vd.Dataset]) -> None:
    # The dataset respects every key, so only the lifecycle checks fire here (keys: test_check.py).
    session, env, _ = world
    found = {(r["check_name"], r["record_key"]) for r in vd.checked(session, env)}
    assert ("negative_duration", "1600") in found
    assert ("missing_timestamp", "1601") in found
    assert ("negative_duration", "1603") in found
    assert {c for c, _ in found} <= {"negative_duration", "missing_timestamp", "illegal_status_transition",
                                     "status_mismatch"}
    illegal = {r["detail"] for r in select(session, env, "v_data_quality_issues",
                                           "WHERE check_name = 'illegal_status_transition'")}
    assert {r["failures"] for r in select(session, env, "v_data_quality_issues",
                                          "WHERE check_name = 'illegal_status_transition'")} == {3}
    assert illegal == {"no-op change to resolved", "closed from investigating without being resolved",
                       "leaves terminal status duplicate for investigating"}
    # An incident whose status was edited without a history row is a status_mismatch, found by its id.
    table = fq(env, "incidents")
    victim = session.query(f"SELECT INCIDENT_ID FROM {table} WHERE STATUS = 'closed' ORDER BY INCIDENT_ID LIMIT 1")[0]
    assert ("status_mismatch", str(victim["INCIDENT_ID"])) not in found
    session.execute(f"UPDATE {table} SET STATUS = 'mitigated' WHERE INCIDENT_ID = {victim['INCIDENT_ID']}")
    try:
        mismatches = {(r["record_key"], r["detail"]) for r in vd.checked(session, env,
                                                                         "WHERE check_name = 'status_mismatch'")}
    finally:
        session.execute(f"UPDATE {table} SET STATUS = 'closed' WHERE INCIDENT_ID = {victim['INCIDENT_ID']}")
    assert (str(victim["INCIDENT_ID"]), "status mitigated but the latest status change is to closed") in mismatches


def test_sla_targets_are_data_not_code(world: tuple[Session, Environment, vd.Dataset]) -> None:
    """Editing sla_policies changes the views at once; a redeploy keeps the edit (MERGE inserts missing keys)."""
    session, env, data = world
    table = fq(env, "sla_policies")
    rows = {r["PRIORITY"]: r for r in session.query(f"SELECT * FROM {table}")}
    assert {p: (r["ACKNOWLEDGE_MINUTES"], r["FIRST_RESPONSE_MINUTES"], r["RESOLVE_MINUTES"]) for p, r in rows.items()} \
        == {"critical": (5, 15, 240), "high": (15, 30, 480), "medium": (60, 240, 4320), "low": (240, 1440, 14400)}
    session.execute(f"UPDATE {table} SET resolve_minutes = 1 WHERE priority = 'low'")
    try:
        sla = [{**r, "resolve_minutes": 1} if r["priority"] == "low" else r for r in vd.reference_rows("sla_policies")]
        expected = vd.overview(data, utcnow(), sla)
        actual = {r["incident_id"]: r for r in select(session, env, "v_incident_overview", "WHERE priority = 'low'")}
        assert actual and all(actual[i]["resolve_sla_met"] == expected[i]["resolve_sla_met"] for i in actual)
        project = load_project(REPO)
        for reference in desired_state(Deployment(project, env)).of("reference_data"):
            session.execute(reference.text)
        assert session.query(f"SELECT resolve_minutes FROM {table} WHERE priority = 'low'")[0]["RESOLVE_MINUTES"] == 1
    finally:
        session.execute(f"UPDATE {table} SET resolve_minutes = 14400 WHERE priority = 'low'")
