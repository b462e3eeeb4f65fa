"""Gather result summaries into leaderboard tables: one per dataset x task, one row per method."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexbench.errors import DexbenchError, InputFileError


@dataclass
class Cell:
    mean: float | None
    ci95: tuple[float | None, float | None] | None
    available: bool
    reason: str = ""
    best: bool = False


@dataclass
class Column:
    name: str
    higher_is_better: bool
    unit: str


@dataclass
class Row:
    method: str
    version: str
    url: str
    cells: dict[str, Cell]


@dataclass
class Leaderboard:
    dataset: str
    task: str
    task_version: str
    protocol_version: str
    manifest_sha256: str
    n_pairs: int
    columns: list[Column] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def load_summaries(results_root: str | Path) -> list[dict[str, Any]]:
    """Every `<dataset>/<method>/summary.json` below `results_root`, in a stable order."""
    root = Path(results_root)
    if not root.is_dir():
        raise InputFileError(root, "results folder not found", "run `dexbench eval` first")
    summaries = []
    for path in sorted(root.glob("*/*/summary.json")):
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(path, f"not valid JSON ({exc})", "re-run `dexbench eval` for it") from exc
    if not summaries:
        raise InputFileError(root, "no */*/summary.json result files", "run `dexbench eval` first")
    return summaries


def _mark_best(board: Leaderboard) -> None:
    for col in board.columns:
        values = [r.cells[col.name].mean for r in board.rows if col.name in r.cells and r.cells[col.name].available]
        values = [v for v in values if v is not None and math.isfinite(v)]
        if not values:
            continue
        best = max(values) if col.higher_is_better else min(values)
        for r in board.rows:
            c = r.cells.get(col.name)
            if c is not None and c.mean == best:
                c.best = True


def build_leaderboards(summaries: list[dict[str, Any]]) -> list[Leaderboard]:
    boards: dict[tuple[str, str], Leaderboard] = {}
    for s in summaries:
        card = s.get("method", {})
        for task, t in sorted(s["tasks"].items()):
            key = (s["dataset"], task)
            board = boards.get(key)
            if board is None:
                board = boards[key] = Leaderboard(
                    dataset=s["dataset"],
                    task=task,
                    task_version=t["task_version"],
                    protocol_version=str(s["protocol_version"]),
                    manifest_sha256=t["manifest_sha256"],
                    n_pairs=t["n_pairs"],
                )
            elif board.manifest_sha256 != t["manifest_sha256"]:
                raise DexbenchError(
                    f"results for {s['dataset']}/{task} were computed on different test manifests "
                    f"({board.manifest_sha256[:12]} vs {t['manifest_sha256'][:12]} for method {card.get('name')!r})",
                    "re-evaluate every method on the same manifest before building one leaderboard",
                )
            cells = {}
            for name, m in t["metrics"].items():
                if name not in {c.name for c in board.columns}:
                    board.columns.append(Column(name, bool(m["higher_is_better"]), m.get("unit", "")))
                ci = tuple(m["ci95"]) if m.get("ci95") else None
                cells[name] = Cell(m.get("mean"), ci, bool(m.get("available")), m.get("reason", ""))
            board.rows.append(
                Row(str(card.get("name", "?")), str(card.get("version", "")), str(card.get("url", "")), cells)
            )
    result = []
    for key in sorted(boards):
        board = boards[key]
        board.rows.sort(key=lambda r: r.method)
        _mark_best(board)
        result.append(board)
    return result
