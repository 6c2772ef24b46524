"""A Snowflake-rules local target: the fakesnow session, made to refuse and report what Snowflake does.

fakesnow accepts statements Snowflake rejects and reports metadata in its own form, so a change that
only works on fakesnow would pass every test. `SnowflakeRulesSession` wraps the local session and
enforces Snowflake's documented rules (each cited by the rule) before a statement reaches fakesnow,
and rewrites INFORMATION_SCHEMA answers into Snowflake's form. What it must remember across sessions
(clustering keys, which defaults ALTER TABLE added, view text as sent, grants) lives in
`snowflake_rules.json` beside the database files; `rules_state(path)` reads it for tests.

Switch it on for any local-target session with INCIDENTS_LOCAL_RULES=snowflake (account edition
enterprise) or INCIDENTS_LOCAL_RULES=snowflake:standard. It is a test aid, not Snowflake: see the
README section "Local target vs Snowflake" for what stays unverified without an account.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

STATE_FILE = "snowflake_rules.json"
NAME = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)'
QUALIFIED = rf"({NAME}(?:\s*\.\s*{NAME}){{0,2}})"
LITERAL = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|TRUE|FALSE|NULL", re.I)
SEMI_STRUCTURED = {"VARIANT", "OBJECT", "ARRAY"}
DEPLOY_ROLE = "DEPLOYER"  # the deploy role when the environment declares no `role:`
SESSION_USER = "DEPLOY_USER"
# What a role deploying access needs on the account (README "Access and privacy"; kinds.privileges).
DEPLOY_PRIVILEGES = ("CREATE ROLE", "MANAGE GRANTS", "APPLY MASKING POLICY", "APPLY TAG", "EXECUTE TASK",
                     "EXECUTE MANAGED TASK")


class SnowflakeRuleError(Exception):
    """What Snowflake would answer; `errno` as Snowflake numbers it where the docs or error pages say."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


def unquote(part: str) -> str:
    part = part.strip()
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.upper()


def object_name(qualified: str) -> tuple[str | None, str]:
    """(schema, name) of a one- to three-part name, upper case as Snowflake resolves it."""
    parts = [unquote(p) for p in re.findall(NAME, qualified)]
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


@dataclass
class RulesState:
    """What the rules remember between sessions (one JSON file per local database folder)."""

    path: Path
    edition: str = "enterprise"
    clustering: dict[str, list[str]] = field(default_factory=dict)       # TABLE -> clustering-key columns
    altered_defaults: list[str] = field(default_factory=list)           # TABLE.COLUMN added by ALTER ... DEFAULT
    views: dict[str, str] = field(default_factory=dict)                 # SCHEMA.VIEW -> CREATE text as sent
    # TABLE or VIEW (or "DATABASE D", "SCHEMA D.S", "FUTURE TABLES D.S") -> ["SELECT TO ROLE R", ...]
    grants: dict[str, list[str]] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)           # ROLE -> roles it is granted to
    policies: dict[str, str] = field(default_factory=dict)              # MASKING POLICY -> body
    masked: dict[str, str] = field(default_factory=dict)                # TABLE.COLUMN -> masking policy
    objects: dict[str, str] = field(default_factory=dict)               # "TASK T", "STREAM S", ... -> state
    hide_view_definitions: bool = False  # the role does not own the views: VIEW_DEFINITION reads NULL
    # The role a session runs as before any USE ROLE: the environment's `role:` (the connection's role on
    # Snowflake). It owns what it creates; masking applies to it like to any role.
    deploy_role: str = DEPLOY_ROLE
    user: str = SESSION_USER                                             # the session's user
    user_roles: dict[str, list[str]] = field(default_factory=dict)       # USER -> roles granted to it
    default_secondary_roles: dict[str, str] = field(default_factory=dict)  # USER -> "ALL" (the default) or "NONE"
    account_privileges: dict[str, list[str]] = field(default_factory=dict)  # ROLE -> privileges ON ACCOUNT
    owners: dict[str, str] = field(default_factory=dict)                # "PROCEDURE P", "TASK T" -> owner role
    rights: dict[str, str] = field(default_factory=dict)                # PROCEDURE -> "OWNER" or "CALLER"
    tags: dict[str, dict[str, str]] = field(default_factory=dict)       # TABLE.COLUMN -> {TAG: value}
    stale: list[str] = field(default_factory=list)                      # streams that went stale

    @classmethod
    def load(cls, path: Path, edition: str, deploy_role: str | None = None) -> RulesState:
        file = path / STATE_FILE
        data = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
        data.pop("edition", None)
        state = cls(path=path, edition=edition, **data)
        if deploy_role is not None:
            state.session_as(deploy_role.upper())
        return state

    def session_as(self, role: str) -> None:
        """A session of the deploy user with `role` as its default role: the user holds the role, and a
        role seen for the first time holds every account privilege deploy needs (tests revoke some)."""
        self.deploy_role = role
        held = self.user_roles.setdefault(self.user, [])
        if role not in held:
            held.append(role)
        self.roles.setdefault(role, [])
        self.account_privileges.setdefault(role, list(DEPLOY_PRIVILEGES))

    def save(self) -> None:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("path",)}
        (self.path / STATE_FILE).write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def rules_state(path: Path) -> RulesState:
    """The rules' memory of a local database folder (for tests: grants, clustering keys, view text)."""
    return RulesState.load(path, "enterprise")


def grant(path: Path, view: str, privilege: str = "SELECT", role: str = "REPORTING") -> None:
    """Record a grant on a view, as `GRANT <privilege> ON VIEW <view> TO ROLE <role>` would."""
    state = rules_state(path)
    state.grants.setdefault(view.upper(), []).append(f"{privilege.upper()} TO ROLE {role.upper()}")
    state.save()


class RulesSession(Protocol):
    """What the rules read of the session they guard (targets.rules.session.SnowflakeRulesSession)."""

    conn: Any
    rules: RulesState | None
    role: str | None
    secondary: str
    context_role: str | None
    deferred_streams: set[str] | None

    def execute(self, sql: str, params: Any = None, *, obj: str | None = None,
                max_rows: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def raw(self, sql: str) -> list[tuple[Any, ...]]: ...

    def run_rewritten(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]: ...


def strip_comments(sql: str) -> str:
    text = re.sub(r"--[^\n]*", "", sql)
    return " ".join(text.split()).rstrip(";").strip()
