"""Chart geometry for the HTML report: figures in, SVG marks out (rendered by templates/charts.html.j2).

Inline SVG drawn on the server: no script, no font or library to embed, a few kB per chart, crisp
in print. These functions only place marks; the figures they draw come from the views unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Fmt = Callable[[float], str]

PRIORITY_COLOURS = {"critical": "#a50f15", "high": "#e6550d", "medium": "#fdae6b", "low": "#6b8fb5"}
SERIES = ("#3366aa", "#ee8833", "#55aa55", "#aa4488", "#999933", "#66bbcc")
AXIS, GRID, INK = "#666", "#e3e3e3", "#222"
LOG_TICKS = (1, 10, 60, 480, 1440, 10080, 43200, 525600)  # minutes: 1 min, 10 min, 1 h, 8 h, 1 d, 1 w, 30 d, 1 y


@dataclass
class Mark:
    tag: str                     # rect, line, text, polyline, circle
    attrs: dict[str, Any]
    title: str | None = None     # tooltip
    text: str | None = None
    data: bool = False           # a mark that shows a figure (class="mark"), not an axis or label


@dataclass
class Chart:
    label: str
    width: int
    height: int
    marks: list[Mark] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, colour)

    def add(self, tag: str, title: str | None = None, text: str | None = None, data: bool = False,
            **attrs: Any) -> None:
        self.marks.append(Mark(tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()},
                               title, text, data))


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


def _r(x: float) -> float:
    return round(x, 1)


def nice_max(value: float) -> float:
    """A round axis maximum at or above value whose quarters (the gridlines) are round too."""
    if value <= 0:
        return 1.0
    quarter = max(value / 4, 1.0) if value >= 1 else value / 4  # counts: gridlines at whole numbers
    exp = 10 ** math.floor(math.log10(quarter))
    steps = (1, 2, 3, 4, 5, 6, 8, 10) if exp == 1 else (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    return 4 * next(m * exp for m in steps if quarter <= m * exp + 1e-9)


def hbars(label: str, categories: Sequence[str], series: Sequence[Series], fmt: Fmt, *, stacked: bool = False,
          maximum: float | None = None, log: bool = False, width: int = 640, label_width: int = 150) -> Chart:
    """Horizontal bars, one group per category: series side by side, or stacked."""
    per_group = 1 if stacked else len(series)
    bar, gap = 14, 10
    top = 22 if len(series) > 1 else 6
    height = top + len(categories) * (per_group * bar + gap) + 22
    chart = Chart(label, width, height, legend=[(s.name, s.colour) for s in series] if len(series) > 1 else [])
    totals = [sum(s.values[i] or 0 for s in series) if stacked else max((s.values[i] or 0) for s in series)
              for i in range(len(categories))]
    top_value = maximum if maximum is not None else nice_max(max(totals, default=0))
    plot = width - label_width - 60
    scale = _log_scale(top_value, plot) if log else (lambda v: plot * v / top_value)
    _x_axis(chart, label_width, top, height - 20, plot, top_value, fmt, log)
    y = top
    for i, name in enumerate(categories):
        chart.add("text", text=name, x=label_width - 6, y=y + per_group * bar / 2 + 4, text_anchor="end",
                  class_="lbl")
        x0 = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            w = max(scale(value), 0.5) if value else 0.0
            by = y if stacked else y + j * bar
            bx = label_width + (x0 if stacked else 0)
            if w:  # a zero draws nothing; grouped bars still print it
                chart.add("rect", title=f"{name} - {s.name}: {fmt(value)}", data=True, x=_r(bx), y=by,
                          width=_r(w), height=bar - 2, fill=s.colour)
            if not stacked:
                chart.add("text", text=fmt(value), x=_r(bx + w + 4), y=by + bar - 4, class_="val")
            x0 += w
        if stacked:
            chart.add("text", text=fmt(totals[i]), x=_r(label_width + x0 + 4), y=y + bar - 4, class_="val")
        y += per_group * bar + gap
    return chart


def _log_scale(top: float, plot: float) -> Callable[[float], float]:
    hi = math.log10(max(top, 10))
    return lambda v: plot * max(math.log10(max(v, 1)), 0) / hi


def _x_axis(chart: Chart, x: float, top: float, bottom: float, plot: float, top_value: float, fmt: Fmt,
            log: bool) -> None:
    if log:
        ticks: list[float] = [t for t in LOG_TICKS if t <= top_value]
        scale = _log_scale(top_value, plot)
    else:
        ticks = [top_value * k / 4 for k in range(5)]
        scale = lambda v: plot * v / top_value  # noqa: E731
    for t in ticks:
        tx = _r(x + scale(t))
        chart.add("line", x1=tx, y1=top - 4, x2=tx, y2=bottom, stroke=GRID)
        chart.add("text", text=fmt(t), x=tx, y=bottom + 14, text_anchor="middle", class_="tick")


def columns(label: str, categories: Sequence[str], stacks: Sequence[Series], fmt: Fmt, *,
            line: Series | None = None, line_fmt: Fmt | None = None, width: int = 900, height: int = 260,
            every: int = 1) -> Chart:
    """Vertical stacked columns per category (e.g. a month), with an optional line on a right axis."""
    left, right, top, bottom = 48, 56 if line else 12, 10, 34
    legend = [(s.name, s.colour) for s in stacks] + ([(line.name, line.colour)] if line else [])
    chart = Chart(label, width, height, legend=legend)
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(len(categories))]
    y_max = nice_max(max(totals, default=0))
    for k in range(5):
        ty = _r(top + plot_h - plot_h * k / 4)
        chart.add("line", x1=left, y1=ty, x2=left + plot_w, y2=ty, stroke=GRID)
        chart.add("text", text=fmt(y_max * k / 4), x=left - 6, y=ty + 4, text_anchor="end", class_="tick")
    slot = plot_w / max(len(categories), 1)
    bar = max(slot * 0.7, 1)
    for i, name in enumerate(categories):
        x = left + i * slot + (slot - bar) / 2
        y: float = top + plot_h
        for s in stacks:
            value = s.values[i] or 0
            h = plot_h * value / y_max
            if value:
                chart.add("rect", title=f"{name} - {s.name}: {fmt(value)}", data=True, x=_r(x), y=_r(y - h),
                          width=_r(bar), height=_r(h), fill=s.colour)
            y -= h
        if i % every == 0:
            chart.add("text", text=name, x=_r(x + bar / 2), y=top + plot_h + 14, text_anchor="middle", class_="tick")
    if line:
        _line(chart, line, line_fmt or fmt, categories, left, top, plot_w, plot_h, slot)
    return chart


def _line(chart: Chart, line: Series, fmt: Fmt, categories: Sequence[str], left: float, top: float,
          plot_w: float, plot_h: float, slot: float) -> None:
    known = [v for v in line.values if v is not None]
    if not known:
        return
    y_max = nice_max(max(known))
    for k in (0, 2, 4):
        chart.add("text", text=fmt(y_max * k / 4), x=left + plot_w + 6, y=_r(top + plot_h - plot_h * k / 4 + 4),
                  class_="tick", fill=line.colour)
    points = []
    for i, value in enumerate(line.values):
        if value is None:
            continue
        x, y = _r(left + i * slot + slot / 2), _r(top + plot_h - plot_h * value / y_max)
        points.append(f"{x},{y}")
        chart.add("circle", title=f"{categories[i]} - {line.name}: {fmt(value)}", data=True, cx=x, cy=y, r=2.5,
                  fill=line.colour)
    chart.add("polyline", points=" ".join(points), fill="none", stroke=line.colour, stroke_width=2)


def heatmap(label: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]], fmt: Fmt,
            colour: tuple[int, int, int] = (51, 102, 170), width: int = 900) -> Chart:
    """A grid of cells shaded by value (darkest = largest)."""
    left, top, cell_h = 44, 18, 22
    cell_w = (width - left - 8) / max(len(cols), 1)
    chart = Chart(label, width, top + len(rows) * cell_h + 8)
    peak = max((v for row in values for v in row), default=0) or 1
    for j, name in enumerate(cols):
        chart.add("text", text=name, x=_r(left + j * cell_w + cell_w / 2), y=12, text_anchor="middle", class_="tick")
    for i, name in enumerate(rows):
        y = top + i * cell_h
        chart.add("text", text=name, x=left - 6, y=y + cell_h / 2 + 4, text_anchor="end", class_="lbl")
        for j, value in enumerate(values[i]):
            share = value / peak
            fill = "#" + "".join(f"{round(255 - (255 - c) * share):02x}" for c in colour)
            chart.add("rect", title=f"{name} {cols[j]}: {fmt(value)}", data=True, x=_r(left + j * cell_w), y=y,
                      width=_r(cell_w - 1), height=cell_h - 1, fill=fill)
    return chart
