"""Keep pandas out of the local target's start-up until something uses it.

fakesnow imports snowflake.connector, whose `options` module imports pandas at import time only to
learn that it is installed (about half of fakesnow's import cost). On the local target `incidents
query`, `diff` and `deploy` never touch pandas; `seed` does. So before the connector is first
imported we put a stand-in module under the name `pandas`: the connector's availability probe
(`from pandas import DataFrame` in snowflake.connector.options) is answered without importing it,
and the first real use of any pandas attribute imports the real package and from then on the
stand-in forwards to it (the real module also takes its place in sys.modules).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from types import FrameType
from typing import Any

_PROBE = "snowflake.connector.options"


class _LazyPandas(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name in ("DataFrame", "__path__") and _probing():
            if name == "__path__":  # `from pandas import DataFrame` first asks whether pandas is a package
                raise AttributeError(name)
            return object  # the probe discards it; nobody else is answered without real pandas
        real = _load(self)
        return getattr(real, name)


def _probing() -> bool:
    frame: FrameType | None = sys._getframe(2)
    for _ in range(4):  # the probe itself, or importlib's handling of its `from ... import`
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == _PROBE:
            return True
        frame = frame.f_back
    return False


def _load(proxy: types.ModuleType) -> types.ModuleType:
    if sys.modules.get("pandas") is proxy:
        del sys.modules["pandas"]
    real = importlib.import_module("pandas")
    proxy.__dict__.update({k: v for k, v in real.__dict__.items() if k not in ("__name__", "__spec__")})
    return real


class _AlreadyLoaded(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import pandas.x` while the stand-in is in place: Python reads the stand-in's __path__, which
    imports real pandas (and pandas.x with it); this hands back that pandas.x instead of running it twice."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        module = sys.modules.get(name) if name.startswith("pandas.") else None
        return importlib.util.spec_from_loader(name, self) if module is not None else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return sys.modules[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    """Put the stand-in in place if neither pandas nor the connector is imported yet and pandas
    is installed (without it the connector's probe must fail as usual)."""
    if "pandas" in sys.modules or "snowflake.connector" in sys.modules:
        return
    spec = importlib.util.find_spec("pandas")
    if spec is None:
        return
    proxy = _LazyPandas("pandas")
    proxy.__spec__ = spec
    sys.modules["pandas"] = proxy
    sys.meta_path.insert(0, _AlreadyLoaded())
