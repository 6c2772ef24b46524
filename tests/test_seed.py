"""`incidents seed`: determinism, refusal/--replace, key integrity and the demo SQL, on a local target."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from incidents.errors import ConfigError, NotDeployedError, TablesNotEmptyError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.seed import SeedOptions, render_sample_sql, seed, window
from incidents.seed import load as seed_load
from incidents.seed.load import SEED_TABLES
from incidents.seed.sample_sql import SAMPLE_INCIDENTS
from incidents.sql.session import Session
from incidents.targets.local import open_local

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2025, 12, 31)
Deploy = Callable[[], Session]


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


@pytest.fixture(scope="module")
def env(project: Project) -> Environment:
    return environment(project, "dev")


@pytest.fixture
def deployed(tmp_path_factory: pytest.TempPathFactory, project: Project, env: Environment,
             deploy_schema: Callable[..., Session]) -> Iterator[Deploy]:
    sessions: list[Session] = []

    def make() -> Session:
        sessions.append(deploy_schema(tmp_path_factory.mktemp("local"), project, env))
        return sessions[-1]

    yield make
    for session in sessions:
        session.close()


def content_hash(session: Session) -> str:
    digest = hashlib.sha256()
    for table in SEED_TABLES:
        _, rows = session.execute(f"SELECT * FROM {table} ORDER BY 1")
        digest.update(table.encode())
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def counts(session: Session) -> dict[str, int]:
    return {t: session.query(f"SELECT COUNT(*) AS N FROM {t}")[0]["N"] for t in SEED_TABLES}


def run(session: Session, project: Project, env: Environment, **options: object) -> dict[str, int]:
    opts = SeedOptions(**{"incidents": 300, "end": END, **options})  # type: ignore[arg-type]
    return seed(session, Deployment(project, env), opts).rows


# --------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_options_give_identical_data_and_another_seed_differs(deployed: Deploy, project: Project,
                                                                     env: Environment) -> None:
    a, b, c = deployed(), deployed(), deployed()
    report = run(a, project, env)
    run(b, project, env)
    run(c, project, env, random_seed=7)
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(c)
    assert report == counts(a)
    assert list(report) == list(SEED_TABLES)  # load order: parents first


@pytest.mark.slow
def test_staged_path_loads_the_same_rows(deployed: Deploy, project: Project, env: Environment,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The Snowflake strategy (stage table + INSERT ... SELECT with PARSE_JSON) gives the same data."""
    direct = deployed()
    run(direct, project, env)
    monkeypatch.setattr(seed_load, "Loader", functools.partial(seed_load.Loader, staged=True))
    staged = deployed()
    run(staged, project, env)
    assert content_hash(staged) == content_hash(direct)
    assert not staged.query("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES "
                            "WHERE TABLE_NAME LIKE 'SEED_STAGE_%'")
    variant = staged.query("SELECT TYPEOF(METADATA) AS T, METADATA:region::VARCHAR AS R, TAGS[0]::VARCHAR AS TAG "
                           "FROM INCIDENTS WHERE INCIDENT_ID = 1")[0]
    # Snowflake says OBJECT, fakesnow JSON; a value stored as text would say VARCHAR.
    assert variant["T"] in ("OBJECT", "JSON") and variant["R"] and variant["TAG"]


def test_default_window_ends_today_and_is_relative_to_end() -> None:
    assert window(SeedOptions(), today=dt.date(2026, 3, 1)) == (dt.date(2025, 3, 1), dt.date(2026, 3, 1))
    assert window(SeedOptions(start=dt.date(2025, 6, 1), end=END)) == (dt.date(2025, 6, 1), END)


# --------------------------------------------------------------------------- refusal and --replace


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_refuses_non_empty_tables_and_changes_nothing(deployed: Deploy, project: Project,
                                                      env: Environment) -> None:
    session = deployed()
    run(session, project, env)
    before = content_hash(session)
    with pytest.raises(TablesNotEmptyError, match=r"incidents \(300 rows\).*--replace") as exc:
        run(session, project, env, random_seed=1)
    assert exc.value.exit_code == 2
    assert content_hash(session) == before


@pytest.mark.slow
def test_replace_gives_exactly_a_fresh_seed(deployed: Deploy, project: Project, env: Environment) -> None:
    replaced, fresh = deployed(), deployed()
    run(replaced, project, env, incidents=500)
    report = run(replaced, project, env, incidents=200, random_seed=3, replace=True)
    run(fresh, project, env, incidents=200, random_seed=3)
    assert report == counts(replaced)
    assert report["incidents"] == 200
    assert content_hash(replaced) == content_hash(fresh)


def test_refuses_before_deploy(tmp_path: Path, project: Project, env: Environment) -> None:
    session = open_local(tmp_path, env)
    try:
        with pytest.raises(NotDeployedError, match="incidents deploy"):
            run(session, project, env)
    finally:
        session.close()


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_refuses_when_a_table_is_missing(deployed: Deploy, project: Project, env: Environment) -> None:
    session = deployed()
    session.execute("DROP TABLE INCIDENT_SOLUTIONS")
    with pytest.raises(NotDeployedError, match=r"incident_solutions.*incidents deploy"):
        run(session, project, env)
    assert counts_without(session, "incident_solutions") == 0


def counts_without(session: Session, missing: str) -> int:
    return sum(session.query(f"SELECT COUNT(*) AS N FROM {t}")[0]["N"] for t in SEED_TABLES if t != missing)


@pytest.mark.parametrize(("options", "message"), [
    ({"incidents": 0}, "at least 1 incident"),
    ({"start": dt.date(2026, 1, 2)}, "is after --end"),
    ({"start": dt.date(2000, 1, 1)}, "longer than"),
])
def test_rejects_bad_options(deployed: Deploy, project: Project, env: Environment, options: dict[str, object],
                             message: str) -> None:
    session = deployed()
    with pytest.raises(ConfigError, match=message):
        run(session, project, env, **options)
    assert sum(counts(session).values()) == 0


# --------------------------------------------------------------------------- sample SQL


@pytest.mark.slow  # runs the 400 kB sql/03_sample_data.sql twice on fakesnow
def test_sample_sql_is_deterministic_runs_on_fakesnow_and_is_rerunnable(deployed: Deploy, project: Project,
                                                                         env: Environment) -> None:
    sql = render_sample_sql(Deployment(project, env))
    assert sql == render_sample_sql(Deployment(project, env))
    assert len(sql.encode()) < 500_000
    assert "PARSE_JSON(" in sql and "VALUES" in sql
    values = sql[sql.index("FROM (VALUES"):]
    assert "PARSE_JSON" not in values.split(") AS source")[0]  # Snowflake rejects it inside VALUES
    session = deployed()
    for _ in range(2):  # the second run must skip every row whose key exists
        for cursor in session.conn.execute_string(sql):
            cursor.close()
    loaded = counts(session)
    assert loaded["incidents"] == SAMPLE_INCIDENTS
    assert all(loaded.values())
    used = session.query("SELECT SUM(USAGE_COUNT) AS U FROM SOLUTION_TEMPLATES")[0]["U"]
    assert used == loaded["incident_solutions"]
    # README's first query (the open critical and high incidents) shows rows on the demo data (issue 24.5)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "FROM v_active_incidents_dashboard WHERE priority IN ('critical', 'high')" in readme
    active = session.query("SELECT COUNT(*) AS N FROM V_ACTIVE_INCIDENTS_DASHBOARD "
                           "WHERE PRIORITY IN ('critical', 'high')")[0]["N"]
    assert active >= 1


def test_a_seed_run_mid_hour_writes_nothing_after_that_moment() -> None:
    """`seed` with --end today runs at, say, 10:25: incidents drawn into the 10:00 hour were created up to
    10:59, and an incident resolved before a reopen still to come carried that later resolution (a 100k seed
    failed `incidents check`: future detected_at and resolved_at)."""
    import pandas as pd

    from incidents.seed.generate import Generator, Window

    end = dt.date(2026, 12, 3)
    now = int(dt.datetime(2026, 12, 3, 10, 25, tzinfo=dt.timezone.utc).timestamp())
    generator = Generator(5_000, 7, Window(end - dt.timedelta(days=5), end, now=now))
    frames = [df for batch in generator.batches() for name, df in batch if name == "incidents"]
    incidents = pd.concat(frames)
    moment = pd.Timestamp(now, unit="s")
    for column in ("CREATED_AT", "DETECTED_AT", "ACKNOWLEDGED_AT", "RESOLVED_AT", "CLOSED_AT", "UPDATED_AT"):
        found = incidents.columns[incidents.columns.str.upper() == column]
        if len(found):
            values = pd.to_datetime(incidents[found[0]])
            assert not (values > moment).any(), (column, values.max())
    created = pd.to_datetime(incidents[incidents.columns[incidents.columns.str.upper() == "CREATED_AT"][0]])
    assert (created >= moment - pd.Timedelta(minutes=25)).any()  # the last, partial hour is still drawn into
