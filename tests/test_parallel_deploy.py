"""Parallel apply: dependency waves, over several sessions, with history and failures reported per
step. The real connector path runs against the fakesnow server; the failure paths use a fake
multi-session target (sessions sharing one local database behind a lock)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incidents.engine.apply import DeployFailed, deploy, snapshot
from incidents.engine.waves import waves
from incidents.kinds.base import StepStatus
from incidents.kinds.namespace import TABLE, VIEW
from incidents.kinds.view import view_reads
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.sql.session import Session
from incidents.targets.local import open_local
from incidents.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- waves (pure)

@pytest.fixture(scope="module")
def cold_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Environment, list[Any]]:
    project = load_project(REPO)
    env = environment(project, "dev")
    session = open_local(tmp_path_factory.mktemp("cold"), env)
    try:
        return project, env, snapshot(session, Deployment(project, env)).steps
    finally:
        session.close()


def test_waves_keep_every_step_and_put_dependencies_in_earlier_waves(cold_plan: tuple) -> None:
    project, env, steps = cold_plan
    plan_waves = waves(steps)
    flat = [step for wave in plan_waves for unit in wave for step in unit]
    assert sorted(map(repr, flat)) == sorted(map(repr, steps))
    wave_of = {(s.object_kind, s.object): i for i, wave in enumerate(plan_waves) for unit in wave for s in unit}
    tables = {t.name: t for t in project.tables}
    for (kind, name), i in wave_of.items():
        if kind == TABLE and name in tables:
            assert all(wave_of[(TABLE, p)] < i for p in tables[name].parents), name
    view_sql = {s.object: s.statements[0] for s in steps if s.object_kind == VIEW}
    for name, sql in view_sql.items():
        for read in view_reads(sql, set(view_sql) - {name}, Deployment(project, env)):
            assert wave_of[(VIEW, read)] < wave_of[(VIEW, name)], (name, read)
    # Views come after every table; several waves hold more than one unit.
    assert min(wave_of[(VIEW, v)] for v in view_sql) > max(
        i for (kind, _), i in wave_of.items() if kind == TABLE)
    assert sum(len(w) > 1 for w in plan_waves) >= 2 and max(len(w) for w in plan_waves) >= 5


# --------------------------------------------------------------------------- a fake multi-session target

class SharedTarget:
    """Sessions over one local database: statements take turns on it (it is one DuckDB connection),
    while each session's fixed `delay` overlaps with the others' as network round trips would."""

    def __init__(self, base: Session, delay: float = 0.0, fail: set[str] | None = None) -> None:
        self.base, self.delay, self.fail = base, delay, fail or set()
        self.guard = threading.Lock()
        self.threads: set[str] = set()
        self.opened = 0

    def open(self) -> Session:
        self.opened += 1
        return DelayedSession(self.base.conn, "snowflake", label="fake", emulated=True,
                              is_target_error=self.base.is_target_error, rewrite=self.base.rewrite, target=self)


class DelayedSession(Session):
    def __init__(self, *args: Any, target: SharedTarget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.target.delay)
        self.target.threads.add(threading.current_thread().name)
        if any(name in sql.upper() for name in self.target.fail):
            from incidents.errors import TargetError

            raise TargetError("failed on purpose", obj=kwargs.get("obj"), statement=sql)
        with self.target.guard:
            return super().execute(sql, *args, **kwargs)

    def close(self) -> None:  # the shared connection belongs to the base session
        pass


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[Project, Environment, Session]]:
    project = load_project(REPO)
    env = environment(project, "dev")
    session = open_local(tmp_path / "db", env)
    yield project, env, session
    session.close()


@pytest.mark.slow
def test_parallel_deploy_converges_records_every_step_and_uses_several_sessions(local: tuple) -> None:
    project, env, base = local
    target = SharedTarget(base, delay=0.01)
    main = target.open()
    seen: list[Any] = []
    report = deploy(main, Deployment(project, env), threads=4, open_session=target.open, on_step=seen.append)
    assert all(r.status == StepStatus.OK for r in report.results)
    assert [r.step for r in seen] == [r.step for r in report.results]
    assert len(target.threads) > 2 and target.opened > 2
    history = base.query("SELECT OBJECT_KIND, OBJECT_NAME, STATUS FROM incidents_deploy_history "
                         "WHERE OBJECT_KIND NOT IN ('column', 'deploy')")  # recorded defaults, the end row
    assert sorted((h["OBJECT_KIND"], h["OBJECT_NAME"]) for h in history) == sorted(
        (r.step.object_kind, r.step.object) for r in report.results)
    again = deploy(main, Deployment(project, env), threads=4, open_session=target.open)
    assert again.up_to_date
    assert not snapshot(base, Deployment(project, env)).changes


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_a_failure_reports_every_failed_step_of_its_wave_and_stops_the_next(local: tuple) -> None:
    project, env, base = local
    # Two views that read no other view (the first view wave); v_category_rollup reads v_category_tree.
    target = SharedTarget(base, fail={"VIEW INCIDENTS.CORE.V_CATEGORY_TREE\n",
                                      "VIEW INCIDENTS.CORE.V_INCIDENT_HEATMAP\n"})
    with pytest.raises(DeployFailed) as caught:
        deploy(target.open(), Deployment(project, env), threads=4, open_session=target.open)
    report = caught.value.report
    failed = sorted(r.step.object for r in report.results if r.status == StepStatus.FAILED)
    assert failed == ["v_category_tree", "v_incident_heatmap"]
    assert "1 more failed step" in str(caught.value)
    ran = {r.step.object for r in report.results}
    # The rest of the wave ran, dynamic tables (materialized views, reading no view) among them.
    assert {"v_time_in_status", "v_data_quality_checks"} <= ran, "the rest of the failed wave ran"
    assert not ran & {"v_category_rollup", "v_incident_overview"}, "a view of a later wave ran after a failed wave"
    history = base.query("SELECT OBJECT_NAME, STATUS FROM incidents_deploy_history WHERE STATUS = 'failed'")
    assert sorted(h["OBJECT_NAME"] for h in history) == failed


@pytest.mark.slow
def test_threads_1_is_the_sequential_plan_order(local: tuple) -> None:
    project, env, base = local
    target = SharedTarget(base)
    planned = snapshot(base, Deployment(project, env)).steps
    report = deploy(target.open(), Deployment(project, env), threads=1, open_session=target.open)
    assert [r.step.object for r in report.results] == [s.object for s in planned]
    assert target.opened == 1


# --------------------------------------------------------------------------- the real connector

@pytest.mark.slow
@pytest.mark.server
def test_parallel_deploy_through_the_connector(server: dict, make_project: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project()
    config = root / "config" / "project.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("INCIDENTS_STAGING", "INCIDENTS_PARALLEL"),
                      encoding="utf-8")
    home = tmp_path / "snowflake"
    home.mkdir()
    (home / "connections.toml").write_text(
        f'[fake]\naccount = "fakesnow"\nuser = "fake"\npassword = "snow"\nhost = "{server["host"]}"\n'
        f'port = {server["port"]}\nprotocol = "http"\nwarehouse = "COMPUTE_WH"\n'
        'network_timeout = 30\nlogin_timeout = 30\n'
        "[fake.session_parameters]\nCLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false\n", encoding="utf-8")
    os.chmod(home / "connections.toml", 0o600)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    with Workspace.open(root, env="staging", connection="fake") as ws:
        report = ws.deploy(threads=4)
        assert report.results and all(r.status == StepStatus.OK for r in report.results)
        assert ws.diff().in_sync
        rows = ws.query("SELECT COUNT(*) AS N FROM INCIDENTS_PARALLEL.CORE.INCIDENTS_DEPLOY_HISTORY "
                        "WHERE STATUS = 'ok' AND OBJECT_KIND NOT IN ('column', 'deploy')")  # steps only
        assert rows.to_records()[0]["N"] == len(report.results)
        lock = ws.query("SELECT DEPLOY_ID FROM INCIDENTS_PARALLEL.CORE.INCIDENTS_DEPLOY_LOCK")
        assert lock.to_records()[0]["DEPLOY_ID"] is None, "the lock is released"


def test_threads_out_of_range_is_a_usage_error(runner: Any, repo: Path, local_dir: Path) -> None:
    from incidents.cli import app

    result = runner.invoke(app, ["deploy", "--threads", "0", "--project-dir", str(repo)])
    assert result.exit_code == 2, result.output
    assert "--threads" in result.stderr and "expected 1 to 32 threads" in result.stderr
