"""Per-table progress with rows/s on a terminal; silent everywhere else (pipes, CI, --format json)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, *, enabled: bool, incidents: int) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._incidents = incidents
        self._started = time.perf_counter()
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        console = Console(stderr=True, emoji=False)
        if not console.is_terminal:
            return
        # The bar counts incidents (known up front); child tables show their own rows and rate beside it.
        self._bar = RichProgress(
            TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:>12,} rows"), TextColumn("{task.fields[rate]:>10} rows/s"),
            TimeElapsedColumn(), console=console)

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, table: str, rows: int, *, covered: int, total: int) -> None:
        """`rows` more rows loaded into `table`, whose rows now cover `covered` of `total` incidents
        (a dimension table covers its own rows). The rate is rows over the time since the load began."""
        if self._bar is None:
            return
        if table not in self._tasks:
            self._tasks[table] = self._bar.add_task(table, total=total, rows=0, rate="")
        task_id = self._tasks[table]
        loaded = self._bar.tasks[task_id].fields["rows"] + rows
        elapsed = max(time.perf_counter() - self._started, 1e-3)
        self._bar.update(task_id, completed=covered, total=total, rows=loaded,
                         rate=f"{loaded / elapsed:,.0f}")
