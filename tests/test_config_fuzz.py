"""Property-based fuzz of the config loader (issue 22, "Done means"): any one value of any shipped config
file replaced by any YAML value (or the file by bytes that are not YAML) is either loaded and rendered, or
refused with one ConfigError line naming a file; never another exception (a traceback for the user).
Slow step only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.errors import ConfigError
from incidents.importers.config import load_import_config
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.ingest import load_ingest_config
from incidents.project.predict import load_predict_config
from incidents.workspace import committed_files

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
FILES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "config").rglob("*.yml"))

scalars = (st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats() | st.text(max_size=30)
           | st.sampled_from(["", " ", "$$", "'", "\\", "-- x", "a\nb", "PUBLIC", "ACCOUNTADMIN", "0", "-1",
                              "9" * 40, "new", "closed", "VARCHAR(-1)", "NUMBER(99,99)", "\u202e", "\x1b[2J"]))
yaml_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                              max_size=3),
    max_leaves=8)


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value can be put: the root, each mapping value, each list item."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _nodes(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _nodes(value, (*path, i))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return data


def _load_and_render(root: Path) -> None:
    project = load_project(root)
    load_ingest_config(project)
    load_import_config(project)
    load_predict_config(project)
    for name in project.environments:
        committed_files(Deployment(project, environment(project, name)))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "project"
    shutil.copytree(REPO / "config", path / "config")
    shutil.copytree(REPO / "templates", path / "templates")
    return path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(rel=st.sampled_from(FILES), pick=st.integers(min_value=0), value=yaml_values, raw=st.booleans(),
       noise=st.binary(max_size=40))
def test_any_value_anywhere_is_loaded_or_refused_in_one_line(root: Path, rel: str, pick: int, value: Any,
                                                             raw: bool, noise: bytes) -> None:
    original = (REPO / rel).read_bytes()
    try:
        if raw:  # the file itself damaged: bytes appended that may not be YAML or UTF-8 at all
            (root / rel).write_bytes(original + noise)
        else:
            data = yaml.safe_load(original)
            places = _nodes(data)
            data = _replaced(data, places[pick % len(places)], value)
            (root / rel).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        try:
            _load_and_render(root)
        except ConfigError as exc:
            assert exc.file and exc.file.startswith(("config/", "templates/")), str(exc)
            assert len(str(exc).splitlines()) == 1, str(exc)
    finally:
        (root / rel).write_bytes(original)
