"""Compiled SQL templates kept between runs (issue 26.3: start-up of `diff` and `deploy`).

Every command that renders the project compiles its ~60 Jinja templates to Python first, a fifth of a no-op
`incidents deploy` on the local target. Jinja's own bytecode cache keeps the compiled code in files and checks
each template's source checksum before using it, so an edited template is compiled again. The folder is
`$INCIDENTS_CACHE_DIR`, else `$XDG_CACHE_HOME/incidents`, else `~/.cache/incidents`, one sub-folder per
incidents version (the compiled code also depends on the environment's settings, which a version fixes);
`INCIDENTS_CACHE_DIR=off` turns the cache off, and a folder that cannot be written means no cache, never an
error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import jinja2

from incidents.version import __version__


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    configured = environ.get("INCIDENTS_CACHE_DIR")
    if configured == "off":
        return None
    base = Path(configured or environ.get("XDG_CACHE_HOME") or Path.home() / ".cache" / "").expanduser()
    if not configured:
        base = base / "incidents"
    return base / f"templates-{__version__}-py{sys.version_info.major}{sys.version_info.minor}"


def bytecode_cache(environ: Mapping[str, str] = os.environ) -> jinja2.BytecodeCache | None:
    folder = cache_dir(environ)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))
