"""Behaviours a mutation sample found unguarded (issue 23): each test fails on the bug it names.

- ingest resolving an incident a person has been assigned (its status still `new`);
- purge deleting a row exactly at the retention cutoff;
- a deploy taking a lock another deploy holds and has not let expire;
- a deploy applying the plan it made before it waited for the lock, instead of planning again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from incidents import Workspace
from incidents.engine.lock import DeployLock
from incidents.errors import TargetError
from incidents.sql.session import Session

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"


def test_an_alert_never_resolves_an_incident_a_person_was_assigned_while_it_is_still_new(
        repo: Path, deployed_local: Path) -> None:
    with Workspace.open(repo, env="dev") as ws:
        ws.ingest((FIXTURES / "firing.json").read_text(encoding="utf-8"))
        ws.query("INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) "
                 "VALUES (50, 'ana@shop.example', 'Ana', 'engineer')")
        ws.query("UPDATE INCIDENTS SET ASSIGNEE_ID = 50")  # taken over; the status is still `new`
        result = ws.ingest((FIXTURES / "resolved.json").read_text(encoding="utf-8"))
        assert (result.resolved, result.noted) == (0, 1)
        row = ws.query("SELECT STATUS, RESOLVED_AT, ASSIGNEE_ID FROM INCIDENTS")[0]
        assert (row["STATUS"], row["RESOLVED_AT"], row["ASSIGNEE_ID"]) == ("new", None, 50)


def test_purge_keeps_a_row_exactly_at_the_cutoff_and_deletes_one_a_microsecond_older(
        repo: Path, deployed_local: Path) -> None:
    as_of = dt.datetime(2026, 12, 1, 12, 0, 0)
    cutoff = as_of - dt.timedelta(days=730)  # incident_comments: retention 730 days by created_at
    with Workspace.open(repo, env="dev") as ws:
        ws.query("INSERT INTO USERS (USER_ID, EMAIL, FULL_NAME, ROLE) VALUES (1, 'a@shop.example', 'A', 'engineer')")
        ws.query("INSERT INTO INCIDENTS (INCIDENT_ID, INCIDENT_NUMBER, TITLE, CATEGORY_ID, PRIORITY, SEVERITY, STATUS, "
                 "IMPACT_LEVEL, SOURCE, REPORTER_ID) VALUES (1, 'INC-1', 't', 1, 'low', 'SEV4', 'new', 'none', "
                 "'manual', 1)")
        for comment_id, created in ((1, cutoff), (2, cutoff - dt.timedelta(microseconds=1))):
            ws.query("INSERT INTO INCIDENT_COMMENTS (COMMENT_ID, INCIDENT_ID, AUTHOR_ID, COMMENT_TYPE, BODY, "
                     f"CREATED_AT) VALUES ({comment_id}, 1, 1, 'note', 'x', '{created.isoformat(sep=' ')}')")
        dry = ws.purge(dry_run=True, as_of=as_of)
        done = ws.purge(as_of=as_of)
        left = [r["COMMENT_ID"] for r in ws.query("SELECT COMMENT_ID FROM INCIDENT_COMMENTS ORDER BY 1")]
    counts = {t.table: t.rows for t in done.tables}
    assert counts["incident_comments"] == 1 and {t.table: t.rows for t in dry.tables} == counts
    assert left == [1]


def _remote(session: Session) -> Session:
    """The same local database, as a Snowflake session would be seen: its locks are not taken over."""
    return Session(session.conn, "snowflake", label="remote", emulated=True, is_target_error=session.is_target_error)


def test_a_lock_another_deploy_holds_and_has_not_let_expire_is_not_taken(repo: Path, deployed_local: Path) -> None:
    with Workspace.open(repo, env="dev") as ws:
        remote = _remote(ws.session)
        holder = DeployLock(remote, ws.dep, "other-deploy")
        holder.prepare()
        assert holder.try_acquire() is None  # the other deploy holds it, lease 30 minutes
        waiting = DeployLock(remote, ws.dep, "this-deploy", sleep=lambda seconds: None)
        assert waiting.try_acquire() is not None
        with pytest.raises(TargetError, match=r"deploy in progress by .*other-deploy"):
            waiting.acquire(timeout=0)
        assert waiting.holder() is not None and waiting.holder().deploy_id == "other-deploy"  # type: ignore[union-attr]


def test_the_lock_is_the_mutex_table_one_deploy_creates(repo: Path, deployed_local: Path) -> None:
    """Taking the lock is a CREATE TABLE that fails when the name is taken, whatever the holder row says."""
    with Workspace.open(repo, env="dev") as ws:
        remote = _remote(ws.session)
        first, second = DeployLock(remote, ws.dep, "first"), DeployLock(remote, ws.dep, "second")
        first.prepare()
        assert first.try_acquire() is None
        remote.execute("UPDATE INCIDENTS_DEPLOY_LOCK SET DEPLOY_ID = NULL")  # the row says free: it does not decide
        blocked = second.try_acquire()
        assert blocked is not None and blocked.deploy_id == "first"
        first.release()
        assert ws.query("SELECT COUNT(*) AS N FROM INFORMATION_SCHEMA.TABLES "
                        "WHERE TABLE_NAME = 'INCIDENTS_DEPLOY_LOCK_HELD'")[0]["N"] == 0
        assert second.try_acquire() is None and second.holder().deploy_id == "second"  # type: ignore[union-attr]


def test_an_expired_lock_is_taken_over_and_its_old_holder_cannot_free_the_new_one(
        repo: Path, deployed_local: Path) -> None:
    with Workspace.open(repo, env="dev") as ws:
        remote = _remote(ws.session)
        stalled, next_one = DeployLock(remote, ws.dep, "stalled"), DeployLock(remote, ws.dep, "next-one")
        stalled.prepare()
        assert stalled.try_acquire() is None
        remote.execute("UPDATE INCIDENTS_DEPLOY_LOCK SET EXPIRES_AT = DATEADD('second', -1, SYSDATE())")
        next_one.acquire(timeout=0)
        stalled.release()  # it wakes up: the lock is no longer its own to free
        assert next_one.holder().deploy_id == "next-one"  # type: ignore[union-attr]
        assert ws.query("SELECT DEPLOY_ID FROM INCIDENTS_DEPLOY_LOCK_HELD")[0]["DEPLOY_ID"] == "next-one"


def test_a_mutex_whose_creator_died_before_recording_itself_expires_with_the_lease(
        repo: Path, deployed_local: Path) -> None:
    with Workspace.open(repo, env="dev") as ws:
        remote = _remote(ws.session)
        lock = DeployLock(remote, ws.dep, "patient", sleep=lambda seconds: None)
        lock.prepare()
        remote.execute("CREATE TABLE INCIDENTS_DEPLOY_LOCK_HELD AS SELECT CAST('ghost' AS VARCHAR(36)) AS DEPLOY_ID, "
                       "DATEADD('second', -1801, SYSDATE()) AS TAKEN_AT")
        lock.acquire(timeout=0)
        assert lock.holder().deploy_id == "patient"  # type: ignore[union-attr]


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_deploy_plans_again_under_the_lock_instead_of_applying_what_it_planned_before_waiting(
        make_project, local_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project()
    with Workspace.open(root, env="dev") as ws:
        ws.deploy()
    table = root / "config" / "tables" / "users.yml"
    table.write_text(table.read_text(encoding="utf-8").replace(
        "  - {name: team,", "  - {name: nickname, type: VARCHAR(50), comment: \"What colleagues call them.\"}\n"
        "  - {name: team,", 1), encoding="utf-8")
    real_acquire = DeployLock.acquire

    def another_deploy_wins_while_we_wait(self: DeployLock, timeout: float) -> None:
        # The change this deploy planned is applied by another one before the lock is ours.
        self.session.execute(f"ALTER TABLE {self.dep.fq('users')} ADD COLUMN NICKNAME VARCHAR(50)")
        real_acquire(self, timeout)

    monkeypatch.setattr(DeployLock, "acquire", another_deploy_wins_while_we_wait)
    with Workspace.open(root, env="dev") as ws:
        planned = ws.plan()
        assert any("ADD COLUMN" in s for r in planned.results for s in r.step.statements)  # before the wait
        report = ws.deploy()  # the stale plan's ADD COLUMN would fail now: the column exists
        assert not any("ADD COLUMN" in s for r in report.results for s in r.step.statements)
        monkeypatch.setattr(DeployLock, "acquire", real_acquire)
        assert ws.diff().in_sync
