"""The calibration page: how far each estimator behind a metric is from SynthHeads' exact ground truth.

The calibration JSON (`<results>/calibration/<dataset>.json`) is rendered generically — scalars as a definition
list, lists of records and mappings of records as tables — so fields added later show up without code changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexbench.errors import InputFileError


@dataclass
class Block:
    title: str
    items: list[tuple[str, str]] = field(default_factory=list)  # scalars
    columns: list[str] = field(default_factory=list)  # a table
    rows: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""  # anything else, as JSON


@dataclass
class CalibrationDoc:
    dataset: str
    path: Path
    blocks: list[Block]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _cell(v: Any) -> Any:
    return v if _scalar(v) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def _table(title: str, records: list[tuple[str | None, dict[str, Any]]], key_name: str) -> Block:
    columns: list[str] = [key_name] if any(k is not None for k, _ in records) else []
    for _, rec in records:
        for k in rec:
            if k not in columns:
                columns.append(str(k))
    rows = []
    for key, rec in records:
        row = {str(k): _cell(v) for k, v in rec.items()}
        if key is not None:
            row[key_name] = key
        rows.append(row)
    return Block(title, columns=columns, rows=rows)


def blocks(data: Any, title: str = "") -> list[Block]:
    if isinstance(data, list):
        if data and all(isinstance(x, dict) for x in data):
            return [_table(title, [(None, x) for x in data], "")]
        return [Block(title, text=json.dumps(data, indent=2, ensure_ascii=False))]
    if not isinstance(data, dict):
        return [Block(title, items=[("value", str(data))])]
    out: list[Block] = []
    scalars = [(str(k), "–" if v is None else str(v)) for k, v in data.items() if _scalar(v)]
    if scalars:
        out.append(Block(title, items=scalars))
    for k, v in data.items():
        if _scalar(v):
            continue
        name = f"{title} / {k}" if title else str(k)
        records = isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values())
        if records and all(all(_scalar(y) for y in x.values()) for x in v.values()):
            out.append(_table(name, [(str(kk), x) for kk, x in v.items()], "name"))
            continue
        out.extend(blocks(v, name))
    return out


def find_calibration(roots: list[Path]) -> list[CalibrationDoc]:
    docs = []
    for root in roots:
        for path in sorted((Path(root) / "calibration").glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputFileError(path, f"calibration table is not valid JSON ({exc})") from exc
            docs.append(CalibrationDoc(path.stem, path, blocks(data)))
    return docs
