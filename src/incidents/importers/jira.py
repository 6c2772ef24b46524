"""Jira Service Management issues (REST search API with `expand=changelog`) -> raw_import_rows batches.

Input: one search response (`{"issues": [...]}`), a JSON array of responses or of issues, or one of
either a line (NDJSON, read line by line). Each issue becomes its events: its creation (the status
and assignee before the first change of each), one event per changelog entry that changes the
status, the assignee or the configured group field (the values after it), and its final state
(every field, at `updated`). The history is walked in time order; a changelog the export cut short
(`total` above the histories given) is counted, since its first states are then unknown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from incidents.errors import ConfigError
from incidents.importers.config import SourceConfig
from incidents.importers.dates import epoch_millis
from incidents.importers.landing import MAX_NUMBER, People, landing_table, person_key

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE = "jira"
ISSUES_PER_BATCH = 5000
# Jira Cloud account ids: 24 hex digits, `<n>:<uuid>` or `qm:...`; anything else (a Server user
# name) is hashed into the key.
_ACCOUNT = re.compile(r"[0-9a-f]{24}|\d+:[0-9a-f-]{36}|qm:[0-9a-f-]+:[0-9a-f-]+")


@dataclass
class Reading:
    order: str = "iso"
    rows: int = 0
    rejected: int = 0
    truncated: int = 0
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0
    size: int = 0


def read(path: Path, *, load: dict[str, Any], people: People, cfg: SourceConfig, reading: Reading,
         on_batch: Callable[[Reading], None] | None = None) -> Iterator[pa.Table]:
    """raw_import_rows batches of the issues in the file."""
    reading.size = path.stat().st_size
    rows: list[dict[str, Any]] = []
    for position, issue, consumed in _issues(path):
        reading.bytes_read = consumed
        rows.extend(_issue_rows(issue, position, cfg, people, reading))
        if position % ISSUES_PER_BATCH == 0:
            yield _table(rows, load, reading, on_batch)
            rows = []
    if rows:
        yield _table(rows, load, reading, on_batch)


def _table(rows: list[dict[str, Any]], load: dict[str, Any], reading: Reading,
           on_batch: Callable[[Reading], None] | None) -> pa.Table:
    import pyarrow as pa

    columns = {name: [row.get(name) for row in rows] for name in {k for row in rows for k in row}}
    columns["row_index"] = pa.array(columns["row_index"], pa.int64())
    reading.rows += len(rows)
    if on_batch is not None:
        on_batch(reading)
    return landing_table(columns, len(rows), load)


# --------------------------------------------------------------------------- the file

def _issues(path: Path) -> Iterator[tuple[int, Any, int]]:
    """(position from 1, issue, bytes read so far) for every issue of the file, in order."""
    with path.open("rb") as handle:
        first = handle.readline()
        rest = handle.readline()
    try:
        one_line = json.loads(first) if first.strip() else None
    except ValueError:
        one_line = None
    position = 0
    if one_line is not None and rest.strip():  # NDJSON: a document a line
        with path.open("rb") as handle:
            consumed = 0
            for number, line in enumerate(handle, start=1):
                consumed += len(line)
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except ValueError as exc:
                    raise ConfigError(f"line {number} is not JSON ({exc}); expected a Jira search response or issue "
                                      "a line", file=str(path)) from None
                for issue in _unwrap(document):
                    position += 1
                    yield position, issue, consumed
        return
    try:
        document = json.loads(path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"not JSON ({exc}); expected the Jira REST search API's response (expand=changelog)",
                          file=str(path)) from None
    size = path.stat().st_size
    for issue in _unwrap(document):
        position += 1
        yield position, issue, size


def _unwrap(document: Any) -> Iterator[Any]:
    """The issues of a search response, a list of responses or issues, or one issue."""
    if isinstance(document, list):
        for item in document:
            yield from _unwrap(item) if isinstance(item, dict) and "issues" in item else [item]
    elif isinstance(document, dict) and isinstance(document.get("issues"), list):
        yield from document["issues"]
    else:
        yield document


# --------------------------------------------------------------------------- one issue

def _issue_rows(issue: Any, position: int, cfg: SourceConfig, people: People, reading: Reading
                ) -> list[dict[str, Any]]:
    problem = _problem(issue)
    if problem:
        reading.rejected += 1
        if len(reading.errors) < 5:
            reading.errors.append(f"issue {position}: {problem}")
        text = json.dumps(issue, sort_keys=True, default=str)
        return [{"row_index": position, "event_key": f"rejected:{hashlib.sha256(text.encode()).hexdigest()[:16]}",
                 "is_record": False, "incident_number": _key_of(issue), "other_fields": text[:16_000_000],
                 "error": problem}]
    fields = issue.get("fields") or {}
    number = str(issue["key"])
    source_key = f"{SOURCE}:{issue.get('id') or number}"
    created = _time(fields.get("created"))
    assert created is not None
    histories = _histories(issue)
    changelog = issue.get("changelog") or {}
    if isinstance(changelog.get("total"), int) and changelog["total"] > len(histories):
        reading.truncated += 1
    state, assignee, group = _initial(fields, histories, cfg, people, created)
    base = {"row_index": position, "source_key": source_key, "incident_number": number, "is_record": False}
    reporter = _person(fields.get("reporter"), people, "customer", created)
    rows = [{**base, "event_key": "created", "event_seq": 0, "event_at": created, "state": state,
             "assignee_key": assignee, "assignment_group": group,
             "updated_by_key": _person(fields.get("creator"), people, "support_agent", created) or reporter}]
    last = created
    for seq, (at, history) in enumerate(histories, start=1):
        changed = False
        for item in history.get("items") or []:
            kind = _item_kind(item, cfg)
            if kind == "status":
                state, changed = item.get("toString"), True
            elif kind == "assignee":
                assignee = _changed_person(item, "to", people, at)
                changed = True
            elif kind == "group":
                group, changed = item.get("toString"), True
        if changed:
            author = _person(history.get("author"), people, "support_agent", at)
            rows.append({**base, "event_key": f"changelog:{history.get('id')}", "event_seq": seq, "event_at": at,
                         "state": state, "assignee_key": assignee, "assignment_group": group,
                         "updated_by_key": author})
        last = max(last, at)
    final_at = max(last, _time(fields.get("updated")) or last)
    rows.append({**base, **_record(fields, cfg, people, created), "event_key": f"final@{final_at.isoformat()}",
                 "event_seq": len(histories) + 1, "event_at": final_at, "is_record": True, "caller_key": reporter})
    return rows


def _problem(issue: Any) -> str | None:
    """Why the issue cannot make an incident, or None."""
    if not isinstance(issue, dict):
        return f"not an issue object: {json.dumps(issue, default=str)[:60]}"
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        return "no issue key"
    if len(key) > MAX_NUMBER:
        return f"issue key {key[:40]} is longer than {MAX_NUMBER} characters"
    fields = issue.get("fields")
    created = fields.get("created") if isinstance(fields, dict) else None
    if created is None:
        return "no created date"
    if _time(created) is None:
        return f"created {str(created)[:60]!r} is not a date"
    return None


def _key_of(issue: Any) -> str | None:
    key = issue.get("key") if isinstance(issue, dict) else None
    return str(key)[:200] if key is not None else None


def _time(value: Any) -> dt.datetime | None:
    """Jira's `2017-02-28T09:24:59.366-0600` as naive UTC."""
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return stamp


def _histories(issue: dict[str, Any]) -> list[tuple[dt.datetime, dict[str, Any]]]:
    """The changelog's entries with a time, oldest first (Jira returns them newest or oldest first)."""
    histories = (issue.get("changelog") or {}).get("histories") or []
    timed = [(_time(h.get("created")), h) for h in histories if isinstance(h, dict)]
    return sorted(((at, h) for at, h in timed if at is not None), key=lambda pair: (pair[0], _numeric(pair[1])))


def _numeric(history: dict[str, Any]) -> int:
    ident = history.get("id")
    return int(ident) if isinstance(ident, str) and ident.isdigit() else 0


def _item_kind(item: Any, cfg: SourceConfig) -> str | None:
    if not isinstance(item, dict):
        return None
    name = str(item.get("fieldId") or item.get("field") or "")
    if name == "status" or item.get("field") == "status":
        return "status"
    if name == "assignee" or item.get("field") == "assignee":
        return "assignee"
    if cfg.group_field and cfg.group_field in (item.get("fieldId"), item.get("field")):
        return "group"
    return None


def _initial(fields: dict[str, Any], histories: list[tuple[dt.datetime, dict[str, Any]]], cfg: SourceConfig,
             people: People, created: dt.datetime) -> tuple[str | None, str | None, str | None]:
    """Status, assignee and group at creation: the `from` of the first change of each, else the final value."""
    state = _name(fields.get("status"))
    assignee = _person(fields.get("assignee"), people, "engineer", created)
    group = _option(fields.get(cfg.group_field)) if cfg.group_field else None
    seen: set[str] = set()
    for at, history in histories:
        for item in history.get("items") or []:
            kind = _item_kind(item, cfg)
            if kind is None or kind in seen:
                continue
            seen.add(kind)
            if kind == "status":
                state = item.get("fromString")
            elif kind == "assignee":
                assignee = _changed_person(item, "from", people, at)
            else:
                group = item.get("fromString")
    return state, assignee, group


def _person(user: Any, people: People, role: str, seen: dt.datetime | None) -> str | None:
    """The user_key of a Jira user object (accountId, else name or key), meeting them in `people`."""
    if not isinstance(user, dict):
        return None
    ident = user.get("accountId") or user.get("name") or user.get("key")
    if not ident:
        return None
    key = person_key(SOURCE, str(ident), account_id=bool(_ACCOUNT.fullmatch(str(ident))))
    people.add(key, str(user.get("displayName") or ident), role, seen)
    return key


def _changed_person(item: dict[str, Any], side: str, people: People, at: dt.datetime) -> str | None:
    ident = item.get(side)
    if not ident:
        return None
    return _person({"accountId": ident, "displayName": item.get(f"{side}String") or ident}, people, "engineer", at)


def _name(value: Any) -> str | None:
    return str(value["name"]) if isinstance(value, dict) and value.get("name") is not None else None


def _option(value: Any) -> str | None:
    """A select field's value (`{"value": ...}`), a named object, a list's first, or text."""
    if isinstance(value, list):
        return _option(value[0]) if value else None
    if isinstance(value, dict):
        for key in ("value", "name", "displayName"):
            if value.get(key) is not None:
                return str(value[key])
        return None
    return None if value is None else str(value)


def _record(fields: dict[str, Any], cfg: SourceConfig, people: People, created: dt.datetime) -> dict[str, Any]:
    """The final state's fields."""
    slas = _slas(fields)
    resolution = slas.get(cfg.sla_resolution)
    response = slas.get(cfg.sla_first_response)
    components = [c.get("name") for c in fields.get("components") or [] if isinstance(c, dict)]
    labels = [str(label) for label in fields.get("labels") or []]
    status = fields.get("status") or {}
    attributes = {
        "issuetype": _name(fields.get("issuetype")), "project": (fields.get("project") or {}).get("key"),
        "resolution": _name(fields.get("resolution")), "components": components, "labels": labels,
        "status_category": ((status.get("statusCategory") or {}).get("key") if isinstance(status, dict) else None),
        "sla": {name: {k: v for k, v in sla.items() if k != "cycles"} for name, sla in slas.items()},
    }
    return {
        "state": _name(fields.get("status")), "assignee_key": _person(fields.get("assignee"), people, "engineer", None),
        "assignment_group": _option(fields.get(cfg.group_field)) if cfg.group_field else None,
        "opened_by_key": _person(fields.get("creator"), people, "support_agent", created),
        "title": _text(fields.get("summary"), 1000), "description": _plain(fields.get("description")),
        "category": components[0][:200] if components and components[0] else None,
        "subcategory": _name(fields.get("issuetype")),
        "priority": _name(fields.get("priority")),
        "impact": _option(fields.get(cfg.impact_field)) if cfg.impact_field else None,
        "urgency": _option(fields.get(cfg.urgency_field)) if cfg.urgency_field else None,
        "closed_code": _name(fields.get("resolution")),
        "opened_at": created, "resolved_at": _time(fields.get("resolutiondate")),
        "first_response_at": response.get("first_stop") if response else None,
        "sla_met": None if not resolution or resolution.get("breached") is None else not resolution["breached"],
        "attributes": json.dumps({k: v for k, v in attributes.items() if v not in (None, [], {})}, default=str,
                                 sort_keys=True),
        "other_fields": _other(fields, cfg),
    }


# Fields mapped above, and big or free-text ones the warehouse has no use for.
_KNOWN = {"summary", "description", "status", "priority", "issuetype", "project", "resolution", "resolutiondate",
          "components", "labels", "created", "updated", "creator", "reporter", "assignee", "comment", "attachment",
          "worklog", "watches", "votes", "subtasks", "issuelinks", "timetracking", "lastViewed",
          "statuscategorychangedate"}


def _other(fields: dict[str, Any], cfg: SourceConfig) -> str | None:
    """The issue's other fields (custom fields but SLAs), kept as JSON and never mapped."""
    mapped = {cfg.group_field, cfg.impact_field, cfg.urgency_field}
    other = {k: v for k, v in fields.items()
             if k not in _KNOWN and k not in mapped and v not in (None, [], {}, "")
             and not (isinstance(v, dict) and {"completedCycles", "ongoingCycle"} & set(v))}
    return json.dumps(other, default=str, sort_keys=True)[:16_000_000] if other else None


def _slas(fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jira Service Management SLA fields by their name: breached (any cycle), goal and first stop."""
    found: dict[str, dict[str, Any]] = {}
    for value in fields.values():
        if not isinstance(value, dict) or not ({"completedCycles", "ongoingCycle"} & set(value)):
            continue
        cycles = [c for c in value.get("completedCycles") or [] if isinstance(c, dict)]
        ongoing = value.get("ongoingCycle") if isinstance(value.get("ongoingCycle"), dict) else None
        flags = [c.get("breached") for c in [*cycles, *([ongoing] if ongoing else [])]
                 if isinstance(c.get("breached"), bool)]
        stops = [_cycle_time(c.get("stopTime")) for c in cycles]
        found[str(value.get("name"))] = {
            "breached": any(flags) if flags else None,
            "cycles": len(cycles) + (1 if ongoing else 0),
            "first_stop": next((s for s in stops if s is not None), None),
        }
    return found


def _cycle_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, dict):
        return None
    return epoch_millis(value.get("epochMillis")) or _time(value.get("iso8601"))


def _text(value: Any, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def _plain(value: Any) -> str | None:
    """A description as text: v2 gives a string, v3 Atlassian Document Format (its text nodes, a
    paragraph a line)."""
    if value is None or isinstance(value, str):
        return value
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for child in node.get("content") or []:
                walk(child)
            if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock", "blockquote"):
                parts.append("\n")
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return "".join(parts).strip() or None
