"""A thin statement runner over a DB-API connection: tracing, dry runs and error mapping.

Core functions take a Session, never credentials, so tests can hand them any connection and
count exactly what was sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from incidents.errors import StatementCountError, TargetError, first_line
from incidents.sql.text import count_statements


@dataclass
class Statement:
    sql: str
    obj: str | None
    seconds: float


@dataclass
class Session:
    """Runs statements on one connection. `backend` is "local" or "snowflake"; `emulated` is true when
    fakesnow answers (the local target, or a fakesnow server on loopback reached through the connector),
    so comparisons allow for what fakesnow does not store."""

    conn: Any
    backend: str
    label: str = ""
    emulated: bool = False
    is_target_error: Callable[[BaseException], bool] = lambda exc: False
    trace: list[Statement] = field(default_factory=list)
    on_close: Callable[[], None] | None = None
    hint: Callable[[str], str | None] = lambda message: None  # backend-specific advice for an error
    # The whole message for a backend error that has a plain explanation (the local database held by
    # another process), in place of the driver's text.
    explain: Callable[[str], str | None] = lambda message: None
    # Statements the backend cannot parse but that only set what it does not have (the local target has
    # no Time Travel): accepted and not sent, so plans are the same on every backend.
    ignores: Callable[[str], bool] = lambda sql: False
    # What the backend is sent in place of a statement, where it would otherwise behave unlike Snowflake
    # (the local target drops key constraints that DuckDB would enforce). Trace and errors keep the original.
    rewrite: Callable[[str], str] = lambda sql: sql
    # The target's bulk loader of a DataFrame into a table (the connector's write_pandas, or the local
    # target's): what seed, ingest and import land rows through, never row by row.
    write_pandas: Callable[..., Any] | None = None
    # Entered around a bulk load (seed): the local target caps DuckDB's block cache there, which would
    # otherwise keep every block the load wrote in memory.
    bulk_load: Callable[[], AbstractContextManager[None]] = nullcontext
    # Roles, grants, masking policies, tags, streams and tasks: Snowflake (and the Snowflake-rules
    # target) has them; fakesnow has none, also behind the connector.
    access_control: bool = False

    def execute(self, sql: str, params: Sequence[Any] | None = None, *, obj: str | None = None,
                max_rows: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement; return (column names, rows). Backend errors become TargetError.

        `max_rows` fetches at most that many rows (the rest is never transferred).
        Text that is not exactly one statement is refused before anything is sent: fakesnow would
        run every statement in it, and a second statement is never what a caller meant."""
        count = count_statements(sql)
        if count != 1:
            where = f"{obj or self.label}: " if obj or self.label else ""
            raise StatementCountError(f"{where}refusing to run SQL text that holds {count} statements as one "
                                      "statement; nothing was run")
        if self.ignores(sql):
            self.trace.append(Statement(sql, obj, 0.0))
            return [], []
        start = time.perf_counter()
        cur = self.conn.cursor()
        try:
            sent = self.rewrite(sql)
            cur.execute(sent, params) if params is not None else cur.execute(sent)
            description = cur.description  # read once: on fakesnow each read re-runs a DESCRIBE (issue 26)
            columns = [self._column_name(d[0]) for d in description] if description else []
            fetched = (cur.fetchall() if max_rows is None else cur.fetchmany(max_rows)) if description else []
            rows = [tuple(r) for r in fetched]
        except Exception as exc:
            if not self.is_target_error(exc):
                raise
            message = self.explain(first_line(exc)) or first_line(exc)
            advice = self.hint(message)
            raise TargetError(f"{message} ({advice})" if advice else message, obj=obj or self.label,
                              statement=sql) from exc
        finally:
            self.trace.append(Statement(sql, obj, time.perf_counter() - start))
            cur.close()
        return columns, rows

    def _column_name(self, name: str) -> str:
        # DuckDB names an unaliased COUNT(*) `count_star()`; Snowflake names it `COUNT(*)`.
        return "COUNT(*)" if self.emulated and name == "count_star()" else name

    def query(self, sql: str, params: Sequence[Any] | None = None, *, obj: str | None = None
              ) -> list[dict[str, Any]]:
        """Run a query; rows as dicts keyed by upper-case column name."""
        columns, rows = self.execute(sql, params, obj=obj)
        keys = [c.upper() for c in columns]
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if self.on_close:
                self.on_close()


def error_number(exc: BaseException) -> int | None:
    """The Snowflake error number behind a TargetError, e.g. 2003 for 'does not exist'."""
    cause = exc.__cause__ if isinstance(exc, TargetError) else exc
    errno = getattr(cause, "errno", None)
    try:
        return int(errno) if errno is not None else None
    except (TypeError, ValueError):
        return None


DOES_NOT_EXIST = 2003  # Snowflake (and fakesnow): object does not exist or not authorized


def is_missing_object(exc: TargetError) -> bool:
    """The statement failed because a table, view or schema does not exist. Snowflake reports
    002003; fakesnow raises a catalog error that says the same in words."""
    text = str(exc).lower()
    return error_number(exc) == DOES_NOT_EXIST or "does not exist" in text or "catalog error" in text
