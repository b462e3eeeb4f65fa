"""Gather result summaries into leaderboard tables: one per dataset x task, one row per method.

A result folder is what `dexbench eval` writes: `summary.json` plus `per_clip/<task>.parquet`. The report renders
whatever metrics a summary declares (direction, unit, range, availability, provenance), so metrics added later need
no change here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from dexbench.errors import DexbenchError, InputFileError
from dexbench.report.format import slugify

SUMMARY = "summary.json"


@dataclass
class Result:
    """One method's results on one dataset: a parsed summary and the folder it came from (None when in memory)."""

    summary: dict[str, Any]
    folder: Path | None = None

    @property
    def dataset(self) -> str:
        return str(self.summary["dataset"])

    @property
    def card(self) -> dict[str, Any]:
        card = self.summary.get("method")
        return card if isinstance(card, dict) else {}

    @property
    def method(self) -> str:
        return str(self.card.get("name", "?"))

    @property
    def key(self) -> str:
        """The submission's folder name (results live in metrics/<dataset>/<key>, outputs in submissions/...)."""
        return self.folder.name if self.folder is not None else self.method

    @property
    def protocol_version(self) -> str:
        p = self.summary.get("protocol_version", "")
        return ",".join(map(str, p)) if isinstance(p, list) else str(p)

    @property
    def where(self) -> str:
        return str(self.folder) if self.folder is not None else f"method {self.method!r}"

    @cached_property
    def _per_clip(self) -> dict[str, pd.DataFrame | None]:
        return {}

    def per_clip(self, task: str) -> pd.DataFrame | None:
        """The per-pair metric table of one task, or None when the folder does not hold it."""
        if task not in self._per_clip:
            table = None
            if self.folder is not None:
                path = self.folder / "per_clip" / f"{task}.parquet"
                if path.is_file():
                    try:
                        table = pd.read_parquet(path)
                    except (OSError, ValueError) as exc:
                        raise InputFileError(
                            path, f"unreadable per-clip table ({exc})", "re-run `dexbench eval`"
                        ) from exc
            self._per_clip[task] = table
        return self._per_clip[task]


def _check_summary(data: Any, path: Path) -> dict[str, Any]:
    problem = None
    if not isinstance(data, dict):
        problem = "is not a JSON object"
    elif not isinstance(data.get("dataset"), str) or not isinstance(data.get("tasks"), dict):
        problem = "lacks `dataset` or `tasks`"
    elif not isinstance(data.get("method"), dict) or not str(data["method"].get("name", "")).strip():
        problem = "lacks the method card (`method.name`)"
    else:
        for task, t in data["tasks"].items():
            if not isinstance(t, dict) or not isinstance(t.get("metrics"), dict):
                problem = f"task {task!r} has no `metrics` object"
                break
    if problem:
        raise InputFileError(path, f"not a dexbench result summary ({problem})", "re-run `dexbench eval` for it")
    return data


def _read_summary(path: Path) -> Result:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not valid JSON ({exc})", "re-run `dexbench eval` for it") from exc
    return Result(_check_summary(data, path), path.parent)


def load_results(roots: str | Path | list[str | Path]) -> list[Result]:
    """Every result below each root, in a stable order.

    A root may be one result folder (holding summary.json), a dataset folder (<method>/summary.json) or a results
    root (<dataset>/<method>/summary.json), so folders from many submissions can be merged.
    """
    if isinstance(roots, (str, Path)):
        roots = [roots]
    found: dict[Path, None] = {}
    for r in roots:
        root = Path(r)
        if not root.is_dir():
            raise InputFileError(root, "results folder not found", "run `dexbench eval` first")
        paths = [root / SUMMARY] if (root / SUMMARY).is_file() else []
        paths += sorted(root.glob(f"*/{SUMMARY}")) + sorted(root.glob(f"*/*/{SUMMARY}"))
        if not paths:
            raise InputFileError(root, f"no result summaries (*/*/{SUMMARY})", "run `dexbench eval` first")
        for p in paths:
            found[p.resolve()] = None
    return [_read_summary(p) for p in found]


def load_summaries(results_root: str | Path) -> list[dict[str, Any]]:
    """Every `<dataset>/<method>/summary.json` below `results_root` (the parsed JSON only)."""
    return [r.summary for r in load_results(results_root)]


@dataclass
class Cell:
    mean: float | None
    ci95: tuple[float | None, float | None] | None
    available: bool
    reason: str = ""
    best: bool = False
    rank: int | None = None
    # paired bootstrap against the column's best row: None = not tested (no per-clip values, or the best row itself)
    tied_with_best: bool | None = None
    p_value: float | None = None
    n_clips: int | None = None

    @property
    def value(self) -> float | None:
        if not self.available or self.mean is None or not math.isfinite(self.mean):
            return None
        return self.mean


@dataclass
class Column:
    name: str
    higher_is_better: bool
    unit: str
    value_range: tuple[float, float] | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    versions: set[str] = field(default_factory=set)
    comparable: bool = True  # False when rows computed it with different metric versions (then nothing is ranked)
    group: str = ""  # the header group it is shown under ("image fidelity", "motion accuracy", ...)
    level: str = "clip"  # "clip": mean over clips with a bootstrap CI; "set": one value over the test set, no CI

    @property
    def set_level(self) -> bool:
        return self.level == "set"

    @property
    def label(self) -> str:
        return self.name + (f" ({self.unit})" if self.unit else "")

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass
class Row:
    method: str
    version: str
    url: str
    cells: dict[str, Cell]
    key: str = ""
    description: str = ""
    dexbench_version: str = ""
    result: Result | None = field(default=None, repr=False)


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
    split_by_protocol: bool = False  # several protocol versions of this dataset x task exist: say which this is

    @property
    def slug(self) -> str:
        """A file-name-safe id (dataset and task names come from result files, so they are not trusted)."""
        parts = [slugify(self.dataset), slugify(self.task)]
        if self.split_by_protocol:
            parts.append("p" + slugify(self.protocol_version))
        return "__".join(parts)

    @property
    def title(self) -> str:
        return f"{self.dataset} · {self.task}" + (
            f" (protocol {self.protocol_version})" if self.split_by_protocol else ""
        )


class IncompatibleResults(DexbenchError):
    """Results that must not be ranked in one table (different protocol or task versions, or manifests)."""


# families of dexbench's metrics -> the group a leaderboard header shows above them
GROUPS = (
    ("fidelity", "image fidelity"), ("lpips", "image fidelity"), ("distribution", "realism (set-level)"),
    ("fvd", "realism (set-level)"), ("identity-", "identity"), ("motion", "motion accuracy"),
    ("disentangle", "disentanglement"), ("jitter", "temporal stability"), ("flicker", "temporal stability"),
)  # fmt: skip
OTHER = "other"


@cache
def _registry_order() -> dict[str, tuple[int, str]]:
    from dexbench.metrics.evaluate import resolve_metric_names

    return {m.name: (i, m.family) for i, m in enumerate(resolve_metric_names(None))}


def metric_group(name: str) -> tuple[int, str]:
    """(position, label) of a metric's group: dexbench's own order, metrics it does not know last."""
    order = _registry_order()
    if name not in order:
        return (len(order), OTHER)
    i, family = order[name]
    label = next((lab for f, lab in GROUPS if family.startswith(f)), OTHER)
    return (i, label)


def _mark_best(board: Leaderboard) -> None:
    for col in board.columns:
        if not col.comparable:
            continue
        cells = [r.cells[col.name] for r in board.rows if col.name in r.cells and r.cells[col.name].value is not None]
        if not cells:
            continue
        ordered = sorted({c.value for c in cells}, reverse=col.higher_is_better)  # type: ignore[type-var]
        for c in cells:
            c.rank = ordered.index(c.value) + 1  # equal values share a rank
            c.best = c.rank == 1


def _range(value: Any) -> tuple[float, float] | None:
    """A declared value range; null ends (unbounded, as JSON cannot hold infinity) read as infinite."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    try:
        lo = float("-inf") if value[0] is None else float(value[0])
        hi = float("inf") if value[1] is None else float(value[1])
    except (TypeError, ValueError):
        return None
    return (lo, hi)


def _level(m: dict[str, Any]) -> str:
    """A summary's declared level; older summaries without one: a value without a CI is a set-level value."""
    if m.get("level"):
        return str(m["level"])
    return "set" if m.get("available") and m.get("mean") is not None and m.get("ci95") is None else "clip"


def _compat_key(r: Result, task: str, t: dict[str, Any]) -> tuple[str, str]:
    return (r.protocol_version, str(t.get("task_version", "")))


def _check_compatible(results: list[Result], split_by_protocol: bool) -> set[tuple[str, str]]:
    """The (dataset, task) pairs holding several protocol/task versions; raise unless asked to split them."""
    seen: dict[tuple[str, str], dict[tuple[str, str], list[str]]] = {}
    for r in results:
        for task, t in r.summary["tasks"].items():
            seen.setdefault((r.dataset, task), {}).setdefault(_compat_key(r, task, t), []).append(r.method)
    mixed = {k for k, v in seen.items() if len(v) > 1}
    if mixed and not split_by_protocol:
        dataset, task = sorted(mixed)[0]
        groups = "; ".join(
            f"protocol {p} / task v{tv}: {', '.join(sorted(set(ms))[:4])}{' …' if len(set(ms)) > 4 else ''}"
            for (p, tv), ms in sorted(seen[(dataset, task)].items())
        )
        raise IncompatibleResults(
            f"refusing to rank {dataset}/{task} results of incompatible protocol versions together ({groups})",
            "re-evaluate the older submissions under one protocol, or pass --split-by-protocol "
            "to get one separately ranked table per protocol version",
        )
    return mixed


def build_leaderboards(
    results: list[Result] | list[dict[str, Any]], *, split_by_protocol: bool = False
) -> list[Leaderboard]:
    """One table per dataset x task (x protocol version when split); refuses to mix manifests or versions."""
    items = [r if isinstance(r, Result) else Result(r) for r in results]
    mixed = _check_compatible(items, split_by_protocol)
    boards: dict[tuple[str, str, str, str], Leaderboard] = {}
    for res in items:
        card = res.card
        for task, t in sorted(res.summary["tasks"].items()):
            pv, tv = _compat_key(res, task, t)
            key = (res.dataset, task, pv, tv)
            board = boards.get(key)
            if board is None:
                board = boards[key] = Leaderboard(
                    dataset=res.dataset,
                    task=task,
                    task_version=tv,
                    protocol_version=pv,
                    manifest_sha256=str(t.get("manifest_sha256", "")),
                    n_pairs=int(t.get("n_pairs", 0)),
                    split_by_protocol=(res.dataset, task) in mixed,
                )
            elif board.manifest_sha256 != t.get("manifest_sha256", ""):
                raise IncompatibleResults(
                    f"results for {res.dataset}/{task} were computed on different test manifests "
                    f"({board.manifest_sha256[:12]} vs {str(t.get('manifest_sha256'))[:12]} for method "
                    f"{res.method!r} in {res.where})",
                    "re-evaluate every method on the same manifest before building one leaderboard",
                )
            dup = next(
                (r for r in board.rows if r.method == res.method and r.version == str(card.get("version", ""))), None
            )
            if dup is not None:
                raise DexbenchError(
                    f"method {res.method!r} v{dup.version} appears twice for {res.dataset}/{task} "
                    f"({dup.result.where if dup.result else '?'} and {res.where})",
                    "keep one result folder per method version",
                )
            cells = {}
            for name, m in t["metrics"].items():
                col = next((c for c in board.columns if c.name == name), None)
                if col is None:
                    col = Column(
                        name,
                        bool(m.get("higher_is_better", False)),
                        str(m.get("unit", "") or ""),
                        _range(m.get("range")),
                        {str(k): str(v) for k, v in (m.get("provenance") or {}).items()},
                        level=_level(m),
                    )
                    board.columns.append(col)
                col.versions.add(str(m.get("version", "")))
                ci = m.get("ci95")
                cells[name] = Cell(
                    m.get("mean"),
                    (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else None,
                    bool(m.get("available", m.get("mean") is not None)),
                    str(m.get("reason", "") or ""),
                    n_clips=m.get("n_clips"),
                )
            board.rows.append(
                Row(
                    method=res.method,
                    version=str(card.get("version", "")),
                    url=str(card.get("url", "") or ""),
                    cells=cells,
                    key=res.key,
                    description=str(card.get("description", "") or ""),
                    dexbench_version=str(res.summary.get("dexbench_version", "")),
                    result=res,
                )
            )
    result = []
    for key in sorted(boards):
        board = boards[key]
        for col in board.columns:
            col.comparable = len(col.versions) <= 1
            col.group = metric_group(col.name)[1]
        board.columns.sort(key=lambda c: metric_group(c.name)[0])  # stable: unknown metrics keep their order
        board.rows.sort(key=lambda r: (r.method.casefold(), r.method, r.version))
        _mark_best(board)
        result.append(board)
    return result
