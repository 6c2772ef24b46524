"""Snowflake's grammar for the access statements sqlglot cannot read (it turns them into opaque
Commands): roles, role and future grants, masking policies, tags, streams and tasks.

Each form below is the part of the statement's documented syntax that we render, written as a
full-match pattern; an expression inside one (a masking policy's body) is parsed by sqlglot. The
Snowflake-rules target (incidents.testing) reads the same patterns to emulate the statements.
"""

from __future__ import annotations

import re

from incidents.errors import ConfigError

NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
QNAME = rf"{NAME}(?:\.{NAME}){{0,2}}"
STRING = r"'(?:[^'\\]|\\.|'')*'"
PRIVILEGES = r"(?:SELECT|INSERT|UPDATE|DELETE|TRUNCATE|REFERENCES|USAGE)"
SCHEDULE = r"'(?:\d{1,5} MINUTES?|USING CRON (?:\S+ ){5}[A-Za-z_/]+)'"


def _form(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S | re.I)


FORMS: dict[str, re.Pattern[str]] = {
    # https://docs.snowflake.com/en/sql-reference/sql/create-role
    "create_role": _form(rf"CREATE ROLE IF NOT EXISTS (?P<role>{NAME})(?: COMMENT = {STRING})?"),
    # https://docs.snowflake.com/en/sql-reference/sql/grant-role , .../revoke-role
    "grant_role": _form(rf"(?P<verb>GRANT|REVOKE) ROLE (?P<role>{NAME}) (?:TO|FROM) ROLE (?P<to>{NAME})"),
    # https://docs.snowflake.com/en/sql-reference/sql/grant-privilege (future grants: "ON FUTURE <object_type_plural>
    # IN SCHEMA")
    "grant_future": _form(rf"(?P<verb>GRANT|REVOKE) (?P<privilege>{PRIVILEGES}) ON FUTURE (?P<on>TABLES|VIEWS) "
                          rf"IN SCHEMA (?P<name>{QNAME}) (?:TO|FROM) ROLE (?P<role>{NAME})"),
    "grant": _form(rf"(?P<verb>GRANT|REVOKE) (?P<privilege>{PRIVILEGES}) ON (?P<on>DATABASE|SCHEMA|TABLE|VIEW) "
                   rf"(?P<name>{QNAME}) (?:TO|FROM) ROLE (?P<role>{NAME})"),
    # https://docs.snowflake.com/en/sql-reference/sql/create-masking-policy
    "create_masking_policy": _form(rf"CREATE MASKING POLICY IF NOT EXISTS (?P<policy>{QNAME}) AS \(VAL VARCHAR\) "
                                   rf"RETURNS VARCHAR -> (?P<body>.+?)(?: COMMENT = {STRING})?"),
    # https://docs.snowflake.com/en/sql-reference/sql/alter-masking-policy
    "alter_masking_policy": _form(rf"ALTER MASKING POLICY (?P<policy>{QNAME}) SET BODY -> (?P<body>.+)"),
    # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column (SET MASKING POLICY ... FORCE, SET TAG)
    "set_masking_policy": _form(rf"ALTER TABLE (?P<table>{QNAME}) MODIFY COLUMN (?P<column>{NAME}) SET MASKING POLICY "
                                rf"(?P<policy>{QNAME})(?: FORCE)?"),
    "set_tag": _form(rf"ALTER TABLE (?P<table>{QNAME}) MODIFY COLUMN (?P<column>{NAME}) SET TAG (?P<tag>{QNAME}) = "
                     rf"(?P<value>{STRING})"),
    # https://docs.snowflake.com/en/sql-reference/sql/create-tag
    "create_tag": _form(rf"CREATE TAG IF NOT EXISTS (?P<tag>{QNAME}) ALLOWED_VALUES {STRING}(?:, {STRING})*"
                        rf"(?: COMMENT = {STRING})?"),
    # https://docs.snowflake.com/en/sql-reference/sql/create-stream
    "create_stream": _form(rf"CREATE (?:OR REPLACE STREAM|STREAM IF NOT EXISTS) (?P<stream>{QNAME}) ON TABLE "
                           rf"(?P<table>{QNAME})"
                           rf"(?: APPEND_ONLY = (?:TRUE|FALSE))?(?: SHOW_INITIAL_ROWS = (?:TRUE|FALSE))?"
                           rf"(?: COMMENT = {STRING})?"),
    # https://docs.snowflake.com/en/sql-reference/sql/create-task : WAREHOUSE, SCHEDULE, COMMENT, WHEN, AS, in
    # that order; without WAREHOUSE the task is serverless.
    "create_task": _form(rf"CREATE OR REPLACE TASK (?P<task>{QNAME})(?: WAREHOUSE = {NAME})? SCHEDULE = {SCHEDULE}"
                         rf"(?: COMMENT = {STRING})?(?: WHEN SYSTEM\$STREAM_HAS_DATA\({STRING}\))? "
                         rf"AS CALL (?P<procedure>{QNAME})\(\)"),
    # https://docs.snowflake.com/en/sql-reference/sql/alter-task
    "alter_task": _form(rf"ALTER TASK (?P<task>{QNAME}) (?:RESUME|SUSPEND)"),
}

_HEADS = ("CREATE ROLE", "GRANT ROLE", "REVOKE ROLE", "CREATE MASKING", "ALTER MASKING", "CREATE TAG",
          "CREATE STREAM", "CREATE OR REPLACE STREAM", "ALTER TASK", "CREATE OR REPLACE TASK")


def normal(statement: str) -> str:
    text = re.sub(r"--[^\n]*", "", statement)
    return " ".join(text.split()).rstrip(";").strip()


def is_access_statement(statement: str) -> bool:
    """A statement this module checks instead of sqlglot."""
    text = normal(statement).upper()
    if text.startswith(_HEADS) or re.match(r"(GRANT|REVOKE) \S+ ON FUTURE ", text):
        return True
    return bool(re.match(r"ALTER TABLE \S+ MODIFY COLUMN \S+ SET (MASKING POLICY|TAG) ", text))


def match(statement: str) -> tuple[str, re.Match[str]] | None:
    text = normal(statement)
    for kind, pattern in FORMS.items():
        found = pattern.fullmatch(text)
        if found is not None:
            return kind, found
    return None


def check_statement(statement: str, source: str) -> None:
    """Raise ConfigError unless the statement follows one of the forms above (and a policy body parses)."""
    from incidents.validate import parse_statements

    found = match(statement)
    if found is None:
        raise ConfigError(f"statement does not follow Snowflake's syntax: {normal(statement)[:120]}", file=source)
    kind, m = found
    if kind == "grant" and (m.group("verb").upper() == "GRANT") != (" TO ROLE " in normal(statement).upper()):
        raise ConfigError(f"GRANT goes with TO, REVOKE with FROM: {normal(statement)[:120]}", file=source)
    if kind in ("create_masking_policy", "alter_masking_policy"):
        parse_statements(f"SELECT {m.group('body')} FROM (SELECT 'x' AS val) AS t", source)
