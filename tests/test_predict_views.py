"""The prediction and planning views (config/views.yml, `incidents predict`), deployed on a local target,
loaded with the known dataset of views_dataset plus recent resolutions, reassignments and hand-made
rows of incident_predictions and volume_forecast, and checked view by view against an independent
Python computation of their documented definitions."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import views_dataset as vd
from incidents.project.models import Environment
from incidents.sql.session import Session
from views_dataset import REPO, select, utcnow

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")
TOL = 0.011
Row = dict[str, Any]
RATES = {r["priority"]: r for r in yaml.safe_load((REPO / "config/tables/incident_cost_rates.yml").read_text())[
    "reference_data"]["rows"]}
TARGETS = {r["priority"]: r for r in vd.reference_rows("sla_policies")}


def same(got: Any, want: Any, tol: float, where: str) -> None:
    if want is None or got is None:
        assert got is None and want is None, f"{where}: got {got!r}, want {want!r}"
    elif isinstance(want, bool) or isinstance(got, bool):
        assert bool(got) == want and isinstance(got, bool), f"{where}: got {got!r}, want {want!r}"
    elif isinstance(want, (int, float, decimal.Decimal)):
        assert abs(float(got) - float(want)) <= tol, f"{where}: got {got!r}, want {want!r}"
    else:
        assert got == want, f"{where}: got {got!r}, want {want!r}"


def check_rows(actual: list[Row], expected: list[Row], key: tuple[str, ...], loose: dict[str, float] | None = None
               ) -> None:
    """The same keys, and every expected column equal (numbers within a tolerance)."""
    by_key = {tuple(r[k] for k in key): r for r in actual}
    assert len(by_key) == len(actual), f"duplicate {key}"
    want_keys = {tuple(r[k] for k in key) for r in expected}
    assert set(by_key) == want_keys, (sorted(set(by_key) - want_keys, key=str),
                                      sorted(want_keys - set(by_key), key=str))
    for row in expected:
        got = by_key[tuple(row[k] for k in key)]
        for column, want in row.items():
            same(got[column], want, (loose or {}).get(column, TOL), f"{key}={[row[k] for k in key]} {column}")


# --------------------------------------------------------------------------- the data

def _extend(d: vd.Dataset) -> None:
    """Recent resolutions (team throughput), reassignments and reopens (training signals)."""
    now, template = d.now, dict(d.incidents[0])
    for n, (days_ago, team, assignee, prio) in enumerate([(3, "payments", 10, "high"), (10, "payments", 11, "low"),
                                                          (20, "platform", 12, "medium"), (70, "platform", 12, "low"),
                                                          (5, "support", 13, "critical")]):
        created = now - dt.timedelta(days=days_ago, hours=5)
        d.incidents.append({**template, "incident_id": 3000 + n, "incident_number": f"INC-{3000 + n}",
                            "status": "resolved", "priority": prio, "category_id": 22, "assignee_id": assignee,
                            "assigned_team": team, "created_at": created, "detected_at": created,
                            "acknowledged_at": created + dt.timedelta(minutes=7),
                            "first_response_at": created + dt.timedelta(minutes=20), "mitigated_at": None,
                            "resolved_at": created + dt.timedelta(hours=4), "closed_at": None,
                            "updated_at": created, "parent_incident_id": None, "is_escalated": n % 2 == 0,
                            "escalation_level": n % 2})
    for inc in d.incidents:
        if inc["category_id"] == 22 and inc["incident_id"] % 2 == 0:
            inc["reassignment_count"], inc["reopen_count"] = 3, 1


def _predictions(d: vd.Dataset) -> tuple[list[Row], list[Row]]:
    """Two scoring runs: the first (both tiers) for every open incident and two closed ones, the second
    (baseline everywhere, model on some) for a subset, so the choice of the view is exercised."""
    t1, t2 = d.now - dt.timedelta(hours=2), d.now - dt.timedelta(hours=1)
    open_ids = [i["incident_id"] for i in d.incidents if i["status"] in vd.OPEN]
    rows: list[Row] = []

    def add(iid: int, run: dt.datetime, tier: str, name: str, k: float) -> None:
        for target, value, low, high in (("escalation", 0.1 + k / 10, None, None),
                                         ("sla_breach", 0.2 + k / 20, None, None),
                                         ("resolution_hours", 5 + k, 2 + k / 2, 20 + k)):
            rows.append({"incident_id": iid, "target": target, "value": value, "interval_low": low,
                         "interval_high": high, "tier": tier, "model_name": name, "model_version": f"v-{name}",
                         "training_incidents": 100, "trained_at": run - dt.timedelta(days=1), "scored_at": run})

    for n, iid in enumerate([*open_ids, 1000, 1001]):
        add(iid, t1, "baseline", "sql_baseline", n % 5)
        add(iid, t1, "model", "sklearn_hist_gradient_boosting", (n + 2) % 7)
    for n, iid in enumerate(open_ids[::2]):
        add(iid, t2, "baseline", "sql_baseline", (n + 3) % 4)
        if n % 2:
            add(iid, t2, "model", "sklearn_hist_gradient_boosting", (n + 1) % 6)
    # Volume: run t1 (both tiers) is older than run t2 (both tiers): the view shows t2's model.
    monday = d.now.date() - dt.timedelta(days=d.now.weekday())
    weeks = [dt.date(2025, 2, 24) + dt.timedelta(weeks=k) for k in range(11)] + [monday]
    volume: list[Row] = []
    for run, shift in ((t1, 0), (t2, 7)):
        for tier, name, base in (("baseline", "sql_trailing_mean", 40.0), ("model", "statsmodels_holt_winters", 50.0)):
            for k, week in enumerate(weeks):
                volume.append({"week_start": week, "weeks_ahead": k + 1, "forecast_incidents": base + k + shift + 0.04,
                               "interval_low": base - 10 + k, "interval_high": base + 10 + k, "peak_days": k % 2,
                               "tier": tier, "model_name": name, "model_version": "v1",
                               "trained_at": run - dt.timedelta(days=1), "scored_at": run})
    return rows, volume


World = tuple[Session, Environment, vd.Dataset, list[Row], list[Row]]


def _load(session: Session, env: Environment, table: str, rows: list[Row]) -> None:
    import pandas as pd
    from fakesnow.pandas_tools import write_pandas

    frame = pd.DataFrame(rows)
    frame.columns = [c.upper() for c in frame.columns]
    write_pandas(session.conn, frame, table.upper(), database=env.database, schema=env.schema)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[World]:
    """A copy of the deployed repository project (conftest), loaded with the data above."""
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    path = tmp_path_factory.mktemp("predict-views")
    shutil.copytree(deployed_template, path, dirs_exist_ok=True)
    env = environment(load_project(REPO), "dev")
    session = open_local(path, env)
    data = vd.build(utcnow())
    _extend(data)
    vd.load(session, data, env.database, env.schema)
    predictions, volume = _predictions(data)
    _load(session, env, "incident_predictions", predictions)
    _load(session, env, "volume_forecast", volume)
    yield session, env, data, predictions, volume
    session.close()


def overview(data: vd.Dataset) -> dict[int, Row]:
    return vd.overview(data, utcnow())


# --------------------------------------------------------------------------- features and training data

def _band(value: float, edges: tuple[int, ...]) -> int:
    return 0 if value <= 0 else 1 + sum(value >= e for e in edges)


def _minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """DATEDIFF('minute', ...): minute boundaries crossed."""
    return int((end.replace(second=0) - start.replace(second=0)).total_seconds() // 60)


def features(data: vd.Dataset) -> dict[int, Row]:
    out = {}
    for i in overview(data).values():
        created, met = i["created_at"], i["resolve_sla_met"]
        detected = i["detected_at"]
        out[i["incident_id"]] = {
            "incident_id": i["incident_id"], "created_at": created, "priority": i["priority"],
            "severity": i["severity"], "impact_level": i["impact_level"], "source": i["source"],
            "category_id": i["category_id"], "top_category_id": i["top_category_id"] or i["category_id"],
            "team": i["assigned_team"] or "(none)", "hour_of_day": created.hour, "day_of_week": created.isoweekday(),
            "hour_band": created.hour // 6, "is_weekend": created.isoweekday() >= 6,
            "customers_affected": i["customers_affected"], "revenue_impact": float(i["revenue_impact"]),
            "customers_band": _band(i["customers_affected"], (100, 1000, 10000)),
            "revenue_band": _band(float(i["revenue_impact"]), (1000, 10000, 100000)),
            "detection_lag_minutes": _minutes_between(detected, created) if detected and detected <= created else None,
            "is_open": i["is_open"], "escalated": i["is_escalated"],
            "escalation_known_at": i["resolved_at"] if i["is_resolved"] else (
                i["closed_at"] if i["is_cancelled_or_duplicate"] else None),
            "sla_breached": None if met is None else not met,
            "sla_known_at": None if met is None else (i["resolved_at"] if met else created + dt.timedelta(
                minutes=i["sla_resolve_minutes"])),
            "resolution_hours": None if i["minutes_to_resolve"] is None else round(i["minutes_to_resolve"] / 60, 4),
            "resolution_known_at": i["resolved_at"] if i["minutes_to_resolve"] is not None else None,
        }
    return out


def test_prediction_features(world: World) -> None:
    session, env, data, *_ = world
    expected = list(features(data).values())
    assert any(r["sla_breached"] for r in expected) and any(r["sla_breached"] is False for r in expected)
    assert any(r["detection_lag_minutes"] for r in expected) and any(r["is_weekend"] for r in expected)
    check_rows(select(session, env, "v_prediction_features"), expected, ("incident_id",))


@pytest.mark.parametrize(("view", "label", "known"), [("v_escalation_training", "escalated", "escalation_known_at"),
                                                      ("v_sla_breach_training", "sla_breached", "sla_known_at")])
def test_training_views_hold_features_and_the_known_label_only(world: World, view: str, label: str, known: str) -> None:
    session, env, data, *_ = world

    def as_tuple(r: Row) -> tuple[Any, ...]:
        return (r["priority"], r["severity"], r["impact_level"], r["source"], str(r["category"]),
                str(r["top_category"]), r["team"], r["hour_of_day"], r["day_of_week"], r["customers_affected"],
                float(r["revenue_impact"]), r["detection_lag_minutes"], r["outcome"])

    expected = sorted((as_tuple({**f, "category": f["category_id"], "top_category": f["top_category_id"],
                                 "outcome": "yes" if f[label] else "no"})
                       for f in features(data).values() if f[known] is not None), key=str)
    actual = sorted((as_tuple(r) for r in select(session, env, view)), key=str)
    assert actual == expected and {"yes", "no"} <= {t[-1] for t in actual}


# --------------------------------------------------------------------------- volume

def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _peak_days(week: dt.date) -> int:
    from incidents.predict.volume import black_friday

    bf = black_friday(week.year)
    return sum(bf <= week + dt.timedelta(days=k) <= bf + dt.timedelta(days=3) for k in range(7))


def test_volume_history(world: World) -> None:
    session, env, data, *_ = world
    days = [i["created_at"].date() for i in data.incidents]
    first, last = min(days), max(days)
    week = first if first.weekday() == 0 else _monday(first) + dt.timedelta(days=7)
    expected = []
    while week < _monday(last):
        count = sum(week <= d < week + dt.timedelta(days=7) for d in days)
        expected.append({"week_start": dt.datetime.combine(week, dt.time()), "incidents": count,
                         "peak_days": _peak_days(week)})
        week += dt.timedelta(days=7)
    assert any(r["peak_days"] for r in expected) and any(r["incidents"] == 0 for r in expected)
    check_rows(select(session, env, "v_volume_history"), expected, ("week_start",))


def test_volume_future(world: World) -> None:
    session, env, data, *_ = world
    start = _monday(max(i["created_at"] for i in data.incidents).date())
    expected = [{"week_start": dt.datetime.combine(start + dt.timedelta(weeks=k), dt.time()), "weeks_ahead": k + 1,
                 "peak_days": _peak_days(start + dt.timedelta(weeks=k))} for k in range(12)]
    check_rows(select(session, env, "v_volume_future"), expected, ("week_start",))


def _chosen_run(volume: list[Row]) -> tuple[dt.datetime, str]:
    best = sorted(volume, key=lambda r: (-r["scored_at"].timestamp(), r["tier"] != "model", r["model_name"]))[0]
    return best["scored_at"], best["model_name"]


def forecast_12w(data: vd.Dataset, volume: list[Row]) -> list[Row]:
    scored_at, name = _chosen_run(volume)
    weekly = vd.group(data.incidents, lambda i: _monday(i["created_at"].date()))
    base = {r["week_start"]: r for r in volume if r["scored_at"] == scored_at and r["tier"] == "baseline"}
    return [{"week_start": r["week_start"], "weeks_ahead": r["weeks_ahead"],
             "forecast_incidents": round(r["forecast_incidents"], 1), "interval_low": r["interval_low"],
             "interval_high": r["interval_high"], "peak_days": r["peak_days"],
             "incidents_so_far": len(weekly.get(r["week_start"], [])),
             "incidents_52_weeks_earlier": len(weekly.get(r["week_start"] - dt.timedelta(days=364), [])),
             "baseline_forecast_incidents": round(base[r["week_start"]]["forecast_incidents"], 1),
             "tier": r["tier"], "model_name": r["model_name"], "scored_at": r["scored_at"]}
            for r in volume if r["scored_at"] == scored_at and r["model_name"] == name]


def test_volume_forecast_12w(world: World) -> None:
    session, env, data, _, volume = world
    expected = forecast_12w(data, volume)
    assert len(expected) == 12 and {r["model_name"] for r in expected} == {"statsmodels_holt_winters"}
    assert any(r["incidents_so_far"] for r in expected) and any(r["incidents_52_weeks_earlier"] for r in expected)
    check_rows(select(session, env, "v_volume_forecast_12w"), expected, ("week_start",))


# --------------------------------------------------------------------------- predictions

def current(predictions: list[Row]) -> dict[tuple[int, str], Row]:
    out: dict[tuple[int, str], Row] = {}
    for key, rows in vd.group(predictions, lambda r: (r["incident_id"], r["target"])).items():
        out[key] = sorted(rows, key=lambda r: (-r["scored_at"].timestamp(), r["tier"] != "model", r["model_name"]))[0]
    return out


def test_current_predictions(world: World) -> None:
    session, env, _, predictions, _ = world
    expected = [{k: r[k] for k in ("incident_id", "target", "value", "interval_low", "interval_high", "tier",
                                   "model_name", "scored_at")} for r in current(predictions).values()]
    assert {r["tier"] for r in expected} == {"baseline", "model"}
    check_rows(select(session, env, "v_current_predictions"), expected, ("incident_id", "target"))


def open_risk(data: vd.Dataset, predictions: list[Row]) -> list[Row]:
    chosen = current(predictions)
    rows = []
    for i in overview(data).values():
        if not i["is_open"]:
            continue
        est = {t: chosen.get((i["incident_id"], t)) for t in ("escalation", "sla_breach", "resolution_hours")}
        breached = i["resolve_sla_met"] is False
        prob = est["sla_breach"]["value"] if est["sla_breach"] else None
        risk = 1 if breached else prob
        res = est["resolution_hours"]
        rows.append({
            "incident_id": i["incident_id"], "priority": i["priority"], "assigned_team": i["assigned_team"],
            "age_hours": round(i["age_minutes"] / 60, 2), "sla_resolve_hours": round(i["sla_resolve_minutes"] / 60, 2),
            "is_resolve_sla_breached": breached, "breach_probability": prob, "breach_risk": risk,
            "escalation_probability": est["escalation"]["value"] if est["escalation"] else None,
            "revenue_at_stake": float(i["revenue_impact"]),
            "expected_revenue_at_risk": None if risk is None else round(risk * float(i["revenue_impact"]), 2),
            "resolution_hours_estimate": res["value"] if res else None,
            "resolution_hours_low": res["interval_low"] if res else None,
            "resolution_hours_high": res["interval_high"] if res else None,
            "expected_resolved_at": i["created_at"] + dt.timedelta(hours=res["value"]) if res else None,
            "breach_model_name": est["sla_breach"]["model_name"] if est["sla_breach"] else None,
            "scored_at": max((e["scored_at"] for e in est.values() if e), default=None)})
    order = sorted(rows, key=lambda r: (r["expected_revenue_at_risk"] is None, -(r["expected_revenue_at_risk"] or 0),
                                        r["breach_risk"] is None, -(r["breach_risk"] or 0), r["incident_id"]))
    for rank, row in enumerate(order, start=1):
        row["risk_rank"] = rank
    return rows


def test_open_incident_risk(world: World) -> None:
    session, env, data, predictions, _ = world
    expected = open_risk(data, predictions)
    assert any(r["is_resolve_sla_breached"] for r in expected) and any(r["breach_probability"] for r in expected)
    check_rows(select(session, env, "v_open_incident_risk"), expected, ("incident_id",), loose={"age_hours": 0.05})


def test_open_incident_risk_ranks_unscored_incidents_last(world: World) -> None:
    session, env, *_ = world
    session.execute(f"DELETE FROM {vd.fq(env, 'incident_predictions')} WHERE incident_id = 2003")
    try:
        rows = select(session, env, "v_open_incident_risk")
        by_rank = sorted(rows, key=lambda r: r["risk_rank"])
        unscored = next(r for r in rows if r["incident_id"] == 2003)
        assert unscored["breach_probability"] is None and unscored["resolution_hours_estimate"] is None
        assert by_rank[-1]["expected_revenue_at_risk"] is None
        assert [r["risk_rank"] for r in by_rank] == list(range(1, len(rows) + 1))
    finally:
        _load(session, env, "incident_predictions", [r for r in world[3] if r["incident_id"] == 2003])


# --------------------------------------------------------------------------- planning

def test_sla_tuning(world: World) -> None:
    session, env, data, *_ = world
    measured: list[Row] = []
    for i in overview(data).values():
        if i["is_cancelled_or_duplicate"]:
            continue
        for order, milestone, target in ((1, "acknowledge", "acknowledge"), (2, "first_response", "first_response"),
                                         (3, "resolve", "resolve")):
            if i[f"minutes_to_{milestone}"] is not None:
                measured.append({"top_category_id": i["top_category_id"], "priority": i["priority"],
                                 "milestone": milestone, "order": order, "minutes": i[f"minutes_to_{milestone}"],
                                 "target": i[f"sla_{target}_minutes"]})
    expected = []
    for (top, prio, milestone), rows in vd.group(measured, lambda r: (r["top_category_id"], r["priority"],
                                                                       r["milestone"])).items():
        mins = [r["minutes"] for r in rows]
        expected.append({"top_category_id": top, "priority": prio, "milestone": milestone,
                         "milestone_order": rows[0]["order"], "measured_incidents": len(rows),
                         "current_target_minutes": rows[0]["target"],
                         "current_met_pct": vd.pct(sum(m <= rows[0]["target"] for m in mins), len(mins)),
                         "target_met_by_80_pct": vd.percentile(mins, 0.8),
                         "target_met_by_90_pct": vd.percentile(mins, 0.9),
                         "target_met_by_95_pct": vd.percentile(mins, 0.95)})
    check_rows(select(session, env, "v_sla_tuning"), expected, ("top_category_id", "priority", "milestone"))


def test_team_capacity(world: World) -> None:
    session, env, data, predictions, volume = world
    now = utcnow()
    risk = {r["incident_id"]: r for r in open_risk(data, predictions)}
    teams = vd.group(overview(data).values(), lambda i: i["assigned_team"] or "(unassigned)")
    created = {t: sum(now - dt.timedelta(days=56) <= i["created_at"] < now for i in rows) for t, rows in teams.items()}
    next_4 = sum(r["forecast_incidents"] for r in forecast_12w(data, volume) if r["weeks_ahead"] <= 4)
    expected = []
    for team, rows in teams.items():
        open_rows = [risk[i["incident_id"]] for i in rows if i["is_open"]]
        since = now - dt.timedelta(days=56)
        resolved = sum(bool(i["is_resolved"] and i["resolved_at"] and since <= i["resolved_at"] < now) for i in rows)
        per_week = resolved / 8
        forecast = created[team] / sum(created.values()) * next_4
        risks = [r["breach_risk"] for r in open_rows if r["breach_risk"] is not None]
        hours = [max(r["resolution_hours_estimate"] - r["age_hours"], 0) for r in open_rows
                 if r["resolution_hours_estimate"] is not None]
        expected.append({
            "team": team, "open_incidents": len(open_rows),
            "open_critical_high_incidents": sum(r["priority"] in ("critical", "high") for r in open_rows),
            "open_resolve_sla_breached": sum(r["is_resolve_sla_breached"] for r in open_rows),
            "expected_breaches": round(sum(risks), 2) if risks else None,
            "estimated_hours_to_resolve": round(sum(hours), 2) if hours else None,
            "resolved_per_week": round(per_week, 2),
            "weeks_of_backlog": round(len(open_rows) / per_week, 2) if per_week else None,
            "forecast_next_4_weeks": round(forecast, 1),
            "load_vs_throughput_pct": vd.pct(len(open_rows) + forecast, 4 * per_week)})
    assert any(r["resolved_per_week"] for r in expected) and any(r["weeks_of_backlog"] is None for r in expected)
    check_rows(select(session, env, "v_team_capacity"), expected, ("team",),
               loose={"estimated_hours_to_resolve": 0.5, "forecast_next_4_weeks": 0.06, "load_vs_throughput_pct": 0.2})


def test_training_needs(world: World) -> None:
    session, env, data, *_ = world
    counted = [i for i in overview(data).values() if not i["is_cancelled_or_duplicate"]]
    counted_ids = {i["incident_id"] for i in counted}
    ping_pong: dict[int, int] = {}
    for iid, rows in vd.group(data.assignments, lambda a: a["incident_id"]).items():
        rows = sorted(rows, key=lambda a: (a["assigned_at"], a["assignment_id"]))
        ping_pong[iid] = sum(rows[k]["new_assignee_id"] == rows[k - 2]["new_assignee_id"] for k in range(2, len(rows)))
    category = {i["incident_id"]: i["category_id"] for i in counted}
    applied = [s for s in data.solutions if s["incident_id"] in counted_ids]
    judged = [s for s in applied if s["was_successful"] is not None]
    overall_success = sum(s["was_successful"] for s in judged) / len(judged)
    overall_reassign = sum(i["reassignment_count"] for i in counted) / len(counted)
    overall_ping = sum(ping_pong.get(i["incident_id"], 0) > 0 for i in counted) / len(counted)
    overall_reopen = sum(i["reopen_count"] > 0 for i in counted) / len(counted)
    expected = []
    for cid, rows in vd.group(counted, lambda i: i["category_id"]).items():
        apps = [s for s in applied if category[s["incident_id"]] == cid]
        known = [s for s in apps if s["was_successful"] is not None]
        ratings = [s["effectiveness_rating"] for s in apps if s["effectiveness_rating"] is not None]
        success = sum(s["was_successful"] for s in known) / len(known) if known else None
        reassign = sum(i["reassignment_count"] for i in rows) / len(rows)
        ping = sum(ping_pong.get(i["incident_id"], 0) > 0 for i in rows)
        reopen = sum(i["reopen_count"] > 0 for i in rows)
        big = len(rows) >= 10
        signals = [name for name, hit in (
            ("low_solution_success", big and success is not None and success < overall_success - 0.10),
            ("many_reassignments", big and reassign > 1.25 * overall_reassign),
            ("frequent_ping_pong", big and ping / len(rows) > 1.5 * overall_ping),
            ("frequent_reopens", big and reopen / len(rows) > 1.5 * overall_reopen)) if hit]
        expected.append({"category_id": cid, "incidents": len(rows), "solution_applications": len(apps),
                         "solution_success_pct": None if success is None else round(100 * success, 2),
                         "overall_solution_success_pct": round(100 * overall_success, 2),
                         "avg_effectiveness_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
                         "avg_reassignments": round(reassign, 2),
                         "overall_avg_reassignments": round(overall_reassign, 2),
                         "ping_pong_pct": vd.pct(ping, len(rows)), "reopen_pct": vd.pct(reopen, len(rows)),
                         "training_signals": len(signals), "signals": ", ".join(signals)})
    assert any(r["training_signals"] for r in expected) and any(not r["training_signals"] for r in expected)
    check_rows(select(session, env, "v_training_needs"), expected, ("category_id",))


def test_incident_cost(world: World) -> None:
    session, env, data, *_ = world
    now = utcnow()
    costed = []
    for i in overview(data).values():
        if i["is_cancelled_or_duplicate"]:
            continue
        rate = RATES[i["priority"]]
        start = i["acknowledged_at"] or i["created_at"]
        end = now if i["is_open"] else (i["resolved_at"] or i["closed_at"])
        seconds = vd.seconds(start, end)
        hours = None if seconds is None else min(int(seconds) / 3600, rate["max_engaged_hours"]) * rate["responders"]
        costed.append({"month": i["created_at"].date().replace(day=1), "top": i["top_category_id"],
                       "open": i["is_open"],
                       "hours": hours, "labour": None if hours is None else hours * rate["hourly_rate"],
                       "revenue": float(i["revenue_impact"])})
    expected = []
    for (month, top), rows in vd.group(costed, lambda r: (r["month"], r["top"])).items():
        labour = sum(r["labour"] for r in rows if r["labour"] is not None)
        revenue = sum(r["revenue"] for r in rows)
        expected.append({"month": month, "top_category_id": top, "incidents": len(rows),
                         "open_incidents": sum(r["open"] for r in rows),
                         "responder_hours": round(sum(r["hours"] for r in rows if r["hours"] is not None), 2),
                         "labour_cost": round(labour, 2), "revenue_impact": round(revenue, 2),
                         "total_cost": round(labour + revenue, 2),
                         "cost_per_incident": round((labour + revenue) / len(rows), 2)})
    assert any(r["open_incidents"] for r in expected)
    money = {"labour_cost": 1.0, "total_cost": 1.0, "cost_per_incident": 1.0, "responder_hours": 0.01}
    check_rows(select(session, env, "v_incident_cost"), expected, ("month", "top_category_id"), loose=money)
