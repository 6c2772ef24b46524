"""The CI recipes users copy: every `incidents` command in them parses against the real CLI."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer.main
import yaml

from incidents.cli import app

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "examples" / "github-actions").glob("*.yml"))


def _incidents_commands(text: str) -> list[list[str]]:
    """Each `incidents ...` invocation in shell text, as argv without the program name."""
    found = []
    for line in text.splitlines():
        for part in line.replace("&&", ";").split(";"):
            words = shlex.split(part.split(">")[0], comments=True)
            if words[:1] == ["incidents"]:
                found.append(words[1:])
    return found


def _parses(argv: list[str]) -> None:
    command = typer.main.get_command(app)
    with command.make_context("incidents", list(argv), resilient_parsing=False) as ctx:
        sub = command.get_command(ctx, argv[0])  # type: ignore[attr-defined]
        assert sub is not None, f"no command {argv[0]}"
        sub.make_context(argv[0], argv[1:], parent=ctx)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_commands_exist_with_their_options(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    runs = [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]
    commands = [c for run in runs for c in _incidents_commands(run)]
    assert commands, "the workflow runs incidents"
    for argv in commands:
        _parses(argv)
    secrets = {v for job in doc["jobs"].values() for v in job.get("env", {}).values()}
    assert "${{ secrets.SNOWFLAKE_ACCOUNT }}" in secrets  # SNOWFLAKE_* secrets, never literal values


def test_drift_workflow_fails_on_drift_and_keeps_the_json() -> None:
    doc = yaml.safe_load((REPO / "examples" / "github-actions" / "incidents-drift.yml").read_text(encoding="utf-8"))
    steps = doc["jobs"]["drift"]["steps"]
    diff = next(s for s in steps if "incidents diff" in s.get("run", ""))
    assert "--format json" in diff["run"] and "||" not in diff["run"]  # exit 1 fails the job
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "drift.json"


def test_pre_commit_hooks_run_real_commands() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"incidents-validate", "incidents-render-check"}
    for hook in hooks:
        argv = shlex.split(hook["entry"])
        assert argv[0] == "incidents" and hook["pass_filenames"] is False
        _parses(argv[1:])


def test_a_misspelt_option_would_fail_the_recipe_test() -> None:
    with pytest.raises(Exception, match="No such option: --formatt"):
        _parses(["diff", "--formatt", "json"])


def test_the_ci_script_names_a_readme_section_that_exists() -> None:
    import re

    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    named = re.findall(r'section "([^"]+)"', script)
    headings = {line.lstrip("#").strip() for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    assert named and set(named) <= headings
    readme_test_command = next(line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
                               if 'pip install -e ".[test]"' in line)
    assert readme_test_command.strip() in script  # CI runs exactly the README's test command
