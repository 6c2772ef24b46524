"""One statement's rows as a stream of chunks, for output that must not hold a whole result (issue 26.2).

On the local target a query streams from DuckDB as Arrow record batches (`localdb`); on Snowflake rows come
`fetchmany` at a time through the connector. Either way the statement goes through the Session's own checks,
rewrite, tracing and error mapping, as `Session.execute` does it: a failure, also one while reading rows,
is a TargetError naming the statement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from incidents.errors import StatementCountError, TargetError, first_line
from incidents.sql.session import Session, Statement
from incidents.sql.text import count_statements

FETCH_ROWS = 10_000  # rows per fetchmany on Snowflake


@dataclass
class StreamedResult:
    """Column names as the target named them, and the rows in chunks (Arrow record batches or lists of row
    tuples), to be read once while the session is open."""

    columns: list[str]
    chunks: Iterator[Any]


def stream(session: Session, sql: str, params: Sequence[Any] | None = None, *, obj: str | None = None,
           max_rows: int | None = None) -> StreamedResult:
    """Run exactly one statement; its rows in chunks, at most `max_rows` of them."""
    if type(session).execute is not Session.execute or session.ignores(sql):
        # The Snowflake-rules test target answers some statements itself: its own execute, all rows at once.
        columns, rows = session.execute(sql, params, obj=obj, max_rows=max_rows)
        return StreamedResult(columns, iter([rows] if rows else []))
    count = count_statements(sql)
    if count != 1:
        where = f"{obj or session.label}: " if obj or session.label else ""
        raise StatementCountError(f"{where}refusing to run SQL text that holds {count} statements as one "
                                  "statement; nothing was run")
    start = time.perf_counter()
    cur = session.conn.cursor()
    try:
        columns, chunks = _run(session, cur, session.rewrite(sql), params)
    except Exception as exc:
        cur.close()
        if not session.is_target_error(exc):
            raise
        raise _mapped(session, exc, sql, obj) from exc
    finally:
        session.trace.append(Statement(sql, obj, time.perf_counter() - start))
    names = [session._column_name(c) for c in columns]
    return StreamedResult(names, _guarded(session, cur, _limited(chunks, max_rows), sql, obj))


def _run(session: Session, cur: Any, sql: str, params: Sequence[Any] | None) -> tuple[list[str], Iterator[Any]]:
    if hasattr(cur, "execute_arrow"):  # the local target (localdb.LocalCursor)
        result = cur.execute_arrow(sql, params)
        return result.names, result.batches
    cur.execute(sql, params) if params is not None else cur.execute(sql)
    description = cur.description
    if not description:
        return [], iter([])
    return [d[0] for d in description], _fetched(cur)


def _fetched(cur: Any) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cur.fetchmany(FETCH_ROWS):
        yield [tuple(r) for r in rows]


def _limited(chunks: Iterator[Any], max_rows: int | None) -> Iterator[Any]:
    """At most `max_rows` rows; the rest is never read."""
    try:
        left = max_rows
        for chunk in chunks:
            if left is not None and left <= 0:
                break
            n = len(chunk) if isinstance(chunk, list) else chunk.num_rows
            if left is not None and n > left:
                chunk = chunk[:left] if isinstance(chunk, list) else chunk.slice(0, left)
            yield chunk
            left = None if left is None else left - n
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()  # stop the reader: the rest is never read


def _guarded(session: Session, cur: Any, chunks: Iterator[Any], sql: str, obj: str | None) -> Iterator[Any]:
    try:
        yield from chunks
    except Exception as exc:
        if not session.is_target_error(exc):
            raise
        raise _mapped(session, exc, sql, obj) from exc
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
        cur.close()


def _mapped(session: Session, exc: BaseException, sql: str, obj: str | None) -> TargetError:
    message = first_line(exc)
    advice = session.hint(message)
    return TargetError(f"{message} ({advice})" if advice else message, obj=obj or session.label, statement=sql)
