"""Read the live state of the target schema in a constant number of queries (at most four),
whatever the number of objects: INFORMATION_SCHEMA per schema, never one DESCRIBE per object."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from incidents.errors import TargetError
from incidents.kinds import ObjectKind
from incidents.models import Environment, Project
from incidents.render import HISTORY_TABLE, context
from incidents.sql import types as sqltypes
from incidents.sql.session import DOES_NOT_EXIST, Session, error_number
from incidents.sql.templating import render_template
from incidents.sql.types import SqlType

if TYPE_CHECKING:
    from incidents.access.live import LiveAccess


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: SqlType
    nullable: bool
    default: str | None  # normalised (normalise_default)
    comment: str | None
    default_text: str | None = None  # as the backend reported it: what deploy fingerprints in the history


@dataclass(frozen=True)
class LiveTable:
    name: str
    columns: dict[str, LiveColumn]
    row_count: int | None
    comment: str | None


@dataclass(frozen=True)
class HistoryEntry:
    checksum: str | None
    fingerprint: str | None


@dataclass
class LiveState:
    """What the target holds. Names are upper case, as the backends report them."""

    database_exists: bool = False
    schema_exists: bool = False
    tables: dict[str, LiveTable] = field(default_factory=dict)
    # name -> definition as reported; None when the backend gave none (a role that does not own the view)
    views: dict[str, str | None] = field(default_factory=dict)
    history: dict[tuple[str, str], HistoryEntry] = field(default_factory=dict)  # (kind, NAME) -> last ok
    access_supported: bool = False  # the target has roles and grants (Snowflake): access is compared
    access: LiveAccess | None = None  # the functional roles' grants, when the target has them
    # The last deploy that applied something never wrote its end row: its view fingerprints and
    # default texts may be missing (deploy then finishes that bookkeeping).
    unfinished: bool = False

    def recorded(self, kind: ObjectKind, name: str) -> HistoryEntry | None:
        """The last successful deploy of an object, looked up by its name in any case."""
        return self.history.get((kind, name.upper()))


def fingerprint(view_text: str) -> str:
    """Hash of a view's reported text, whitespace-insensitive: what we compare to detect hand edits."""
    return hashlib.sha256(" ".join(view_text.split()).encode("utf-8")).hexdigest()


def default_digest(text: str | None) -> str | None:
    """Hash of a default's text, as declared or as the backend reported it (history rows of kind column)."""
    return None if text is None else hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


_CAST_RE = re.compile(r"^CAST\((.*) AS [A-Z_]+(?:\(\d+(?:,\s*\d+)?\))?\)$", re.S)
_SYSDATE_FORMS = ("CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())", "TIMEZONE('UTC', CURRENT_TIMESTAMP)")


def normalise_default(text: str | None) -> str | None:
    """CURRENT_TIMESTAMP() and CURRENT_TIMESTAMP, TRUE and true, '0' casts: one spelling each.

    A fallback only: deploy records the backend's own text of every function default right after it
    ran (history rows of kind column), and diff compares against that first. Snowflake writes casts
    out (CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_NTZ(9))) and stores SYSDATE() as a UTC conversion; those
    spellings are unwrapped here so a target deployed before that record existed reads no false drift."""
    if text is None:
        return None
    value = text.strip()
    if value.startswith("'"):
        return value
    value = value.upper()
    while (m := _CAST_RE.match(value)) is not None:
        value = m.group(1).strip()
    value = value.replace("CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_TZ(9))", "CURRENT_TIMESTAMP()")
    if value in _SYSDATE_FORMS:
        return "SYSDATE"
    value = re.sub(r"::[A-Z_]+(\(\d+(,\d+)?\))?$", "", value)
    return re.sub(r"\(\)$", "", value)


def _last_deploy_unfinished(rows: list[dict[str, object]]) -> bool:
    """True when a step was recorded after the last end row (or there is none): the same rows, no query."""
    def is_end(r: dict[str, object]) -> bool:
        return r["OBJECT_KIND"] == ObjectKind.DEPLOY and r.get("ACTION") == "finish"

    ends = [r["DEPLOYED_AT"] for r in rows if is_end(r)]
    steps = [r["DEPLOYED_AT"] for r in rows if not is_end(r)]
    return bool(steps) and (not ends or max(steps) > max(ends))  # type: ignore[type-var]


def introspect(session: Session, project: Project, env: Environment) -> LiveState:
    ctx = context(project, env)
    tpl = project.templates_dir
    state = LiveState(access_supported=session.access_control and env.access is not None)
    try:
        rows = session.query(render_template(tpl, "introspect/tables.sql.j2", **ctx), obj=env.database)
    except TargetError as exc:
        if error_number(exc) == DOES_NOT_EXIST:
            return state  # no database yet: everything is missing
        raise
    state.database_exists = True
    if not rows:
        return state
    state.schema_exists = True
    table_rows = {r["TABLE_NAME"]: r for r in rows if r["TABLE_NAME"] and r["TABLE_TYPE"] != "VIEW"}
    columns: dict[str, dict[str, LiveColumn]] = {name: {} for name in table_rows}
    # No early return on a schema without tables: its views (stray ones included) must still be read.
    column_rows = session.query(render_template(tpl, "introspect/columns.sql.j2", **ctx),
                                obj=env.schema) if table_rows else []
    for r in column_rows:
        if r["TABLE_NAME"] not in columns:
            continue  # a view's columns
        columns[r["TABLE_NAME"]][r["COLUMN_NAME"]] = LiveColumn(
            name=r["COLUMN_NAME"],
            # Not DATETIME_PRECISION: Snowflake documents it as "not applicable" (fakesnow lacks it).
            # Timestamp precision is compared through the table's recorded checksum instead.
            type=sqltypes.from_information_schema(r["DATA_TYPE"], r["CHARACTER_MAXIMUM_LENGTH"],
                                                  r["NUMERIC_PRECISION"], r["NUMERIC_SCALE"]),
            nullable=str(r["IS_NULLABLE"]).upper() == "YES",
            default=normalise_default(r["COLUMN_DEFAULT"]),
            comment=r["COMMENT"] or None,
            default_text=r["COLUMN_DEFAULT"],
        )
    for name, r in table_rows.items():
        count = r["ROW_COUNT"]
        state.tables[name] = LiveTable(name, columns[name], int(count) if count is not None else None,
                                       r["COMMENT"] or None)
    state.views = {r["TABLE_NAME"]: r["VIEW_DEFINITION"] or None
                   for r in session.query(render_template(tpl, "introspect/views.sql.j2", **ctx), obj=env.schema)}
    if HISTORY_TABLE.upper() in state.tables:
        rows = session.query(render_template(tpl, "introspect/history.sql.j2", **ctx), obj=HISTORY_TABLE)
        for r in rows:
            state.history[(r["OBJECT_KIND"], r["OBJECT_NAME"].upper())] = HistoryEntry(r["CHECKSUM"],
                                                                                       r["FINGERPRINT"])
        state.unfinished = _last_deploy_unfinished(rows)
    if state.access_supported:
        from incidents.access.live import read_live_access

        state.access = read_live_access(session, project, env)
    return state
