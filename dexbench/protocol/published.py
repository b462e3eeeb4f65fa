"""Published numbers: rows copied from papers, with their citation, kept apart from rows dexbench reproduced.

Each file in `dexbench/protocol/published/*.yaml` holds one source (paper, table, status of the transcription,
test set, metric definitions as the paper states them, its settings and the dexbench task each corresponds to, if
any) and its rows. `load_published()` returns flat `PublishedRow`s; a report shows them in their own section and
never ranks them with measured rows, because test sets and metric extractors differ.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dexbench.errors import InputFileError
from dexbench.io.strict_yaml import safe_load_strict, yaml_problem

PUBLISHED_DIR = Path(__file__).with_name("published")
ROW_KINDS = ("main", "ablation")


@dataclass(frozen=True)
class PublishedSource:
    key: str
    paper: str
    authors: str
    venue: str
    year: int
    url: str
    table: str
    status: str  # how trustworthy the transcription is, e.g. "to be checked against the paper"
    test_set: str
    metrics: dict[str, dict[str, Any]]  # name -> {higher_is_better, definition (as stated)}
    settings: dict[str, dict[str, Any]]  # the paper's setting -> {task (dexbench task or None), definition}


@dataclass(frozen=True)
class PublishedRow:
    method: str
    dataset: str  # the paper's test set (never a dexbench dataset unless the paper used one)
    task: str  # the dexbench task the setting corresponds to, else the paper's setting name
    setting: str  # as the paper names it
    is_dexbench_task: bool  # False: the paper's setting has no dexbench counterpart
    kind: str  # "main" or "ablation"
    values: dict[str, float]  # metric name -> value, as printed in the paper
    citation: dict[str, Any]  # authors, title, venue, year, url, table
    url: str
    notes: str  # the transcription status, plus any row note
    source: PublishedSource = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _require(cond: bool, path: Path, problem: str) -> None:
    if not cond:
        raise InputFileError(path, f"malformed published-numbers file: {problem}", "see dexbench/protocol/published.py")


def load_file(path: str | Path) -> list[PublishedRow]:
    p = Path(path)
    try:
        data = safe_load_strict(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(p, f"cannot read published numbers ({yaml_problem(exc)})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read published numbers ({exc})") from exc
    _require(isinstance(data, dict) and {"source", "rows"} <= set(data), p, "needs `source` and `rows`")
    src = data["source"]
    needed = {f for f in PublishedSource.__dataclass_fields__}
    _require(isinstance(src, dict) and needed <= set(src), p, f"source needs {', '.join(sorted(needed))}")
    source = PublishedSource(**{k: src[k] for k in needed})
    rows = []
    for i, r in enumerate(data["rows"]):
        where = f"row {i}"
        _require(isinstance(r, dict) and {"method", "setting", "kind", "values"} <= set(r), p, f"{where} fields")
        _require(r["setting"] in source.settings, p, f"{where}: unknown setting {r['setting']!r}")
        _require(r["kind"] in ROW_KINDS, p, f"{where}: kind must be one of {ROW_KINDS}")
        values = r["values"]
        _require(isinstance(values, dict) and bool(values), p, f"{where}: values must be a non-empty mapping")
        for name, v in values.items():
            _require(name in source.metrics, p, f"{where}: metric {name!r} has no definition in source.metrics")
            _require(isinstance(v, int | float) and math.isfinite(v), p, f"{where}: {name} is not a number")
        task = source.settings[r["setting"]].get("task")
        rows.append(
            PublishedRow(
                method=str(r["method"]),
                dataset=source.test_set,
                task=str(task or r["setting"]),
                setting=str(r["setting"]),
                is_dexbench_task=task is not None,
                kind=r["kind"],
                values={k: float(v) for k, v in values.items()},
                citation={
                    "authors": source.authors,
                    "title": source.paper,
                    "venue": source.venue,
                    "year": source.year,
                    "url": source.url,
                    "table": source.table,
                },
                url=source.url,
                notes="; ".join(x for x in (str(r.get("note", "")), source.status) if x),
                source=source,
            )
        )
    return rows


def load_published(directory: str | Path | None = None, task: str | None = None) -> list[PublishedRow]:
    """Every published row (files in name order, rows in file order), optionally only those of one task."""
    folder = Path(directory) if directory is not None else PUBLISHED_DIR
    rows = [row for f in sorted(folder.glob("*.yaml")) for row in load_file(f)]
    return [r for r in rows if task is None or r.task == task]
