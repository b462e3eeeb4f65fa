"""The disentanglement view: on each editing task, how well a method moves one factor without the other.

Pose-only: x = pose error against the ground truth (APD), y = expression leakage (the driver's expression reaching
the output). Expression-only: the converse. A method near the origin edits one factor and leaves the other alone.
The first metric of each candidate list that a board holds is used, so the view follows the metrics available.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dexbench.report.collect import Leaderboard
from dexbench.report.plots import Point, scatter_svg

# task -> (x axis: error of the driven factor, y axis: leakage of the kept factor); candidates in preference order
AXES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], str]] = {
    "pose-only": (
        ("apd", "pose_error"),
        "pose error",
        ("dis_leakage", "expression_leakage", "aed"),
        "expression leakage",
    ),
    "expression-only": (
        ("aed", "expression_error"),
        "expression error",
        ("dis_leakage", "pose_leakage", "apd"),
        "pose leakage",
    ),
}


@dataclass
class Scatter:
    dataset: str
    task: str
    x_metric: str
    y_metric: str
    x_label: str
    y_label: str
    svg: str
    rows: list[dict[str, object]] = field(default_factory=list)  # method, x, y (the plotted numbers, as a table)
    missing: list[str] = field(default_factory=list)  # methods not plotted (and why), or hidden under another


def _pick(board: Leaderboard, names: tuple[str, ...]) -> str | None:
    have = {c.name.lower(): c.name for c in board.columns}
    return next((have[n] for n in names if n in have), None)


def build_scatters(boards: list[Leaderboard], plots: bool = True) -> tuple[list[Scatter], list[str]]:
    scatters, notes = [], []
    for board in boards:
        if board.task not in AXES:
            continue
        xs, x_what, ys, y_what = AXES[board.task]
        x, y = _pick(board, xs), _pick(board, ys)
        if x is None or y is None:
            notes.append(
                f"{board.dataset}/{board.task}: needs a metric of {x_what} ({' or '.join(xs)}) and one of {y_what} "
                f"({' or '.join(ys)}); these results hold {', '.join(c.name for c in board.columns) or 'none'}"
            )
            continue
        col = {c.name: c for c in board.columns}
        points, rows, missing = [], [], []
        for r in board.rows:
            cx, cy = r.cells.get(x), r.cells.get(y)
            label = f"{r.method} v{r.version}" if r.version else r.method
            if cx is None or cy is None or cx.value is None or cy.value is None:
                why = [
                    f"{m} unavailable ({c.reason or 'no value'})" if c is not None else f"{m} not computed"
                    for m, c in ((x, cx), (y, cy))
                    if c is None or c.value is None
                ]
                missing.append(f"{label}: {'; '.join(why)}")
                continue
            points.append(Point(label, cx.value, cy.value, cx.ci95, cy.ci95))  # type: ignore[arg-type]
            rows.append({"method": label, x: cx.value, y: cy.value})
        spots: dict[tuple[str, str], list[str]] = {}
        for p in points:  # methods drawn on top of one another: say so, or a reader looks for the hidden one
            spots.setdefault((f"{p.x:.4g}", f"{p.y:.4g}"), []).append(p.label)
        missing += [f"{' and '.join(same)} coincide (drawn on one spot)" for same in spots.values() if len(same) > 1]
        if not points:
            notes.append(f"{board.dataset}/{board.task}: no method has both {x} and {y} available")
            continue
        x_label = f"{x_what}: {x}" + (f" ({col[x].unit})" if col[x].unit else "") + f" {col[x].arrow}"
        y_label = f"{y_what}: {y}" + (f" ({col[y].unit})" if col[y].unit else "") + f" {col[y].arrow}"
        nonneg = all(col[m].value_range is not None and col[m].value_range[0] >= 0 for m in (x, y)) and all(
            p.x >= 0 and p.y >= 0 for p in points
        )
        # a leakage fraction reaches 1 when the whole factor leaked: show that much so 0.05 does not look large
        y_top = 1.0 if y.endswith("leakage") and nonneg else None
        svg = (
            scatter_svg(
                points, x_label, y_label, salt=f"dis/{board.slug}", title=board.title, origin=nonneg, y_at_least=y_top
            )
            if plots
            else ""
        )
        scatters.append(Scatter(board.dataset, board.task, x, y, x_label, y_label, svg, rows, missing))
    return scatters, notes
