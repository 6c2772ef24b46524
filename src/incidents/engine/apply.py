"""Deploy: introspect, diff, plan, run the steps (in waves over extra sessions on Snowflake), record
them in the history table.

Snowflake commits each DDL statement, so there is no transactional deploy: every step is idempotent
and recorded as it ends (ok or failed), and a rerun plans only what is still missing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from incidents.engine.desired import desired_state
from incidents.engine.diff import diff
from incidents.engine.history import History, StepResult

__all__ = ["LOCK_TIMEOUT", "DeployFailed", "DeployReport", "Snapshot", "StepResult", "deploy", "snapshot"]
from incidents.engine.live import introspect
from incidents.engine.lock import DeployLock
from incidents.engine.plan import plan
from incidents.engine.validate import check_steps
from incidents.engine.waves import Unit, waves
from incidents.errors import TargetError
from incidents.kinds import REGISTRY
from incidents.kinds.base import Backend, Capabilities, Change, DesiredState, LiveState, Phase, Step, StepStatus
from incidents.project.deployment import Deployment
from incidents.sql.session import Session, Statement


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
    desired: DesiredState


def snapshot(session: Session, dep: Deployment, *, allow_destructive: bool = False) -> Snapshot:
    desired = desired_state(dep)
    live = introspect(session, dep)
    changes = diff(desired, live, Capabilities.for_target(session.backend, emulated=session.emulated))
    return Snapshot(changes, plan(desired, live, changes, allow_destructive=allow_destructive), live, desired)


LOCK_TIMEOUT = 300.0  # seconds a deploy waits for another one to finish


class DeployFailed(TargetError):
    """A step failed; `.report` holds every step up to it (the failed one included)."""

    def __init__(self, cause: TargetError, report: DeployReport, others: list[TargetError] | None = None) -> None:
        others = others or []
        more = f" (and {len(others)} more failed step(s) in the same wave: {', '.join(str(o.obj) for o in others)})"
        super().__init__(str(cause) + (more if others else ""))
        self.obj, self.statement, self.report = cause.obj, cause.statement, report
        self.failures = [cause, *others]
        self.__cause__ = cause.__cause__


def deploy(session: Session, dep: Deployment, *, dry_run: bool = False,
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
    snap = snapshot(session, dep, allow_destructive=allow_destructive)
    report = DeployReport(dep.env.name, Backend(session.backend), dry_run, snap.changes,
                          notices=_notices(session, snap.desired) + _step_notices(snap.steps))
    notify = on_step or (lambda result: None)
    if dry_run or not any(step.runs for step in snap.steps):
        for step in snap.steps:
            report.results.append(StepResult(step, StepStatus.REFUSED if not step.runs else StepStatus.PLANNED))
            notify(report.results[-1])
        report.seconds = time.perf_counter() - start
        return report

    check_steps(snap.desired, snap.steps)  # what validate would reject is never sent (ConfigError, exit 2)
    containers = [s.object_kind for s in snap.steps if s.phase == Phase.CONTAINER]
    history = History(session, dep, str(uuid.uuid4()), containers)
    pool = SessionPool(open_session, threads) if open_session is not None and threads > 1 else None
    runner = _Runner(session, report, history, notify, pool)
    try:
        # The lock lives in the schema: a cold deploy creates database and schema first (IF NOT
        # EXISTS, harmless when a concurrent deploy does the same), then waits for the lock.
        for step in snap.steps:
            if step.phase == Phase.CONTAINER and step.runs:
                runner.run_wave([(step,)])
        lock = DeployLock(session, dep, history.deploy_id)
        lock.prepare()
        lock.acquire(lock_timeout)
        try:
            snap = snapshot(session, dep, allow_destructive=allow_destructive)
            report.changes = snap.changes
            plan_waves: list[list[Unit]] = waves(snap.steps) if pool else [[(step,)] for step in snap.steps]
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


def _notices(session: Session, desired: DesiredState) -> list[str]:
    """One line for each kind of object declared here that the target cannot hold."""
    if session.access_control:
        return []
    return list(dict.fromkeys(kind.skipped_notice for kind in REGISTRY
                              if kind.needs_access_control and kind.skipped_notice and desired.objects[kind.name]))


def _step_notices(steps: Sequence[Step]) -> list[str]:
    return list(dict.fromkeys(line for kind in REGISTRY for line in kind.notices(steps)))


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


