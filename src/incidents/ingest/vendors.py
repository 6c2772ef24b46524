"""Vendor alert webhooks -> Alertmanager-shaped alerts, without a database.

Each mapping is made from the vendor's documented payload:

- `grafana`: Grafana Alerting's webhook contact point
  (https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/).
  The body is an Alertmanager webhook payload (`receiver`, `status`, `alerts`, `groupLabels`,
  `commonLabels`, `externalURL`, `version` "1", `groupKey`, `truncatedAlerts`) plus `orgId` and the
  deprecated `title`, `state`, `message`; each alert is an Alertmanager alert plus `values`,
  `valueString`, `silenceURL`, `dashboardURL`, `panelURL`, `imageURL`. Its alerts are taken as they
  are (their `fingerprint` is Grafana's label fingerprint); only the shape is Grafana's own.
- `pagerduty`: PagerDuty v3 webhooks (https://developer.pagerduty.com/docs/webhooks-overview; source:
  https://github.com/PagerDuty/developer-docs/blob/main/docs/webhooks/01-Overview.md). One webhook holds one
  `event` {id, event_type, resource_type, occurred_at, agent, client, data}; for incident events
  `data` is the incident {id, number, status, incident_key, created_at, title, service, priority,
  urgency, escalation_policy, teams, html_url}. One PagerDuty incident is one alert fingerprint
  (`pagerduty:<data.id>`): `incident.triggered` fires it from `data.created_at`,
  `incident.reopened` fires it again from `occurred_at` (a new firing run, so a new incident here,
  as a firing after a resolution is for Alertmanager), `incident.resolved` resolves it at
  `occurred_at`. Every other event type (acknowledged, annotated, escalated, reassigned,
  priority_updated, service.*, the subscription's `pagey.ping`...) changes nothing here: it is
  ignored and counted, not an error, and never answered with a 4xx (PagerDuty disables a
  subscription after 3 dropped deliveries, "Temporary Disablement" in
  https://github.com/PagerDuty/developer-docs/blob/main/docs/webhooks/02-Behavior.md).
  Not PagerDuty Events API v2 change events: those are `pagerduty-change` (changes.py).

`auto` knows them by their documented keys (`vendor_format`). Functions here are pure: a document
in, an alert object (or a VendorProblem saying why not) out; parse.py turns alerts into rows.
"""

from __future__ import annotations

import re
from typing import Any

from incidents.ingest.times import EARLIEST, LATEST, parse_time

VENDOR_FORMATS = ("grafana", "pagerduty")
# PagerDuty event type -> the alert status it sends; any other event type is ignored.
PAGERDUTY_STATUS = {"incident.triggered": "firing", "incident.reopened": "firing", "incident.resolved": "resolved"}
# The incident's priority (its summary: PagerDuty's default names P1..P5) or, without one, its urgency
# -> the value of the project's severity label, so config/ingest.yml's `severities` apply.
PRIORITY_SEVERITY = {"p1": "critical", "p2": "error", "p3": "warning", "p4": "info", "p5": "info"}
URGENCY_SEVERITY = {"high": "critical", "low": "warning"}
_MAX_ID = 80  # PagerDuty ids are ~7-14 characters; the fingerprint holds at most 100
_MAX_LABEL = 500
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")  # 2020-07-17T08:42:58.315+0000 (PagerDuty writes some so)


class VendorProblem(Exception):
    """Why a vendor document cannot be mapped (becomes its row's error)."""


def vendor_format(doc: Any) -> str | None:
    """The vendor format `auto` takes a document for, or None (then it is Alertmanager or NDJSON)."""
    if is_pagerduty(doc):
        return "pagerduty"
    if is_grafana(doc):
        return "grafana"
    return None


def is_grafana(doc: Any) -> bool:
    """A Grafana Alerting webhook: an Alertmanager payload (version, alerts) with Grafana's `orgId`."""
    return isinstance(doc, dict) and "version" in doc and "alerts" in doc and "orgId" in doc


def is_pagerduty(doc: Any) -> bool:
    """A PagerDuty v3 webhook: a top-level `event` object naming its event_type or resource_type (one of
    the two is enough to be known, so a webhook missing the other lands with that error)."""
    event = doc.get("event") if isinstance(doc, dict) else None
    return isinstance(event, dict) and ("event_type" in event or "resource_type" in event)


# --------------------------------------------------------------------------- PagerDuty


def pagerduty_alert(doc: Any, *, severity_label: str = "severity") -> dict[str, Any] | None:
    """A PagerDuty v3 webhook as one Alertmanager-shaped alert; None for an event type that opens and
    resolves nothing (acknowledged, annotated...). VendorProblem when the webhook is malformed."""
    event = _object(doc.get("event") if isinstance(doc, dict) else doc, "event")
    event_type = _required_text(event, "event_type", "event.event_type")
    _required_text(event, "resource_type", "event.resource_type")
    status = PAGERDUTY_STATUS.get(event_type)
    if status is None:
        return None
    data = _object(event.get("data"), "event.data")
    incident_id = _required_text(data, "id", "event.data.id")
    if len(incident_id) > _MAX_ID:
        raise VendorProblem(f"event.data.id must be at most {_MAX_ID} characters")
    occurred_at = _time(event.get("occurred_at"), "event.occurred_at")
    created_at = _time(data["created_at"], "event.data.created_at") if data.get("created_at") is not None else None
    starts_at = occurred_at if event_type == "incident.reopened" else created_at or occurred_at
    alert: dict[str, Any] = {
        "status": status,
        "labels": _pagerduty_labels(data, incident_id, severity_label),
        "annotations": _pagerduty_annotations(data),
        "startsAt": starts_at,
        "endsAt": occurred_at if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": f"pagerduty:{incident_id}",
    }
    url = _text(data, "html_url", "event.data.html_url")
    if url:
        alert["generatorURL"] = url
    return alert


def _pagerduty_labels(data: dict[str, Any], incident_id: str, severity_label: str) -> dict[str, str]:
    """The incident's service, team, urgency and priority as labels, its title as alertname and the
    severity from priority (else urgency) under the project's severity label."""
    title = _text(data, "title", "event.data.title")
    number = data.get("number")
    priority = _reference_summary(data, "priority")
    urgency = _text(data, "urgency", "event.data.urgency")
    teams = data["teams"] if isinstance(data.get("teams"), list) else []
    found = {
        "alertname": title or f"PagerDuty incident {number if _is_number(number) else incident_id}",
        "service": _reference_summary(data, "service"),
        "team": next((t["summary"].strip() for t in teams if isinstance(t, dict) and isinstance(t.get("summary"), str)
                      and t["summary"].strip()), None),
        "escalation_policy": _reference_summary(data, "escalation_policy"),
        "urgency": urgency,
        "priority": priority,
        "pagerduty_incident": incident_id,
    }
    labels = {name: _cut(value) for name, value in found.items() if value}
    severity = PRIORITY_SEVERITY.get((priority or "").lower()) or URGENCY_SEVERITY.get((urgency or "").lower())
    if severity:
        labels.setdefault(severity_label, severity)  # a label of the same name (urgency, priority) wins
    return labels


def _pagerduty_annotations(data: dict[str, Any]) -> dict[str, str]:
    annotations = {"summary": _text(data, "title", "event.data.title"),
                   "incident_key": _text(data, "incident_key", "event.data.incident_key")}
    number = data.get("number")
    if _is_number(number):
        annotations["incident_number"] = str(number)
    return {k: v for k, v in annotations.items() if v}


def _reference_summary(data: dict[str, Any], key: str) -> str | None:
    """The `summary` of a PagerDuty reference object (service, priority, escalation_policy); None when absent."""
    ref = data.get(key)
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise VendorProblem(f"event.data.{key} must be an object or null, got {_kind(ref)}")
    return _text(ref, "summary", f"event.data.{key}.summary")


# --------------------------------------------------------------------------- helpers


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VendorProblem(f"{what} must be an object, got {_kind(value)}")
    return value


def _required_text(obj: dict[str, Any], key: str, what: str) -> str:
    text = _text(obj, key, what)
    if not text:
        raise VendorProblem(f"{what} is required")
    return text


def _text(obj: dict[str, Any], key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise VendorProblem(f"{what} must be a text, got {_kind(value)}")
    return value.strip() or None


def _time(value: Any, what: str) -> str:
    """A time of the webhook as RFC 3339 text (a +0000 offset written +00:00); VendorProblem unless it
    is an instant from 1970 to 2199 (checked with the parser every alert time goes through)."""
    if not isinstance(value, str) or len(value) > 60:
        raise VendorProblem(f"{what} must be an ISO 8601 time, got {_shown(value)}")
    text = _COMPACT_OFFSET.sub(r"\1:\2", value.strip())
    moment = parse_time(text)
    if moment is None:
        raise VendorProblem(f"{what} must be an ISO 8601 time, got {_shown(value)}")
    if not EARLIEST <= moment < LATEST:
        raise VendorProblem(f"{what} {_shown(value)} is outside {EARLIEST.year} to {LATEST.year - 1}")
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cut(text: str) -> str:
    return text[:_MAX_LABEL]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _kind(value)
    return text[:80] + ("..." if len(text) > 80 else "")
