"""`incidents import`: hand-written exports that exercise every mapped field, missing values, reopen
cycles, reassignments, unknown states, rejected rows, a changed mapping, later and overlapping
exports, the Jira forms, and the user's mistakes (exit 2, one line naming the file and key)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app
from incidents.importers.synthetic import SERVICENOW_COLUMNS, write_servicenow

BASE = {"active": "true", "reassignment_count": "0", "reopen_count": "0", "made_sla": "true", "caller_id": "Caller 1",
        "opened_by": "Opened by 1", "sys_created_by": "Created by 1", "sys_updated_by": "Updated by 1",
        "contact_type": "Phone", "location": "Location 9", "category": "Network", "subcategory": "Subcategory 2",
        "u_symptom": "Symptom 3", "cmdb_ci": "?", "impact": "1 - High", "urgency": "1 - High",
        "priority": "1 - Critical",
        "assignment_group": "Group 56", "assigned_to": "?", "knowledge": "false", "u_priority_confirmation": "false",
        "notify": "Do Not Notify", "problem_id": "?", "rfc": "?", "vendor": "Vendor 4", "caused_by": "?",
        "closed_code": "?", "resolved_by": "?", "resolved_at": "?", "closed_at": "?"}


def row(number: str, mod: int, state: str, opened: str, updated: str, **fields: str) -> list[str]:
    values = {**BASE, "number": number, "sys_mod_count": str(mod), "incident_state": state, "opened_at": opened,
              "sys_created_at": opened, "sys_updated_at": updated, **fields}
    return [values[c] for c in SERVICENOW_COLUMNS]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SERVICENOW_COLUMNS)
        writer.writerows(rows)
    return path


OPENED = "1/3/2016 09:00"
CLOSED_RESOLVED = {"resolved_by": "Resolved by 8", "closed_code": "Solved (Permanently)", "assigned_to": "Resolver 8",
                   "assignment_group": "Group 70", "reassignment_count": "1"}
HANDWRITTEN = [
    # INC0000001: assigned, an unknown state, reassigned, resolved, reopened, resolved again, closed.
    row("INC0000001", 0, "New", OPENED, "1/3/2016 09:05", made_sla="false"),
    row("INC0000001", 1, "Active", OPENED, "1/3/2016 10:00", made_sla="false", assigned_to="Resolver 7",
        sys_updated_by="Updated by 2"),
    row("INC0000001", 2, "-100", OPENED, "1/3/2016 11:00", made_sla="false", assigned_to="Resolver 7"),
    row("INC0000001", 3, "Active", OPENED, "1/3/2016 12:00", made_sla="false", assigned_to="Resolver 8",
        assignment_group="Group 70", reassignment_count="1"),
    row("INC0000001", 4, "Resolved", OPENED, "1/3/2016 14:30", made_sla="false", resolved_at="1/3/2016 14:00",
        **CLOSED_RESOLVED),
    row("INC0000001", 5, "Active", OPENED, "2/3/2016 09:00", made_sla="false", resolved_at="1/3/2016 14:00",
        reopen_count="1", **CLOSED_RESOLVED),
    row("INC0000001", 6, "Resolved", OPENED, "2/3/2016 10:00", made_sla="false", resolved_at="2/3/2016 10:00",
        reopen_count="1", **CLOSED_RESOLVED),
    row("INC0000001", 7, "Closed", OPENED, "7/3/2016 10:00", made_sla="false", resolved_at="2/3/2016 10:00",
        closed_at="7/3/2016 10:00", reopen_count="1", active="false", **CLOSED_RESOLVED),
    # INC0000002: missing values; its creation is not in the export (sys_mod_count 3).
    row("INC0000002", 3, "Awaiting Vendor", "2/3/2016 08:00", "2/3/2016 12:00", priority="?", urgency="3 - Low",
        impact="?", category="?", contact_type="Walk-in", made_sla="?", assignment_group="?"),
    # INC0000003: a list-export row of a closed incident: opened, resolved at resolved_at, closed at closed_at.
    row("INC0000003", 9, "Closed", "3/3/2016 08:00", "6/3/2016 08:00", resolved_at="4/3/2016 10:00",
        closed_at="5/3/2016 10:00", priority="4 - Low", category="Database", contact_type="Email"),
    # INC0000004: resolved without resolved_at.
    row("INC0000004", 0, "New", "3/3/2016 09:00", "3/3/2016 09:00", priority="3 - Moderate", impact="3 - Low"),
    row("INC0000004", 1, "Resolved", "3/3/2016 09:00", "3/3/2016 12:00", priority="3 - Moderate", impact="3 - Low"),
    # Two rows that cannot make an incident.
    row("", 0, "New", "3/3/2016 09:00", "3/3/2016 09:00"),
    row("INC0000005", 0, "New", "30/2/2016 10:00", "3/3/2016 09:00", sys_created_at="3/3/2016 09:00"),
]


@pytest.fixture
def project(make_project: Callable[..., Path], deployed_local: Path) -> Path:
    """A copy of the repository's project on a copy of its deployed local target (deploy added the categories);
    config/import.yml maps Group 56."""
    root = make_project()
    config = root / "config" / "import.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "  groups:                    # assignment_group -> our team; default null: the group's own name is the team\n"
        "    default: null\n    map: {}",
        "  groups:                    # assignment_group -> our team; default null: the group's own name is the team\n"
        "    default: null\n    map: {Group 56: Payments}"), encoding="utf-8")
    return root


def run(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["import", *args, "--project-dir", str(root)])


def query(root: Path, sql: str) -> list[dict[str, Any]]:
    with Workspace.open(root, env="dev") as ws:
        return list(ws.query(sql))


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_every_mapped_field_missing_values_reopens_and_rejects(project: Path, tmp_path: Path) -> None:
    export = write_csv(tmp_path / "incidents.csv", HANDWRITTEN)
    result = run(project, "servicenow", str(export), "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["rejected"], report["incidents"], report["inserted"]) == (14, 2, 4, 4)
    assert report["errors"] == ["row 13: no number", "row 14: opened_at '30/2/2016 10:00' is not a date (day-first)"]
    assert "2 row(s) could not make an incident" in result.stderr
    assert {(f["field"], f["value"]) for f in report["fallbacks"]} == {
        ("status", "-100"), ("impact", None), ("category", None)}
    got = {r["INCIDENT_NUMBER"]: r for r in query(project, """
        SELECT i.incident_number, i.status, i.priority, i.severity, i.impact_level, c.code AS category, i.source,
               i.source_system, i.assigned_team, i.reopen_count, i.reassignment_count, i.created_at::VARCHAR AS created,
               i.resolved_at::VARCHAR AS resolved, i.closed_at::VARCHAR AS closed, i.resolution_code,
               i.source_sla_met, i.source_key, reporter.full_name AS reporter, assignee.full_name AS assignee,
               i.metadata:import:state::VARCHAR AS state, i.metadata:import:fields:vendor::VARCHAR AS vendor
        FROM incidents i JOIN incident_categories c ON c.category_id = i.category_id
        JOIN users reporter ON reporter.user_id = i.reporter_id
        LEFT JOIN users assignee ON assignee.user_id = i.assignee_id
        """)}
    assert got["INC0000001"] == {
        "INCIDENT_NUMBER": "INC0000001", "STATUS": "closed", "PRIORITY": "critical", "SEVERITY": "SEV1",
        "IMPACT_LEVEL": "major", "CATEGORY": "PERFORMANCE", "SOURCE": "customer_report", "SOURCE_SYSTEM": "servicenow",
        "ASSIGNED_TEAM": "Group 70", "REOPEN_COUNT": 1, "REASSIGNMENT_COUNT": 1, "CREATED": "2016-03-01 09:00:00",
        "RESOLVED": "2016-03-02 10:00:00", "CLOSED": "2016-03-07 10:00:00", "RESOLUTION_CODE": "fixed",
        "SOURCE_SLA_MET": False, "SOURCE_KEY": "servicenow:INC0000001", "REPORTER": "Caller 1",
        "ASSIGNEE": "Resolver 8", "STATE": "Closed", "VENDOR": "Vendor 4"}
    two = got["INC0000002"]
    assert (two["STATUS"], two["PRIORITY"], two["SEVERITY"], two["IMPACT_LEVEL"], two["CATEGORY"], two["SOURCE"],
            two["SOURCE_SLA_MET"], two["ASSIGNED_TEAM"], two["ASSIGNEE"]) == (
        "identified", "low", "SEV3", "moderate", "SYSTEM_OUTAGE", "customer_report", None, None, None)
    assert (got["INC0000003"]["CATEGORY"], got["INC0000003"]["PRIORITY"]) == ("DATA", "low")
    assert got["INC0000004"]["RESOLVED"] == "2016-03-03 12:00:00"  # no resolved_at: the change into resolved
    assert history(project) == {
        "INC0000001": [(None, "new", "2016-03-01 09:05:00"), ("new", "investigating", "2016-03-01 10:00:00"),
                       ("investigating", "resolved", "2016-03-01 14:00:00"),  # dated by resolved_at
                       ("resolved", "investigating", "2016-03-02 09:00:00"),
                       ("investigating", "resolved", "2016-03-02 10:00:00"),
                       ("resolved", "closed", "2016-03-07 10:00:00")],
        "INC0000002": [(None, "new", "2016-03-02 08:00:00"), ("new", "identified", "2016-03-02 12:00:00")],
        "INC0000003": [(None, "new", "2016-03-03 08:00:00"), ("new", "resolved", "2016-03-04 10:00:00"),
                       ("resolved", "closed", "2016-03-05 10:00:00")],
        "INC0000004": [(None, "new", "2016-03-03 09:00:00"), ("new", "resolved", "2016-03-03 12:00:00")]}
    assert assignments(project)["INC0000001"] == [
        (None, "Payments", None, "2016-03-01 09:05:00"), ("Payments", "Payments", "Resolver 7", "2016-03-01 10:00:00"),
        ("Payments", "Group 70", "Resolver 8", "2016-03-01 12:00:00")]
    assert query(project, "SELECT reopen_events FROM v_reopen_rate WHERE priority = 'critical'") == [
        {"REOPEN_EVENTS": 1}]
    assert query(project, "SELECT assignments, reassignments FROM v_assignment_handoffs "
                          "WHERE incident_number = 'INC0000001'") == [{"ASSIGNMENTS": 3, "REASSIGNMENTS": 2}]
    assert query(project, "SELECT row_index, error FROM raw_import_rows WHERE error IS NOT NULL ORDER BY 1") == [
        {"ROW_INDEX": 13, "ERROR": "no number"},
        {"ROW_INDEX": 14, "ERROR": "opened_at '30/2/2016 10:00' is not a date (day-first)"}]
    people = {r["FULL_NAME"]: r for r in query(project, "SELECT full_name, role, email, user_key FROM users")}
    assert people["Resolver 8"]["ROLE"] == "engineer" and people["Caller 1"]["ROLE"] == "customer"
    assert people["Updated by 2"]["ROLE"] == "support_agent"
    assert people["Resolver 8"]["EMAIL"].endswith("@servicenow.import.invalid")
    assert "Resolver" not in people["Resolver 8"]["USER_KEY"]


def history(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for r in query(root, "SELECT i.incident_number, h.previous_status, h.new_status, h.changed_at::VARCHAR AS at "
                         "FROM incident_status_history h JOIN incidents i ON i.incident_id = h.incident_id "
                         "ORDER BY i.incident_number, h.changed_at, h.status_history_id"):
        out.setdefault(r["INCIDENT_NUMBER"], []).append((r["PREVIOUS_STATUS"], r["NEW_STATUS"], r["AT"]))
    return out


def assignments(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for r in query(root, "SELECT i.incident_number, a.previous_team, a.new_team, u.full_name, "
                         "a.assigned_at::VARCHAR AS at FROM incident_assignment_history a "
                         "JOIN incidents i ON i.incident_id = a.incident_id "
                         "LEFT JOIN users u ON u.user_id = a.new_assignee_id "
                         "ORDER BY i.incident_number, a.assigned_at"):
        out.setdefault(r["INCIDENT_NUMBER"], []).append((r["PREVIOUS_TEAM"], r["NEW_TEAM"], r["FULL_NAME"], r["AT"]))
    return out


@pytest.mark.slow
def test_a_changed_mapping_applies_on_the_next_import(project: Path, tmp_path: Path) -> None:
    export = write_csv(tmp_path / "incidents.csv", HANDWRITTEN[:8])
    ambiguous = run(project, "servicenow", str(export))  # no day above 12 in these rows
    assert ambiguous.exit_code == 2
    assert "--date-format: cannot tell day-first from month-first dates (no day above 12, e.g. '1/3/2016 09:00'); " \
           "pass --date-format day-first or month-first" in ambiguous.stderr
    assert run(project, "servicenow", str(export), "-q", "--date-format", "day-first").exit_code == 0
    config = project / "config" / "import.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("map: {Group 56: Payments}",
                                                                 "map: {Group 56: Payments, Group 70: Platform SRE}"))
    report = json.loads(run(project, "servicenow", str(export), "--format", "json", "--date-format",
                            "day-first").stdout)
    assert (report["updated"], report["status_rows"], report["assignment_rows"]) == (1, 0, 1)
    assert query(project, "SELECT assigned_team FROM incidents") == [{"ASSIGNED_TEAM": "Platform SRE"}]
    assert assignments(project)["INC0000001"][-1][:2] == ("Payments", "Platform SRE")


@pytest.mark.slow
def test_a_later_and_overlapping_export_ends_where_one_full_import_ends(project: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """List export, then the first half of the event log, then all of it == the event log alone."""
    full = write_servicenow(tmp_path / "full.csv", 40, seed=9)
    listed = write_servicenow(tmp_path / "list.csv", 40, seed=9, form="list")
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    by_number: dict[str, list[str]] = {}
    for line in lines[1:]:
        by_number.setdefault(line.split(",", 1)[0], []).append(line)
    earlier = [line for rows in by_number.values() for line in rows[: (len(rows) + 1) // 2]]
    (tmp_path / "half.csv").write_text(lines[0] + "".join(earlier), encoding="utf-8")  # each incident's first updates
    fresh = tmp_path / "fresh-local"
    shutil.copytree(os.environ["INCIDENTS_LOCAL_DIR"], fresh)
    reports = []
    for name in ("list.csv", "half.csv", "full.csv"):
        result = run(project, "servicenow", str(tmp_path / name), "--format", "json")
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    # The earlier updates replace what the list export had to assume (opened New, resolved at resolved_at)
    # and take incidents back in time; the later export brings them forward again.
    assert reports[1]["removed_rows"] > 0 and reports[1]["updated"] > 0 and reports[1]["inserted"] == 0
    assert reports[2]["updated"] > 0 and reports[2]["status_rows"] > 0 and reports[2]["inserted"] == 0
    incremental = state(project)
    monkeypatch.setenv("INCIDENTS_LOCAL_DIR", str(fresh))
    assert run(project, "servicenow", str(full), "-q").exit_code == 0
    assert state(project) == incremental
    assert listed.stat().st_size < full.stat().st_size


def state(root: Path) -> dict[str, Any]:
    """Imported incidents and history, keyed by source values (not by generated ids)."""
    incidents = query(root, """
        SELECT i.incident_number, i.status, i.priority, i.severity, i.impact_level, i.category_id, i.source,
               i.assigned_team, i.reopen_count, i.reassignment_count, i.created_at, i.resolved_at, i.closed_at,
               i.updated_at, i.resolution_code, i.source_sla_met, TO_JSON(i.metadata) AS metadata,
               r.user_key AS reporter, a.user_key AS assignee
        FROM incidents i JOIN users r ON r.user_id = i.reporter_id LEFT JOIN users a ON a.user_id = i.assignee_id
        ORDER BY 1""")
    status = query(root, "SELECT source_key, previous_status, new_status, changed_at, change_reason "
                         "FROM incident_status_history ORDER BY 1")
    moves = query(root, "SELECT h.source_key, h.previous_team, h.new_team, h.assigned_at, p.user_key AS previous, "
                        "n.user_key AS assignee FROM incident_assignment_history h "
                        "LEFT JOIN users p ON p.user_id = h.previous_assignee_id "
                        "LEFT JOIN users n ON n.user_id = h.new_assignee_id ORDER BY 1")
    return {"incidents": incidents, "status": status, "assignments": moves}


def test_jira_forms_truncated_changelogs_and_rejected_issues(project: Path, tmp_path: Path) -> None:
    def at(minutes: int) -> str:
        return (dt.datetime(2026, 10, 1, 8, 0) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000+0200")

    agent = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Mia Krüger"}
    issue = {
        "id": "10001", "key": "OPS-1",
        "fields": {
            "summary": "Checkout fails", "created": at(0), "updated": at(500), "resolutiondate": at(300),
            "status": {"name": "Closed"}, "priority": {"name": "High"}, "issuetype": {"name": "Incident"},
            "resolution": {"name": "Done"}, "components": [{"name": "Payments"}], "labels": ["p1-review"],
            "reporter": {"accountId": "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "displayName": "A Customer"},
            "assignee": agent,
            "description": {"type": "doc", "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "Card payments time out."}]}]},
            "customfield_10030": {"name": "Time to resolution", "completedCycles": [{"breached": True}]},
            "customfield_10031": {"name": "Time to first response", "completedCycles": [
                {"breached": False, "stopTime": {"epochMillis": 1790836200000}}]},
        },
        "changelog": {"startAt": 0, "maxResults": 3, "total": 5, "histories": [
            {"id": "3", "created": at(400), "author": agent,
             "items": [{"field": "status", "fromString": "Resolved", "toString": "Closed"}]},
            {"id": "2", "created": at(300), "author": agent,
             "items": [{"field": "status", "fromString": "In Progress", "toString": "Resolved"}]},
            {"id": "1", "created": at(10), "author": agent,
             "items": [{"field": "status", "fromString": "Open", "toString": "In Progress"},
                       {"field": "assignee", "from": None, "to": agent["accountId"], "toString": "Mia Krüger"}]},
        ]},
    }
    path = tmp_path / "issues.ndjson"
    path.write_text(json.dumps({"issues": [issue]}) + "\n" + json.dumps({"key": None, "fields": {}}) + "\n",
                    encoding="utf-8")
    config = project / "config" / "import.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "  categories:                # the issue's first component\n    default: SYSTEM_OUTAGE\n    map: {}",
        "  categories:                # the issue's first component\n    default: SYSTEM_OUTAGE\n"
        "    map: {Payments: PAYMENT}"), encoding="utf-8")
    result = run(project, "jira", str(path), "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["rejected"], report["incidents"], report["truncated_changelogs"]) == (6, 1, 1, 1)
    assert report["errors"] == ["issue 2: no issue key"]
    [got] = query(project, """
        SELECT i.incident_number, i.status, i.priority, c.code, i.source_sla_met, i.resolved_at::VARCHAR AS resolved,
               i.closed_at::VARCHAR AS closed, i.first_response_at::VARCHAR AS first_response,
               i.description, i.title, i.tags, i.source_key, i.resolution_code, u.user_key AS assignee
        FROM incidents i JOIN incident_categories c ON c.category_id = i.category_id
        LEFT JOIN users u ON u.user_id = i.assignee_id""")
    assert got == {
        "INCIDENT_NUMBER": "OPS-1", "STATUS": "closed", "PRIORITY": "high", "CODE": "PAYMENT", "SOURCE_SLA_MET": False,
        "RESOLVED": "2026-10-01 11:00:00", "CLOSED": "2026-10-01 12:40:00", "FIRST_RESPONSE": "2026-10-01 06:30:00",
        "DESCRIPTION": "Card payments time out.", "TITLE": "Checkout fails", "TAGS": '["p1-review"]',
        "SOURCE_KEY": "jira:10001", "RESOLUTION_CODE": "fixed", "ASSIGNEE": "jira:5b10ac8d82e05b22cc7d4ef5"}
    assert history(project)["OPS-1"] == [
        (None, "new", "2026-10-01 06:00:00"), ("new", "investigating", "2026-10-01 06:10:00"),
        ("investigating", "resolved", "2026-10-01 11:00:00"), ("resolved", "closed", "2026-10-01 12:40:00")]


def test_missing_category_codes_are_refused_before_anything_lands(project: Path, tmp_path: Path) -> None:
    query(project, "DELETE FROM incident_categories WHERE code <> 'DATA'")
    result = run(project, "servicenow", str(write_csv(tmp_path / "x.csv", HANDWRITTEN)))
    assert result.exit_code == 2
    assert "config/import.yml: servicenow.categories: category code(s) ACCOUNT, PERFORMANCE, SECURITY, " \
           "SYSTEM_OUTAGE are not in incident_categories" in result.stderr
    assert query(project, "SELECT COUNT(*) AS n FROM raw_import_rows") == [{"N": 0}]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("      Closed: closed\n      \"7\": closed", "      Closed: shut\n      \"7\": closed",
     "config/import.yml:{line}: servicenow.statuses.map.Closed: expected one of new, acknowledged"),
    ("      Active: investigating", "      active: investigating\n      ACTIVE: new",
     "servicenow.statuses.map.ACTIVE: maps 'active' a second time"),
    ("  timezone: UTC", "  timezone: Mars/Olympus", "servicenow.timezone: unknown time zone 'Mars/Olympus'"),
    ("  sources:                   # contact_type", "  channels: {}\n  sources:                   # contact_type",
     "servicenow.channels: unknown key"),
    ("      1 - Critical: {priority: critical, severity: SEV1}",
     "      1 - Critical: {priority: urgent, severity: SEV1}",
     "servicenow.priorities.map.1 - Critical.priority: expected one of critical, high, medium, low, got 'urgent'"),
    ("  date_format: auto", "  date_format: '%H:%M'", "servicenow.date_format: expected auto, day-first"),
])
def test_config_mistakes_name_the_file_and_key(make_project: Callable[..., Path], old: str, new: str,
                                               message: str) -> None:
    from incidents.errors import ConfigError
    from incidents.importers.config import load_import_config
    from incidents.project.config import load_project

    root = make_project()
    config = root / "config" / "import.yml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_import_config(load_project(root))
    line = next((i for i, line in enumerate(config.read_text().splitlines(), start=1) if "Closed: shut" in line), 0)
    assert message.format(line=line) in str(caught.value)


def test_validate_checks_the_import_config_and_every_import_statement(make_project: Callable[..., Path]) -> None:
    from incidents.importers.statements import statements_to_validate
    from incidents.project.config import environment, load_project
    from incidents.project.deployment import Deployment
    from incidents.sql.parse import parse_statements

    root = make_project()
    project = load_project(root)
    statements = [s for _, s in statements_to_validate(Deployment(project, environment(project, "dev")))]
    assert len(statements) == 2 * 23 and all(parse_statements(s, "templates/import/") for s in statements)
    config = root / "config" / "import.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("    default: investigating\n", "    default: open\n", 1))
    bad = CliRunner().invoke(app, ["validate", "--project-dir", str(root)])
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: config/import.yml:") and "servicenow.statuses.default" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_staged_loader_lands_the_same_rows(project: Path, tmp_path: Path) -> None:
    """The Snowflake strategy (Parquet -> temporary stage table -> INSERT ... SELECT), run on fakesnow."""
    export = write_servicenow(tmp_path / "log.csv", 20, seed=4)
    with Workspace.open(project, env="dev") as ws:
        from incidents.importers import import_file

        staged = import_file(ws.session, ws.dep, "servicenow", export, staged=True)
        direct = import_file(ws.session, ws.dep, "servicenow", export, staged=False)
    assert staged.inserted == 20 and (direct.inserted, direct.updated, direct.unchanged) == (0, 0, 20)
