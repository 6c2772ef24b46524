"""Snowflake's rules for tables, columns, views and INFORMATION_SCHEMA, where fakesnow differs:
statements Snowflake refuses are refused, and metadata is answered in Snowflake's form. Each rule
cites the page of Snowflake's SQL reference it encodes."""

from __future__ import annotations

import re
from typing import Any

from incidents.sql import types as sqltypes
from incidents.targets.rules.state import (
    LITERAL,
    NAME,
    QUALIFIED,
    SEMI_STRUCTURED,
    RulesSession,
    RulesState,
    SnowflakeRuleError,
    object_name,
    unquote,
)

# --------------------------------------------------------------------------- statements Snowflake refuses

class SchemaRules:
    def __init__(self, session: RulesSession, state: RulesState) -> None:
        self.session, self.state = session, state

    def check(self, text: str) -> tuple[list[str], list[tuple[Any, ...]]] | None:
        """Raise like Snowflake for a statement it refuses; a canned answer for one fakesnow cannot run."""
        upper = text.upper()
        self._information_schema_filter(upper)
        self._retention(upper)
        if upper.startswith(("CREATE OR REPLACE VIEW", "CREATE VIEW", "CREATE OR REPLACE SECURE VIEW")):
            self._copy_grants_position(upper)
        m = re.match(rf"ALTER TABLE (?:IF EXISTS )?{QUALIFIED} (.*)$", text, re.I | re.S)
        if m:
            self._alter_table(object_name(m.group(1))[1], m.group(2))
        if upper.startswith(("CREATE OR REPLACE DYNAMIC TABLE", "CREATE DYNAMIC TABLE")):
            self._dynamic_table(text)
        return None

    # https://docs.snowflake.com/en/sql-reference/sql/create-dynamic-table : the documented syntax (the form the
    # kind declares); TARGET_LAG of at least 1 minute. https://docs.snowflake.com/en/user-guide/
    # dynamic-tables-supported-queries : non-deterministic functions (the current time) only in full refresh.
    def _dynamic_table(self, text: str) -> None:
        from incidents.kinds import forms
        from incidents.kinds.dynamic_table import reads_current_time

        found = forms()["create_dynamic_table"].fullmatch(text)
        if found is None:
            raise SnowflakeRuleError(f"SQL compilation error: syntax error in {text[:80]}", 1003)
        lag = re.search(r"TARGET_LAG\s*=\s*'(\d+) (second|minute|hour|day)", text, re.I)
        if lag and int(lag.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[lag.group(2)[0].lower()] < 60:
            raise SnowflakeRuleError("SQL compilation error: target lag must be at least 1 minute", 1003)
        now = reads_current_time(found.group("query"))
        if (found.group("mode") or "AUTO").upper() == "INCREMENTAL" and now:
            raise SnowflakeRuleError(f"SQL compilation error: dynamic table cannot be refreshed incrementally: "
                                     f"the query calls the non-deterministic function {now}", 2000)

    # https://docs.snowflake.com/en/sql-reference/info-schema : "Information schema query returned too much
    # data. Please repeat query with more selective predicates." on big accounts; every query on TABLES,
    # COLUMNS or VIEWS must filter on TABLE_SCHEMA (the rule enforces it on any account size).
    def _information_schema_filter(self, upper: str) -> None:
        views = re.findall(r"INFORMATION_SCHEMA\s*\.\s*(TABLES|COLUMNS|VIEWS)\b", upper)
        if views and len(re.findall(r"\bTABLE_SCHEMA\s*=", upper)) < len(views):
            raise SnowflakeRuleError("Information schema query returned too much data. Please repeat query with "
                                     "more selective predicates.", 90030)

    # https://docs.snowflake.com/en/user-guide/data-time-travel : on Standard Edition the retention period
    # is 0 or 1 day; longer periods need Enterprise Edition (or higher).
    def _retention(self, upper: str) -> None:
        if self.state.edition != "standard":
            return
        for days in re.findall(r"DATA_RETENTION_TIME_IN_DAYS\s*=\s*(\d+)", upper):
            if int(days) > 1:
                raise SnowflakeRuleError(f"invalid value [{days}] for parameter 'DATA_RETENTION_TIME_IN_DAYS': "
                                         "Standard Edition allows 0 or 1 day", 1008)

    # https://docs.snowflake.com/en/sql-reference/sql/create-view#syntax : COPY GRANTS comes after the
    # column list and before COMMENT = ... and AS.
    def _copy_grants_position(self, upper: str) -> None:
        at = upper.find(" COPY GRANTS")
        if at < 0:
            return
        head = upper[:at]
        after = upper[at + len(" COPY GRANTS"):].lstrip()
        if re.search(r"\bCOMMENT\s*=", head) or after.startswith("("):
            raise SnowflakeRuleError("SQL compilation error: syntax error unexpected 'COPY' (COPY GRANTS must "
                                     "follow the column list and precede COMMENT)", 1003)

    def _alter_table(self, table: str, action: str) -> None:
        upper = action.upper()
        m = re.match(rf"ADD COLUMN (?:IF NOT EXISTS )?({NAME}) .*?\bDEFAULT (.+?)(?: COMMENT '.*)?$", action, re.I)
        if m:
            return self._add_column_default(table, m.group(2))
        m = re.match(rf"(?:DROP COLUMN (?:IF EXISTS )?|RENAME COLUMN )({NAME})", action, re.I)
        if m:
            return self._clustering_column(table, unquote(m.group(1)), upper.split()[0])
        m = re.match(rf"ALTER COLUMN ({NAME}) (DROP DEFAULT|SET NOT NULL|SET DATA TYPE (.+))$", action, re.I)
        if not m:
            return None
        column, what = unquote(m.group(1)), m.group(2).upper()
        if what == "DROP DEFAULT":
            return self._drop_default(table, column)
        if what == "SET NOT NULL":
            return self._set_not_null(table, column)
        return self._set_data_type(table, column, m.group(3))

    # https://docs.snowflake.com/en/sql-reference/sql/alter-table (ADD COLUMN ... DEFAULT): a column added to
    # an existing table takes only a literal default; a function fails with 002263 "Invalid column default
    # expression".
    def _add_column_default(self, table: str, default: str) -> None:
        expression = default.strip()
        expression = re.sub(r"\s+NOT NULL$", "", expression, flags=re.I)
        if not LITERAL.fullmatch(expression):
            raise SnowflakeRuleError(f"SQL compilation error: Invalid column default expression [{expression}]",
                                     2263)

    # https://docs.snowflake.com/en/user-guide/tables-clustering-keys : a column in the clustering key
    # cannot be dropped or renamed while the key refers to it (drop or change the key first).
    def _clustering_column(self, table: str, column: str, verb: str) -> None:
        if column in self.state.clustering.get(table, []):
            raise SnowflakeRuleError(f"SQL compilation error: cannot {verb.lower()} column '{column}' which "
                                     f"belongs to a clustering key of table '{table}'", 2000)

    # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column : DROP DEFAULT is "not allowed if
    # the column and default were defined by an ALTER TABLE command".
    def _drop_default(self, table: str, column: str) -> None:
        if f"{table}.{column}" in self.state.altered_defaults:
            raise SnowflakeRuleError(f"SQL compilation error: cannot drop the default of column '{column}': it "
                                     "was added by ALTER TABLE ... ADD COLUMN ... DEFAULT", 2000)

    def _live_column(self, table: str, column: str) -> tuple[str, Any, Any, Any] | None:
        name = table.replace("'", "''")
        rows = self.session.raw(
            "SELECT DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE "
            f"FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{name}' AND COLUMN_NAME = "
            f"'{column.replace(chr(39), chr(39) * 2)}'")
        return rows[0] if rows else None

    # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column (usage notes): SET NOT NULL on a
    # VARIANT, OBJECT or ARRAY column fails when the table holds rows.
    def _set_not_null(self, table: str, column: str) -> None:
        live = self._live_column(table, column)
        if live is None or str(live[0]).upper() not in SEMI_STRUCTURED:
            return
        count = self.session.raw(f'SELECT COUNT(*) FROM "{table}"')[0][0]
        if count:
            raise SnowflakeRuleError(f"SQL compilation error: cannot set NOT NULL on {live[0]} column '{column}' "
                                     "of a table that holds rows", 2000)

    # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column : SET DATA TYPE may only change to a
    # synonymous type, lengthen a text or binary string, or change a NUMBER's precision (not its scale).
    def _set_data_type(self, table: str, column: str, type_text: str) -> None:
        live = self._live_column(table, column)
        if live is None:
            return
        old = sqltypes.from_information_schema(*live)
        new = sqltypes.parse(type_text.strip())
        if old.name == "VARCHAR" and old.args == (sqltypes.MAX_VARCHAR,):
            return  # fakesnow forgot the length on reopen (it reports the maximum): the rule cannot judge
        allowed = old.name == new.name and (
            (old.name in ("VARCHAR", "BINARY") and new.args[0] >= old.args[0])
            or (old.name == "NUMBER" and new.args[1] == old.args[1])
            or old == new)
        if not allowed:
            raise SnowflakeRuleError(f"SQL compilation error: cannot change column {column} from type {old} to {new}",
                                     2010)

    # ------------------------------------------------------------------ what the rules remember

    def remember(self, text: str) -> None:
        upper = text.upper()
        changed = False
        m = re.match(rf"CREATE (?:OR REPLACE )?TABLE (?:IF NOT EXISTS )?{QUALIFIED}", text, re.I)
        if m:
            table = object_name(m.group(1))[1]
            if upper.startswith("CREATE OR REPLACE TABLE"):
                changed = self._replaced(table) or changed
            keys = _cluster_columns(text)
            if keys and table not in self.state.clustering:
                self.state.clustering[table] = keys
                changed = True
        m = re.match(rf"CREATE (?:OR REPLACE )?(?:SECURE )?VIEW (?:IF NOT EXISTS )?{QUALIFIED}", text, re.I)
        if m:
            schema, view = object_name(m.group(1))
            self.state.views[f"{schema}.{view}"] = text
            if " COPY GRANTS" not in upper:
                # https://docs.snowflake.com/en/sql-reference/sql/create-view : without COPY GRANTS the
                # replaced view's grants are dropped.
                self.state.grants.pop(view, None)
            changed = True
        m = re.match(rf"DROP (TABLE|VIEW|DYNAMIC TABLE) (?:IF EXISTS )?{QUALIFIED}", text, re.I)
        if m:
            schema, name = object_name(m.group(2))
            self._forget(schema, name)
            changed = True
        m = re.match(rf"CREATE (?:OR REPLACE )?DYNAMIC TABLE {QUALIFIED}", text, re.I)
        if m:
            self.state.objects[f"DYNAMIC TABLE {object_name(m.group(1))[1]}"] = text  # TABLES says IS_DYNAMIC
            changed = True
        m = re.match(rf"ALTER TABLE (?:IF EXISTS )?{QUALIFIED} (.*)$", text, re.I)
        if m:
            changed = self._remember_alter(object_name(m.group(1))[1], m.group(2)) or changed
        if changed:
            self.state.save()

    # https://docs.snowflake.com/en/user-guide/streams-intro (Data retention period and staleness): recreating a
    # table (CREATE OR REPLACE TABLE) drops its history, which makes every stream on it stale.
    def _replaced(self, table: str) -> bool:
        streams = [k.split(" ", 1)[1] for k, v in self.state.objects.items() if k.startswith("STREAM ") and v == table]
        self.state.stale = sorted(set(self.state.stale) | set(streams))
        return bool(streams)

    def _forget(self, schema: str | None, name: str) -> None:
        """A dropped object takes its clustering key, grants, masking policies and streams along (a
        stream on a dropped table is stale for good)."""
        self.state.masked = {c: p for c, p in self.state.masked.items() if not c.startswith(f"{name}.")}
        self.state.objects = {k: v for k, v in self.state.objects.items()
                              if not (k.startswith("STREAM ") and v == name) and k != f"DYNAMIC TABLE {name}"}
        self.state.stale = [s for s in self.state.stale if f"STREAM {s}" in self.state.objects]
        self.state.tags = {c: t for c, t in self.state.tags.items() if not c.startswith(f"{name}.")}
        self.state.clustering.pop(name, None)
        self.state.grants.pop(name, None)
        self.state.views.pop(f"{schema}.{name}", None)
        self.state.altered_defaults = [c for c in self.state.altered_defaults if not c.startswith(f"{name}.")]

    def _remember_alter(self, table: str, action: str) -> bool:
        upper = action.upper()
        if upper.startswith("CLUSTER BY"):
            self.state.clustering[table] = _cluster_columns(action)
            return True
        if upper.startswith("DROP CLUSTERING KEY"):
            self.state.clustering.pop(table, None)
            return True
        m = re.match(rf"ADD COLUMN (?:IF NOT EXISTS )?({NAME}) .*?\bDEFAULT ", action, re.I)
        if m:
            self.state.altered_defaults.append(f"{table}.{unquote(m.group(1))}")
            return True
        m = re.match(rf"DROP COLUMN (?:IF EXISTS )?({NAME})", action, re.I)
        if m:
            gone = f"{table}.{unquote(m.group(1))}"
            self.state.altered_defaults = [c for c in self.state.altered_defaults if c != gone]
            return True
        m = re.match(rf"RENAME COLUMN ({NAME}) TO ({NAME})", action, re.I)
        if m:
            old, new = f"{table}.{unquote(m.group(1))}", f"{table}.{unquote(m.group(2))}"
            self.state.altered_defaults = [new if c == old else c for c in self.state.altered_defaults]
            return True
        return False


def _cluster_columns(text: str) -> list[str]:
    """The columns a CLUSTER BY ( ... ) clause names (inside TO_DATE(...) too)."""
    at = text.upper().find("CLUSTER BY")
    if at < 0:
        return []
    start = text.find("(", at)
    depth, end = 0, start
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            break
    inner = text[start + 1:end]
    names = re.findall(rf"({NAME})(\s*\()?", inner)
    return [unquote(name) for name, call in names if not call]


# --------------------------------------------------------------------------- metadata in Snowflake's form

class Answers:
    def __init__(self, session: RulesSession, state: RulesState, text: str) -> None:
        self.session, self.state, self.upper = session, state, text.upper()

    def rewrite(self, columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
        if "INFORMATION_SCHEMA" not in self.upper:
            return columns, rows
        keys = [c.upper() for c in columns]
        dicts = [dict(zip(keys, row, strict=True)) for row in rows]
        if re.search(r"INFORMATION_SCHEMA\s*\.\s*COLUMNS\b", self.upper):
            types = {} if "DATA_TYPE" in keys else self._types()
            dicts = [self._column(d, types) for d in dicts]
            if "COLUMN_DEFAULT" in keys and "DATETIME_PRECISION" not in keys:
                keys.append("DATETIME_PRECISION")
        if re.search(r"INFORMATION_SCHEMA\s*\.\s*VIEWS\b", self.upper) and "VIEW_DEFINITION" in keys:
            dicts = [self._view(d) for d in dicts]
        if re.search(r"INFORMATION_SCHEMA\s*\.\s*TABLES\b", self.upper) and {"TABLE_NAME", "TABLE_TYPE"} <= set(keys):
            dicts += self._view_rows(keys, dicts)
            if "IS_DYNAMIC" in keys:
                dicts = [self._dynamic(d) for d in dicts]
            if "CLUSTERING_KEY" in keys:
                dicts = [self._clustering_key(d) for d in dicts]
        return [c for c in keys], [tuple(d.get(k) for k in keys) for d in dicts]

    # https://docs.snowflake.com/en/sql-reference/info-schema/columns : DATETIME_PRECISION is "Not applicable
    # for Snowflake". COLUMN_DEFAULT holds the default as Snowflake stores it, casts written out; the forms
    # below come from other tools' issue trackers, not from an account (see the README).
    def _types(self) -> dict[tuple[str, str], str]:
        """(TABLE, COLUMN) -> DATA_TYPE, for a query that did not select DATA_TYPE."""
        return {(t, c): d for t, c, d in self.session.raw(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS")}

    def _column(self, row: dict[str, Any], types: dict[tuple[str, str], str]) -> dict[str, Any]:
        row = dict(row)
        if "DATETIME_PRECISION" in row or "COLUMN_DEFAULT" in row:
            row["DATETIME_PRECISION"] = None
        table, column = row.get("TABLE_NAME"), row.get("COLUMN_NAME")
        found = row.get("DATA_TYPE") or next(
            (d for (t, c), d in types.items() if c == column and table in (None, t)), "")
        default, data_type = row.get("COLUMN_DEFAULT"), str(found).upper()
        if isinstance(default, str):
            row["COLUMN_DEFAULT"] = stored_default(default, data_type)
        return row

    # https://docs.snowflake.com/en/sql-reference/info-schema/views : VIEW_DEFINITION is the text of the
    # statement that created the view, as sent; NULL for a role that does not own the view.
    def _view(self, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        if self.state.hide_view_definitions:
            row["VIEW_DEFINITION"] = None
            return row
        sent = self.state.views.get(f"{row.get('TABLE_SCHEMA')}.{row.get('TABLE_NAME')}")
        sent = sent or next((t for k, t in self.state.views.items() if k.endswith(f".{row.get('TABLE_NAME')}")), None)
        if sent is not None:
            row["VIEW_DEFINITION"] = sent
        return row

    # https://docs.snowflake.com/en/sql-reference/info-schema/tables : IS_DYNAMIC is YES for a dynamic table
    # (which TABLES lists as a BASE TABLE), NO for any other.
    def _dynamic(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get("TABLE_NAME") is None:
            return row
        return {**row, "IS_DYNAMIC": "YES" if f"DYNAMIC TABLE {row['TABLE_NAME']}" in self.state.objects else "NO"}

    # https://docs.snowflake.com/en/sql-reference/info-schema/tables : CLUSTERING_KEY is the table's clustering key
    # as text, NULL for a table without one; Snowflake writes it as LINEAR(<expr>, ...) (SHOW TABLES' cluster_by,
    # https://docs.snowflake.com/en/sql-reference/sql/show-tables). The rules remember the key's columns only,
    # so TO_DATE(c) reads as c here.
    def _clustering_key(self, row: dict[str, Any]) -> dict[str, Any]:
        columns = self.state.clustering.get(str(row.get("TABLE_NAME")))
        return {**row, "CLUSTERING_KEY": f"LINEAR({', '.join(columns)})" if columns else None}

    # https://docs.snowflake.com/en/sql-reference/info-schema/tables : TABLES lists views too, with
    # TABLE_TYPE = 'VIEW'.
    def _view_rows(self, keys: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        schema = re.search(r"TABLE_SCHEMA\s*=\s*'([^']*)'", self.upper)
        wanted = schema.group(1) if schema else None
        if wanted is None or not rows:
            return []
        found = self.session.raw("SELECT TABLE_SCHEMA, TABLE_NAME FROM INFORMATION_SCHEMA.VIEWS "
                                 f"WHERE TABLE_SCHEMA = '{wanted.replace(chr(39), chr(39) * 2)}'")
        template = {k: None for k in keys}
        template.update({k: rows[0][k] for k in keys if k in ("SCHEMA_NAME", "TABLE_SCHEMA", "TABLE_CATALOG")})
        return [{**template, "TABLE_NAME": name, "TABLE_TYPE": "VIEW"} for _, name in found]


def stored_default(default: str, data_type: str) -> str:
    """A default as fakesnow reports it -> as Snowflake stores it (functions get their casts written out)."""
    text = default.strip()
    precision = "(9)"
    if text.upper() == "CURRENT_TIMESTAMP" and data_type.startswith("TIMESTAMP"):
        return f"CAST(CURRENT_TIMESTAMP() AS {data_type}{precision})"
    if text.upper().replace(" ", "") == "TIMEZONE('UTC',CURRENT_TIMESTAMP)":
        return "CAST(CONVERT_TIMEZONE('UTC', CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_TZ(9))) AS TIMESTAMP_NTZ(9))"
    if text.upper() in ("CURRENT_DATE", "CURRENT_TIMESTAMP"):
        return f"{text.upper()}()"
    if text.lower() in ("true", "false"):
        return text.upper()
    return text
