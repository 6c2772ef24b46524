"""What every kind of Snowflake object speaks and implements.

A kind (a table, a view, a role, a masking policy, a task ...) is one module in this package with one
`Kind` subclass. It declares, in that one place: its desired objects from a Deployment (with their
SQL from templates), how it is read back live (inside the constant number of introspection
queries), its changes (safe, destructive or refused, with the reason), the steps that apply them and
the phase they run in, how its statements are checked offline, and which committed file each object
renders into. The engine iterates the registered kinds (`incidents.kinds.REGISTRY`) and names none.

The vocabularies are open: a kind declares its own object kinds, change kinds and actions as
constants of these `str` types, so a new kind needs no edit here. Every one of them prints, formats
and serialises as its bare text (history rows, JSON and the CLI show exactly that text).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from incidents.errors import ConfigError
from incidents.project.deployment import Deployment
from incidents.sql import identifiers
from incidents.sql.text import count_statements

if TYPE_CHECKING:
    from incidents.sql.session import Session


class Word(str):
    """A word of an open vocabulary: a `str` that reads as its text everywhere."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ObjectKind(Word):
    """What a change or step is about: "table", "column", "view", "role" ..."""

    __slots__ = ()


class ChangeKind(Word):
    """One kind of difference between declared and live: "missing_table", "missing_grant" ..."""

    __slots__ = ()


class Action(Word):
    """What a step does to its object: "create", "alter", "merge", "grant" ..."""

    __slots__ = ()


CREATE, ALTER, REPLACE = Action("create"), Action("alter"), Action("replace")
MERGE, DROP = Action("merge"), Action("drop")
RECORD = Action("record")  # no statement: only the checksum (or a live text) is recorded
FINISH = Action("finish")  # the deploy ended (its last history row)
GRANT_ACTION, REVOKE_ACTION = Action("grant"), Action("revoke")
DEPLOY = ObjectKind("deploy")  # the history row that says a deploy ended (object: DATABASE.SCHEMA)
CONFIG_CHANGED = ChangeKind("config_changed")  # config changed since the last deploy; nothing live to compare


class _Text(str, enum.Enum):
    """A closed str enum that reads as its value everywhere text is made."""

    # Python 3.10's Enum hashes by member name; hash by value so plain strings find members in dicts and sets.
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class StepStatus(_Text):
    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"
    PLANNED = "planned"  # dry run


class Backend(_Text):
    LOCAL = "local"
    SNOWFLAKE = "snowflake"


class Phase(enum.IntEnum):
    """When a step runs in a deploy; steps of one phase keep the order their kinds gave them."""

    CONTAINER = 0      # database and schema
    BOOKKEEPING = 1    # the deploy history table
    CREATE = 2         # new tables, parents first
    ALTER = 3          # in-place changes to existing tables
    DATA = 4           # reference rows
    VIEW = 5           # views, dependencies first
    ROLE = 6           # roles
    ACCESS = 7         # policies, tags, secure views, streams, procedures, tasks ...
    GRANT = 8          # grants, after every object they name
    DROP_COLUMN = 9    # the destructive tail: columns, then views, then tables
    DROP_VIEW = 10
    DROP_TABLE = 11
    REVOKE = 12
    RECORD = 13        # checksums recorded after the drops
    FINISH = 14        # bookkeeping of an interrupted deploy


@dataclass(frozen=True)
class Capabilities:
    """What a backend stores as declared: diff calls a difference drift only where the backend could
    have kept the declared value."""

    keeps_table_comments: bool
    keeps_column_comments: bool
    # VARCHAR and BINARY lengths, TIMESTAMP_LTZ, OBJECT and ARRAY, timestamp precision (see sql.types.same_on_backend).
    keeps_exact_types: bool

    @classmethod
    def for_backend(cls, backend: Backend | str) -> Capabilities:
        return FAKESNOW if Backend(backend) is Backend.LOCAL else SNOWFLAKE

    @classmethod
    def for_target(cls, backend: Backend | str, *, emulated: bool) -> Capabilities:
        """fakesnow's capabilities whenever fakesnow answers, also behind the Snowflake connector (a
        fakesnow server on loopback)."""
        return FAKESNOW if emulated else cls.for_backend(backend)

    @classmethod
    def of(cls, target: Capabilities | Backend | str) -> Capabilities:
        """Capabilities as given, or those of a backend named by its name ("local", "snowflake")."""
        return target if isinstance(target, Capabilities) else cls.for_backend(target)


# fakesnow forgets column comments and VARCHAR lengths when a database is reopened, reports
# TIMESTAMP_LTZ as TIMESTAMP_TZ and OBJECT/ARRAY as VARIANT; comments are not compared on it at all.
FAKESNOW = Capabilities(keeps_table_comments=False, keeps_column_comments=False, keeps_exact_types=False)
SNOWFLAKE = Capabilities(keeps_table_comments=True, keeps_column_comments=True, keeps_exact_types=True)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- desired objects

@dataclass(frozen=True)
class Desired:
    """One object as config declares it, with the statements that make it.

    `text` is the object's rendered SQL as a template wrote it (one statement; what the committed
    files hold for schema objects, and what its checksum covers); objects made of several statements
    leave it empty and are checksummed over `statements`."""

    kind: ObjectKind
    name: str
    statements: tuple[str, ...]
    text: str = ""
    model: Any = None            # the config model it comes from (Table, View, AccessRole ...)
    file: str | None = None      # the committed file it is written into
    file_order: tuple[int, ...] = ()  # its place in that file (default: registry order, then declaration order)
    body: tuple[str, ...] = ()   # a procedure's statements, checked one by one offline
    on_table: str | None = None  # the table it is set on or reads: made again when that table is new
    recreate: tuple[str, ...] = ()  # the statements that make it again then (default: `statements`)
    namespace: str | None = None  # "table" or "view": what INFORMATION_SCHEMA lists it as
    deployed: bool = True        # False: only written to its file (run by hand), never planned
    source: str = "config/project.yml"  # where an error in it is reported

    @property
    def checksum(self) -> str:
        return checksum(self.text if self.text else "\n".join(self.statements))

    @property
    def statements_on_new_table(self) -> tuple[str, ...]:
        return self.recreate or self.statements


def one_statement(sql: str, what: str, source: str) -> str:
    """Every rendered statement is exactly one statement, by Snowflake's lexer. More means a value
    broke out of its quoting (or a template ends one statement and starts another): refuse it."""
    count = count_statements(sql)
    if count != 1:
        raise ConfigError(f"{what} renders to {count} SQL statements, expected 1; a value in it is not quoted as it "
                          "must be, or the template has a stray ';'", file=source)
    return sql


def rendered(dep: Deployment, kind: ObjectKind, name: str, template: str, *, source: str = "config/project.yml",
             file: str | None = None, namespace: str | None = None, model: Any = None, **extra: Any) -> Desired:
    """An object made by one template (its text is the statement)."""
    text = one_statement(dep.render(template, **extra), f"{kind} {name}", source)
    return Desired(kind, name, (text.strip(),), text=text, source=source, file=file, namespace=namespace,
                   model=model)


def statement(dep: Deployment, template: str, what: str, **extra: Any) -> str:
    """One statement from `templates/<template>.sql.j2`, checked to be exactly one."""
    return one_statement(dep.sql(template, live_ident=live_ident, **extra), what, "config/project.yml")


def live_ident(name: str) -> str:
    """An identifier exactly as the backend reported it (a stray object may be lower case, reserved
    or contain any character): bare when that means the same name, else double-quoted."""
    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,254}", name) and name not in identifiers.SNOWFLAKE_RESERVED:
        return identifiers.quote(name)
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DesiredState:
    """Every desired object of a deployment, per kind name, in declaration order."""

    dep: Deployment
    objects: dict[str, tuple[Desired, ...]]
    own_tables: frozenset[str] = frozenset()  # the tool's own tables (upper case): never strays

    @property
    def env(self) -> Any:
        return self.dep.env

    def of(self, kind: ObjectKind | str) -> tuple[Desired, ...]:
        """The objects of one object kind, whichever kind module declared them."""
        return tuple(o for objs in self.objects.values() for o in objs if o.kind == kind)

    def all(self) -> list[Desired]:
        return [o for objs in self.objects.values() for o in objs]

    def named(self, namespace: str) -> set[str]:
        """Upper-case names of the declared objects INFORMATION_SCHEMA lists as `namespace`."""
        return {o.name.upper() for o in self.all() if o.namespace == namespace}


# --------------------------------------------------------------------------- live state

@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: Any  # sql.types.SqlType
    nullable: bool
    default: str | None  # normalised (kinds.table.normalise_default)
    comment: str | None
    default_text: str | None = None  # as the backend reported it: what deploy fingerprints in the history


@dataclass(frozen=True)
class LiveTable:
    name: str
    columns: dict[str, LiveColumn]
    row_count: int | None
    comment: str | None
    dynamic: bool = False  # a dynamic table (Snowflake's TABLES.IS_DYNAMIC; read where the target has them)
    # TABLES.CLUSTERING_KEY as reported ("" for none); None where the target does not report it (fakesnow).
    clustering_key: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    checksum: str | None
    fingerprint: str | None


@dataclass
class LiveState:
    """What the target holds, read in a constant number of queries. Names are upper case, as the
    backends report them. The schema's catalog (tables, views, the deploy history) is shared by
    every kind; `extra` holds what one kind read for itself, under its name."""

    database_exists: bool = False
    schema_exists: bool = False
    tables: dict[str, LiveTable] = field(default_factory=dict)
    # name -> definition as reported; None when the backend gave none (a role that does not own the view)
    views: dict[str, str | None] = field(default_factory=dict)
    history: dict[tuple[str, str], HistoryEntry] = field(default_factory=dict)  # (kind, NAME) -> last ok
    # The last deploy that applied something never wrote its end row: its bookkeeping may be missing.
    unfinished: bool = False
    access_control: bool = False  # the target has roles and grants (Snowflake), so they are compared
    extra: dict[str, Any] = field(default_factory=dict)

    def recorded(self, kind: ObjectKind | str, name: str) -> HistoryEntry | None:
        """The last successful deploy of an object, looked up by its name in any case."""
        return self.history.get((kind, name.upper()))


# --------------------------------------------------------------------------- changes and steps

@dataclass(frozen=True)
class Change:
    """One difference. `declared`/`live` are display strings; `destructive` means applying it can
    lose data or cannot be done in place, so deploy refuses it without --allow-destructive."""

    kind: ChangeKind
    object_kind: ObjectKind
    object: str       # object name (lower case as declared; upper case when only live)
    column: str | None = None
    declared: str | None = None
    live: str | None = None
    destructive: bool = False
    detail: str = ""
    # Snowflake cannot apply it at all (not even with --allow-destructive): plan refuses it with `detail`.
    blocked: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("blocked")
        return data


Record = tuple[str, str, "str | None"]  # (object kind, name, checksum) whose live text deploy records


@dataclass(frozen=True)
class Step:
    object_kind: ObjectKind
    object: str
    action: Action | ChangeKind  # a refused column change is named by its change kind
    statements: tuple[str, ...]
    destructive: bool = False
    refused: str | None = None
    checksum: str | None = None
    changes: tuple[Change, ...] = field(default=(), compare=False)
    # A bookkeeping step: the views and columns whose live text deploy records.
    records: tuple[Record, ...] = field(default=(), compare=False)
    phase: Phase = field(default=Phase.CONTAINER, compare=False)
    # In a parallel deploy: steps of the same phase that may run at once, and the objects of that
    # phase this one must wait for (a table's parents, the views a view selects from).
    parallel: bool = field(default=False, compare=False)
    after: tuple[str, ...] = field(default=(), compare=False)
    # (table, column) of every default this step sets: deploy records their live text when it ran.
    defaults_set: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def runs(self) -> bool:
        return self.refused is None


@dataclass(frozen=True)
class DiffContext:
    desired: DesiredState
    live: LiveState
    caps: Capabilities

    @property
    def dep(self) -> Deployment:
        return self.desired.dep


@dataclass(frozen=True)
class PlanContext:
    """What every planner reads: declared and live state, every change (of every kind), and whether
    the user allowed destructive ones."""

    desired: DesiredState
    live: LiveState
    changes: tuple[Change, ...]
    allow_destructive: bool = False

    @property
    def dep(self) -> Deployment:
        return self.desired.dep

    def sql(self, template: str, **extra: Any) -> str:
        return self.dep.sql(template, live_ident=live_ident, fq_live=self.fq_live, **extra)

    def fq_live(self, name: str) -> str:
        return f"{identifiers.qualify(self.dep.database, self.dep.schema)}.{live_ident(name)}"

    def of_kind(self, *kinds: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind in kinds]

    def names(self, *kinds: ChangeKind) -> set[str]:
        return {c.object for c in self.changes if c.kind in kinds}

    def refusal(self, change: Change) -> str | None:
        """Why a change must not run now, or None."""
        if change.blocked:
            return change.detail  # impossible on Snowflake: --allow-destructive would not help
        if change.destructive and not self.allow_destructive:
            return f"{change.detail}; rerun with --allow-destructive to apply it"
        return None


@dataclass(frozen=True)
class Bookkeeping:
    """What a kind has deploy record once its steps ran: fingerprints on this deploy's own rows
    (object name -> fingerprint) and rows of their own (kind, name, checksum, fingerprint)."""

    fingerprints: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[ObjectKind, str, str | None, str | None], ...] = ()


def _always(dep: Deployment) -> bool:
    return True


@dataclass(frozen=True)
class CommittedFile:
    """A SQL file `incidents render` writes, under the generated-file header. `style`: "objects" joins
    each object's text; "statements" writes each statement followed by `;` and a blank line. `order`
    places it among the committed files; `present` says whether a deployment has it at all."""

    path: str
    order: int
    style: str = "objects"
    empty: str = ""  # what the file says when no object goes into it
    present: Callable[[Deployment], bool] = _always
    sourced: bool = False  # setup.sql runs it (`!source`): what a SnowSQL user gets without the tool


Forms = dict[str, "re.Pattern[str]"]


class Kind:
    """The contract of one kind of Snowflake object. Every method has a do-nothing default, so a kind
    implements only what it has."""

    name: ClassVar[str] = ""
    # Its object kinds (the ObjectKind of its objects, changes and steps), and its change kinds in the
    # order a report lists them.
    object_kinds: ClassVar[tuple[ObjectKind, ...]] = ()
    change_kinds: ClassVar[tuple[ChangeKind, ...]] = ()
    # Snowflake's documented syntax for its statements that sqlglot cannot read (full-match patterns,
    # each citing its page); validate and the Snowflake-rules target both use them.
    forms: ClassVar[Forms] = {}
    # Its objects exist only where the target has roles and grants (Snowflake).
    needs_access_control: ClassVar[bool] = False
    # Tables of the tool's own it keeps in the schema (never reported as strays).
    own_tables: ClassVar[tuple[str, ...]] = ()
    # The committed SQL files this kind owns (its objects may go into files other kinds own too).
    committed_files: ClassVar[tuple[CommittedFile, ...]] = ()
    # One line deploy prints when the kind has objects but the target cannot hold them.
    skipped_notice: ClassVar[str] = ""

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return ()

    def notices(self, steps: Sequence[Step]) -> list[str]:
        """Lines deploy prints about what these planned steps do beyond the objects they name."""
        return []

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """Read this kind's live state into `live` (a fixed number of queries, however many objects)."""

    def changes(self, dc: DiffContext) -> list[Change]:
        return []

    def steps(self, pc: PlanContext) -> list[Step]:
        return []

    def unrecorded(self, pc: PlanContext) -> list[Record]:
        """After a deploy cut off before its end: objects as declared whose live text was never recorded."""
        return []

    def bookkeeping(self, session: Session, dep: Deployment, ran: Sequence[Step]) -> Bookkeeping:
        """Once a deploy's steps ran (`ran`: those that succeeded), what it records of this kind."""
        return Bookkeeping()

    def check_statement(self, statement: str, source: str) -> bool:
        """Check a statement sqlglot cannot read against `forms`; False when it is not one of ours."""
        return False

    def check_object(self, obj: Desired, parsed: Sequence[Any]) -> None:
        """Offline checks of one object beyond parsing (a view's documented columns, say)."""

    def files(self, dep: Deployment) -> dict[str, str]:
        """Committed files of its own (docs), by path."""
        return {}


def by_phase(steps: Iterable[Step]) -> list[Step]:
    """Steps in phase order; a stable sort keeps each kind's own order within a phase."""
    return sorted(steps, key=lambda s: s.phase)


def grouped(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups
