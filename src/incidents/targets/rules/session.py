"""The Snowflake-rules target: the local session under Snowflake's documented rules (a test aid,
`INCIDENTS_LOCAL_RULES=snowflake` or `snowflake:standard`). Each statement goes past the access rules
(roles, grants, masking, streams, tasks) and the schema rules first, then to fakesnow, and the answer
comes back in Snowflake's form."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from incidents.errors import TargetError, first_line
from incidents.sql.session import Session, Statement
from incidents.targets.rules.access import AccessRuleError, AccessRules
from incidents.targets.rules.schema import Answers, SchemaRules
from incidents.targets.rules.state import DEPLOY_ROLE, RulesState, SnowflakeRuleError, strip_comments


@dataclass
class SnowflakeRulesSession(Session):
    rules: RulesState | None = None
    # The primary role: the deploy role until USE ROLE. Reads and writes are checked against the grants of
    # the active roles (targets.rules.access); masking policies see them through IS_ROLE_IN_SESSION.
    role: str | None = None
    secondary: str = "ALL"  # USE SECONDARY ROLES: ALL (the user's default since BCR-1692) or NONE
    context_role: str | None = None  # inside an owner's-rights procedure or a task: the one role that runs it
    deferred_streams: set[str] | None = None  # a procedure's open transaction: streams it consumed, moved on at COMMIT
    temporary: set[str] = field(default_factory=set)  # qualified names of temporary tables made (see _fakesnow_form)

    @classmethod
    def wrap(cls, base: Session, path: Path, edition: str = "enterprise", role: str | None = None
             ) -> SnowflakeRulesSession:
        values = {f.name: getattr(base, f.name) for f in fields(Session)}
        values["label"] = f"{base.label} (Snowflake rules, {edition} edition)"
        values["access_control"] = True  # roles, grants, masking and tasks are emulated (see _Access)
        state = RulesState.load(path, edition, deploy_role=role or DEPLOY_ROLE)
        state.save()
        return cls(**values, rules=state, role=state.deploy_role,
                   secondary=state.default_secondary_roles.get(state.user, "ALL"))

    def execute(self, sql: str, params: Sequence[Any] | None = None, *, obj: str | None = None,
                max_rows: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        assert self.rules is not None
        text = strip_comments(sql)
        try:
            canned = AccessRules(self, self.rules).check(text)
            if canned is None:
                canned = SchemaRules(self, self.rules).check(text)
        except (SnowflakeRuleError, AccessRuleError) as exc:
            self.trace.append(Statement(sql, obj, 0.0))
            cause = _connector_error(str(exc), exc.errno)
            raise TargetError(str(exc), obj=obj or self.label, statement=sql) from cause
        if canned is not None:
            self.trace.append(Statement(sql, obj, 0.0))
            return canned
        masked = None if params else AccessRules(self, self.rules).masked(text)
        sent = AccessRules.secure_view_form(_fakesnow_form(masked or sql, self.temporary))
        columns, rows = super().execute(sent, params, obj=obj, max_rows=max_rows)
        SchemaRules(self, self.rules).remember(text)
        return Answers(self, self.rules, text).rewrite(columns, rows)

    def run_rewritten(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A read rewritten by the access emulation (masked columns), run on fakesnow as sent."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            columns = [self._column_name(d[0]) for d in cur.description] if cur.description else []
            return columns, [tuple(r) for r in cur.fetchall()]
        except Exception as exc:
            if not self.is_target_error(exc):
                raise
            raise TargetError(first_line(exc), obj=self.label, statement=sql) from exc
        finally:
            cur.close()

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """A look-up of the rules themselves, not traced (it is not something the tool sent)."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()


_QUALIFIED_TEMPORARY = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+"
                                  r"((?:[A-Za-z_][A-Za-z0-9_$]*\.){2})([A-Za-z_][A-Za-z0-9_$]*)", re.I)


def _fakesnow_form(sql: str, temporary: set[str]) -> str:
    """Snowflake names a temporary table like any other (db.schema.name, https://docs.snowflake.com/en/
    user-guide/tables-temp-transient); fakesnow refuses a qualified one: the name alone, where it is
    made and wherever it is used after. Snowflake's COLUMNS view has DATETIME_PRECISION (always
    NULL) and its TABLES view IS_DYNAMIC and CLUSTERING_KEY; fakesnow's have none: select a NULL, a
    'NO' and a NULL (the answer fills in the dynamic tables and the clustering keys, targets.rules.schema)."""
    made = _QUALIFIED_TEMPORARY.search(sql)
    if made:
        temporary.add(made.group(1) + made.group(2))
    for name in temporary:
        sql = re.sub(rf"(?<![\w.$]){re.escape(name)}(?![\w$])", name.rsplit(".", 1)[1], sql, flags=re.I)
    if re.search(r"INFORMATION_SCHEMA\s*\.\s*COLUMNS\b", sql, re.I) and re.search(r"\bDATETIME_PRECISION\b", sql, re.I):
        return re.sub(r"\bDATETIME_PRECISION\b(?!\s*(?:=|IS\b))", "CAST(NULL AS INT) AS DATETIME_PRECISION", sql,
                      count=1, flags=re.I)
    if re.search(r"INFORMATION_SCHEMA\s*\.\s*TABLES\b", sql, re.I):
        return _TABLES_SELECT.sub(_tables_columns, sql, count=1)
    return sql


# The select list of the SELECT that reads INFORMATION_SCHEMA.TABLES (no other SELECT inside it).
_TABLES_SELECT = re.compile(r"\bSELECT\b((?:(?!\bSELECT\b).)*?)\bFROM\s+\S+\.INFORMATION_SCHEMA\s*\.\s*TABLES\b",
                            re.I | re.S)
_SNOWFLAKE_ONLY = {"IS_DYNAMIC": "'NO' AS IS_DYNAMIC", "CLUSTERING_KEY": "CAST(NULL AS VARCHAR) AS CLUSTERING_KEY"}


def _tables_columns(m: re.Match[str]) -> str:
    columns = re.sub(r"(?<![.\w])(IS_DYNAMIC|CLUSTERING_KEY)\b", lambda c: _SNOWFLAKE_ONLY[c.group(1).upper()],
                     m.group(1), flags=re.I)
    return m.group(0).replace(m.group(1), columns, 1)


def _connector_error(message: str, errno: int | None) -> BaseException:
    from incidents.targets.localdb import errors  # the local target's own copy of snowflake.connector.errors

    return errors().ProgrammingError(msg=message, errno=errno)


def wrap_local(session: Session, path: Path, rules: str, role: str | None = None) -> Session:
    """The local session under Snowflake's rules when INCIDENTS_LOCAL_RULES asks for them; `role`: the
    environment's deploy role (a session without USE ROLE runs as it)."""
    kind, _, edition = rules.partition(":")
    if kind.strip().lower() != "snowflake":
        return session
    return SnowflakeRulesSession.wrap(session, path, (edition or "enterprise").strip().lower(), role)
