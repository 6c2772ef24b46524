"""Materialized views: a view declared with `materialize:` in config/views.yml is, on Snowflake, a
dynamic table holding the view's SELECT (`CREATE OR REPLACE DYNAMIC TABLE ... TARGET_LAG ... WAREHOUSE
... REFRESH_MODE ... AS <the view's SELECT>`), refreshed by Snowflake within its target lag; the view
kind then declares no view of that name. The view's template stays the one definition of its rows.

The local target (fakesnow on DuckDB has no dynamic tables) runs the same statement as a plain table of
the same SELECT (`as_plain_table`, the target's rewrite), and the loads refresh it (`refresh`): `seed`
whole, `ingest` and `import` only the incidents they changed for a view declared `by_incident`, the
others whole.

Live: no query of its own. On Snowflake (and the Snowflake-rules target) the schema's TABLES query says
which tables are dynamic (IS_DYNAMIC); on fakesnow they are the tables the deploy history says this tool
made and never dropped, and those with a materialized view's name and exactly its columns (left by a deploy
cut off before recording them). Compared through the deploy history: the checksum of the statement last
deployed. Unlike a view's, a dynamic table's text is only in SHOW DYNAMIC TABLES, which would cost every
diff and no-op deploy a query: one replaced by hand under the same name is not seen. Changing anything
replaces it (CREATE OR REPLACE: Snowflake fills it again, COPY GRANTS keeps its grants).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from incidents.errors import ConfigError
from incidents.kinds.access_object import NAME, QNAME, STRING
from incidents.kinds.base import (
    CREATE,
    REPLACE,
    Change,
    Desired,
    DiffContext,
    Forms,
    Kind,
    LiveState,
    Phase,
    PlanContext,
    Step,
    rendered,
)
from incidents.kinds.namespace import (
    CHANGED_DYNAMIC_TABLE,
    DYNAMIC_TABLE,
    MISSING_DYNAMIC_TABLE,
    UNEXPECTED_DYNAMIC_TABLE,
    claims,
    room,
    unclaimed,
)
from incidents.kinds.view import VIEWS_FILE, check_select_list, dependency_order, view_bodies, view_reads
from incidents.project.deployment import Deployment
from incidents.project.models import View
from incidents.sql import identifiers
from incidents.sql.parse import parse_statements
from incidents.sql.session import Session

# https://docs.snowflake.com/en/sql-reference/sql/create-dynamic-table#syntax : the parts we render, in the
# documented order (a column list of names and comments, as the examples there and SnowDDL write it).
_COLUMN = rf"{NAME}(?:\s+COMMENT\s+{STRING})?"
_CREATE = re.compile(
    rf"CREATE\s+OR\s+REPLACE\s+DYNAMIC\s+TABLE\s+(?P<name>{QNAME})"
    rf"(?:\s*\(\s*{_COLUMN}(?:\s*,\s*{_COLUMN})*\s*\))?"
    rf"\s+TARGET_LAG\s*=\s*(?:'\d+ (?:second|minute|hour|day)s?'|DOWNSTREAM)"
    rf"\s+WAREHOUSE\s*=\s*{NAME}"
    rf"(?:\s+REFRESH_MODE\s*=\s*(?P<mode>AUTO|FULL|INCREMENTAL))?"
    rf"(?:\s+COMMENT\s*=\s*{STRING})?"
    rf"(?:\s+COPY\s+GRANTS)?"
    rf"\s+AS\s+(?P<query>.+?)\s*;?\s*", re.S | re.I)
# https://docs.snowflake.com/en/sql-reference/sql/drop-dynamic-table
_DROP = re.compile(rf"DROP\s+DYNAMIC\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<name>{QNAME})\s*;?\s*", re.S | re.I)
# Functions that read the current time. https://docs.snowflake.com/en/user-guide/dynamic-tables-supported-queries :
# non-deterministic functions such as these are supported in full refresh only (lately also as filters in
# WHERE/HAVING/QUALIFY); a view that reads the current time is declared refresh_mode: full, knowingly.
_NOW = re.compile(r"\b(CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|LOCALTIMESTAMP|LOCALTIME|SYSDATE|SYSTIMESTAMP|"
                  r"GETDATE)\b", re.I)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_COMMENTS = re.compile(r"--[^\n]*|//[^\n]*|/\*.*?\*/", re.S)
SCOPE_TABLE = "incidents_refresh_scope"  # the incidents a load changed, for by-incident refreshes


class DynamicTables(Kind):
    name = "dynamic_table"
    object_kinds = (DYNAMIC_TABLE,)
    change_kinds = (MISSING_DYNAMIC_TABLE, CHANGED_DYNAMIC_TABLE, UNEXPECTED_DYNAMIC_TABLE)
    forms: ClassVar[Forms] = {"create_dynamic_table": _CREATE, "drop_dynamic_table": _DROP}

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        """Every materialized view, after the views and dynamic tables it reads."""
        if not any(v.materialize for v in dep.project.views):
            return []
        bodies = view_bodies(dep)
        reads = {name: view_reads(body, set(bodies) - {name}, dep) for name, body in bodies.items()}
        by_name = {v.name: v for v in dep.project.views}
        _check_no_view_reads_one(by_name, reads)
        return [_dynamic_table(dep, by_name[name], bodies, reads)
                for name in dependency_order(dep, bodies) if by_name[name].materialize]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """Which live tables are dynamic tables (taken out of `live.tables`: no table is a stray for it)."""
        if not live.schema_exists:
            return
        if session.access_control:
            # Snowflake, or the Snowflake-rules target that emulates it: its TABLES query said which are dynamic.
            found = {name for name, table in live.tables.items() if table.dynamic}
        else:
            # fakesnow keeps them as plain tables: ours are the ones the deploy history created and never dropped,
            # and any with a materialized view's name and exactly its columns: a deploy cut off between making
            # one and recording it leaves it unknown to the history (and fakesnow keeps no table comment from
            # one process to the next to mark it with).
            shapes = {v.name.upper(): {c.upper() for c, _ in v.columns} for v in dep.project.views if v.materialize}
            found = {name for name, table in live.tables.items()
                     if _ours(live, name) or (name in shapes and set(table.columns) == shapes[name])}
        for name in found:
            live.tables.pop(name, None)
        live.extra[self.name] = found

    def changes(self, dc: DiffContext) -> list[Change]:
        declared = dc.desired.of(DYNAMIC_TABLE)
        if not dc.live.schema_exists:
            return [_missing(o.name) for o in declared]
        live = live_dynamic_tables(dc.live)
        found = [c for o in declared if (c := _change(o, live, dc.live)) is not None]
        names = {o.name.upper() for o in declared}
        views = dc.desired.named("view")
        return found + [_stray(name, dc.live, name.upper() in views) for name in sorted(set(live) - names)]

    def steps(self, pc: PlanContext) -> list[Step]:
        _, claimed = claims(pc)
        wanted = {c.object: c for c in pc.of_kind(MISSING_DYNAMIC_TABLE, CHANGED_DYNAMIC_TABLE)}
        names = {v.name for v in pc.dep.project.views}
        steps: list[Step] = []
        for obj in pc.desired.of(DYNAMIC_TABLE):
            change = wanted.get(obj.name)
            if change is None:
                continue
            clear, blocked = room(claimed, DYNAMIC_TABLE, obj.name, Phase.VIEW)
            action = CREATE if change.kind == MISSING_DYNAMIC_TABLE else REPLACE
            steps += [*clear, Step(DYNAMIC_TABLE, obj.name, action, () if blocked else obj.statements,
                                   checksum=obj.checksum, refused=blocked, changes=(change,), phase=Phase.VIEW,
                                   parallel=True, after=view_reads(obj.text, names - {obj.name}, pc.dep))]
        return steps + unclaimed(pc, DYNAMIC_TABLE)

    def check_statement(self, statement: str, source: str) -> bool:
        """CREATE DYNAMIC TABLE and DROP DYNAMIC TABLE in Snowflake's documented form (sqlglot reads the
        first loosely, whatever the order of its parameters, and the second not at all); the query parses."""
        text = statement.strip()
        head = " ".join(text.split()[:5]).upper()
        if head.startswith(("CREATE OR REPLACE DYNAMIC TABLE", "CREATE DYNAMIC TABLE")):
            found = _CREATE.fullmatch(text)
            if found is None:
                shown = " ".join(text.split())[:160]
                raise ConfigError(f"CREATE DYNAMIC TABLE does not follow Snowflake's syntax: {shown}", file=source)
            parse_statements(found.group("query"), source)
            return True
        if head.startswith("DROP DYNAMIC TABLE"):
            if _DROP.fullmatch(text) is None:
                raise ConfigError(f"DROP DYNAMIC TABLE does not follow Snowflake's syntax: {text[:120]}", file=source)
            return True
        return False

    def check_object(self, obj: Desired, parsed: Sequence[Any]) -> None:
        """The documented columns name the SELECT list, in order, as for a view."""
        if obj.kind != DYNAMIC_TABLE:
            return
        found = _CREATE.fullmatch(obj.statements[0].strip()) if obj.statements else None
        if found is not None:
            query = parse_statements(found.group("query"), obj.source)
            if query:
                check_select_list(obj.model, query[0])


def live_dynamic_tables(live: LiveState) -> set[str]:
    """Upper-case names of the live dynamic tables."""
    found = live.extra.get(DynamicTables.name)
    return found if isinstance(found, set) else set()


def _ours(live: LiveState, name: str) -> bool:
    entry = live.recorded(DYNAMIC_TABLE, name)
    return entry is not None and entry.checksum is not None  # a drop is recorded without a checksum


# --------------------------------------------------------------------------- declared

def _check_no_view_reads_one(by_name: dict[str, View], reads: dict[str, tuple[str, ...]]) -> None:
    """Deploy makes the views, then the dynamic tables: a plain view reading a materialized one would come
    too early (and Snowflake refuses a dynamic table reading a view over a dynamic table)."""
    for name, read in reads.items():
        if by_name[name].materialize is not None:
            continue
        for other in read:
            if by_name[other].materialize is not None:
                raise ConfigError(f"view {name} reads {other}, which is materialized; a plain view cannot read a "
                                  f"materialized one: materialize {name} too, or drop materialize from {other}",
                                  file=by_name[other].source, key=f"views.{other}.materialize")


def _upstream(name: str, reads: dict[str, tuple[str, ...]]) -> list[str]:
    """The view and every view it reads, through other views."""
    seen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.append(current)
            todo += reads.get(current, ())
    return seen


def reads_current_time(sql: str) -> str | None:
    """The first function reading the current time that the SQL calls (outside strings and comments)."""
    found = _NOW.search(_code(sql))
    return found.group(1).upper() if found else None


def _code(sql: str) -> str:
    """SQL without its string constants and comments (what a search for a function name should read)."""
    return _COMMENTS.sub(" ", _STRINGS.sub("''", sql))


def _dynamic_table(dep: Deployment, view: View, bodies: dict[str, str], reads: dict[str, tuple[str, ...]]) -> Desired:
    m = view.materialize
    assert m is not None
    key = f"views.{view.name}.materialize"
    now = next(((other, found) for other in _upstream(view.name, reads)
                if (found := reads_current_time(bodies[other])) is not None), None)
    if now is not None and m.refresh_mode != "FULL":
        through = "" if now[0] == view.name else f" through {now[0]}"
        raise ConfigError(f"view {view.name} reads the current time ({now[1]}{through}); Snowflake refreshes such a "
                          "dynamic table in full only: declare refresh_mode: full", file=view.source,
                          key=f"{key}.refresh_mode")
    pii = _pii_read(dep, view.name, bodies, reads)
    if pii is not None:
        raise ConfigError(f"view {view.name} reads the PII column {pii}; a dynamic table stores what its owner role "
                          "sees, unmasked, for every role that may read it: drop materialize from this view",
                          file=view.source, key=key)
    warehouse = m.warehouse or dep.env.warehouse
    if warehouse is None:
        raise ConfigError(f"the dynamic table {view.name} needs a warehouse to refresh it: set {key}.warehouse or "
                          f"environments.{dep.env.name}.warehouse", file=view.source, key=f"{key}.warehouse")
    return rendered(dep, DYNAMIC_TABLE, view.name, "schema/dynamic_table.sql.j2", source=f"templates/{view.template}",
                    file=VIEWS_FILE, namespace="dynamic_table", model=view, view=view, body=bodies[view.name],
                    warehouse=warehouse)


def _pii_read(dep: Deployment, name: str, bodies: dict[str, str], reads: dict[str, tuple[str, ...]]) -> str | None:
    """A PII column (table.column) the view mentions, itself or through the views it reads, where
    masking policies guard PII (Enterprise Edition with access declared)."""
    if dep.env.access is None or not dep.env.masks_with_policies:
        return None
    for other in _upstream(name, reads):
        code = _code(bodies[other])
        for table in dep.project.pii_tables:
            if not re.search(rf"(?<![\w.]){re.escape(dep.fq(table.name))}(?!\w)", code, re.I):
                continue
            for column in table.columns:
                if column.pii and re.search(rf"\b{re.escape(column.name)}\b", code, re.I):
                    return f"{table.name}.{column.name}"
    return None


# --------------------------------------------------------------------------- changes

def _missing(name: str) -> Change:
    return Change(MISSING_DYNAMIC_TABLE, DYNAMIC_TABLE, name, detail="dynamic table does not exist")


def _changed(name: str, why: str) -> Change:
    return Change(CHANGED_DYNAMIC_TABLE, DYNAMIC_TABLE, name, detail=why)


def _change(obj: Desired, live: set[str], state: LiveState) -> Change | None:
    if obj.name.upper() not in live:
        return _missing(obj.name)
    recorded = state.recorded(DYNAMIC_TABLE, obj.name)
    if recorded is None or recorded.checksum is None:
        return _changed(obj.name, "dynamic table was not created by incidents deploy")
    if recorded.checksum != obj.checksum:
        return _changed(obj.name, "dynamic table definition changed in templates/config")
    return None


def _stray(name: str, live: LiveState, now_a_view: bool) -> Change:
    """A dynamic table config does not declare. One of ours whose view config no longer materializes is
    replaced by the view without asking (it holds only what the view computes); any other is a stray."""
    if now_a_view and _ours(live, name):
        return Change(UNEXPECTED_DYNAMIC_TABLE, DYNAMIC_TABLE, name, detail=(
            "the view is no longer materialized (materialize: in config/views.yml); deploy replaces the dynamic "
            "table with the view"))
    return Change(UNEXPECTED_DYNAMIC_TABLE, DYNAMIC_TABLE, name, destructive=True,
                  detail="dynamic table is not declared in config/views.yml (materialize:)")


# --------------------------------------------------------------------------- the local target

def as_plain_table(sql: str) -> str:
    """What fakesnow runs for a dynamic table statement: the same SELECT as a plain table (filled at once,
    like INITIALIZE = ON_CREATE), its drop as a table's. Any other statement as it is."""
    text = sql.strip()
    found = _CREATE.fullmatch(text)
    if found is not None:
        return f"CREATE OR REPLACE TABLE {found.group('name')} AS\n{found.group('query')}"
    found = _DROP.fullmatch(text)
    if found is not None:
        return f"DROP TABLE IF EXISTS {found.group('name')}"
    return sql


def refresh(session: Session, dep: Deployment, *, incidents: str | None = None) -> dict[str, float]:
    """Bring the local target's materialized views up to date after a load; seconds per view refreshed.

    Whole by default: the table made again from the view's SELECT. With `incidents` (a query of the
    incident_id of every incident the load changed, rendered by the load), a view declared `by_incident`
    is refreshed for those incidents only, in one transaction: their rows deleted and selected again
    from the view's template rendered with every table keyed by incident_id narrowed to them. Views that
    are not deployed as tables yet (config materializes them, `deploy` has not run) are left alone.
    Snowflake refreshes its dynamic tables itself (within TARGET_LAG): there, nothing is done."""
    if not session.emulated or not any(v.materialize for v in dep.project.views):
        return {}
    bodies = view_bodies(dep)
    present = {str(r["TABLE_NAME"]).upper() for r in session.query(dep.render("materialize/present.sql.j2"),
                                                                    obj="materialized views")}
    by_name = {v.name: v for v in dep.project.views}
    todo = [by_name[name] for name in dependency_order(dep, bodies)
            if by_name[name].materialize is not None and name.upper() in present]
    scoped = incidents is not None and any(v.materialize is not None and v.materialize.by_incident for v in todo)
    timings: dict[str, float] = {}
    if scoped:
        session.execute(dep.sql("materialize/scope", scope=_scope(), incidents=incidents), obj="materialized views")
    try:
        for view in todo:
            began = time.perf_counter()
            assert view.materialize is not None
            if scoped and view.materialize.by_incident:
                _refresh_incidents(session, dep, view)
            else:
                session.execute(dep.sql("materialize/replace", view=view, body=bodies[view.name]),
                                obj=f"materialized view {view.name}")
            timings[view.name] = time.perf_counter() - began
    finally:
        if scoped:
            session.execute(dep.sql("materialize/drop_scope", scope=_scope()), obj="materialized views")
    return timings


def _scope() -> str:
    # Unqualified: fakesnow refuses a qualified temporary table name (and only fakesnow runs a refresh).
    return identifiers.quote(SCOPE_TABLE)


def _refresh_incidents(session: Session, dep: Deployment, view: View) -> None:
    keyed = {t.name for t in dep.project.tables if t.column("incident_id") is not None}

    def narrowed(name: str) -> str:
        if name not in keyed:
            return dep.fq(name)
        return dep.sql("materialize/scoped_table", table=dep.fq(name), scope=_scope())

    body = dep.render(view.template, view=view, fq=narrowed)
    where = f"materialized view {view.name}"
    session.execute(dep.sql("materialize/begin"), obj=where)
    try:
        session.execute(dep.sql("materialize/delete_incidents", view=view, scope=_scope()), obj=where)
        session.execute(dep.sql("materialize/insert_incidents", view=view, body=body), obj=where)
        session.execute(dep.sql("materialize/commit"), obj=where)
    except BaseException:
        _rollback(session, dep)
        raise


def _rollback(session: Session, dep: Deployment) -> None:
    try:
        session.execute(dep.sql("materialize/rollback"), obj="materialized views")
    except Exception:  # the refresh's own error is the one to report
        return
