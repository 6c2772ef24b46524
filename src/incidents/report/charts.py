"""Chart geometry for the HTML report: figures in, SVG marks out (rendered by templates/report.html.j2).

Inline SVG drawn on the server: no script, no font or library to embed, a few kB per chart, crisp
in print. These functions only place marks; the figures they draw come from the views unchanged.

Every chart is at most WIDTH user units wide and every text in it at least MIN_FONT, so on a phone
420 px wide (the page's content is 396 px there) a chart scaled to fit still prints its labels at
10 px or more: 396 / 460 * 12 = 10.3. Every axis speaks one unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Fmt = Callable[[float], str]

PRIORITY_COLOURS = {"critical": "#a50f15", "high": "#e6550d", "medium": "#fdae6b", "low": "#6b8fb5"}
SERIES = ("#3366aa", "#ee8833", "#55aa55", "#aa4488", "#999933", "#66bbcc")
AXIS, GRID, INK, TARGET = "#666", "#e3e3e3", "#222", "#111"
WIDTH = 460
# Font sizes in user units; the page's CSS (svg .lbl / .tick / .val) sets the same.
LABEL_FONT, TICK_FONT = 13.0, 12.0
MIN_FONT = min(LABEL_FONT, TICK_FONT)
CHAR = 0.56  # average glyph width of the UI sans-serif, in ems: enough to decide where a label is cut


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
    note: str = ""  # a sentence under the chart: what a line or scale means

    def add(self, tag: str, title: str | None = None, text: str | None = None, data: bool = False,
            **attrs: Any) -> None:
        self.marks.append(Mark(tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()},
                               title, text, data))


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Unit:
    """One unit for a whole duration axis: minutes, hours or days."""

    suffix: str
    minutes: float

    def of(self, minutes: float | None) -> float | None:
        return None if minutes is None else float(minutes) / self.minutes

    def fmt(self, value: float) -> str:
        """A value already in this unit: 3 significant digits at most, the unit once."""
        v = abs(value)
        digits = 0 if v >= 10 or v == int(v) else 1 if v >= 1 else 2
        return f"{value:,.{digits}f} {self.suffix}"


MINUTES, HOURS, DAYS = Unit("min", 1), Unit("h", 60), Unit("d", 1440)


def duration_unit(largest_minutes: float) -> Unit:
    """The unit an axis reaching `largest_minutes` reads best in."""
    if largest_minutes < 180:
        return MINUTES
    return HOURS if largest_minutes < 72 * 60 else DAYS


def _r(x: float) -> float:
    return round(x, 1)


def fit(text: str, width: float, font: float = LABEL_FONT) -> str:
    """`text` cut with an ellipsis to about `width` user units (the full text goes in a tooltip)."""
    room = max(int(width / (font * CHAR)), 4)
    return text if len(text) <= room else text[: room - 1].rstrip() + "\u2026"


def nice_max(value: float) -> float:
    """A round axis maximum at or above value whose quarters (the gridlines) are round too."""
    if value <= 0:
        return 1.0
    quarter = max(value / 4, 1.0) if value >= 1 else value / 4  # counts: gridlines at whole numbers
    exp = 10 ** math.floor(math.log10(quarter))
    steps = (1, 2, 3, 4, 5, 6, 8, 10) if exp == 1 else (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    return 4 * next(m * exp for m in steps if quarter <= m * exp + 1e-9)


@dataclass(frozen=True)
class _Scale:
    """Value -> x offset in the plot; ticks to draw."""

    at: Callable[[float], float]
    ticks: list[float]


def _linear(top: float, plot: float) -> _Scale:
    return _Scale(lambda v: plot * v / top, [top * k / 4 for k in range(5)])


def _log(values: Sequence[float], plot: float) -> _Scale:
    """Decades from the one below the smallest value to the one above the largest."""
    positive = [v for v in values if v > 0] or [1.0]
    lo = 10 ** math.floor(math.log10(min(positive)))
    hi = 10 ** math.ceil(math.log10(max(positive) * 1.0001))
    span = math.log10(hi / lo) or 1.0
    ticks = [lo * 10 ** k for k in range(round(span) + 1)]
    return _Scale(lambda v: plot * max(math.log10(max(v, lo) / lo), 0) / span, ticks)


def hbars(label: str, categories: Sequence[str], series: Sequence[Series], fmt: Fmt, *, stacked: bool = False,
          maximum: float | None = None, log: bool = False, width: int = WIDTH, label_width: int = 120,
          tick_fmt: Fmt | None = None, targets: Sequence[float | None] = (), target_name: str = "target") -> Chart:
    """Horizontal bars, one group per category: series side by side, or stacked. `targets` (one per
    category, None for none) draws a dark line across the group at that value."""
    per_group = 1 if stacked else len(series)
    bar, gap = 15, 10
    height = 8 + len(categories) * (per_group * bar + gap) + 22
    legend = [(s.name, s.colour) for s in series] if len(series) > 1 else []
    if any(t is not None for t in targets):
        legend.append((target_name, TARGET))
    chart = Chart(label, width, height, legend=legend)
    totals = [sum(s.values[i] or 0 for s in series) if stacked else max((s.values[i] or 0) for s in series)
              for i in range(len(categories))]
    plot = width - label_width - 58  # room on the right for the value printed after the longest bar
    if log:
        scale = _log([*totals, *(v or 0 for s in series for v in s.values), *(t or 0 for t in targets)], plot)
    else:
        top_value = maximum if maximum is not None else nice_max(max([*totals, *(t or 0 for t in targets)],
                                                                     default=0))
        scale = _linear(top_value, plot)
    _x_axis(chart, label_width, 4, height - 20, scale, tick_fmt or fmt)
    y = 8.0
    for i, name in enumerate(categories):
        shown = fit(name, label_width - 8)
        chart.add("text", title=name if shown != name else None, text=shown, x=label_width - 6,
                  y=_r(y + per_group * bar / 2 + 4.5), text_anchor="end", class_="lbl")
        x0 = 0.0
        texts: list[tuple[str, float, float]] = []  # drawn last: over the target line, with a halo
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            w = max(scale.at(value), 0.5) if value else 0.0
            by = y if stacked else y + j * bar
            bx = label_width + (x0 if stacked else 0)
            if w:  # a zero draws nothing; grouped bars still print it
                chart.add("rect", title=f"{name} - {s.name}: {fmt(value)}", data=True, x=_r(bx), y=_r(by),
                          width=_r(w), height=bar - 2, fill=s.colour)
            if not stacked:
                texts.append((fmt(value), bx + w + 4, by + bar - 3.5))
            x0 += w
        if stacked:
            texts.append((fmt(totals[i]), label_width + x0 + 4, y + bar - 3.5))
        target = targets[i] if i < len(targets) else None
        if target is not None:
            tx = _r(label_width + scale.at(target))
            chart.add("line", title=f"{name} - {target_name}: {fmt(target)}", data=True, x1=tx, y1=_r(y - 3),
                      x2=tx, y2=_r(y + per_group * bar + 1), stroke=TARGET, stroke_width=2.5,
                      class_="target")
        for text, tx, ty in texts:
            chart.add("text", text=text, x=_r(tx), y=_r(ty), class_="val")
        y += per_group * bar + gap
    return chart


def _x_axis(chart: Chart, x: float, top: float, bottom: float, scale: _Scale, fmt: Fmt) -> None:
    for t in scale.ticks:
        tx = _r(x + scale.at(t))
        chart.add("line", x1=tx, y1=top, x2=tx, y2=bottom, stroke=GRID)
        chart.add("text", text=fmt(t), x=tx, y=bottom + 15, text_anchor="middle", class_="tick")


def columns(label: str, categories: Sequence[str], stacks: Sequence[Series], fmt: Fmt, *,
            line: Series | None = None, line_fmt: Fmt | None = None, line_max: float | None = None,
            width: int = WIDTH, height: int = 250, every: int = 1) -> Chart:
    """Vertical stacked columns per category (e.g. a month), with an optional line on a right axis
    of its own unit (line_max fixes its top, e.g. 100 for a share). A category "Jan\n2026" is
    labelled on two lines."""
    left, right, top = 44, 46 if line else 10, 10
    bottom = 38 if any("\n" in c for c in categories) else 24
    legend = [(s.name, s.colour) for s in stacks] + ([(line.name, line.colour)] if line else [])
    chart = Chart(label, width, height, legend=legend)
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(len(categories))]
    y_max = nice_max(max(totals, default=0))
    for k in range(5):
        ty = _r(top + plot_h - plot_h * k / 4)
        chart.add("line", x1=left, y1=ty, x2=left + plot_w, y2=ty, stroke=GRID)
        chart.add("text", text=fmt(y_max * k / 4), x=left - 5, y=_r(ty + 4), text_anchor="end", class_="tick")
    slot = plot_w / max(len(categories), 1)
    bar = max(slot * 0.7, 1)
    for i, name in enumerate(categories):
        x = left + i * slot + (slot - bar) / 2
        y: float = top + plot_h
        for s in stacks:
            value = s.values[i] or 0
            h = plot_h * value / y_max
            if value:
                chart.add("rect", title=f"{name.replace(chr(10), ' ')} - {s.name}: {fmt(value)}", data=True,
                          x=_r(x), y=_r(y - h),
                          width=_r(bar), height=_r(h), fill=s.colour)
            y -= h
        if i % every == 0:
            first, _, second = name.partition("\n")  # a second line (the year) under its column
            chart.add("text", text=first, x=_r(x + bar / 2), y=top + plot_h + 16, text_anchor="middle",
                      class_="tick")
            if second:
                chart.add("text", text=second, x=_r(x + bar / 2), y=top + plot_h + 30, text_anchor="middle",
                          class_="tick")
    if line:
        _line(chart, line, line_fmt or fmt, line_max, categories, left, top, plot_w, plot_h, slot)
    return chart


def _line(chart: Chart, line: Series, fmt: Fmt, line_max: float | None, categories: Sequence[str], left: float,
          top: float, plot_w: float, plot_h: float, slot: float) -> None:
    known = [v for v in line.values if v is not None]
    if not known:
        return
    y_max = line_max if line_max is not None else nice_max(max(known))
    for k in (0, 2, 4):
        chart.add("text", text=fmt(y_max * k / 4), x=left + plot_w + 5, y=_r(top + plot_h - plot_h * k / 4 + 4),
                  class_="tick", fill=line.colour)
    points = []
    for i, value in enumerate(line.values):
        if value is None:
            continue
        x, y = _r(left + i * slot + slot / 2), _r(top + plot_h - plot_h * value / y_max)
        points.append(f"{x},{y}")
        chart.add("circle", title=f"{categories[i].replace(chr(10), ' ')} - {line.name}: {fmt(value)}", data=True,
                  cx=x, cy=y, r=3,
                  fill=line.colour)
    chart.add("polyline", points=" ".join(points), fill="none", stroke=line.colour, stroke_width=2)


def heatmap(label: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]], fmt: Fmt,
            colour: tuple[int, int, int] = (51, 102, 170), width: int = WIDTH, unit: str = "") -> Chart:
    """A grid of cells shaded by value (darkest = largest), with its scale underneath: swatches from
    0 to the largest cell."""
    left, top, cell_h = 40, 18, 22
    cell_w = (width - left - 4) / max(len(cols), 1)
    grid_bottom = top + len(rows) * cell_h
    chart = Chart(label, width, grid_bottom + 52)
    peak = max((v for row in values for v in row), default=0) or 1
    for j, name in enumerate(cols):
        if j % 3 == 0:  # every third hour: two digits fit a cell, not side by side at this size
            chart.add("text", text=name, x=_r(left + j * cell_w + cell_w / 2), y=13, text_anchor="middle",
                      class_="tick")
    for i, name in enumerate(rows):
        y = top + i * cell_h
        chart.add("text", text=name, x=left - 5, y=y + cell_h / 2 + 4.5, text_anchor="end", class_="lbl")
        for j, value in enumerate(values[i]):
            chart.add("rect", title=f"{name} {cols[j]}: {fmt(value)}", data=True, x=_r(left + j * cell_w), y=y,
                      width=_r(cell_w - 1), height=cell_h - 1, fill=_shade(colour, value / peak))
    _scale_legend(chart, left, grid_bottom + 12, peak, fmt, colour, unit)
    return chart


def _shade(colour: tuple[int, int, int], share: float) -> str:
    return "#" + "".join(f"{round(255 - (255 - c) * share):02x}" for c in colour)


def _scale_legend(chart: Chart, x: float, y: float, peak: float, fmt: Fmt, colour: tuple[int, int, int],
                  unit: str) -> None:
    """Five swatches, 0 to the darkest cell, labelled at both ends and the middle."""
    steps, w = 5, 36
    for k in range(steps):
        share = k / (steps - 1)
        chart.add("rect", title=f"{fmt(peak * share)} {unit}".strip(), x=_r(x + k * w), y=y, width=w - 2,
                  height=12, fill=_shade(colour, share), stroke=GRID, class_="scale")
    for k, anchor in ((0, "start"), (steps // 2, "middle"), (steps - 1, "end")):
        share = k / (steps - 1)
        tx = _r(x + k * w + (w - 2) / 2 if anchor == "middle" else x + k * w + (w - 2 if k else 0))
        chart.add("text", text=fmt(peak * share), x=tx, y=y + 27, text_anchor=anchor, class_="tick")
    chart.add("text", text=f"{unit} per cell".strip(), x=_r(x + steps * w + 6), y=y + 11, class_="tick")
