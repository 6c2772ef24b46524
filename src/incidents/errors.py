"""The project's own exceptions; the CLI maps each to an exit code and prints one line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`): data and config
    values shown to a user can neither break a one-line message nor drive the terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class IncidentsError(Exception):
    """Base class: a failure we can explain to the user without a traceback."""

    exit_code = 1


class Found(IncidentsError):
    """Something was found that the user asked about: drift, stale files, failed checks (exit 1)."""

    exit_code = 1


class ConfigError(IncidentsError):
    """The user's input is wrong: config, options, environment, credentials (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.file, self.key, self.line = file, key, line
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
            if key:
                where += f": {key}"
        elif key:
            where = key
        super().__init__(printable(f"{where}: {message}" if where else message))


class StateError(IncidentsError):
    """The target is not in a state the command can work on; the input itself is fine (exit 2)."""

    exit_code = 2


class NotDeployedError(StateError):
    """The tables a command needs do not exist yet: run `incidents deploy` first."""


class TablesNotEmptyError(StateError):
    """The command would overwrite rows that are already there (e.g. seed without --replace)."""


class TargetError(IncidentsError):
    """The target failed: connection, lock, or a statement Snowflake/fakesnow rejected (exit 3)."""

    exit_code = 3

    def __init__(self, message: str, *, obj: str | None = None, statement: str | None = None) -> None:
        self.obj, self.statement = obj, statement
        text = f"{obj}: {message}" if obj else message
        if statement:
            first = " ".join(statement.split())
            text += f" [statement: {first[:300]}{'...' if len(first) > 300 else ''}]"
        super().__init__(text)


class StatementCountError(IncidentsError):
    """SQL text holds more (or fewer) statements than the caller runs as one; nothing was sent (exit 2)."""

    exit_code = 2


class IncidentsWarning(UserWarning):
    """Something the user should fix that does not stop the command (the CLI prints one line)."""


def first_line(exc: BaseException) -> str:
    """The first line of a driver's error (the connector puts the message in `msg`); drivers add
    query ids and stack-like detail below it that a user does not need."""
    text = str(getattr(exc, "msg", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
