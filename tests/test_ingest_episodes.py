"""Episode identity and the pass's guarantees: one incident per firing run of a fingerprint whatever
the spelling of its times, a startsAt Alertmanager moves (issue 24.2), arrival order and call
boundaries (issue 22 H8); a pass cut short after any statement leaves nothing half done, a re-run
repairs, and `incidents check` sees an incident left without its trail (H3). Payloads are the
probe's, in tests/fixtures/hostile/."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidents import Workspace
from incidents.ingest import Pass, ingest_text
from incidents.project.ingest import load_ingest_config

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"


def _key(row: tuple) -> tuple:
    return tuple("" if v is None else str(v) for v in row)


def lines(name: str) -> list[str]:
    return (HOSTILE / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:
        yield workspace


def incidents(ws: Workspace) -> list[tuple]:
    """What a user sees of each ingested incident (no ids: they depend on arrival order)."""
    return sorted((tuple(r.values()) for r in ws.query(
        "SELECT METADATA:alert:fingerprint::VARCHAR AS FP, TITLE, STATUS, PRIORITY, "
        "DETECTED_AT::VARCHAR AS DETECTED, CREATED_AT::VARCHAR AS CREATED, MITIGATED_AT::VARCHAR AS MITIGATED, "
        "RESOLVED_AT::VARCHAR AS RESOLVED, METADATA:alert:notifications::NUMBER AS NOTIFICATIONS, "
        "METADATA:alert:resolved::BOOLEAN AS SEEN_RESOLVED FROM INCIDENTS WHERE SOURCE = 'monitoring'")), key=_key)


def trail(ws: Workspace) -> list[tuple]:
    """Status history by fingerprint: transitions and times."""
    return sorted((tuple(r.values()) for r in ws.query(
        "SELECT i.METADATA:alert:fingerprint::VARCHAR AS FP, i.DETECTED_AT::VARCHAR AS EPISODE, "
        "h.PREVIOUS_STATUS, h.NEW_STATUS, h.CHANGED_AT::VARCHAR AS AT "
        "FROM INCIDENT_STATUS_HISTORY h JOIN INCIDENTS i ON i.INCIDENT_ID = h.INCIDENT_ID")), key=_key)


def opening_comments(ws: Workspace) -> int:
    return int(ws.query("SELECT COUNT(*) AS N FROM INCIDENT_COMMENTS WHERE BODY LIKE 'Opened from%'")[0]["N"])


# --------------------------------------------------------------------------- one instant, one label set


def test_one_instant_written_four_ways_is_one_incident(ws: Workspace) -> None:
    result = ws.ingest("\n".join(lines("H8_one_instant_four_spellings.ndjson")))
    assert (result.alerts, result.opened) == (4, 1)
    [row] = incidents(ws)
    assert row[4] == "2026-11-20 10:00:00" and row[8] == 1  # one instant; the four spellings are one notification


@pytest.mark.slow
def test_a_resolution_spelled_differently_resolves_its_firing(ws: Workspace) -> None:
    first, resolution = lines("H8_resolution_spelled_differently.ndjson")
    ws.ingest(first)
    assert ws.ingest(resolution).resolved == 1
    [row] = incidents(ws)
    assert (row[2], row[7]) == ("resolved", "2026-11-20 10:30:00")


def test_label_sets_the_old_separator_confused_are_two_incidents(ws: Workspace) -> None:
    # Grouping off: this is about fingerprints (grouped by alertname, the two would be one incident).
    cfg = dataclasses.replace(load_ingest_config(ws.project), grouping=None)
    result = ingest_text(ws.session, ws.dep, "\n".join(lines("H8_fingerprint_collision.ndjson")), cfg=cfg)
    assert (result.opened, result.resolved) == (2, 1)
    rows = ws.query("SELECT METADATA:alert:labels:zz::VARCHAR AS ZZ, STATUS FROM INCIDENTS ORDER BY 1 NULLS FIRST")
    assert [(r["ZZ"], r["STATUS"]) for r in rows] == [(None, "new"), ("2", "resolved")]


# --------------------------------------------------------------------------- a startsAt that moves (issue 24.2)


@pytest.mark.parametrize(("moved", "resolution"), [
    ("I24_starts_moved_earlier.ndjson", "I24_resolved_for_first_start.ndjson"),
    pytest.param("I24_starts_moved_earlier.ndjson", "I24_resolved_for_earlier_start.ndjson", marks=pytest.mark.slow),
    pytest.param("I24_starts_moved_later.ndjson", "I24_resolved_for_first_start.ndjson", marks=pytest.mark.slow),
    pytest.param("I24_starts_moved_later.ndjson", "I24_resolved_for_later_start.ndjson", marks=pytest.mark.slow),
])
def test_a_moved_start_keeps_one_incident_until_resolved(ws: Workspace, moved: str, resolution: str) -> None:
    first, second = lines(moved)
    assert ws.ingest(first).opened == 1
    assert ws.ingest(second).opened == 0  # the same firing run: no second incident
    assert ws.ingest("\n".join(lines(resolution))).resolved == 1
    [row] = incidents(ws)
    starts = [json.loads(e)["startsAt"] for e in (first, second, *lines(resolution))]
    earliest = min(starts).replace("T", " ").rstrip("Z")
    assert (row[2], row[4], row[7]) == ("resolved", earliest, "2026-11-22 10:30:00")
    assert [t[2:4] for t in trail(ws)] == [(None, "new"), ("new", "resolved")]
    again = ws.ingest("\n".join(lines("I24_fires_again.ndjson")))  # after the resolution: a new episode
    assert again.opened == 1
    assert [r[2] for r in sorted(incidents(ws), key=lambda r: r[4])] == ["resolved", "new"]
    # The analytics count every notification of the run against its one incident, the moved one too.
    noise = ws.query("SELECT STATUS, ALERTS, FIRING_NOTIFICATIONS, RESOLVED_NOTIFICATIONS FROM V_ALERT_NOISE "
                     "ORDER BY CREATED_AT")
    assert [tuple(r.values()) for r in noise] == [("resolved", 2 + len(lines(resolution)), 2, len(lines(resolution))),
                                                  ("new", 1, 1, 0)]


# --------------------------------------------------------------------------- order-free


def replay(ws: Workspace, events: list[str]) -> tuple[list[tuple], list[tuple]]:
    for event in events:
        ws.ingest(event)
    return incidents(ws), trail(ws)


@pytest.fixture
def one_call(tmp_path_factory: pytest.TempPathFactory, repo: Path, deployed_template: Path,
             monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple], list[tuple]]:
    """The state after every event of H8_order_free in one call, in a database of its own."""
    import shutil

    path = tmp_path_factory.mktemp("one-call")
    shutil.copytree(deployed_template, path, dirs_exist_ok=True)
    with monkeypatch.context() as m:
        m.setenv("INCIDENTS_LOCAL_DIR", str(path))
        with Workspace.open(repo, env="dev") as other:
            result = other.ingest("\n".join(lines("H8_order_free.ndjson")))
            assert (result.opened, result.resolved) == (3, 3)
            return incidents(other), trail(other)


@pytest.mark.parametrize("order", [
    pytest.param("reversed", marks=pytest.mark.slow),
    pytest.param("resolutions first", marks=pytest.mark.slow),
    pytest.param("interleaved", marks=pytest.mark.slow),
])
def test_one_call_at_a_time_in_any_order_ends_as_one_call(ws: Workspace, one_call: tuple, order: str) -> None:
    events = lines("H8_order_free.ndjson")
    ordered = {"reversed": events[::-1],
               "resolutions first": sorted(events, key=lambda e: json.loads(e)["status"] != "resolved"),
               "interleaved": events[1::2] + events[0::2]}[order]
    assert replay(ws, ordered) == one_call
    state, _history = one_call
    orderly = [row for row in state if row[0] == "0rde1f1e0rde1f1e"]
    assert sorted((r[7], r[2], r[8]) for r in orderly) == [("2026-11-21 10:40:00", "resolved", 3),
                                                           ("2026-11-21 12:30:00", "resolved", 1)]
    assert {r[1] for r in orderly} - {"second"} <= {"v0", "v1", "v2"}
    late = [row for row in state if row[0] == "1a7e1a7e1a7e1a7e"]
    assert [(r[2], r[8]) for r in late] == [("resolved", 1)]  # resolved before it fired: still one notification


# --------------------------------------------------------------------------- cut short, repaired (H3)


class Cut(BaseException):
    """The process dies here: no rollback, no further statement."""


def cut_after(monkeypatch: pytest.MonkeyPatch, statement: str) -> None:
    real = Pass.execute

    def execute(self: Pass, name: str, **extra: object) -> list:
        rows = real(self, name, **extra)
        if name == statement:
            raise Cut(statement)
        return rows

    monkeypatch.setattr(Pass, "execute", execute)
    monkeypatch.setattr(Pass, "_rollback", lambda self: None)  # a dead process rolls nothing back itself


PASS_STATEMENTS = ["system_user", "episodes", "begin", "insert_incidents", "status_history", "history_times",
                   "comments", "update_incidents"]


@pytest.mark.parametrize("statement", [
    "insert_incidents",
    *(pytest.param(s, marks=pytest.mark.slow) for s in PASS_STATEMENTS if s != "insert_incidents"),
])
def test_a_pass_cut_after_any_statement_leaves_no_gap_and_a_rerun_repairs(
        repo: Path, deployed_local: Path, monkeypatch: pytest.MonkeyPatch, statement: str) -> None:
    events = "\n".join(lines("H8_order_free.ndjson"))
    with Workspace.open(repo, env="dev") as ws, monkeypatch.context() as m:
        cut_after(m, statement)
        with pytest.raises(Cut):
            ws.ingest(events)
    with Workspace.open(repo, env="dev") as ws:  # the connection closed without COMMIT: the database rolled back
        assert ws.query("SELECT COUNT(*) AS N FROM INCIDENTS")[0]["N"] == 0
        assert ws.check(record=False).ok
        ws.ingest(events)  # the sender's retry (or the user running it again)
        assert len(incidents(ws)) == 3 and opening_comments(ws) == 3
        assert [t[2:4] for t in trail(ws)].count((None, "new")) == 3
        assert ws.check(record=False).ok


@pytest.mark.slow
def test_check_sees_an_ingested_incident_without_its_trail_and_a_reingest_repairs_it(ws: Workspace) -> None:
    events = "\n".join(lines("H8_order_free.ndjson"))
    ws.ingest(events)
    # What a pass cut short by an earlier version left: incidents without history rows or comments.
    ws.query("DELETE FROM INCIDENT_STATUS_HISTORY")
    ws.query("DELETE FROM INCIDENT_COMMENTS")
    found = {f.check: f for f in ws.check(record=False).failed}
    assert found["monitoring_incident_without_opening_status"].failures == 3
    assert found["monitoring_incident_without_system_comment"].failures == 3
    ws.ingest(events)
    assert ws.check(record=False).ok
    assert opening_comments(ws) == 3 and len(trail(ws)) == 6
