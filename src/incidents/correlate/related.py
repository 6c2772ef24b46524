"""`incidents related INC-...`: an incident's cluster (v_incident_clusters) and the changes to its
services before it (change_events; the one v_change_incidents links it to is marked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidents.errors import ConfigError
from incidents.project.deployment import Deployment
from incidents.sql.session import Session


@dataclass(frozen=True)
class Related:
    incident: dict[str, Any]
    cluster: list[dict[str, Any]]  # the incidents of its cluster, itself included; [] when it has none
    changes: list[dict[str, Any]]  # changes to its services in the `hours` before it started, latest first
    hours: int


def related(session: Session, dep: Deployment, number: str, *, hours: int = 24) -> Related:
    """ConfigError (exit 2) when no incident has that number."""
    if not 1 <= hours <= 24 * 90:
        raise ConfigError(f"--hours must be from 1 to {24 * 90}, got {hours}", key="--hours")
    found = _rows(session, dep.sql("correlate/related_incident", number=number), "incidents")
    if not found:
        raise ConfigError(f"no incident numbered {number!r}; `incidents query \"SELECT incident_number FROM "
                          "incidents\"` lists them", key="INCIDENT")
    incident = found[0]
    ident = int(incident["incident_id"])
    cluster = _rows(session, dep.sql("correlate/related_cluster", incident_id=ident), "v_incident_clusters")
    changes = _rows(session, dep.sql("correlate/related_changes", incident_id=ident, hours=hours,
                                     started=incident["started_at"]), "change_events")
    return Related(incident, cluster, changes, hours)


def _rows(session: Session, sql: str, obj: str) -> list[dict[str, Any]]:
    columns, rows = session.execute(sql, obj=obj)
    names = [str(c).lower() for c in columns]
    return [dict(zip(names, row, strict=True)) for row in rows]
