"""incidents: schema-as-code for an ecommerce incident-management warehouse on Snowflake.

The Python API is `Workspace` (see `help(incidents.Workspace)`); the `incidents` command line is a
thin layer over it. Importing this package is cheap: the connector, fakesnow and pandas load only
when a call needs a target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incidents.version import __version__

__all__ = [
    "ConfigError",
    "DiffResult",
    "IncidentsError",
    "QueryResult",
    "RenderResult",
    "SeedResult",
    "TargetError",
    "ValidationResult",
    "Workspace",
    "__version__",
]

if TYPE_CHECKING:
    from incidents.errors import ConfigError, IncidentsError, TargetError
    from incidents.results import DiffResult, QueryResult, RenderResult, SeedResult, ValidationResult
    from incidents.workspace import Workspace

_WHERE = {
    "Workspace": "incidents.workspace",
    "ConfigError": "incidents.errors", "IncidentsError": "incidents.errors", "TargetError": "incidents.errors",
    **{name: "incidents.results" for name in
       ("DiffResult", "QueryResult", "RenderResult", "SeedResult", "ValidationResult")},
}


def __getattr__(name: str) -> Any:
    # Lazy, so `incidents --help` does not pay for modules a command may not need.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'incidents' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
