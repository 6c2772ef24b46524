"""docs/views.md, generated from config/views.yml: the same text is each view's column comment.

`incidents render` writes it with the SQL files after editing config/views.yml; a test checks the
committed file is current.
"""

from __future__ import annotations

from incidents.models import Project

DOCS_FILE = "docs/views.md"


def _words(values: tuple[str, ...], conjunction: str = "or") -> str:
    """new, acknowledged or mitigated"""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {conjunction} {values[-1]}"


def render_docs(project: Project) -> str:
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
        lines += [f"## {view.name}", "", view.comment or "", "", "| column | definition |", "|---|---|"]
        lines += [f"| `{name}` | {text.replace('|', '&#124;')} |" for name, text in view.columns]
        lines.append("")
    return "\n".join(lines)
