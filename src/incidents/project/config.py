"""Load and validate a project's YAML config into frozen models.

Every error names the file, the key path and, where the YAML parser knows it, the line.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import os
import re
from pathlib import Path
from typing import Any

from incidents.errors import ConfigError
from incidents.project.access import load_access
from incidents.project.models import (
    OWN_TABLES,
    ClusterKey,
    Column,
    Environment,
    ForeignKey,
    Lifecycle,
    Materialize,
    Project,
    ReferenceData,
    Retention,
    Table,
    View,
)
from incidents.project.reader import Node, config_text, kind_of, read_yaml
from incidents.sql import types as sqltypes
from incidents.sql.text import ConfigText, literal

PACKAGED_PROJECT = Path(__file__).parent.parent / "_project"  # the example project inside the wheel
SOURCE_PROJECT = Path(__file__).resolve().parents[3]  # a clone: the repository root
TARGETS = ("local", "snowflake")
# Defaults that are not literals: a fixed set of functions, written out in one spelling.
_DEFAULT_FUNCTIONS = {name: f"{name}()" for name in ("CURRENT_TIMESTAMP", "CURRENT_DATE", "SYSDATE", "LOCALTIMESTAMP")}
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED_RE = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)
_CLUSTER_RE = re.compile(r"TO_DATE\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)|([A-Za-z_][A-Za-z0-9_]*)", re.I)


# --------------------------------------------------------------------------- locating a project

def find_project_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--project-dir / INCIDENTS_PROJECT_DIR, else the current folder if it holds config/project.yml,
    else the example project shipped with the package."""
    if explicit:
        root = Path(explicit).expanduser()
        if not (root / "config" / "project.yml").is_file():
            raise ConfigError("no config/project.yml here; pass a project folder", key=f"--project-dir {root}")
        return root.resolve()
    cwd = Path.cwd()
    if (cwd / "config" / "project.yml").is_file():
        return cwd
    for candidate in (PACKAGED_PROJECT, SOURCE_PROJECT):
        if (candidate / "config" / "project.yml").is_file():
            return candidate
    raise ConfigError("no project found: run in a folder with config/project.yml or pass --project-dir")


def templates_dir(root: Path) -> Path:
    """A project's own templates/, else the ones shipped with the package."""
    for candidate in (root / "templates", PACKAGED_PROJECT / "templates", SOURCE_PROJECT / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("no templates/ folder found", file=str(root))


# --------------------------------------------------------------------------- project

def load_project(root: Path) -> Project:
    """Read config/project.yml, config/tables/*.yml and config/views.yml (optional) under root."""
    rel = "config/project.yml"
    node = Node(read_yaml(root / rel, rel), rel, "")
    node.only("name", "database", "schema", "currency", "default_env", "environments", "variables", "lifecycle",
              "access")
    name = node.get("name", str, "incidents")
    if not name.strip():
        raise node.error("name", "is empty; name the project (role names and query tags are made from it)")
    database = node.ident("database")
    schema = node.ident("schema")
    currency = node.get("currency", str, "USD")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise node.error("currency", f"expected an ISO 4217 code such as USD, got {currency!r}")
    envs_node = node.child("environments", node.get("environments", dict, required=True))
    environments = {
        env_name: _environment(envs_node, str(env_name), value, database, schema, project_access=(node, name))
        for env_name, value in envs_node.data.items()
    }
    if not environments:
        raise node.error("environments", "declare at least one environment (e.g. dev: {target: local})")
    default_env = node.get("default_env", str, "dev" if "dev" in environments else next(iter(environments)))
    if default_env not in environments:
        raise node.error("default_env", f"unknown environment {default_env!r}; "
                                        f"declared: {', '.join(environments)}")
    variables = dict(node.get("variables", dict, {}))
    variables["change_window_minutes"] = _change_window(node, variables)
    tables = _order_tables(_load_tables(root))
    lifecycle = _lifecycle(node, tables)
    views = _load_views(root)
    clash = {t.name for t in tables} & {v.name for v in views}
    if clash:
        raise ConfigError(f"{sorted(clash)[0]!r} is declared both as a table and as a view; rename one",
                          file="config/views.yml")
    return Project(root=root, name=name, database=database, schema=schema, currency=currency,
                   default_env=default_env, environments=environments, tables=tables, views=views,
                   variables=variables, templates_dir=templates_dir(root), lifecycle=lifecycle)


def _change_window(node: Node, variables: dict[str, Any]) -> int:
    """variables.change_window_minutes: how long after a change an incident counts as following it
    (the change correlation views); default 30."""
    window = variables.get("change_window_minutes", 30)
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 10080:
        raise node.error("variables", f"change_window_minutes must be a whole number of minutes from 1 to 10080 "
                                      f"(a week), got {window!r}")
    return window


def _lifecycle(parent: Node, tables: tuple[Table, ...]) -> Lifecycle:
    """The status phases; every status must be one of incidents.status's allowed_values (if declared)."""
    if "lifecycle" not in parent.data:
        return Lifecycle()
    node = parent.child("lifecycle", parent.get("lifecycle", dict, required=True))
    node.only("open", "resolved", "excluded")
    phases: dict[str, tuple[str, ...]] = {}
    for phase in ("open", "resolved", "excluded"):
        values = node.get(phase, list, required=True)
        if not values or not all(isinstance(v, str) and v for v in values):
            raise node.error(phase, "expected a non-empty list of status names")
        phases[phase] = tuple(values)
    lifecycle = Lifecycle(**phases)
    if len(set(lifecycle.statuses)) != len(lifecycle.statuses):
        raise node.error("open", "a status is listed in more than one phase; list each once")
    incidents = next((t for t in tables if t.name == "incidents"), None)
    status = incidents.column("status") if incidents else None
    if status is not None and status.allowed_values:
        unknown = [s for s in lifecycle.statuses if s not in status.allowed_values]
        missing = [s for s in status.allowed_values if s not in lifecycle.statuses]
        if unknown or missing:
            what = f"unknown status {unknown[0]!r}" if unknown else f"status {missing[0]!r} is in no phase"
            raise node.error("open", f"{what}: the phases must list exactly the allowed_values of "
                                     "incidents.status (config/tables/incidents.yml)")
    return lifecycle


def _environment(parent: Node, name: str, value: Any, database: str, schema: str,
                 project_access: tuple[Node, str] | None = None) -> Environment:
    parent.check_ident(name, name)
    node = parent.child(name, value if value is not None else {})
    node.only("target", "database", "schema", "connection", "data_retention_days", "warehouse", "role", "edition",
              "access")
    target = node.get("target", str, "local")
    if target not in TARGETS:
        raise node.error("target", f"unknown target {target!r}; expected local or snowflake")
    edition = _edition(node)
    retention = node.get("data_retention_days", int)
    if retention is not None and not 0 <= retention <= 90:
        raise node.error("data_retention_days", "expected 0-90 days")
    if retention is not None and retention > 1 and edition == "standard":
        # https://docs.snowflake.com/en/user-guide/data-time-travel : Standard Edition keeps 0 or 1 day.
        raise node.error("data_retention_days", f"{retention} days needs Enterprise Edition or higher; the "
                                                "account's edition is standard, which allows 0 or 1")
    schema_name = node.ident("schema", required=False) or schema
    if schema_name.upper() == "INFORMATION_SCHEMA":
        raise node.error("schema", "INFORMATION_SCHEMA is Snowflake's own read-only schema; choose another")
    env = Environment(
        name=name, target=target,
        database=node.ident("database", required=False) or database,
        schema=schema_name,
        connection=node.get("connection", str),
        data_retention_days=retention,
        warehouse=node.ident("warehouse", required=False),
        role=node.ident("role", required=False),
        edition=edition,
    )
    if project_access is None:
        return env

    project_node, project_name = project_access
    return dataclasses.replace(env, access=load_access(project_node, node, project_name, env))


EDITIONS = ("standard", "enterprise", "business_critical", "virtual_private_snowflake")


def _edition(node: Node) -> str | None:
    """The Snowflake account's edition, when declared: what Time Travel retention it allows."""
    edition = node.get("edition", str)
    if edition is None:
        return None
    value = edition.strip().lower().replace(" ", "_").replace("-", "_")
    if value not in EDITIONS:
        raise node.error("edition", f"unknown edition {edition!r}; expected one of {', '.join(EDITIONS)}")
    return value


def environment(project: Project, name: str | None) -> Environment:
    chosen = name or project.default_env
    if chosen not in project.environments:
        raise ConfigError(
            f"unknown environment {chosen!r}; declared in config/project.yml: "
            f"{', '.join(project.environments)}",
            key="--env",
        )
    return project.environments[chosen]


# --------------------------------------------------------------------------- tables

def _load_tables(root: Path) -> list[Table]:
    folder = root / "config" / "tables"
    files = sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError("no table files found; add one YAML file per table", file="config/tables/")
    tables: list[Table] = []
    seen: dict[str, str] = {}
    for path in files:
        rel = f"config/tables/{path.name}"
        table = _table(Node(read_yaml(path, rel), rel, ""))
        if table.name in seen:
            raise ConfigError(f"table {table.name!r} is already declared in {seen[table.name]}", file=rel,
                              key="name")
        if table.name.upper() in {name.upper() for name in OWN_TABLES}:
            raise ConfigError(f"{table.name!r} is the name of one of the tool's own tables (deploy history and "
                              "lock); choose another", file=rel, key="name")
        seen[table.name] = rel
        tables.append(table)
    _check_references(tables)
    _check_retained_parents(tables)
    return tables


def _table(node: Node) -> Table:
    node.only("name", "comment", "columns", "primary_key", "unique_keys", "foreign_keys", "cluster_by",
              "reference_data", "retention", "restricted")
    name = node.ident("name")
    columns: list[Column] = []
    for key, value in node.items("columns", required=True):
        column = _column(node.child(key, value))
        if any(c.name == column.name for c in columns):
            raise node.error(key, f"duplicate column {column.name!r}")
        columns.append(column)
    if not columns:
        raise node.error("columns", "declare at least one column")
    names = {c.name for c in columns}

    def known(key: str, cols: tuple[str, ...]) -> tuple[str, ...]:
        for col in cols:
            if col not in names:
                raise node.error(key, f"unknown column {col!r} in table {name!r}")
        return cols

    primary_key = known("primary_key", node.idents("primary_key"))
    unique_keys = tuple(
        known(key, tuple(node.check_ident(key, c) for c in (value if isinstance(value, list) else [value])))
        for key, value in node.items("unique_keys")
    )
    foreign_keys = []
    for key, value in node.items("foreign_keys"):
        fk = node.child(key, value)
        fk.only("columns", "references")
        ref = fk.child("references", fk.get("references", dict, required=True))
        ref.only("table", "columns")
        cols, ref_cols = known(key, fk.idents("columns", required=True)), ref.idents("columns", required=True)
        if len(cols) != len(ref_cols) or not cols:
            raise fk.error("references", "columns and references.columns must have the same, non-zero length")
        foreign_keys.append(ForeignKey(cols, ref.ident("table"), ref_cols))
    cluster_by = []
    for key, value in node.items("cluster_by"):
        m = _CLUSTER_RE.fullmatch(value) if isinstance(value, str) else None
        if not m:
            raise node.error(key, "expected a column name or TO_DATE(column)")
        clustered = node.check_ident(key, m.group(1) or m.group(2))
        cluster_by.append(ClusterKey(known(key, (clustered,))[0], to_date=m.group(1) is not None))
    reference_data = None
    if "reference_data" in node.data:
        reference_data = _reference_data(node.child("reference_data", node.get("reference_data", dict)),
                                         {c.name: c for c in columns})
    return Table(name=name, columns=tuple(columns), comment=_object_comment(node),
                 primary_key=primary_key, unique_keys=unique_keys, foreign_keys=tuple(foreign_keys),
                 cluster_by=tuple(cluster_by), reference_data=reference_data, retention=_retention(node, columns),
                 restricted=bool(node.get("restricted", bool)), source=node.file)


def _retention(parent: Node, columns: list[Column]) -> Retention | None:
    """`retention: {days: N, column: <timestamp column>}`: rows older than N days are purged."""
    if "retention" not in parent.data:
        return None
    node = parent.child("retention", parent.get("retention", dict, required=True))
    node.only("days", "column")
    days = node.get("days", int, required=True)
    if not 1 <= days <= 36500:
        raise node.error("days", "expected 1-36500 days")
    name = node.ident("column")
    column = next((c for c in columns if c.name == name), None)
    if column is None:
        raise node.error("column", f"unknown column {name!r}")
    if not (column.type.name.startswith("TIMESTAMP") or column.type.name == "DATE"):
        raise node.error("column", f"{name} is {column.type}; retention needs a DATE or TIMESTAMP column")
    return Retention(days, name)


def _object_comment(node: Node) -> str | None:
    comment = node.get("comment", str)
    if comment and "'" in comment:
        # fakesnow 0.12 copies table and view comments into its catalog unescaped and fails after
        # creating the object; Snowflake is fine, but the local target must be too.
        raise node.error("comment", "a table or view comment cannot contain ' (the local target fails on it); "
                                    "rephrase or use \u2019")
    return comment


def _column(node: Node) -> Column:
    node.only("name", "type", "nullable", "default", "comment", "allowed_values", "renamed_from", "pii")
    name = node.ident("name")
    type_text = node.get("type", str, required=True)
    try:
        sql_type = sqltypes.parse(type_text)
    except ValueError as exc:
        raise node.error("type", str(exc)) from None
    default = _default(node)
    problem = _default_problem(default, sql_type)
    if problem:
        raise node.error("default", problem)
    allowed = node.get("allowed_values", list, [])
    if not all(isinstance(v, str) for v in allowed):
        raise node.error("allowed_values", "expected a list of strings")
    return Column(name=name, type=sql_type, nullable=node.get("nullable", bool, True), default=default,
                  comment=node.get("comment", str), allowed_values=tuple(allowed),
                  renamed_from=node.ident("renamed_from", required=False), pii=_pii(node, sql_type))


PII_KINDS = ("email", "name", "text")  # each has its own masked form (templates/access/_masks.sql.j2)


def _pii(node: Node, sql_type: sqltypes.SqlType) -> str | None:
    """`pii: true` (free text) or `pii: email | name | text`; only VARCHAR columns can be masked."""
    value = node.get("pii", (bool, str))
    if value is None or value is False:
        return None
    kind = "text" if value is True else str(value).strip().lower()
    if kind not in PII_KINDS:
        raise node.error("pii", f"unknown kind {value!r}; expected true or one of {', '.join(PII_KINDS)}")
    if sql_type.name != "VARCHAR":
        raise node.error("pii", f"only VARCHAR columns can be masked; this one is {sql_type}")
    return kind


def _default(node: Node) -> str | None:
    """The column default as SQL text, made only by `literal` or from the fixed function list.

    In config a string default is written as SQL would: `'text'` with `''` for a quote (every other
    character, backslash included, is itself), a number, TRUE, FALSE, NULL or one of the functions."""
    value = node.get("default", (str, int, float, bool))
    if value is None or isinstance(value, (bool, int)):
        return None if value is None else literal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise node.error("default", f"expected a finite number, got {value}")
        return literal(value)
    text = value.strip()
    quoted = _QUOTED_RE.fullmatch(text)
    if quoted:
        return literal(quoted.group(1).replace("''", "'"))
    if _NUMBER_RE.fullmatch(text):
        return literal(decimal.Decimal(text))
    word = text.upper().removesuffix("()")
    if word in ("TRUE", "FALSE", "NULL"):
        return word
    if word in _DEFAULT_FUNCTIONS:
        return _DEFAULT_FUNCTIONS[word]
    raise node.error("default", f"unsupported default {_shown(text)}: use a number, a 'quoted string' (with '' "
                                "for a quote), TRUE, FALSE, NULL, SYSDATE(), CURRENT_TIMESTAMP() or CURRENT_DATE()")


def _default_problem(default: str | None, sql_type: sqltypes.SqlType) -> str | None:
    """Why a default (as rendered SQL) cannot be stored in its column; None when it can. The
    target would reject it only at deploy, after earlier steps ran."""
    if default is None or default == "NULL":
        return None
    name = sql_type.name
    if default.startswith("'"):
        text = default[1:-1].replace("''", "'").replace("\\\\", "\\")
        if name == "VARCHAR" and len(text) > sql_type.args[0]:
            return f"the default is {len(text)} characters, longer than the column's {sql_type}"
        if name in ("NUMBER", "FLOAT", "BOOLEAN"):
            return f"a string default does not fit a {sql_type} column; write the value unquoted"
        return None
    if default in ("TRUE", "FALSE"):
        return None if name in ("BOOLEAN", "VARCHAR") else f"TRUE/FALSE does not fit a {sql_type} column"
    if default.endswith("()"):
        temporal = name.startswith("TIMESTAMP") or name in ("DATE", "TIME")
        return None if temporal else f"{default} does not fit a {sql_type} column; use it on a date or timestamp"
    if name not in ("NUMBER", "FLOAT", "VARCHAR"):
        return f"a number does not fit a {sql_type} column"
    if name == "NUMBER":
        digits = decimal.Decimal(default)
        precision, scale = sql_type.args
        exponent = digits.as_tuple().exponent
        too_fine = isinstance(exponent, int) and exponent < -scale
        if too_fine or abs(digits) >= decimal.Decimal(10) ** (precision - scale):
            return f"{default} does not fit {sql_type} ({precision - scale} digits before the point, {scale} after)"
    return None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")


def _reference_data(node: Node, columns: dict[str, Column]) -> ReferenceData:
    node.only("key", "rows", "sync")
    key = node.idents("key", required=True)
    sync = node.get("sync", bool, False)
    for col in key:
        if col not in columns:
            raise node.error("key", f"unknown column {col!r}")
    items = list(node.items("rows", required=True))
    if not items:
        raise node.error("rows", "declare at least one row, or remove reference_data")
    rows = [_reference_row(node.child(item_key, value), columns, key) for item_key, value in items]
    named = {col for row in rows for col, _ in row}
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        cells = dict(row)
        # Every row lists the same columns to the MERGE: a NOT NULL column one row leaves out gets NULL.
        for col in named | {c.name for c in columns.values() if not c.nullable and c.default is None}:
            if not columns[col].nullable and cells.get(col) is None:
                raise node.error(f"rows[{i}].{col}", f"column {col!r} is NOT NULL: give it in every row")
        values = tuple(cells[k] for k in key)
        if values in seen:
            raise node.error(f"rows[{i}]", f"duplicate key {values!r}: the same as rows[{seen[values]}]")
        seen[values] = i
    return ReferenceData(key=key, rows=tuple(rows), sync=sync)


def _reference_row(row: Node, columns: dict[str, Column], key: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    for col, cell in row.data.items():
        if col not in columns:
            raise row.error(str(col), "unknown column")
        problem = _cell_problem(cell, columns[col])
        if problem:
            raise row.error(str(col), problem)
    for col in key:
        if row.data.get(col) is None:
            raise row.error(col, "key column is required in every row")
    return tuple((col, config_text(cell)) for col, cell in row.data.items())


def _cell_problem(cell: Any, column: Column) -> str | None:
    """Why a reference value cannot be stored in its column (None when it can)."""
    if cell is None:
        return None
    if not isinstance(cell, (str, int, float, bool)):
        return f"expected a string, number or boolean, got {kind_of(cell)}"
    if isinstance(cell, float) and not math.isfinite(cell):
        return f"expected a finite number, got {cell}"
    name = column.type.name
    if name in ("NUMBER", "FLOAT") and (isinstance(cell, bool) or not isinstance(cell, (int, float))):
        return f"column {column.name!r} is {column.type}: expected a number, got {kind_of(cell)}"
    if name == "BOOLEAN" and not isinstance(cell, bool):
        return f"column {column.name!r} is BOOLEAN: expected true or false, got {kind_of(cell)}"
    if name == "VARCHAR" and len(str(cell)) > column.type.args[0]:
        return f"value is {len(str(cell))} characters, longer than {column.name} {column.type}"
    if name == "NUMBER" and isinstance(cell, float) and column.type.args[1] == 0 and not cell.is_integer():
        return f"column {column.name!r} is {column.type}: expected a whole number, got {cell}"
    return None


def _check_references(tables: list[Table]) -> None:
    by_name = {t.name: t for t in tables}
    for table in tables:
        for i, fk in enumerate(table.foreign_keys):
            key = f"foreign_keys[{i}].references"
            parent = by_name.get(fk.ref_table)
            if parent is None:
                raise ConfigError(f"references unknown table {fk.ref_table!r}; declare it under config/tables/",
                                  file=table.source, key=key)
            for col in fk.ref_columns:
                if parent.column(col) is None:
                    raise ConfigError(f"references unknown column {fk.ref_table}.{col}", file=table.source,
                                      key=key)
            if set(fk.ref_columns) != set(parent.primary_key) and set(fk.ref_columns) not in [
                set(u) for u in parent.unique_keys
            ]:
                raise ConfigError(
                    f"{fk.ref_table}({', '.join(fk.ref_columns)}) is not a primary or unique key of "
                    f"{fk.ref_table}", file=table.source, key=key)


def _check_retained_parents(tables: list[Table]) -> None:
    """Purging a table that others reference would orphan their rows (or fail where keys are enforced)."""
    retained = {t.name for t in tables if t.retention}
    for table in tables:
        for i, fk in enumerate(table.foreign_keys):
            if fk.ref_table in retained:
                raise ConfigError(f"references {fk.ref_table}, which declares retention: purging it would orphan "
                                  f"rows of {table.name}; drop the retention or the foreign key",
                                  file=table.source, key=f"foreign_keys[{i}]")


def _order_tables(tables: list[Table]) -> tuple[Table, ...]:
    """Parents before children (stable: alphabetical among peers); a cycle is a config error."""
    by_name = {t.name: t for t in tables}
    ordered: list[Table] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*chain[chain.index(name):], name])
            raise ConfigError(f"foreign keys form a cycle: {cycle}; break it with a nullable key",
                              file=by_name[name].source, key="foreign_keys")
        state[name] = 1
        for parent in by_name[name].parents:
            visit(parent, [*chain, name])
        state[name] = 2
        ordered.append(by_name[name])

    for table in sorted(tables, key=lambda t: t.name):
        visit(table.name, [])
    return tuple(ordered)


# --------------------------------------------------------------------------- views

def _column_doc(view: Node, column: Any, text: Any) -> ConfigText:
    """Every view column is documented in words (the text is its column comment and docs/views.md)."""
    if not isinstance(text, str) or not text.strip():
        raise view.error(f"columns.{column}", f"expected a sentence documenting the column, got {kind_of(text)}")
    return ConfigText(text)


def _load_views(root: Path) -> tuple[View, ...]:
    rel = "config/views.yml"
    path = root / rel
    if not path.is_file():
        return ()
    data = read_yaml(path, rel)
    node = Node(data if data is not None else {"views": []}, rel, "")
    node.only("views")
    views: list[View] = []
    for key, value in node.items("views", required=True):
        view = node.child(key, value)
        view.only("name", "comment", "template", "columns", "materialize")
        name = view.ident("name")
        if any(v.name == name for v in views):
            raise view.error("name", f"duplicate view {name!r}")
        cols = view.get("columns", dict, required=True)
        documented = tuple((view.check_ident(f"columns.{c}", c), _column_doc(view, c, d)) for c, d in cols.items())
        views.append(View(name=name, template=view.get("template", str, f"views/{name}.sql.j2"),
                          comment=_object_comment(view), columns=documented, source=rel,
                          materialize=_materialize(view, [c for c, _ in documented])))
    return tuple(views)


# https://docs.snowflake.com/en/sql-reference/sql/create-dynamic-table : TARGET_LAG = { '<num> { seconds |
# minutes | hours | days }' | DOWNSTREAM }, at least 1 minute; REFRESH_MODE = { AUTO | FULL | INCREMENTAL }.
_TARGET_LAG = re.compile(r"(\d{1,6}) (second|minute|hour|day)s?", re.I)
_LAG_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
REFRESH_MODES = ("FULL", "INCREMENTAL", "AUTO")


def _materialize(view: Node, columns: list[str]) -> Materialize | None:
    """`materialize:` of one view: a dynamic table on Snowflake, a table refreshed by the loads locally."""
    if view.data.get("materialize") is None:
        return None
    node = view.child("materialize", view.get("materialize", dict, required=True))
    node.only("target_lag", "refresh_mode", "warehouse", "by_incident")
    mode = str(node.get("refresh_mode", str, required=True)).strip().upper()
    if mode not in REFRESH_MODES:
        raise node.error("refresh_mode", f"expected full, incremental or auto, got {mode.lower()!r}; choose it: a "
                                         "view that reads the current time can only be full")
    by_incident = node.get("by_incident", bool, False)
    if by_incident and "incident_id" not in columns:
        raise node.error("by_incident", "the view documents no incident_id column; by_incident refreshes rows by "
                                        "their incident, so the view needs one (or drop by_incident)")
    return Materialize(target_lag=_target_lag(node), refresh_mode=mode,
                       warehouse=node.ident("warehouse", required=False), by_incident=by_incident)


def _target_lag(node: Node) -> str | None:
    """'<n> <unit>' in Snowflake's words, or None for DOWNSTREAM."""
    text = " ".join(str(node.get("target_lag", str, required=True)).split())
    if text.upper() == "DOWNSTREAM":
        return None
    found = _TARGET_LAG.fullmatch(text)
    if found is None:
        raise node.error("target_lag", f"expected '<number> seconds|minutes|hours|days' or downstream, got {text!r}")
    number, unit = int(found.group(1)), found.group(2).lower()
    if number * _LAG_SECONDS[unit] < 60:
        raise node.error("target_lag", f"{text!r} is below Snowflake's minimum target lag of 1 minute")
    return f"{number} {unit}{'s' if number != 1 else ''}"
