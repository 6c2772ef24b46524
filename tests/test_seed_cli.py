"""`incidents seed` end to end through the CLI, at a small scale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner, Result

from incidents.cli import app

SMALL = ["--incidents", "300", "--random-seed", "7", "--end", "2025-06-30"]


def _invoke(runner: CliRunner, repo: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(repo)])


def test_seed_refuse_replace_and_example_queries(repo: Path, local_dir: Path, deployed_template: Path,
                                                 runner: CliRunner) -> None:
    before = _invoke(runner, repo, "seed", *SMALL)
    assert before.exit_code == 2
    assert "incidents deploy" in before.stderr and "Traceback" not in before.stderr

    shutil.copytree(deployed_template, local_dir, dirs_exist_ok=True)  # as `incidents deploy` leaves it
    first = _invoke(runner, repo, "seed", *SMALL, "--format", "json")
    assert first.exit_code == 0, first.stderr
    rows = json.loads(first.output)["rows"]
    assert rows["incidents"] == 300
    assert rows["incident_status_history"] > 300 and rows["users"] > 0

    again = _invoke(runner, repo, "seed", *SMALL)
    assert again.exit_code == 2
    assert "--replace" in again.stderr and "nothing was changed" in again.stderr

    count = "SELECT COUNT(*) AS N FROM incidents"
    assert json.loads(_invoke(runner, repo, "query", count, "-f", "json").output) == [{"N": 300}]

    replaced = _invoke(runner, repo, "seed", *SMALL, "--replace", "--format", "json")
    assert replaced.exit_code == 0, replaced.stderr
    assert json.loads(replaced.output)["rows"] == rows
    assert json.loads(_invoke(runner, repo, "query", count, "-f", "json").output) == [{"N": 300}]

    text = _invoke(runner, repo, "seed", "--incidents", "50", "--end", "2025-06-30", "--replace")
    assert text.exit_code == 0 and "Seeded" in text.output and "incidents" in text.output

    # The spec's example queries run as written on seeded data.
    for sql in ("SELECT * FROM v_monthly_incident_trends ORDER BY month DESC LIMIT 12",
                "SELECT * FROM v_category_performance ORDER BY total_incidents DESC"):
        result = _invoke(runner, repo, "query", sql, "-f", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.output), sql


def test_seed_rejects_bad_options(repo: Path, local_dir: Path, runner: CliRunner) -> None:
    too_few = _invoke(runner, repo, "seed", "--incidents", "0")
    assert too_few.exit_code == 2 and "--incidents" in too_few.output + too_few.stderr
    bad_window = _invoke(runner, repo, "seed", "--start", "2025-07-01", "--end", "2025-06-30")
    assert bad_window.exit_code == 2
    assert "--start 2025-07-01 is after --end 2025-06-30" in bad_window.stderr
