"""`incidents import servicenow|jira`: synthetic exports in both ServiceNow forms and the Jira form ->
incidents, history and users; the views give what an independent computation over the files gives;
re-imports change nothing; later and overlapping exports update what changed; bad rows land with
their error."""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from incidents import Workspace
from incidents.importers.synthetic import write_jira, write_servicenow

REPO = Path(__file__).resolve().parents[1]

# The documented default mappings of config/import.yml, written out independently of the code.
SN_STATUS = {"New": "new", "Active": "investigating", "Awaiting User Info": "investigating",
             "Awaiting Evidence": "investigating", "Awaiting Problem": "identified", "Awaiting Vendor": "identified",
             "Resolved": "resolved", "Closed": "closed", "Canceled": "cancelled"}
JIRA_STATUS = {"Open": "new", "Work in progress": "investigating", "Resolved": "resolved", "Closed": "closed",
               "Canceled": "cancelled"}
SN_PRIORITY = {"1 - Critical": "critical", "2 - High": "high", "3 - Moderate": "medium", "4 - Low": "low",
               "5 - Planning": "low"}
SN_URGENCY = {"1 - High": "high", "2 - Medium": "medium", "3 - Low": "low"}
JIRA_PRIORITY = {"Highest": "critical", "High": "high", "Medium": "medium", "Low": "low", "Lowest": "low"}
SN_IMPACT = {"1 - High": "major", "2 - Medium": "moderate", "3 - Low": "minor"}
SN_CATEGORY = {"Software": "SYSTEM_OUTAGE", "Hardware": "SYSTEM_OUTAGE", "Network": "PERFORMANCE", "Database": "DATA",
               "Inquiry / Help": "ACCOUNT"}
OPEN = {"new", "acknowledged", "investigating", "identified", "mitigated"}
RESOLVED = {"resolved", "closed"}


# --------------------------------------------------------------------------- independent reading of the files

def missing(value: str | None) -> str | None:
    return None if value in (None, "", "?") else value


def sn_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%d/%m/%Y %H:%M")


def servicenow_truth(path: Path) -> dict[str, dict[str, Any]]:
    """Per incident number, what the file says, computed with the csv module and nothing of the tool."""
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["number"]].append(row)
    truth = {}
    for number, events in rows.items():
        events.sort(key=lambda r: (sn_time(r["sys_updated_at"]), int(r["sys_mod_count"])))
        last = events[-1]
        statuses = [SN_STATUS.get(r["incident_state"], "investigating") for r in events]
        if int(events[0]["sys_mod_count"]) > 0:  # the export does not show the creation: opened New
            statuses.insert(0, "new")
        pairs = [(missing(r["assigned_to"]), missing(r["assignment_group"])) for r in events]
        priority = missing(last["priority"])
        truth[number] = {
            "status": statuses[-1], "statuses": statuses, "assignments": _assignments(pairs),
            "priority": SN_PRIORITY[priority] if priority else SN_URGENCY[last["urgency"]],
            "category": SN_CATEGORY.get(last["category"], "SYSTEM_OUTAGE"),
            "impact": SN_IMPACT[last["impact"]], "sla_met": last["made_sla"] == "true",
            "reopen_count": int(last["reopen_count"]), "reassignment_count": int(last["reassignment_count"]),
            "created": sn_time(last["opened_at"]),
            "resolved": sn_time(last["resolved_at"]) if missing(last["resolved_at"]) else None,
        }
    return truth


def jira_truth(path: Path) -> dict[str, dict[str, Any]]:
    """Per issue key, what the search responses say, read with the json module."""
    document = json.loads(path.read_text(encoding="utf-8"))
    pages = document if isinstance(document, list) else [document]
    truth = {}
    for issue in (i for page in pages for i in page["issues"]):
        fields = issue["fields"]
        histories = sorted(issue["changelog"]["histories"], key=lambda h: jira_time(h["created"]))
        status_items = [i for h in histories for i in h["items"] if i["field"] == "status"]
        statuses = [status_items[0]["fromString"] if status_items else fields["status"]["name"]]
        statuses += [i["toString"] for i in status_items]
        mapped = [JIRA_STATUS.get(s, "investigating") for s in statuses]
        assignee_items = [i for h in histories for i in h["items"] if i["field"] == "assignee"]
        first = assignee_items[0]["from"] if assignee_items else (fields["assignee"] or {}).get("accountId")
        pairs = [(first, None)] + [(i["to"], None) for i in assignee_items]
        sla = fields["customfield_10030"]
        cycles = sla["completedCycles"] + ([sla["ongoingCycle"]] if "ongoingCycle" in sla else [])
        truth[issue["key"]] = {
            "status": mapped[-1], "statuses": mapped, "assignments": _assignments(pairs),
            "priority": JIRA_PRIORITY[fields["priority"]["name"]], "category": "SYSTEM_OUTAGE", "impact": "moderate",
            "sla_met": not any(c["breached"] for c in cycles),
            "reopen_count": _reopens(mapped),
            "reassignment_count": sum(1 for a, b in pairwise(pairs) if a[0] is not None and a != b),
            "created": jira_time(fields["created"]),
            "resolved": jira_time(fields["resolutiondate"]) if fields["resolutiondate"] else None,
        }
    return truth


def jira_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc).replace(tzinfo=None)


def _assignments(pairs: list[tuple[Any, Any]]) -> int:
    """Assignment rows: the first (assignee, group) that names either, then every change of the pair."""
    count, previous = 0, (None, None)
    for i, pair in enumerate(pairs):
        if (i == 0 and pair != (None, None)) or (i > 0 and pair != previous):
            count += 1
        previous = pair
    return count


def _reopens(statuses: list[str]) -> int:
    changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    return sum(1 for a, b in pairwise(changes) if a in RESOLVED and b in OPEN)


def median_minutes(values: list[float]) -> float:
    return round(statistics.median(round(v, 2) for v in values), 2)


# --------------------------------------------------------------------------- the warehouse

@pytest.fixture
def exports(tmp_path: Path) -> dict[str, Path]:
    return {"events": write_servicenow(tmp_path / "incident_event_log.csv", 160, seed=3),
            "jira": write_jira(tmp_path / "issues.json", 60, seed=5)}


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_servicenow_and_jira_exports_end_to_end(exports: dict[str, Path], deployed_local: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """One warehouse (on the Snowflake-rules target, the stricter one), both exports imported, every
    figure checked, then both imported again. One test, so the imports run once whatever the workers."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    with Workspace.open(REPO, env="dev") as ws:
        results = {"servicenow": ws.import_("servicenow", exports["events"]),
                   "jira": ws.import_("jira", exports["jira"])}
        check_report(ws, results, exports)
        check_views(ws, exports)
        check_source_values(ws)
        check_reimport(ws, exports)


def check_report(ws: Workspace, results: dict[str, Any], exports: dict[str, Path]) -> None:
    sn, jira = results["servicenow"], results["jira"]
    rows = sum(1 for _ in exports["events"].open(encoding="utf-8")) - 1
    assert (sn.rows, sn.rejected, sn.incidents, sn.inserted, sn.updated, sn.date_order) == (
        rows, 0, 160, 160, 0, "day-first")
    assert (jira.rejected, jira.incidents, jira.inserted) == (0, 60, 60)
    fallbacks = {(f.field, f.value) for f in sn.fallbacks}
    assert {("category", "Category 55"), ("category", "Category 26"), ("status", "-100")} <= fallbacks
    assert ("status", "Escalated to vendor") in {(f.field, f.value) for f in jira.fallbacks}
    assert ws.check(record=False).ok  # keys, references, lifecycle order and status history all consistent


def check_views(ws: Workspace, exports: dict[str, Path]) -> None:
    """The existing views give what an independent reading of the files gives."""
    sn, jira = servicenow_truth(exports["events"]), jira_truth(exports["jira"])
    everything = {**sn, **jira}
    by_state = ws.query("SELECT source_system, status, COUNT(*) AS n FROM v_incident_overview "
                        "GROUP BY source_system, status")
    assert {(r["SOURCE_SYSTEM"], r["STATUS"]): r["N"] for r in by_state} == {
        **{("servicenow", s): n for s, n in Counter(t["status"] for t in sn.values()).items()},
        **{("jira", s): n for s, n in Counter(t["status"] for t in jira.values()).items()}}
    sums = {r["SOURCE_SYSTEM"]: r for r in ws.query(
        "SELECT source_system, SUM(reopen_count) AS reopens, SUM(reassignment_count) AS reassignments, "
        "COUNT_IF(resolve_sla_met) AS met, COUNT(resolve_sla_met) AS measured FROM v_incident_overview "
        "GROUP BY source_system")}
    for name, truth in (("servicenow", sn), ("jira", jira)):
        assert sums[name]["REOPENS"] == sum(t["reopen_count"] for t in truth.values())
        assert sums[name]["REASSIGNMENTS"] == sum(t["reassignment_count"] for t in truth.values())
        assert (sums[name]["MET"], sums[name]["MEASURED"]) == (sum(t["sla_met"] for t in truth.values()), len(truth))
    reopen = ws.query("SELECT SUM(reopen_events) AS events, SUM(reopened_incidents) AS incidents FROM v_reopen_rate")[0]
    transitions = {k: _reopens(t["statuses"]) for k, t in everything.items()}
    assert (reopen["EVENTS"], reopen["INCIDENTS"]) == (sum(transitions.values()),
                                                       sum(1 for n in transitions.values() if n))
    handoffs = {r["INCIDENT_NUMBER"]: r["ASSIGNMENTS"] for r in ws.query(
        "SELECT incident_number, assignments FROM v_assignment_handoffs")}
    assert handoffs == {k: t["assignments"] for k, t in everything.items() if t["assignments"]}
    medians = {r["PRIORITY"]: float(r["MEDIAN_MINUTES"]) for r in ws.query(
        "SELECT priority, median_minutes FROM v_duration_distribution WHERE metric = 'resolve'")}
    expected: dict[str, list[float]] = defaultdict(list)
    for t in everything.values():
        if t["status"] in RESOLVED:
            expected[t["priority"]].append((t["resolved"] - t["created"]).total_seconds() / 60)
    assert medians.keys() == expected.keys()
    for priority, minutes in expected.items():
        assert medians[priority] == pytest.approx(median_minutes(minutes), abs=0.011), priority
    groups = Counter((t["category"], t["impact"]) for t in everything.values())
    met = Counter((t["category"], t["impact"]) for t in everything.values() if t["sla_met"])
    sla = {(r["CATEGORY_CODE"], r["IMPACT_LEVEL"]): (r["TOTAL_INCIDENTS"], float(r["RESOLVE_SLA_MET_PCT"]))
           for r in ws.query("SELECT category_code, impact_level, total_incidents, resolve_sla_met_pct "
                             "FROM v_sla_performance")}
    assert sla == {g: (n, round(100 * met[g] / n, 2)) for g, n in groups.items()}


def check_source_values(ws: Workspace) -> None:
    keys = ws.query("SELECT COUNT(*) AS n, COUNT(source_key) AS keyed, COUNT(DISTINCT source_key) AS distinct_keys "
                    "FROM incidents")[0]
    assert keys["N"] == keys["KEYED"] == keys["DISTINCT_KEYS"] == 220
    for table in ("incident_status_history", "incident_assignment_history"):
        row = ws.query(f"SELECT COUNT(*) AS n, COUNT(DISTINCT source_key) AS k FROM {table}")[0]
        assert row["N"] == row["K"] > 0
    person = ws.query("SELECT email, user_key, full_name FROM users WHERE user_key LIKE 'jira:%' ORDER BY user_key "
                      "LIMIT 1")[0]
    assert person["USER_KEY"] == "jira:" + person["EMAIL"].split("@")[0]
    assert person["EMAIL"].endswith("@jira.import.invalid") and person["FULL_NAME"].startswith("Agent ")
    names = ws.query("SELECT COUNT(*) AS n FROM users WHERE user_key LIKE 'servicenow:%' "
                     "AND (user_key LIKE '%Resolver%' OR email LIKE '%Resolver%')")[0]
    assert names["N"] == 0  # display names never become keys or addresses


def check_reimport(ws: Workspace, exports: dict[str, Path]) -> None:
    """Importing the same exports again changes nothing."""
    before = _snapshot(ws)
    again = ws.import_("servicenow", exports["events"])
    assert (again.inserted, again.updated, again.unchanged, again.status_rows, again.assignment_rows,
            again.removed_rows, again.people_inserted) == (0, 0, 160, 0, 0, 0, 0)
    assert ws.import_("jira", exports["jira"]).unchanged == 60
    assert _snapshot(ws) == before


def _snapshot(ws: Workspace) -> dict[str, Any]:
    """Every imported row, exactly (raw_import_rows keeps one row per event: its count must not grow)."""
    return {table: ws.query(f"SELECT * FROM {table} ORDER BY 1, 2").rows
            for table in ("incidents", "incident_status_history", "incident_assignment_history", "users")} | {
        "landed": ws.query("SELECT COUNT(*) AS n FROM raw_import_rows").rows}
