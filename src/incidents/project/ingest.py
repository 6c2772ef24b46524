"""Load and validate config/ingest.yml: how an alert's labels map onto an incident.

Validated like every config file (file, key path and line in every error), with the same YAML
reader as config.py. Values reach SQL only through `literal` in templates/ingest/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incidents.errors import ConfigError
from incidents.project.models import Project
from incidents.project.reader import Node, read_yaml

INGEST_FILE = "config/ingest.yml"
# Prometheus label names (the classic, portable set).
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,127}")
_ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_FALLBACK_ALLOWED = {
    "priority": ("critical", "high", "medium", "low"),
    "severity": ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5"),
    "impact_level": ("critical", "major", "moderate", "minor", "none"),
}


@dataclass(frozen=True)
class Triage:
    priority: str
    severity: str
    impact_level: str


@dataclass(frozen=True)
class CategoryRule:
    match: tuple[tuple[str, str], ...]  # (label, value): all must hold
    category: str


@dataclass(frozen=True)
class ReceiveSettings:
    batch_seconds: float = 2.0
    batch_alerts: int = 1000
    max_request_bytes: int = 1_048_576
    token_env: str = "INCIDENTS_RECEIVE_TOKEN"
    header_timeout_seconds: float = 10.0  # a connection must send its request line and headers in this time
    body_timeout_seconds: float = 30.0  # and its whole body in this time after the headers
    max_connections: int = 100  # open connections at once; more are closed at once
    pagerduty_secret_env: str = "INCIDENTS_PAGERDUTY_WEBHOOK_SECRET"  # holds the v3 subscription's signing secret


@dataclass(frozen=True)
class Grouping:
    """Alert grouping (`grouping:`): episodes whose `by` labels match join the incident of their group's
    first alert while each starts within `window_minutes` of the previous one, the group still fires and
    it is younger than `max_life_minutes` (templates/ingest/episodes.sql.j2)."""

    by: tuple[str, ...]
    window_minutes: int = 10
    max_life_minutes: int = 60


@dataclass(frozen=True)
class IngestConfig:
    system_email: str = "alertmanager@system.shop.example"
    system_name: str = "alertmanager (system)"
    source_labels: tuple[str, ...] = ("service", "job")
    source_default: str = "alertmanager"
    severity_label: str = "severity"
    severities: tuple[tuple[str, Triage], ...] = ()
    categories: tuple[CategoryRule, ...] = ()
    default_category: str = "SYSTEM_OUTAGE"
    default_triage: Triage = Triage("medium", "SEV3", "minor")
    opened_status: str = "new"
    resolved_status: str = "resolved"
    receive: ReceiveSettings = field(default_factory=ReceiveSettings)
    warehouse: str | None = None
    schedule_minutes: int = 5
    grouping: Grouping | None = None  # None: every alert episode opens its own incident

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.default_category, *(r.category for r in self.categories)]))


def ingest_file_exists(root: Path) -> bool:
    return (root / INGEST_FILE).is_file()


def load_ingest_config(project: Project) -> IngestConfig:
    """config/ingest.yml of the project; ConfigError (file, key, line) on any problem."""
    path = project.root / INGEST_FILE
    if not path.is_file():
        raise ConfigError("not found: alert ingestion needs its mapping file (copy it from the example project)",
                          file=INGEST_FILE)
    node = Node(read_yaml(path, INGEST_FILE), INGEST_FILE, "")
    node.only("system_user", "source_system", "severity_label", "severities", "categories", "defaults", "statuses",
              "receive", "snowflake", "grouping")
    allowed = _allowed_values(project)
    user = node.child("system_user", node.get("system_user", dict, {}))
    user.only("email", "full_name")
    source = node.child("source_system", node.get("source_system", dict, {}))
    source.only("labels", "default")
    defaults = node.child("defaults", node.get("defaults", dict, required=True))
    defaults.only("category", "priority", "severity", "impact_level")
    statuses = _statuses(node, project)
    grouping = _grouping(node)
    if grouping and project.table("incident_alerts") is None:
        raise node.error("grouping", "needs the table incident_alerts, where grouped alerts are linked to their "
                                     "incident: restore config/tables/incident_alerts.yml")
    return IngestConfig(
        system_email=_text(user, "email", 320, "alertmanager@system.shop.example"),
        system_name=_text(user, "full_name", 200, "alertmanager (system)"),
        source_labels=tuple(_label(source, f"labels[{i}]", v) for i, v in
                            enumerate(source.get("labels", list, ["service", "job"]))),
        source_default=_text(source, "default", 100, "alertmanager"),
        severity_label=_label(node, "severity_label", node.get("severity_label", str, "severity")),
        severities=_severities(node, allowed),
        categories=_categories(node),
        default_category=_code(defaults, "category", defaults.get("category", str, required=True)),
        default_triage=_triage(defaults, allowed),
        opened_status=statuses[0],
        resolved_status=statuses[1],
        receive=_receive(node),
        grouping=grouping,
        **_snowflake(node),
    )


def _allowed_values(project: Project) -> dict[str, tuple[str, ...]]:
    incidents = project.table("incidents")
    result = {}
    for name, fallback in _FALLBACK_ALLOWED.items():
        column = incidents.column(name) if incidents else None
        result[name] = column.allowed_values if column is not None and column.allowed_values else fallback
    return result


def _text(node: Node, key: str, limit: int, default: str) -> str:
    value = node.get(key, str, default)
    if not value.strip() or len(value) > limit:
        raise node.error(key, f"expected a non-empty text of at most {limit} characters")
    return str(value)


def _label(node: Node, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _LABEL_RE.fullmatch(value):
        raise node.error(key, f"expected an alert label name (letters, digits, _; not starting with a digit), "
                              f"got {value!r}")
    return str(value)


def _code(node: Node, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 50:
        raise node.error(key, "expected a category code of incident_categories (at most 50 characters)")
    return str(value)


def _one_of(node: Node, key: str, allowed: tuple[str, ...], *, required: bool = True) -> str:
    value = node.get(key, str, required=required)
    if value not in allowed:
        raise node.error(key, f"expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _triage(node: Node, allowed: dict[str, tuple[str, ...]]) -> Triage:
    return Triage(*(_one_of(node, key, allowed[key]) for key in ("priority", "severity", "impact_level")))


def _severities(parent: Node, allowed: dict[str, tuple[str, ...]]) -> tuple[tuple[str, Triage], ...]:
    node = parent.child("severities", parent.get("severities", dict, {}))
    result = []
    for value, spec in node.data.items():
        child = node.child(str(value), spec)
        child.only("priority", "severity", "impact_level")
        result.append((str(value).lower(), _triage(child, allowed)))
    return tuple(result)


def _categories(parent: Node) -> tuple[CategoryRule, ...]:
    rules = []
    for key, value in parent.items("categories"):
        rule = parent.child(key, value)
        rule.only("match", "category")
        match = rule.child("match", rule.get("match", dict, required=True))
        if not match.data:
            raise rule.error("match", "give at least one label: value pair")
        pairs = []
        for label, wanted in match.data.items():
            _label(match, str(label), label)
            if not isinstance(wanted, (str, int, float)) or isinstance(wanted, bool):
                raise match.error(str(label), "expected the label value as a string")
            pairs.append((str(label), str(wanted)))
        rules.append(CategoryRule(tuple(pairs), _code(rule, "category", rule.get("category", str, required=True))))
    return tuple(rules)


def _statuses(parent: Node, project: Project) -> tuple[str, str]:
    node = parent.child("statuses", parent.get("statuses", dict, {}))
    node.only("opened", "resolved")
    opened = _one_of(node, "opened", project.lifecycle.open, required=False) if "opened" in node.data else "new"
    resolved = (_one_of(node, "resolved", project.lifecycle.resolved, required=False)
                if "resolved" in node.data else "resolved")
    for key, value, phase in (("opened", opened, project.lifecycle.open),
                              ("resolved", resolved, project.lifecycle.resolved)):
        if value not in phase:
            raise node.error(key, f"{value!r} is not a status of this phase in config/project.yml lifecycle; "
                                  "set statuses.opened / statuses.resolved")
    return opened, resolved


def _receive(parent: Node) -> ReceiveSettings:
    node = parent.child("receive", parent.get("receive", dict, {}))
    node.only("batch_seconds", "batch_alerts", "max_request_bytes", "token_env", "header_timeout_seconds",
              "body_timeout_seconds", "max_connections", "pagerduty_secret_env")
    seconds = node.get("batch_seconds", (int, float), 2.0)
    if not 0.05 <= seconds <= 300:
        raise node.error("batch_seconds", "expected 0.05 to 300 seconds")
    alerts = node.get("batch_alerts", int, 1000)
    if not 1 <= alerts <= 1_000_000:
        raise node.error("batch_alerts", "expected 1 to 1,000,000 alerts")
    size = node.get("max_request_bytes", int, 1_048_576)
    if not 1024 <= size <= 100_000_000:
        raise node.error("max_request_bytes", "expected 1024 to 100,000,000 bytes")
    token_env = _env_var_name(node, "token_env", "INCIDENTS_RECEIVE_TOKEN")
    secret_env = _env_var_name(node, "pagerduty_secret_env", "INCIDENTS_PAGERDUTY_WEBHOOK_SECRET")
    timeouts = {key: _seconds(node, key, default) for key, default in (("header_timeout_seconds", 10.0),
                                                                        ("body_timeout_seconds", 30.0))}
    connections = node.get("max_connections", int, 100)
    if not 1 <= connections <= 10_000:
        raise node.error("max_connections", "expected 1 to 10,000 connections")
    return ReceiveSettings(float(seconds), alerts, size, token_env, max_connections=connections,
                           pagerduty_secret_env=secret_env, **timeouts)


def _env_var_name(node: Node, key: str, default: str) -> str:
    name = node.get(key, str, default)
    if not _ENV_VAR_RE.fullmatch(name):
        raise node.error(key, "expected an environment variable name (letters, digits, _)")
    return str(name)


def _seconds(node: Node, key: str, default: float) -> float:
    value = node.get(key, (int, float), default)
    if isinstance(value, bool) or not 0.1 <= value <= 600:
        raise node.error(key, "expected 0.1 to 600 seconds")
    return float(value)


def _grouping(parent: Node) -> Grouping | None:
    if "grouping" not in parent.data:
        return None
    node = parent.child("grouping", parent.get("grouping", dict, required=True))
    node.only("by", "window_minutes", "max_life_minutes")
    labels = node.get("by", list, required=True)
    if not labels or len(labels) > 10:
        raise node.error("by", "expected 1 to 10 alert label names, e.g. [service, alertname]")
    by = tuple(_label(node, f"by[{i}]", v) for i, v in enumerate(labels))
    if len(set(by)) != len(by):
        raise node.error("by", "a label is named twice")
    window = _minutes(node, "window_minutes", 10)
    life = _minutes(node, "max_life_minutes", 60)
    if life < window:
        raise node.error("max_life_minutes", f"expected at least window_minutes ({window})")
    return Grouping(by, window, life)


def _minutes(node: Node, key: str, default: int) -> int:
    value = node.get(key, int, default)
    if isinstance(value, bool) or not 1 <= value <= 10_080:
        raise node.error(key, "expected 1 to 10080 minutes (a week)")
    return int(value)


def _snowflake(parent: Node) -> dict[str, Any]:
    node = parent.child("snowflake", parent.get("snowflake", dict, {}))
    node.only("warehouse", "schedule_minutes")
    minutes = node.get("schedule_minutes", int, 5)
    if not 1 <= minutes <= 11520:
        raise node.error("schedule_minutes", "expected 1 to 11520 minutes (Snowflake's task schedule range)")
    return {"warehouse": node.ident("warehouse", required=False), "schedule_minutes": minutes}
