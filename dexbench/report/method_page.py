"""What a method page shows: its card, per task its scores and ranks, per-clip distributions, worst clips, samples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dexbench.report.collect import Cell, Column, Leaderboard, Row
from dexbench.report.format import safe_url, slugify
from dexbench.report.plots import Panel, distributions_svg
from dexbench.report.previews import Preview, PreviewMaker


@dataclass
class Score:
    column: Column
    cell: Cell | None
    n_ranked: int


@dataclass
class WorstClips:
    metric: str
    direction: str
    clips: list[dict[str, Any]]  # pair_id, source_clip, driver_clip, value


@dataclass
class TaskSection:
    board: Leaderboard
    scores: list[Score]
    distributions_svg: str = ""
    worst: list[WorstClips] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class MethodPage:
    method: str
    version: str
    file: str
    card: dict[str, Any]
    url: str
    parameters: str
    sections: list[TaskSection] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    dexbench_versions: list[str] = field(default_factory=list)


def page_file(method: str, version: str) -> str:
    return f"method-{slugify(f'{method}-v{version}' if version else method)}.html"


def _worst(table: pd.DataFrame, col: Column, k: int) -> WorstClips | None:
    if col.name not in table or "pair_id" not in table:
        return None
    t = table[np.isfinite(table[col.name].to_numpy(np.float64, na_value=np.nan))]
    if t.empty:
        return None
    # worst first: the highest values of a lower-is-better metric, the lowest of a higher-is-better one
    t = t.sort_values([col.name, "pair_id"], ascending=[col.higher_is_better, True]).head(k)
    clips = [
        {
            "pair_id": str(r["pair_id"]),
            "source_clip": str(r.get("source_clip", "")),
            "driver_clip": str(r.get("driver_clip", "")),
            "value": float(r[col.name]),
        }
        for _, r in t.iterrows()
    ]
    return WorstClips(col.name, "lowest" if col.higher_is_better else "highest", clips)


def _gallery_pairs(table: pd.DataFrame | None, board: Leaderboard, n: int) -> list[tuple[str, str]]:
    """(pair_id, why): the first pair, then the worst pair of each metric in column order, up to n."""
    if table is None or "pair_id" not in table or n <= 0 or table.empty:
        return []
    chosen: dict[str, list[str]] = {}
    chosen[str(sorted(table["pair_id"].astype(str))[0])] = ["first pair of the manifest"]
    for col in board.columns:
        if len(chosen) >= n:
            break
        w = _worst(table, col, 1)
        if w is None:
            continue
        pid = w.clips[0]["pair_id"]
        chosen.setdefault(pid, []).append(f"worst {col.name}")
    return [(pid, "; ".join(why)) for pid, why in list(chosen.items())[:n]]


def build_method_pages(
    boards: list[Leaderboard],
    *,
    previews: dict[str, PreviewMaker],
    gallery: int = 2,
    worst: int = 5,
    plots: bool = True,
) -> list[MethodPage]:
    pages: dict[tuple[str, str], MethodPage] = {}
    for board in boards:
        for row in board.rows:
            key = (row.method, row.version)
            page = pages.get(key)
            if page is None:
                card = row.result.card if row.result is not None else {}
                params = card.get("parameters")
                page = pages[key] = MethodPage(
                    method=row.method,
                    version=row.version,
                    file=page_file(row.method, row.version),
                    card={k: str(v) for k, v in card.items() if k not in ("parameters", "url", "name", "version")},
                    url=safe_url(str(card.get("url", "") or "")),
                    parameters=json.dumps(params, indent=2, sort_keys=True, ensure_ascii=False, default=str)
                    if params
                    else "",
                )
            if board.dataset not in page.datasets:
                page.datasets.append(board.dataset)
            if row.dexbench_version and row.dexbench_version not in page.dexbench_versions:
                page.dexbench_versions.append(row.dexbench_version)
            page.sections.append(_section(board, row, previews.get(board.dataset), gallery, worst, plots))
    return [pages[k] for k in sorted(pages, key=lambda k: (k[0].casefold(), k))]


def _section(
    board: Leaderboard, row: Row, maker: PreviewMaker | None, gallery: int, worst: int, plots: bool
) -> TaskSection:
    scores = [
        Score(col, row.cells.get(col.name), sum(1 for r in board.rows if r.cells.get(col.name, None) is not None
                                                and r.cells[col.name].value is not None))
        for col in board.columns
    ]  # fmt: skip
    section = TaskSection(board, scores)
    table = row.result.per_clip(board.task) if row.result is not None else None
    if table is None:
        section.notes.append("no per-clip table in the result folder: distributions and worst clips need it")
        return section
    cols = [
        c for c in board.columns if c.name in table and row.cells.get(c.name) and row.cells[c.name].value is not None
    ]
    if plots and cols:
        panels = [
            Panel(
                c.name,
                table[c.name].to_numpy(np.float64, na_value=np.nan),
                {
                    r.method: r.cells[c.name].value  # type: ignore[misc]
                    for r in board.rows
                    if r is not row and r.cells.get(c.name) is not None and r.cells[c.name].value is not None
                },
                c.higher_is_better,
            )
            for c in cols
        ]
        section.distributions_svg = distributions_svg(panels, salt=f"{board.slug}/{row.method}/{row.version}")
    section.worst = [w for w in (_worst(table, c, worst) for c in cols) if w is not None]
    if maker is not None and maker.available:
        for pid, why in _gallery_pairs(table, board, gallery):
            preview = maker.make(row.key, board.task, pid)
            if preview is not None:
                preview.why = [why]
                section.previews.append(preview)
        if gallery and not section.previews:
            section.notes.append(
                f"no sample previews: outputs not found under {maker.paths.submission(row.key) / board.task}"
            )
    elif gallery:
        section.notes.append("no sample previews: the workspace (shards, manifests, submissions) is not available")
    return section
