"""Shell completion of environment, connection and view names: read from files, never a connection.

Typer calls these while the shell asks for candidates, so they must be fast and must never fail
loudly: any problem (no project here, a broken YAML file) means no candidates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer


def _project_file(ctx: typer.Context, name: str) -> Any:
    import yaml

    from incidents.project.config import find_project_dir

    try:
        root = find_project_dir(ctx.params.get("project_dir") or os.environ.get("INCIDENTS_PROJECT_DIR"))
        return yaml.safe_load((Path(root) / "config" / name).read_text(encoding="utf-8"))
    except Exception:  # completion offers nothing rather than a traceback in the user's shell
        return None


def environments(ctx: typer.Context, incomplete: str) -> list[str]:
    data = _project_file(ctx, "project.yml")
    names = data.get("environments") if isinstance(data, dict) else None
    return sorted(str(n) for n in names if str(n).startswith(incomplete)) if isinstance(names, dict) else []


def connections(incomplete: str) -> list[str]:
    from incidents.targets.snowflake import read_connections, snowflake_home

    try:
        found, _ = read_connections(snowflake_home(), os.environ)
    except Exception:
        return []
    return sorted(name for name in found if name.startswith(incomplete))


def view_queries(ctx: typer.Context, incomplete: str) -> list[str]:
    """`SELECT * FROM v_...` for each declared view, the usual first query of a view; its spaces and `*`
    backslash-escaped, as bash completes a file name with spaces: the shell reads one argument and expands
    nothing (and the candidates still start with what was typed, which the completion filters on)."""
    import re

    data = _project_file(ctx, "views.yml")
    views = data.get("views") if isinstance(data, dict) else data
    if not isinstance(views, list):
        return []
    names = [str(v["name"]) for v in views if isinstance(v, dict) and "name" in v]
    typed = incomplete.lstrip("'\"").lower()
    candidates = [f"SELECT * FROM {name}" for name in names]
    return [re.sub(r"([^\w.-])", r"\\\1", c) for c in candidates if c.lower().startswith(typed)] or \
        [n for n in names if n.startswith(incomplete)]
