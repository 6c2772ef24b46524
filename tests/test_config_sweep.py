"""Every string of every config file, and every mapping key, against the characters that end Snowflake
strings and `$$` bodies: `$$`, `\\`, `'`, `"` and newlines. Each mutation is either refused by loading
(one ConfigError naming the file) or renders every committed file with exactly the statements of the
clean project, by our lexer and by sqlglot's Snowflake tokenizer, and no payload's DROP outside a string.

Loading is cheap (~15 ms), rendering is not (~0.15 s): each mutation is loaded alone, then the ones
that load are rendered together (bisected only when the batch is refused at render time)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType

from incidents.errors import ConfigError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.ingest import load_ingest_config
from incidents.sql.text import split_statements
from incidents.workspace import committed_files

REPO = Path(__file__).resolve().parents[1]
DROP = "DROP TABLE INCIDENTS.CORE.USERS"
PAYLOADS = {
    "dollar": f"x $$; {DROP}; $$",
    "backslash_quote": f"x\\'; {DROP}; --",
    "quote": f"x'; {DROP}; --",
    "double_quote": f'x"; {DROP}; --',
    "newline": f"x\n$$';\n{DROP};\n--",
}
CONFIG_FILES = sorted(str(p.relative_to(REPO)) for p in (REPO / "config").rglob("*.yml"))
QUICK_FILES = ("config/ingest.yml", "config/project.yml")

Path_ = tuple[Any, ...]  # keys and list indexes; ("key", k) as the last item: the mapping key itself


def paths(data: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every string leaf and every mapping key of a YAML document."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                yield (*path, ("key", key))
            yield from paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from paths(value, (*path, i))
    elif isinstance(data, str):
        yield path


def mutate(data: Any, path: Path_, payload: str) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if isinstance(last, tuple):  # rename a mapping key, keeping its place
        key = last[1]
        items = list(parent.items())
        parent.clear()
        parent.update((k + payload if k == key else k, v) for k, v in items)
    else:
        parent[last] = parent[last] + payload


def write(root: Path, rel: str, data: Any) -> None:
    (root / rel).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def sqlglot_statements(sql: str) -> int:
    count, pending = 0, False
    for token in Snowflake().tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            count, pending = count + pending, False
        else:
            pending = True
    return count + pending


def load(root: Path) -> None:
    project = load_project(root)
    if (root / "config/ingest.yml").is_file():
        load_ingest_config(project)


def render(root: Path) -> dict[str, str]:
    project = load_project(root)
    return committed_files(Deployment(project, environment(project, None)))


@pytest.fixture(scope="module")
def clean() -> dict[str, int]:
    return {rel: len(split_statements(text)) for rel, text in render(REPO).items() if rel.endswith(".sql")}


def assert_same_statements(files: dict[str, str], clean: dict[str, int], what: str) -> None:
    for name, text in files.items():
        if not name.endswith(".sql"):
            continue
        assert len(split_statements(text)) == clean[name], (name, what)
        assert sqlglot_statements(text) == clean[name], (name, what)
        code = re.sub(r"'(?:[^'\\]|\\.|'')*'|\$\$.*?\$\$", "''", text, flags=re.S)
        assert DROP not in code, (name, what)


def sweep(rel: str, payload: str, tmp_path: Path, clean: dict[str, int]) -> tuple[int, int]:
    """(refused, rendered) mutations of one file; asserts each outcome."""
    root = tmp_path / "p"
    shutil.copytree(REPO / "config", root / "config")
    original = yaml.safe_load((REPO / rel).read_text(encoding="utf-8"))
    loaded: list[Path_] = []
    refused = 0
    for path in list(paths(original)):
        data = yaml.safe_load((REPO / rel).read_text(encoding="utf-8"))
        mutate(data, path, payload)
        write(root, rel, data)
        try:
            load(root)
        except ConfigError as exc:
            # a cross-file rule (ingest priorities, lifecycle phases) may name the file that disagrees
            assert exc.file and exc.file.startswith(("config/", "templates/")), (path, str(exc))
            assert len(str(exc).splitlines()) == 1, (path, str(exc))
            refused += 1
            continue
        loaded.append(path)
    rendered = _render_in_batches(root, rel, loaded, payload, clean)
    write(root, rel, original)
    return refused, rendered


def _render_in_batches(root: Path, rel: str, batch: list[Path_], payload: str, clean: dict[str, int]) -> int:
    if not batch:
        return 0
    data = yaml.safe_load((REPO / rel).read_text(encoding="utf-8"))
    # Leaves first, then mapping keys deepest first: a renamed key must not move a path still to come.
    for path in sorted(batch, key=lambda p: (isinstance(p[-1], tuple), -len(p))):
        mutate(data, path, payload)
    write(root, rel, data)
    try:
        files = render(root)
    except ConfigError as exc:
        if len(batch) == 1:
            assert exc.file, (batch, str(exc))
            return 0
        half = len(batch) // 2
        return (_render_in_batches(root, rel, batch[:half], payload, clean)
                + _render_in_batches(root, rel, batch[half:], payload, clean))
    assert_same_statements(files, clean, f"{rel}: {len(batch)} mutation(s) with {payload!r}")
    return len(batch)


def cases() -> list[Any]:
    out = []
    for rel in CONFIG_FILES:
        for name in PAYLOADS:
            quick = rel in QUICK_FILES and name == "dollar"
            out.append(pytest.param(rel, name, id=f"{rel.removeprefix('config/')}-{name}",
                                    marks=() if quick else (pytest.mark.slow,)))
    return out


@pytest.mark.parametrize(("rel", "payload"), cases())
def test_every_config_string_is_refused_or_stays_inside_its_literal(rel: str, payload: str, tmp_path: Path,
                                                                    clean: dict[str, int]) -> None:
    refused, rendered = sweep(rel, PAYLOADS[payload], tmp_path, clean)
    assert refused + rendered > 0


def test_issue_22_dollar_in_ingest_yml_stays_in_the_procedure_body(tmp_path: Path, clean: dict[str, int]) -> None:
    """The probe's reproduction (H1): a `$$` in the system user's name ended the procedure body of
    sql/06_alert_intake.sql, and the next statement was the payload's DROP."""
    root = tmp_path / "p"
    shutil.copytree(REPO / "config", root / "config")
    data = yaml.safe_load((root / "config/ingest.yml").read_text(encoding="utf-8"))
    for field in ("full_name", "email"):
        data["system_user"][field] = f"x $$; {DROP}; $$"
    data["source_system"]["default"] = f"a $$; {DROP}; $$"
    data["categories"][0]["match"]["team"] = "$$"
    write(root, "config/ingest.yml", data)
    files = render(root)
    assert_same_statements(files, clean, "ingest.yml")
    assert len(split_statements(files["sql/06_alert_intake.sql"])) == 7  # + queue, stream, resume
