"""The lifecycle the access objects share (masking policies and their column attachments, tags,
secure views, streams, procedures and tasks): compared through the checksum the last deploy recorded,
like a view, and made again when the table they sit on is new.

They exist only where the target has roles and grants (Snowflake, and the Snowflake-rules target).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from incidents.errors import ConfigError
from incidents.kinds.base import (
    CREATE,
    REPLACE,
    Change,
    ChangeKind,
    CommittedFile,
    Desired,
    DiffContext,
    Forms,
    LiveState,
    Phase,
    PlanContext,
    Step,
)
from incidents.kinds.namespace import (
    MISSING_DYNAMIC_TABLE,
    MISSING_TABLE,
    MISSING_VIEW,
    UNEXPECTED_DYNAMIC_TABLE,
    UNEXPECTED_TABLE,
    UNEXPECTED_VIEW,
    dropped,
)
from incidents.project.deployment import Deployment

MISSING_ACCESS_OBJECT, CHANGED_ACCESS_OBJECT = ChangeKind("missing_access_object"), ChangeKind("changed_access_object")
ACCESS_FILE = "sql/04_access.sql"
TASKS_FILE = "sql/05_audit_and_retention.sql"
# The optional Snowflake alert intake (stage, queue, stream, pipe, procedure, task), run by hand, never by deploy.
INTAKE_FILE, INTAKE_GROUP = "sql/06_alert_intake.sql", 2
# Not sourced by setup.sql: they need a role that can create roles and grant (README, "Access and privacy").
ACCESS_SKIPPED = ("access: roles, grants, masking policies, tags, the audit stream and tasks are Snowflake-only; "
                  "not applied to this target (see README, \"Access and privacy\")")


def _has_access(dep: Deployment) -> bool:
    return dep.env.access is not None


ACCESS_FILES = (CommittedFile(ACCESS_FILE, 50, style="statements", present=_has_access),
                CommittedFile(TASKS_FILE, 60, style="statements", empty="-- No audit or retention task is declared.\n",
                              present=_has_access))

# Pieces of Snowflake's documented syntax the forms of the access kinds are written with.
NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
QNAME = rf"{NAME}(?:\.{NAME}){{0,2}}"
STRING = r"'(?:[^'\\]|\\.|'')*'"


def form(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S | re.I)


def compared(dep: Deployment, live: LiveState) -> bool:
    """Access is declared and the target has roles and grants: only then is it compared and planned."""
    return dep.env.access is not None and live.access_control


def object_changes(dc: DiffContext, objects: Sequence[Desired]) -> list[Change]:
    if not compared(dc.dep, dc.live):
        return []
    return [c for obj in objects if obj.deployed and (c := _object_change(obj, dc.live)) is not None]


def _object_change(obj: Desired, live: LiveState) -> Change | None:
    entry = live.recorded(obj.kind, obj.name)
    gone = obj.namespace == "view" and obj.name.upper() not in live.views
    if entry is None or gone:
        return Change(MISSING_ACCESS_OBJECT, obj.kind, obj.name, detail=f"{obj.kind} was never deployed"
                      if not gone else f"{obj.kind.replace('_', ' ')} does not exist")
    if entry.checksum != obj.checksum:
        return Change(CHANGED_ACCESS_OBJECT, obj.kind, obj.name,
                      detail=f"{obj.kind} definition changed in config/templates since the last deploy")
    return None


def created_and_dropped(pc: PlanContext) -> tuple[set[str], set[str]]:
    """Upper-case names of the tables, views and dynamic tables the plan creates, and of the strays it may drop."""
    fresh = {c.object.upper() for c in pc.of_kind(MISSING_TABLE, MISSING_VIEW, MISSING_DYNAMIC_TABLE)}
    strays = {c.object.upper() for c in pc.of_kind(UNEXPECTED_TABLE, UNEXPECTED_VIEW, UNEXPECTED_DYNAMIC_TABLE)}
    return fresh, strays


def object_steps(pc: PlanContext, objects: Sequence[Desired], also: tuple[ChangeKind, ...] = (),
                 remade: tuple[ChangeKind, ...] = ()) -> list[Step]:
    """Made when missing or changed (or a change of a kind in `also`: made again), and again when the
    table it sits on is created by this plan (a new table has none of its policies, tags or streams).
    A change of a kind in `remade` makes it again as on a new table (a stale stream: CREATE OR REPLACE)."""
    if not compared(pc.dep, pc.live):
        return []
    wanted = {(c.object_kind, c.object): c
              for c in pc.of_kind(MISSING_ACCESS_OBJECT, CHANGED_ACCESS_OBJECT, *also, *remade)}
    fresh, strays = created_and_dropped(pc)
    blocked = fresh & (strays - dropped(pc))  # their create is refused this time
    steps = []
    for obj in objects:
        change = wanted.get((obj.kind, obj.name))
        again = (obj.on_table is not None and obj.on_table.upper() in fresh - blocked) or (
            change is not None and change.kind in remade)
        if obj.deployed and (change is not None or again):
            action = REPLACE if change is not None and change.kind != MISSING_ACCESS_OBJECT else CREATE
            steps.append(Step(obj.kind, obj.name, action, obj.statements_on_new_table if again else obj.statements,
                              checksum=obj.checksum, changes=(change,) if change else (), phase=Phase.ACCESS))
    return steps


def normal(statement: str) -> str:
    text = re.sub(r"--[^\n]*", "", statement)
    return " ".join(text.split()).rstrip(";").strip()


def check_forms(forms: Forms, heads: tuple[str, ...], statement: str, source: str) -> bool:
    """Check a statement starting with one of `heads` against `forms`; False when it is not one of them."""
    text = normal(statement)
    if not text.upper().startswith(heads):
        return False
    found = match(forms, text)
    if found is None:
        raise ConfigError(f"statement does not follow Snowflake's syntax: {text[:120]}", file=source)
    return True


_HEADS = ("CREATE ROLE", "GRANT ROLE", "REVOKE ROLE", "CREATE MASKING", "ALTER MASKING", "CREATE TAG",
          "CREATE STREAM", "CREATE OR REPLACE STREAM", "ALTER TASK", "CREATE OR REPLACE TASK")


def is_access_statement(statement: str) -> bool:
    """A statement of the access kinds' forms (sqlglot reads none of them)."""
    text = normal(statement).upper()
    if text.startswith(_HEADS) or re.match(r"(GRANT|REVOKE) \S+ ON FUTURE ", text):
        return True
    return bool(re.match(r"ALTER TABLE \S+ MODIFY COLUMN \S+ SET (MASKING POLICY|TAG) ", text))


def match(forms: Forms, statement: str) -> tuple[str, re.Match[str]] | None:
    text = normal(statement)
    for kind, pattern in forms.items():
        found = pattern.fullmatch(text)
        if found is not None:
            return kind, found
    return None
