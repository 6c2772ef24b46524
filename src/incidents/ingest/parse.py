"""Alert payloads -> raw_alerts rows, without a database.

Input is one JSON document, a JSON array of documents, or documents one after another (one a
line, NDJSON). `auto` knows an Alertmanager webhook payload by its `version` and `alerts` keys
and takes any other object as one alert event (the shape of an Alertmanager alert: `status`,
`labels`, `annotations`, `startsAt`, `endsAt`, `fingerprint`). Whatever cannot be read still
becomes a row, with `error` saying why: what arrived is never lost.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FORMATS = ("auto", "alertmanager", "ndjson")
STATUSES = ("firing", "resolved")
# RFC 3339 as Alertmanager writes it: 2026-12-01T19:53:08.123456789Z or with an offset.
_TIME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_ZERO_TIME_YEAR = 1  # Alertmanager's "0001-01-01T00:00:00Z": no end yet
_MAX_ERROR = 1000
_MAX_FINGERPRINT = 100


@dataclass
class Parsed:
    rows: list[dict[str, Any]]  # raw_alerts rows (upper-case column names), in arrival order
    documents: int  # webhook payloads / event lines read

    @property
    def malformed(self) -> int:
        return sum(1 for r in self.rows if r["ERROR"] is not None)

    @property
    def alerts(self) -> int:
        return len(self.rows) - self.malformed

    def errors(self, limit: int = 5) -> list[str]:
        return [r["ERROR"] for r in self.rows if r["ERROR"] is not None][:limit]


def parse(text: str, fmt: str = "auto", *, received_at: dt.datetime, load_id: str) -> Parsed:
    """Every alert in `text` as a raw_alerts row; malformed pieces as rows with an error."""
    rows: list[dict[str, Any]] = []
    documents = 0
    for position, doc, problem in _documents(text):
        documents += 1
        where = f"document {documents} (line {position})"
        if problem is not None:
            rows.append(_row(received_at, fmt_name(fmt), raw=doc, error=f"{where}: {problem}"))
            continue
        for row in _alerts(doc, fmt, where, received_at):
            rows.append(row)
    for i, row in enumerate(rows):
        row["LOAD_ID"], row["ALERT_INDEX"] = load_id, i
    return Parsed(rows, documents)


def fmt_name(fmt: str) -> str:
    return "ndjson" if fmt == "ndjson" else "alertmanager"


# --------------------------------------------------------------------------- documents

def _documents(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line, document, problem) for each JSON value in the text; a top-level array is a list of
    documents. After a syntax error, reading resumes at the next line."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    line, counted = 1, 0  # newlines counted up to `counted` (incrementally: the text can be large)
    while True:
        pos = _skip_blanks(text, pos)
        if pos >= end:
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            stop = text.find("\n", pos)
            stop = end if stop < 0 else stop
            yield line, text[pos:stop][:10_000], f"invalid JSON: {exc.msg} at column {exc.colno}"
            pos = stop
            continue
        if isinstance(value, list):
            for item in value:
                yield line, item, None
        else:
            yield line, value, None


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def _is_webhook(doc: Any) -> bool:
    return isinstance(doc, dict) and "version" in doc and "alerts" in doc


def _alerts(doc: Any, fmt: str, where: str, received_at: dt.datetime) -> Iterator[dict[str, Any]]:
    webhook = _is_webhook(doc)
    if fmt == "alertmanager" and not webhook:
        yield _row(received_at, "alertmanager", raw=doc,
                   error=f"{where}: not an Alertmanager webhook payload (no version and alerts keys)")
        return
    if fmt == "ndjson" or not webhook:
        yield _alert_row(doc, None, "ndjson", where, received_at)
        return
    alerts = doc.get("alerts")
    envelope = json.dumps({k: v for k, v in doc.items() if k != "alerts"}, ensure_ascii=False)  # once a payload
    if not isinstance(alerts, list):
        yield _row(received_at, "alertmanager", raw=doc, envelope=envelope, error=f"{where}: alerts is not a list")
        return
    for i, alert in enumerate(alerts):
        yield _alert_row(alert, envelope, "alertmanager", f"{where} alert {i + 1}", received_at)


# --------------------------------------------------------------------------- one alert

def _alert_row(alert: Any, envelope: str | None, source: str, where: str,
               received_at: dt.datetime) -> dict[str, Any]:
    problem = _problem(alert)
    if problem:
        return _row(received_at, source, raw=alert, envelope=envelope, error=f"{where}: {problem}")
    status = alert.get("status", "firing")
    starts_text = alert["startsAt"]
    ends_at = _timestamp(alert.get("endsAt")) if status == "resolved" else None
    fingerprint = alert.get("fingerprint") or _fingerprint(alert["labels"])
    row = _row(received_at, source, raw=alert, envelope=envelope)
    row.update(FINGERPRINT=fingerprint, STATUS=status, STARTS_AT=_timestamp(starts_text),
               ENDS_AT=ends_at or (received_at if status == "resolved" else None),
               EPISODE_KEY=f"{fingerprint}@{starts_text}", EVENT_KEY=_event_key(row["PAYLOAD"]))
    return row


def _problem(alert: Any) -> str | None:
    """Why an alert object cannot become an incident (None when it can)."""
    if not isinstance(alert, dict):
        return f"an alert must be a JSON object, got {type(alert).__name__}"
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) for v in labels.values()):
        return "labels must be a non-empty object of strings"
    annotations = alert.get("annotations", {})
    if annotations is not None and not isinstance(annotations, dict):
        return "annotations must be an object"
    status = alert.get("status", "firing")
    if status not in STATUSES:
        return f"status must be firing or resolved, got {status!r}"
    fingerprint = alert.get("fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= _MAX_FINGERPRINT):
        return f"fingerprint must be a text of 1 to {_MAX_FINGERPRINT} characters"
    if not isinstance(alert.get("startsAt"), str) or _timestamp(alert["startsAt"]) is None:
        return f"startsAt must be an RFC 3339 time, got {alert.get('startsAt')!r}"
    if len(alert["startsAt"]) > 60:
        return "startsAt is too long"
    return None


def _timestamp(value: Any) -> dt.datetime | None:
    """RFC 3339 text -> naive UTC (microseconds); Alertmanager's zero time and garbage -> None."""
    return _parse_time(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=65536)  # alerts of one batch share few distinct times
def _parse_time(value: str) -> dt.datetime | None:
    m = _TIME_RE.fullmatch(value.strip())
    if not m:
        return None
    date, clock, fraction, zone = m.groups()
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        parsed = dt.datetime.fromisoformat(f"{date}T{clock}.{micros}{offset}")
    except ValueError:
        return None
    if parsed.year <= _ZERO_TIME_YEAR:
        return None
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _fingerprint(labels: dict[str, str]) -> str:
    """For events without one: 16 hex digits from the sorted label set, like Alertmanager's."""
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _event_key(payload_json: str) -> str:
    """The alert as sent (Alertmanager writes its fields in a fixed order, so a re-send is the same text)."""
    return hashlib.sha256(payload_json.encode("utf-8")).hexdigest()[:32]


def _row(received_at: dt.datetime, source: str, *, raw: Any, envelope: dict[str, Any] | str | None = None,
         error: str | None = None) -> dict[str, Any]:
    return {
        "LOAD_ID": None, "ALERT_INDEX": None, "RECEIVED_AT": received_at, "SOURCE_FORMAT": source,
        "FINGERPRINT": None, "STATUS": None, "STARTS_AT": None, "ENDS_AT": None, "EPISODE_KEY": None,
        "EVENT_KEY": None, "PAYLOAD": json.dumps(raw, ensure_ascii=False),
        "ENVELOPE": envelope if envelope is None or isinstance(envelope, str) else json.dumps(envelope,
                                                                                             ensure_ascii=False),
        "ERROR": None if error is None else error[:_MAX_ERROR],
    }
