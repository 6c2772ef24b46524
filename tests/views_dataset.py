"""A small, fully known dataset for the analytics-view tests, its loader, and an independent Python
implementation of every documented metric (from config/views.yml), written from the definitions,
not from the SQL.

Timestamps are whole seconds, UTC, naive. Historical incidents live in 2024 (June has none, so the
monthly spine must show an empty month); open incidents are placed relative to `now` with ages far
from every bucket and SLA boundary, so a test that runs for minutes still sees the same buckets.
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.sql.session import Session
from incidents.targets.local import open_local

REPO = Path(__file__).resolve().parents[1]
# The status phases, from project.yml's `lifecycle:` (declared once; the views read the same).
LIFECYCLE = load_project(REPO).lifecycle
OPEN, RESOLVED, EXCLUDED = tuple(LIFECYCLE.open), tuple(LIFECYCLE.resolved), tuple(LIFECYCLE.excluded)
PRIORITIES = ("critical", "high", "medium", "low")
STAFF_ROLES = ("support_agent", "engineer", "manager", "admin")

Row = dict[str, Any]


def reference_rows(table: str) -> list[Row]:
    """The reference_data rows deploy merges in, read straight from the YAML."""
    data = yaml.safe_load((REPO / "config" / "tables" / f"{table}.yml").read_text())
    return data["reference_data"]["rows"]


@dataclass
class Dataset:
    now: dt.datetime
    users: list[Row] = field(default_factory=list)
    categories: list[Row] = field(default_factory=list)
    templates: list[Row] = field(default_factory=list)
    incidents: list[Row] = field(default_factory=list)
    status_history: list[Row] = field(default_factory=list)
    assignments: list[Row] = field(default_factory=list)
    solutions: list[Row] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[Row]]]:
        """Parents before children; self-referencing rows in a later batch (fakesnow checks per statement)."""
        roots = [c for c in self.categories if c["parent_category_id"] is None]
        level1 = [c for c in self.categories if c["parent_category_id"] in {r["category_id"] for r in roots}]
        rest = [c for c in self.categories if c not in roots and c not in level1]
        return [
            ("users", self.users),
            ("incident_categories", roots), ("incident_categories", level1), ("incident_categories", rest),
            ("solution_templates", self.templates),
            ("incidents", [i for i in self.incidents if i["parent_incident_id"] is None]),
            ("incidents", [i for i in self.incidents if i["parent_incident_id"] is not None]),
            ("incident_status_history", self.status_history),
            ("incident_assignment_history", self.assignments),
            ("incident_solutions", self.solutions),
        ]


def _ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second)


def build(now: dt.datetime, *, seed: int = 7, historical: int = 160) -> Dataset:
    """Users, a 3-level category tree, 160 random 2024 incidents (no June), BFCM incidents, hand-made
    edge cases, and open incidents relative to `now`."""
    rng = random.Random(seed)
    now = now.replace(microsecond=0)
    d = Dataset(now=now)
    d.users.append(_user(1, "system", None, "Monitoring Bot"))
    d.users.append(_user(2, "customer", None, "Carla Customer"))
    staff_ids = []
    for uid, (role, team) in enumerate([("engineer", "payments"), ("engineer", "payments"), ("engineer", "platform"),
                                        ("support_agent", "support"), ("support_agent", "support"),
                                        ("manager", "platform"), ("admin", "platform")], start=10):
        d.users.append(_user(uid, role, team, f"Staff {uid}"))
        staff_ids.append(uid)
    d.users.append({**_user(30, "engineer", "platform", "Former Staff"), "is_active": False})

    # id, parent, code: three levels under PAY, one root without incidents (SEC).
    for cid, parent, code in [(1, None, "SYS"), (2, None, "PAY"), (3, None, "SHIP"), (4, None, "SEC"),
                              (21, 2, "PAY.GATEWAY"), (22, 2, "PAY.FRAUD"), (11, 1, "SYS.DB"),
                              (211, 21, "PAY.GATEWAY.TIMEOUT")]:
        d.categories.append({"category_id": cid, "parent_category_id": parent, "code": code,
                             "name": code.title(), "description": None, "default_priority": "medium",
                             "is_active": cid != 3, "created_at": _ts(2023, 1, 1)})
    incident_categories = [1, 2, 3, 11, 21, 22, 211]
    for sid, cat in [(1, 21), (2, 11), (3, None)]:
        d.templates.append({"solution_id": sid, "code": f"RB{sid}", "title": f"Runbook {sid}", "description": None,
                            "category_id": cat, "steps": ["check", "fix"], "effectiveness_rating": None,
                            "usage_count": 0,
                            "last_used_at": None, "is_active": sid != 2, "created_by": 10,
                            "created_at": _ts(2023, 1, 1), "updated_at": None})

    months = [m for m in range(1, 13) if m != 6]
    for n in range(historical):
        created = _ts(2024, rng.choice(months), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                      rng.randint(0, 59))
        status = rng.choices(["resolved", "closed", "cancelled", "duplicate", "investigating", "new"],
                             [40, 30, 6, 6, 3, 2])[0]
        _incident(d, rng, 1000 + n, created, status, rng.choice(incident_categories), staff_ids)
    # Black Friday 2024 is Nov 29, Cyber Monday Dec 2; baseline window Oct 25 - Nov 21.
    for n, day in enumerate([_ts(2024, 11, 29, 9), _ts(2024, 11, 30, 14), _ts(2024, 12, 2, 23, 30),
                             _ts(2024, 11, 29, 0, 0, 1), _ts(2024, 10, 25, 0, 0, 0), _ts(2024, 11, 21, 23, 59, 59),
                             _ts(2024, 11, 22, 12)]):
        _incident(d, rng, 1500 + n, day, "resolved", 21, staff_ids)

    # Hand-made edge cases.
    edge = _incident(d, rng, 1600, _ts(2024, 3, 3, 10), "resolved", 11, staff_ids)
    edge["acknowledged_at"] = edge["created_at"] - dt.timedelta(minutes=5)  # negative duration
    edge = _incident(d, rng, 1601, _ts(2024, 3, 4, 10), "closed", 11, staff_ids)
    edge["resolved_at"] = None  # closed without resolved_at: missing timestamp, not in MTTR
    edge = _incident(d, rng, 1602, _ts(2024, 3, 5, 10), "resolved", 211, staff_ids)
    edge.update(acknowledged_at=None, first_response_at=None, mitigated_at=None)  # NULL timestamps
    edge = _incident(d, rng, 1603, _ts(2024, 3, 6, 10), "closed", 211, staff_ids)
    edge["closed_at"] = edge["resolved_at"] - dt.timedelta(minutes=1)  # closed before resolved
    # A duplicate pointing at its original.
    dup = _incident(d, rng, 1604, _ts(2024, 4, 1, 8), "duplicate", 21, staff_ids)
    dup["parent_incident_id"] = 1000

    # Open incidents relative to now: (minutes ago, priority, acknowledged?, responded?).
    for n, (ago, prio, acked, responded) in enumerate([
        (2, "critical", False, False), (30, "critical", True, False), (100, "high", True, True),
        (150, "high", False, False), (600, "medium", True, True), (2000, "medium", True, False),
        (5000, "low", True, True), (12000, "low", False, False), (50000, "high", True, True),
        (200, "critical", True, True), (2700, "medium", True, True), (13500, "low", True, True),
    ]):
        created = now - dt.timedelta(minutes=ago)
        inc = _incident(d, rng, 2000 + n, created, rng.choice(OPEN), rng.choice(incident_categories), staff_ids,
                        priority=prio, open_ages=(ago, acked, responded))
        if n == 3:
            inc["assignee_id"] = None
            inc["assigned_team"] = None
    _histories(d, rng, staff_ids)
    _solutions(d, rng)
    return d


def _user(uid: int, role: str, team: str | None, name: str) -> Row:
    return {"user_id": uid, "email": f"user{uid}@example.com", "full_name": name, "role": role, "team": team,
            "is_active": True, "timezone": "UTC", "created_at": _ts(2023, 1, 1), "updated_at": None,
            "metadata": None}


def _minutes(rng: random.Random, lo: int, hi: int) -> dt.timedelta:
    return dt.timedelta(seconds=rng.randint(lo * 60, hi * 60))


def _incident(d: Dataset, rng: random.Random, iid: int, created: dt.datetime, status: str, category: int,
              staff: list[int], *, priority: str | None = None,
              open_ages: tuple[int, bool, bool] | None = None) -> Row:
    priority = priority or rng.choice(PRIORITIES)
    assignee = rng.choice(staff)
    team = next(u["team"] for u in d.users if u["user_id"] == assignee)
    row: Row = {
        "incident_id": iid, "incident_number": f"INC-{iid}", "title": f"Incident {iid}", "description": None,
        "category_id": category, "status": status, "priority": priority,
        "severity": rng.choice(["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]),
        "impact_level": rng.choice(["critical", "major", "moderate", "minor", "none"]),
        "source": rng.choice(["monitoring", "customer_report", "internal", "partner", "automated"]),
        "source_system": rng.choice(["datadog", "zendesk", None]),
        "reporter_id": rng.choice([1, 2, 13]), "assignee_id": assignee, "assigned_team": team,
        "customers_affected": rng.choice([0, 0, 15, 300, 2500, 20000]),
        "revenue_impact": rng.choice([0, 0, 99.99, 1250.5, 40000, 250000]),
        "is_escalated": False, "escalation_level": 0, "reopen_count": 0, "reassignment_count": 0,
        "parent_incident_id": None, "detected_at": None, "created_at": created,
        "acknowledged_at": None, "first_response_at": None, "mitigated_at": None, "resolved_at": None,
        "closed_at": None, "updated_at": created, "root_cause": None, "root_cause_category": None,
        "resolution_summary": None, "resolution_code": None,
    }
    if rng.random() < 0.3:
        row["escalation_level"] = rng.randint(1, 3)
        row["is_escalated"] = True
    if rng.random() < 0.5:
        row["detected_at"] = created - _minutes(rng, 0, 30)
    if open_ages is not None:
        ago, acked, responded = open_ages
        if acked:
            row["acknowledged_at"] = created + dt.timedelta(minutes=min(1, ago / 2))
        if responded:
            row["first_response_at"] = created + dt.timedelta(minutes=min(2, ago / 2))
    elif status not in EXCLUDED:
        ack = created + _minutes(rng, 0, 300)
        row["acknowledged_at"] = ack if rng.random() < 0.95 else None
        row["first_response_at"] = ack + _minutes(rng, 0, 600)
        if status in RESOLVED:
            resolved = created + _minutes(rng, 10, 20000)
            row["mitigated_at"] = created + (resolved - created) / 2 if rng.random() < 0.7 else None
            row["resolved_at"] = resolved.replace(microsecond=0)
            if status == "closed":
                row["closed_at"] = resolved + _minutes(rng, 1, 3000)
        if row["mitigated_at"]:
            row["mitigated_at"] = row["mitigated_at"].replace(microsecond=0)
    d.incidents.append(row)
    return row


def _histories(d: Dataset, rng: random.Random, staff: list[int]) -> None:
    hid = aid = 1
    for inc in d.incidents:
        reopened = inc["status"] in RESOLVED and rng.random() < 0.25
        path = {
            ("resolved", False): ["new", "acknowledged", "investigating", "resolved"],
            ("resolved", True): ["new", "acknowledged", "investigating", "resolved", "investigating", "resolved"],
            ("closed", False): ["new", "acknowledged", "resolved", "closed"],
            ("closed", True): ["new", "acknowledged", "resolved", "investigating", "resolved", "closed"],
            ("cancelled", False): ["new", "cancelled"], ("duplicate", False): ["new", "duplicate"],
            ("new", False): ["new"],
        }.get((inc["status"], reopened), ["new", inc["status"]] if inc["status"] == "acknowledged"
              else ["new", "acknowledged", inc["status"]])
        if inc["incident_id"] == 1602:
            path = ["new", "resolved", "resolved"]  # illegal: no-op change
        if inc["incident_id"] == 1603:
            path = ["new", "investigating", "closed"]  # illegal: closed without resolving
        if inc["incident_id"] == 1604:
            path = ["new", "duplicate", "investigating", "duplicate"]  # illegal: leaves duplicate
        at = inc["created_at"]
        end = inc["closed_at"] or inc["resolved_at"] or max(d.now, at + dt.timedelta(minutes=len(path)))
        step = max((end - at) / max(len(path), 1), dt.timedelta(seconds=1))
        previous = None
        for status in path:
            d.status_history.append({"status_history_id": hid, "incident_id": inc["incident_id"],
                                     "previous_status": previous, "new_status": status, "changed_by": 10,
                                     "change_reason": None, "changed_at": at.replace(microsecond=0)})
            hid += 1
            previous = status
            at = at + step
        # Assignments: 0-4, with an A -> B -> A return on some.
        if inc["assignee_id"] is None:
            continue
        k = rng.choice([1, 1, 2, 3, 4])
        chain = [rng.choice(staff) for _ in range(k)]
        if k >= 3 and rng.random() < 0.5:
            chain[2] = chain[0]
        t = inc["created_at"] + _minutes(rng, 0, 30)
        prev_user = prev_team = None
        for user in chain:
            team = next(u["team"] for u in d.users if u["user_id"] == user)
            d.assignments.append({"assignment_id": aid, "incident_id": inc["incident_id"],
                                  "previous_assignee_id": prev_user, "new_assignee_id": user,
                                  "previous_team": prev_team, "new_team": team, "assigned_by": 15,
                                  "assignment_reason": None, "assigned_at": t})
            aid += 1
            prev_user, prev_team = user, team
            t = t + _minutes(rng, 1, 240)
    # Same-timestamp tie: ordering falls back to assignment_id.
    d.assignments.append({**d.assignments[-1], "assignment_id": aid, "previous_assignee_id": d.assignments[-1][
        "new_assignee_id"], "new_assignee_id": 10, "previous_team": d.assignments[-1]["new_team"],
        "new_team": "payments"})


def _solutions(d: Dataset, rng: random.Random) -> None:
    sid = 1
    for inc in d.incidents:
        if inc["status"] in RESOLVED and rng.random() < 0.4:
            for template in rng.sample([1, 2], rng.randint(1, 2)):
                d.solutions.append({"incident_solution_id": sid, "incident_id": inc["incident_id"],
                                    "solution_id": template, "applied_by": 10,
                                    "applied_at": inc["created_at"] + dt.timedelta(minutes=5),
                                    "was_successful": rng.choice([True, False, None]),
                                    "effectiveness_rating": rng.choice([1, 3, 5, None]),
                                    "time_to_apply_minutes": rng.choice([5, 30, None]), "notes": None})
                sid += 1


def load(session: Any, d: Dataset, database: str, schema: str) -> None:
    """Bulk-load through fakesnow's write_pandas (one DuckDB INSERT per batch; constraints enforced)."""
    import pandas as pd
    from fakesnow.pandas_tools import write_pandas

    # The dataset's own category tree, in place of the taxonomy deploy added (config's reference rows).
    session.execute(f"DELETE FROM {database}.{schema}.INCIDENT_CATEGORIES")
    for table, rows in d.tables():
        if not rows:
            continue
        frame = pd.DataFrame(rows).astype(object)
        frame = frame.where(frame.notna(), None)
        frame.columns = [c.upper() for c in frame.columns]
        write_pandas(session.conn, frame, table.upper(), database=database, schema=schema)
    refresh_materialized(session, database, schema)


def refresh_materialized(session: Any, database: str, schema: str) -> None:
    """What every load does last (seed, ingest, import): the local tables of the materialized views refreshed."""
    import dataclasses

    from incidents.kinds.dynamic_table import refresh

    project = load_project(REPO)
    env = dataclasses.replace(environment(project, "dev"), database=database, schema=schema)
    refresh(session, Deployment(project, env))


# --------------------------------------------------------------------------- reference implementation

def seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def minutes(secs: float | None) -> float | None:
    return None if secs is None else round(secs / 60, 2)


def mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 2) if vals else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    pos = q * (len(vals) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return round(vals[lo] + (vals[hi] - vals[lo]) * (pos - lo), 2)


def pct(num: float, den: float) -> float | None:
    return None if not den else round(100 * num / den, 2)


def count(rows: Iterable[Row], pred: Callable[[Row], bool] = lambda r: True) -> int:
    return sum(1 for r in rows if pred(r))


def group(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        out[key(r)].append(r)
    return out


def category_tree(d: Dataset) -> dict[int, Row]:
    by_id = {c["category_id"]: c for c in d.categories}
    out = {}
    for c in d.categories:
        chain = [c]
        while chain[-1]["parent_category_id"] is not None:
            chain.append(by_id[chain[-1]["parent_category_id"]])
        top = chain[-1]
        out[c["category_id"]] = {"category_id": c["category_id"], "category_code": c["code"],
                                 "category_name": c["name"], "parent_category_id": c["parent_category_id"],
                                 "top_category_id": top["category_id"], "top_category_code": top["code"],
                                 "top_category_name": top["name"], "depth": len(chain) - 1,
                                 "category_path": " > ".join(x["code"] for x in reversed(chain)),
                                 "is_active": c["is_active"]}
    return out


def scaled(value: float, saturation: float) -> float:
    """A scaled score factor: value / saturation, between 0 and 1."""
    return min(max(value / saturation, 0), 1)


def overview(d: Dataset, now: dt.datetime, sla: list[Row] | None = None) -> dict[int, Row]:
    """Per-incident metrics as documented in config/views.yml."""
    sla_by = {r["priority"]: r for r in (sla or reference_rows("sla_policies"))}
    weights = {(w["factor"], w["factor_value"]): w for w in reference_rows("impact_score_weights")}
    tree = category_tree(d)
    users = {u["user_id"]: u for u in d.users}
    out = {}
    for i in d.incidents:
        is_open, is_resolved, excluded = i["status"] in OPEN, i["status"] in RESOLVED, i["status"] in EXCLUDED
        ack = None if excluded else seconds(i["created_at"], i["acknowledged_at"])
        resp = None if excluded else seconds(i["created_at"], i["first_response_at"])
        mit = None if excluded else seconds(i["created_at"], i["mitigated_at"])
        res = seconds(i["created_at"], i["resolved_at"]) if is_resolved else None
        age = (now - i["created_at"]).total_seconds() if is_open else None
        target = sla_by.get(i["priority"])

        def met(secs: float | None, at: dt.datetime | None, limit: str, i: Row = i, excluded: bool = excluded,
                is_open: bool = is_open, target: Row | None = target) -> bool | None:
            if excluded or target is None:
                return None
            if secs is not None:
                return secs <= target[limit] * 60
            if at is None and is_open and (now - i["created_at"]).total_seconds() > target[limit] * 60:
                return False
            return None

        resolve_met = None
        if target is not None:
            if res is not None:
                resolve_met = res <= target["resolve_minutes"] * 60
            elif is_open and age > target["resolve_minutes"] * 60:
                resolve_met = False
        cust, rev = weights[("customers_affected", "*")], weights[("revenue_impact", "*")]
        parts = {  # each part rounded to 2 decimals; the score is their sum (views.yml)
            "score_priority_points": weights.get(("priority", i["priority"]), {"points": 0})["points"],
            "score_impact_level_points": weights.get(("impact_level", i["impact_level"]), {"points": 0})["points"],
            "score_severity_points": weights.get(("severity", i["severity"]), {"points": 0})["points"],
            "score_customers_points": cust["points"] * scaled(i["customers_affected"], cust["saturation_value"]),
            "score_revenue_points": rev["points"] * scaled(float(i["revenue_impact"]), rev["saturation_value"]),
        }
        parts = {k: round(v, 2) for k, v in parts.items()}
        cat = tree[i["category_id"]]
        out[i["incident_id"]] = {
            **i, "category_code": cat["category_code"], "category_name": cat["category_name"],
            "top_category_id": cat["top_category_id"], "top_category_name": cat["top_category_name"],
            "assignee_name": users[i["assignee_id"]]["full_name"] if i["assignee_id"] else None,
            "is_open": is_open, "is_resolved": is_resolved, "is_cancelled_or_duplicate": excluded,
            "minutes_to_acknowledge": minutes(ack), "minutes_to_first_response": minutes(resp),
            "minutes_to_mitigate": minutes(mit), "minutes_to_resolve": minutes(res), "age_minutes": minutes(age),
            "sla_acknowledge_minutes": target and target["acknowledge_minutes"],
            "sla_first_response_minutes": target and target["first_response_minutes"],
            "sla_resolve_minutes": target and target["resolve_minutes"],
            "acknowledge_sla_met": met(ack, i["acknowledged_at"], "acknowledge_minutes"),
            "first_response_sla_met": met(resp, i["first_response_at"], "first_response_minutes"),
            "resolve_sla_met": resolve_met,
            **parts, "business_impact_score": round(sum(parts.values()), 2),
        }
    return out


# ------------------------------------------------- deploying and reading views (test_views, test_views_edge)

def deploy_target(path: Path, project: Project | None = None) -> tuple[Session, Project, Environment]:
    """A fresh local target with the schema, reference data and views deployed."""
    project = project or load_project(REPO)
    env = environment(project, "dev")
    session = open_local(path, env)
    from incidents.engine.apply import deploy

    deploy(session, Deployment(project, env))
    return session, project, env


def fq(env: Environment, name: str) -> str:
    return f"{env.database}.{env.schema}.{name}".upper()


def select(session: Session, env: Environment, view: str, where: str = "") -> list[dict[str, Any]]:
    rows = session.query(f"SELECT * FROM {fq(env, view)} {where}")
    return [{k.lower(): _plain(v) for k, v in r.items()} for r in rows]


def checked(session: Session, env: Environment, where: str = "") -> list[dict[str, Any]]:
    """Run `incidents check` (recording the run), then read v_data_quality_issues, which shows that run."""
    from incidents.checks import run_checks
    from incidents.project.config import load_project

    run_checks(session, Deployment(load_project(Path(__file__).resolve().parents[1]), env), "test")
    return select(session, env, "v_data_quality_issues", where)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, decimal.Decimal) else value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


