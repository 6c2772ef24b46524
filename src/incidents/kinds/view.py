"""Analytics views: `CREATE OR REPLACE VIEW ... COPY GRANTS` in dependency order, every column
documented once in config/views.yml (the same text is the column comment and docs/views.md).

Live: INFORMATION_SCHEMA.VIEWS of the schema in one query. A view is compared through the deploy
history: the checksum of the SQL last deployed, and a fingerprint of the view text the backend
reported right after (so a view replaced by hand shows up on either backend, while the backend's
own rewrite of our text is not mistaken for drift).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from incidents.errors import ConfigError
from incidents.kinds.base import (
    CREATE,
    REPLACE,
    Bookkeeping,
    Change,
    ChangeKind,
    CommittedFile,
    Desired,
    DiffContext,
    Kind,
    LiveState,
    Phase,
    PlanContext,
    Record,
    Step,
    rendered,
)
from incidents.kinds.namespace import (
    CHANGED_VIEW,
    DYNAMIC_TABLE,
    MISSING_VIEW,
    UNEXPECTED_VIEW,
    VIEW,
    Claims,
    claims,
    room,
    stray,
    unclaimed,
)
from incidents.project.deployment import Deployment
from incidents.project.models import Project, View
from incidents.sql.session import Session
from incidents.sql.text import without_comments

VIEW_NOT_COMPARABLE = ChangeKind("view_not_comparable")  # the target hid the view's text: neither in sync nor drift
VIEWS_FILE = "sql/02_analytics_views.sql"
DOCS_FILE = "docs/views.md"


class Views(Kind):
    name = "view"
    object_kinds = (VIEW,)
    change_kinds = (MISSING_VIEW, CHANGED_VIEW, UNEXPECTED_VIEW, VIEW_NOT_COMPARABLE)
    committed_files = (CommittedFile(VIEWS_FILE, 20, empty="-- No analytics views are declared.\n", sourced=True),)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        """Every view, a view after the views it selects from; a materialized one is a dynamic table
        (kinds.dynamic_table) instead."""
        project = dep.project
        bodies = view_bodies(dep)
        by_name = {v.name: v for v in project.views}
        return [rendered(dep, VIEW, name, "schema/view.sql.j2", source=f"templates/{by_name[name].template}",
                         file=VIEWS_FILE, namespace="view", model=by_name[name], view=by_name[name],
                         body=bodies[name])
                for name in dependency_order(dep, bodies) if by_name[name].materialize is None]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        if live.schema_exists:
            live.views = {r["TABLE_NAME"]: r["VIEW_DEFINITION"] or None
                          for r in session.query(dep.render("introspect/views.sql.j2"), obj=dep.schema)}

    def changes(self, dc: DiffContext) -> list[Change]:
        if not dc.live.schema_exists:
            return [_missing_view(v.name) for v in dc.desired.of(VIEW)]
        found = [c for obj in dc.desired.of(VIEW) if (c := _view_change(obj, dc.live)) is not None]
        declared = dc.desired.named("view")  # a secure view another kind declares is not a stray either
        materialized = {o.name.upper() for o in dc.desired.of(DYNAMIC_TABLE)}
        return found + [_now_materialized(name) if name in materialized and _deployed_here(dc.live, name)
                        else stray(VIEW, name, UNEXPECTED_VIEW, "view is not declared in config/views.yml")
                        for name in sorted(set(dc.live.views) - declared)]

    def steps(self, pc: PlanContext) -> list[Step]:
        _, claimed = claims(pc)
        wanted = {c.object: c for c in pc.of_kind(MISSING_VIEW, CHANGED_VIEW)}
        names = {v.name for v in pc.desired.of(VIEW)}
        creates = [step for obj in pc.desired.of(VIEW) if obj.name in wanted
                   for step in _create_view(pc.dep, claimed, wanted[obj.name], obj, names)]
        return creates + unclaimed(pc, VIEW)

    def unrecorded(self, pc: PlanContext) -> list[Record]:
        """Views as declared that a cut-off deploy replaced but never fingerprinted."""
        changed = {c.object.upper() for c in pc.changes if c.object_kind == VIEW}
        return [("view", v.name, v.checksum) for v in pc.desired.of(VIEW) if v.name.upper() not in changed
                and (entry := pc.live.recorded(VIEW, v.name)) is not None and entry.fingerprint is None]

    def bookkeeping(self, session: Session, dep: Deployment, ran: Sequence[Step]) -> Bookkeeping:
        """Fingerprints of the text the backend stored for the views this deploy replaced (on their own
        rows), and rows of their own for views a cut-off deploy replaced; one read of the views."""
        replaced = [s.object for s in ran if s.object_kind == VIEW]
        records = [(name, checksum) for s in ran for kind, name, checksum in s.records if kind == "view"]
        if not replaced and not records:
            return Bookkeeping()
        rows = session.query(dep.render("introspect/views.sql.j2"), obj="deploy history")
        # No text (a role that does not own the view) is no fingerprint: diff reports "cannot compare".
        found = {r["TABLE_NAME"]: fingerprint(r["VIEW_DEFINITION"]) for r in rows if r["VIEW_DEFINITION"]}
        return Bookkeeping(
            fingerprints=tuple((name, found[name.upper()]) for name in replaced if name.upper() in found),
            rows=tuple((VIEW, name, checksum, found[name.upper()]) for name, checksum in records
                       if name.upper() in found))

    def check_object(self, obj: Desired, parsed: Sequence[Any]) -> None:
        if obj.kind == VIEW and parsed:
            check_select_list(obj.model, parsed[0])

    def files(self, dep: Deployment) -> dict[str, str]:
        return {DOCS_FILE: render_docs(dep.project)} if dep.project.views else {}


def _deployed_here(live: LiveState, name: str) -> bool:
    """This tool made the view and has not dropped it since (a drop is recorded without a checksum)."""
    entry = live.recorded(VIEW, name)
    return entry is not None and entry.checksum is not None


def _now_materialized(name: str) -> Change:
    """A view this tool deployed that config now materializes: replacing it loses nothing config kept."""
    return Change(UNEXPECTED_VIEW, VIEW, name, detail="view is materialized now (materialize: in config/views.yml); "
                  "deploy replaces it with a dynamic table")


def view_bodies(dep: Deployment) -> dict[str, str]:
    """Every view's SELECT as its template renders it, by view name."""
    return {v.name: dep.render(v.template, view=v) for v in dep.project.views}


def dependency_order(dep: Deployment, bodies: dict[str, str]) -> list[str]:
    """Every view's name, a view after the views it selects from."""
    deps = {name: view_reads(body, set(bodies) - {name}, dep) for name, body in bodies.items()}
    return _dependency_order(list(bodies), deps)


def fingerprint(view_text: str) -> str:
    """Hash of a view's reported text, whitespace-insensitive: what we compare to detect hand edits."""
    return hashlib.sha256(" ".join(view_text.split()).encode("utf-8")).hexdigest()


def view_reads(sql: str, candidates: set[str], dep: Deployment) -> tuple[str, ...]:
    """The candidate views whose qualified name the SQL text mentions."""
    return tuple(sorted(name for name in candidates
                        if re.search(rf"(?<![\w.]){re.escape(dep.fq(name))}(?!\w)", sql, re.I)))


def _dependency_order(names: list[str], deps: dict[str, tuple[str, ...]]) -> list[str]:
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError(f"view {name!r} depends on itself through other views", file="config/views.yml")
        visiting.add(name)
        for dep in deps[name]:
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def _missing_view(name: str) -> Change:
    return Change(MISSING_VIEW, VIEW, name, detail="view does not exist")


def _view_change(obj: Desired, live: LiveState) -> Change | None:
    view: View = obj.model
    if view.name.upper() not in live.views:
        return _missing_view(view.name)
    text = live.views[view.name.upper()]
    recorded = live.recorded(VIEW, view.name)
    if recorded is None:
        if text is not None and _same_code(text, obj.text or obj.statements[0]):
            return None  # made by the committed files (setup.sql run by SnowSQL or `snow sql`, comments stripped)
        return _changed_view(view, "view was not created by incidents deploy")
    if recorded.checksum != obj.checksum:
        return _changed_view(view, "view definition changed in templates/config")
    if text is None:
        # https://docs.snowflake.com/en/sql-reference/info-schema/views : NULL for a role that does not own it.
        return Change(VIEW_NOT_COMPARABLE, VIEW, view.name, detail=(
            "cannot compare: the target returned no view text (the role does not own the view?); "
            "deploy with the owning role to check it"))
    if recorded.fingerprint and recorded.fingerprint != fingerprint(text):
        return _changed_view(view, "view was replaced outside incidents")
    return None


def _same_code(live_text: str, statement: str) -> bool:
    """The live view is the statement, comments, whitespace and the final `;` aside."""
    return without_comments(live_text).rstrip("; ") == without_comments(statement).rstrip("; ")


def _changed_view(view: View, why: str) -> Change:
    return Change(CHANGED_VIEW, VIEW, view.name, detail=why)


def _create_view(dep: Deployment, claimed: Claims, change: Change, obj: Desired, names: set[str]) -> list[Step]:
    clear, blocked = room(claimed, VIEW, change.object, Phase.VIEW)
    action = CREATE if change.kind == MISSING_VIEW else REPLACE
    return [*clear, Step(VIEW, change.object, action, () if blocked else obj.statements, checksum=obj.checksum,
                         refused=blocked, changes=(change,), phase=Phase.VIEW, parallel=True,
                         after=view_reads(" ".join(obj.statements), names - {obj.name}, dep))]


# --------------------------------------------------------------------------- offline checks

def check_select_list(view: View, create: Any) -> None:
    from sqlglot import exp

    if not view.columns:
        return
    query = create.expression if isinstance(create, exp.Create) else create  # or the query itself
    if not isinstance(query, exp.Query) or any(isinstance(e, exp.Star) for e in query.selects):
        return  # SELECT *: the names are the source's, nothing to compare offline
    _check_view_columns(view, query.named_selects)  # a UNION is named by its first SELECT


def _check_view_columns(view: View, selected: list[str]) -> None:
    """The documented columns name the SELECT list, in order: a count match alone would let a
    swapped pair silently mislabel a view's data (the column list renames by position)."""
    documented = [name for name, _ in view.columns]
    key = f"views.{view.name}.columns"
    if len(selected) != len(documented):
        raise ConfigError(f"view {view.name} selects {len(selected)} columns but documents {len(documented)}; "
                          "keep columns: in the same order as the SELECT list", file=view.source, key=key)
    for i, (doc, sel) in enumerate(zip(documented, selected, strict=True), start=1):
        if doc.upper() != sel.upper():
            raise ConfigError(f"view {view.name}: column {i} is documented as {doc!r} but the SELECT names it "
                              f"{sel.lower()!r}; keep columns: in the same order and spelling as the SELECT list",
                              file=view.source, key=f"{key}.{doc}")


# --------------------------------------------------------------------------- docs/views.md

def _words(values: tuple[str, ...], conjunction: str = "or") -> str:
    """new, acknowledged or mitigated"""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {conjunction} {values[-1]}"


def _materialized_note(view: View) -> str:
    m = view.materialize
    assert m is not None
    lag = f"`TARGET_LAG = '{m.target_lag}'`" if m.target_lag else "`TARGET_LAG = DOWNSTREAM`"
    scope = ("`seed` whole, `ingest` and `import` only the incidents they changed" if m.by_incident
             else "whole")
    return (f"Materialized: a dynamic table on Snowflake ({lag}, `REFRESH_MODE = {m.refresh_mode}`); on the local "
            f"target a table that `seed`, `ingest` and `import` refresh after they load ({scope}).")


def render_docs(project: Project) -> str:
    """docs/views.md, generated from config/views.yml: the same text is each view's column comment."""
    life = project.lifecycle
    lines = [
        "# Analytics views",
        "",
        "<!-- Generated from config/views.yml by `incidents render`; edit that file, not this one. -->",
        "",
        "Shared rules, applied by every view:",
        "",
        f"- **Open** incidents have status {_words(life.open)}; **resolved** ones have status {_words(life.resolved)}.",
        f"- {_words(life.excluded, 'and').capitalize()} incidents have no durations or SLA outcome and add no "
        "revenue or customers (a duplicate's impact is counted on its original). Counts of incidents include them.",
        "- Durations are minutes (2 decimals) between UTC timestamps; a duration whose end precedes its start "
        "is NULL (and reported by `v_data_quality_issues`). MTTR = mean `minutes_to_resolve` of resolved incidents.",
        "- Percentages are 0-100 with 2 decimals, NULL when the denominator is 0.",
        "- SLA targets come from the `sla_policies` table and impact-score weights from `impact_score_weights`; "
        "edit their rows to change results without redeploying.",
        "- \"Now\" is `SYSDATE()` (UTC) at query time.",
        "",
        "Views: " + ", ".join(f"[`{v.name}`](#{v.name})" for v in project.views),
        "",
    ]
    for view in project.views:
        lines += [f"## {view.name}", "", view.comment or "", ""]
        lines += [_materialized_note(view), ""] if view.materialize else []
        lines += ["| column | definition |", "|---|---|"]
        lines += [f"| `{name}` | {text.replace('|', '&#124;')} |" for name, text in view.columns]
        lines.append("")
    return "\n".join(lines)
