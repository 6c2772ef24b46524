"""`incidents seed` end to end through the CLI, at a small scale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from incidents.cli import app

SMALL = ["--incidents", "300", "--random-seed", "7", "--end", "2025-06-30"]


def _invoke(runner: CliRunner, repo: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--project-dir", str(repo)])


@pytest.mark.slow
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

    assert json.loads(first.output)["delete_seconds"] == 0
    assert json.loads(replaced.output)["delete_seconds"] > 0  # timed apart: rows/s is the load's own
    text = _invoke(runner, repo, "seed", "--incidents", "50", "--end", "2025-06-30", "--replace")
    assert text.exit_code == 0 and "Seeded" in text.output and "incidents" in text.output
    assert "s emptying the tables" in text.output

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


def test_progress_counts_incidents_against_the_total_with_true_rates(monkeypatch: object) -> None:
    import io
    import time

    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TextColumn

    from incidents.seed.progress import Progress

    progress = Progress(enabled=False, incidents=200_000)
    progress._bar = RichProgress(TextColumn(""), console=Console(file=io.StringIO()))  # a terminal stand-in
    with progress:
        progress._started = time.perf_counter() - 2.0  # the load began two seconds ago
        progress.advance("users", 1_000, covered=1_000, total=1_000)
        progress.advance("incident_comments", 300_000, covered=100_000, total=200_000)
        progress.advance("incident_comments", 300_000, covered=200_000, total=200_000)
        tasks = {t.description: t for t in progress._bar.tasks}
    comments = tasks["incident_comments"]
    assert (comments.completed, comments.total, comments.fields["rows"]) == (200_000, 200_000, 600_000)
    rate = float(comments.fields["rate"].replace(",", ""))
    assert 200_000 <= rate <= 300_000, rate  # 600,000 rows over ~2 s, not rows over a microsecond
    assert tasks["users"].total == 1_000 and tasks["users"].finished
