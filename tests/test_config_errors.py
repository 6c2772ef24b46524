"""Broken configs as folder-per-case fixtures: tests/fixtures/config_errors/<case>/case.yml holds the
edits applied to a copy of the repository's project and the fragments the one-line error must
contain (file and key among them). A new case is a folder, not Python.

case.yml keys: `edits` (each `{file, replace, with}`, `{file, append}`, `{file, write}` or
`{file, write_yaml: {path, value}}`, optional `encoding`), `expect` (fragments of the one line),
`command` (default `[validate]`), `env` (variables; `{project}` is the project copy's folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from incidents.cli import app

CASES = Path(__file__).parent / "fixtures" / "config_errors"


def apply_edit(root: Path, edit: dict[str, Any]) -> None:
    path = root / edit["file"]
    if "write" in edit:  # a new or replaced file; {project} is the project copy's folder
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit["write"].replace("{project}", str(root)), encoding="utf-8")
        path.chmod(0o600)  # as a credentials file should be (a readable one gets a warning line)
        return
    text = path.read_text(encoding="utf-8")
    if "replace" in edit:
        assert edit["replace"] in text, f"{edit['replace']!r} not in {edit['file']}"
        text = text.replace(edit["replace"], edit["with"], 1)
    if "append" in edit:
        text += edit["append"]
    if "write_yaml" in edit:  # set one value by key path, for edits a text replace cannot express
        data = yaml.safe_load(text)
        *parents, last = edit["write_yaml"]["path"]
        target = data
        for part in parents:
            target = target[part]
        target[last] = edit["write_yaml"]["value"]
        text = yaml.safe_dump(data, sort_keys=False)
    path.write_bytes(text.encode(edit.get("encoding", "utf-8")))


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "case.yml").is_file()))
def test_broken_config_is_one_line_naming_file_and_key(case: str, project_copy: Path, runner: CliRunner) -> None:
    spec = yaml.safe_load((CASES / case / "case.yml").read_text(encoding="utf-8"))
    for edit in spec["edits"]:
        apply_edit(project_copy, edit)
    command = spec.get("command", ["validate"])
    env = {k: v.replace("{project}", str(project_copy)) for k, v in spec.get("env", {}).items()}
    env.setdefault("INCIDENTS_LOCAL_DIR", str(project_copy / ".local"))
    result = runner.invoke(app, [*command, "--project-dir", str(project_copy)], env=env)
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "Traceback" not in message
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert message.startswith("error: "), message
    assert len(message.strip().splitlines()) == 1, message
    assert "not-printed-secret" not in result.output, "a password from connections.toml was printed"
    for fragment in spec["expect"]:
        assert fragment in message, (fragment, message)


def test_validate_refuses_a_raw_alerts_without_a_column_ingest_writes(project_copy: Path) -> None:
    path = project_copy / "config" / "tables" / "raw_alerts.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["columns"] = [c for c in data["columns"] if c["name"] != "fingerprint"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--project-dir", str(project_copy)])
    assert result.exit_code == 2
    assert "config/tables/raw_alerts.yml" in result.output and "fingerprint" in result.output
