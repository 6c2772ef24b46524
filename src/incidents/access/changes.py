"""Access declared vs live -> Changes, and Changes -> deploy steps. Pure.

Roles and grants are compared with what SHOW GRANTS reported (access.live); policies, tags, secure
views, the stream, procedures and tasks through the checksum the last deploy recorded, like views.
A grant nobody declared is revoked only with --allow-destructive; a role is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from incidents.access.desired import AccessObject, DesiredAccess, Grant, grant_order
from incidents.access.live import LiveAccess
from incidents.diff import Change
from incidents.kinds import Action, ChangeKind, ObjectKind
from incidents.models import Environment, Project

if TYPE_CHECKING:
    from incidents.introspect import HistoryEntry
    from incidents.plan import Step


def access_changes(desired: DesiredAccess, live: LiveAccess | None, live_views: dict[str, str | None],
                   recorded: Callable[[ObjectKind, str], HistoryEntry | None],
                   missing_objects: set[str] | None = None) -> list[Change]:
    """`live` None: the target was not read (nothing exists yet): everything is missing. The grants
    on a missing table or view are not listed: the object's own change says it, and deploy grants
    them right after creating it."""
    live = live or LiveAccess()
    missing_objects = missing_objects or set()
    changes = [Change(ChangeKind.MISSING_ROLE, ObjectKind.ROLE, role.name.upper(), declared=role.kind,
                      detail="role does not exist") for role in desired.roles if role.name.upper() not in live.roles]
    changes += [c for obj in desired.objects if (c := _object_change(obj, live_views, recorded)) is not None]
    changes += [Change(ChangeKind.MISSING_GRANT, ObjectKind.GRANT, g.role, declared=str(g), detail="grant is missing")
                for g in sorted(desired.grants - live.grants, key=grant_order) if not _on_object(g, missing_objects)]
    changes += [Change(ChangeKind.UNEXPECTED_GRANT, ObjectKind.GRANT, g.role, live=str(g), destructive=True,
                       detail="grant is not declared in access config; deploy revokes it with --allow-destructive")
                for g in sorted(live.grants - desired.grants, key=grant_order)]
    return changes


def _object_change(obj: AccessObject, live_views: dict[str, str | None],
                   recorded: Callable[[ObjectKind, str], HistoryEntry | None]) -> Change | None:
    entry = recorded(obj.kind, obj.name)
    gone = obj.kind == ObjectKind.SECURE_VIEW and obj.name.upper() not in live_views
    if entry is None or gone:
        return Change(ChangeKind.MISSING_ACCESS_OBJECT, obj.kind, obj.name, detail=f"{obj.kind} was never deployed"
                      if not gone else "secure view does not exist")
    if entry.checksum != obj.checksum:
        return Change(ChangeKind.CHANGED_ACCESS_OBJECT, obj.kind, obj.name,
                      detail=f"{obj.kind} definition changed in config/templates since the last deploy")
    return None


def access_steps(project: Project, env: Environment, desired: DesiredAccess, live: LiveAccess | None,
                 changes: list[Change], allow_destructive: bool) -> tuple[list[Step], list[Step]]:
    """(steps that run after the views, revokes for the destructive tail)."""
    from incidents.plan import Step

    live = live or LiveAccess()
    missing_roles = {c.object for c in changes if c.kind == ChangeKind.MISSING_ROLE}
    objects = {(c.object_kind, c.object): c for c in changes
               if c.kind in (ChangeKind.MISSING_ACCESS_OBJECT, ChangeKind.CHANGED_ACCESS_OBJECT)}
    fresh, strays = _created_and_dropped(changes)
    blocked = set() if allow_destructive else fresh & strays  # their create is refused this time
    missing = {c.declared for c in changes if c.kind == ChangeKind.MISSING_GRANT}
    # A table or view this plan creates has none of its grants yet, whatever was read before it.
    grants = [g for g in sorted(desired.grants, key=grant_order)
              if (str(g) in missing or _on_object(g, fresh)) and not _on_object(g, blocked)]
    unexpected = {c.live for c in changes if c.kind == ChangeKind.UNEXPECTED_GRANT}
    # A stray the plan drops takes its grants with it: revoking them afterwards would fail.
    revoked = [g for g in sorted(live.grants, key=grant_order)
               if str(g) in unexpected and not (allow_destructive and _on_object(g, strays))]
    steps = [Step(ObjectKind.ROLE, role.name.upper(), Action.CREATE, (desired.role_sql(project, env, role),))
             for role in desired.roles if role.name.upper() in missing_roles]
    for obj in desired.objects:
        change = objects.get((obj.kind, obj.name))
        # A table this plan creates has none of its policies, tags or streams yet either.
        again = obj.on_table is not None and obj.on_table.upper() in fresh - blocked
        if change is not None or again:
            action = Action.REPLACE if change is not None and change.kind == ChangeKind.CHANGED_ACCESS_OBJECT \
                else Action.CREATE
            statements = obj.statements_on_new_table if again else obj.statements
            steps.append(Step(obj.kind, obj.name, action, statements, checksum=obj.checksum,
                              changes=(change,) if change else ()))
    steps += _per_role(project, env, desired, grants, Action.GRANT)
    reason = None if allow_destructive else ("grants not declared in access config; rerun with --allow-destructive "
                                             "to revoke them")
    revokes = [Step(s.object_kind, s.object, s.action, () if reason else s.statements, destructive=True,
                    refused=reason) for s in _per_role(project, env, desired, revoked, Action.REVOKE)]
    return steps, revokes


def _created_and_dropped(changes: list[Change]) -> tuple[set[str], set[str]]:
    """Upper-case names of the tables and views the plan creates, and of the strays it may drop."""
    fresh = {c.object.upper() for c in changes if c.kind in (ChangeKind.MISSING_TABLE, ChangeKind.MISSING_VIEW)}
    strays = {c.object.upper() for c in changes if c.kind in (ChangeKind.UNEXPECTED_TABLE, ChangeKind.UNEXPECTED_VIEW)}
    return fresh, strays


def _on_object(grant: Grant, names: set[str]) -> bool:
    return grant.on in ("TABLE", "VIEW") and grant.name in names


def _per_role(project: Project, env: Environment, desired: DesiredAccess, grants: list[Grant],
              action: Action) -> list[Step]:
    from incidents.plan import Step

    by_role: dict[str, list[Grant]] = {}
    for grant in grants:
        by_role.setdefault(grant.role, []).append(grant)
    return [Step(ObjectKind.GRANT, role, action,
                 tuple(desired.grant_sql(project, env, g, revoke=action == Action.REVOKE) for g in role_grants))
            for role, role_grants in by_role.items()]
