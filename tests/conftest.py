"""Shared fixtures and helpers: the repository's project, project copies to mutate, an isolated
local target, a schema-only local deploy, and a CLI runner. Test modules import nothing from each
other; what two of them need lives here."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.sql.session import Session

REPO = Path(__file__).resolve().parents[1]

ProjectFactory = Callable[..., Path]
SchemaDeployer = Callable[[Path, Project, Environment], Session]


@pytest.fixture(autouse=True, scope="session")
def _template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled templates of the many project copies go to a folder of the test run, not ~/.cache."""
    import os

    previous = os.environ.get("INCIDENTS_CACHE_DIR")
    os.environ["INCIDENTS_CACHE_DIR"] = str(tmp_path_factory.mktemp("template-cache"))
    yield
    if previous is None:
        os.environ.pop("INCIDENTS_CACHE_DIR", None)
    else:
        os.environ["INCIDENTS_CACHE_DIR"] = previous


def copy_project(dest: Path, *, views: bool = True, extra_tables: int = 0) -> Path:
    """A writable copy of the repository's config/ and templates/ (without views.yml if not views),
    plus `extra_tables` small tables extra_00, extra_01, ..."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in ("config", "templates"):
        shutil.copytree(REPO / part, dest / part)
    if not views:
        (dest / "config" / "views.yml").unlink()
    for i in range(extra_tables):
        (dest / "config" / "tables" / f"extra_{i:02d}.yml").write_text(
            f"name: extra_{i:02d}\ncolumns:\n  - {{name: id, type: INT, nullable: false}}\n"
            "  - {name: label, type: VARCHAR(50)}\n  - {name: amount, type: \"NUMBER(12,2)\"}\nprimary_key: [id]\n",
            encoding="utf-8")
    return dest


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def local_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the local target at a fresh folder for this test (never the repo's .incidents/)."""
    path = tmp_path / "local"
    monkeypatch.setenv("INCIDENTS_LOCAL_DIR", str(path))
    monkeypatch.delenv("INCIDENTS_ENV", raising=False)
    monkeypatch.delenv("INCIDENTS_PROJECT_DIR", raising=False)
    return path




def _switch_target(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if name == "snowflake-rules":
        monkeypatch.setenv("INCIDENTS_LOCAL_RULES", "snowflake")
    else:
        monkeypatch.delenv("INCIDENTS_LOCAL_RULES", raising=False)
    return name


@pytest.fixture(params=[pytest.param("local", marks=pytest.mark.slow), "snowflake-rules"])
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the plain local target and on the Snowflake-rules target (incidents.targets.rules):
    the same fakesnow session, refusing what Snowflake refuses and answering metadata in its form. The
    switch is an environment variable, so CLI runs and subprocesses see it too. The default suite
    runs the stricter Snowflake-rules variant; the plain local one runs in the slow CI step."""
    return _switch_target(str(request.param), monkeypatch)


@pytest.fixture(params=["local", pytest.param("snowflake-rules", marks=pytest.mark.slow)])
def target_heavy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`target` for a heavy test: its Snowflake-rules run is marked slow (it runs in the slow CI step)."""
    return _switch_target(str(request.param), monkeypatch)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's project (config/ and templates/) to mutate."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """copy_project(...) into this test's tmp_path: make_project(views=False, extra_tables=3)."""
    def make(name: str = "project", **options: object) -> Path:
        return copy_project(tmp_path / name, **options)  # type: ignore[arg-type]
    return make


@pytest.fixture(scope="session")
def deploy_schema(tmp_path_factory: pytest.TempPathFactory) -> SchemaDeployer:
    """A fresh local target at a path with every declared object created (no deploy bookkeeping).
    The same objects are created once per test process and copied after that (milliseconds)."""
    import hashlib

    from incidents.engine.desired import creation_statements
    from incidents.targets.local import open_local

    built: dict[str, Path] = {}

    def deploy(path: Path, project: Project, env: Environment) -> Session:
        objects = creation_statements(Deployment(project, env))
        key = hashlib.sha256("\n".join([env.database, env.schema, *objects]).encode()).hexdigest()
        if key not in built:
            template = tmp_path_factory.mktemp("schema-template")
            session = open_local(template, env)
            try:
                for sql in objects:
                    session.execute(sql)
            finally:
                session.close()
            built[key] = template
        shutil.copytree(built[key], path, dirs_exist_ok=True)
        return open_local(path, env)
    return deploy


@pytest.fixture(scope="session")
def deployed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's project deployed once per test process into a local-target folder; tests
    copy it (milliseconds) instead of deploying again (seconds)."""
    from incidents.engine.apply import deploy
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    project = load_project(REPO)
    env = environment(project, "dev")
    path = tmp_path_factory.mktemp("deployed-template")
    session = open_local(path, env)
    try:
        deploy(session, Deployment(project, env))
    finally:
        session.close()
    return path


DeployedCopy = Callable[..., Path]


@pytest.fixture(scope="session")
def _deployed_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Path]]:
    return {}


@pytest.fixture
def deployed_copy(_deployed_cache: dict[tuple[str, str], tuple[Path, Path]], tmp_path_factory: pytest.TempPathFactory,
                  tmp_path: Path, local_dir: Path) -> DeployedCopy:
    """deployed_copy(key, prepare=None, after=(), **copy_options): this test's copy (tmp_path/"project",
    and local_dir) of a project copy_project(**copy_options) made, changed by prepare(root), deployed once
    per test process and target (conftest's `target` switch), then `after` statements run. Copying takes
    milliseconds; deploying takes seconds."""
    import os

    def copy(key: str, prepare: Callable[[Path], object] | None = None, after: tuple[str, ...] = (),
             **options: object) -> Path:
        rules = os.environ.get("INCIDENTS_LOCAL_RULES", "")
        if (key, rules) not in _deployed_cache:
            _deployed_cache[(key, rules)] = _deploy_once(tmp_path_factory.mktemp(f"deployed-{key}"), prepare,
                                                         after, options)
        root, local = _deployed_cache[(key, rules)]
        shutil.copytree(root, tmp_path / "project")
        shutil.copytree(local, local_dir)
        return tmp_path / "project"
    return copy


def _deploy_once(base: Path, prepare: Callable[[Path], object] | None, after: tuple[str, ...],
                 options: dict[str, object]) -> tuple[Path, Path]:
    from incidents.engine.apply import deploy
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    root = copy_project(base / "project", **options)  # type: ignore[arg-type]
    if prepare is not None:
        prepare(root)
    project = load_project(root)
    env = environment(project, "dev")
    session = open_local(base / "local", env)
    try:
        deploy(session, Deployment(project, env))
        for sql in after:
            session.execute(sql)
    finally:
        session.close()
    return root, base / "local"


@pytest.fixture
def deployed_local(local_dir: Path, deployed_template: Path) -> Path:
    """local_dir holding the repository's project as `incidents deploy` leaves it (a copy)."""
    shutil.copytree(deployed_template, local_dir)
    return local_dir


@pytest.fixture(scope="session")
def server() -> Iterator[dict]:
    """One fakesnow server on loopback per test process (fakesnow can start only one: its
    `fakesnow.server` function is shadowed by its own submodule once started). Every connection
    shares its in-memory databases, so tests that use it deploy into distinct databases or envs."""
    import logging

    import fakesnow

    # The server runs in this process: keep sqlglot's notes about ignored properties out of the output.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    with _keys_declared_not_enforced_on_the_server(), fakesnow.server() as kwargs:
        yield kwargs


@contextmanager
def _keys_declared_not_enforced_on_the_server() -> Iterator[None]:
    """The server's DuckDB would enforce PRIMARY/FOREIGN KEY and UNIQUE; Snowflake enforces none of them
    (https://docs.snowflake.com/en/sql-reference/constraints-overview). The server behaves as the account
    it stands in for, with the local target's own rewrite (the server runs in this process)."""
    from fakesnow.cursor import FakeSnowflakeCursor

    from incidents.targets.local import keys_declared_not_enforced

    original = FakeSnowflakeCursor.execute

    def execute(self: FakeSnowflakeCursor, command: str, *args: object, **kwargs: object) -> object:
        return original(self, keys_declared_not_enforced(command), *args, **kwargs)

    FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        FakeSnowflakeCursor.execute = original  # type: ignore[method-assign]


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()
