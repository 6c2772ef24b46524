"""The embedded local target: fakesnow (DuckDB) persisted in the project's .incidents/ folder, made to
behave like Snowflake where it matters (keys declared, not enforced; statements it cannot parse but
that only set what it lacks are accepted and not sent)."""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from incidents.errors import ConfigError, TargetError
from incidents.project.models import Environment
from incidents.sql.session import Session


def _quiet_fakesnow() -> None:
    # sqlglot logs every Snowflake property DuckDB ignores (CLUSTER BY, COMMENT); not the user's business.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")


def open_local(path: Path, env: Environment, *, in_memory: bool = False) -> Session:
    _quiet_fakesnow()
    import duckdb

    from incidents.targets import localdb  # fakesnow without the Snowflake connector's package (issue 26)

    if not in_memory:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot use {path} for the local database: {exc.strerror or exc}; point "
                              "INCIDENTS_LOCAL_DIR at a folder you can write", key="INCIDENTS_LOCAL_DIR") from None
    exists = not in_memory and (path / f"{env.database.upper()}.db").is_file()
    waited, patience = 0.0, _lock_wait_seconds()
    while True:
        try:
            # Attach an existing database file; a new one is created by deploy's CREATE DATABASE.
            conn = localdb.connect(None if in_memory else path, env.database, env.schema, create_database=exists)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise TargetError(f"cannot open the local database in {path}: {exc}") from None
            if waited >= patience:  # DuckDB allows one writing process: wait for a short holder (the receiver)
                raise TargetError(f"{_busy(path)}; waited {patience:g} s") from None
        time.sleep(0.2)
        waited += 0.2

    errors = localdb.target_error_types()

    def is_target_error(exc: BaseException) -> bool:
        return isinstance(exc, errors) or localdb.raised_by_the_emulator(exc)

    session = Session(conn, "local", label=f"local:{path}", emulated=True, is_target_error=is_target_error,
                      on_close=conn.duck.close, hint=_local_hint, ignores=_fakesnow_cannot_parse,
                      explain=lambda message: _held_elsewhere(message, path), write_pandas=localdb.write_pandas,
                      rewrite=local_form, bulk_load=lambda: _capped_cache(conn.duck))
    rules = os.environ.get("INCIDENTS_LOCAL_RULES")
    if rules:
        # A test aid: the local target under Snowflake's documented rules (incidents.targets.rules).
        from incidents.targets.rules import wrap_local

        return wrap_local(session, path, rules, role=env.role)
    return session


_RETENTION_ALTER = re.compile(r"\s*ALTER\s+(TABLE|SCHEMA)\s+\S+\s+SET\s+DATA_RETENTION_TIME_IN_DAYS\s*=\s*\d+\s*;?\s*$",
                              re.I)


def _fakesnow_cannot_parse(sql: str) -> bool:
    """fakesnow fails to parse ALTER ... SET DATA_RETENTION_TIME_IN_DAYS; DuckDB has no Time Travel to set."""
    return bool(_RETENTION_ALTER.match(sql))


_DYNAMIC_TABLE = re.compile(r"\s*(CREATE\s+OR\s+REPLACE|DROP)\s+DYNAMIC\s+TABLE\b", re.I)


def local_form(sql: str) -> str:
    """What fakesnow is sent: a dynamic table as a plain table, a table's keys declared, not enforced."""
    return keys_declared_not_enforced(dynamic_as_table(sql))


def dynamic_as_table(sql: str) -> str:
    """fakesnow has no dynamic tables: a plain table of the same SELECT, which the loads refresh
    (kinds.dynamic_table); any other statement as it is."""
    if not _DYNAMIC_TABLE.match(sql):
        return sql
    from incidents.kinds.dynamic_table import as_plain_table

    return as_plain_table(sql)


_CREATE_TABLE_WITH_KEYS = re.compile(
    r"\s*CREATE\s+(OR\s+REPLACE\s+)?((LOCAL|GLOBAL)\s+)?((TEMP|TEMPORARY|VOLATILE|TRANSIENT)\s+)?TABLE\b"
    r".*\b(PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY|REFERENCES)\b", re.I | re.S)


def keys_declared_not_enforced(sql: str) -> str:
    """CREATE TABLE without its PRIMARY KEY, UNIQUE and FOREIGN KEY constraints, for DuckDB.

    Snowflake records these constraints and enforces none of them (only NOT NULL):
    https://docs.snowflake.com/en/sql-reference/constraints-overview. DuckDB would enforce them, so
    the local target would refuse rows, ALTERs and DROPs that Snowflake accepts, and bulk loads would
    spend most of their time maintaining the indexes behind them. Nothing reads keys back from the
    target (the deploy history's checksum tells when they changed), and `incidents check` finds
    duplicate keys and dangling references on both targets.
    """
    if not _CREATE_TABLE_WITH_KEYS.match(sql):
        return sql
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return sql  # fakesnow reports the error on the statement as written
    keys = (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.ForeignKey,
            exp.Reference)
    found = list(tree.find_all(*keys))
    if not found:
        return sql
    for node in found:
        # A named table constraint (CONSTRAINT pk PRIMARY KEY (...)) or an inline column one goes whole.
        wrapper = node.parent if isinstance(node.parent, (exp.Constraint, exp.ColumnConstraint)) else node
        wrapper.pop()
    return tree.sql(dialect="snowflake")


@contextmanager
def _capped_cache(duck: Any) -> Iterator[None]:
    # DuckDB keeps the blocks a load wrote cached up to 80% of RAM: a 1M-incident seed peaked at 1.6 GiB
    # RSS, 1.4 GiB with this cap, at the same speed (written blocks are on disk; evicting them is free).
    duck.execute("SET memory_limit = '400MB'")
    # DuckDB checkpoints every 16 MB of WAL, and each checkpoint rewrites the row groups the load touched:
    # landing 280k import rows into a table of 1M took 2.7x the CPU of one checkpoint at the end.
    duck.execute("SET checkpoint_threshold = '1GB'")
    try:
        yield
    finally:
        duck.execute("RESET memory_limit")
        duck.execute("RESET checkpoint_threshold")


def _lock_wait_seconds() -> float:
    """How long opening waits for another process's hold on the local database: `receive` holds it a batch at
    a time, so a query in between gets in. INCIDENTS_LOCAL_WAIT (seconds) overrides the 15 s default."""
    try:
        return max(0.0, float(os.environ.get("INCIDENTS_LOCAL_WAIT", "15")))
    except ValueError:
        raise ConfigError("INCIDENTS_LOCAL_WAIT must be a number of seconds", key="INCIDENTS_LOCAL_WAIT") from None


def _busy(path: Path) -> str:
    return f"another incidents process is using the local database in {path}; wait for it to finish (or set " \
           "INCIDENTS_LOCAL_DIR)"


def _held_elsewhere(message: str, path: Path) -> str | None:
    """DuckDB's file lock met by a statement (a second deploy started in the same second as the first
    creates the database file): the same explanation as when opening finds it held."""
    return _busy(path) if "Could not set lock on file" in message or "Conflicting lock" in message else None


def _local_hint(message: str) -> str | None:
    # Only a local database created by an earlier incidents has enforced keys (see keys_declared_not_enforced).
    if "Dependency Error" in message:
        return ("this local database was created by an earlier incidents, whose tables enforce foreign keys, so "
                "DuckDB cannot alter or drop a table they reference; Snowflake can. Recreate it (delete "
                ".incidents/) to start over")
    if ("Constraint Error" in message or "violates" in message) and "NOT NULL" not in message:
        return ("this local database was created by an earlier incidents, whose tables enforce PRIMARY/UNIQUE/"
                "FOREIGN KEY constraints; Snowflake does not. Recreate it (delete .incidents/) to drop them")
    return None
