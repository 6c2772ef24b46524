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
            (2, 2): "3 - Moderate", (3, 1): "3 - Moderate", (2, 3): "4 - Low", (3, 2): "4 - Low",
            (3, 3): "5 - Planning"}
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


def _fixed_fields(rng: random.Random, number: str, opened: dt.datetime, style: str) -> dict[str, Any]:
    """What stays the same over an incident's rows (a few values missing, as `?`)."""
    impact, urgency = rng.choice((1, 2, 2, 2, 3)), rng.choice((1, 2, 2, 3, 3))
    missing = rng.random()
    return {
        "number": number, "caller_id": f"Caller {rng.randrange(1, 400)}",
        "opened_by": f"Opened by  {rng.randrange(1, 60)}", "opened_at": servicenow_date(opened, style),
        "sys_created_by": f"Created by {rng.randrange(1, 60)}", "contact_type": rng.choice(CONTACT_TYPES),
        "location": f"Location {rng.randrange(1, 200)}",
        "category": "?" if missing < 0.02 else rng.choice(CATEGORIES),
        "subcategory": f"Subcategory {rng.randrange(1, 90)}", "u_symptom": f"Symptom {rng.randrange(1, 300)}",
        "cmdb_ci": "?", "impact": LEVELS[impact - 1], "urgency": LEVELS[urgency - 1],
        "priority": "?" if 0.02 <= missing < 0.04 else PRIORITY[(impact, urgency)],
        "knowledge": rng.choice(("true", "false")), "u_priority_confirmation": rng.choice(("true", "false")),
        "notify": "Do Not Notify", "problem_id": "?" if rng.random() < 0.9 else f"Problem ID  {rng.randrange(1, 50)}",
        "rfc": "?", "vendor": "?", "caused_by": "?", "made_sla": "true" if rng.random() < 0.63 else "false",
        "closed_code": "?",
    }


class _Log:
    """One incident's rows as ServiceNow's audit log holds them: each update repeats every field."""

    def __init__(self, rng: random.Random, fixed: dict[str, Any], created: dt.datetime, style: str) -> None:
        self.rng, self.fixed, self.now, self.style = rng, fixed, created, style
        fixed["sys_created_at"] = servicenow_date(created, style)
        self.group, self.assignee = f"Group {rng.randrange(1, 40)}", "?"
        self.counts = {"reassignment_count": 0, "reopen_count": 0}
        self.resolved_at = self.closed_at = self.resolved_by = "?"
        self.mod = 0
        self.rows: list[list[str]] = []

    def later(self, low: int, high: int) -> None:
        self.now += dt.timedelta(minutes=self.rng.randrange(low, high))

    def emit(self, state: str) -> None:
        row = {**self.fixed, **self.counts, "incident_state": state,
               "active": "false" if state in ("Closed", "Canceled") else "true", "sys_mod_count": self.mod,
               "sys_updated_by": f"Updated by {self.rng.randrange(1, 80)}",
               "sys_updated_at": servicenow_date(self.now, self.style), "assignment_group": self.group,
               "assigned_to": self.assignee, "resolved_by": self.resolved_by, "resolved_at": self.resolved_at,
               "closed_at": self.closed_at,
               "closed_code": self.fixed["closed_code"] if state in ("Resolved", "Closed") else "?"}
        self.rows.append([str(row[c]) for c in SERVICENOW_COLUMNS])
        self.mod += 1

    def work(self) -> None:
        """A few updates while open: assignment, reassignment, waiting, unknown state, back to work."""
        state = "New"
        for _ in range(self.rng.randrange(1, 6)):
            self.later(5, 600)
            move = self.rng.random()
            if move < 0.3 and self.assignee == "?":
                self.assignee = f"Resolver {self.rng.randrange(1, 120)}"
            elif move < 0.45:
                self.group = f"Group {self.rng.randrange(1, 40)}"
                self.assignee = f"Resolver {self.rng.randrange(1, 120)}"
                self.counts["reassignment_count"] += 1
            elif move < 0.6:
                state = self.rng.choice(WAITING)
            elif move < 0.62:
                state = "-100"  # the UCI log's unknown state
            else:
                state = "Active"
            self.emit(state)

    def resolve(self, reopens: int) -> None:
        self.fixed["closed_code"] = f"code {self.rng.randrange(1, 10)}"
        for cycle in range(reopens + 1):
            if self.assignee == "?":
                self.assignee = f"Resolver {self.rng.randrange(1, 120)}"
            self.later(10, 60 * 24 * 4)
            self.resolved_at = servicenow_date(self.now, self.style)
            self.resolved_by = self.assignee.replace("Resolver", "Resolved by")
            self.emit("Resolved")
            if cycle < reopens:
                self.later(30, 600)
                self.counts["reopen_count"] += 1
                self.emit("Active")

    def close(self) -> None:
        self.now += dt.timedelta(days=5)
        self.closed_at = servicenow_date(self.now, self.style)
        self.emit("Closed")


def _incident(rng: random.Random, number: str, opened: dt.datetime, style: str) -> Iterator[list[str]]:
    fixed = _fixed_fields(rng, number, opened, style)
    log = _Log(rng, fixed, opened + dt.timedelta(minutes=rng.randrange(0, 15)), style)
    log.emit("New")
    fate = rng.random()
    log.work()
    if fate < 0.06:  # cancelled
        log.later(5, 300)
        log.emit("Canceled")
    elif fate >= 0.16:  # else still open at the end of the export
        log.resolve(1 if rng.random() < 0.15 else 0)
        if fate >= 0.3:  # else resolved, not closed yet
            log.close()
    return iter(log.rows)


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


class _Issue:
    """One issue's changelog as it is written: status and assignee moves by an author at a time."""

    def __init__(self, number: int, created: dt.datetime, offset: int) -> None:
        self.histories: list[dict[str, Any]] = []
        self.status = "Open"
        self.assignee: int | None = None
        self.at, self.offset, self.history_id = created, offset, number * 100

    def change(self, *items: dict[str, Any], author: int) -> None:
        self.history_id += 1
        self.histories.append({"id": str(self.history_id), "author": _account(author),
                               "created": _jira_time(self.at, self.offset), "items": list(items)})

    def move(self, to: str) -> dict[str, Any]:
        item = {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1",
                "fromString": self.status, "to": "3", "toString": to}
        self.status = to
        return item

    def assign(self, to: int | None) -> dict[str, Any]:
        def ident(n: int | None) -> str | None:
            return None if n is None else f"{n:024x}"

        def name(n: int | None) -> str | None:
            return None if n is None else f"Agent {n}"

        item = {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": ident(self.assignee),
                "fromString": name(self.assignee), "to": ident(to), "toString": name(to)}
        self.assignee = to
        return item


def jira_issues(count: int, *, seed: int = 11, start: dt.datetime = dt.datetime(2026, 9, 1)) -> list[dict[str, Any]]:
    """Issues as `GET /rest/api/2/search?expand=changelog` returns them (the `issues` array)."""
    rng = random.Random(seed)
    return [_jira_issue(rng, i, start) for i in range(1, count + 1)]


def _jira_issue(rng: random.Random, i: int, start: dt.datetime) -> dict[str, Any]:
    offset = rng.choice((-6, 0, 2))
    created = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
    issue = _Issue(i, created, offset)
    fate = rng.random()
    issue.at += dt.timedelta(minutes=rng.randrange(2, 90))
    issue.change(issue.assign(rng.randrange(1, 30)), issue.move("Work in progress"), author=rng.randrange(1, 30))
    for _ in range(rng.randrange(0, 3)):
        issue.at += dt.timedelta(minutes=rng.randrange(5, 400))
        issue.change(issue.assign(rng.randrange(1, 30)), author=rng.randrange(1, 30))
    if rng.random() < 0.1:
        issue.at += dt.timedelta(minutes=rng.randrange(5, 100))
        issue.change(issue.move("Escalated to vendor"), author=rng.randrange(1, 30))  # a status no mapping knows
    resolution, breached, resolved = None, None, None
    if 0.12 <= fate < 0.18:
        issue.at += dt.timedelta(minutes=rng.randrange(5, 300))
        issue.change(issue.move("Canceled"), author=rng.randrange(1, 30))
        resolution = "Won't Do"
    elif fate >= 0.18:  # else still open
        reopened = rng.random() < 0.2
        for cycle in range(2 if reopened else 1):
            issue.at += dt.timedelta(minutes=rng.randrange(20, 60 * 24 * 3))
            issue.change(issue.move("Resolved"), author=rng.randrange(1, 30))
            resolved = issue.at
            if cycle == 0 and reopened:
                issue.at += dt.timedelta(minutes=rng.randrange(30, 500))
                issue.change(issue.move("Work in progress"), author=rng.randrange(1, 30))
        resolution, breached = "Done", rng.random() < 0.3
        if rng.random() < 0.6:
            issue.at += dt.timedelta(days=2)
            issue.change(issue.move("Closed"), author=rng.randrange(1, 30))
    response_stop = created + dt.timedelta(minutes=rng.randrange(2, 120))
    done = issue.status in ("Resolved", "Closed", "Canceled")
    fields: dict[str, Any] = {
        "summary": f"Checkout errors for customers in region {i % 7}",
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": f"Customers report failures ({i})."}]}]},
        "status": {"name": issue.status, "statusCategory": {"key": "done" if done else "indeterminate"}},
        "priority": {"name": rng.choice(JIRA_PRIORITIES)},
        "issuetype": {"name": "Incident"},
        "project": {"key": "OPS"},
        "components": [{"name": rng.choice(COMPONENTS)}],
        "labels": sorted(rng.sample(["customer-facing", "p1-review", "vendor", "checkout"], rng.randrange(0, 3))),
        "created": _jira_time(created, offset),
        "updated": _jira_time(issue.at + dt.timedelta(minutes=1), offset),
        "resolutiondate": _jira_time(resolved, offset) if resolved is not None and resolution == "Done" else None,
        "resolution": {"name": resolution} if resolution else None,
        "reporter": _account(100 + rng.randrange(1, 50)),
        "creator": _account(rng.randrange(1, 30)),
        "assignee": None if issue.assignee is None else _account(issue.assignee),
        "customfield_10030": _sla("Time to resolution", created, issue.at if resolution else None, breached),
        "customfield_10031": _sla("Time to first response", created, response_stop, False),
        "customfield_10010": {"requestType": {"name": "Report an incident"}},
    }
    return {"expand": "operations,changelog", "id": str(10000 + i), "key": f"OPS-{i}",
            "self": f"https://example.atlassian.net/rest/api/2/issue/{10000 + i}", "fields": fields,
            "changelog": {"startAt": 0, "maxResults": len(issue.histories), "total": len(issue.histories),
                          "histories": list(reversed(issue.histories))}}  # newest first, as Jira Cloud returns


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
