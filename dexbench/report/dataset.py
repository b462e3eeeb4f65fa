"""What the dataset page shows: counts, identities, pose and expression distributions, the quarantine summary.

Only the columns needed are read from the annotation shards (never the frames), so the page is cheap to build
even for a large dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dexbench.errors import InputFileError
from dexbench.io.shards import read_metadata

POSE_COLUMNS = ("yaw", "pitch", "roll")
QUALITY_COLUMNS = ("detector_score", "blur", "face_size")
QUARANTINE = "quarantine.parquet"


@dataclass
class DatasetInfo:
    name: str
    shards: Path
    found: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    n_clips: int = 0
    n_frames: int = 0
    n_identities: int = 0
    splits: list[dict[str, Any]] = field(default_factory=list)  # split, clips, identities, frames
    identities: list[dict[str, Any]] = field(default_factory=list)  # identity, split, clips, frames
    pose: dict[str, np.ndarray] = field(default_factory=dict)
    expression: dict[str, np.ndarray] = field(default_factory=dict)
    quality: dict[str, np.ndarray] = field(default_factory=dict)
    quarantine: pd.DataFrame | None = None  # clip, reason (+ any other columns), when the table exists
    quarantine_counts: list[dict[str, Any]] = field(default_factory=list)


def _read_columns(folder: Path, columns: list[str]) -> pd.DataFrame:
    files = sorted(folder.glob("shard-*.parquet"))
    if not files:
        return pd.DataFrame(columns=columns)
    parts = []
    for f in files:
        names = set(pq.read_schema(f).names)
        parts.append(pq.read_table(f, columns=[c for c in columns if c in names]).to_pandas())
    return pd.concat(parts, ignore_index=True)


def read_quarantine(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"unreadable quarantine table ({exc})", "regenerate the shards") from exc
    if "clip" not in table.columns and "clip_id" in table.columns:
        table = table.rename(columns={"clip_id": "clip"})
    if "clip" not in table.columns or "reason" not in table.columns:
        raise InputFileError(path, "quarantine table needs `clip` and `reason` columns")
    return table


def dataset_info(name: str, shards: str | Path) -> DatasetInfo:
    shards = Path(shards)
    info = DatasetInfo(name, shards, found=(shards / "clips").is_dir())
    quarantine = shards / QUARANTINE
    if quarantine.is_file():
        q = read_quarantine(quarantine)
        info.quarantine = q
        counts = q.groupby(q["reason"].astype(str)).size().sort_values(ascending=False)
        info.quarantine_counts = [{"reason": k, "clips": int(v)} for k, v in counts.items()]
    if not info.found:
        return info
    clip_files = sorted((shards / "clips").glob("shard-*.parquet"))
    if clip_files:
        info.metadata = read_metadata(clip_files[0])
    clips = _read_columns(shards / "clips", ["clip_id", "identity", "split", "n_frames"])
    info.n_clips = len(clips)
    info.n_frames = int(clips["n_frames"].sum()) if len(clips) else 0
    info.n_identities = int(clips["identity"].nunique()) if len(clips) else 0
    if len(clips):
        by_split = clips.groupby("split").agg(
            clips=("clip_id", "size"), identities=("identity", "nunique"), frames=("n_frames", "sum")
        )
        info.splits = [{"split": k, **{c: int(v) for c, v in r.items()}} for k, r in by_split.iterrows()]
        by_id = clips.groupby(["identity", "split"]).agg(clips=("clip_id", "size"), frames=("n_frames", "sum"))
        info.identities = [
            {"identity": i, "split": s, "clips": int(r["clips"]), "frames": int(r["frames"])}
            for (i, s), r in by_id.iterrows()
        ]
    ann = _read_columns(shards / "annotations", [*POSE_COLUMNS, "expression", *QUALITY_COLUMNS])
    for c in POSE_COLUMNS:
        if c in ann:
            info.pose[c] = ann[c].to_numpy(np.float64)
    if "expression" in ann and len(ann):
        expr = np.stack(ann["expression"].to_numpy()).astype(np.float64)
        names = list(info.metadata.get("expression_names") or [])
        for k in range(expr.shape[1]):
            info.expression[str(names[k]) if k < len(names) else f"e{k}"] = expr[:, k]
    for c in QUALITY_COLUMNS:
        if c in ann:
            info.quality[c] = ann[c].to_numpy(np.float64)
    return info
