"""Change events (deploys, configuration changes) -> raw_changes rows, without a database.

Three input formats, each from its vendor's documented payload:
- `changes`: NDJSON, one change a line: `service`, `environment`, `version`, `status`, `time`, `url`
  (optional `id` ties several status events of one change together, optional `summary`);
- `github-deployment`: GitHub `deployment_status` webhook payloads (`action`, `deployment_status`
  {id, state, created_at, environment, log_url, target_url, description}, `deployment` {id, sha,
  ref, environment, payload}, `repository` {name, full_name}); the service is
  `deployment.payload.service` when the deployment carries one, else the repository's name. All
  statuses of one deployment are one change (`github:<full_name>:<deployment id>`);
- `pagerduty-change`: PagerDuty Events API v2 change events (`routing_key`, `payload` {summary,
  timestamp, source, custom_details}, `links`); the service is `custom_details.service`, else
  `payload.source`. The routing key (an integration secret) is never stored.

`auto` knows them by their keys (`is_change`). Whatever cannot be read becomes a row with `error`
saying why, as for alerts: what arrived is never lost, one bad event never takes others down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from incidents.ingest.parse import (
    Document,
    Row,
    _dumps,
    _encodable,
    _json_text,
    _kept_text,
    _shown,
    _too_deep,
)
from incidents.ingest.times import EARLIEST, LATEST, parse_time

CHANGE_FORMATS = ("changes", "github-deployment", "pagerduty-change")
CHANGE_COLUMNS = ("LOAD_ID", "CHANGE_INDEX", "RECEIVED_AT", "SOURCE_FORMAT", "CHANGE_KEY", "EVENT_KEY", "SERVICE",
                  "ENVIRONMENT", "VERSION", "STATUS", "CHANGED_AT", "URL", "SUMMARY", "PAYLOAD", "ERROR")
# Vendor and common spellings of a change's state -> the normalised status (raw_changes.status).
_STATUS = {
    "success": "success", "succeeded": "success", "successful": "success", "passed": "success", "deployed": "success",
    "completed": "success", "done": "success",
    "failure": "failure", "failed": "failure", "error": "failure", "errored": "failure",
    "in_progress": "in_progress", "running": "in_progress", "started": "in_progress",
    "pending": "pending", "queued": "pending", "waiting": "pending",
    "cancelled": "cancelled", "canceled": "cancelled", "aborted": "cancelled",
    "inactive": "inactive",
}
_MAX_TEXT = {"SERVICE": 200, "ENVIRONMENT": 200, "VERSION": 200, "URL": 2000, "SUMMARY": 1000}
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")  # PagerDuty's documented 2020-07-17T08:42:58.315+0000
_MAX_ERROR = 1000


def is_change(value: Any) -> bool:
    """Whether `auto` takes a document as a change event rather than an alert."""
    return change_format(value) is not None


def change_format(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "deployment_status" in value and "deployment" in value:
        return "github-deployment"
    if "routing_key" in value and isinstance(value.get("payload"), dict) and "event_action" not in value:
        return "pagerduty-change"
    if "service" in value and "version" in value and "labels" not in value and "alerts" not in value:
        return "changes"
    return None


class ChangeProblem(Exception):
    """Why one change event cannot be mapped (becomes the row's error)."""


@dataclass
class Change:
    key: str
    service: str
    environment: str | None
    version: str | None
    status: str
    changed_at: dt.datetime
    url: str | None
    summary: str | None


@dataclass
class ChangeReader:
    """Turns documents into raw_changes rows (LOAD_ID and CHANGE_INDEX are set when landed). `fmt` is
    one of CHANGE_FORMATS, or "auto" (each document by its keys)."""

    fmt: str
    received_at: dt.datetime
    documents: int = 0
    changes: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few

    def rows(self, doc: Document, where: str | None = None) -> list[Row]:
        self.documents += 1
        where = where or f"document {self.documents} (line {doc.line})"
        fmt = self.fmt if self.fmt in CHANGE_FORMATS else (change_format(doc.value) or "changes")
        if doc.problem is not None:
            return [self._error(_kept_text(doc.text), fmt, f"{where}: {doc.problem}")]
        if _too_deep(doc):
            return [self._error(_kept_text(doc.text), fmt, f"{where}: nested too deeply")]
        return [self._row(doc.value, fmt, where)]

    def _row(self, value: Any, fmt: str, where: str) -> Row:
        stored = _redacted(value) if fmt == "pagerduty-change" else value
        payload = _json_text(stored)
        if not _encodable(payload):
            return self._error(_kept_text(payload), fmt, f"{where}: text that is not valid Unicode")
        try:
            change = MAPPERS[fmt](value)
        except ChangeProblem as exc:
            return self._error(payload, fmt, f"{where}: {exc}")
        self.changes += 1
        event_key = hashlib.sha256(_dumps(stored, canonical=True).encode("utf-8")).hexdigest()[:32]
        return [None, None, self.received_at, fmt, change.key, event_key, change.service, change.environment,
                change.version, change.status, change.changed_at, change.url, change.summary, payload, None]

    def stopped_row(self, message: str) -> Row:
        return self._error("null", self.fmt if self.fmt in CHANGE_FORMATS else "changes", f"input stopped: {message}")

    def _error(self, payload: str, fmt: str, error: str) -> Row:
        self.malformed += 1
        if len(self.errors) < 5:
            self.errors.append(error[:_MAX_ERROR])
        return [None, None, self.received_at, fmt, None, None, None, None, None, None, None, None, None, payload,
                error[:_MAX_ERROR]]


# --------------------------------------------------------------------------- the three shapes


def from_changes(doc: Any) -> Change:
    """One NDJSON change event: service, environment, version, status, time, url (id, summary optional)."""
    doc = _object(doc, "a change event")
    service = _required_text(doc, "service")
    changed_at = _time(doc.get("time"), "time")
    status = _status(doc.get("status", "success"), "status")
    environment, version = _text(doc, "environment"), _text(doc, "version")
    ident = doc.get("id")
    if ident is not None and not (isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident)):
        raise ChangeProblem(f"id must be a text or a number, got {_shown(ident)}")
    key = f"changes:{ident}" if ident is not None else "changes:" + _hash(
        [service, environment, version, status, changed_at.isoformat()])
    return Change(_cut(key, 300), service, environment, version, status, changed_at, _text(doc, "url"),
                  _text(doc, "summary"))


def from_github(doc: Any) -> Change:
    """A GitHub `deployment_status` webhook payload (https://docs.github.com/en/webhooks/webhook-events-and-payloads#deployment_status)."""
    doc = _object(doc, "a deployment_status payload")
    status_obj = _object(doc.get("deployment_status"), "deployment_status")
    deployment = _object(doc.get("deployment"), "deployment")
    repository, deploy_payload = _maybe_object(doc.get("repository")), _maybe_object(deployment.get("payload"))
    service = _text(deploy_payload, "service") or _text(repository, "name")
    if not service:
        raise ChangeProblem("no service: neither deployment.payload.service nor repository.name is set")
    deployment_id = deployment.get("id")
    if not isinstance(deployment_id, (int, str)) or isinstance(deployment_id, bool):
        raise ChangeProblem(f"deployment.id must be set, got {_shown(deployment_id)}")
    repo = _text(repository, "full_name") or service
    return Change(
        key=_cut(f"github:{repo}:{deployment_id}", 300), service=service,
        environment=_text(status_obj, "environment") or _text(deployment, "environment"),
        version=_text(deployment, "sha") or _text(deployment, "ref"),
        status=_status(status_obj.get("state"), "deployment_status.state"),
        changed_at=_time(status_obj.get("created_at") or status_obj.get("updated_at"), "deployment_status.created_at"),
        url=_text(status_obj, "log_url") or _text(status_obj, "target_url") or _text(status_obj, "environment_url"),
        summary=_text(status_obj, "description") or _text(deployment, "description"))


def from_pagerduty(doc: Any) -> Change:
    """A PagerDuty Events API v2 change event (https://developer.pagerduty.com/docs/events-api-v2/send-change-events/)."""
    doc = _object(doc, "a change event")
    payload = _object(doc.get("payload"), "payload")
    summary = _required_text(payload, "summary")
    details = _maybe_object(payload.get("custom_details"))
    service = _text(details, "service") or _text(payload, "source")
    if not service:
        raise ChangeProblem("no service: set payload.custom_details.service or payload.source")
    state = next((details[k] for k in ("status", "build_state", "state") if isinstance(details.get(k), str)), "success")
    timestamp = payload.get("timestamp")
    if not isinstance(timestamp, str):
        raise ChangeProblem("payload.timestamp is required here: without it the change has no time")
    links = doc.get("links") if isinstance(doc.get("links"), list) else []
    href = next((link["href"] for link in links if isinstance(link, dict) and isinstance(link.get("href"), str)), None)
    version = next((str(details[k]) for k in ("version", "revision", "build_number")
                    if isinstance(details.get(k), (str, int)) and not isinstance(details.get(k), bool)), None)
    return Change(
        key="pagerduty:" + _hash(_redacted(doc)), service=service,
        environment=_text(details, "environment"), version=_cut(version, 200) if version else None,
        status=_status(state, "payload.custom_details.status"), changed_at=_time(timestamp, "payload.timestamp"),
        url=_cut(href, 2000) if href else None, summary=summary)


MAPPERS = {"changes": from_changes, "github-deployment": from_github, "pagerduty-change": from_pagerduty}


# --------------------------------------------------------------------------- helpers


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ChangeProblem(f"{what} must be a JSON object, got {_shown(value)}")
    return value


def _maybe_object(value: Any) -> dict[str, Any]:
    """An optional object of the payload: {} when absent or not an object."""
    return value if isinstance(value, dict) else {}


def _required_text(obj: dict[str, Any], key: str) -> str:
    text = _text(obj, key, required=True)
    assert text is not None  # _text raised otherwise
    return text


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
        raise ChangeProblem(f"{key} must be a text, got {_shown(value)}")
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise ChangeProblem(f"{key} is required")
        return None
    return _cut(text, _MAX_TEXT.get(key.upper(), 1000))


def _cut(text: str, limit: int) -> str:
    return text[:limit]


def _status(value: Any, key: str) -> str:
    status = _STATUS.get(value.strip().lower()) if isinstance(value, str) else None
    if status is None:
        raise ChangeProblem(f"{key} must be one of success, failure, in_progress, pending, cancelled, inactive "
                            f"(or a common spelling of one), got {_shown(value)}")
    return status


def _time(value: Any, key: str) -> dt.datetime:
    moment = None
    if isinstance(value, str) and len(value) <= 60:
        moment = parse_time(_COMPACT_OFFSET.sub(r"\1:\2", value.strip()))
    if moment is None:
        raise ChangeProblem(f"{key} must be an RFC 3339 time, got {_shown(value)}")
    if not EARLIEST <= moment < LATEST:
        raise ChangeProblem(f"{key} {_shown(value)} is outside {EARLIEST.year} to {LATEST.year - 1}")
    return moment


def _hash(value: Any) -> str:
    return hashlib.sha256(_dumps(value, canonical=True).encode("utf-8")).hexdigest()[:32]


def _redacted(doc: Any) -> Any:
    """A PagerDuty event without its routing key (the integration's secret): never stored or hashed."""
    if isinstance(doc, dict) and "routing_key" in doc:
        return {**doc, "routing_key": "<redacted>"}
    return doc
