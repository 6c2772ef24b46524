"""Introspection reads the live schema in a constant number of queries; a no-op deploy, diff and plan
stay within 4 round trips; type canonicalisation and the local backend's allowances."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from incidents.engine.apply import deploy, snapshot
from incidents.engine.live import introspect
from incidents.kinds.base import live_ident
from incidents.kinds.table import is_widening
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.sql import types as sqltypes
from incidents.sql.session import Session
from incidents.targets.local import open_local

REPO = Path(__file__).resolve().parents[1]
FQ = "INCIDENTS.CORE."
DDL = ("CREATE", "ALTER", "DROP", "COMMENT", "MERGE", "INSERT", "UPDATE", "DELETE")


def sent(session: Session) -> list[str]:
    return [s.sql for s in session.trace]


@pytest.mark.slow
@pytest.mark.parametrize("extra_tables", [0, 50])
def test_round_trips_do_not_grow_with_object_count(tmp_path: Path, make_project: Callable[..., Path],
                                                   extra_tables: int) -> None:
    project = load_project(make_project(views=False, extra_tables=extra_tables))
    env = environment(project, "dev")
    session = open_local(tmp_path / "db", env)
    try:
        deploy(session, Deployment(project, env))
        for i in range(extra_tables):  # stray objects too
            session.execute(f"CREATE TABLE {FQ}STRAY_{i:02d} (X INT)")
        session.trace.clear()
        live = introspect(session, Deployment(project, env))
        assert len(live.tables) == len(project.tables) + 2 + extra_tables  # + history and lock tables
        assert len(sent(session)) == 4, sent(session)
        for i in range(extra_tables):
            session.execute(f"DROP TABLE {FQ}STRAY_{i:02d}")

        session.trace.clear()
        assert not snapshot(session, Deployment(project, env)).changes  # diff and plan
        assert len(sent(session)) <= 4

        session.trace.clear()
        assert deploy(session, Deployment(project, env)).up_to_date
        assert len(sent(session)) <= 4
        assert [s for s in sent(session) if s.lstrip().upper().startswith(DDL)] == []
    finally:
        session.close()


def test_introspection_of_a_target_without_database_is_one_query(tmp_path: Path,
                                                                 make_project: Callable[..., Path]) -> None:
    project = load_project(make_project(views=False))
    env = environment(project, "dev")
    session = open_local(tmp_path / "db", env)
    try:
        live = introspect(session, Deployment(project, env))
        assert not live.database_exists and not live.tables
        assert len(session.trace) == 1
    finally:
        session.close()


def test_schema_with_only_a_stray_view_reports_it(tmp_path: Path, make_project: Callable[..., Path]) -> None:
    """No tables left in the schema must not hide its views."""
    project = load_project(make_project(views=False))
    env = environment(project, "dev")
    session = open_local(tmp_path / "db", env)
    try:
        session.execute("CREATE DATABASE IF NOT EXISTS INCIDENTS")
        session.execute("CREATE SCHEMA IF NOT EXISTS INCIDENTS.CORE")
        session.execute(f"CREATE VIEW {FQ}V_STRAY AS SELECT 1 AS X")
        live = introspect(session, Deployment(project, env))
        assert live.schema_exists and set(live.views) == {"V_STRAY"}
        kinds = {(c.kind, c.object) for c in snapshot(session, Deployment(project, env)).changes}
        assert ("unexpected_view", "V_STRAY") in kinds
    finally:
        session.close()


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_reopened_local_database_has_no_false_drift(tmp_path: Path, make_project: Callable[..., Path]) -> None:
    """fakesnow forgets VARCHAR lengths and comments on reopen: introspection then reports the maximum,
    which the local comparison accepts; within the first session the lengths are exact."""
    project = load_project(make_project(views=False))
    env = environment(project, "dev")
    session = open_local(tmp_path / "db", env)
    try:
        deploy(session, Deployment(project, env))
        first = introspect(session, Deployment(project, env))
        assert first.tables["USERS"].columns["EMAIL"].type == sqltypes.SqlType("VARCHAR", (320,))
    finally:
        session.close()
    session = open_local(tmp_path / "db", env)
    try:
        live = introspect(session, Deployment(project, env))
        assert live.tables["USERS"].columns["EMAIL"].type == sqltypes.SqlType("VARCHAR", (sqltypes.MAX_VARCHAR,))
        assert not snapshot(session, Deployment(project, env)).changes
    finally:
        session.close()


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("INT", "NUMBER(38,0)"), ("integer", "NUMBER(38,0)"), ("BIGINT", "NUMBER(38,0)"), ("NUMBER", "NUMBER(38,0)"),
    ("decimal(12, 2)", "NUMBER(12,2)"), ("STRING", "VARCHAR(16777216)"), ("TEXT", "VARCHAR(16777216)"),
    ("VARCHAR", "VARCHAR(16777216)"), ("TIMESTAMP", "TIMESTAMP_NTZ(9)"), ("DATETIME", "TIMESTAMP_NTZ(9)"),
    ("DOUBLE", "FLOAT"), ("REAL", "FLOAT"), ("double precision", "FLOAT"), ("char", "VARCHAR(1)"),
])
def test_declared_spellings_canonicalise(spelling: str, canonical: str) -> None:
    assert str(sqltypes.parse(spelling)) == canonical


@pytest.mark.parametrize(("row", "canonical"), [
    (("NUMBER", None, 38, 0), "NUMBER(38,0)"), (("TEXT", 16777216, None, None), "VARCHAR(16777216)"),
    (("TEXT", 20, None, None), "VARCHAR(20)"), (("TIMESTAMP_NTZ", None, None, None), "TIMESTAMP_NTZ(9)"),
    (("FLOAT", None, None, None), "FLOAT"), (("VARIANT", None, None, None), "VARIANT"),
])
def test_information_schema_rows_canonicalise(row: tuple, canonical: str) -> None:
    assert str(sqltypes.from_information_schema(*row)) == canonical


def test_snowflake_datetime_precision_is_read() -> None:
    assert str(sqltypes.from_information_schema("TIMESTAMP_NTZ", None, None, None, 3)) == "TIMESTAMP_NTZ(3)"


@pytest.mark.parametrize(("declared", "live", "local", "snowflake"), [
    ("VARCHAR(20)", "VARCHAR(16777216)", True, False),   # length forgotten on reopen (local only)
    ("VARCHAR(20)", "VARCHAR(10)", False, False),
    ("TIMESTAMP_LTZ", "TIMESTAMP_TZ", True, False),
    # Precision is not introspected on either backend (DATETIME_PRECISION: "not applicable for Snowflake").
    ("TIMESTAMP_NTZ(3)", "TIMESTAMP_NTZ(9)", True, True),
    ("TIMESTAMP_NTZ(9)", "TIMESTAMP_TZ(9)", False, False),
    ("ARRAY", "VARIANT", True, False), ("OBJECT", "VARIANT", True, False),
    ("BINARY(16)", "BINARY(8388608)", True, False),
    ("NUMBER(12,2)", "NUMBER(14,2)", False, False),
    ("INT", "NUMBER(38,0)", True, True),
])
def test_same_on_backend(declared: str, live: str, local: bool, snowflake: bool) -> None:
    d, v = sqltypes.parse(declared), sqltypes.parse(live)
    assert sqltypes.same_on_backend(d, v, "local") is local
    assert sqltypes.same_on_backend(d, v, "snowflake") is snowflake


@pytest.mark.parametrize(("live", "declared", "widening"), [
    ("VARCHAR(10)", "VARCHAR(20)", True), ("VARCHAR(20)", "VARCHAR(10)", False),
    ("NUMBER(10,2)", "NUMBER(12,2)", True), ("NUMBER(12,2)", "NUMBER(10,2)", False),
    ("NUMBER(10,2)", "NUMBER(12,3)", False), ("VARCHAR(10)", "NUMBER(38,0)", False), ("FLOAT", "FLOAT", False),
])
def test_is_widening(live: str, declared: str, widening: bool) -> None:
    assert is_widening(sqltypes.parse(live), sqltypes.parse(declared)) is widening


@pytest.mark.parametrize(("name", "quoted"), [
    ("STRAY", "STRAY"), ("AT", '"AT"'), ("SELECT", '"SELECT"'), ("my-stray", '"my-stray"'),
    ("lower", '"lower"'), ('odd"name', '"odd""name"'),
])
def test_live_names_are_quoted_exactly(name: str, quoted: str) -> None:
    assert live_ident(name) == quoted
