"""Typed, frozen models of a project: what config declares, independent of any backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incidents.sql.types import SqlType

# The tool's own deploy history table, in the project's schema beside the declared tables.
HISTORY_TABLE = "incidents_deploy_history"
LOCK_TABLE = "incidents_deploy_lock"  # one row: who holds the deploy lock, until when (incidents.engine.lock)
LOCK_MUTEX_TABLE = "incidents_deploy_lock_held"  # exists while a deploy holds the lock (incidents.engine.lock)
OWN_TABLES = (HISTORY_TABLE, LOCK_TABLE, LOCK_MUTEX_TABLE)  # the tool's bookkeeping, never declared in config


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    nullable: bool = True
    default: str | None = None
    comment: str | None = None
    allowed_values: tuple[str, ...] = ()
    renamed_from: str | None = None
    pii: str | None = None  # "email" | "name" | "text": masked for roles that may not see it (access.py)

    @property
    def function_default(self) -> bool:
        """A default computed per row (SYSDATE(), CURRENT_DATE() ...), not a literal. Snowflake's ALTER TABLE
        ... ADD COLUMN takes only literal defaults, and Snowflake stores a function default in its own
        spelling (https://docs.snowflake.com/en/sql-reference/sql/alter-table)."""
        return self.default is not None and self.default.endswith("()")


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class ClusterKey:
    column: str
    to_date: bool = False  # cluster on TO_DATE(column): coarse keys cluster better than timestamps


@dataclass(frozen=True)
class ReferenceData:
    """Rows deploy keeps present in a table, matched on `key`. `sync` False (the default): deploy only
    inserts missing keys and users may edit the other columns (SLA targets); True: config owns the
    rows, so deploy also updates a declared row whose columns changed (a renamed or retired category).
    Deploy never deletes a row either way: history may reference it."""

    key: tuple[str, ...]
    rows: tuple[tuple[tuple[str, Any], ...], ...]
    sync: bool = False


@dataclass(frozen=True)
class Retention:
    """Rows older than `days` by `column` are purged (`incidents purge`, and its scheduled task)."""

    days: int
    column: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    comment: str | None = None
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    cluster_by: tuple[ClusterKey, ...] = ()
    reference_data: ReferenceData | None = None
    retention: Retention | None = None
    # Holds personal data no masking policy can cover (semi-structured text as received): analyst gets no
    # SELECT on it, only pii_reader (README "Access and privacy").
    restricted: bool = False
    source: str = ""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def parents(self) -> tuple[str, ...]:
        """Tables this one references, itself excluded (self-references do not order tables)."""
        return tuple(dict.fromkeys(fk.ref_table for fk in self.foreign_keys if fk.ref_table != self.name))


@dataclass(frozen=True)
class Materialize:
    """`materialize:` of a view: a dynamic table on Snowflake (kinds.dynamic_table), a table the loads
    refresh on the local target. `target_lag` is '<n> seconds|minutes|hours|days' or None for DOWNSTREAM;
    `refresh_mode` FULL, INCREMENTAL or AUTO (chosen in config, never defaulted); `warehouse` refreshes
    it (default: the environment's); `by_incident`: every row belongs to one incident (its incident_id)
    and depends only on that incident's rows, so the local target refreshes only the incidents a load
    changed."""

    target_lag: str | None
    refresh_mode: str
    warehouse: str | None = None
    by_incident: bool = False


@dataclass(frozen=True)
class View:
    name: str
    template: str
    comment: str | None = None
    columns: tuple[tuple[str, str], ...] = ()  # (column, definition) documented for every column
    source: str = ""
    materialize: Materialize | None = None  # None: a plain view


ROLE_KINDS = ("reader", "analyst", "writer", "pii_reader")  # the functional roles access.py grants to


@dataclass(frozen=True)
class AccessRole:
    kind: str  # one of ROLE_KINDS
    name: str  # the Snowflake role
    granted_to: tuple[str, ...] = ()  # account roles that get this role


@dataclass(frozen=True)
class Access:
    """Who may see what, on Snowflake (`access:` in project.yml; nothing of it runs on the local target)."""

    roles: tuple[AccessRole, ...]
    future_grants: bool = True
    audit_minutes: int | None = 5  # the audit task's schedule; None: no stream or task
    purge_schedule: str | None = "USING CRON 0 3 * * * UTC"  # the purge task's schedule; None: no task
    task_warehouse: str | None = None  # None: serverless tasks

    def role(self, kind: str) -> AccessRole:
        return next(r for r in self.roles if r.kind == kind)


@dataclass(frozen=True)
class Environment:
    name: str
    target: str  # "local" | "snowflake"
    database: str
    schema: str
    connection: str | None = None
    data_retention_days: int | None = None
    warehouse: str | None = None
    role: str | None = None
    edition: str | None = None  # Snowflake account edition, when declared (standard allows retention 0-1 only)
    access: Access | None = None  # roles, grants, masking, audit (project.yml `access:`, merged per environment)

    @property
    def masks_with_policies(self) -> bool:
        """Masking policies and tags need Enterprise Edition or higher; Standard gets secure views."""
        return self.edition != "standard"


@dataclass(frozen=True)
class Lifecycle:
    """Incident statuses by phase, declared once in project.yml (`lifecycle:`) and read by the view
    macros, the sample data, the docs and the tests. Terminal = resolved + excluded."""

    open: tuple[str, ...] = ("new", "acknowledged", "investigating", "identified", "mitigated")
    resolved: tuple[str, ...] = ("resolved", "closed")
    excluded: tuple[str, ...] = ("cancelled", "duplicate")  # no durations, money or customers

    @property
    def terminal(self) -> tuple[str, ...]:
        return self.resolved + self.excluded

    @property
    def statuses(self) -> tuple[str, ...]:
        return self.open + self.terminal


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    database: str
    schema: str
    currency: str
    default_env: str
    environments: dict[str, Environment]
    tables: tuple[Table, ...]
    views: tuple[View, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    templates_dir: Path = Path()
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def pii_tables(self) -> tuple[Table, ...]:
        """Tables with at least one `pii:` column, in declaration order."""
        return tuple(t for t in self.tables if any(c.pii for c in t.columns))

    @property
    def lifecycle_tables(self) -> tuple[Table, ...]:
        """What the incident lifecycle writes (and the writer role may change): every table but the
        reference tables deploy owns."""
        return tuple(t for t in self.tables if t.reference_data is None)
