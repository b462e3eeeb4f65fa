"""Charts as inline SVG (matplotlib), readable by colour-blind readers (Okabe-Ito palette plus marker shapes).

Text stays text in the SVG (the page's font renders it), labels never go through mathtext (a method called `$x$`
is shown as typed), and element ids are salted per chart so several charts can share one page deterministically.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
GREY = "#9a9a9a"

_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": "#222222",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")
_PATH_DATA = re.compile(r'\sd="([^"]*)"')
_NUMBER = re.compile(r"-?\d+\.\d+")


def _compact(svg: str) -> str:
    """Path coordinates to 0.1 pt and no indentation: a third of matplotlib's bytes, the same picture."""

    def path(m: re.Match[str]) -> str:
        data = _NUMBER.sub(lambda n: f"{float(n.group(0)):.1f}".rstrip("0").rstrip("."), m.group(1))
        return ' d="' + " ".join(data.split()) + '"'

    svg = _PATH_DATA.sub(path, svg)
    svg = re.sub(r"font-family: [^;\"]*;? ?", "", svg)  # the page's font applies (CSS: svg.chart text)
    return re.sub(r">\s+<", "><", svg)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def to_svg(fig, salt: str, tight: bool = True) -> str:
    """The figure as an inline <svg> element (no XML prolog)."""
    import matplotlib

    plt = _pyplot()
    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight" if tight else None)
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    opening = _SVG_OPEN.search(svg)
    assert opening is not None
    # keep matplotlib's natural size (text stays the same size on every chart); CSS caps it at the page width
    tag = opening.group(0).replace("<svg", '<svg role="img" class="chart"', 1)
    return _compact(svg[: opening.start()] + tag + svg[opening.end() :])


def _fixed_layout(fig, rows: int) -> None:
    """Margins for panels with a title and x tick labels only: what tight_layout finds, at a fraction of its cost
    (it draws the figure to measure it; small multiples are most of the report's build time)."""
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.03, right=0.97, top=1 - 0.28 / h, bottom=0.3 / h, wspace=0.12, hspace=0.55 * rows / h)


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


@dataclass(frozen=True)
class Panel:
    title: str
    values: np.ndarray  # this method's per-clip values
    others: dict[str, float]  # other methods' means, drawn as reference ticks
    higher_is_better: bool


def distributions_svg(panels: Sequence[Panel], salt: str, colour: str = OKABE_ITO[0]) -> str:
    """Small multiples: per metric, the histogram of one method's per-clip values, its mean, and others' means.

    Written as SVG directly rather than through matplotlib: a report has one such chart per method x task, and
    matplotlib's ~25 ms per panel made them most of the build time (20 methods x 4 tasks: 16 s vs 0.1 s).
    """
    from markupsafe import escape

    from dexbench.report.format import fmt

    w, h, pad, cols = 210, 118, 14, min(len(panels), 4)
    plot_w, top, base = w - 2 * pad, 24, h - 22
    rows = -(-len(panels) // cols) if panels else 0
    parts = []
    for i, p in enumerate(panels):
        ox, oy = (i % cols) * w, (i // cols) * h
        v = p.values[np.isfinite(p.values)]
        g = [f'<g transform="translate({ox} {oy})">']
        g.append(
            f'<text x="{pad}" y="14" font-size="11" font-weight="600" fill="#222">{escape(_short(p.title))} '
            f"{'↑' if p.higher_is_better else '↓'}</text>"
        )
        g.append(f'<line x1="{pad}" x2="{w - pad}" y1="{base}" y2="{base}" stroke="#555" stroke-width="0.8"/>')
        if len(v):
            refs = [x for x in p.others.values() if np.isfinite(x)]
            lo, hi = min([float(v.min()), *refs]), max([float(v.max()), *refs])
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            counts, edges = np.histogram(v, bins=min(20, max(5, len(v) // 3)), range=(lo, hi))

            def x_of(val: float, lo: float = lo, hi: float = hi) -> float:
                return pad + (val - lo) / (hi - lo) * plot_w

            scale = (base - top) / max(1, counts.max())
            d = [f"M{x_of(edges[0]):.1f} {base}"]
            for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
                y = base - c * scale
                d.append(f"L{x_of(a):.1f} {y:.1f}L{x_of(b):.1f} {y:.1f}")
            d.append(f"L{x_of(edges[-1]):.1f} {base}Z")
            g.append(f'<path d="{"".join(d)}" fill="{colour}" fill-opacity="0.85"/>')
            for x in refs:
                g.append(f'<line x1="{x_of(x):.1f}" x2="{x_of(x):.1f}" y1="{top - 4}" y2="{base}" stroke="{GREY}" '
                         'stroke-width="0.9"/>')  # fmt: skip
            m = float(v.mean())
            g.append(f'<line x1="{x_of(m):.1f}" x2="{x_of(m):.1f}" y1="{top - 4}" y2="{base}" stroke="#000" '
                     'stroke-width="1.5"/>')  # fmt: skip
            for val, anchor in ((lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end")):
                g.append(f'<text x="{x_of(val):.1f}" y="{base + 14}" font-size="9" fill="#444" '
                         f'text-anchor="{anchor}">{escape(fmt(val))}</text>')  # fmt: skip
        else:
            g.append(f'<text x="{pad}" y="{base - 10}" font-size="10" fill="#888">no finite values</text>')
        g.append("</g>")
        parts.append("".join(g))
    width, height = cols * w, rows * h
    return (
        f'<svg role="img" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-chart="{escape(salt)}">' + "".join(parts) + "</svg>"
    )


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    x_ci: tuple[float, float] | None = None
    y_ci: tuple[float, float] | None = None


def scatter_svg(
    points: Sequence[Point], xlabel: str, ylabel: str, salt: str, title: str = "", *, origin: bool = False,
    y_at_least: float | None = None,
) -> str:  # fmt: skip
    """Methods as points with CI whiskers; colour and marker shape both identify a method (legend below).

    origin: both axes start at 0 (errors and leakages are >= 0, and "near the origin" is what a reader looks for);
    y_at_least: the y axis reaches at least this value (a fraction's 1 = "everything leaked").
    """
    plt = _pyplot()
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(5.2, 3.8))
        for i, p in enumerate(points):
            colour, marker = OKABE_ITO[i % len(OKABE_ITO)], MARKERS[(i // len(OKABE_ITO)) % len(MARKERS)]
            xerr = yerr = None
            if p.x_ci and all(np.isfinite(p.x_ci)):
                xerr = [[max(0.0, p.x - p.x_ci[0])], [max(0.0, p.x_ci[1] - p.x)]]
            if p.y_ci and all(np.isfinite(p.y_ci)):
                yerr = [[max(0.0, p.y - p.y_ci[0])], [max(0.0, p.y_ci[1] - p.y)]]
            ax.errorbar(
                [p.x], [p.y], xerr=xerr, yerr=yerr, fmt=marker, color=colour, markersize=7,
                elinewidth=1, capsize=2, label=_short(p.label, 36),
            )  # fmt: skip
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title, fontsize=10, loc="left")
        ax.margins(0.12)
        if origin:
            right, top = max(ax.get_xlim()[1], 1e-6), max(ax.get_ylim()[1], y_at_least or 1e-6)
            ax.set_xlim(-0.03 * right, right)  # a hair below 0: a method at exactly 0 is drawn whole
            ax.set_ylim(-0.04 * top, top)
            ax.plot([0], [0], marker="*", markersize=11, color="#555555", clip_on=False, zorder=5, linestyle="none")
            ax.annotate("ideal", (0, 0), xytext=(6, 6), textcoords="offset points", fontsize=8, color="#555555")
        elif y_at_least is not None:
            ax.set_ylim(top=max(ax.get_ylim()[1], y_at_least))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(3, max(1, len(points))), fontsize=8)
        fig.tight_layout()
    return to_svg(fig, salt)


def histograms_svg(series: dict[str, np.ndarray], salt: str, unit: str = "", colour: str = OKABE_ITO[0]) -> str:
    """One small histogram per named series (dataset pose and expression distributions)."""
    plt = _pyplot()
    import matplotlib

    names = list(series)
    cols = min(len(names), 5)
    rows = -(-len(names) // cols)
    with matplotlib.rc_context(_RC):
        fig, axes = plt.subplots(rows, cols, figsize=(1.95 * cols, 1.6 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            v = np.asarray(series[name], np.float64)
            v = v[np.isfinite(v)]
            if len(v):
                ax.hist(v, bins=24, color=colour, alpha=0.85, histtype="stepfilled")
            ax.set_title(_short(name + (f" ({unit})" if unit else ""), 24), fontsize=9, loc="left")
            ax.tick_params(labelsize=7)
            ax.locator_params(axis="x", nbins=4)
            ax.set_yticks([])
            ax.grid(False)
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        _fixed_layout(fig, rows)
    return to_svg(fig, salt, tight=False)
