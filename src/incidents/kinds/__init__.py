"""Every kind of Snowflake object the tool manages, one module each, registered here in the order
their objects are declared, read, diffed and written into the committed files. The engine iterates
`REGISTRY` and names no kind: adding a kind is one module and one line below."""

from __future__ import annotations

from incidents.kinds.base import CommittedFile, Forms, Kind, ObjectKind
from incidents.kinds.column_policy import ColumnPolicies
from incidents.kinds.containers import Containers
from incidents.kinds.dynamic_table import DynamicTables
from incidents.kinds.grant import Grants
from incidents.kinds.history import History
from incidents.kinds.intake import Intake
from incidents.kinds.masking_policy import MaskingPolicies
from incidents.kinds.ml_model import MlModels
from incidents.kinds.procedure import Procedures
from incidents.kinds.reference_rows import ReferenceRows
from incidents.kinds.role import Roles
from incidents.kinds.secure_view import SecureViews
from incidents.kinds.stream import Streams
from incidents.kinds.table import Tables
from incidents.kinds.tag import Tags
from incidents.kinds.task import Tasks
from incidents.kinds.view import Views

REGISTRY: tuple[Kind, ...] = (
    Containers(),
    Tables(),
    History(),
    ReferenceRows(),
    Views(),
    DynamicTables(),
    Roles(),
    MaskingPolicies(),
    Tags(),
    ColumnPolicies(),
    SecureViews(),
    Streams(),
    Procedures(),
    Tasks(),
    Grants(),
    Intake(),
    MlModels(),
)


def owner(object_kind: ObjectKind | str) -> tuple[Kind, ...]:
    """The kinds whose objects, changes or steps carry this object kind."""
    return tuple(k for k in REGISTRY if object_kind in k.object_kinds)


def forms() -> Forms:
    """Snowflake's documented syntax of every statement sqlglot cannot read, from every kind."""
    return {name: pattern for kind in REGISTRY for name, pattern in kind.forms.items()}


def committed_files() -> tuple[CommittedFile, ...]:
    return tuple(sorted((f for kind in REGISTRY for f in kind.committed_files), key=lambda f: f.order))
