"""Where `incidents report` writes by default: `reports/` in the project (the current folder for the
example project inside the installed package), a folder git ignores, so a `git add -A` after a
report never commits one."""

from __future__ import annotations

from pathlib import Path

from incidents.project.config import PACKAGED_PROJECT
from incidents.report.period import Period

REPORTS_DIR = "reports"
# Written into the folder when the tool creates it: git then ignores it even in a project whose
# .gitignore predates it.
IGNORE_ALL = "# Written by `incidents report`: reports are outputs, never committed.\n*\n"


def default_path(project_root: Path, period: Period, fmt: str = "html") -> Path:
    """reports/report-<from>_<to>.<html|txt>: one file per period, so last week's stays beside this one."""
    base = Path.cwd() if project_root.resolve() == PACKAGED_PROJECT.resolve() else project_root
    suffix = "html" if fmt == "html" else "txt"
    return base / REPORTS_DIR / f"report-{period.start.isoformat()}_{period.end.isoformat()}.{suffix}"


def ensure_folder(folder: Path) -> None:
    """Create the reports folder, git-ignored from inside, if it is not there yet."""
    if not folder.is_dir():
        folder.mkdir(parents=True)
        (folder / ".gitignore").write_text(IGNORE_ALL, encoding="utf-8")
