"""Deploy: introspect, diff, plan, run the steps, record them in the history table.

Snowflake commits each DDL statement, so there is no transactional deploy: every step is idempotent
and recorded as it ends (ok or failed), and a rerun plans only what is still missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from incidents import __version__
from incidents.diff import Change, diff
from incidents.errors import TargetError
from incidents.introspect import LiveState, default_digest, fingerprint, introspect
from incidents.kinds import DEPLOY_MARKER, Action, Backend, Capabilities, ChangeKind, ObjectKind, StepStatus
from incidents.lock import DeployLock
from incidents.models import HISTORY_TABLE, Environment, Project
from incidents.plan import Step, plan
from incidents.render import context, desired_state
from incidents.sql.session import Session, Statement
from incidents.sql.templating import render_template
from incidents.validate import check_steps
from incidents.waves import Unit, waves


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
    notices: list[str] = field(default_factory=list)  # one line each, printed before the summary

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
            "up_to_date": self.up_to_date, "seconds": round(self.seconds, 3), "notices": self.notices,
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

    def __init__(self, cause: TargetError, report: DeployReport, others: list[TargetError] | None = None) -> None:
        others = others or []
        more = f" (and {len(others)} more failed step(s) in the same wave: {', '.join(str(o.obj) for o in others)})"
        super().__init__(str(cause) + (more if others else ""))
        self.obj, self.statement, self.report = cause.obj, cause.statement, report
        self.failures = [cause, *others]
        self.__cause__ = cause.__cause__


def deploy(session: Session, project: Project, env: Environment, *, dry_run: bool = False,
           allow_destructive: bool = False, on_step: Callable[[StepResult], None] | None = None,
           lock_timeout: float = LOCK_TIMEOUT, threads: int = 1,
           open_session: Callable[[], Session] | None = None) -> DeployReport:
    """Plan and apply. A deploy with nothing to run sends only the introspection queries; one that
    runs steps takes the deploy lock first (waiting up to lock_timeout seconds) and plans again under
    it, so two deploys started together never apply the same change twice.

    With `open_session` (a factory of further sessions to the same target) and threads > 1, the
    steps run in dependency waves over up to `threads` extra sessions (see waves.py); the lock,
    introspection and history stay on `session`. Otherwise one step at a time, in plan order."""
    start = time.perf_counter()
    snap = snapshot(session, project, env, allow_destructive=allow_destructive)
    report = DeployReport(env.name, Backend(session.backend), dry_run, snap.changes, notices=_notices(session, env))
    notify = on_step or (lambda result: None)
    if dry_run or not any(step.runs for step in snap.steps):
        for step in snap.steps:
            report.results.append(StepResult(step, StepStatus.REFUSED if not step.runs else StepStatus.PLANNED))
            notify(report.results[-1])
        report.seconds = time.perf_counter() - start
        return report

    check_steps(project, snap.steps)  # what validate would reject is never sent (ConfigError, exit 2)
    history = History(session, project, env, str(uuid.uuid4()))
    pool = SessionPool(open_session, threads) if open_session is not None and threads > 1 else None
    runner = _Runner(session, report, history, notify, pool)
    try:
        # The lock lives in the schema: a cold deploy creates database and schema first (IF NOT
        # EXISTS, harmless when a concurrent deploy does the same), then waits for the lock.
        for step in snap.steps:
            if step.object_kind in _CONTAINERS and step.runs:
                runner.run_wave([(step,)])
        lock = DeployLock(session, project, env, history.deploy_id)
        lock.prepare()
        lock.acquire(lock_timeout)
        try:
            snap = snapshot(session, project, env, allow_destructive=allow_destructive)
            report.changes = snap.changes
            plan_waves = waves(snap.steps, project, env) if pool else [[(step,)] for step in snap.steps]
            for wave in plan_waves:
                lock.renew()
                runner.run_wave(wave)
            history.finish(time.perf_counter() - start)
        except BaseException:  # Ctrl-C too: free the lock on the way out
            _release_quietly(lock)  # the step's error is the one to report, not a release that failed too
            raise
        lock.release()
    except _WaveFailed as exc:
        report.seconds = time.perf_counter() - start
        raise DeployFailed(exc.causes[0], report, others=exc.causes[1:]) from exc.causes[0].__cause__
    finally:
        if pool is not None:
            session.trace.extend(pool.close())
    report.seconds = time.perf_counter() - start
    return report


ACCESS_SKIPPED = ("access: roles, grants, masking policies, tags, the audit stream and tasks are Snowflake-only; "
                  "not applied to this target (see README, \"Access and privacy\")")


def _notices(session: Session, env: Environment) -> list[str]:
    return [ACCESS_SKIPPED] if env.access is not None and not session.access_control else []


def _release_quietly(lock: DeployLock) -> None:
    # The network may be gone: then the lease expires, or the next deploy here sees our pid is gone.
    with contextlib.suppress(TargetError):
        lock.release()


class _WaveFailed(TargetError):
    def __init__(self, causes: list[TargetError]) -> None:
        super().__init__(str(causes[0]))
        self.causes = causes


class SessionPool:
    """Up to `size` worker threads, each with its own session opened on its first step (so logins
    overlap too). Closed once, at the end of the deploy; `close()` returns the statements they sent."""

    def __init__(self, open_session: Callable[[], Session], size: int) -> None:
        self._open = open_session
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="incidents-deploy")
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._guard = threading.Lock()

    def submit(self, fn: Callable[..., None], *args: object) -> None:
        self._executor.submit(fn, *args)

    def session(self) -> Session:
        """This worker thread's session."""
        current = getattr(self._local, "session", None)
        if current is None:
            current = self._local.session = self._open()
            with self._guard:
                self._sessions.append(current)
        return current

    def close(self) -> list[Statement]:
        self._executor.shutdown(wait=True)
        trace: list[Statement] = []
        for opened in self._sessions:
            trace.extend(opened.trace)
            with contextlib.suppress(Exception):  # closing a worker session must not hide the deploy's outcome
                opened.close()
        return trace


_DONE = object()  # a worker's last event for a unit


@dataclass
class _Runner:
    """Runs waves: one unit inline on the main session, several over the pool. Results, history
    rows and progress are handled on the calling thread only, each as soon as its step ends."""

    session: Session
    report: DeployReport
    history: History
    notify: Callable[[StepResult], None]
    pool: SessionPool | None

    def run_wave(self, wave: list[Unit]) -> None:
        runnable = [unit for unit in wave if any(step.runs for step in unit)]
        for unit in wave:  # refused steps run nowhere: report them at once
            for step in unit:
                if not step.runs:
                    self._ended(StepResult(step, StepStatus.REFUSED))
        if self.pool is None or len(runnable) <= 1:
            for unit in runnable:
                failure = _run_unit(lambda: self.session, unit, self._ended)
                if failure is not None:
                    raise _WaveFailed([failure])
            return
        self._run_parallel(runnable, self.pool)

    def _run_parallel(self, units: list[Unit], pool: SessionPool) -> None:
        events: queue.Queue[object] = queue.Queue()
        for unit in units:
            pool.submit(_worker, pool, unit, events)
        failures: list[TargetError] = []
        crash: BaseException | None = None
        done = 0
        while done < len(units):
            ended: list[StepResult] = []
            for event in _drain(events):  # steps that ended together share one history INSERT
                if isinstance(event, StepResult):
                    ended.append(event)
                    continue
                done += 1
                outcome = event[1]  # type: ignore[index]
                if isinstance(outcome, TargetError):
                    failures.append(outcome)
                elif outcome is not None:
                    crash = crash or outcome
            if ended:
                self._ended(*ended)
        if crash is not None:
            raise crash
        if failures:  # every failed step of the wave is in the report; the next wave does not start
            raise _WaveFailed(failures)

    def _ended(self, *results: StepResult) -> None:
        """Record finished steps: the report, then history (at once, one INSERT) and progress;
        a failed step's progress line comes before its history row, which may fail too."""
        self.report.results.extend(results)
        failed = [r for r in results if r.status == StepStatus.FAILED]
        for result in failed:
            self.notify(result)
        self.history.record(*results)
        for result in results:
            if result.status != StepStatus.FAILED:
                self.notify(result)


def _drain(events: queue.Queue[object]) -> list[object]:
    """The next event (waiting for it) and every other one already there."""
    drained = [events.get()]
    with contextlib.suppress(queue.Empty):
        while True:
            drained.append(events.get_nowait())
    return drained


def _worker(pool: SessionPool, unit: Unit, events: queue.Queue[object]) -> None:
    outcome: BaseException | None = None
    try:
        outcome = _run_unit(pool.session, unit, events.put)
    except TargetError as exc:  # the worker's session could not be opened
        events.put(StepResult(unit[0], StepStatus.FAILED, 0.0, str(exc)))
        outcome = exc
    except BaseException as exc:  # handed to the calling thread, which raises it
        outcome = exc
    events.put((_DONE, outcome))


def _run_unit(session_of: Callable[[], Session], unit: Unit,
              ended: Callable[[StepResult], None]) -> TargetError | None:
    """Run a unit's steps in order, each step's statements one by one; stop at the first failure
    and return it (the failed step's result is handed to `ended` like the others)."""
    for step in unit:
        if not step.runs:
            continue
        t0 = time.perf_counter()
        try:
            session = session_of()
            for statement in step.statements:
                session.execute(statement, obj=f"{step.object_kind} {step.object}")
        except TargetError as exc:
            ended(StepResult(step, StepStatus.FAILED, time.perf_counter() - t0, str(exc)))
            return exc
        ended(StepResult(step, StepStatus.OK, time.perf_counter() - t0))
    return None


class History:
    """Writes one INSERT into INCIDENTS_DEPLOY_HISTORY row per step as it ends. Rows of steps that ran before
    the history table existed (a cold deploy's database and schema) are written right after it is
    created. View fingerprints (the view text the backend stored) are filled in by `finish()` with
    one read and one MERGE."""

    def __init__(self, session: Session, project: Project, env: Environment, deploy_id: str) -> None:
        self.session, self.project, self.env, self.deploy_id = session, project, env, deploy_id
        self.pending: list[StepResult] = []
        self.table_exists: bool | None = None
        self.views: list[str] = []  # replaced by this deploy: their fingerprints go on their rows
        self.view_records: list[tuple[str, str | None]] = []  # (view, checksum) left unprinted by a cut deploy
        self.defaults_set: set[tuple[str, str]] = set()  # (table, column) whose default this deploy set

    def _sql(self, template: str, **extra: object) -> str:
        return render_template(self.project.templates_dir, f"history/{template}.sql.j2",
                               **context(self.project, self.env), **extra)

    def record(self, *results: StepResult) -> None:
        """One INSERT for these results (and any held back until the table existed)."""
        self.pending.extend(results)
        for result in results:
            step = result.step
            if step.object_kind == ObjectKind.TABLE and step.object == HISTORY_TABLE and result.status == StepStatus.OK:
                self.table_exists = True
        if self.table_exists is None:
            self.table_exists = any(r.step.object_kind not in _CONTAINERS for r in results) and self._exists()
        if not self.table_exists:
            return
        rows, self.pending = self.pending, []
        self.views += [r.step.object for r in rows
                       if r.step.object_kind == ObjectKind.VIEW and r.status == StepStatus.OK]
        for r in rows:  # their defaults' live text is recorded by finish()
            if r.step.object_kind == ObjectKind.TABLE and r.status == StepStatus.OK and r.step.statements:
                self.defaults_set |= _defaults_set_by(self.project, r.step)
            if r.status == StepStatus.OK:  # an interrupted deploy's bookkeeping, finished by this one
                self.view_records += [(name, checksum) for kind, name, checksum in r.step.records if kind == "view"]
                self.defaults_set |= {(table, column) for kind, name, _ in r.step.records if kind == "column"
                                      for table, column in [name.split(".", 1)]}
        try:
            self.session.execute(self._sql("insert", records=[self._row(r) for r in rows]), obj="deploy history")
        except TargetError:
            if any(r.status == StepStatus.OK for r in results):
                raise
            # The steps already failed and their errors matter more than their history rows.

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
        if self.views or self.view_records:
            ctx = context(self.project, self.env)
            rows = self.session.query(render_template(self.project.templates_dir, "introspect/views.sql.j2", **ctx))
            # No text (a role that does not own the view) is no fingerprint: diff reports "cannot compare".
            found = {r["TABLE_NAME"]: fingerprint(r["VIEW_DEFINITION"]) for r in rows if r["VIEW_DEFINITION"]}
            prints = [(name, found[name.upper()]) for name in self.views if name.upper() in found]
            if prints:
                self.session.execute(self._sql("fingerprints", deploy_id=self.deploy_id, prints=prints),
                                     obj="deploy history")
            self._record_views(found)
        marker = Step(DEPLOY_MARKER, f"{self.env.database}.{self.env.schema}", Action.FINISH, ())
        self.record(StepResult(marker, StepStatus.OK, seconds))

    def _record_views(self, found: dict[str, str]) -> None:
        """Rows of their own for the views a cut-off deploy replaced but never fingerprinted."""
        records = []
        for name, checksum in self.view_records:
            if name.upper() in found:
                step = Step(ObjectKind.VIEW, name, Action.RECORD, ())
                records.append({**self._row(StepResult(step, StepStatus.OK)), "checksum": checksum,
                                "fingerprint": found[name.upper()]})
        if records:
            self.session.execute(self._sql("insert", records=records), obj="deploy history")

    def _record_defaults(self) -> None:
        """Each backend spells a default its own way (Snowflake writes a function's casts out, DuckDB
        keeps a string's backslashes unescaped); the text it reported right after this deploy set the
        default is what diff compares against, never a guess of its spelling. Only defaults this
        deploy set: a refused default change on the same table must stay drift."""
        declared = {(t.name.upper(), c.name.upper()): (t.name, c) for t in self.project.tables for c in t.columns
                    if c.default is not None and (t.name, c.name) in self.defaults_set}
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


# The in-place changes after which a column holds its declared default (added, rebuilt or retyped).
_SETS_DEFAULT = (ChangeKind.MISSING_COLUMN, ChangeKind.DEFAULT_CHANGED, ChangeKind.TYPE_CHANGED)


def _defaults_set_by(project: Project, step: Step) -> set[tuple[str, str]]:
    """(table, column) of every column whose default a table step that ran has just set."""
    table = project.table(step.object)
    if table is None:
        return set()
    if step.action == Action.CREATE:
        return {(table.name, c.name) for c in table.columns}
    return {(table.name, c.column) for c in step.changes if c.kind in _SETS_DEFAULT and c.column}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
