"""The database and the schema the project lives in.

Read live by the first introspection query (SCHEMATA joined to TABLES, which also lists the schema's
tables for the table kind): no database means nothing else is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from incidents.errors import TargetError
from incidents.kinds.base import (
    CREATE,
    Change,
    ChangeKind,
    CommittedFile,
    Desired,
    DiffContext,
    Kind,
    LiveState,
    LiveTable,
    ObjectKind,
    Phase,
    PlanContext,
    Step,
    rendered,
)
from incidents.project.deployment import Deployment
from incidents.sql.session import DOES_NOT_EXIST, Session, error_number

DATABASE, SCHEMA = ObjectKind("database"), ObjectKind("schema")
MISSING_DATABASE, MISSING_SCHEMA = ChangeKind("missing_database"), ChangeKind("missing_schema")
SCHEMA_FILE = "sql/01_schema.sql"


class Containers(Kind):
    name = "containers"
    object_kinds = (DATABASE, SCHEMA)
    change_kinds = (MISSING_DATABASE, MISSING_SCHEMA)
    committed_files = (CommittedFile(SCHEMA_FILE, 10, sourced=True),)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [rendered(dep, DATABASE, dep.database, "schema/database.sql.j2", file=SCHEMA_FILE),
                rendered(dep, SCHEMA, dep.schema, "schema/schema.sql.j2", file=SCHEMA_FILE)]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        try:
            # Snowflake (and the Snowflake-rules target) say which tables are dynamic and their clustering keys;
            # fakesnow has neither column.
            rows = session.query(dep.render("introspect/tables.sql.j2", dynamic=session.access_control,
                                            clustering=session.access_control), obj=dep.database)
        except TargetError as exc:
            if error_number(exc) == DOES_NOT_EXIST:
                return  # no database yet: everything is missing
            raise
        live.database_exists = True
        live.schema_exists = bool(rows)
        for r in rows:  # the schema's tables, columns to come (kinds.table)
            if r["TABLE_NAME"] and r["TABLE_TYPE"] != "VIEW":
                count = r["ROW_COUNT"]
                key = str(r["CLUSTERING_KEY"] or "") if "CLUSTERING_KEY" in r else None
                live.tables[r["TABLE_NAME"]] = LiveTable(r["TABLE_NAME"], {}, int(count) if count is not None else None,
                                                         r["COMMENT"] or None, str(r.get("IS_DYNAMIC")) == "YES", key)

    def changes(self, dc: DiffContext) -> list[Change]:
        changes = []
        if not dc.live.database_exists:
            changes.append(Change(MISSING_DATABASE, DATABASE, dc.dep.database, detail="database does not exist"))
        if not dc.live.schema_exists:
            changes.append(Change(MISSING_SCHEMA, SCHEMA, dc.dep.schema, detail="schema does not exist"))
        return changes

    def steps(self, pc: PlanContext) -> list[Step]:
        wanted = {MISSING_DATABASE: DATABASE, MISSING_SCHEMA: SCHEMA}
        return [Step(wanted[c.kind], obj.name, CREATE, obj.statements, checksum=obj.checksum, phase=Phase.CONTAINER)
                for c in pc.of_kind(MISSING_DATABASE, MISSING_SCHEMA)
                for obj in pc.desired.of(wanted[c.kind])]

