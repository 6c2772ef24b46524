"""Grafana Alerting and PagerDuty v3 webhooks in (issue 28.3), from the vendors' documented payloads
(tests/fixtures/grafana, tests/fixtures/pagerduty): `-i grafana`, `-i pagerduty` and `-i auto` open and
resolve incidents; PagerDuty events that open and resolve nothing are ignored, not errors; malformed
vendor documents land with their error (exit 1) and take no good alert down; the receiver answers a
PagerDuty acknowledgement 200 without storing it."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app
from incidents.cli.ingest import AlertFormat
from incidents.ingest.changes import CHANGE_FORMATS
from incidents.ingest.parse import FORMATS, AlertReader, parse, read_documents, text_blocks

FIXTURES = Path(__file__).parent / "fixtures"
ALERTMANAGER = FIXTURES / "alertmanager"
GRAFANA = FIXTURES / "grafana"
PAGERDUTY = FIXTURES / "pagerduty"


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def pagerduty(name: str, **event: Any) -> dict[str, Any]:
    doc = json.loads(text(PAGERDUTY / f"{name}.json"))
    doc["event"].update(event)
    return doc


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:
        yield workspace


def ingest(runner: CliRunner, repo: Path, ws: Workspace, tmp_path: Path, content: str, fmt: str) -> tuple[int, dict]:
    """`incidents ingest FILE -i fmt -f json` on the test's local target: exit code and the JSON result."""
    ws.close()  # the CLI opens the local database itself
    path = tmp_path / f"input-{len(list(tmp_path.glob('input-*')))}.json"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "-i", fmt, "--project-dir", str(repo), "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def incidents(ws: Workspace) -> list[dict]:
    return list(ws.query(
        "SELECT i.TITLE, i.STATUS, i.PRIORITY, i.SEVERITY, i.SOURCE_SYSTEM, i.DETECTED_AT::VARCHAR AS DETECTED, "
        "i.RESOLVED_AT::VARCHAR AS RESOLVED, i.METADATA:alert:fingerprint::VARCHAR AS FP "
        "FROM INCIDENTS i ORDER BY i.INCIDENT_ID"))


def raw_alerts(ws: Workspace) -> list[tuple]:
    return [tuple(r.values()) for r in ws.query(
        "SELECT SOURCE_FORMAT, FINGERPRINT, STATUS, ERROR FROM RAW_ALERTS ORDER BY RECEIVED_AT, LOAD_ID, ALERT_INDEX")]


def counts(result: Any) -> tuple[int, ...]:
    """The counts of a JSON result (the CLI's) or an IngestResult (the API's)."""
    get = result.get if isinstance(result, dict) else lambda key: getattr(result, key)
    return tuple(get(k) for k in ("alerts", "malformed", "ignored", "opened", "resolved"))


# --------------------------------------------------------------------------- without a database


def test_the_cli_offers_exactly_the_formats_ingest_knows() -> None:
    assert [f.value for f in AlertFormat] == [*FORMATS, *CHANGE_FORMATS]
    assert {"grafana", "pagerduty"} <= set(FORMATS)


def test_auto_knows_each_document_by_its_documented_keys() -> None:
    from incidents.ingest.changes import change_format

    event = json.dumps({"labels": {"alertname": "X"}, "startsAt": "2026-12-01T10:00:00Z"})
    docs = [text(ALERTMANAGER / "firing.json"), text(GRAFANA / "webhook.json"),
            json.dumps(pagerduty("incident_triggered")), event]
    parsed = parse("\n".join(json.dumps(json.loads(d)) for d in docs), received_at=dt.datetime(2026, 12, 2),
                   load_id="l")
    assert [r["SOURCE_FORMAT"] for r in parsed.rows] == ["alertmanager", "grafana", "grafana", "pagerduty", "ndjson"]
    assert parsed.malformed == 0
    # A PagerDuty change event (Events API v2) is still a change, not a PagerDuty webhook alert.
    assert change_format(json.loads(text(FIXTURES / "changes" / "pagerduty_change.json"))) == "pagerduty-change"
    assert change_format(pagerduty("incident_triggered")) is None
    assert change_format(json.loads(text(GRAFANA / "webhook.json"))) is None


def test_a_pagerduty_incident_maps_to_one_alert_with_severity_from_its_priority() -> None:
    parsed = parse(json.dumps(pagerduty("incident_triggered")), "pagerduty", received_at=dt.datetime(2026, 12, 2),
                   load_id="l")
    [row] = parsed.rows
    alert = json.loads(row["PAYLOAD"])
    assert (row["FINGERPRINT"], row["STATUS"], row["STARTS_AT"]) == (
        "pagerduty:PGR0VU2", "firing", dt.datetime(2020, 4, 9, 15, 16, 27))
    assert alert["labels"] == {"alertname": "A little bump in the road", "service": "API Service",
                               "team": "Engineering", "escalation_policy": "Default", "urgency": "high",
                               "priority": "P1", "pagerduty_incident": "PGR0VU2", "severity": "critical"}
    assert alert["generatorURL"] == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert json.loads(row["ENVELOPE"])["event"]["id"] == "01DEN3HH7DYZ4VHDEB2PHU8MRH"  # the webhook as received
    reader = AlertReader("pagerduty", dt.datetime(2026, 12, 2), severity_label="level")  # config/ingest.yml's
    docs = read_documents(text_blocks(json.dumps(pagerduty("incident_triggered"))))
    [labelled] = [json.loads(r[10])["labels"] for d in docs for r in reader.rows(d)]  # r[10]: PAYLOAD
    assert labelled["level"] == "critical" and "severity" not in labelled
    low = pagerduty("incident_triggered")
    low["event"]["data"].update(priority=None, urgency="low")
    [row] = parse(json.dumps(low), "pagerduty", received_at=dt.datetime(2026, 12, 2), load_id="l").rows
    assert json.loads(row["PAYLOAD"])["labels"]["severity"] == "warning"


# --------------------------------------------------------------------------- through `incidents ingest`


@pytest.mark.parametrize("fmt", ["grafana", pytest.param("auto", marks=pytest.mark.slow)])
def test_grafana_webhooks_open_and_resolve_incidents(repo: Path, ws: Workspace, runner: CliRunner, tmp_path: Path,
                                                     fmt: str) -> None:
    code, result = ingest(runner, repo, ws, tmp_path, text(GRAFANA / "webhook.json"), fmt)
    assert (code, counts(result)) == (0, (2, 0, 0, 2, 0))
    assert counts(ws.ingest(text(GRAFANA / "resolved.json"), format=fmt)) == (1, 0, 0, 0, 1)
    assert sorted((r["TITLE"], r["STATUS"], r["DETECTED"], r["RESOLVED"], r["FP"]) for r in incidents(ws)) == [
        ("This alert was triggered for zone eu-1", "new", "2021-10-12 07:56:03.157076", None, "bc97ff14869b13e3"),
        ("This alert was triggered for zone us-1", "resolved", "2021-10-12 07:51:03.157076",
         "2021-10-12 08:21:03.157076", "c6eadffa33fcdf37")]
    assert {r[0] for r in raw_alerts(ws)} == {"grafana"}


@pytest.mark.parametrize("fmt", ["pagerduty", pytest.param("auto", marks=pytest.mark.slow)])
def test_pagerduty_triggered_opens_acknowledged_is_ignored_resolved_resolves(
        repo: Path, ws: Workspace, runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    assert counts(ws.ingest(text(PAGERDUTY / "incident_acknowledged.json"), format=fmt)) == (0, 0, 1, 0, 0)
    assert incidents(ws) == [] and raw_alerts(ws) == []  # an acknowledgement alone opens nothing, lands nothing
    first = "\n".join(text(PAGERDUTY / f"{n}.json").replace("\n", "") for n in (
        "incident_acknowledged", "incident_triggered"))
    code, result = ingest(runner, repo, ws, tmp_path, first, fmt)
    assert (code, counts(result)) == (0, (1, 0, 1, 1, 0))  # ignored is not malformed: exit 0
    assert incidents(ws) == [{"TITLE": "A little bump in the road", "STATUS": "new", "PRIORITY": "critical",
                              "SEVERITY": "SEV1", "SOURCE_SYSTEM": "API Service", "DETECTED": "2020-04-09 15:16:27",
                              "RESOLVED": None, "FP": "pagerduty:PGR0VU2"}]
    later = "\n".join(text(PAGERDUTY / f"{n}.json").replace("\n", "") for n in (
        "incident_acknowledged", "incident_priority_updated", "incident_resolved"))
    assert counts(ws.ingest(later, format=fmt)) == (1, 0, 2, 0, 1)
    [row] = incidents(ws)
    assert (row["STATUS"], row["RESOLVED"]) == ("resolved", "2020-04-09 16:02:41.204")
    assert raw_alerts(ws) == [("pagerduty", "pagerduty:PGR0VU2", "firing", None),
                              ("pagerduty", "pagerduty:PGR0VU2", "resolved", None)]
    bodies = [r["BODY"] for r in ws.query("SELECT BODY FROM INCIDENT_COMMENTS ORDER BY COMMENT_ID")]
    assert bodies[0].startswith("Opened from PagerDuty alert A little bump in the road")  # the sender, named
    assert bodies[-1] == "Resolved automatically: PagerDuty reports alert A little bump in the road resolved."


def test_a_reopened_pagerduty_incident_opens_a_new_incident_after_the_resolved_one(ws: Workspace) -> None:
    reopened = pagerduty("incident_triggered", event_type="incident.reopened", occurred_at="2020-04-10T08:00:00Z")
    events = [pagerduty("incident_triggered"), pagerduty("incident_resolved"), reopened,
              json.loads(text(PAGERDUTY / "pagey_ping.json"))]
    result = ws.ingest("\n".join(json.dumps(e) for e in reversed(events)))  # order does not matter
    assert counts(result) == (3, 0, 1, 2, 1)
    assert [(r["STATUS"], r["DETECTED"], r["RESOLVED"]) for r in incidents(ws)] == [
        ("resolved", "2020-04-09 15:16:27", "2020-04-09 16:02:41.204"), ("new", "2020-04-10 08:00:00", None)]


def test_malformed_vendor_documents_land_with_their_error_and_the_good_alert_opens(
        repo: Path, ws: Workspace, runner: CliRunner, tmp_path: Path) -> None:
    good = pagerduty("incident_triggered")
    no_type = pagerduty("incident_triggered")
    del no_type["event"]["event_type"]
    bad_time = pagerduty("incident_resolved", occurred_at="yesterday")
    before_start = pagerduty("incident_resolved", occurred_at="2020-04-09T15:00:00Z")
    grafana = json.loads(text(GRAFANA / "webhook.json"))
    not_a_list = dict(grafana, alerts={"status": "firing"})
    bad_start = json.loads(json.dumps(grafana))
    bad_start["alerts"][1]["startsAt"] = "12 Oct 2021"
    lines = [no_type, good, bad_time, before_start, not_a_list, bad_start]
    code, result = ingest(runner, repo, ws, tmp_path, "\n".join(json.dumps(d) for d in lines), "auto")
    assert code == 1
    assert counts(result) == (2, 5, 0, 2, 0)
    assert {r["FP"] for r in incidents(ws)} == {"pagerduty:PGR0VU2", "c6eadffa33fcdf37"}
    errors = [(r[0], r[3]) for r in raw_alerts(ws) if r[3] is not None]
    assert errors == [
        ("pagerduty", "document 1 (line 1): event.event_type is required"),
        ("pagerduty", "document 3 (line 3): event.occurred_at must be an ISO 8601 time, got 'yesterday'"),
        ("pagerduty", "document 4 (line 4): endsAt '2020-04-09T15:00:00Z' is before startsAt '2020-04-09T15:16:27Z'"),
        ("grafana", "document 5 (line 5): alerts is not a list"),
        ("grafana", "document 6 (line 6) alert 2: startsAt must be an RFC 3339 time, got '12 Oct 2021'")]


def test_an_explicit_vendor_format_refuses_the_other_shapes(repo: Path, ws: Workspace, runner: CliRunner,
                                                           tmp_path: Path) -> None:
    code, result = ingest(runner, repo, ws, tmp_path, text(ALERTMANAGER / "firing.json"), "grafana")
    assert (code, counts(result)) == (1, (0, 1, 0, 0, 0))
    assert result["errors"] == [
        "document 1 (line 1): not a Grafana Alerting webhook payload (no version, alerts and orgId keys)"]
    code, result = ingest(runner, repo, ws, tmp_path, text(GRAFANA / "webhook.json"), "pagerduty")
    assert (code, counts(result)) == (1, (0, 1, 0, 0, 0))
    assert result["errors"] == ["document 1 (line 1): event must be an object, got null"]
    assert incidents(ws) == []


# --------------------------------------------------------------------------- through `incidents receive`


def post(port: int, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_receiver_takes_vendor_webhooks_and_answers_an_acknowledgement_200_ignored(ws: Workspace) -> None:
    from incidents.ingest import store_batch
    from incidents.ingest.receiver import Server, Stats, build_app
    from incidents.project.ingest import ReceiveSettings

    settings = ReceiveSettings(0.05, 1000, 1_048_576)
    stats = Stats()
    server = Server(build_app(lambda rows: store_batch(ws.session, ws.dep, rows), settings, None, stats,
                              log=lambda line: None), "127.0.0.1", 0, settings=settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.started.wait(20)
    try:
        ack = post(server.port, (PAGERDUTY / "incident_acknowledged.json").read_bytes())
        triggered = post(server.port, (PAGERDUTY / "incident_triggered.json").read_bytes())
        grafana = post(server.port, (GRAFANA / "webhook.json").read_bytes())
    finally:
        server.stop()
        thread.join(60)
    assert ack == (200, {"status": "ignored", "ignored": 1})
    assert triggered == (200, {"status": "stored", "alerts": 1, "malformed": 0, "errors": []})
    assert grafana == (200, {"status": "stored", "alerts": 2, "malformed": 0, "errors": []})
    assert (stats.ignored, stats.alerts, stats.loads) == (1, 3, 2)
    assert sorted(r["FP"] for r in incidents(ws)) == ["bc97ff14869b13e3", "c6eadffa33fcdf37", "pagerduty:PGR0VU2"]
