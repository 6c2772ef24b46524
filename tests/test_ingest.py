"""`incidents ingest`: real-shaped Alertmanager payloads -> exact incidents, status history and
comments; idempotent, order-independent, malformed input kept with its error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app
from incidents.errors import ConfigError, TargetError
from incidents.ingest.parse import parse
from incidents.project.deployment import Deployment

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
SYSTEM = "alertmanager@system.shop.example"


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:  # deploy added the category tree (reference rows)
        yield workspace


def incidents(ws: Workspace) -> list[dict]:
    return list(ws.query(
        "SELECT i.INCIDENT_ID, i.TITLE, i.DESCRIPTION, c.CODE AS CATEGORY, i.STATUS, i.PRIORITY, i.SEVERITY, "
        "i.IMPACT_LEVEL, i.SOURCE, i.SOURCE_SYSTEM, u.EMAIL AS REPORTER, i.DETECTED_AT::VARCHAR AS DETECTED, "
        "i.MITIGATED_AT::VARCHAR AS MITIGATED, i.RESOLVED_AT::VARCHAR AS RESOLVED, "
        "i.METADATA:alert:fingerprint::VARCHAR AS FP "
        "FROM INCIDENTS i JOIN INCIDENT_CATEGORIES c ON c.CATEGORY_ID = i.CATEGORY_ID "
        "JOIN USERS u ON u.USER_ID = i.REPORTER_ID ORDER BY i.INCIDENT_ID"))


def history(ws: Workspace) -> list[tuple]:
    return [tuple(r.values()) for r in ws.query(
        "SELECT h.INCIDENT_ID, h.PREVIOUS_STATUS, h.NEW_STATUS, u.EMAIL, h.CHANGED_AT::VARCHAR "
        "FROM INCIDENT_STATUS_HISTORY h JOIN USERS u ON u.USER_ID = h.CHANGED_BY ORDER BY h.STATUS_HISTORY_ID")]


def comments(ws: Workspace) -> list[tuple]:
    return [tuple(r.values()) for r in ws.query(
        "SELECT INCIDENT_ID, COMMENT_TYPE, IS_SYSTEM_GENERATED, BODY FROM INCIDENT_COMMENTS ORDER BY COMMENT_ID")]


def test_a_firing_alert_opens_one_incident_by_the_system_user(ws: Workspace) -> None:
    result = ws.ingest(text("firing.json"))
    assert (result.alerts, result.malformed, result.opened, result.resolved) == (1, 0, 1, 0)
    assert incidents(ws) == [{
        "INCIDENT_ID": 1, "TITLE": "Checkout is down", "DESCRIPTION": None, "CATEGORY": "SYSTEM_OUTAGE",
        "STATUS": "new", "PRIORITY": "critical", "SEVERITY": "SEV1", "IMPACT_LEVEL": "major", "SOURCE": "monitoring",
        "SOURCE_SYSTEM": "checkout", "REPORTER": SYSTEM, "DETECTED": "2026-12-01 19:53:08", "MITIGATED": None,
        "RESOLVED": None, "FP": "4a75ac198cf0d5f3"}]
    assert history(ws) == [(1, None, "new", SYSTEM, "2026-12-01 19:53:08")]
    assert comments(ws) == [
        (1, "system", True, "Opened from Alertmanager alert CheckoutDown (fingerprint 4a75ac198cf0d5f3).")]


def test_a_grouped_payload_maps_labels_to_category_priority_and_source(ws: Workspace) -> None:
    result = ws.ingest(text("grouped.json"))
    assert (result.documents, result.alerts, result.opened) == (1, 3, 3)
    got = {r["FP"]: r for r in incidents(ws)}
    payments = got["a1b2c3d4e5f60718"]
    assert (payments["CATEGORY"], payments["PRIORITY"], payments["SEVERITY"], payments["IMPACT_LEVEL"]) == (
        "PAYMENT", "medium", "SEV3", "minor")
    assert payments["SOURCE_SYSTEM"] == "payments-gateway"  # `service` comes before `job`
    assert payments["DESCRIPTION"] == "5xx rate is 7.2% over 5m"
    assert payments["DETECTED"] == "2026-12-01 18:02:11.311"
    search = got["0f1e2d3c4b5a6978"]
    assert (search["CATEGORY"], search["PRIORITY"], search["SOURCE_SYSTEM"]) == ("PERFORMANCE", "critical", "search")
    disk = got["77aa88bb99cc00dd"]  # severity "page" is not mapped: the defaults
    assert (disk["CATEGORY"], disk["PRIORITY"], disk["SEVERITY"], disk["IMPACT_LEVEL"]) == (
        "SYSTEM_OUTAGE", "medium", "SEV3", "minor")


def test_repeats_add_one_comment_with_the_count_and_identical_resends_count_once(ws: Workspace) -> None:
    ws.ingest(text("grouped.json"))
    result = ws.ingest(text("repeated.ndjson"))
    assert (result.alerts, result.opened, result.repeated) == (4, 0, 1)
    payments_id = next(r["INCIDENT_ID"] for r in incidents(ws) if r["FP"] == "a1b2c3d4e5f60718")
    assert [c for c in comments(ws) if c[0] == payments_id][1:] == [
        (payments_id, "system", True, "Alert PaymentsErrorRate fired again: 3 notifications so far.")]
    assert len(incidents(ws)) == 3 and len(history(ws)) == 3  # no new incident, no transition


def test_a_resolved_alert_resolves_with_history_and_comment(ws: Workspace) -> None:
    ws.ingest(text("firing.json"))
    result = ws.ingest(text("resolved.json"))
    assert (result.opened, result.resolved) == (0, 1)
    [row] = incidents(ws)
    assert (row["STATUS"], row["MITIGATED"], row["RESOLVED"]) == ("resolved", "2026-12-01 20:10:38.5",
                                                                  "2026-12-01 20:10:38.5")
    assert history(ws) == [(1, None, "new", SYSTEM, "2026-12-01 19:53:08"),
                           (1, "new", "resolved", SYSTEM, "2026-12-01 20:10:38.5")]
    assert comments(ws)[-1] == (
        1, "system", True, "Resolved automatically: Alertmanager reports alert CheckoutDown resolved.")
    updated = ws.query("SELECT UPDATED_AT > RESOLVED_AT AS LATER FROM INCIDENTS")[0]["LATER"]
    assert updated is True


def test_a_new_firing_after_resolution_opens_a_new_incident(ws: Workspace) -> None:
    for name in ("firing.json", "resolved.json", "refire.json"):
        ws.ingest(text(name))
    rows = incidents(ws)
    assert [(r["INCIDENT_ID"], r["STATUS"], r["DETECTED"]) for r in rows] == [
        (1, "resolved", "2026-12-01 19:53:08"), (2, "new", "2026-12-01 22:41:08")]
    assert {r["FP"] for r in rows} == {"4a75ac198cf0d5f3"}
    assert ws.query("SELECT MAX(REOPEN_COUNT) AS N FROM INCIDENTS")[0]["N"] == 0


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_resolved_before_firing_in_one_batch_ends_resolved(ws: Workspace) -> None:
    result = ws.ingest(text("out_of_order.ndjson"))
    assert (result.documents, result.opened, result.resolved) == (2, 1, 1)
    [row] = incidents(ws)
    assert (row["STATUS"], row["PRIORITY"], row["SEVERITY"], row["RESOLVED"]) == (
        "resolved", "high", "SEV2", "2026-12-01 15:25:00")
    assert history(ws) == [(1, None, "new", SYSTEM, "2026-12-01 15:00:00"),
                           (1, "new", "resolved", SYSTEM, "2026-12-01 15:25:00")]
    before = (incidents(ws), history(ws), comments(ws))
    again = ws.ingest(text("out_of_order.ndjson"))  # the same file again: nothing changes
    assert (again.opened, again.resolved, again.repeated) == (0, 0, 0)
    assert (incidents(ws), history(ws), comments(ws)) == before


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_resolved_then_late_firing_across_calls_stays_resolved(ws: Workspace) -> None:
    ws.ingest(text("resolved.json"))
    ws.ingest(text("firing.json"))
    [row] = incidents(ws)
    assert row["STATUS"] == "resolved"
    assert len(history(ws)) == 2 and len(comments(ws)) == 2


@pytest.mark.slow
def test_reingesting_everything_changes_nothing(ws: Workspace) -> None:
    files = ("firing.json", "grouped.json", "repeated.ndjson", "resolved.json", "refire.json", "out_of_order.ndjson")
    for name in files:
        ws.ingest(text(name))
    before = (incidents(ws), history(ws), comments(ws),
              ws.query("SELECT INCIDENT_ID, UPDATED_AT FROM INCIDENTS ORDER BY 1").rows)
    result = ws.ingest("\n".join(text(name) for name in files))  # all of it again, in one load
    assert (result.alerts, result.opened, result.resolved, result.repeated, result.noted) == (12, 0, 0, 0, 0)
    assert (incidents(ws), history(ws), comments(ws),
            ws.query("SELECT INCIDENT_ID, UPDATED_AT FROM INCIDENTS ORDER BY 1").rows) == before
    raw = ws.query("SELECT COUNT(*) AS N, COUNT(DISTINCT LOAD_ID) AS LOADS FROM RAW_ALERTS")[0]
    assert (raw["N"], raw["LOADS"]) == (2 * (1 + 3 + 4 + 1 + 1 + 2), 7)  # append-only: every arrival kept


def test_an_incident_a_person_took_over_only_gets_comments(ws: Workspace) -> None:
    ws.ingest(text("firing.json"))
    ws.query("INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES (50, 'ana@shop.example', 'Ana', 'engineer')")
    # (On the local target DuckDB cannot UPDATE a foreign-key column of a referenced row: status only.)
    ws.query("UPDATE INCIDENTS SET STATUS = 'acknowledged', ACKNOWLEDGED_AT = '2026-12-01 19:58:00', "
             "UPDATED_AT = '2026-12-01 19:58:00'")
    result = ws.ingest(text("resolved.json"))
    assert (result.resolved, result.noted) == (0, 1)
    row = ws.query("SELECT STATUS, RESOLVED_AT, MITIGATED_AT, UPDATED_AT::VARCHAR AS U FROM INCIDENTS")[0]
    assert (row["STATUS"], row["RESOLVED_AT"], row["MITIGATED_AT"], row["U"]) == (
        "acknowledged", None, None, "2026-12-01 19:58:00")
    assert len(history(ws)) == 1
    assert comments(ws)[-1][3] == ("Alertmanager reports alert CheckoutDown resolved; the status is left to the "
                                   "person handling this incident.")
    assert ws.ingest(text("resolved.json")).noted == 0 and len(comments(ws)) == 2


@pytest.mark.slow
def test_the_views_and_data_checks_see_ingested_incidents(ws: Workspace) -> None:
    for name in ("firing.json", "grouped.json", "resolved.json", "out_of_order.ndjson"):
        ws.ingest(text(name))
    rows = ws.query("SELECT * FROM V_INCIDENT_SOURCES")
    sources = {(r["SOURCE"], r["SOURCE_SYSTEM"]): r["TOTAL_INCIDENTS"] for r in rows}
    assert sources == {("monitoring", "checkout"): 1, ("monitoring", "payments-gateway"): 1,
                       ("monitoring", "search"): 1, ("monitoring", "node"): 1, ("monitoring", "cart-cache"): 1}
    mttr = ws.query("SELECT MTTR_MINUTES FROM V_INCIDENT_SOURCES WHERE SOURCE_SYSTEM = 'cart-cache'")[0]
    assert float(mttr["MTTR_MINUTES"]) == 25.0
    active = ws.query("SELECT INCIDENT_NUMBER, PRIORITY FROM V_ACTIVE_INCIDENTS_DASHBOARD ORDER BY INCIDENT_NUMBER")
    assert [r["INCIDENT_NUMBER"] for r in active] == ["ALERT-000000000002", "ALERT-000000000003",
                                                      "ALERT-000000000004"]
    overview = {r["INCIDENT_ID"]: r for r in ws.query("SELECT INCIDENT_ID, MINUTES_TO_RESOLVE FROM V_INCIDENT_OVERVIEW")
                }
    assert float(overview[1]["MINUTES_TO_RESOLVE"]) == pytest.approx(17.5, abs=0.1)
    assert ws.check().ok, ws.check().to_dict()


@pytest.mark.slow
def test_the_pass_sends_the_same_statements_for_3_or_300_alerts(ws: Workspace) -> None:
    def statements(n: int, offset: int) -> int:
        alerts = [{"status": "firing", "labels": {"alertname": f"A{offset + i}", "job": "x"},
                   "annotations": {}, "startsAt": "2026-12-01T10:00:00Z"} for i in range(n)]
        before = len(ws.trace)
        assert ws.ingest("\n".join(json.dumps(a) for a in alerts)).opened == n
        return len(ws.trace) - before

    assert statements(3, 0) == statements(300, 1000)


def test_the_staged_bulk_path_snowflake_uses_lands_the_same_rows(ws: Workspace) -> None:
    import datetime as dt

    from incidents.ingest import Pass, land
    from incidents.project.ingest import load_ingest_config

    rows = parse(text("grouped.json"), received_at=dt.datetime(2026, 12, 2, 8), load_id="staged-load").rows
    land(ws.session, Deployment(ws.project, ws.env), rows, staged=True)
    got = ws.query("SELECT ALERT_INDEX, PAYLOAD:labels:alertname::VARCHAR AS NAME, "
                   "ENVELOPE:groupLabels:team::VARCHAR AS TEAM, STARTS_AT::VARCHAR AS S FROM RAW_ALERTS ORDER BY 1")
    assert [(r["NAME"], r["TEAM"], r["S"]) for r in got] == [
        ("PaymentsErrorRate", "mixed", "2026-12-01 18:02:11.311"),
        ("SearchLatencyHigh", "mixed", "2026-12-01 18:03:40.09"), ("DiskAlmostFull", "mixed", "2026-12-01 18:04:00")]
    counts = Pass(ws.session, ws.dep, load_ingest_config(ws.project), dt.datetime(2026, 12, 2, 8)).run(
        "staged-load")
    assert counts["opened"] == 3


def test_ndjson_events_without_fingerprint_get_one_from_their_labels(ws: Workspace) -> None:
    result = ws.ingest(text("events.ndjson"), format="ndjson")
    assert (result.alerts, result.opened) == (1, 1)
    [row] = incidents(ws)
    assert row["DETECTED"] == "2026-12-01 08:30:00"  # +01:00 -> UTC
    assert len(row["FP"]) == 16 and row["SOURCE_SYSTEM"] == "orders-worker"


def test_cli_malformed_documents_land_with_an_error_and_exit_1(repo: Path, ws: Workspace, runner: CliRunner,
                                                               tmp_path: Path) -> None:
    ws.close()
    result = runner.invoke(app, ["ingest", str(FIXTURES / "malformed.ndjson"), "--project-dir", str(repo),
                                 "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert (doc["documents"], doc["alerts"], doc["malformed"], doc["opened"]) == (5, 1, 4, 1)
    assert "4 malformed alert document(s)" in result.stderr
    errors = [r["ERROR"] for r in ws.query("SELECT ERROR FROM RAW_ALERTS WHERE ERROR IS NOT NULL ORDER BY ALERT_INDEX")]
    assert errors[0].startswith("document 2 (line 2): invalid JSON: ")
    assert errors[1:] == ["document 3 (line 3) alert 1: labels must be a non-empty object of strings",
                          "document 4 (line 4) alert 1: status must be firing or resolved, got 'pending'",
                          "document 5 (line 5) alert 1: startsAt must be an RFC 3339 time, got 'yesterday'"]
    assert [r["TITLE"] for r in incidents(ws)] == ["CPU above 80%"]


@pytest.mark.slow
def test_cli_text_output_and_stdin(repo: Path, deployed_local: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["ingest", "-", "--project-dir", str(repo)], input=text("grouped.json"))
    assert result.exit_code == 0, result.output
    assert "Ingested 3 alerts" in result.stdout and "3 opened" in result.stdout


def test_missing_category_codes_are_refused_before_anything_lands(repo: Path, deployed_local: Path) -> None:
    with Workspace.open(repo) as ws:
        ws.query("DELETE FROM INCIDENT_CATEGORIES WHERE CODE IN ('PAYMENT', 'PERFORMANCE', 'SYSTEM_OUTAGE')")
        with pytest.raises(ConfigError, match=r"config/ingest.yml: categories: category code\(s\) PAYMENT, "
                                              "PERFORMANCE, SYSTEM_OUTAGE are not in incident_categories"):
            ws.ingest(text("firing.json"))
        assert ws.query("SELECT COUNT(*) AS N FROM RAW_ALERTS")[0]["N"] == 0


@pytest.mark.parametrize(("yaml_text", "key", "message"), [
    ("severities: {critical: {priority: urgent, severity: SEV1, impact_level: major}}", "severities.critical.priority",
     "expected one of critical, high, medium, low"),
    ("categories: [{match: {'bad-label': x}, category: PAYMENT}]", "categories[0].match.bad-label",
     "expected an alert label name"),
    ("receive: {max_request_bytes: 10}", "receive.max_request_bytes", "expected 1024 to"),
    ("colour: blue", "colour", "unknown key"),
])
def test_ingest_yml_errors_name_file_and_key(make_project, yaml_text: str, key: str, message: str) -> None:
    from incidents.project.config import load_project
    from incidents.project.ingest import load_ingest_config

    root = make_project()
    base = "defaults: {category: SYSTEM_OUTAGE, priority: medium, severity: SEV3, impact_level: minor}\n"
    (root / "config" / "ingest.yml").write_text(base + yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_ingest_config(load_project(root))
    assert info.value.file == "config/ingest.yml" and info.value.key == key
    assert message in str(info.value)


def test_parse_reads_arrays_concatenated_documents_and_rfc3339_times() -> None:
    import datetime as dt

    doc = json.loads(text("firing.json"))
    now = dt.datetime(2026, 12, 2)
    parsed = parse(json.dumps([doc, doc]) + "\n" + json.dumps(doc, indent=2), received_at=now, load_id="L")
    assert (parsed.documents, parsed.alerts, parsed.malformed) == (3, 3, 0)
    assert [r["ALERT_INDEX"] for r in parsed.rows] == [0, 1, 2]
    event = {"labels": {"a": "b"}, "startsAt": "2026-12-01T19:53:08.123456789Z", "status": "resolved",
             "endsAt": "2026-12-01T21:00:00-02:00"}
    [row] = parse(json.dumps(event), received_at=now, load_id="L").rows
    assert row["STARTS_AT"] == dt.datetime(2026, 12, 1, 19, 53, 8, 123456)
    assert row["ENDS_AT"] == dt.datetime(2026, 12, 1, 23, 0)
    assert row["EPISODE_KEY"].endswith("@2026-12-01T19:53:08.123456Z") and row["SOURCE_FORMAT"] == "ndjson"


# --------------------------------------------------------------------------- hostile input (issue 22 H2, H6, H10)

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
POISONS = ("H2_starts_year9999.json", "H2_starts_year0002.json", "H2_starts_year1500.json", "H2_ends_year9999.json",
           "H2_lone_surrogate.json", "H8_ends_before_starts.json")


def hostile(name: str) -> str:
    return (HOSTILE / name).read_text(encoding="utf-8")


def test_poison_alerts_land_with_their_error_and_take_no_good_alert_down(ws: Workspace) -> None:
    result = ws.ingest("".join([hostile("innocent.json"), *(hostile(p) for p in POISONS)]))
    assert (result.documents, result.alerts, result.malformed, result.opened) == (7, 1, 6, 1)
    errors = [r["ERROR"] for r in ws.query("SELECT ERROR FROM RAW_ALERTS WHERE ERROR IS NOT NULL ORDER BY ALERT_INDEX")]
    assert errors == [
        "document 2 (line 2) alert 1: startsAt '9999-01-01T00:00:00Z' is outside 1970 to 2199",
        "document 3 (line 3) alert 1: startsAt '0002-01-01T00:00:00Z' is outside 1970 to 2199",
        "document 4 (line 4) alert 1: startsAt '1500-01-01T00:00:00Z' is outside 1970 to 2199",
        "document 5 (line 5) alert 1: endsAt '9999-12-31T23:59:59Z' is outside 1970 to 2199",
        "document 6 (line 6) alert 1: text that is not valid Unicode (a lone surrogate such as \\ud800, or bytes "
        "that are not UTF-8)",
        "document 7 (line 7) alert 1: endsAt '2026-11-25T09:00:00Z' is before startsAt '2026-11-25T10:00:00Z'"]
    kept = ws.query("SELECT PAYLOAD::VARCHAR AS P FROM RAW_ALERTS WHERE ALERT_INDEX = 5")[0]["P"]
    assert "\\\\ud800" in kept  # the alert is kept as text, the escape visible
    assert [r["TITLE"] for r in incidents(ws)] == ["innocent fired"]


def test_cli_hostile_documents_are_error_rows_and_one_line_never_a_traceback(repo: Path, ws: Workspace,
                                                                             runner: CliRunner, tmp_path: Path) -> None:
    ws.close()
    names = ("H10_nested_100k.json", "H10_nested_in_alert.json", "H10_integer_5000_digits.json", "H10_nan.json",
             "innocent.json", *POISONS)
    mixed = tmp_path / "mixed.json"
    mixed.write_text("".join(hostile(n) for n in names), encoding="utf-8")
    latin1 = b'{"labels": {"alertname": "latin-1 \xe9"}, "startsAt": "2026-11-25T10:00:00Z"}\n'
    mixed.write_bytes(mixed.read_bytes() + latin1)
    result = runner.invoke(app, ["ingest", str(mixed), "--project-dir", str(repo), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    assert (doc["documents"], doc["alerts"], doc["malformed"], doc["opened"]) == (12, 1, 11, 1)
    assert doc["errors"] == ["document 1 (line 1): invalid JSON: nested too deeply",
                             "document 2 (line 2): invalid JSON: nested too deeply",
                             "document 3 (line 3): invalid JSON: an integer of more than 4300 digits",
                             "document 4 (line 4): invalid JSON: NaN is not a JSON value",
                             "document 6 (line 6) alert 1: startsAt '9999-01-01T00:00:00Z' is outside 1970 to 2199"]
    assert result.stderr.count("\n") == 1 and "11 malformed alert document(s)" in result.stderr
    last = ws.query("SELECT ERROR FROM RAW_ALERTS ORDER BY ALERT_INDEX DESC LIMIT 1")[0]["ERROR"]
    assert last.startswith("document 12 (line 12): text that is not valid Unicode")


@pytest.mark.parametrize(("stdin", "message"), [
    ("", "<stdin>: no alert documents: the input is empty"),
    pytest.param("  \n\n", "<stdin>: no alert documents: the input is empty", marks=pytest.mark.slow),
    ("not json\n" * 1000, "<stdin>: not one alert in the first 1,000 documents"),
])
def test_cli_empty_or_non_alert_input_is_exit_2_and_lands_nothing(repo: Path, ws: Workspace, runner: CliRunner,
                                                                  stdin: str, message: str) -> None:
    ws.close()
    result = runner.invoke(app, ["ingest", "-", "--project-dir", str(repo)], input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert ws.query("SELECT COUNT(*) AS N FROM RAW_ALERTS")[0]["N"] == 0


def test_a_document_over_the_limit_stops_reading_and_what_came_before_is_ingested(
        repo: Path, ws: Workspace, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from incidents import ingest as ingest_module

    ws.close()
    monkeypatch.setattr(ingest_module, "MAX_DOCUMENT_CHARS", 100_000)  # /dev/zero, 64 MiB at a time, in small
    endless = tmp_path / "zeros.json"
    endless.write_bytes(hostile("innocent.json").encode() + b"\0" * 300_000)
    result = runner.invoke(app, ["ingest", str(endless), "--project-dir", str(repo), "--format", "json"])
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert (doc["alerts"], doc["opened"], doc["malformed"]) == (1, 1, 1)
    assert doc["stopped"] == ("line 2: no complete JSON document within 0 MiB; stopped reading there (is this "
                              "alert JSON?)")
    assert "the 1 alerts before it were ingested" in result.stderr


def test_input_is_read_in_blocks_and_landed_in_chunks(ws: Workspace) -> None:
    """Memory is bounded by the chunk, not the input: 3 chunks of 2 rows, one pass."""
    from incidents.ingest import ingest_blocks

    events = [json.dumps({"labels": {"alertname": f"A{i}"}, "startsAt": "2026-12-01T10:00:00Z"}) for i in range(5)]
    text = "\n".join(events) + "\n"
    pieces = [text[i:i + 37] for i in range(0, len(text), 37)]  # documents cut across blocks
    before = len(ws.trace)
    report = ingest_blocks(ws.session, ws.dep, iter(pieces), chunk_rows=2)
    assert (report.documents, report.alerts, report.opened) == (5, 5, 5)
    assert sum(1 for s in ws.trace[before:] if s.obj == "ingest episodes") == 1
    assert [r["ALERT_INDEX"] for r in ws.query("SELECT ALERT_INDEX FROM RAW_ALERTS ORDER BY 1")] == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_cli_dev_zero_stops_with_exit_2_in_bounded_memory(repo: Path, deployed_local: Path) -> None:
    import os
    import subprocess
    import sys

    # The child reports its own peak (VmHWM of the program it runs): getrusage's ru_maxrss would also count
    # the pytest worker's pages the child shared between fork and exec (1.2 GB late in a long run).
    peak = ("import atexit, runpy, sys; atexit.register(lambda: sys.stderr.write(next(line for line in "
            "open('/proc/self/status') if line.startswith('VmHWM')))); sys.argv = sys.argv[1:]; "
            "runpy.run_module('incidents', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", peak, "incidents", "ingest", "/dev/zero", "--project-dir",
                           str(repo)], capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert done.returncode == 2, done.stderr
    assert "/dev/zero: line 1: no complete JSON document within 64 MiB" in done.stderr
    kib = int(done.stderr.split("VmHWM:")[1].split()[0])
    assert kib < 1_000_000, kib  # well under 1 GiB (about 400 MiB: the 64 MiB document held while read)


# --------------------------------------------------------------------------- the Snowflake intake (issue 25 N3, N9)


def _with_intake(ws: Workspace) -> Callable[[str, str], None]:
    """The intake objects of sql/06_alert_intake.sql made on this workspace's (Snowflake-rules) target, but
    its stage and pipe (no stages here); returns landed(fixture, load_id), which lands alerts as the pipe would."""
    import datetime as dt

    from incidents.engine.files import render_files
    from incidents.ingest import land
    from incidents.sql.text import split_statements

    for statement in split_statements(render_files(ws.dep)["sql/06_alert_intake.sql"]):
        if not statement.lstrip().upper().startswith(("CREATE STAGE", "CREATE PIPE")):
            ws.session.execute(statement)

    def landed(name: str, load: str) -> None:
        land(ws.session, ws.dep, parse(text(name), received_at=dt.datetime(2026, 12, 2), load_id=load).rows)
    return landed


def _count(ws: Workspace, table: str, where: str = "TRUE") -> int:
    return int(ws.query(f"SELECT COUNT(*) AS N FROM {table} WHERE {where}")[0]["N"])


@pytest.mark.slow
def test_the_snowflake_intake_takes_every_landed_row_and_a_failed_run_leaves_its_work_queued(
        deployed_copy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """On the Snowflake-rules target (its stream and EXECUTE TASK emulation): rows landed while the
    task was not running are all taken in; a run that fails keeps its fingerprints in the queue."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    with Workspace.open(deployed_copy("intake"), env="dev") as ws:
        s, landed = ws.session, _with_intake(ws)
        landed("grouped.json", "a")  # an outage: the task ran for neither load
        landed("firing.json", "b")
        s.execute("EXECUTE TASK INGEST_RAW_ALERTS_TASK")
        assert (_count(ws, "INCIDENTS"), _count(ws, "INGEST_QUEUE")) == (4, 0)
        landed("resolved.json", "c")
        s.execute("ALTER TABLE INCIDENT_CATEGORIES RENAME TO CATEGORIES_AWAY")  # the next run fails
        with pytest.raises(TargetError):
            s.execute("EXECUTE TASK INGEST_RAW_ALERTS_TASK")
        assert _count(ws, "INGEST_QUEUE") == 1  # kept for the next run
        s.execute("ALTER TABLE CATEGORIES_AWAY RENAME TO INCIDENT_CATEGORIES")
        s.execute("EXECUTE TASK INGEST_RAW_ALERTS_TASK")
        assert (_count(ws, "INGEST_QUEUE"), _count(ws, "INCIDENTS", "STATUS = 'resolved'")) == (0, 1)


@pytest.mark.slow
def test_a_snowflake_intake_run_that_fails_inside_its_transaction_writes_none_of_it(
        deployed_copy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The intake procedure's writes are one transaction: when a statement in it fails (here the comments
    table was swapped for a view of it by hand: read, but not written), Snowflake rolls the transaction
    back as the procedure fails, so no incident is opened without its comments; the fingerprints stay
    queued and the next run opens them."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    with Workspace.open(deployed_copy("intake-rollback"), env="dev") as ws:
        s = ws.session
        _with_intake(ws)("firing.json", "a")
        s.execute("ALTER TABLE INCIDENT_COMMENTS RENAME TO COMMENTS_AWAY")  # its INSERT fails, after the incidents'
        s.execute("CREATE VIEW INCIDENT_COMMENTS AS SELECT * FROM COMMENTS_AWAY")
        with pytest.raises(TargetError):
            s.execute("EXECUTE TASK INGEST_RAW_ALERTS_TASK")
        written = (_count(ws, "INCIDENTS"), _count(ws, "INCIDENT_ALERTS"), _count(ws, "INCIDENT_STATUS_HISTORY"))
        assert written == (0, 0, 0)
        assert _count(ws, "INGEST_QUEUE") == 1  # the stream moved on, its rows are queued for the next run
        s.execute("DROP VIEW INCIDENT_COMMENTS")
        s.execute("ALTER TABLE COMMENTS_AWAY RENAME TO INCIDENT_COMMENTS")
        s.execute("EXECUTE TASK INGEST_RAW_ALERTS_TASK")
        assert (_count(ws, "INCIDENTS"), _count(ws, "INGEST_QUEUE")) == (1, 0)
        assert _count(ws, "INCIDENT_COMMENTS") >= 1


@pytest.mark.slow
def test_validate_refuses_a_copy_with_a_function_copy_transformations_do_not_allow(project_copy: Path,
                                                                                     runner: CliRunner) -> None:
    pipe = project_copy / "templates" / "ingest" / "intake" / "pipe.sql.j2"
    pipe.write_text(pipe.read_text(encoding="utf-8").replace("MD5(TO_VARCHAR($1))", "MD5(TO_JSON($1))"),
                    encoding="utf-8")
    result = runner.invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    assert "the COPY of CREATE PIPE calls TO_JSON, which Snowflake does not allow in a COPY transformation" in \
        result.stderr


# --------------------------------------------------------------------------- the system user by user_key (issue 25 N1)


@pytest.mark.slow
def test_the_system_user_is_found_by_user_key_and_an_old_one_is_adopted(ws: Workspace) -> None:
    # One an earlier version made (no user_key), and a masked look-alike: neither is found by e-mail any more.
    ws.query(f"INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES (7, '{SYSTEM}', 'alertmanager (system)', "
             "'system'), (8, '***@system.shop.example', 'a***', 'system')")
    ws.ingest(text("firing.json"))
    ws.ingest(text("resolved.json"))
    users = ws.query("SELECT USER_ID, USER_KEY FROM USERS ORDER BY USER_ID")
    assert [(u["USER_ID"], u["USER_KEY"]) for u in users] == [(7, "system:alertmanager"), (8, None)]
    assert {r["REPORTER"] for r in incidents(ws)} == {SYSTEM}
    assert {h[3] for h in history(ws)} == {SYSTEM}
    ws.query("UPDATE USERS SET EMAIL = '***@system.shop.example' WHERE USER_ID = 7")  # what masking shows
    ws.ingest(text("refire.json"))
    assert ws.query("SELECT COUNT(*) AS N FROM USERS")[0]["N"] == 2  # still found: by user_key


@pytest.mark.slow
def test_deploy_adds_user_key_to_an_existing_users_table_and_keeps_its_rows(make_project, local_dir: Path,
                                                                            runner: CliRunner) -> None:
    root = make_project()
    users = root / "config" / "tables" / "users.yml"
    new = users.read_text(encoding="utf-8")
    old = "\n".join(line for line in new.splitlines() if "user_key" not in line) + "\n"
    users.write_text(old, encoding="utf-8")
    args = ["--project-dir", str(root)]
    assert runner.invoke(app, ["deploy", "-q", *args]).exit_code == 0
    assert runner.invoke(app, ["query", "INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES "
                                        "(1, 'ana@shop.example', 'Ana', 'engineer')", *args]).exit_code == 0
    users.write_text(new, encoding="utf-8")
    deployed = runner.invoke(app, ["deploy", *args])
    assert deployed.exit_code == 0, deployed.output
    rows = runner.invoke(app, ["query", "SELECT USER_ID, EMAIL, USER_KEY FROM USERS", "--format", "json", *args])
    assert json.loads(rows.stdout) == [{"USER_ID": 1, "EMAIL": "ana@shop.example", "USER_KEY": None}]
    assert runner.invoke(app, ["diff", *args]).exit_code == 0


@pytest.mark.slow
def test_a_load_taken_in_several_passes_ends_as_one_pass(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large load is taken one share of its fingerprints at a time (memory stays bounded): same result."""
    from incidents import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PASS_ALERTS", 2)
    before = len(ws.trace)
    result = ws.ingest(text("grouped.json") + text("out_of_order.ndjson") + text("firing.json"))
    assert sum(1 for s in ws.trace[before:] if s.obj == "ingest episodes") == 3  # 6 alerts, 2 a pass
    assert (result.alerts, result.opened, result.resolved) == (6, 5, 1)
    assert len(incidents(ws)) == 5 and len(history(ws)) == 6 and len(comments(ws)) == 6
    assert sorted(r["INCIDENT_ID"] for r in incidents(ws)) == [1, 2, 3, 4, 5]
