"""Rich `--help` without importing what it does not use (issue 26.3).

typer renders help through `typer.rich_utils`, which imports `rich.markdown` (markdown-it) and
`rich.traceback` (rich.syntax) at import time: about 40% of `incidents --help`. Markdown renders help only in
typer's "markdown" markup mode (this CLI uses "rich"), and a Traceback is made only for an uncaught exception.
So before the CLI runs, those two modules are deferred: a stand-in answers `from rich.markdown import Markdown`
with a class that imports the real module when it is first called or asked for an attribute; the real module
then takes the stand-in's place in sys.modules, so every later import gets the real one.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

_DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}
_lock = threading.Lock()


class _DeferredModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # import machinery probing (__path__, __file__ ...): not a real use
        return getattr(_real(self.__name__), name)


class _DeferredClass(type):
    """The metaclass of a stand-in class (a real class, so `Markdown | Text` annotations work): calling it or
    reading an attribute uses the real class, imported then."""

    _target: tuple[str, str]

    def _real(cls) -> Any:
        module, name = cls._target
        return getattr(_real(module), name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)


def _real(name: str) -> types.ModuleType:
    with _lock:
        module = sys.modules.get(name)
        if isinstance(module, _DeferredModule):
            del sys.modules[name]
            module = importlib.import_module(name)
        return module if module is not None else importlib.import_module(name)


def install() -> None:
    """Defer the two modules unless something imported them already; label no flag with a type."""
    _flags_without_type_label()
    for name, cls in _DEFERRED.items():
        if name in sys.modules:
            continue
        stand_in = _DeferredModule(name)
        setattr(stand_in, cls, _DeferredClass(cls, (), {"_target": (name, cls)}))
        sys.modules[name] = stand_in


def _flags_without_type_label() -> None:
    """typer 0.2x labels every option with its type in help, flags too (`--dry-run <bool>`), which reads as if
    the flag took a value. A flag's row shows no type; other options keep theirs."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_flags_unlabelled", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich._flags_unlabelled = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
