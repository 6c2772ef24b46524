"""Alert grouping at ingest (config/ingest.yml `grouping`, as shipped: by service and alertname, 10 minutes
between alerts, 60 minutes of group life): a storm opens one incident, the other alerts join it (incident_alerts,
a comment each); the window's edges; a group never joins a closed incident; the incident resolves when its
last alert does; the result is the same for any order of the input and for a re-ingest."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents import Workspace
from incidents.cli import app

T0 = dt.datetime(2026, 11, 20, 10, 0, 0)


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:
        yield workspace


def alert(instance: str, minutes: float, *, service: str = "checkout", alertname: str = "HighLatency",
          ends: float | None = None) -> str:
    """One NDJSON alert event, `minutes` after T0 (resolved at `ends` minutes when given)."""
    event = {"labels": {"alertname": alertname, "service": service, "instance": instance, "severity": "critical"},
             "annotations": {"summary": f"{alertname} on {instance}"},
             "startsAt": (T0 + dt.timedelta(minutes=minutes)).isoformat() + "Z"}
    if ends is not None:
        event.update(status="resolved", endsAt=(T0 + dt.timedelta(minutes=ends)).isoformat() + "Z")
    return json.dumps(event)


def storm(n: int = 5, gap: float = 2, **labels: str) -> list[str]:
    return [alert(f"pod-{i}", i * gap, **labels) for i in range(n)]


def groups(ws: Workspace) -> list[tuple[str, str, str | None, int]]:
    """Each ingested incident as a user sees it (no ids: they depend on arrival order): its detection
    and resolution time, status and how many alert episodes it stands for."""
    rows = ws.query(
        "SELECT i.DETECTED_AT::VARCHAR AS DETECTED, i.STATUS, i.RESOLVED_AT::VARCHAR AS RESOLVED, "
        "COUNT(a.FINGERPRINT) AS ALERTS FROM INCIDENTS i LEFT JOIN INCIDENT_ALERTS a ON a.INCIDENT_ID = i.INCIDENT_ID "
        "WHERE i.SOURCE = 'monitoring' GROUP BY i.INCIDENT_ID, 1, 2, 3 ORDER BY 1, 2, 4 DESC")
    return [(r["DETECTED"], r["STATUS"], r["RESOLVED"], int(r["ALERTS"])) for r in rows]


def members(ws: Workspace) -> list[tuple[str, str]]:
    """(leader instance, member instance) for every grouped alert, in order."""
    rows = ws.query(
        "SELECT l.FINGERPRINT AS LEADER, m.FINGERPRINT AS MEMBER FROM INCIDENT_ALERTS m "
        "JOIN INCIDENT_ALERTS l ON l.INCIDENT_ID = m.INCIDENT_ID AND l.ROLE = 'leader' WHERE m.ROLE = 'member' "
        "ORDER BY 1, 2")
    return [(r["LEADER"], r["MEMBER"]) for r in rows]


def test_a_storm_opens_one_incident_and_the_other_alerts_join_it(ws: Workspace) -> None:
    result = ws.ingest("\n".join([*storm(5), alert("pod-9", 1, service="search")]))
    assert (result.episodes, result.opened, result.grouped) == (6, 2, 4)
    assert groups(ws) == [("2026-11-20 10:00:00", "new", None, 5), ("2026-11-20 10:01:00", "new", None, 1)]
    roles = ws.query("SELECT ROLE, COUNT(*) AS N FROM INCIDENT_ALERTS GROUP BY ROLE ORDER BY ROLE")
    assert [(r["ROLE"], r["N"]) for r in roles] == [("leader", 2), ("member", 4)]
    joined = ws.query("SELECT BODY FROM INCIDENT_COMMENTS WHERE BODY LIKE '%joined this incident%'")
    assert len(joined) == 4 and '["checkout","HighLatency"]' in joined[0]["BODY"]


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_the_cli_says_how_many_alerts_joined(repo: Path, deployed_local: Path, tmp_path: Path) -> None:
    path = tmp_path / "storm.ndjson"
    path.write_text("\n".join(storm(3)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(path), "--project-dir", str(repo)])
    assert result.exit_code == 0, result.output
    assert "1 opened" in result.output and "grouped          2 alert episodes joined" in result.output


def test_exactly_at_the_window_joins_and_a_second_later_opens_another(ws: Workspace) -> None:
    ws.ingest("\n".join([alert("a", 0), alert("b", 10), alert("c", 20 + 1 / 60)]))
    assert [g[3] for g in groups(ws)] == [2, 1]


def test_a_group_lives_at_most_max_life_minutes_from_its_first_alert(ws: Workspace) -> None:
    # Every 9 minutes (within the window) for 72 minutes: the alert at 63 starts a second group.
    ws.ingest("\n".join(alert(f"pod-{i}", i * 9) for i in range(9)))
    assert [(g[0], g[3]) for g in groups(ws)] == [("2026-11-20 10:00:00", 7), ("2026-11-20 11:03:00", 2)]


def test_the_incident_resolves_when_its_last_alert_does(ws: Workspace) -> None:
    ws.ingest("\n".join(storm(3)))
    assert ws.ingest("\n".join([alert("pod-0", 0, ends=15), alert("pod-1", 2, ends=25)])).resolved == 0
    assert groups(ws) == [("2026-11-20 10:00:00", "new", None, 3)]
    assert ws.ingest(alert("pod-2", 4, ends=20)).resolved == 1
    assert groups(ws) == [("2026-11-20 10:00:00", "resolved", "2026-11-20 10:25:00", 3)]


def test_an_alert_after_the_group_stopped_firing_opens_a_new_incident(ws: Workspace) -> None:
    # All of the group resolved at 10:05; an alert at 10:07 is within the window but the group is over.
    ws.ingest("\n".join([alert("pod-0", 0, ends=5), alert("pod-1", 7)]))
    assert [(g[1], g[3]) for g in groups(ws)] == [("resolved", 1), ("new", 1)]


def test_a_group_never_joins_an_incident_a_person_closed(ws: Workspace) -> None:
    ws.ingest("\n".join(storm(2)))
    ws.session.execute("UPDATE INCIDENTS SET STATUS = 'closed' WHERE SOURCE = 'monitoring'")
    result = ws.ingest(alert("pod-5", 5))  # still firing, within the window, but its incident is closed
    assert (result.opened, result.grouped) == (1, 0)
    assert [(g[1], g[3]) for g in groups(ws)] == [("closed", 2), ("new", 1)]


@pytest.mark.slow  # six ingests
def test_any_order_of_the_input_and_a_re_ingest_give_the_same_incidents(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deployed_template: Path) -> None:
    import shutil

    events = [*storm(6, gap=3), *storm(3, gap=4, service="search"), alert("pod-0", 0, ends=12),
              alert("pod-3", 9, ends=30), alert("late", 70), alert("pod-1", 3, ends=31)]
    seen = set()
    for attempt in range(3):
        shuffled = random.Random(attempt).sample(events, len(events))
        local = tmp_path / f"local{attempt}"
        shutil.copytree(deployed_template, local)
        monkeypatch.setenv("INCIDENTS_LOCAL_DIR", str(local))
        with Workspace.open(repo, env="dev") as ws:
            first = ws.ingest("\n".join(shuffled))
            again = ws.ingest("\n".join(shuffled))
            assert (again.opened, again.grouped, again.resolved) == (0, 0, 0)
            seen.add((tuple(groups(ws)), first.grouped))
    assert len(seen) == 1, seen
    [(incidents, grouped)] = seen
    assert (len(incidents), grouped) == (3, 7)


@pytest.mark.slow  # four ingests
def test_alerts_arriving_in_time_order_across_calls_group_as_in_one_call(ws: Workspace) -> None:
    for line in storm(4, gap=5):
        ws.ingest(line)
    assert groups(ws) == [("2026-11-20 10:00:00", "new", None, 4)]
    assert len(members(ws)) == 3


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_an_earlier_alert_arriving_late_joins_and_moves_the_start(ws: Workspace) -> None:
    ws.ingest(alert("pod-1", 4))
    result = ws.ingest(alert("pod-0", 0))
    assert (result.opened, result.grouped) == (0, 1)
    assert groups(ws) == [("2026-11-20 10:00:00", "new", None, 2)]


@pytest.mark.parametrize(("grouping", "message"), [
    ("{by: [service, 'not a label']}", "grouping.by[1]"),
    pytest.param("{by: []}", "grouping.by", marks=pytest.mark.slow),
    pytest.param("{by: [service], window_minutes: 30, max_life_minutes: 10}", "grouping.max_life_minutes",
                 marks=pytest.mark.slow),
    pytest.param("{by: [service], window_minutes: 0}", "grouping.window_minutes", marks=pytest.mark.slow),
])
def test_a_bad_grouping_is_one_line_naming_the_key(project_copy: Path, grouping: str, message: str) -> None:
    path = project_copy / "config" / "ingest.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("\ngrouping:") + 1
    end = text.index("\n\n", start)
    path.write_text(text[:start] + f"grouping: {grouping}" + text[end:], encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    assert "config/ingest.yml" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_the_noise_views_count_the_alerts_grouping_saved(ws: Workspace) -> None:
    ws.ingest("\n".join([*storm(5), *storm(2, service="search"), alert("pod-0", 0, ends=3)]))
    rows = ws.query("SELECT * FROM V_ALERT_GROUPING ORDER BY SOURCE_SYSTEM")
    assert [(r["SOURCE_SYSTEM"], r["ALERT_EPISODES"], r["INCIDENTS"], r["GROUPED_EPISODES"],
             float(r["NOISE_REDUCTION_PCT"]), r["LARGEST_GROUP"]) for r in rows] == [
        ("checkout", 5, 1, 4, 80.0, 5), ("search", 2, 1, 1, 50.0, 2)]
    noise = ws.query("SELECT SOURCE_SYSTEM, ALERTS FROM V_ALERT_NOISE ORDER BY SOURCE_SYSTEM")
    assert [(r["SOURCE_SYSTEM"], r["ALERTS"]) for r in noise] == [("checkout", 6), ("search", 2)]


@pytest.mark.slow  # a deploy on the rules target of its own
def test_grouping_on_the_snowflake_rules_target(deployed_copy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The grouped pass as Snowflake takes it (the rules target refuses what Snowflake refuses)."""
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    with Workspace.open(deployed_copy("grouping-rules"), env="dev") as ws:
        result = ws.ingest("\n".join([*storm(4), alert("pod-0", 0, ends=9)]))
        assert (result.opened, result.grouped) == (1, 3)
        assert ws.ingest("\n".join(alert(f"pod-{i}", i * 2, ends=30) for i in range(1, 4))).resolved == 1
        assert groups(ws) == [("2026-11-20 10:00:00", "resolved", "2026-11-20 10:30:00", 4)]
