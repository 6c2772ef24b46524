"""Read the live state of the target schema, kind by kind, in a constant number of queries whatever
the number of objects (INFORMATION_SCHEMA per schema, never one DESCRIBE per object)."""

from __future__ import annotations

from incidents.kinds import REGISTRY
from incidents.kinds.base import LiveState
from incidents.project.deployment import Deployment
from incidents.sql.session import Session


def introspect(session: Session, dep: Deployment) -> LiveState:
    live = LiveState(access_control=session.access_control)
    for kind in REGISTRY:
        kind.read_live(session, dep, live)
        if not live.database_exists:
            break  # the first kind found no database: everything is missing, nothing more to read
    return live
