"""Parse statements offline with sqlglot's Snowflake dialect. sqlglot does not raise on syntax it
cannot read: it returns an opaque Command, which is treated as an error here, so a check built on
this can fail."""

from __future__ import annotations

import logging
from typing import Any

from incidents.errors import ConfigError, first_line


def parse_statements(sql: str, source: str) -> list[Any]:
    """The statements of `sql` parsed as Snowflake SQL; ConfigError naming `source` on the first one
    that does not parse (or parses only as an opaque Command)."""
    import sqlglot
    from sqlglot import exp

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    # SnowSQL's !source lines are client commands, not SQL.
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("!"))
    try:
        parsed = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"does not parse as Snowflake SQL: {first_line(exc)}", file=source) from None
    for statement in parsed:
        if isinstance(statement, exp.Command):
            raise ConfigError(f"statement not understood as Snowflake SQL: {statement.sql()[:120]}", file=source)
    return parsed
