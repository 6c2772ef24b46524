"""docs/views.md, generated from config/views.yml: the same text is each view's column comment.

`incidents render` writes it with the SQL files after editing config/views.yml; a test checks the
committed file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from incidents.config import load_project
from incidents.models import Project

DOCS_FILE = "docs/views.md"


def render_docs(project: Project) -> str:
    lines = [
        "# Analytics views",
        "",
        "<!-- Generated from config/views.yml by `incidents render`; edit that file, not this one. -->",
        "",
        "Shared rules, applied by every view:",
        "",
        "- **Open** incidents have status new, acknowledged, investigating, identified or mitigated; "
        "**resolved** ones have status resolved or closed.",
        "- Cancelled and duplicate incidents have no durations or SLA outcome and add no revenue or "
        "customers (a duplicate's impact is counted on its original). Counts of incidents include them.",
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    target = root / DOCS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_docs(load_project(root)), encoding="utf-8", newline="\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
