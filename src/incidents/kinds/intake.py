"""The optional Snowflake alert intake of sql/06_alert_intake.sql (rendered when config/ingest.yml
exists; run by hand, never by deploy): a stage for NDJSON alert events teams land themselves, a
Snowpipe that copies them into raw_alerts, and the queue table of fingerprints the intake task has
yet to take in. Its stream, procedure and task are kinds.stream, kinds.procedure and kinds.task.

sqlglot reads neither CREATE STAGE's options nor CREATE PIPE's: the pipe's header is checked against
Snowflake's documented syntax, the COPY it runs is parsed, and it may call only the functions a COPY
transformation allows."""

from __future__ import annotations

import re
from collections.abc import Sequence

from incidents.errors import ConfigError
from incidents.kinds.access_object import INTAKE_FILE, INTAKE_GROUP, QNAME, STRING
from incidents.kinds.base import CommittedFile, Desired, Kind, ObjectKind, statement
from incidents.kinds.procedure import INTAKE_QUEUE
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists, load_ingest_config
from incidents.sql.parse import parse_statements

STAGE, PIPE = ObjectKind("stage"), ObjectKind("pipe")
QUEUE = ObjectKind("queue")  # a table: the intake task's work queue
STAGE_NAME, PIPE_NAME = "raw_alerts_stage", "raw_alerts_pipe"
_PIPE = re.compile(
    rf"CREATE\s+PIPE\s+IF\s+NOT\s+EXISTS\s+{QNAME}(?:\s+AUTO_INGEST\s*=\s*(?:TRUE|FALSE))?"
    rf"(?:\s+COMMENT\s*=\s*{STRING})?\s+AS\s+(?P<copy>COPY\s+INTO\s.*)", re.S | re.I)
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



def _has_ingest(dep: Deployment) -> bool:
    return ingest_file_exists(dep.project.root)


class Intake(Kind):
    name = "intake"
    object_kinds = (STAGE, QUEUE, PIPE)
    committed_files = (CommittedFile(INTAKE_FILE, 70, style="statements", present=_has_ingest),)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        if not ingest_file_exists(dep.project.root):
            return []
        cfg = load_ingest_config(dep.project)
        ctx = {"cfg": cfg, "stage": STAGE_NAME, "pipe": PIPE_NAME, "queue": INTAKE_QUEUE}
        made = ((STAGE, STAGE_NAME, "stage", 0), (QUEUE, INTAKE_QUEUE, "queue", 1), (PIPE, PIPE_NAME, "pipe", 3))
        return [Desired(kind, name, (statement(dep, f"ingest/intake/{template}", f"{kind} {name}", **ctx),),
                        file=INTAKE_FILE, file_order=(INTAKE_GROUP, order), deployed=False, source=INGEST_FILE)
                for kind, name, template, order in made]

    def check_statement(self, statement: str, source: str) -> bool:
        """A CREATE PIPE follows the syntax we render (Snowflake's CREATE PIPE reference), the COPY it runs
        parses and calls only the functions a COPY transformation may use. CREATE STAGE is left to sqlglot."""
        text = statement.strip()
        if " ".join(text.split()[:2]).upper() != "CREATE PIPE":
            return False
        found = _PIPE.fullmatch(text)
        if found is None:
            raise ConfigError(f"CREATE PIPE does not follow Snowflake's syntax: {text[:120]}", file=source)
        parse_statements(found.group("copy"), source)
        banned = copy_functions(found.group("copy")) - COPY_FUNCTIONS
        if banned:
            raise ConfigError(f"the COPY of CREATE PIPE calls {', '.join(sorted(banned))}, which Snowflake does not "
                              "allow in a COPY transformation (https://docs.snowflake.com/en/user-guide/"
                              "data-load-transform#supported-functions)", file=source)
        return True


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

