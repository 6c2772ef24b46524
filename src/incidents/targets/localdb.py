"""The local target's connection: fakesnow over DuckDB, without snowflake-connector-python (issue 26).

- fakesnow's modules are loaded privately (`incidents.targets.fakesnow_light`): the local target never imports the
  connector's package, which cost ~0.6 s of every local command.
- Column names come from the result itself (its Arrow schema): fakesnow's `cursor.description` re-parses the
  last statement and runs a `DESCRIBE` of it on every access.
- Rows are built column by column from the Arrow result (fakesnow builds a dict per row, which also folds
  repeated column names into one), and `execute_arrow` streams a query's rows from DuckDB as Arrow record
  batches in bounded memory, for `incidents query` output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from incidents.targets import fakesnow_light

if TYPE_CHECKING:
    import pyarrow

BATCH_ROWS = 65_536  # rows per Arrow record batch when streaming: ~10-50 MB for the widest view


@dataclass
class ArrowRows:
    """A result as Arrow record batches, read once, in order."""

    names: list[str]
    batches: Iterator[pyarrow.RecordBatch]


def errors() -> ModuleType:
    """The error classes the local target raises (a private copy of snowflake.connector.errors)."""
    return fakesnow_light.errors()


def raised_by_the_emulator(exc: BaseException) -> bool:
    """An exception raised inside fakesnow or sqlglot (an assertion of a transform meeting SQL it does not
    handle, such as COPY INTO a stage): the local target failing the statement, not this tool."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return isinstance(exc, (AssertionError, NotImplementedError, KeyError, TypeError, ValueError)) and any(
        part in where for part in ("/fakesnow/", "/sqlglot/", "/_fakesnow/"))


def target_error_types() -> tuple[type[BaseException], ...]:
    """What a failed statement on the local target raises: fakesnow's errors, or DuckDB's directly."""
    import sys

    import duckdb
    import sqlglot.errors

    # sqlglot's errors: fakesnow tokenizes and parses every statement with it first (an unterminated quote
    # or $$ fails there, before DuckDB sees anything).
    found: list[type[BaseException]] = [errors().Error, duckdb.Error, sqlglot.errors.SqlglotError]
    real = sys.modules.get("snowflake.connector.errors")  # fakesnow falls back to it for a few rare paths
    if real is not None:
        found.append(real.Error)
    return tuple(found)


def connect(path: Path | None, database: str, schema: str, *, create_database: bool) -> Any:
    """A fakesnow connection (databases in `path`, or in memory when None) whose cursors are `LocalCursor`s.
    Returns the connection; `.duck` is the DuckDB connection underneath (close it to release the files)."""
    instance = fakesnow_light.module("instance")
    fake = instance.FakeSnow(db_path=path, create_database_on_connect=create_database, create_schema_on_connect=False)
    conn = _classes().connection(fake.duck_conn.cursor(), fake.results_cache, database, schema,
                                 create_database=create_database, create_schema=False, db_path=path)
    conn.duck = fake.duck_conn
    return conn


def write_pandas(*args: Any, **kwargs: Any) -> Any:
    """fakesnow's write_pandas (private copy) for the bulk loader."""
    return fakesnow_light.module("pandas_tools").write_pandas(*args, **kwargs)


@dataclass(frozen=True)
class _Classes:
    connection: type
    cursor: type


@cache
def _classes() -> _Classes:
    """LocalConnection and LocalCursor: the mixins below over the private fakesnow classes (made on first use)."""
    cursor = type("LocalCursor", (_CursorMixin, fakesnow_light.module("cursor").FakeSnowflakeCursor), {})
    connection = type("LocalConnection", (_ConnectionMixin, fakesnow_light.module("conn").FakeSnowflakeConnection),
                      {"cursor_class": cursor})
    return _Classes(connection, cursor)


class _ConnectionMixin:
    cursor_class: type
    duck: Any = None
    _duck_conn: Any

    def cursor(self, cursor_class: type = fakesnow_light.SnowflakeCursor) -> Any:
        return self.cursor_class(conn=self, duck_conn=self._duck_conn,
                                 use_dict_result=cursor_class is fakesnow_light.DictCursor)


class _CursorMixin:
    """What the local target changes in fakesnow's cursor (fakesnow's attributes, used as it uses them)."""

    _arrow_table: Any
    _arrow_table_fetch_index: int | None
    _arraysize: int
    _prefetch_hook: Any
    _use_dict_result: bool
    _duck_conn: Any
    _conn: Any

    _reader: Any = None

    def close(self) -> bool:
        """Also closes a streaming reader: it holds the DuckDB connection until closed."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        return super().close()  # type: ignore[misc]

    @property
    def description(self) -> list[Any]:
        """Column names (and nothing else) from the result: no DESCRIBE of the last statement."""
        table = self._arrow_table
        if table is None:
            return []
        return [fakesnow_light.ResultMetadata(name, 0, None, None, None, None, True) for name in table.schema.names]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._use_dict_result:
            return super().fetchmany(size)  # type: ignore[misc]
        if self._prefetch_hook is not None:
            self._prefetch_hook()
        if self._arrow_table is None:
            raise TypeError("No open result set")
        size = size or self._arraysize
        start = self._arrow_table_fetch_index or 0
        self._arrow_table_fetch_index = start + size
        return rows_of(self._arrow_table.slice(offset=start, length=size))

    def fetchall(self) -> list[Any]:
        if self._prefetch_hook is not None:
            self._prefetch_hook()
        if self._arrow_table is None:
            raise TypeError("No open result set")
        return self.fetchmany(max(self._arrow_table.num_rows, 1))

    def execute_arrow(self, command: str, params: Sequence[Any] | None = None,
                      batch_rows: int = BATCH_ROWS) -> ArrowRows:
        """Run one statement; its rows as Arrow batches. A query streams from DuckDB in bounded memory; any
        other statement (and any query fakesnow rewrites into more than one DuckDB statement) runs through
        fakesnow's `execute` as every statement does, and its result is read back in batches."""
        import duckdb

        plan = _stream_plan(self, command, params)
        if plan is not None:
            sql, values = plan
            try:
                reader = self._duck_conn.sql(sql, params=values).to_arrow_reader(batch_rows)
            except duckdb.Error:
                pass  # fakesnow runs it again below and raises its own error for it
            else:
                self._last_sql, self._last_params, self._arrow_table = sql, values, None
                self._reader = reader
                return ArrowRows(list(reader.schema.names), _mapped_errors(reader))
        self.execute(command, params)  # type: ignore[attr-defined]
        table = self._arrow_table
        return ArrowRows(list(table.schema.names), iter(table.to_batches(max_chunksize=batch_rows)))


def _stream_plan(cursor: Any, command: str, params: Sequence[Any] | None) -> tuple[str, Any] | None:
    """(DuckDB SQL, parameters) when the statement is a plain query that fakesnow's `execute` would turn into
    one plain DuckDB query, run, and read back whole; None otherwise. The same steps as `execute`, in order."""
    from sqlglot import exp

    dialect = fakesnow_light.module("dialect")
    try:
        command = cursor._inline_variables(command)
        command, values = cursor._rewrite_with_params(command, params)
        if values is not None and not isinstance(values, (list, dict)):
            values = list(values)
        if cursor._conn.nop_regexes and any(re.match(p, command, re.I) for p in cursor._conn.nop_regexes):
            return None
        expression = dialect.parse_one(command)
        if not isinstance(expression, exp.Query):
            return None
        cursor.check_db_and_schema(expression)
        exploded = cursor._transform_explode(expression)
        if len(exploded) != 1:
            return None
        transformed = cursor._transform(exploded[0], values)
    except Exception:
        return None  # `execute` runs it and reports the error as it does for every statement
    # fakesnow marks what it post-processes (RESULT_SCAN, SAMPLE seeds, stages ...) with args of its own.
    if not isinstance(transformed, exp.Query) or set(transformed.args) - set(type(transformed).arg_types):
        return None
    return transformed.sql(dialect="duckdb"), values if transformed.find(exp.Placeholder) else None


def rows_of(table: pyarrow.Table | pyarrow.RecordBatch) -> list[tuple[Any, ...]]:
    """Rows as tuples, built column by column (fakesnow builds a dict per row: slower, and a repeated column
    name keeps only one of its values)."""
    if table.num_columns == 0:
        return [() for _ in range(table.num_rows)]
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _mapped_errors(reader: pyarrow.RecordBatchReader) -> Iterator[pyarrow.RecordBatch]:
    """The reader's batches; a DuckDB error while reading becomes the local target's ProgrammingError."""
    import duckdb

    try:
        yield from reader
    except duckdb.Error as exc:
        message = str(exc.args[0] if exc.args else exc).split("\n")[0]
        raise errors().ProgrammingError(msg=message, errno=100035 if isinstance(exc, duckdb.ConversionException)
                                        else None) from exc
    finally:
        reader.close()
