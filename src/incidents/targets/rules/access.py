"""The Snowflake-rules target's access control: roles, grants, masking policies, tags, streams and
tasks, emulated over fakesnow (which has none of them). A test aid, not Snowflake.

- Statements are accepted only in the forms the access kinds declare (`incidents.kinds.forms()`: Snowflake's syntax).
- Roles and grants live in the rules' memory (`RulesState`); SHOW GRANTS TO ROLE / OF ROLE and
  SHOW FUTURE GRANTS IN SCHEMA answer from it in Snowflake's columns.
- A session starts as the deploy role (the environment's `role:`, else DEPLOYER), which owns what it
  creates. After `USE ROLE r` a session reads and writes only what its active roles may: an object
  without the privilege, or in a database or schema without USAGE, is "does not exist or not
  authorized" (002003), as on Snowflake.
- The active roles (https://docs.snowflake.com/en/user-guide/security-access-control-overview#label-access-control-role-enforcement):
  the primary role and the roles it inherits, plus the user's secondary roles unless the session ran
  `USE SECONDARY ROLES NONE` (https://docs.snowflake.com/en/sql-reference/sql/use-secondary-roles ;
  the user's DEFAULT_SECONDARY_ROLES is ('ALL') since bundle 2024_08). Inside an owner's-rights
  procedure or a task only the owner role is active, no secondary role
  (https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights ;
  https://docs.snowflake.com/en/sql-reference/functions/is_role_in_session).
- Masking policies apply to every read of a column, by anyone including the owner, in queries, DML and
  through views (targets.rules.masking, each rule with its page).
- Masking policies and tags need Enterprise Edition: on the standard edition they fail as Snowflake does.
- Streams, procedures and tasks are recorded (a task needs its procedure). CALL and EXECUTE TASK run the
  procedure's statements, keeping its transactions: a failure, or an end with a transaction still open,
  rolls that transaction back, and a stream moves on only when the statement or transaction that
  consumed it commits. A stream's rows are masked as its table's are, and reading one needs SELECT on it
  (the tool grants none: its tasks read them as owner). SHOW STREAMS says which streams
  are stale (their table was replaced, targets.rules.schema).
- Tags set on columns are recorded; ALTER TABLE ... MODIFY COLUMN ... UNSET TAG removes them, and
  TAG_REFERENCES_ALL_COLUMNS answers from them.

Not emulated: grant options, INVOKER_ROLE, scoped transactions (a CALL inside the caller's transaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from incidents.kinds import forms
from incidents.kinds.access_object import NAME, QNAME, is_access_statement, match
from incidents.kinds.grant import name_parts
from incidents.sql.text import split_statements
from incidents.targets.rules.state import RulesSession, RulesState, object_name

Answer = tuple[list[str], list[tuple[Any, ...]]]
_DONE: Answer = (["status"], [("Statement executed successfully.",)])
_CREATED = "2026-01-01 00:00:00.000 +0000"
# DDL: it commits an open transaction (https://docs.snowflake.com/en/sql-reference/transactions#ddl).
_DDL = re.compile(r"\s*(CREATE|ALTER|DROP|UNDROP)\b", re.I)
_CREATE_OBJECT = re.compile(rf"CREATE (?:OR REPLACE )?(?P<temporary>(?:LOCAL |GLOBAL )?(?:TEMPORARY|TEMP|VOLATILE) )?"
                      rf"(?:TRANSIENT )?(?:SECURE )?(?P<kind>TABLE|VIEW) (?:IF NOT EXISTS )?(?P<name>{QNAME})", re.I)
_QUALIFIER = r'(?:(?:"[^"]*"|[A-Za-z_][A-Za-z0-9_$]*)\.){0,2}'  # db. and schema. before a name


class AccessRuleError(Exception):
    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


def _parts(qualified: str) -> list[str]:
    return [p if p.startswith('"') else p.upper() for p in name_parts(qualified)]


def _bare(qualified: str) -> str:
    return _parts(qualified)[-1]


def _upper(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.upper()


class AccessRules:
    def __init__(self, session: RulesSession, state: RulesState) -> None:
        self.session, self.state = session, state

    # ------------------------------------------------------------------ statements

    def check(self, text: str) -> Answer | None:
        upper = text.upper()
        self._future_grants_apply(text)
        if upper.startswith("USE ROLE "):
            return self._use_role(_upper(text[9:].strip()))
        if upper.startswith("SHOW "):
            return self._show(text)
        if self.remember_procedure(text):  # fakesnow has no procedures: recorded, run by CALL
            self.state.save()
            return _DONE
        m = re.fullmatch(rf"(CALL|EXECUTE TASK) ({QNAME})(\(\))?", text, re.I)
        if m:
            return self._call(_bare(m.group(2)), task=m.group(1).upper() != "CALL")
        if is_access_statement(text) or re.match(r"(GRANT|REVOKE) ", upper):
            found = match(forms(), text)
            if found is None:
                raise AccessRuleError(f"SQL compilation error: syntax error in {text[:80]}", 1003)
            kind, m = found
            getattr(self, f"_{kind}")(m)
            self.state.save()
            return _DONE
        session_answer = self._session_statement(text, upper)
        if session_answer is not None:
            return session_answer
        m = re.fullmatch(rf"ALTER TABLE ({QNAME}) MODIFY COLUMN ({NAME}) UNSET TAG ({QNAME}(?:\s*,\s*{QNAME})*)", text,
                         re.I)
        if m:
            return self._unset_tag(_bare(m.group(1)), _upper(m.group(2)), m.group(3))
        if upper.startswith(("SELECT", "WITH")) and self.state.roles:
            self._session_roles_variable()
        if not self.owner():  # a stream too: SELECT on it and its table (streams-intro#required-access-privileges)
            self._authorize(text)
        if self._streams_in(text):
            return self._read_stream(text)
        return None

    def _session_statement(self, text: str, upper: str) -> Answer | None:
        """CURRENT_ROLE(), USE SECONDARY ROLES and POLICY_REFERENCES: answered from the rules' memory."""
        if re.fullmatch(r"SELECT CURRENT_ROLE\(\) AS ROLE_NAME", text, re.I):
            return ["ROLE_NAME"], [(self.session.role,)]  # the primary role
        if "INFORMATION_SCHEMA.POLICY_REFERENCES(" in upper:
            if len(sqlglot_parse(text)) != 1:  # one statement, as Snowflake would read it
                raise AccessRuleError(f"SQL compilation error: syntax error in {text[:80]}", 1003)
            return self._policy_references(text)
        if "INFORMATION_SCHEMA.TAG_REFERENCES_ALL_COLUMNS(" in upper:
            if len(sqlglot_parse(text)) != 1:
                raise AccessRuleError(f"SQL compilation error: syntax error in {text[:80]}", 1003)
            return self._tag_references(text)
        m = re.fullmatch(r"USE SECONDARY ROLES (ALL|NONE)", text, re.I)
        if m:
            self.session.secondary = m.group(1).upper()
            return _DONE
        return None

    def owner(self) -> bool:
        """The deploy role is active: it owns every object it deployed, and an owner holds every privilege
        on it (https://docs.snowflake.com/en/user-guide/security-access-control-overview#object-ownership)."""
        return self.state.deploy_role in self.session_roles()

    def masked(self, text: str) -> str | None:
        """The statement with every read of a masked column through its policy, for the roles active now
        (targets.rules.masking); None when it reads none."""
        from incidents.targets.rules.masking import MaskedTables, masked_sql

        if not self.state.masked and "IS_ROLE_IN_SESSION" not in text.upper():
            return None
        roles = self.session_roles()
        masks = MaskedTables(self._policies(), dict(self.state.views), self._columns, lambda role: role in roles)
        return masked_sql(text, masks)

    def _policies(self) -> dict[str, dict[str, str]]:
        """TABLE -> {COLUMN -> the body of the masking policy set on it}."""
        policies: dict[str, dict[str, str]] = {}
        for key, policy in self.state.masked.items():
            table, _, column = key.partition(".")
            policies.setdefault(table, {})[column] = self.state.policies[policy]
        return policies

    def _columns(self, table: str) -> list[str]:
        quoted = table.replace("'", "''")
        return [c for (c,) in self.session.raw(
            f"SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{quoted}' "
            "ORDER BY ORDINAL_POSITION")]

    def _session_roles_variable(self) -> None:
        """What IS_ROLE_IN_SESSION reads inside a secure view (see secure_view_form): the active roles."""
        value = "," + ",".join(sorted(self.session_roles())) + ","
        self.session.conn._duck_conn.execute("SET VARIABLE incidents_roles = ?", [value])

    def _use_role(self, role: str) -> Answer:
        self._role_exists(role)
        self.session.role = role
        return _DONE

    def _role_exists(self, role: str) -> None:
        if role not in self.state.roles:
            raise AccessRuleError(f"SQL compilation error: Role '{role}' does not exist or not authorized.", 2003)

    def _create_role(self, m: re.Match[str]) -> None:
        self.state.roles.setdefault(_upper(m.group("role")), [])

    def _grant_role(self, m: re.Match[str]) -> None:
        role, to = _upper(m.group("role")), _upper(m.group("to"))
        self._role_exists(role)
        members = self.state.roles[role]
        if m.group("verb").upper() == "GRANT":
            if to not in members:
                members.append(to)
        elif to in members:
            members.remove(to)

    def _key(self, on: str, name: str) -> str:
        if on in ("TABLE", "VIEW", "DYNAMIC TABLE"):
            return _bare(name)
        return f"{on} {'.'.join(_parts(name))}"

    def _change_grant(self, verb: str, key: str, entry: str, role: str) -> None:
        self._role_exists(role)
        entries = self.state.grants.setdefault(key, [])
        if verb == "GRANT" and entry not in entries:
            entries.append(entry)
        elif verb == "REVOKE" and entry in entries:
            entries.remove(entry)
        if not entries:
            self.state.grants.pop(key)

    def _grant(self, m: re.Match[str]) -> None:
        role, on = _upper(m.group("role")), m.group("on").upper()
        if on in ("TABLE", "VIEW", "DYNAMIC TABLE") and m.group("verb").upper() == "GRANT":
            self._object_exists(on, _bare(m.group("name")))
        self._change_grant(m.group("verb").upper(), self._key(m.group("on").upper(), m.group("name")),
                           f"{m.group('privilege').upper()} TO ROLE {role}", role)

    def _object_exists(self, on: str, name: str) -> None:
        """GRANT ... ON TABLE names a table, ON VIEW a view, ON DYNAMIC TABLE a dynamic table (its grants name
        its own type: https://docs.snowflake.com/en/user-guide/dynamic-tables-privileges): another kind is
        "does not exist"."""
        quoted = name.replace("'", "''")
        dynamic = f"DYNAMIC TABLE {name}" in self.state.objects  # fakesnow holds it as a plain table
        kinds = {"DYNAMIC TABLE" if dynamic else "TABLE" for _ in self.session.raw(
            f"SELECT 1 FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = '{quoted}' AND TABLE_TYPE <> 'VIEW'")}
        kinds |= {"VIEW" for _ in self.session.raw(
            f"SELECT 1 FROM INFORMATION_SCHEMA.VIEWS WHERE TABLE_NAME = '{quoted}'")}
        if on not in kinds:
            raise AccessRuleError(f"SQL compilation error: {on.title()} '{name}' does not exist or not authorized.",
                                  2003)

    def _grant_future(self, m: re.Match[str]) -> None:
        role = _upper(m.group("role"))
        self._change_grant(m.group("verb").upper(), self._key(f"FUTURE {m.group('on').upper()}", m.group("name")),
                           f"{m.group('privilege').upper()} TO ROLE {role}", role)

    def _future_grants_apply(self, text: str) -> None:
        """A table or view created in a schema with future grants gets them as it is created
        (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege , future grants: "privileges granted on
        new objects of the specified type when they are created"). Not a temporary table, and not a dynamic
        table's local stand-in (FUTURE TABLES do not reach dynamic tables)."""
        m = _CREATE_OBJECT.match(text)
        if m is None or m.group("temporary"):
            return
        parts = _parts(m.group("name"))
        conn = self.session.conn
        db = parts[-3] if len(parts) == 3 else str(conn.database).upper()
        schema = parts[-2] if len(parts) >= 2 else str(conn.schema).upper()
        name = object_name(m.group("name"))[1]  # as DROP forgets it (a quoted name keeps its case)
        if f"DYNAMIC TABLE {name}" in self.state.objects:
            return
        future = self.state.grants.get(f"FUTURE {m.group('kind').upper()}S {db}.{schema}", [])
        if future:
            entries = self.state.grants.setdefault(name, [])
            entries += [entry for entry in future if entry not in entries]
            self.state.save()

    def _enterprise(self, feature: str) -> None:
        # https://docs.snowflake.com/en/user-guide/intro-editions : column-level security and object tagging
        # are Enterprise Edition features.
        if self.state.edition == "standard":
            raise AccessRuleError(f"Unsupported feature '{feature}'.", 2)

    def _create_masking_policy(self, m: re.Match[str]) -> None:
        self._enterprise("MASKING POLICY")
        self.state.policies.setdefault(_bare(m.group("policy")), m.group("body"))

    def _alter_masking_policy(self, m: re.Match[str]) -> None:
        policy = _bare(m.group("policy"))
        if policy not in self.state.policies:
            raise AccessRuleError(f"SQL compilation error: Masking policy '{policy}' does not exist or not "
                                  "authorized.", 2003)
        self.state.policies[policy] = m.group("body")

    def _set_masking_policy(self, m: re.Match[str]) -> None:
        self._enterprise("MASKING POLICY")
        policy, column = _bare(m.group("policy")), f"{_bare(m.group('table'))}.{_upper(m.group('column'))}"
        if policy not in self.state.policies:
            raise AccessRuleError(f"SQL compilation error: Masking policy '{policy}' does not exist or not "
                                  "authorized.", 2003)
        current = self.state.masked.get(column)
        if current not in (None, policy) and not m.group(0).upper().endswith(" FORCE"):
            raise AccessRuleError(f"SQL compilation error: column {column} already has masking policy {current}; "
                                  "unset it first or use FORCE", 2000)
        self.state.masked[column] = policy

    def _create_tag(self, m: re.Match[str]) -> None:
        self._enterprise("TAG")
        self.state.objects.setdefault(f"TAG {_bare(m.group('tag'))}", "")

    def _set_tag(self, m: re.Match[str]) -> None:
        self._enterprise("TAG")
        tag = _bare(m.group("tag"))
        if f"TAG {tag}" not in self.state.objects:
            raise AccessRuleError(f"SQL compilation error: Tag '{tag}' does not exist or not authorized.", 2003)
        value = m.group("value")[1:-1].replace("''", "'")
        self.state.tags.setdefault(f"{_bare(m.group('table'))}.{_upper(m.group('column'))}", {})[tag] = value

    def _unset_tag(self, table: str, column: str, tags: str) -> Answer:
        """https://docs.snowflake.com/en/sql-reference/sql/alter-table-column : MODIFY COLUMN ... UNSET TAG
        <tag> [, ...] removes the tags from the column (a tag not set on it is no error)."""
        self._enterprise("TAG")
        held = self.state.tags.get(f"{table}.{column}", {})
        for tag in (_bare(t) for t in re.split(r"\s*,\s*", tags.strip())):
            held.pop(tag, None)
        self.state.save()
        return _DONE

    def _create_stream(self, m: re.Match[str]) -> None:
        stream, table = _bare(m.group("stream")), _bare(m.group("table"))
        if f"STREAM {stream}" not in self.state.objects or m.group(0).upper().startswith("CREATE OR REPLACE"):
            self.state.objects[f"STREAM {stream}"] = table
            self.state.stale = [s for s in self.state.stale if s != stream]  # a new stream is not stale
            if re.search(r"\bAPPEND_ONLY = TRUE\b", m.group(0), re.I):
                self.state.objects[f"APPEND_ONLY {stream}"] = "TRUE"
            self._advance(stream)

    def _create_task(self, m: re.Match[str]) -> None:
        procedure = _bare(m.group("procedure"))
        if f"PROCEDURE {procedure}" not in self.state.objects:
            raise AccessRuleError(f"SQL compilation error: Procedure '{procedure}' does not exist.", 2003)
        self.state.objects[f"TASK {_bare(m.group('task'))}"] = f"suspended {procedure}"
        self.state.owners[f"TASK {_bare(m.group('task'))}"] = self.session.role or self.state.deploy_role

    def _alter_task(self, m: re.Match[str]) -> None:
        key = f"TASK {_bare(m.group('task'))}"
        if key not in self.state.objects:
            raise AccessRuleError(f"SQL compilation error: Task '{_bare(m.group('task'))}' does not exist.", 2003)
        procedure = self.state.objects[key].split()[-1]
        self.state.objects[key] = f"{'started' if m.group(0).upper().endswith('RESUME') else 'suspended'} {procedure}"

    def remember_procedure(self, text: str) -> bool:
        m = re.match(rf"CREATE (?:OR REPLACE )?PROCEDURE ({QNAME})\(.*?\$\$(.*)\$\$$", text, re.I | re.S)
        if m is None:
            return False
        name = _bare(m.group(1))
        self.state.objects[f"PROCEDURE {name}"] = m.group(2)
        # The primary role creates and so owns it; EXECUTE AS OWNER is the default
        # (https://docs.snowflake.com/en/sql-reference/sql/create-procedure).
        self.state.owners[f"PROCEDURE {name}"] = self.session.role or self.state.deploy_role
        head = text[:text.index("$$")]
        self.state.rights[name] = "CALLER" if re.search(r"\bEXECUTE\s+AS\s+CALLER\b", head, re.I) else "OWNER"
        return True

    # ------------------------------------------------------------------ procedures, tasks, streams

    def _call(self, name: str, *, task: bool) -> Answer:
        """CALL runs a procedure's statements one by one; EXECUTE TASK runs its procedure once. Inside, a
        statement outside BEGIN TRANSACTION ... COMMIT commits on its own, and a stream it consumed moves on
        at once; inside one, the streams move on at its COMMIT. A procedure that fails, or ends, with its
        transaction still open has that transaction rolled back: its writes are undone and its streams stay
        where they were (https://docs.snowflake.com/en/sql-reference/transactions#stored-procedures-and-transactions ;
        https://docs.snowflake.com/en/user-guide/streams-intro#stream-staleness). Not emulated: a CALL made
        inside the caller's own transaction (Snowflake's scoped transactions)."""
        task_name = name
        if task:
            found = self.state.objects.get(f"TASK {name}")
            if found is None:
                raise AccessRuleError(f"SQL compilation error: Task '{name}' does not exist.", 2003)
            name = found.split()[-1]
        body = self.state.objects.get(f"PROCEDURE {name}")
        if body is None:
            raise AccessRuleError(f"SQL compilation error: Procedure '{name}()' does not exist.", 2003)
        context = self.session.context_role
        if task:
            self.session.context_role = self.state.owners.get(f"TASK {task_name}", self.state.deploy_role)
        elif self.state.rights.get(name, "OWNER") == "OWNER":
            self.session.context_role = self.state.owners.get(f"PROCEDURE {name}", self.state.deploy_role)
        try:
            self._run_body(name, body)
        finally:
            self.session.deferred_streams = None
            self.session.context_role = context
        self.state.save()
        return ["status"], [("ok",)]

    def _run_body(self, name: str, body: str) -> None:
        """The statements of a procedure's body, its transactions kept as Snowflake keeps them."""
        self.session.deferred_streams = None  # outside a transaction: each statement commits on its own
        try:
            for statement in split_statements(body):
                step = _procedure_step(statement)
                if step == "return":
                    break
                if step == "begin":
                    self._begin()
                elif step == "commit":
                    self._commit()
                elif step == "rollback":
                    self._rollback()
                elif step:
                    if self.session.deferred_streams is not None and _DDL.match(step):
                        self._commit()  # DDL commits the open transaction first (transactions#ddl)
                    self.session.execute(step, obj=f"procedure {name}")
        except BaseException:
            self._rollback()
            raise
        if self.session.deferred_streams is not None:
            self._rollback()
            raise AccessRuleError(f"Procedure '{name}' ended with its transaction still open: the transaction "
                                  "was rolled back.", 90_000)

    def _begin(self) -> None:
        if self.session.deferred_streams is not None:  # a BEGIN inside an open transaction is ignored
            return
        try:
            self.session.raw("BEGIN TRANSACTION")
        except Exception as exc:  # the caller's own transaction is open: scoped transactions, not emulated
            raise AccessRuleError(f"Not emulated: a procedure's transaction inside the caller's ({exc})") from exc
        self.session.deferred_streams = set()

    def _commit(self) -> None:
        read = self.session.deferred_streams
        if read is None:  # no transaction open: nothing to commit
            return
        self.session.raw("COMMIT")
        self.session.deferred_streams = None
        for stream in read:
            self._advance(stream)

    def _rollback(self) -> None:
        if self.session.deferred_streams is not None:
            self.session.raw("ROLLBACK")
            self.session.deferred_streams = None

    def _streams_in(self, text: str) -> list[str]:
        return [key.split()[1] for key in self.state.objects if key.startswith("STREAM ")
                and re.search(rf"\b(?:FROM|JOIN)\s+{_QUALIFIER}{re.escape(key.split()[1])}\b", text, re.I)]

    def _snapshot(self, stream: str) -> str:
        conn = self.session.conn
        return f"{conn.database}._INCIDENTS_RULES.{stream}".upper()

    def _advance(self, stream: str) -> None:
        """The stream's offset moves to now: a copy of the table as it is (in a schema of its own)."""
        conn = self.session.conn
        table = f"{conn.database}.{conn.schema}.{self.state.objects[f'STREAM {stream}']}".upper()
        current = f"{conn.database}.{conn.schema}"
        self.session.raw(f"CREATE SCHEMA IF NOT EXISTS {conn.database}._INCIDENTS_RULES")
        self.session.raw(f"USE SCHEMA {current}")  # CREATE SCHEMA makes the new schema current, as on Snowflake
        self.session.raw(f"CREATE OR REPLACE TABLE {self._snapshot(stream)} AS SELECT * FROM {table}")

    def _stream_rows(self, stream: str) -> str:
        """The stream as a subquery: rows changed since the offset, an UPDATE as a DELETE (old values)
        and an INSERT (new values) both with METADATA$ISUPDATE (https://docs.snowflake.com/en/user-guide/streams-intro)."""
        conn = self.session.conn
        table_name = self.state.objects[f"STREAM {stream}"]
        table = f"{conn.database}.{conn.schema}.{table_name}".upper()
        columns = [c for (c,) in self.session.raw(
            f"SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{table_name}' "
            "ORDER BY ORDINAL_POSITION")]
        snapshot = self._snapshot(stream)
        if self.state.objects.get(f"APPEND_ONLY {stream}"):  # inserted rows only, whatever the table's key
            return self._through_policies(table_name, columns, (
                f"(SELECT n.*, 'INSERT' AS \"METADATA$ACTION\", FALSE AS \"METADATA$ISUPDATE\" "
                f"FROM (SELECT * FROM {table} EXCEPT ALL SELECT * FROM {snapshot}) AS n)"))
        key = f'"{columns[0]}"'  # the tables streams are declared on have their key first
        changed = " OR ".join(f'n."{c}" IS DISTINCT FROM o."{c}"' for c in columns)
        return self._through_policies(table_name, columns, (
            f"(SELECT n.*, 'INSERT' AS \"METADATA$ACTION\", o.{key} IS NOT NULL AS \"METADATA$ISUPDATE\" "
            f"FROM {table} AS n LEFT JOIN {snapshot} AS o ON o.{key} = n.{key} WHERE o.{key} IS NULL OR {changed} "
            f"UNION ALL SELECT o.*, 'DELETE', n.{key} IS NOT NULL FROM {snapshot} AS o LEFT JOIN {table} AS n "
            f"ON n.{key} = o.{key} WHERE n.{key} IS NULL OR {changed})"))

    def _through_policies(self, table_name: str, columns: list[str], rows: str) -> str:
        """A stream's rows with its table's masking policies applied: "Masking policies on columns in a table
        carry over to a stream on the same table" (https://docs.snowflake.com/en/user-guide/security-column-intro ,
        Streams). Which rows changed is decided on the stored values, as the stream records them."""
        from incidents.targets.rules.masking import masked_columns

        policies = self._policies().get(table_name.upper())
        if not policies:
            return rows
        roles = self.session_roles()
        selects = masked_columns(columns, policies, lambda role: role in roles)
        return (f"(SELECT {', '.join(selects)}, s.\"METADATA$ACTION\", s.\"METADATA$ISUPDATE\" "
                f"FROM {rows} AS s)")

    def _read_stream(self, text: str) -> Answer:
        """A statement reading streams, run over their rows (masked as their tables are); a DML statement
        consumes them, at once or at the COMMIT of the procedure's transaction it runs in."""
        streams = self._streams_in(text)
        sql = self.masked(text) or text  # the other tables it reads, through their policies
        for stream in streams:
            rows = self._stream_rows(stream)
            sql = re.sub(rf"\b(FROM|JOIN)\s+{_QUALIFIER}{stream}\b", _reading(rows), sql, flags=re.I)
        sql = re.sub(r'(?<!")\bMETADATA\$(ACTION|ISUPDATE|ROW_ID)\b', r'"METADATA$\1"', sql, flags=re.I)
        answer = self.session.run_rewritten(sql)
        if re.match(r"(INSERT|UPDATE|DELETE|MERGE)\b", text, re.I):
            deferred = self.session.deferred_streams
            for stream in streams:
                deferred.add(stream) if deferred is not None else self._advance(stream)
        return answer

    # ------------------------------------------------------------------ SHOW GRANTS

    def _show(self, text: str) -> Answer | None:
        m = re.fullmatch(rf"SHOW GRANTS (TO|OF) ROLE ({NAME})", text, re.I)
        if m:
            role = _upper(m.group(2))
            self._role_exists(role)
            return self._grants_to(role) if m.group(1).upper() == "TO" else self._grants_of(role)
        m = re.fullmatch(rf"SHOW FUTURE GRANTS IN SCHEMA ({QNAME})", text, re.I)
        if m:
            return self._future(".".join(_parts(m.group(1))))
        if re.fullmatch(rf"SHOW TASKS IN SCHEMA {QNAME}", text, re.I):
            return self._tasks()
        if re.fullmatch(rf"SHOW STREAMS IN SCHEMA {QNAME}", text, re.I):
            return self._streams()
        return None

    def _policy_references(self, text: str) -> Answer:
        """POLICY_REFERENCES(POLICY_NAME => '...') per policy (UNION ALL): the columns each is set on
        (https://docs.snowflake.com/en/sql-reference/functions/policy_references); an unknown policy fails."""
        rows = []
        for quoted in re.findall(r"POLICY_NAME\s*=>\s*'((?:[^']|'')*)'", text, re.I):
            policy = _bare(quoted.replace("''", "'"))
            if policy not in self.state.policies:
                raise AccessRuleError(f"SQL compilation error: Masking policy '{policy}' does not exist or not "
                                      "authorized.", 2003)
            rows += [(key.split(".")[0], key.split(".", 1)[1], policy) for key, name in self.state.masked.items()
                     if name == policy]
        return ["REF_ENTITY_NAME", "REF_COLUMN_NAME", "POLICY_NAME"], rows

    def _tag_references(self, text: str) -> Answer:
        """TAG_REFERENCES_ALL_COLUMNS('<table>', 'table') per table (UNION ALL): every tag set on the table's
        columns (https://docs.snowflake.com/en/sql-reference/functions/tag_references_all_columns); a table
        that does not exist fails."""
        conn = self.session.conn
        db, schema = str(conn.database).upper(), str(conn.schema).upper()
        rows = []
        for quoted, domain in re.findall(r"TAG_REFERENCES_ALL_COLUMNS\(\s*'((?:[^']|'')*)'\s*,\s*'([^']*)'\s*\)",
                                         text, re.I):
            table = _bare(quoted.replace("''", "'"))
            if domain.upper() != "TABLE":
                raise AccessRuleError(f"SQL compilation error: invalid object domain '{domain}'", 2003)
            if not self.session.raw(f"SELECT 1 FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = "
                                    f"'{table.replace(chr(39), chr(39) * 2)}'"):
                raise AccessRuleError(f"SQL compilation error: Table '{table}' does not exist or not authorized.",
                                      2003)
            rows += [(db, schema, tag, value, table, key.split(".", 1)[1])
                     for key, held in sorted(self.state.tags.items()) if key.split(".", 1)[0] == table
                     for tag, value in sorted(held.items())]
        return ["TAG_DATABASE", "TAG_SCHEMA", "TAG_NAME", "TAG_VALUE", "OBJECT_NAME", "COLUMN_NAME"], rows

    def _streams(self) -> Answer:
        """SHOW STREAMS: name, table and `stale` as the text true or false, with `stale_after`
        (https://docs.snowflake.com/en/sql-reference/sql/show-streams)."""
        conn = self.session.conn
        rows = []
        for key, table in self.state.objects.items():
            if key.startswith("STREAM "):
                name = key.split(" ", 1)[1]
                stale = name in self.state.stale
                rows.append((_CREATED, name, str(conn.database).upper(), str(conn.schema).upper(), table,
                             "true" if stale else "false", _CREATED if stale else "2026-01-15 00:00:00.000 +0000"))
        return ["created_on", "name", "database_name", "schema_name", "table_name", "stale", "stale_after"], rows

    def _tasks(self) -> Answer:
        """SHOW TASKS: name and state, started or suspended (https://docs.snowflake.com/en/sql-reference/sql/show-tasks)."""
        conn = self.session.conn
        rows = [(_CREATED, key.split(" ", 1)[1], str(conn.database).upper(), str(conn.schema).upper(),
                 value.split()[0]) for key, value in self.state.objects.items() if key.startswith("TASK ")]
        return ["created_on", "name", "database_name", "schema_name", "state"], rows

    def _entries(self) -> list[tuple[str, str, str]]:
        """(key, privilege, role) of every recorded grant."""
        found = []
        for key, entries in self.state.grants.items():
            for entry in entries:
                privilege, _, role = entry.partition(" TO ROLE ")
                found.append((key, privilege, role))
        return found

    def _qualified(self, name: str) -> tuple[str, str]:
        """(TABLE, VIEW or DYNAMIC_TABLE, DB.SCHEMA.NAME) of an object granted by bare name."""
        conn = self.session.conn
        kind = "VIEW" if any(k.endswith(f".{name}") for k in self.state.views) else "TABLE"
        kind = "DYNAMIC_TABLE" if f"DYNAMIC TABLE {name}" in self.state.objects else kind
        return kind, f"{conn.database}.{conn.schema}.{name}".upper()

    def _grants_to(self, role: str) -> Answer:
        columns = ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option",
                   "granted_by"]
        rows = []
        for key, privilege, grantee in self._entries():
            if grantee != role or key.startswith("FUTURE "):
                continue
            on, _, name = key.partition(" ") if " " in key else ("", "", key)
            if not on:
                on, name = self._qualified(key)
            rows.append((_CREATED, privilege, on, name, "ROLE", role, "false", "SYSADMIN"))
        account = self.session.conn.account if hasattr(self.session.conn, "account") else "LOCAL"
        rows += [(_CREATED, privilege, "ACCOUNT", str(account).upper(), "ROLE", role, "false", "ACCOUNTADMIN")
                 for privilege in self.state.account_privileges.get(role, [])]
        return columns, rows

    def _grants_of(self, role: str) -> Answer:
        columns = ["created_on", "role", "granted_to", "grantee_name", "granted_by"]
        return columns, [(_CREATED, role, "ROLE", member, "SECURITYADMIN") for member in self.state.roles[role]]

    def _future(self, schema: str) -> Answer:
        columns = ["created_on", "privilege", "grant_on", "name", "grant_to", "grantee_name", "grant_option"]
        rows = []
        for key, privilege, role in self._entries():
            m = re.fullmatch(r"FUTURE (TABLES|VIEWS) (.+)", key)
            if m and m.group(2) == schema:
                rows.append((_CREATED, privilege, m.group(1)[:-1], f"{schema}.<{m.group(1)[:-1]}>", "ROLE", role,
                             "false"))
        return columns, rows

    # ------------------------------------------------------------------ reads and writes under a role

    def session_roles(self) -> set[str]:
        """The active roles and every role granted to them, through the hierarchy: the primary role, and
        the user's roles while secondary roles are ALL (https://docs.snowflake.com/en/sql-reference/sql/
        use-secondary-roles); inside an owner's-rights procedure or a task, the owner role alone
        (https://docs.snowflake.com/en/sql-reference/functions/is_role_in_session : "the currently active
        roles can differ from the session roles, for example, when executing an owner's rights procedure";
        https://docs.snowflake.com/en/user-guide/tasks-intro : a task runs with its owner's privileges)."""
        if self.session.context_role is not None:
            todo: list[str | None] = [self.session.context_role]
        else:
            todo = [self.session.role]
            if self.session.secondary == "ALL":
                todo += self.state.user_roles.get(self.state.user, [])
        roles: set[str] = set()
        while todo:
            role = todo.pop()
            if role is None or role in roles:
                continue
            roles.add(role)
            todo += [granted for granted, members in self.state.roles.items() if role in members]
        return roles

    def _holds(self, key: str, privilege: str, roles: set[str]) -> bool:
        return any(f"{privilege} TO ROLE {role}" in self.state.grants.get(key, []) for role in roles)

    def _authorize(self, text: str) -> None:
        import sqlglot
        from sqlglot import exp

        try:
            tree = sqlglot.parse_one(text, read="snowflake")
        except sqlglot.errors.ParseError:
            return
        conn = self.session.conn
        db, schema = str(conn.database).upper(), str(conn.schema).upper()
        roles = self.session_roles()
        if not (self._holds(f"DATABASE {db}", "USAGE", roles) and self._holds(f"SCHEMA {db}.{schema}", "USAGE", roles)):
            raise AccessRuleError(f"SQL compilation error: Schema '{db}.{schema}' does not exist or not authorized.",
                                  2003)
        ctes = {c.alias_or_name.upper() for c in tree.find_all(exp.CTE)}
        written = tree.this if isinstance(tree, (exp.Insert, exp.Update, exp.Delete)) else None
        needed = next((verb for node, verb in ((exp.Insert, "INSERT"), (exp.Update, "UPDATE"), (exp.Delete, "DELETE"))
                       if isinstance(tree, node)), None)
        for table in tree.find_all(exp.Table):
            name = table.name.upper()
            if name in ctes or (table.db and table.db.upper() not in (schema, "")) or not name:
                continue
            privilege = needed if written is not None and table in written.find_all(exp.Table) else "SELECT"
            if not self._holds(name, privilege or "SELECT", roles):
                raise AccessRuleError(f"SQL compilation error: Object '{db}.{schema}.{name}' does not exist or not "
                                      "authorized.", 2003)

    @staticmethod
    def secure_view_form(sql: str) -> str:
        """DuckDB has no secure views and no IS_ROLE_IN_SESSION: a plain view whose role test reads
        the session's roles from a DuckDB variable, set before every read."""
        if not re.match(r"\s*CREATE OR REPLACE SECURE VIEW", sql, re.I):
            return sql
        sql = re.sub(r"SECURE VIEW", "VIEW", sql, count=1, flags=re.I)
        return re.sub(r"IS_ROLE_IN_SESSION\('((?:[^']|'')*)'\)",
                      lambda m: f"CONTAINS(COALESCE(GETVARIABLE('incidents_roles'), ''), ',{m.group(1).upper()},')",
                      sql, flags=re.I)


def _procedure_step(statement: str) -> str:
    """What one statement of a Snowflake Scripting body is: "begin", "commit" or "rollback" (a transaction's
    ends), "return", "" (the block's own BEGIN or END) or the SQL statement to run."""
    text = " ".join(statement.split())
    block = re.match(r"BEGIN (?!TRANSACTION\b|WORK\b)", text, re.I)
    if block:  # the block's BEGIN before its first statement
        text = text[block.end():]
    upper = text.upper()
    if upper in ("BEGIN TRANSACTION", "BEGIN WORK", "START TRANSACTION"):
        return "begin"
    if upper in ("COMMIT", "COMMIT WORK"):
        return "commit"
    if upper in ("ROLLBACK", "ROLLBACK WORK"):
        return "rollback"
    if upper.startswith("RETURN"):
        return "return"
    if upper in ("", "BEGIN", "END"):
        return ""
    return re.sub(r"^\s*BEGIN\s+", "", statement, count=1, flags=re.I) if block else statement.strip()


def _reading(rows: str) -> Callable[[re.Match[str]], str]:
    """The replacement of `FROM|JOIN <stream>` by its rows."""
    def swap(m: re.Match[str]) -> str:
        return f"{m.group(1)} {rows}"
    return swap


def sqlglot_parse(text: str) -> list[Any]:
    """The statements sqlglot reads in `text` (Snowflake dialect); a parse error is Snowflake's syntax error."""
    import sqlglot

    try:
        return [e for e in sqlglot.parse(text, read="snowflake") if e is not None]
    except sqlglot.errors.ParseError as exc:
        raise AccessRuleError(f"SQL compilation error: syntax error in {text[:80]}", 1003) from exc
