"""Synthetic ticketing exports for tests, benchmarks and demos: a ServiceNow incident event log (or its
list export) shaped like the public "Incident management process enriched event log" (UCI), and
Jira Service Management issues as the REST search API returns them with `expand=changelog`.

Deterministic for a seed. Lifecycles walk New -> Active -> (Awaiting ...) -> Resolved -> Closed with
reassignments between groups and resolvers, reopen cycles (Resolved -> Active), cancellations,
incidents still open at the end, states no mapping knows (`-100`), and `?` for missing values.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVICENOW_COLUMNS = (
    "number", "incident_state", "active", "reassignment_count", "reopen_count", "sys_mod_count", "made_sla",
    "caller_id", "opened_by", "opened_at", "sys_created_by", "sys_created_at", "sys_updated_by", "sys_updated_at",
    "contact_type", "location", "category", "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency", "priority",
    "assignment_group", "assigned_to", "knowledge", "u_priority_confirmation", "notify", "problem_id", "rfc",
    "vendor", "caused_by", "closed_code", "resolved_by", "resolved_at", "closed_at")
CATEGORIES = ("Software", "Network", "Database", "Hardware", "Inquiry / Help", "Category 55", "Category 26")
CONTACT_TYPES = ("Phone", "Email", "Self service", "Phone", "Direct opening", "IVR")
LEVELS = ("1 - High", "2 - Medium", "3 - Low")
# ServiceNow's default priority lookup: impact x urgency -> priority.
PRIORITY = {(1, 1): "1 - Critical", (1, 2): "2 - High", (2, 1): "2 - High", (1, 3): "3 - Moderate",
            (2, 2): "3 - Moderate", (3, 1): "3 - Moderate", (2, 3): "4 - Low", (3, 2): "4 - Low", (3, 3): "5 - Planning"}
WAITING = ("Awaiting User Info", "Awaiting Vendor", "Awaiting Problem", "Awaiting Evidence")


def servicenow_date(stamp: dt.datetime, style: str) -> str:
    """`29/2/2016 01:16` (day-first, as the UCI log), `2/29/2016 01:16` or `2016-02-29 01:16:00`."""
    if style == "day-first":
        return f"{stamp.day}/{stamp.month}/{stamp.year} {stamp.hour:02d}:{stamp.minute:02d}"
    if style == "month-first":
        return f"{stamp.month}/{stamp.day}/{stamp.year} {stamp.hour:02d}:{stamp.minute:02d}"
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def servicenow_events(incidents: int, *, seed: int = 7, start: dt.datetime = dt.datetime(2016, 2, 29),
                      date_style: str = "day-first", first_number: int = 1) -> Iterator[list[str]]:
    """Rows of an event log (one per update, in time order per incident), without the header."""
    rng = random.Random(seed)
    for i in range(first_number, first_number + incidents):
        yield from _incident(rng, f"INC{i:07d}", start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 120)),
                             date_style)


def _incident(rng: random.Random, number: str, opened: dt.datetime, style: str) -> Iterator[list[str]]:
    impact, urgency = rng.choice((1, 2, 2, 2, 3)), rng.choice((1, 2, 2, 3, 3))
    missing = rng.random()
    fixed = {
        "number": number, "caller_id": f"Caller {rng.randrange(1, 400)}", "opened_by": f"Opened by  {rng.randrange(1, 60)}",
        "opened_at": servicenow_date(opened, style), "sys_created_by": f"Created by {rng.randrange(1, 60)}",
        "contact_type": rng.choice(CONTACT_TYPES), "location": f"Location {rng.randrange(1, 200)}",
        "category": "?" if missing < 0.02 else rng.choice(CATEGORIES), "subcategory": f"Subcategory {rng.randrange(1, 90)}",
        "u_symptom": f"Symptom {rng.randrange(1, 300)}", "cmdb_ci": "?", "impact": LEVELS[impact - 1],
        "urgency": LEVELS[urgency - 1], "priority": "?" if 0.02 <= missing < 0.04 else PRIORITY[(impact, urgency)],
        "knowledge": rng.choice(("true", "false")), "u_priority_confirmation": rng.choice(("true", "false")),
        "notify": "Do Not Notify", "problem_id": "?" if rng.random() < 0.9 else f"Problem ID  {rng.randrange(1, 50)}",
        "rfc": "?", "vendor": "?", "caused_by": "?", "made_sla": "true" if rng.random() < 0.63 else "false",
    }
    created = opened + dt.timedelta(minutes=rng.randrange(0, 15))
    fixed["sys_created_at"] = servicenow_date(created, style)
    state, group, assignee = "New", f"Group {rng.randrange(1, 40)}", "?"
    counts = {"reassignment_count": 0, "reopen_count": 0}
    resolved_at = closed_at = resolved_by = "?"
    now, mod = created, 0
    rows = []

    def emit(new_state: str) -> None:
        nonlocal mod
        row = {**fixed, **counts, "incident_state": new_state, "active": "false" if new_state in (
            "Closed", "Canceled") else "true", "sys_mod_count": mod, "sys_updated_by": f"Updated by {rng.randrange(1, 80)}",
            "sys_updated_at": servicenow_date(now, style), "assignment_group": group, "assigned_to": assignee,
            "closed_code": "?" if new_state not in ("Resolved", "Closed") else fixed.get("closed_code", "?"),
            "resolved_by": resolved_by, "resolved_at": resolved_at, "closed_at": closed_at}
        rows.append([str(row[c]) for c in SERVICENOW_COLUMNS])
        mod += 1

    emit(state)
    fate = rng.random()
    steps = rng.randrange(1, 6)
    for _ in range(steps):
        now += dt.timedelta(minutes=rng.randrange(5, 600))
        move = rng.random()
        if move < 0.3 and assignee == "?":
            assignee = f"Resolver {rng.randrange(1, 120)}"
        elif move < 0.45:
            group, assignee = f"Group {rng.randrange(1, 40)}", f"Resolver {rng.randrange(1, 120)}"
            counts["reassignment_count"] += 1
        elif move < 0.6:
            state = rng.choice(WAITING)
        elif move < 0.62:
            state = "-100"  # the UCI log's unknown state
        else:
            state = "Active"
        emit(state)
    if fate < 0.06:  # cancelled
        now += dt.timedelta(minutes=rng.randrange(5, 300))
        emit("Canceled")
        return iter(rows)
    if fate < 0.16:  # still open at the end of the export
        return iter(rows)
    reopens = 1 if rng.random() < 0.15 else 0
    fixed["closed_code"] = f"code {rng.randrange(1, 10)}"
    for cycle in range(reopens + 1):
        if assignee == "?":
            assignee = f"Resolver {rng.randrange(1, 120)}"
        now += dt.timedelta(minutes=rng.randrange(10, 60 * 24 * 4))
        resolved_at, resolved_by = servicenow_date(now, style), assignee.replace("Resolver", "Resolved by")
        emit("Resolved")
        if cycle < reopens:
            now += dt.timedelta(minutes=rng.randrange(30, 600))
            counts["reopen_count"] += 1
            emit("Active")
    if fate < 0.3:  # resolved, not closed yet
        return iter(rows)
    now += dt.timedelta(days=5)
    closed_at = servicenow_date(now, style)
    emit("Closed")
    return iter(rows)


def write_servicenow(path: Path, incidents: int, *, seed: int = 7, form: str = "events",
                     date_style: str = "day-first", first_number: int = 1) -> Path:
    """An export file: `events` (the audit event log) or `list` (the latest row per incident)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SERVICENOW_COLUMNS)
        last: list[str] | None = None
        for row in servicenow_events(incidents, seed=seed, date_style=date_style, first_number=first_number):
            if form == "events":
                writer.writerow(row)
                continue
            if last is not None and last[0] != row[0]:
                writer.writerow(last)
            last = row
        if form != "events" and last is not None:
            writer.writerow(last)
    return path


# --------------------------------------------------------------------------- Jira

JIRA_PRIORITIES = ("Highest", "High", "Medium", "Medium", "Low", "Lowest")
COMPONENTS = ("Checkout", "Payments", "Search", "Mobile", "Storefront")


def _jira_time(stamp: dt.datetime, offset_hours: int) -> str:
    local = stamp + dt.timedelta(hours=offset_hours)
    sign = "-" if offset_hours < 0 else "+"
    return f"{local.strftime('%Y-%m-%dT%H:%M:%S')}.{local.microsecond // 1000:03d}{sign}{abs(offset_hours):02d}00"


def _account(n: int) -> dict[str, Any]:
    return {"accountId": f"{n:024x}", "displayName": f"Agent {n}", "active": True, "timeZone": "Etc/UTC"}


def jira_issues(count: int, *, seed: int = 11, start: dt.datetime = dt.datetime(2026, 9, 1)) -> list[dict[str, Any]]:
    """Issues as `GET /rest/api/2/search?expand=changelog` returns them (the `issues` array)."""
    rng = random.Random(seed)
    issues = []
    for i in range(1, count + 1):
        offset = rng.choice((-6, 0, 2))
        created = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        histories: list[dict[str, Any]] = []
        status, assignee = "Open", None
        at = created
        history_id = i * 100

        def change(*items: dict[str, Any], author: int) -> None:
            nonlocal history_id
            history_id += 1
            histories.append({"id": str(history_id), "author": _account(author), "created": _jira_time(at, offset),
                              "items": list(items)})

        def move(to: str) -> dict[str, Any]:
            nonlocal status
            item = {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": status,
                    "to": "3", "toString": to}
            status = to
            return item

        def assign(to: int | None) -> dict[str, Any]:
            nonlocal assignee
            item = {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                    "from": None if assignee is None else f"{assignee:024x}",
                    "fromString": None if assignee is None else f"Agent {assignee}",
                    "to": None if to is None else f"{to:024x}", "toString": None if to is None else f"Agent {to}"}
            assignee = to
            return item

        fate = rng.random()
        at += dt.timedelta(minutes=rng.randrange(2, 90))
        change(assign(rng.randrange(1, 30)), move("Work in progress"), author=rng.randrange(1, 30))
        for _ in range(rng.randrange(0, 3)):
            at += dt.timedelta(minutes=rng.randrange(5, 400))
            change(assign(rng.randrange(1, 30)), author=rng.randrange(1, 30))
        if rng.random() < 0.1:
            at += dt.timedelta(minutes=rng.randrange(5, 100))
            change(move("Escalated to vendor"), author=rng.randrange(1, 30))  # a status no mapping knows
        resolution = None
        breached = None
        if fate < 0.12:
            pass  # still open
        elif fate < 0.18:
            at += dt.timedelta(minutes=rng.randrange(5, 300))
            change(move("Canceled"), author=rng.randrange(1, 30))
            resolution = "Won't Do"
        else:
            reopened = rng.random() < 0.2
            for cycle in range(2 if reopened else 1):
                at += dt.timedelta(minutes=rng.randrange(20, 60 * 24 * 3))
                change(move("Resolved"), author=rng.randrange(1, 30))
                resolved = at
                if cycle == 0 and reopened:
                    at += dt.timedelta(minutes=rng.randrange(30, 500))
                    change(move("Work in progress"), author=rng.randrange(1, 30))
            resolution = "Done"
            breached = rng.random() < 0.3
            if rng.random() < 0.6:
                at += dt.timedelta(days=2)
                change(move("Closed"), author=rng.randrange(1, 30))
        response_stop = created + dt.timedelta(minutes=rng.randrange(2, 120))
        fields: dict[str, Any] = {
            "summary": f"Checkout errors for customers in region {i % 7}",
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": f"Customers report failures ({i})."}]}]},
            "status": {"name": status, "statusCategory": {"key": "done" if status in ("Resolved", "Closed", "Canceled")
                                                          else "indeterminate"}},
            "priority": {"name": rng.choice(JIRA_PRIORITIES)},
            "issuetype": {"name": "Incident"},
            "project": {"key": "OPS"},
            "components": [{"name": rng.choice(COMPONENTS)}],
            "labels": sorted(rng.sample(["customer-facing", "p1-review", "vendor", "checkout"], rng.randrange(0, 3))),
            "created": _jira_time(created, offset),
            "updated": _jira_time(at + dt.timedelta(minutes=1), offset),
            "resolutiondate": _jira_time(resolved, offset) if resolution == "Done" else None,
            "resolution": {"name": resolution} if resolution else None,
            "reporter": _account(100 + rng.randrange(1, 50)),
            "creator": _account(rng.randrange(1, 30)),
            "assignee": None if assignee is None else _account(assignee),
            "customfield_10030": _sla("Time to resolution", created, at if resolution else None, breached),
            "customfield_10031": _sla("Time to first response", created, response_stop, False),
            "customfield_10010": {"requestType": {"name": "Report an incident"}},
        }
        issues.append({"expand": "operations,changelog", "id": str(10000 + i), "key": f"OPS-{i}",
                       "self": f"https://example.atlassian.net/rest/api/2/issue/{10000 + i}", "fields": fields,
                       "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                                     "histories": list(reversed(histories))}})  # newest first, as Cloud returns
    return issues


def _sla(name: str, start: dt.datetime, stop: dt.datetime | None, breached: bool | None) -> dict[str, Any]:
    def stamp(value: dt.datetime) -> dict[str, Any]:
        millis = int(value.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
        return {"iso8601": value.strftime("%Y-%m-%dT%H:%M:%S+0000"), "epochMillis": millis}

    sla: dict[str, Any] = {"id": "1", "name": name, "_links": {}, "completedCycles": []}
    if stop is not None:
        sla["completedCycles"].append({"startTime": stamp(start), "stopTime": stamp(stop), "breached": bool(breached),
                                       "goalDuration": {"millis": 14_400_000}, "elapsedTime": {"millis": 1000}})
    else:
        sla["ongoingCycle"] = {"startTime": stamp(start), "breached": False, "paused": False,
                               "withinCalendarHours": False, "goalDuration": {"millis": 14_400_000}}
    return sla


def write_jira(path: Path, count: int, *, seed: int = 11, ndjson: bool = False, page: int = 50) -> Path:
    """The issues as search responses: one JSON array of pages, or one page a line (NDJSON)."""
    issues = jira_issues(count, seed=seed)
    pages = [{"expand": "schema,names", "startAt": i, "maxResults": page, "total": count,
              "issues": issues[i:i + page]} for i in range(0, count, page)]
    with path.open("w", encoding="utf-8") as handle:
        if ndjson:
            for doc in pages:
                handle.write(json.dumps(doc) + "\n")
        else:
            json.dump(pages if len(pages) != 1 else pages[0], handle, indent=1)
    return path
