"""Alert payloads -> raw_alerts rows, without a database, in bounded memory.

Input is one JSON document, a JSON array of documents, or documents one after another (one a
line, NDJSON). `auto` knows a PagerDuty v3 webhook by its `event` object and a Grafana Alerting
webhook by `orgId` beside `version` and `alerts` (vendors.py maps both), an Alertmanager webhook
payload by its `version` and `alerts` keys, and takes any other object as one alert event (the
shape of an Alertmanager alert: `status`, `labels`, `annotations`, `startsAt`, `endsAt`,
`fingerprint`). Whatever cannot be read still
becomes a row, with `error` saying why: what arrived is never lost, and one bad alert never takes
the others of its document down.

The input is read as a stream (`read_documents` over blocks of text): a top-level array is read
element by element, so memory is bounded by the largest single document (MAX_DOCUMENT_CHARS),
not by the input. Times are parsed to the instant (naive UTC); the derived fingerprint and the
notification key are hashes of canonical JSON, so neither depends on how a value was written.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from incidents.errors import ConfigError
from incidents.ingest.times import EARLIEST, LATEST, parse_time
from incidents.ingest.vendors import VENDOR_FORMATS, VendorProblem, is_grafana, pagerduty_alert, vendor_format
from incidents.project.models import Project

FORMATS = ("auto", "alertmanager", "ndjson", *VENDOR_FORMATS)
STATUSES = ("firing", "resolved")
COLUMNS = ("LOAD_ID", "ALERT_INDEX", "RECEIVED_AT", "SOURCE_FORMAT", "FINGERPRINT", "STATUS", "STARTS_AT",
           "ENDS_AT", "EPISODE_KEY", "EVENT_KEY", "PAYLOAD", "ENVELOPE", "ERROR")
Row = list[Any]  # one raw_alerts row, values in COLUMNS order


def check_landing_table(project: Project) -> None:
    """`validate`: a project that ingests (config/ingest.yml) declares raw_alerts with every column ingest
    writes, or ingest would fail at its first load instead."""
    if not (project.root / "config" / "ingest.yml").is_file():
        return
    table = next((t for t in project.tables if t.name == "raw_alerts"), None)
    if table is None:
        raise ConfigError("table raw_alerts is not declared, and ingest lands every alert in it: restore "
                          "config/tables/raw_alerts.yml", file="config/ingest.yml")
    declared = {c.name.upper() for c in table.columns}
    missing = [c.lower() for c in COLUMNS if c not in declared]
    if missing:
        raise ConfigError(f"raw_alerts lacks the column(s) ingest writes: {', '.join(missing)}; declare them again",
                          file=table.source)
MAX_DOCUMENT_CHARS = 64 * 1024 * 1024  # one JSON document (payload, event line or array element)
MAX_ALERT_CHARS = 8 * 1024 * 1024  # one alert as JSON: well under Snowflake's 16 MB VARIANT
MAX_DEPTH = 64  # nesting levels of one document (an Alertmanager payload has 4)
_MAX_ERROR = 1000
_MAX_FINGERPRINT = 100
_MAX_KEPT_TEXT = 10_000  # of a document that is not JSON, the first this many characters are kept
_BLANKS = " \t\r\n\ufeff"


class InputTooLarge(Exception):
    """A document longer than MAX_DOCUMENT_CHARS (or endless input such as /dev/zero)."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"line {line}: no complete JSON document within {limit // (1024 * 1024)} MiB; "
                         "stopped reading there (is this alert JSON?)")
        self.line = line


# --------------------------------------------------------------------------- documents


@dataclass
class Document:
    line: int  # where it starts (1-based)
    value: Any  # the parsed JSON value; None when problem is set
    problem: str | None  # why it is not JSON
    text: str  # its source text, for error rows and the nesting check (not kept for long)


def read_documents(blocks: Iterable[str], *, max_chars: int = MAX_DOCUMENT_CHARS) -> Iterator[Document]:
    """Every JSON value in the text the blocks make up, in order; the elements of a top-level array
    one by one. After a syntax error reading resumes at the next line. Memory holds the current
    document and one block; InputTooLarge when a document is longer than max_chars."""
    return _DocumentReader(iter(blocks), max_chars).documents()


class _DocumentReader:
    def __init__(self, blocks: Iterator[str], max_chars: int) -> None:
        self.blocks, self.max_chars = blocks, max_chars
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.counted = 1, 0  # newlines counted up to buf[counted]
        self.decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)

    def fill(self, at_least: int = 1) -> None:
        """Drop what was read, append blocks until `at_least` more characters (or the end)."""
        if self.pos:
            self.line += self.buf.count("\n", self.counted, self.pos)
            self.buf, self.counted, self.pos = self.buf[self.pos:], 0, 0
        parts, got = [self.buf], 0
        while got < at_least:
            block = next(self.blocks, None)
            if block is None:
                self.eof = True
                break
            parts.append(block)
            got += len(block)
        self.buf = "".join(parts)

    def here(self) -> int:
        self.line += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line

    def skip_blanks(self) -> bool:
        """Move past blanks; False at the end of input."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _BLANKS:
                self.pos += 1
            if self.pos < len(self.buf):
                return True
            if self.eof:
                return False
            self.fill()

    def documents(self) -> Iterator[Document]:
        in_array = False
        while self.skip_blanks():
            char = self.buf[self.pos]
            if in_array and char == "]":
                self.pos, in_array = self.pos + 1, False
                continue
            if in_array and char == ",":
                self.pos += 1
                continue
            if not in_array and char == "[" and self._array_of_documents():
                self.pos, in_array = self.pos + 1, True
                continue
            doc = self._one()
            if doc.problem is not None:
                in_array = False  # resynchronise on the next line
            yield doc

    def _array_of_documents(self) -> bool:
        """A top-level `[` starts a list of documents, unless it is an empty or scalar list (then it
        is one document, malformed: an alert must be an object)."""
        while True:
            at = self.pos + 1
            while at < len(self.buf) and self.buf[at] in _BLANKS:
                at += 1
            if at < len(self.buf) or self.eof:
                return self.buf[at:at + 1] in ("{", "[")
            if at - self.pos > self.max_chars:
                raise InputTooLarge(self.here(), self.max_chars)
            self.fill(len(self.buf))

    def _one(self) -> Document:
        line = self.here()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._maybe_cut(exc.pos):
                    self._need_more(line)
                    continue
                return self._bad_line(line, f"invalid JSON: {exc.msg} at column {exc.colno}")
            except RecursionError:
                return self._bad_line(line, "invalid JSON: nested too deeply")
            except ValueError as exc:  # an integer beyond Python's digit limit, NaN, Infinity, 1e400
                return self._bad_line(line, f"invalid JSON: {_value_problem(exc)}")
            if end == len(self.buf) and not self.eof:  # a number may go on in the next block
                self._need_more(line)
                continue
            start, self.pos = self.pos, end
            return Document(line, value, None, self.buf[start:end])

    def _maybe_cut(self, error_at: int) -> bool:
        """Whether a decode error may only be the end of what was read so far: the rest of the
        buffer after the error holds no line break (a complete bad line has one)."""
        return not self.eof and self.buf.find("\n", error_at) < 0

    def _need_more(self, line: int) -> None:
        held = len(self.buf) - self.pos
        if held > self.max_chars:
            raise InputTooLarge(line, self.max_chars)
        self.fill(max(held, 65536))  # doubling: a large document is re-read O(log n) times

    def _bad_line(self, line: int, problem: str) -> Document:
        """The rest of the line from the document's start is kept as the malformed text."""
        while True:
            stop = self.buf.find("\n", self.pos)
            if stop >= 0 or self.eof:
                break
            self._need_more(line)
        stop = len(self.buf) if stop < 0 else stop
        text = self.buf[self.pos:stop]
        self.pos = stop
        return Document(line, None, problem, text)


def _value_problem(exc: ValueError) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "digits" in text and "integer" in text:
        return "an integer of more than 4300 digits"
    return text[:200]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def text_blocks(data: bytes | str, size: int = 1 << 20) -> Iterator[str]:
    """A whole text (a posted body, a test's input) as blocks for read_documents."""
    text = data.decode("utf-8-sig", "surrogateescape") if isinstance(data, bytes) else data
    for i in range(0, len(text), size):
        yield text[i:i + size]


def stream_blocks(stream: Any, size: int = 1 << 20) -> Iterator[str]:
    """A binary stream as blocks of text. Bytes that are not UTF-8 become lone surrogates
    (surrogateescape): the alert holding them lands as an error, the rest of the input is read."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")("surrogateescape")
    while True:
        data = stream.read(size)
        if not data:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        yield decoder.decode(data)


# --------------------------------------------------------------------------- alerts


@dataclass
class AlertReader:
    """Turns documents into raw_alerts rows (LOAD_ID and ALERT_INDEX are set when landed)."""

    fmt: str
    received_at: dt.datetime
    severity_label: str = "severity"  # config/ingest.yml's: where vendor mappings put the severity they derive
    documents: int = 0
    alerts: int = 0
    malformed: int = 0
    ignored: int = 0  # vendor events that open and resolve nothing (PagerDuty acknowledged...): no row
    pagerduty: int = 0  # documents taken for PagerDuty v3 webhooks (the receiver wants them signed)
    errors: list[str] = field(default_factory=list)  # the first few

    def rows(self, doc: Document) -> list[Row]:
        """The rows of one document; counts what it saw."""
        self.documents += 1
        where = f"document {self.documents} (line {doc.line})"
        if doc.problem is not None:
            rows = [self._error(_kept_text(doc.text), None, _source(self.fmt), f"{where}: {doc.problem}")]
        elif _too_deep(doc):
            rows = [self._error(_kept_text(doc.text), None, _source(self.fmt),
                                f"{where}: nested deeper than {MAX_DEPTH} levels")]
        else:
            rows = list(self._alerts(doc.value, where))
        return rows

    def _alerts(self, doc: Any, where: str) -> Iterator[Row]:
        fmt = self.fmt if self.fmt != "auto" else vendor_format(doc) or ("alertmanager" if _webhook(doc) else "ndjson")
        if fmt == "ndjson":
            yield self._alert(doc, None, "ndjson", where)
        elif fmt == "pagerduty":
            yield from self._pagerduty(doc, where)
        elif not (is_grafana(doc) if fmt == "grafana" else _webhook(doc)):
            what = "a Grafana Alerting webhook payload (no version, alerts and orgId keys)" if fmt == "grafana" else (
                "an Alertmanager webhook payload (no version and alerts keys)")
            yield self._error(_json_text(doc), None, fmt, f"{where}: not {what}")
        else:
            yield from self._webhook(doc, fmt, where)

    def _webhook(self, doc: dict[str, Any], source: str, where: str) -> Iterator[Row]:
        """An Alertmanager-shaped payload (Alertmanager's or Grafana's): a row per alert."""
        envelope = _envelope_text({k: v for k, v in doc.items() if k != "alerts"})  # once a payload
        alerts = doc["alerts"]
        if not isinstance(alerts, list):
            yield self._error(_json_text(doc), envelope, source, f"{where}: alerts is not a list")
            return
        if not alerts:
            yield self._error(_json_text(doc), envelope, source, f"{where}: the payload holds no alert")
            return
        for i, alert in enumerate(alerts):
            yield self._alert(alert, envelope, source, f"{where} alert {i + 1}")

    def _pagerduty(self, doc: Any, where: str) -> Iterator[Row]:
        """A PagerDuty v3 webhook: one alert (the webhook itself as its envelope), or none for an event
        type that opens and resolves nothing (counted in `ignored`)."""
        self.pagerduty += 1
        text = _json_text(doc)
        try:
            alert = pagerduty_alert(doc, severity_label=self.severity_label)
        except VendorProblem as exc:
            yield self._error(text if _encodable(text) else _kept_text(text), None, "pagerduty", f"{where}: {exc}")
            return
        if alert is None:
            self.ignored += 1
            return
        if len(text) > MAX_ALERT_CHARS:
            yield self._error(_kept_text(text), None, "pagerduty",
                              f"{where}: the webhook is larger than {MAX_ALERT_CHARS // (1024 * 1024)} MiB as JSON")
            return
        yield self._alert(alert, _envelope_text(doc), "pagerduty", where)

    def _alert(self, alert: Any, envelope: str | None, source: str, where: str) -> Row:
        payload = _json_text(alert)
        problem = _problem(alert)
        if problem is None and len(payload) > MAX_ALERT_CHARS:
            problem = f"the alert is larger than {MAX_ALERT_CHARS // (1024 * 1024)} MiB as JSON"
            payload = _kept_text(payload)
        if problem is None and not _encodable(payload):
            problem = "text that is not valid Unicode (a lone surrogate such as \\ud800, or bytes that are not UTF-8)"
            payload = json.dumps(json.dumps(alert, ensure_ascii=True))
        if problem is not None:
            return self._error(payload, envelope, source, f"{where}: {problem}")
        status = alert.get("status", "firing")
        starts_at = parse_time(alert["startsAt"].strip())
        assert starts_at is not None  # _problem checked it
        ends = alert.get("endsAt")
        ends_at = parse_time(ends.strip()) if status == "resolved" and isinstance(ends, str) and len(
            ends) <= 60 else None
        fingerprint = alert.get("fingerprint") or derived_fingerprint(alert["labels"])
        self.alerts += 1
        return [None, None, self.received_at, source, fingerprint, status, starts_at,
                ends_at or (self.received_at if status == "resolved" else None),
                f"{fingerprint}@{_iso(starts_at)}", notification_key(alert, starts_at, ends_at), payload, envelope,
                None]

    def stopped_row(self, message: str) -> Row:
        """The row that records where reading stopped (its text is not kept: it was too long)."""
        return self._error("null", None, _source(self.fmt), f"input stopped: {message}")

    def _error(self, payload: str, envelope: str | None, source: str, error: str) -> Row:
        self.malformed += 1
        if len(self.errors) < 5:
            self.errors.append(error[:_MAX_ERROR])
        return [None, None, self.received_at, source, None, None, None, None, None, None, payload, envelope,
                error[:_MAX_ERROR]]


def _source(fmt: str) -> str:
    """SOURCE_FORMAT of a row for a document that could not be read: the format asked for (auto: alertmanager)."""
    return "alertmanager" if fmt == "auto" else fmt


def _webhook(doc: Any) -> bool:
    return isinstance(doc, dict) and "version" in doc and "alerts" in doc


def _problem(alert: Any) -> str | None:
    """Why an alert object cannot become an incident (None when it can)."""
    if not isinstance(alert, dict):
        return f"an alert must be a JSON object, got {_json_type(alert)}"
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) for v in labels.values()):
        return "labels must be a non-empty object of strings"
    annotations = alert.get("annotations", {})
    if annotations is not None and not isinstance(annotations, dict):
        return "annotations must be an object"
    status = alert.get("status", "firing")
    if status not in STATUSES:
        return f"status must be firing or resolved, got {_shown(status)}"
    fingerprint = alert.get("fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= _MAX_FINGERPRINT):
        return f"fingerprint must be a text of 1 to {_MAX_FINGERPRINT} characters"
    starts = alert.get("startsAt")
    starts_at = parse_time(starts.strip()) if isinstance(starts, str) and len(starts) <= 60 else None
    if starts_at is None:
        return f"startsAt must be an RFC 3339 time, got {_shown(starts)}"
    if not EARLIEST <= starts_at < LATEST:
        return f"startsAt {_shown(starts)} is outside {EARLIEST.year} to {LATEST.year - 1}"
    ends = alert.get("endsAt")
    if status == "resolved" and isinstance(ends, str) and len(ends) <= 60:
        ends_at = parse_time(ends.strip())
        if ends_at is not None and not EARLIEST <= ends_at < LATEST:
            return f"endsAt {_shown(ends)} is outside {EARLIEST.year} to {LATEST.year - 1}"
        if ends_at is not None and ends_at < starts_at:
            return f"endsAt {_shown(ends)} is before startsAt {_shown(starts)}"
    return None


def _shown(value: Any) -> str:
    """A value quoted in an error, short and printable (the poster sees it)."""
    text = repr(value) if isinstance(value, str) else _json_type(value)
    return text[:80] + ("..." if len(text) > 80 else "")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


@functools.lru_cache(maxsize=65536)
def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def derived_fingerprint(labels: dict[str, str]) -> str:
    """For events without one: 16 hex digits of a hash of the label set as canonical JSON (sorted
    keys, no spaces), so no choice of label values can make two label sets look alike."""
    return hashlib.sha256(_dumps(labels, canonical=True).encode("utf-8")).hexdigest()[:16]


def notification_key(alert: dict[str, Any], starts_at: dt.datetime, ends_at: dt.datetime | None) -> str:
    """What makes two notifications the same one: the alert as canonical JSON with its times as
    instants (a firing alert's endsAt left out: it only says when Prometheus will look again)."""
    canonical = dict(alert, startsAt=_iso(starts_at), endsAt=_iso(ends_at))
    return hashlib.sha256(_dumps(canonical, canonical=True).encode("utf-8")).hexdigest()[:32]


def _dumps(value: Any, *, canonical: bool = False) -> str:
    """JSON text (orjson; the standard encoder for what orjson refuses: integers beyond 64 bits,
    lone surrogates). Canonical: sorted keys, no spaces."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if canonical else 0).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=canonical, separators=(",", ":"))


def _json_text(value: Any) -> str:
    return _dumps(value)


def _envelope_text(envelope: dict[str, Any]) -> str:
    """The payload around the alerts; a lone surrogate in it (context, not the alert) is replaced."""
    text = _json_text(envelope)
    return text if _encodable(text) else _json_text(_replace_surrogates(envelope))


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kept_text(text: str) -> str:
    """A document that is not an alert, kept as a JSON string: the first characters, with any
    byte that was not UTF-8 (now a lone surrogate) replaced."""
    kept = text[:_MAX_KEPT_TEXT]
    if not _encodable(kept):
        kept = kept.encode("utf-8", "replace").decode("utf-8")
    return json.dumps(kept, ensure_ascii=False)


def _too_deep(doc: Document) -> bool:
    """Whether the document nests deeper than MAX_DEPTH (checked only when it has that many brackets)."""
    text = doc.text
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return False
    stack: list[tuple[Any, int]] = [(doc.value, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


# --------------------------------------------------------------------------- whole texts


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


def parse(text: str | bytes, fmt: str = "auto", *, received_at: dt.datetime, load_id: str) -> Parsed:
    """Every alert in a whole text as a raw_alerts row (a dict); malformed pieces as rows with an
    error. For tests and small inputs; ingest streams through AlertReader instead."""
    reader = AlertReader(fmt, received_at)
    rows = [row for doc in read_documents(text_blocks(text)) for row in reader.rows(doc)]
    for i, row in enumerate(rows):
        row[0], row[1] = load_id, i
    return Parsed([dict(zip(COLUMNS, row, strict=True)) for row in rows], reader.documents)
