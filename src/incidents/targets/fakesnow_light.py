"""fakesnow's own modules, loaded without snowflake-connector-python's package (issue 26.3).

fakesnow imports the Snowflake connector for a handful of names: its error classes, `paramstyle`, and a few
classes it only subclasses or compares with (`ResultBatch`, `ResultMetadata`, `SnowflakeCursor`,
`DictCursor`). Importing them runs the connector's `__init__` and `options` modules, which import boto3,
botocore, the vendored requests, OpenSSL and the OCSP and authentication code: about 0.6 s of every local
command, for nothing the local target runs.

So the local target loads fakesnow's modules a second time under a private name (`incidents._fakesnow.`),
from fakesnow's own files, unchanged, with their imports of `fakesnow...` and `snowflake.connector...`
answered privately:

- `fakesnow.X` -> the private copy of fakesnow's module X (fakesnow's package `__init__`, which imports
  the connector to offer `fakesnow.patch`, is not run);
- `snowflake.connector.errors` (and the small modules it imports) -> a private copy of the connector's own
  module, so errors carry the same classes' behaviour, messages, `errno` and `sqlstate`;
- the names fakesnow only subclasses or compares with -> stand-ins in this module (`_FACADES`);
- anything else of the connector (its value converter for pyformat parameters, its gzip helper for PUT) ->
  the real module, imported on first use only.

The real `fakesnow` and `snowflake.connector` packages in `sys.modules` are never touched: a process can use
the local target and the real connector (against `fakesnow.server()`, say) side by side. The price is two
copies of fakesnow's modules when both are used in one process.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any, NamedTuple

PREFIX = "incidents._fakesnow"
# The connector's modules fakesnow's import chain needs that import nothing heavy (checked by a test).
_LIGHT_CONNECTOR_MODULES = {"errors", "errorcode", "secret_detector", "telemetry", "description", "version",
                            "test_util", "time_util", "sqlstate"}
_lock = threading.RLock()


def module(name: str) -> types.ModuleType:
    """fakesnow's module `name` (e.g. "instance", "pandas_tools"), loaded privately."""
    _install()
    return importlib.import_module(f"{PREFIX}.fakesnow.{name}")


def errors() -> types.ModuleType:
    """The private copy of `snowflake.connector.errors` the private fakesnow raises from."""
    _install()
    return importlib.import_module(f"{PREFIX}.snowflake.connector.errors")


# --------------------------------------------------------------------------- stand-ins

class ResultMetadata(NamedTuple):
    """snowflake.connector.cursor.ResultMetadata's fields (fakesnow builds its cursor description of them)."""

    name: str
    type_code: int
    display_size: int | None
    internal_size: int | None
    precision: int | None
    scale: int | None
    is_nullable: bool

    @classmethod
    def from_column(cls, col: dict[str, Any]) -> ResultMetadata:
        """As the connector's: the type code from its own table (imported on use: the local Session never asks)."""
        ids = importlib.import_module("snowflake.connector.constants").FIELD_NAME_TO_ID
        type_code = ids[(col.get("extTypeName") or col["type"]).upper()]
        return cls(col["name"], type_code, None, col["length"], col["precision"], col["scale"], col["nullable"])


class SnowflakeCursor:
    """Stand-in: fakesnow only compares a requested cursor class with DictCursor."""


class DictCursor(SnowflakeCursor):
    """Stand-in: asking the private fakesnow connection for this class gives rows as dicts, as fakesnow does."""


class ResultBatch:
    """Stand-in for the base class of fakesnow's FakeResultBatch (only `get_result_batches` makes them)."""


class _OnFirstUse:
    """A class of the real connector, imported when first instantiated or used (the real import is slow)."""

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name

    def _real(self) -> Any:
        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._name == "SnowflakeConverter":
            return _LazyInstance(self, args, kwargs)
        return self._real()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class _LazyInstance:
    """An instance made on first attribute use: fakesnow builds a SnowflakeConverter for every cursor but uses
    it only for pyformat parameters."""

    def __init__(self, cls: _OnFirstUse, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
        self._cls, self._args, self._kwargs, self._instance = cls, args, kwargs, None

    def __getattr__(self, name: str) -> Any:
        if self._instance is None:
            self._instance = self._cls._real()(*self._args, **self._kwargs)
        return getattr(self._instance, name)


def _facade(name: str, attrs: dict[str, Any]) -> types.ModuleType:
    facade = types.ModuleType(f"{PREFIX}.{name}")
    facade.__dict__.update(attrs)
    return facade


def _connector_package() -> types.ModuleType:
    """`snowflake.connector` as fakesnow sees it: `paramstyle`, the error classes, and its submodules."""
    real = importlib.machinery.PathFinder.find_spec("snowflake.connector", _locations("snowflake"))
    if real is None or not real.submodule_search_locations:
        raise ModuleNotFoundError("snowflake.connector is not installed", name="snowflake.connector")
    package = _facade("snowflake.connector", {"paramstyle": "pyformat", "apilevel": "2.0"})
    package.__path__ = list(real.submodule_search_locations)
    package.__package__ = package.__name__
    return package


def _after_errors(package: types.ModuleType) -> None:
    # `snowflake.connector.NotSupportedError` and friends, as the real package re-exports them.
    errors_module = importlib.import_module(f"{PREFIX}.snowflake.connector.errors")
    package.__dict__.update({k: v for k, v in vars(errors_module).items()
                             if isinstance(v, type) and issubclass(v, BaseException)})


_FACADES: dict[str, Any] = {
    "snowflake.connector.cursor": lambda: _facade("snowflake.connector.cursor", {
        "ResultMetadata": ResultMetadata, "SnowflakeCursor": SnowflakeCursor, "DictCursor": DictCursor}),
    "snowflake.connector.result_batch": lambda: _facade("snowflake.connector.result_batch",
                                                        {"ResultBatch": ResultBatch}),
    "snowflake.connector.converter": lambda: _facade("snowflake.connector.converter", {
        "SnowflakeConverter": _OnFirstUse("snowflake.connector.converter", "SnowflakeConverter")}),
    "snowflake.connector.file_util": lambda: _facade("snowflake.connector.file_util", {
        "SnowflakeFileUtil": _OnFirstUse("snowflake.connector.file_util", "SnowflakeFileUtil")}),
}


# --------------------------------------------------------------------------- the private import

def _redirected(name: str) -> bool:
    return name == "fakesnow" or name.startswith("fakesnow.") or name == "snowflake.connector" \
        or name.startswith("snowflake.connector.")


def _private_import(name: str, globals: Any = None, locals: Any = None, fromlist: Sequence[str] | None = (),
                    level: int = 0) -> types.ModuleType:
    """`__import__` of the private modules: absolute imports of fakesnow and the connector stay private."""
    if level or not _redirected(name):
        return builtins.__import__(name, globals, locals, fromlist, level)
    target = importlib.import_module(f"{PREFIX}.{name}")
    if fromlist:
        for item in fromlist:
            if item != "*" and not hasattr(target, item):
                with contextlib.suppress(ModuleNotFoundError):  # else the `from` import reports it as usual
                    importlib.import_module(f"{target.__name__}.{item}")
        return target
    return sys.modules[f"{PREFIX}.{name.partition('.')[0]}"]


_BUILTINS = {**vars(builtins), "__import__": _private_import}


class _PrivateSourceLoader(importlib.machinery.SourceFileLoader):
    """Runs a module of fakesnow or the connector, unchanged, with the private `__import__`."""

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = _BUILTINS
        super().exec_module(module)


class _FacadeLoader(importlib.abc.Loader):
    def __init__(self, make: Any) -> None:
        self.make = make

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        made: types.ModuleType = self.make()
        return made

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ == f"{PREFIX}.snowflake.connector":
            sys.modules[module.__name__] = module
            _after_errors(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == PREFIX:  # the private namespace itself
            return importlib.machinery.ModuleSpec(fullname, _FacadeLoader(lambda: types.ModuleType(PREFIX)),
                                                  is_package=True)
        if not fullname.startswith(f"{PREFIX}."):
            return None
        real = fullname[len(PREFIX) + 1:]
        if real in ("fakesnow", "snowflake"):  # packages whose __init__ is not run (fakesnow's imports the connector)
            spec = importlib.machinery.ModuleSpec(fullname, _FacadeLoader(lambda: _facade(real, {})), is_package=True)
            spec.submodule_search_locations = _locations(real)
            return spec
        if real == "snowflake.connector":
            return importlib.machinery.ModuleSpec(fullname, _FacadeLoader(_connector_package), is_package=True)
        if real in _FACADES:
            return importlib.machinery.ModuleSpec(fullname, _FacadeLoader(_FACADES[real]))
        if real.startswith("snowflake.connector.") and real.split(".")[2] not in _LIGHT_CONNECTOR_MODULES:
            return importlib.machinery.ModuleSpec(fullname, _FacadeLoader(lambda: _real_module(real)))
        parent = sys.modules[fullname.rpartition(".")[0]]
        found = importlib.machinery.PathFinder.find_spec(real, list(parent.__path__))
        if found is None or found.origin is None or not found.origin.endswith(".py"):
            return None
        loader = _PrivateSourceLoader(fullname, found.origin)
        return importlib.util.spec_from_file_location(fullname, found.origin, loader=loader,
                                                      submodule_search_locations=found.submodule_search_locations)


def _real_module(name: str) -> types.ModuleType:
    """A connector module fakesnow needs that has no stand-in: the real one (slow, but what fakesnow would do)."""
    return importlib.import_module(name)


def _locations(top: str) -> list[str]:
    spec = importlib.util.find_spec(top)  # a top-level name: found without running anything
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{top} is not installed", name=top)
    return list(spec.submodule_search_locations)


def _install() -> None:
    with _lock:
        if not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())
