"""What a leaderboard table shows: the columns with at least one value, and a compact note for the rest.

A metric no row could compute (its network is not installed, it does not apply to the task) would otherwise fill
a column with "unavailable"; it is listed once under the table instead, with its reasons. A cell that is missing
for some rows only shows "n/a" with a footnote number pointing at the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dexbench.report.collect import Column, Leaderboard, Row

NOT_COMPUTED = "not computed by this submission"


@dataclass
class Unavailable:
    column: Column
    reasons: list[tuple[str, list[str]]]  # reason -> the methods it applies to (all rows: [])


@dataclass
class Footnote:
    number: int
    metric: str
    reason: str
    methods: list[str]


@dataclass
class BoardView:
    columns: list[Column]
    hidden: list[Unavailable] = field(default_factory=list)
    footnotes: list[Footnote] = field(default_factory=list)
    marks: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (method, version, metric) -> footnote

    def mark(self, row: Row, metric: str) -> int | None:
        return self.marks.get((row.method, row.version, metric))

    @property
    def set_level(self) -> list[Column]:
        return [c for c in self.columns if c.set_level]

    @property
    def groups(self) -> list[tuple[str, int]]:
        """Consecutive shown columns sharing a group: (label, span); [] when there is one group only."""
        out: list[tuple[str, int]] = []
        for c in self.columns:
            if out and out[-1][0] == c.group:
                out[-1] = (c.group, out[-1][1] + 1)
            else:
                out.append((c.group, 1))
        return out if len(out) > 1 else []


def _label(row: Row) -> str:
    return f"{row.method} v{row.version}" if row.version else row.method


def _reason(row: Row, metric: str) -> str | None:
    """None when the cell has a value, else why it has none."""
    c = row.cells.get(metric)
    if c is None:
        return NOT_COMPUTED
    if c.value is not None:
        return None
    return c.reason or "no value"


def board_view(board: Leaderboard) -> BoardView:
    view = BoardView(columns=[])
    for col in board.columns:
        reasons = {r.method + "\0" + r.version: _reason(r, col.name) for r in board.rows}
        if board.rows and all(v is not None for v in reasons.values()):
            grouped: dict[str, list[str]] = {}
            for r in board.rows:
                grouped.setdefault(_reason(r, col.name) or "", []).append(_label(r))
            everyone = len(grouped) == 1
            view.hidden.append(Unavailable(col, [(k, [] if everyone else v) for k, v in grouped.items()]))
            continue
        view.columns.append(col)
        for r in board.rows:
            why = _reason(r, col.name)
            if why is None:
                continue
            note = next((f for f in view.footnotes if f.metric == col.name and f.reason == why), None)
            if note is None:
                note = Footnote(len(view.footnotes) + 1, col.name, why, [])
                view.footnotes.append(note)
            note.methods.append(_label(r))
            view.marks[(r.method, r.version, col.name)] = note.number
    return view
