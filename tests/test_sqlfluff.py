"""Every committed SQL file parses with sqlfluff's Snowflake grammar too (issue 24.5): a second, independent
parser beside sqlglot (which `incidents validate` uses), so what SnowSQL and `snow sql` users run as it is
has no trailing comma, reserved word or shape only one parser forgives."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidents.engine.files import SETUP_FILE
from incidents.sql.text import split_statements

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = "sql/03_sample_data.sql"


def _linter():  # type: ignore[no-untyped-def]
    from sqlfluff.core import FluffConfig, Linter

    # Whole files: no size limit (the views file is 118 kB) and no parse-node limit (the sample data's VALUES).
    return Linter(config=FluffConfig(overrides={"dialect": "snowflake", "large_file_skip_byte_limit": 0,
                                                "max_parse_nodes": 0}))


def _unparsable(text: str, name: str) -> list[str]:
    parsed = _linter().parse_string(text, fname=name)
    return [f"{name}:{v.line_no}: {v.desc()[:200]}" for v in parsed.violations]


def _committed() -> list[Path]:
    return sorted((REPO / "sql").glob("*.sql"))


@pytest.mark.slow
@pytest.mark.parametrize("path", _committed(), ids=lambda p: p.name)
def test_every_committed_file_parses_with_sqlfluff(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(REPO).as_posix()
    if rel == SAMPLE_DATA:  # statement by statement: one parse of the whole file takes minutes
        problems = [p for s in split_statements(text) for p in _unparsable(s + ";\n", rel)]
    else:
        problems = _unparsable(text, rel)
    assert problems == []


@pytest.mark.slow
def test_setup_parses_without_its_client_commands() -> None:
    text = (REPO / SETUP_FILE).read_text(encoding="utf-8")
    sql = "\n".join(line for line in text.splitlines() if not line.startswith("!"))  # SnowSQL's !source
    assert _unparsable(sql, SETUP_FILE) == []


def test_a_trailing_comma_is_what_sqlfluff_refuses() -> None:
    """The check can fail: the defect it guards against (a table with no keys) is refused."""
    assert _unparsable("CREATE TABLE T (A INT,\n);\n", "t.sql")
    assert _unparsable("CREATE TABLE T (A INT\n);\n", "t.sql") == []
