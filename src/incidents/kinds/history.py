"""The tool's own bookkeeping tables: the deploy history (created by deploy, read by every diff) and
the deploy lock (created by the lock itself, engine.lock). Neither is declared in config/tables/, and
neither is ever a stray.

Live: the last successful row of every object in one query (what deploy applied, and the live text
it saw), and whether the last deploy that applied something wrote its end row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from incidents.kinds.base import (
    CREATE,
    DEPLOY,
    Change,
    Desired,
    DiffContext,
    HistoryEntry,
    Kind,
    LiveState,
    ObjectKind,
    Phase,
    PlanContext,
    Step,
    rendered,
)
from incidents.kinds.containers import SCHEMA_FILE
from incidents.kinds.namespace import MISSING_TABLE, TABLE
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE, OWN_TABLES
from incidents.sql.session import Session

HISTORY = ObjectKind("history_table")  # the desired object; its changes and steps speak of a table


class History(Kind):
    name = "history"
    object_kinds = (HISTORY,)
    own_tables = OWN_TABLES

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [rendered(dep, HISTORY, HISTORY_TABLE, "schema/history_table.sql.j2", file=SCHEMA_FILE,
                         namespace="table")]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        if HISTORY_TABLE.upper() not in live.tables:
            return
        rows = session.query(dep.render("introspect/history.sql.j2"), obj=HISTORY_TABLE)
        for r in rows:
            live.history[(r["OBJECT_KIND"], r["OBJECT_NAME"].upper())] = HistoryEntry(r["CHECKSUM"], r["FINGERPRINT"])
        live.unfinished = _last_deploy_unfinished(rows)

    def changes(self, dc: DiffContext) -> list[Change]:
        if dc.live.schema_exists and HISTORY_TABLE.upper() in dc.live.tables:
            return []
        return [Change(MISSING_TABLE, TABLE, HISTORY_TABLE, detail="deploy history table does not exist")]

    def steps(self, pc: PlanContext) -> list[Step]:
        if not any(c.object == HISTORY_TABLE for c in pc.of_kind(MISSING_TABLE)):
            return []
        obj = pc.desired.of(HISTORY)[0]
        return [Step(TABLE, HISTORY_TABLE, CREATE, obj.statements, checksum=obj.checksum, phase=Phase.BOOKKEEPING)]


def _last_deploy_unfinished(rows: list[dict[str, object]]) -> bool:
    """True when a step was recorded after the last end row (or there is none): the same rows, no query."""
    def is_end(r: dict[str, object]) -> bool:
        return r["OBJECT_KIND"] == DEPLOY and r.get("ACTION") == "finish"

    ends: list[Any] = [r["DEPLOYED_AT"] for r in rows if is_end(r)]
    steps: list[Any] = [r["DEPLOYED_AT"] for r in rows if not is_end(r)]
    return bool(steps) and (not ends or max(steps) > max(ends))
