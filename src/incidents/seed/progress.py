"""Per-table progress with rows/s on a terminal; silent everywhere else (pipes, CI, --format json)."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, *, enabled: bool, incidents: int) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._incidents = incidents
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._bar = RichProgress(
            TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>12} rows/s"), TimeElapsedColumn(), console=console)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, table: str, rows: int) -> None:
        if self._bar is None:
            return
        if table not in self._tasks:
            # Only the incidents total is known up front; child tables count up.
            total = self._incidents if table == "incidents" else None
            self._tasks[table] = self._bar.add_task(table, total=total, rate="")
        task_id = self._tasks[table]
        self._bar.advance(task_id, rows)
        task = self._bar.tasks[task_id]
        speed = task.completed / task.elapsed if task.elapsed else 0.0
        self._bar.update(task_id, rate=f"{speed:,.0f}")
