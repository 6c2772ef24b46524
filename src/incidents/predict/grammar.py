"""Snowflake's grammar for the prediction statements sqlglot cannot read (it returns them as opaque
Commands): creating a SNOWFLAKE.ML.CLASSIFICATION or SNOWFLAKE.ML.FORECAST model, calling a model's
evaluation method, and calling the scoring procedure. Each form is the part of the documented syntax
we render, as a full-match pattern. The !PREDICT and !FORECAST calls, the procedure and its body parse
with sqlglot; the task and ALTER TASK go through incidents.access.grammar."""

from __future__ import annotations

import re

from incidents.access.grammar import QNAME, STRING, normal
from incidents.errors import ConfigError


def _form(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S | re.I)


_COMMENT = rf"(?: COMMENT = {STRING})?"
FORMS: dict[str, re.Pattern[str]] = {
    # https://docs.snowflake.com/en/sql-reference/classes/classification/commands/create-classification
    "create_classification": _form(
        rf"CREATE (?:OR REPLACE )?SNOWFLAKE\.ML\.CLASSIFICATION (?:IF NOT EXISTS )?(?P<model>{QNAME}) ?\( ?"
        rf"INPUT_DATA => TABLE\((?P<input>{QNAME})\), TARGET_COLNAME => (?P<target>{STRING}) ?\){_COMMENT}"),
    # https://docs.snowflake.com/en/sql-reference/classes/forecast/commands/create-forecast
    "create_forecast": _form(
        rf"CREATE (?:OR REPLACE )?SNOWFLAKE\.ML\.FORECAST (?:IF NOT EXISTS )?(?P<model>{QNAME}) ?\( ?"
        rf"INPUT_DATA => TABLE\((?P<input>{QNAME})\), TIMESTAMP_COLNAME => (?P<timestamp>{STRING}), "
        rf"TARGET_COLNAME => (?P<target>{STRING}) ?\){_COMMENT}"),
    # https://docs.snowflake.com/en/sql-reference/classes/classification/methods/show_global_evaluation_metrics
    "show_evaluation": _form(rf"CALL (?P<model>{QNAME})!SHOW_(?:GLOBAL_)?EVALUATION_METRICS\(\)"),
    # https://docs.snowflake.com/en/sql-reference/sql/call : the scoring procedure takes no arguments.
    "call_procedure": _form(rf"CALL (?P<procedure>{QNAME})\(\)"),
}
_HEADS = re.compile(r"(CREATE (OR REPLACE )?SNOWFLAKE\.ML\.|CALL )", re.I)


def is_predict_statement(statement: str) -> bool:
    """A statement this module checks instead of sqlglot."""
    return bool(_HEADS.match(normal(statement)))


def match(statement: str) -> tuple[str, re.Match[str]] | None:
    text = normal(statement)
    for kind, pattern in FORMS.items():
        found = pattern.fullmatch(text)
        if found is not None:
            return kind, found
    return None


def check_statement(statement: str, source: str) -> None:
    """ConfigError unless the statement follows one of the forms above."""
    if match(statement) is None:
        raise ConfigError(f"statement does not follow Snowflake's syntax: {normal(statement)[:120]}", file=source)
