"""From an installed wheel, as a new user would: init a project, deploy, seed, render there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_carries_the_example_and_init_makes_a_working_project(tmp_path: Path) -> None:
    dist, site = tmp_path / "dist", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
                   check=True, timeout=600)
    wheel = next(dist.glob("incidents-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(site)}  # the wheel's copy comes before the checkout's
    env.pop("INCIDENTS_LOCAL_DIR", None)
    env.pop("INCIDENTS_PROJECT_DIR", None)

    def incidents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "incidents", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)

    where = incidents("status", "--format", "json", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(site) in where.stdout  # the bundled example inside the installed package
    refused = incidents("render", cwd=tmp_path)
    assert refused.returncode == 2 and "incidents init" in refused.stderr

    assert incidents("init", "warehouse", cwd=tmp_path).returncode == 0
    project = tmp_path / "warehouse"
    assert (project / ".github" / "workflows" / "incidents-drift.yml").is_file()
    for args in (["deploy", "-q"], ["seed", "-n", "100", "-q"], ["render", "-q"], ["render", "--check"]):
        done = incidents(*args, cwd=project)
        assert done.returncode == 0, (args, done.stderr)
    assert (project / ".incidents").is_dir() and (project / "setup.sql").is_file()
    count = incidents("query", "SELECT COUNT(*) AS n FROM incidents", "--format", "csv", cwd=project)
    assert count.stdout.splitlines() == ["N", "100"]
