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


# --------------------------------------------------------------------------- procedures: transactions, streams


def _procedure(session: Session, name: str, *statements: str) -> None:
    body = "\n".join(f"    {s};" for s in statements)
    session.execute(f"CREATE OR REPLACE PROCEDURE RULES.CORE.{name}()\n    RETURNS VARCHAR\n    LANGUAGE SQL\n"
                    f"    EXECUTE AS OWNER\n    AS\n$$\nBEGIN\n{body}\n    RETURN 'ok';\nEND\n$$")


def _ids(session: Session, table: str = T) -> list[int]:
    return [int(i) for (i,) in session.execute(f"SELECT ID FROM {table} ORDER BY ID")[1]]


def test_a_procedure_that_fails_inside_its_transaction_leaves_none_of_it_written(session: Session) -> None:
    _procedure(session, "HALF", f"INSERT INTO {T} (ID) VALUES (2)",  # before the transaction: commits alone
               "BEGIN TRANSACTION", f"INSERT INTO {T} (ID) VALUES (3)", "INSERT INTO RULES.CORE.GONE VALUES (1)",
               "COMMIT")
    _refused(session, "CALL RULES.CORE.HALF()")
    assert _ids(session) == [1, 2]  # 3 was rolled back with its transaction; 2 had committed on its own
    _procedure(session, "OPEN", "BEGIN TRANSACTION", f"INSERT INTO {T} (ID) VALUES (4)")  # no COMMIT
    assert "still open" in str(_refused(session, "CALL RULES.CORE.OPEN()"))
    assert _ids(session) == [1, 2]
    _procedure(session, "WHOLE", "BEGIN TRANSACTION", f"INSERT INTO {T} (ID) VALUES (5)", "COMMIT")
    session.execute("CALL RULES.CORE.WHOLE()")
    assert _ids(session) == [1, 2, 5]


def test_a_stream_moves_on_only_when_what_consumed_it_commits(session: Session) -> None:
    session.execute("CREATE TABLE RULES.CORE.SEEN (ID NUMBER(38,0))")
    session.execute(f"CREATE STREAM IF NOT EXISTS RULES.CORE.T_CHANGES ON TABLE {T}")
    session.execute(f"INSERT INTO {T} (ID) VALUES (2)")
    consume = "INSERT INTO RULES.CORE.SEEN SELECT ID FROM RULES.CORE.T_CHANGES"
    _procedure(session, "FAILS", "BEGIN TRANSACTION", consume, "INSERT INTO RULES.CORE.GONE VALUES (1)", "COMMIT")
    _refused(session, "CALL RULES.CORE.FAILS()")
    assert _ids(session, "RULES.CORE.T_CHANGES") == [2]  # rolled back: the stream still holds the row
    _procedure(session, "EARLY", consume, "INSERT INTO RULES.CORE.GONE VALUES (1)")  # commits, then fails
    _refused(session, "CALL RULES.CORE.EARLY()")
    assert _ids(session, "RULES.CORE.T_CHANGES") == [] and _ids(session, "RULES.CORE.SEEN") == [2]


def test_a_streams_rows_are_masked_as_its_tables_are(session: Session) -> None:
    for sql in ("CREATE ROLE IF NOT EXISTS CLEAR",
                "CREATE MASKING POLICY IF NOT EXISTS RULES.CORE.CODE_MASK AS (val VARCHAR) RETURNS VARCHAR ->\n"
                "    CASE WHEN IS_ROLE_IN_SESSION('CLEAR') THEN val ELSE '***' END",
                f"ALTER TABLE {T} MODIFY COLUMN CODE SET MASKING POLICY RULES.CORE.CODE_MASK FORCE",
                f"CREATE STREAM IF NOT EXISTS RULES.CORE.T_CHANGES ON TABLE {T}",
                f"UPDATE {T} SET CODE = 'secret' WHERE ID = 1"):
        session.execute(sql)
    read = "SELECT CODE, METADATA$ACTION FROM RULES.CORE.T_CHANGES ORDER BY 2"
    assert session.execute(read)[1] == [("***", "DELETE"), ("***", "INSERT")]  # the owner reads it masked too
    session.execute("GRANT ROLE CLEAR TO ROLE DEPLOYER")
    assert session.execute(read)[1] == [("a", "DELETE"), ("secret", "INSERT")]
    session.execute("USE SECONDARY ROLES NONE")
    session.execute("USE ROLE CLEAR")  # holds no SELECT on the stream (nor USAGE on its schema)
    assert "does not exist or not authorized" in str(_refused(session, read))
