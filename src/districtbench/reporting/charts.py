"""The report's charts, drawn by matplotlib as static SVG (no JavaScript; prints as vectors).

Imported only by `districtbench report` (matplotlib takes ~0.3 s to import). Each function
returns one SVG document as text; the page embeds it as a data: image, so charts cannot clash
with each other's element ids and nothing is fetched from anywhere. Text is drawn as paths:
the chart looks the same on a machine that lacks its font.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from districtbench.formatting import school_year

# Colours (the Okabe–Ito palette: distinguishable with colour-blindness, prints in grey).
GOOD = "#009E73"
CONCERN = "#D55E00"
NEUTRAL = "#0072B2"
STATE = "#7f8c99"
NATION = "#b8c0c8"
PEERS = "#CC79A7"
INK = "#1f2933"
MUTED = "#5f6b76"

READING_COLOURS = {"good": GOOD, "concern": CONCERN}
STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "districtbench",  # stable element ids: the same data gives the same file
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.edgecolor": "#c9d1d9",
    "axes.labelcolor": MUTED,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
WIDTH, HEIGHT = 3.6, 2.2  # inches; the page scales the SVG to its column


def reading_colour(reading: str | None) -> str:
    return READING_COLOURS.get(reading or "", NEUTRAL)


@dataclass
class Bar:
    label: str
    value: Decimal | None
    colour: str


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    FigureCanvasSVG(figure)
    figure.savefig(buffer, format="svg", metadata={"Date": None}, dpi=160)
    return buffer.getvalue()


def _figure(height: float = HEIGHT) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained")


def _number(value: float, decimals: int = 2) -> str:
    return f"{value:,.{decimals}f}"


def comparison_bars(bars: Sequence[Bar], unit: str) -> str:
    """Horizontal bars: the district (or state) against the averages it is compared with."""
    shown = [bar for bar in bars if bar.value is not None]
    with rc_context(STYLE):
        figure = _figure(0.45 + 0.36 * max(len(bars), 1))
        axes = figure.add_subplot()
        labels = [bar.label for bar in bars]
        values = [float(bar.value) if bar.value is not None else 0.0 for bar in bars]
        positions = list(range(len(bars)))[::-1]
        axes.barh(positions, values, color=[bar.colour for bar in bars], height=0.62)
        high = max(values, default=0.0) or 1.0
        for position, bar, value in zip(positions, bars, values):
            text = _number(value) if bar.value is not None else "no value"
            axes.text(value + high * 0.02, position, text, va="center", ha="left", color=INK, fontsize=8.5)
        axes.set_yticks(positions, labels)
        axes.set_xlim(0, high * 1.28)
        axes.set_xlabel(unit)
        axes.tick_params(axis="y", length=0)
        if not shown:
            axes.set_xticks([])
        return _svg(figure)


def distribution(values: Sequence[Decimal], marked: Decimal | None, marked_label: str, colour: str, unit: str,
                 reference: Decimal | None = None, reference_label: str = "") -> str:
    """Every district of the state as a dot (jittered vertically) over a box plot of the
    quartiles; the district in question (or the state average) marked and labelled."""
    numbers = [float(value) for value in values]
    jitter = random.Random(len(numbers))  # the same page for the same data
    with rc_context(STYLE):
        figure = _figure(1.7)
        axes = figure.add_subplot()
        if numbers:
            axes.boxplot(
                numbers, orientation="horizontal", widths=0.5, showfliers=False, patch_artist=True,
                boxprops={"facecolor": "#eef2f6", "edgecolor": "#9aa5b1"},
                medianprops={"color": "#52606d"}, whiskerprops={"color": "#9aa5b1"}, capprops={"color": "#9aa5b1"},
            )
            ys = [1 + jitter.uniform(-0.18, 0.18) for _ in numbers]
            size, alpha = (16, 0.6) if len(numbers) < 100 else (8, 0.45) if len(numbers) < 400 else (5, 0.35)
            # Hundreds of dots as vectors would double the page; as one embedded bitmap they are light.
            axes.scatter(numbers, ys, s=size, color="#52606d", alpha=alpha, linewidths=0, rasterized=len(numbers) > 400)
        if reference is not None:
            axes.axvline(float(reference), color=STATE, linestyle="--", linewidth=1)
            axes.annotate(reference_label, (float(reference), 1.42), color=MUTED, fontsize=7.5, ha="center")
        if marked is not None:
            axes.scatter([float(marked)], [1], s=70, marker="D", color=colour, edgecolors="white", linewidths=1, zorder=5)
            axes.annotate(
                f"{marked_label} {_number(float(marked))}", (float(marked), 0.62), color=colour, fontsize=8,
                ha="center", fontweight="bold",
            )
        axes.set_ylim(0.45, 1.55)
        axes.set_yticks([])
        axes.spines["left"].set_visible(False)
        outside = _focus(axes, numbers, [float(x) for x in (marked, reference) if x is not None])
        # The caption above the chart counts the districts; the label stays narrow enough to fit.
        axes.set_xlabel(unit + (f"\n{outside:,} {'district' if outside == 1 else 'districts'} beyond the axis" if outside else ""))
        return _svg(figure)


def _focus(axes, numbers: list[float], keep: list[float]) -> int:
    """Narrow the axis to the middle 98 % of the districts (and whatever is marked), so a few
    extreme values do not squeeze everyone else into a corner; returns how many are cut off."""
    if len(numbers) < 50:
        return 0
    ordered = sorted(numbers)
    low = min([ordered[int(len(ordered) * 0.01)], *keep])
    high = max([ordered[int(len(ordered) * 0.99) - 1], *keep])
    if high <= low:
        return 0
    margin = (high - low) * 0.06
    axes.set_xlim(low - margin, high + margin)
    return sum(1 for value in numbers if value < low - margin or value > high + margin)


@dataclass
class Line:
    label: str
    points: dict[int, Decimal]
    colour: str
    width: float = 2.0
    dashed: bool = False


def trend(lines: Sequence[Line]) -> str:
    """Each line over the school years it has; years on the x axis as 2021-22."""
    years = sorted({year for line in lines for year in line.points})
    with rc_context(STYLE):
        figure = _figure()
        axes = figure.add_subplot()
        for line in lines:
            if not line.points:
                continue
            xs = sorted(line.points)
            axes.plot(
                xs, [float(line.points[x]) for x in xs], color=line.colour, linewidth=line.width,
                linestyle="--" if line.dashed else "-", marker="o", markersize=3, label=line.label,
            )
        if years:
            step = max(1, -(-len(years) // 5))  # at most 5 labels, the latest always among them
            ticks = years[::-1][::step][::-1]
            axes.set_xticks(ticks, [school_year(year) for year in ticks])
            axes.set_xlim(years[0] - 0.5, years[-1] + 0.5)
            axes.legend(frameon=False, fontsize=7.5, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2,
                        borderaxespad=0.2, handlelength=1.6, columnspacing=1.2)
        else:
            axes.set_xticks([])
            axes.text(0.5, 0.5, "no history", transform=axes.transAxes, ha="center", color=MUTED)
        axes.grid(axis="y", color="#e4e7eb", linewidth=0.6)
        return _svg(figure)
