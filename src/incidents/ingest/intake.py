"""Snowflake only: sql/06_alert_intake.sql, an optional stage + Snowpipe + stream + procedure + task
for teams that land alert events in a stage themselves. The procedure runs the very statements of
`incidents ingest`'s pass (templates/ingest/) over the fingerprints of every row landed in raw_alerts
since its last run: an APPEND_ONLY stream on raw_alerts feeds a queue table, so a task that was
suspended or failing for any length of time skips nothing, and a run that fails leaves its work
queued for the next one.

Not sourced by setup.sql: run it by hand (`snowsql -f sql/06_alert_intake.sql`); it resumes the
task. sqlglot reads neither CREATE PIPE's options nor CREATE TASK's, so `check_statement` checks the
pipe's header against Snowflake's documented syntax and parses the COPY it runs, refusing any
function a COPY transformation may not use; the stream, task and ALTER TASK go through the access
grammar (incidents.access.grammar).
"""

from __future__ import annotations

import re

from incidents.errors import ConfigError
from incidents.models import Environment, Project

INTAKE_FILE = "sql/06_alert_intake.sql"
STAGE, PIPE, PROCEDURE, TASK = "raw_alerts_stage", "raw_alerts_pipe", "ingest_raw_alerts", "ingest_raw_alerts_task"
STREAM, QUEUE = "raw_alerts_stream", "ingest_queue"
_NAME = r"[A-Z_][A-Z0-9_$]*(?:\.[A-Z_][A-Z0-9_$]*){0,2}"
_STRING = r"'(?:[^'\\]|\\.|'')*'"
# https://docs.snowflake.com/en/sql-reference/sql/create-pipe
_PIPE_RE = re.compile(
    rf"CREATE\s+PIPE\s+IF\s+NOT\s+EXISTS\s+{_NAME}(?:\s+AUTO_INGEST\s*=\s*(?:TRUE|FALSE))?"
    rf"(?:\s+COMMENT\s*=\s*{_STRING})?\s+AS\s+(?P<copy>COPY\s+INTO\s.*)", re.S)
# The functions a COPY transformation may use, as "Snowflake currently supports the following subset of
# functions for COPY transformations" lists them:
# https://docs.snowflake.com/en/user-guide/data-load-transform#supported-functions
# (CASE, CAST / ::, [NOT] IN, [NOT] LIKE / ILIKE are syntax there too; COALESCE, TO_JSON, LEFT and
# TRY_TO_TIMESTAMP_* are not in it).
COPY_FUNCTIONS = frozenset("""
    ARRAY_CONSTRUCT ARRAY_SIZE ASCII CASE CAST CEIL CHECK_JSON CHECK_XML CHR CHAR CONCAT CONVERT_TIMEZONE ENDSWITH
    EQUAL_NULL FLOOR GET GET_PATH HEX_DECODE_STRING HEX_ENCODE IFF IFNULL ILIKE IN IS_ARRAY IS_BOOLEAN IS_DECIMAL
    IS_INTEGER IS_NULL_VALUE IS_OBJECT IS_TIME IS_TIMESTAMP_LTZ IS_TIMESTAMP_NTZ IS_TIMESTAMP_TZ LENGTH LEN LIKE
    LPAD LTRIM MD5 MD5_HEX NULLIF NVL NVL2 OBJECT_CONSTRUCT PARSE_IP PARSE_JSON PARSE_URL PARSE_XML RANDOM
    REGEXP_REPLACE REGEXP_SUBSTR REPLACE REVERSE RPAD RTRIM SPLIT SPLIT_PART STARTSWITH SUBSTR SUBSTRING TO_ARRAY
    TO_BINARY TO_BOOLEAN TO_CHAR TO_VARCHAR TO_DATE DATE TO_DECFLOAT TO_DECIMAL TO_NUMBER TO_NUMERIC TO_DOUBLE
    TO_OBJECT TO_TIME TIME TO_TIMESTAMP TO_TIMESTAMP_LTZ TO_TIMESTAMP_NTZ TO_TIMESTAMP_TZ TO_VARIANT TRIM TRY_CAST
    TRY_HEX_DECODE_STRING TRY_TO_BINARY TRY_TO_BOOLEAN TRY_TO_DATE TRY_TO_DECFLOAT TRY_TO_DECIMAL TRY_TO_NUMBER
    TRY_TO_NUMERIC TRY_TO_DOUBLE TRY_TO_TIME UNICODE UUID_STRING XMLGET
""".split())
# Words followed by "(" that are syntax, not a function call.
_SYNTAX = frozenset({"SELECT", "FROM", "AS", "AND", "OR", "NOT", "WHEN", "THEN", "ELSE", "INTO", "IS"})


def pass_statements(project: Project, env: Environment) -> list[str]:
    """The pass as the scheduled procedure runs it (also what validate parses statement by statement:
    inside the procedure's $$ body sqlglot sees only a string)."""
    from incidents.ingest import INTAKE_STATEMENTS, pass_sql
    from incidents.ingest.config import load_ingest_config

    cfg = load_ingest_config(project)
    return [pass_sql(project, env, cfg, name, now_sql="SYSDATE()", qualified=True, queue=QUEUE,
                     stream=STREAM).strip() for name in INTAKE_STATEMENTS]


def render_intake(project: Project, env: Environment) -> str:
    """The statements of the file, each ending in `;`."""
    from incidents.ingest.config import load_ingest_config
    from incidents.render import context
    from incidents.templating import render_template

    cfg = load_ingest_config(project)
    statements = pass_statements(project, env)
    ctx = context(project, env, cfg=cfg, stage=STAGE, pipe=PIPE, procedure=PROCEDURE, task=TASK, stream=STREAM,
                  queue=QUEUE, statements=statements)
    parts = [render_template(project.templates_dir, f"ingest/intake/{name}.sql.j2", **ctx).strip()
             for name in ("stage", "queue", "stream", "pipe", "procedure", "task", "resume")]
    return "\n\n".join(f"{p};" for p in parts) + "\n"


def pipeline_kind(statement: str) -> str | None:
    """'pipe' when the statement is one sqlglot cannot read and this module checks, else None."""
    head = " ".join(statement.split()[:2]).upper()
    return {"CREATE PIPE": "pipe"}.get(head)


def check_statement(statement: str, source: str) -> None:
    """Raise ConfigError unless a CREATE PIPE follows the syntax we render (checked against
    Snowflake's CREATE PIPE reference), the COPY it runs parses, and that COPY calls only the
    functions a COPY transformation may use."""
    from incidents.validate import parse_statements

    text = statement.strip()
    match = _PIPE_RE.fullmatch(text) if pipeline_kind(text) == "pipe" else None
    if match is None:
        raise ConfigError(f"CREATE PIPE does not follow Snowflake's syntax: {text[:120]}", file=source)
    parse_statements(match.group("copy"), source)
    banned = copy_functions(match.group("copy")) - COPY_FUNCTIONS
    if banned:
        raise ConfigError(f"the COPY of CREATE PIPE calls {', '.join(sorted(banned))}, which Snowflake does not "
                          "allow in a COPY transformation (https://docs.snowflake.com/en/user-guide/"
                          "data-load-transform#supported-functions)", file=source)


def copy_functions(copy: str) -> set[str]:
    """The names of the functions the transformation of a COPY statement calls, as written (sqlglot's
    tokens from `FROM (` on: a name followed by `(`, not a type after `::` or AS, not a keyword of
    the statement's own syntax)."""
    from sqlglot.dialects.snowflake import Snowflake
    from sqlglot.tokens import TokenType

    start = re.search(r"\bFROM\s*\(", copy, re.I)
    tokens = Snowflake().tokenize(copy[start.start():] if start else copy)
    found = set()
    for i, token in enumerate(tokens):
        before, after = tokens[i - 1] if i else None, tokens[i + 1] if i + 1 < len(tokens) else None
        if after is None or after.token_type != TokenType.L_PAREN or token.token_type == TokenType.STRING:
            continue
        if before is not None and before.token_type in (TokenType.DCOLON, TokenType.ALIAS):
            continue  # a type: ::VARCHAR(100), CAST(x AS NUMBER(38, 0))
        word = token.text.upper()
        if word.replace("_", "").isalnum() and word not in _SYNTAX:
            found.add(word)
    return found
