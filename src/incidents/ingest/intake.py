"""Snowflake only: sql/06_alert_intake.sql, an optional stage + Snowpipe + procedure + TASK for
teams that land alert events in a stage themselves. The procedure runs the very statements of
`incidents ingest`'s pass (templates/ingest/), over the episodes that got alerts recently.

Not sourced by setup.sql: run it by hand (`snowsql -f sql/06_alert_intake.sql`), then
`ALTER TASK ... RESUME`. sqlglot reads neither CREATE PIPE's nor CREATE TASK's options, so
`check_statement` checks their header against Snowflake's documented syntax and parses the
statement they run.
"""

from __future__ import annotations

import re

from incidents.errors import ConfigError
from incidents.models import Environment, Project

INTAKE_FILE = "sql/06_alert_intake.sql"
STAGE, PIPE, PROCEDURE, TASK = "raw_alerts_stage", "raw_alerts_pipe", "ingest_raw_alerts", "ingest_raw_alerts_task"
_NAME = r"[A-Z_][A-Z0-9_$]*(?:\.[A-Z_][A-Z0-9_$]*){0,2}"
_STRING = r"'(?:[^'\\]|\\.|'')*'"
_TASK_RE = re.compile(
    rf"CREATE\s+TASK\s+IF\s+NOT\s+EXISTS\s+{_NAME}(?:\s+WAREHOUSE\s*=\s*{_NAME})?\s+SCHEDULE\s*=\s*'\d+ MINUTE'"
    rf"(?:\s+COMMENT\s*=\s*{_STRING})?\s+AS\s+CALL\s+{_NAME}\(\)", re.S)
_PIPE_RE = re.compile(
    rf"CREATE\s+PIPE\s+IF\s+NOT\s+EXISTS\s+{_NAME}(?:\s+AUTO_INGEST\s*=\s*(?:TRUE|FALSE))?"
    rf"(?:\s+COMMENT\s*=\s*{_STRING})?\s+AS\s+(?P<copy>COPY\s+INTO\s.*)", re.S)


def pass_statements(project: Project, env: Environment) -> list[str]:
    """The pass as the scheduled procedure runs it (also what validate parses statement by statement:
    inside the procedure's $$ body sqlglot sees only a string)."""
    from incidents.ingest import ALL_STATEMENTS, pass_sql
    from incidents.ingest.config import load_ingest_config

    cfg = load_ingest_config(project)
    return [pass_sql(project, env, cfg, name, now_sql="SYSDATE()", qualified=True,
                     window_minutes=cfg.schedule_minutes * 3).strip() for name in ALL_STATEMENTS]


def render_intake(project: Project, env: Environment) -> str:
    """The statements of the file, each ending in `;`."""
    from incidents.ingest.config import load_ingest_config
    from incidents.render import context
    from incidents.sql.templating import render_template

    cfg = load_ingest_config(project)
    window = cfg.schedule_minutes * 3
    statements = pass_statements(project, env)
    ctx = context(project, env, cfg=cfg, stage=STAGE, pipe=PIPE, procedure=PROCEDURE, task=TASK,
                  statements=statements, window_minutes=window)
    parts = [render_template(project.templates_dir, f"ingest/intake/{name}.sql.j2", **ctx).strip()
             for name in ("stage", "pipe", "procedure", "task")]
    return "\n\n".join(f"{p};" for p in parts) + "\n"


def pipeline_kind(statement: str) -> str | None:
    """'task' or 'pipe' when the statement is one sqlglot cannot read, else None."""
    head = " ".join(statement.split()[:2]).upper()
    return {"CREATE TASK": "task", "CREATE PIPE": "pipe"}.get(head)


def check_statement(statement: str, source: str) -> None:
    """Raise ConfigError unless a CREATE TASK / CREATE PIPE follows the syntax we render (checked
    against Snowflake's CREATE TASK / CREATE PIPE reference) and the COPY it runs parses."""
    from incidents.validate import parse_statements

    kind = pipeline_kind(statement)
    text = statement.strip()
    if kind == "task":
        if not _TASK_RE.fullmatch(text):
            raise ConfigError(f"CREATE TASK does not follow Snowflake's syntax: {text[:120]}", file=source)
        return
    match = _PIPE_RE.fullmatch(text) if kind == "pipe" else None
    if match is None:
        raise ConfigError(f"CREATE PIPE does not follow Snowflake's syntax: {text[:120]}", file=source)
    parse_statements(match.group("copy"), source)
