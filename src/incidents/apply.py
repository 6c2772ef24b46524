"""Deploy: introspect, diff, plan, run the steps, record them in the history table.

Snowflake commits each DDL statement, so there is no transactional deploy: every step is idempotent
and recorded as it ends (ok or failed), and a rerun plans only what is still missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from incidents import __version__
from incidents.diff import Change, diff
from incidents.errors import TargetError
from incidents.introspect import LiveState, default_digest, fingerprint, introspect
from incidents.kinds import DEPLOY_MARKER, Action, Backend, Capabilities, ObjectKind, StepStatus
from incidents.lock import DeployLock
from incidents.models import HISTORY_TABLE, Environment, Project
from incidents.plan import Step, plan
from incidents.render import context, desired_state
from incidents.session import Session
from incidents.templating import render_template
from incidents.validate import check_steps


@dataclass
class StepResult:
    step: Step
    status: StepStatus
    seconds: float = 0.0
    error: str | None = None


@dataclass
class DeployReport:
    env: str
    backend: Backend
    dry_run: bool
    changes: list[Change]
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def applied(self) -> list[StepResult]:
        return [r for r in self.results if r.status == StepStatus.OK]

    @property
    def refused(self) -> list[StepResult]:
        return [r for r in self.results if r.status == StepStatus.REFUSED]

    @property
    def up_to_date(self) -> bool:
        return not self.results

    def as_dict(self) -> dict[str, object]:
        return {
            "env": self.env, "backend": self.backend, "dry_run": self.dry_run,
            "up_to_date": self.up_to_date, "seconds": round(self.seconds, 3),
            "steps": [{"object_kind": r.step.object_kind, "object": r.step.object, "action": r.step.action,
                       "status": r.status, "destructive": r.step.destructive, "statements": list(r.step.statements),
                       "seconds": round(r.seconds, 3), "error": r.error or r.step.refused} for r in self.results],
        }


@dataclass(frozen=True)
class Snapshot:
    """Everything a deploy, plan or diff needs to know, read with a constant number of queries."""

    changes: list[Change]
    steps: list[Step]
    live: LiveState


def snapshot(session: Session, project: Project, env: Environment, *, allow_destructive: bool = False) -> Snapshot:
    desired = desired_state(project, env)
    live = introspect(session, project, env)
    changes = diff(desired, live, Capabilities.for_target(session.backend, emulated=session.emulated))
    return Snapshot(changes, plan(project, desired, live, changes, allow_destructive=allow_destructive), live)


LOCK_TIMEOUT = 300.0  # seconds a deploy waits for another one to finish
_CONTAINERS = (ObjectKind.DATABASE, ObjectKind.SCHEMA)  # created before the deploy lock, which lives in the schema


class DeployFailed(TargetError):
    """A step failed; `.report` holds every step up to it (the failed one included)."""

    def __init__(self, cause: TargetError, report: DeployReport) -> None:
        super().__init__(str(cause))
        self.obj, self.statement, self.report = cause.obj, cause.statement, report
        self.__cause__ = cause.__cause__


def deploy(session: Session, project: Project, env: Environment, *, dry_run: bool = False,
           allow_destructive: bool = False, on_step: Callable[[StepResult], None] | None = None,
           lock_timeout: float = LOCK_TIMEOUT) -> DeployReport:
    """Plan and apply. A deploy with nothing to run sends only the introspection queries; one that
    runs steps takes the deploy lock first (waiting up to lock_timeout seconds) and plans again under
    it, so two deploys started together never apply the same change twice."""
    start = time.perf_counter()
    snap = snapshot(session, project, env, allow_destructive=allow_destructive)
    report = DeployReport(env.name, Backend(session.backend), dry_run, snap.changes)
    notify = on_step or (lambda result: None)
    if dry_run or not any(step.runs for step in snap.steps):
        for step in snap.steps:
            report.results.append(StepResult(step, StepStatus.REFUSED if not step.runs else StepStatus.PLANNED))
            notify(report.results[-1])
        report.seconds = time.perf_counter() - start
        return report

    check_steps(project, snap.steps)  # what validate would reject is never sent (ConfigError, exit 2)
    history = History(session, project, env, str(uuid.uuid4()))
    steps = snap.steps
    try:
        # The lock lives in the schema: a cold deploy creates database and schema first (IF NOT
        # EXISTS, harmless when a concurrent deploy does the same), then waits for the lock.
        bootstrap = [s for s in steps if s.object_kind in _CONTAINERS and s.runs]
        for step in bootstrap:
            _run_step(session, step, report, history, notify)
        lock = DeployLock(session, project, env, history.deploy_id)
        lock.prepare()
        lock.acquire(lock_timeout)
        try:
            snap = snapshot(session, project, env, allow_destructive=allow_destructive)
            report.changes = snap.changes
            for step in snap.steps:
                if not step.runs:
                    report.results.append(StepResult(step, StepStatus.REFUSED))
                    history.record(report.results[-1])
                    notify(report.results[-1])
                    continue
                lock.renew()
                _run_step(session, step, report, history, notify)
            history.finish(time.perf_counter() - start)
        except BaseException:  # Ctrl-C too: free the lock on the way out
            _release_quietly(lock)  # the step's error is the one to report, not a release that failed too
            raise
        lock.release()
    except TargetError as exc:
        report.seconds = time.perf_counter() - start
        if isinstance(exc, _StepFailed):
            raise DeployFailed(exc.cause, report) from exc.cause.__cause__
        raise
    report.seconds = time.perf_counter() - start
    return report


def _release_quietly(lock: DeployLock) -> None:
    # The network may be gone: then the lease expires, or the next deploy here sees our pid is gone.
    with contextlib.suppress(TargetError):
        lock.release()


class _StepFailed(TargetError):
    def __init__(self, cause: TargetError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _run_step(session: Session, step: Step, report: DeployReport, history: History,
              notify: Callable[[StepResult], None]) -> None:
    """Run one step's statements and record it at once (ok or failed), so a deploy killed at any
    point leaves history for every step it completed."""
    t0 = time.perf_counter()
    try:
        for statement in step.statements:
            session.execute(statement, obj=f"{step.object_kind} {step.object}")
    except TargetError as exc:
        result = StepResult(step, StepStatus.FAILED, time.perf_counter() - t0, str(exc))
        report.results.append(result)
        notify(result)
        history.record(result)
        raise _StepFailed(exc) from exc
    result = StepResult(step, StepStatus.OK, time.perf_counter() - t0)
    report.results.append(result)
    history.record(result)
    notify(result)


class History:
    """Writes one INSERT into INCIDENTS_DEPLOY_HISTORY row per step as it ends. Rows of steps that ran before
    the history table existed (a cold deploy's database and schema) are written right after it is
    created. View fingerprints (the view text the backend stored) are filled in by `finish()` with
    one read and one MERGE."""

    def __init__(self, session: Session, project: Project, env: Environment, deploy_id: str) -> None:
        self.session, self.project, self.env, self.deploy_id = session, project, env, deploy_id
        self.pending: list[StepResult] = []
        self.table_exists: bool | None = None
        self.views: list[str] = []
        self.tables: list[str] = []  # tables created or altered: their function defaults are recorded

    def _sql(self, template: str, **extra: object) -> str:
        return render_template(self.project.templates_dir, f"history/{template}.sql.j2",
                               **context(self.project, self.env), **extra)

    def record(self, result: StepResult) -> None:
        self.pending.append(result)
        step = result.step
        if step.object_kind == ObjectKind.TABLE and step.object == HISTORY_TABLE and result.status == StepStatus.OK:
            self.table_exists = True
        if self.table_exists is None:
            self.table_exists = step.object_kind not in _CONTAINERS and self._exists()
        if not self.table_exists:
            return
        if step.object_kind == ObjectKind.VIEW and result.status == StepStatus.OK:
            self.views.append(step.object)
        if step.object_kind == ObjectKind.TABLE and result.status == StepStatus.OK and step.statements:
            self.tables.append(step.object)
        rows, self.pending = self.pending, []
        try:
            self.session.execute(self._sql("insert", records=[self._row(r) for r in rows]), obj="deploy history")
        except TargetError:
            if result.status == StepStatus.OK:
                raise
            # The step already failed and its error matters more than its history row.

    def _exists(self) -> bool:
        rows = self.session.query(render_template(self.project.templates_dir, "introspect/tables.sql.j2",
                                                  **context(self.project, self.env)), obj="deploy history")
        return any(str(r["TABLE_NAME"]).upper() == HISTORY_TABLE.upper() for r in rows)

    def _row(self, r: StepResult) -> dict[str, object]:
        return {
            "deploy_id": self.deploy_id, "kind": r.step.object_kind, "name": r.step.object, "action": r.step.action,
            "checksum": r.step.checksum if r.status == StepStatus.OK else None, "fingerprint": None,
            "status": r.status, "statements": len(r.step.statements), "duration_ms": round(r.seconds * 1000),
            "error": (r.error or "")[:4000] or None, "tool_version": __version__, "env": self.env.name,
            "deployed_by": _user(), "deployed_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        }

    def finish(self, seconds: float) -> None:
        """Fingerprints of the views this deploy replaced, and the live text of the function defaults of
        the tables it created or altered, each read back in one query; then the row that says the
        deploy ended (`incidents history` calls a deploy without one interrupted)."""
        self._record_defaults()
        if self.views:
            ctx = context(self.project, self.env)
            rows = self.session.query(render_template(self.project.templates_dir, "introspect/views.sql.j2", **ctx))
            # No text (a role that does not own the view) is no fingerprint: diff reports "cannot compare".
            found = {r["TABLE_NAME"]: fingerprint(r["VIEW_DEFINITION"]) for r in rows if r["VIEW_DEFINITION"]}
            prints = [(name, found[name.upper()]) for name in self.views if name.upper() in found]
            if prints:
                self.session.execute(self._sql("fingerprints", deploy_id=self.deploy_id, prints=prints),
                                     obj="deploy history")
        marker = Step(DEPLOY_MARKER, f"{self.env.database}.{self.env.schema}", Action.FINISH, ())
        self.record(StepResult(marker, StepStatus.OK, seconds))

    def _record_defaults(self) -> None:
        """Each backend spells a function default its own way (Snowflake writes casts out); the text it
        reported right after this deploy is what diff compares against, never a guess of its spelling."""
        declared = {(t.name.upper(), c.name.upper()): (t.name, c) for t in self.project.tables if t.name in self.tables
                    for c in t.columns if c.function_default}
        if not declared:
            return
        rows = self.session.query(render_template(self.project.templates_dir, "introspect/columns.sql.j2",
                                                  **context(self.project, self.env)), obj="deploy history")
        records = []
        for r in rows:
            found = declared.get((r["TABLE_NAME"], r["COLUMN_NAME"]))
            if found is None or r["COLUMN_DEFAULT"] is None:
                continue
            table, column = found
            step = Step(ObjectKind.COLUMN, f"{table}.{column.name}", Action.RECORD, ())
            records.append({**self._row(StepResult(step, StepStatus.OK)), "checksum": default_digest(column.default),
                            "fingerprint": default_digest(r["COLUMN_DEFAULT"])})
        if records:
            self.session.execute(self._sql("insert", records=records), obj="deploy history")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
