"""The Snowflake-rules target itself: each documented Snowflake rule it encodes refuses or answers like
Snowflake where plain fakesnow does not (incidents.targets.rules cites the doc page of each rule)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from incidents.errors import TargetError
from incidents.project.models import Environment
from incidents.sql.session import Session, error_number
from incidents.targets.local import open_local
from incidents.targets.rules import grant, rules_state

ENV = Environment(name="dev", target="local", database="RULES", schema="CORE")
T = "RULES.CORE.T"


def _open(path: Path, monkeypatch: pytest.MonkeyPatch, rules: str = "snowflake") -> Session:
    monkeypatch.setenv("INCIDENTS_LOCAL_RULES", rules)
    return open_local(path, ENV)


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    s = _open(tmp_path, monkeypatch)
    for sql in ("CREATE DATABASE IF NOT EXISTS RULES", "CREATE SCHEMA IF NOT EXISTS RULES.CORE",
                f"CREATE TABLE {T} (ID NUMBER(38,0), SEEN_AT TIMESTAMP_NTZ(9) DEFAULT SYSDATE(), "
                "MADE TIMESTAMP_NTZ(9) DEFAULT CURRENT_TIMESTAMP(), KIND VARCHAR(10) DEFAULT 'x', "
                "DOC VARIANT, CODE VARCHAR(20)) CLUSTER BY (TO_DATE(SEEN_AT), ID)",
                f"INSERT INTO {T} (ID, CODE) VALUES (1, 'a')"):
        s.execute(sql)
    yield s
    s.close()


def _refused(session: Session, sql: str) -> TargetError:
    with pytest.raises(TargetError) as caught:
        session.execute(sql)
    return caught.value


def test_alter_add_column_takes_only_literal_defaults(session: Session) -> None:
    error = _refused(session, f"ALTER TABLE {T} ADD COLUMN LATER TIMESTAMP_NTZ(9) DEFAULT SYSDATE()")
    assert error_number(error) == 2263 and "Invalid column default expression" in str(error)
    session.execute(f"ALTER TABLE {T} ADD COLUMN CHANNEL VARCHAR(10) DEFAULT 'web'")  # a literal is fine
    # ... but its default cannot be dropped again: it was defined by ALTER TABLE.
    assert "ALTER TABLE" in str(_refused(session, f"ALTER TABLE {T} ALTER COLUMN CHANNEL DROP DEFAULT"))
    session.execute(f"ALTER TABLE {T} ALTER COLUMN KIND DROP DEFAULT")  # a CREATE TABLE default can be


def test_clustering_key_columns_cannot_be_dropped_or_renamed(session: Session) -> None:
    assert "clustering key" in str(_refused(session, f"ALTER TABLE {T} DROP COLUMN SEEN_AT"))
    assert "clustering key" in str(_refused(session, f"ALTER TABLE {T} RENAME COLUMN ID TO IDENT"))
    session.execute(f"ALTER TABLE {T} DROP CLUSTERING KEY")
    session.execute(f"ALTER TABLE {T} RENAME COLUMN ID TO IDENT")
    assert rules_state(session.rules.path).clustering == {}  # type: ignore[attr-defined]


def test_set_not_null_on_semi_structured_and_set_data_type_outside_widenings(session: Session) -> None:
    session.execute(f"UPDATE {T} SET DOC = PARSE_JSON('{{}}')")
    assert "NOT NULL" in str(_refused(session, f"ALTER TABLE {T} ALTER COLUMN DOC SET NOT NULL"))
    session.execute(f"ALTER TABLE {T} ALTER COLUMN CODE SET NOT NULL")  # not semi-structured: fine
    assert "cannot change column" in str(_refused(session, f"ALTER TABLE {T} ALTER COLUMN ID SET DATA TYPE VARCHAR"))
    assert "cannot change column" in str(_refused(session, f"ALTER TABLE {T} ALTER COLUMN ID SET DATA TYPE "
                                                           "NUMBER(38,2)"))
    session.execute(f"ALTER TABLE {T} ALTER COLUMN CODE SET DATA TYPE VARCHAR(40)")


def test_information_schema_answers_in_snowflakes_form(session: Session) -> None:
    session.execute(f"CREATE OR REPLACE VIEW RULES.CORE.V AS SELECT ID FROM {T}")
    columns = {r["COLUMN_NAME"]: r for r in session.query(
        "SELECT COLUMN_NAME, COLUMN_DEFAULT, DATETIME_PRECISION FROM RULES.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = 'CORE' AND TABLE_NAME = 'T'")}
    assert columns["SEEN_AT"]["COLUMN_DEFAULT"] == ("CAST(CONVERT_TIMEZONE('UTC', CAST(CURRENT_TIMESTAMP() AS "
                                               "TIMESTAMP_TZ(9))) AS TIMESTAMP_NTZ(9))")
    assert columns["MADE"]["COLUMN_DEFAULT"] == "CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_NTZ(9))"
    assert columns["KIND"]["COLUMN_DEFAULT"] == "'x'"
    assert all(r["DATETIME_PRECISION"] is None for r in columns.values())
    [view] = session.query("SELECT TABLE_NAME, VIEW_DEFINITION FROM RULES.INFORMATION_SCHEMA.VIEWS "
                           "WHERE TABLE_SCHEMA = 'CORE'")
    assert view["VIEW_DEFINITION"] == f"CREATE OR REPLACE VIEW RULES.CORE.V AS SELECT ID FROM {T}"
    tables = {r["TABLE_NAME"]: r["TABLE_TYPE"] for r in session.query(
        "SELECT TABLE_NAME, TABLE_TYPE FROM RULES.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'CORE'")}
    assert tables == {"T": "BASE TABLE", "V": "VIEW"}
    error = _refused(session, "SELECT TABLE_NAME FROM RULES.INFORMATION_SCHEMA.TABLES")
    assert "too much data" in str(error)


def test_replacing_a_view_without_copy_grants_drops_its_grants(session: Session) -> None:
    session.execute(f"CREATE OR REPLACE VIEW RULES.CORE.V AS SELECT ID FROM {T}")
    session.execute("CREATE ROLE IF NOT EXISTS REPORTING")
    session.execute("GRANT SELECT ON VIEW RULES.CORE.V TO ROLE REPORTING")
    session.execute(f"CREATE OR REPLACE VIEW RULES.CORE.V COPY GRANTS AS SELECT ID, CODE FROM {T}")
    path = session.rules.path  # type: ignore[attr-defined]
    assert rules_state(path).grants == {"V": ["SELECT TO ROLE REPORTING"]}
    session.execute(f"CREATE OR REPLACE VIEW RULES.CORE.V AS SELECT ID FROM {T}")
    assert rules_state(path).grants == {}
    grant(path, "V")
    assert "COPY" in str(_refused(session, f"CREATE OR REPLACE VIEW RULES.CORE.V COMMENT = 'c' COPY GRANTS "
                                           f"AS SELECT ID FROM {T}"))


def test_retention_above_one_day_fails_on_standard_edition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _open(tmp_path, monkeypatch, "snowflake:standard")
    try:
        session.execute("CREATE DATABASE IF NOT EXISTS RULES")
        assert "Standard Edition" in str(_refused(
            session, "CREATE SCHEMA IF NOT EXISTS RULES.CORE DATA_RETENTION_TIME_IN_DAYS = 7"))
        session.execute("CREATE SCHEMA IF NOT EXISTS RULES.CORE DATA_RETENTION_TIME_IN_DAYS = 1")
        session.execute("CREATE TABLE RULES.CORE.T (ID INT)")
        # The local target has no Time Travel: the ALTER is accepted without reaching fakesnow (it cannot parse it).
        session.execute("ALTER TABLE RULES.CORE.T SET DATA_RETENTION_TIME_IN_DAYS = 1")
        refused = _refused(session, "ALTER TABLE RULES.CORE.T SET DATA_RETENTION_TIME_IN_DAYS = 2")
        assert "Standard Edition" in str(refused)
    finally:
        session.close()
