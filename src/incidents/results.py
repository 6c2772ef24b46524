"""Typed results of the Workspace calls; each turns itself into a dict and JSON."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from incidents import output
from incidents.output import JsonResult


@dataclass(frozen=True)
class RenderResult(JsonResult):
    """The committed files as config and templates say they should be, keyed by relative path."""

    root: Path
    files: dict[str, str]

    def stale(self) -> list[str]:
        from incidents.engine.files import stale_files

        return stale_files(self.root, self.files)

    def write(self) -> list[str]:
        """Write the files whose content changed; return their paths. The example project inside
        the installed package is not a place to write: `incidents init DIR` makes one you own."""
        from incidents.engine.files import write_files
        from incidents.errors import ConfigError
        from incidents.project.config import PACKAGED_PROJECT

        if self.root.resolve() == PACKAGED_PROJECT.resolve():
            raise ConfigError("this is the example project inside the installed package; run `incidents init "
                              "DIR` to copy it into a folder you own, then run commands there", key="--project-dir")

        return write_files(self.root, self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "files": sorted(self.files), "stale": self.stale()}


@dataclass(frozen=True)
class ValidationResult(JsonResult):
    env: str
    tables: int
    views: int
    statements: int

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "ok": True, "tables": self.tables, "views": self.views,
                "statements": self.statements}


@dataclass(frozen=True)
class DiffResult(JsonResult):
    """Declared vs live: the changes, and the steps that would apply them (destructive included)."""

    env: str
    where: str
    changes: list[Any]  # diff.Change
    steps: list[Any]    # plan.Step

    @property
    def in_sync(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "in_sync": self.in_sync, "changes": [c.as_dict() for c in self.changes]}


@dataclass(frozen=True)
class SeedResult(JsonResult):
    env: str
    where: str
    rows: dict[str, int]  # table -> rows loaded, in load order
    seconds: float  # generating and loading (not emptying the tables first)
    delete_seconds: float = 0.0  # emptying the tables first (--replace)
    refresh_seconds: float = 0.0  # of `seconds`: refreshing the local tables of the materialized views

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "rows": self.rows, "seconds": round(self.seconds, 3),
                "delete_seconds": round(self.delete_seconds, 3), "refresh_seconds": round(self.refresh_seconds, 3)}


@dataclass(frozen=True)
class QueryResult(JsonResult, Sequence[dict[str, Any]]):
    """Rows of one statement. Indexing and iterating give dicts keyed by column name (a repeated
    name gets _2, _3 ...); `.columns` and `.rows` hold the names and tuples as the target sent them."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    @property
    def keys(self) -> list[str]:
        return output.unique_names(self.columns)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        keys = self.keys
        if isinstance(index, slice):
            return [dict(zip(keys, row, strict=True)) for row in self.rows[index]]
        return dict(zip(keys, self.rows[index], strict=True))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = self.keys
        return (dict(zip(keys, row, strict=True)) for row in self.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, QueryResult):
            return (self.columns, self.rows) == (other.columns, other.rows)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": list(self)}

    def to_records(self) -> list[dict[str, Any]]:
        return list(self)

    def to_json(self, indent: int | None = 2) -> str:
        """An array of objects keyed by column name (what `incidents query --format json` prints)."""
        return output.dumps(self.to_records(), indent=indent)

    def to_csv(self) -> str:
        return output.rows_as_csv(self.columns, self.rows)


@dataclass(frozen=True)
class RelatedResult(JsonResult):
    """`incidents related`: an incident, its cluster (v_incident_clusters) and the changes before it."""

    env: str
    incident: dict[str, Any]
    cluster: list[dict[str, Any]]  # the incidents of its cluster, itself included; [] when alone
    changes: list[dict[str, Any]]  # changes to its services in the `hours` before it started, latest first
    hours: int

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "incident": self.incident, "cluster": self.cluster, "changes": self.changes,
                "hours": self.hours}


@dataclass(frozen=True)
class IngestResult(JsonResult):
    """One `ingest` call: what was landed in raw_alerts and what the pass did to incidents."""

    env: str
    where: str
    load_id: str
    documents: int  # webhook payloads or event lines read
    alerts: int  # alerts landed and mapped
    malformed: int  # landed with an error, not mapped
    episodes: int  # alert episodes (one firing run of a fingerprint each) the pass looked at
    opened: int  # new incidents
    resolved: int  # incidents resolved by a resolved alert
    repeated: int  # incidents that got a "fired again" comment
    noted: int  # incidents a person took over that got a "resolved" comment only
    seconds: float
    errors: tuple[str, ...] = ()  # the first few malformed documents, why
    stopped: str | None = None  # why reading stopped before the end of the input (what came before is ingested)
    changes: int = 0  # change events landed in raw_changes and merged into change_events
    grouped: int = 0  # alert episodes that joined their group's incident instead of opening one
    ignored: int = 0  # vendor events that open and resolve nothing (PagerDuty acknowledged...): read, not landed

    @property
    def ok(self) -> bool:
        return self.malformed == 0 and self.stopped is None

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "load_id": self.load_id, "documents": self.documents, "alerts": self.alerts,
                "malformed": self.malformed, "episodes": self.episodes, "opened": self.opened,
                "resolved": self.resolved, "repeated": self.repeated, "noted": self.noted,
                "seconds": round(self.seconds, 3), "errors": list(self.errors), "stopped": self.stopped,
                "changes": self.changes, "grouped": self.grouped, "ignored": self.ignored}
