"""Reading config YAML: line numbers on every key, and a validating view of a mapping (`Node`) that
names the file, the key path and the line in every error. Every string read is marked ConfigText, so
a template can print it only through `| literal` or `| ident`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from incidents.errors import ConfigError
from incidents.sql import identifiers
from incidents.sql.text import ConfigText


class LineDict(dict):
    lines: dict[str, int]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser when PyYAML has it (about 10x faster: config is read on every command)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ConfigError(f"a key must be a plain name, got {kind_of(key)}", line=key_node.start_mark.line + 1)
        if key in result:
            raise ConfigError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_CONFIG_BYTES = 10_000_000


def read_yaml(path: Path, rel: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=rel) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"file is larger than {MAX_CONFIG_BYTES:,} bytes; config files are small", file=rel)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("file is UTF-16; save it as UTF-8", file=rel)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8", file=rel,
                          line=line) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise ConfigError("nested too deeply to be config; flatten it", file=rel) from None
    except ConfigError as exc:
        raise ConfigError(str(exc).split(": ", 1)[-1], file=rel, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit, before Python's recursion limit
            raise ConfigError("nested too deeply to be config; flatten it", file=rel) from None
        raise ConfigError(f"invalid YAML: {problem}; fix the syntax",
                          file=rel, line=mark.line + 1 if mark else None) from None


class Node:
    """A mapping being validated, with the file and key path for error messages."""

    def __init__(self, data: Any, file: str, path: str, line: int | None = None) -> None:
        self.file, self.path, self.line = file, path, line
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping, got {kind_of(data)}", file=file, key=path or None, line=line)
        self.data = data

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _line(self, key: str) -> int | None:
        return getattr(self.data, "lines", {}).get(key, self.line)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self._key(key), line=self._line(key))

    def only(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(str(key), f"unknown key; expected one of {', '.join(allowed)}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False,
            nullable: bool = False) -> Any:
        """The key's value, checked to be of `kind`; `default` when the key is absent. An explicit null is
        refused (a silent fallback to the default hid typos) unless the key takes null (`nullable`)."""
        if key not in self.data:
            if required:
                raise self.error(key, "is required")
            return default
        if self.data[key] is None:
            if required:
                raise self.error(key, "is required")
            if not nullable:
                raise self.error(key, f"is null; give {kind_names(kind)} or leave the key out")
            return default
        value = self.data[key]
        if kind is not bool and isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"expected {kind_names(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {kind_names(kind)}, got {kind_of(value)}")
        return config_text(value)

    def ident(self, key: str, *, required: bool = True) -> str:
        value = self.get(key, str, required=required)
        return self.check_ident(key, value) if value is not None else value  # type: ignore[return-value]

    def check_ident(self, key: str, value: Any) -> str:
        try:
            return identifiers.check(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def idents(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        values = self.get(key, list, [], required=required)
        return tuple(self.check_ident(f"{key}[{i}]", v) for i, v in enumerate(values))

    def child(self, key: str, value: Any) -> Node:
        return Node(value, self.file, self._key(key), self._line(key))

    def items(self, key: str, *, required: bool = False) -> Iterator[tuple[str, Any]]:
        for i, value in enumerate(self.get(key, list, [], required=required)):
            yield f"{key}[{i}]", value


def config_text(value: Any) -> Any:
    """Mark every string read from config (also inside lists and mappings) as ConfigText."""
    if isinstance(value, str):
        return ConfigText(value)
    if isinstance(value, list):
        return [config_text(v) for v in value]
    if isinstance(value, dict):
        marked = type(value)((k, config_text(v)) for k, v in value.items())
        if isinstance(value, LineDict) and isinstance(marked, LineDict):
            marked.lines = value.lines
        return marked
    return value


def kind_of(value: Any) -> str:
    """What a YAML value is, in the user's words."""
    for kind, words in ((bool, "a boolean"), (int, "a whole number"), (float, "a decimal number"),
                        (str, "a string"), (dict, "a mapping"), (list, "a list"), (type(None), "nothing")):
        if isinstance(value, kind):
            return words
    return f"a YAML {type(value).__name__} value"


def kind_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string", dict: "a mapping",
             list: "a list", type(None): "nothing"}
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))
