"""Shared fixtures: the repository's project, an isolated local target, a CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]


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


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's project (config/ and templates/) to mutate."""
    dest = tmp_path / "project"
    dest.mkdir()
    for part in ("config", "templates"):
        shutil.copytree(REPO / part, dest / part)
    return dest


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()
