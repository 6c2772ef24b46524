"""The report as text for SSH sessions and CI logs: the headline tiles and the key tables (rich),
100 columns wide. Same figures and formatting as the HTML (layout.py). Every text that came from the
database (titles, names, categories, codes) is printed through `printable`: a control character in
the data is shown as an escape (\\x1b), never sent to the terminal."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from incidents.errors import printable
from incidents.report.data import ReportData
from incidents.report.layout import Body, Table, body, scope_text

if TYPE_CHECKING:
    from rich.console import Console

# The heat map in text: a shade per cell, darkest = the busiest cell.
SHADES = " \u2591\u2592\u2593\u2588"


def render_text(report: ReportData, width: int = 100) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None, highlight=False,
                      soft_wrap=False, emoji=False, markup=False)
    p = report.period
    console.print(f"Incident report  {report.database}.{report.schema} (env {report.env})  period {p.start} to "
                  f"{p.end} ({p.days} days)  generated {report.generated_at:%Y-%m-%d %H:%M} UTC  "
                  f"{report.incidents:,} incidents")
    if not report.incidents:
        console.print("The warehouse holds no incidents yet: every section says there is no data.")
    for n, s in enumerate(report.sections, start=1):
        console.rule(f"{n}. {s.section.heading}", align="left", characters="-")
        console.print(f"from {', '.join(v for v, _ in s.definitions)}; {scope_text(report, s)}")
        if s.error:
            console.print(f"This section could not be computed: {s.error}")
            continue
        if s.empty:
            console.print(s.section.empty)
            continue
        _print_body(console, body(report, s))
    return console.export_text()


def _print_body(console: Console, shown: Body) -> None:
    from rich.table import Table as RichTable

    if shown.tiles:
        tiles = RichTable(show_header=False, box=None, pad_edge=False)
        tiles.add_column(no_wrap=True)
        tiles.add_column(no_wrap=True)
        tiles.add_column(overflow="fold")  # the explanation wraps; the figure beside it never does
        for tile in shown.tiles:
            tiles.add_row(tile.label, printable(tile.value), printable(tile.sub))
        console.print(tiles)
    if shown.grid:
        _print_grid(console, *shown.grid)
    for t in shown.tables:
        console.print(_rich_table(t.for_text(), RichTable))
    for note in shown.notes:
        console.print(note)


def _rich_table(t: Table, cls: type) -> object:
    from rich import box

    table = cls(title=t.caption or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                show_edge=False)
    for i, header in enumerate(t.headers):
        wide = i in t.wide
        table.add_column(header, justify="right" if t.numeric[i] else "left", no_wrap=True,
                         overflow="ellipsis", max_width=32 if wide else None)
    for row in t.rows:
        table.add_row(*(printable(cell) for cell in row))
    return table


def _print_grid(console: Console, rows: list[str], cols: list[str], values: list[list[int]]) -> None:
    """The heat map as shade characters, two per hour; the scale is the darkest cell."""
    peak = max((v for row in values for v in row), default=0) or 1
    console.print("     " + "".join(c[:2] for c in cols))
    for name, row in zip(rows, values, strict=True):
        cells = "".join(SHADES[min(len(SHADES) - 1, round(v / peak * (len(SHADES) - 1)))] * 2 for v in row)
        console.print(f"{printable(name):<4} {cells}")
    console.print(f"     darkest = {peak:,} incidents per cell")
