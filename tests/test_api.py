"""The Python API: the README example as written, typed results, and what `import incidents` costs."""

from __future__ import annotations

import decimal
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import incidents
from incidents.results import QueryResult

REPO = Path(__file__).resolve().parents[1]


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README has no Python example under 'Use from Python'"
    return match.group(1)


@pytest.mark.slow
def test_readme_example_runs_as_written(project_copy: Path, local_dir: Path) -> None:
    env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(local_dir)}
    done = subprocess.run([sys.executable, "-c", readme_python_example()], cwd=project_copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # no incidents yet: deploy creates empty tables
    assert (local_dir / "INCIDENTS.db").is_file()


@pytest.mark.slow  # the same calls run one by one in the other tests of this file
def test_workspace_round_trip(project_copy: Path, local_dir: Path) -> None:
    with incidents.Workspace.open(project_copy) as ws:
        first = ws.deploy()
        assert first.applied and not first.refused
        assert ws.diff().in_sync
        assert ws.plan().up_to_date
        rows = ws.query("SELECT priority, acknowledge_minutes FROM sla_policies ORDER BY acknowledge_minutes")
        assert [r["PRIORITY"] for r in rows] == ["critical", "high", "medium", "low"]
        assert json.loads(rows.to_json())[0] == {"PRIORITY": "critical", "ACKNOWLEDGE_MINUTES": 5}
        with pytest.raises(incidents.ConfigError, match="2 statements"):
            ws.query("SELECT 1; DROP TABLE sla_policies")
        assert len(ws.query("SELECT * FROM sla_policies")) == 4
    assert any("SLA_POLICIES" in st.sql.upper() for st in ws.trace)


def test_open_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(incidents.ConfigError, match=r"config/project\.yml"):
        incidents.Workspace.open(tmp_path)
    with pytest.raises(incidents.ConfigError, match="unknown environment 'nope'"):
        incidents.Workspace.open(REPO, env="nope")


def test_query_result_is_a_sequence_of_dicts_with_exact_json() -> None:
    result = QueryResult(["A", "A", "B"], [(1, 2, decimal.Decimal("12345678901234567890.12")),
                                           (None, float("nan"), decimal.Decimal("0.10"))])
    assert result[0] == {"A": 1, "A_2": 2, "B": decimal.Decimal("12345678901234567890.12")}
    assert len(result) == 2 and list(result)[1]["A"] is None
    text = result.to_json(indent=None)
    assert "12345678901234567890.12" in text and "0.10" in text  # digits kept, not rounded through a float
    assert "NaN" not in text and json.loads(text)[1]["A_2"] is None
    assert result.to_csv().splitlines()[0] == "A,A,B"


def test_help_documents_the_api() -> None:
    doc = incidents.Workspace.__doc__ or ""
    assert "Workspace.open" in doc
    for name in ("open", "render", "validate", "diff", "plan", "deploy", "seed", "query"):
        assert getattr(incidents.Workspace, name).__doc__, f"Workspace.{name} has no docstring"
    assert set(incidents.__all__) >= {"Workspace", "ConfigError", "TargetError", "QueryResult"}


def test_import_is_cheap() -> None:
    code = ("import sys, incidents, incidents.cli; "
            "print(sorted(m for m in ('snowflake.connector', 'pandas', 'fakesnow', 'duckdb', 'numpy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
