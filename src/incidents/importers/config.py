"""Load and validate config/import.yml: how ServiceNow and Jira values map onto incidents.

Validated like every config file (file, key path and line in every error), with the same YAML
reader as config.py. Source values are matched ignoring case and surrounding blanks, so the keys
are kept lower-cased and stripped; a key that repeats after that is an error. Values reach SQL only
through `literal` in templates/import/.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from incidents.errors import ConfigError
from incidents.project.models import Project
from incidents.project.reader import Node, read_yaml

IMPORT_FILE = "config/import.yml"
SOURCES = ("servicenow", "jira")
MAPPINGS = ("statuses", "priorities", "urgencies", "impacts", "categories", "groups", "sources", "resolution_codes")
DATE_FORMATS = ("auto", "day-first", "month-first", "iso")
_FIELD_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_FALLBACK_ALLOWED = {
    "status": ("new", "acknowledged", "investigating", "identified", "mitigated", "resolved", "closed", "cancelled",
               "duplicate"),
    "priority": ("critical", "high", "medium", "low"),
    "severity": ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5"),
    "impact_level": ("critical", "major", "moderate", "minor", "none"),
    "source": ("monitoring", "customer_report", "internal", "partner", "automated"),
    "resolution_code": ("fixed", "workaround", "rolled_back", "config_change", "vendor_fix", "no_action_needed",
                        "duplicate", "cannot_reproduce"),
}


@dataclass(frozen=True)
class Mapping:
    """Source value (lower-case, stripped) -> our value; `default` for the rest and for missing values.
    Priorities map to a (priority, severity) pair, every other mapping to one value or None."""

    pairs: tuple[tuple[str, Any], ...]
    default: Any

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.pairs)

    def get(self, value: str | None) -> Any:
        if value is None:
            return self.default
        return dict(self.pairs).get(value.strip().lower(), self.default)


@dataclass(frozen=True)
class SourceConfig:
    name: str  # servicenow | jira
    statuses: Mapping
    priorities: Mapping  # values: (priority, severity)
    urgencies: Mapping
    impacts: Mapping
    categories: Mapping  # values: incident_categories codes
    groups: Mapping  # default None: the source group's own name is the team
    sources: Mapping
    resolution_codes: Mapping
    timezone: str = "UTC"
    date_format: str = "auto"
    initial_state: str = "New"
    group_field: str | None = None
    impact_field: str | None = None
    urgency_field: str | None = None
    sla_resolution: str = "Time to resolution"
    sla_first_response: str = "Time to first response"

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.categories.default, *(code for _, code in self.categories.pairs)]))

    @property
    def initial_status(self) -> str:
        return str(self.statuses.get(self.initial_state))

    @property
    def system_user_key(self) -> str:
        """The account changes are made by when the source does not say who (users.user_key)."""
        return f"system:import-{self.name}"


@dataclass(frozen=True)
class ImportConfig:
    servicenow: SourceConfig
    jira: SourceConfig

    def source(self, name: str) -> SourceConfig:
        if name not in SOURCES:
            raise ConfigError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}", key="SOURCE")
        return self.servicenow if name == "servicenow" else self.jira


def load_import_config(project: Project) -> ImportConfig:
    """config/import.yml of the project; ConfigError (file, key, line) on any problem."""
    path = project.root / IMPORT_FILE
    if not path.is_file():
        raise ConfigError("not found: importing history needs its mapping file (copy it from the example project "
                          "with `incidents init`)", file=IMPORT_FILE)
    node = Node(read_yaml(path, IMPORT_FILE), IMPORT_FILE, "")
    node.only(*SOURCES)
    allowed = _allowed_values(project)
    return ImportConfig(*(_source(node, name, allowed, project) for name in SOURCES))


def _allowed_values(project: Project) -> dict[str, tuple[str, ...]]:
    incidents = project.table("incidents")
    result = {}
    for name, fallback in _FALLBACK_ALLOWED.items():
        column = incidents.column(name) if incidents else None
        result[name] = column.allowed_values if column is not None and column.allowed_values else fallback
    return result


def _source(parent: Node, name: str, allowed: dict[str, tuple[str, ...]], project: Project) -> SourceConfig:
    node = parent.child(name, parent.get(name, dict, required=True))
    extra = ("timezone", "date_format", "initial_state") if name == "servicenow" else ("fields", "sla")
    node.only(*MAPPINGS, *extra)
    maps: dict[str, Any] = {
        "statuses": _mapping(node, "statuses", lambda n, k, v: _one_of(n, k, v, allowed["status"])),
        "priorities": _mapping(node, "priorities", lambda n, k, v: _triage(n, k, v, allowed)),
        "urgencies": _mapping(node, "urgencies", lambda n, k, v: _one_of(n, k, v, allowed["priority"])),
        "impacts": _mapping(node, "impacts", lambda n, k, v: _one_of(n, k, v, allowed["impact_level"])),
        "categories": _mapping(node, "categories", _code),
        "groups": _mapping(node, "groups", lambda n, k, v: _text(n, k, v, 100), nullable_default=True),
        "sources": _mapping(node, "sources", lambda n, k, v: _one_of(n, k, v, allowed["source"])),
        "resolution_codes": _mapping(node, "resolution_codes",
                                     lambda n, k, v: _one_of(n, k, v, allowed["resolution_code"]),
                                     nullable_default=True),
    }
    if name == "servicenow":
        initial = node.get("initial_state", str, "New")
        config = SourceConfig(name, **maps, timezone=_timezone(node), date_format=_date_format(node),
                              initial_state=_text(node, "initial_state", initial, 200))
        if config.initial_status not in project.lifecycle.open:
            raise node.error("initial_state", f"{initial!r} maps to {config.initial_status!r}, which is not an open "
                                              "status of config/project.yml lifecycle; map it to one in statuses")
        return config
    fields = node.child("fields", node.get("fields", dict, {}))
    fields.only("group", "impact", "urgency")
    sla = node.child("sla", node.get("sla", dict, {}))
    sla.only("resolution", "first_response")
    return SourceConfig(
        name, **maps, group_field=_field_id(fields, "group"), impact_field=_field_id(fields, "impact"),
        urgency_field=_field_id(fields, "urgency"),
        sla_resolution=_text(sla, "resolution", sla.get("resolution", str, "Time to resolution"), 200),
        sla_first_response=_text(sla, "first_response", sla.get("first_response", str, "Time to first response"),
                                 200))


Node = Node
Check = Any  # (node, key, value) -> the mapped value


def _mapping(parent: Node, key: str, check: Check, *, nullable_default: bool = False) -> Mapping:
    node = parent.child(key, parent.get(key, dict, required=True))
    node.only("map", "default")
    if "default" not in node.data:
        raise node.error("default", "is required: the value every source value without a mapping gets"
                         + (" (null for none)" if nullable_default else ""))
    raw_default = node.data["default"]
    if raw_default is None and not nullable_default:
        raise node.error("default", "is required: the value every source value without a mapping gets")
    default = None if raw_default is None else check(node, "default", node.get("default", (str, dict)))
    entries = node.child("map", node.get("map", dict, {}))
    pairs: dict[str, Any] = {}
    for source_value, target in entries.data.items():
        label = _source_value(entries, source_value)
        folded = label.strip().lower()
        if folded in pairs:
            raise entries.error(label, f"maps {folded!r} a second time (values are matched ignoring case and "
                                       "surrounding blanks); keep one")
        if target is None:
            raise entries.error(label, "expected a value to map to, got nothing")
        pairs[folded] = check(entries, label, entries.get(label if label in entries.data else source_value,
                                                          (str, dict)))
    return Mapping(tuple(pairs.items()), default)


def _source_value(node: Node, key: Any) -> str:
    if isinstance(key, bool) or key is None:
        raise node.error(str(key), "YAML read this source value as a boolean or null; quote it (e.g. \"On\")")
    text = str(key)
    if not text.strip() or len(text) > 200:
        raise node.error(text, "expected a source value of 1 to 200 characters")
    return text


def _one_of(node: Node, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise node.error(key, f"expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _triage(node: Node, key: str, value: Any, allowed: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise node.error(key, "expected {priority: ..., severity: ...}")
    child = node.child(key, value)
    child.only("priority", "severity")
    return (_one_of(child, "priority", child.get("priority", str, required=True), allowed["priority"]),
            _one_of(child, "severity", child.get("severity", str, required=True), allowed["severity"]))


def _code(node: Node, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 50:
        raise node.error(key, "expected a category code of incident_categories (at most 50 characters)")
    return str(value)


def _text(node: Node, key: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise node.error(key, f"expected a non-empty text of at most {limit} characters")
    return str(value)


def _timezone(node: Node) -> str:
    name = node.get("timezone", str, "UTC")
    check_timezone(name, lambda message: node.error("timezone", message))
    return str(name)


def check_timezone(name: str, error: Any) -> None:
    """Raise error(message) unless `name` is an IANA time zone this machine knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise error(f"unknown time zone {name!r}; expected an IANA name such as UTC or Europe/Berlin") from None


def _date_format(node: Node) -> str:
    value = node.get("date_format", str, "auto")
    return check_date_format(value, lambda message: node.error("date_format", message))


def check_date_format(value: str, error: Any) -> str:
    """`value` if it is one of DATE_FORMATS or a strptime pattern that formats a date, else error(message)."""
    if value in DATE_FORMATS:
        return value
    if "%" in value:
        try:
            dt.datetime(2016, 2, 29, 13, 45, 7).strftime(value)
        except ValueError:
            pass
        else:
            if any(code in value for code in ("%d", "%j")) and any(code in value for code in ("%Y", "%y")):
                return value
    raise error(f"expected {', '.join(DATE_FORMATS)} or a strptime pattern with a day and a year such as "
                f"'%d.%m.%Y %H:%M:%S', got {value!r}")


def _field_id(node: Node, key: str) -> str | None:
    value = node.get(key, str, nullable=True)  # null: the instance has no such field
    if value is not None and not _FIELD_ID.fullmatch(value):
        raise node.error(key, f"expected a Jira field id such as customfield_10004, got {value!r}")
    return None if value is None else str(value)
