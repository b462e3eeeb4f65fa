"""The Parquet shard format: three tables per dataset (clips, frames, annotations), one file each per shard.

Layout under a dataset's shard root:
    clips/shard-00000.parquet  frames/shard-00000.parquet  annotations/shard-00000.parquet  stats/shard-00000.json
A clip never spans shards; rows are sorted by (clip_id, frame_idx). The stats file is written last: a shard with a
stats file is complete, which is what resuming relies on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dexbench.data.annotations import ClipAnnotations
from dexbench.io.atomic import atomic_path, write_json

SCHEMA_VERSION = "2"
TABLES = ("clips", "frames", "annotations")
TARGET_ROW_GROUP_BYTES = 100 * 1024 * 1024
N_LANDMARKS = 68

CLIPS_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("dataset", pa.string()),
        ("identity", pa.string()),
        ("source_video", pa.string()),
        ("start_sec", pa.float64()),
        ("end_sec", pa.float64()),
        ("fps", pa.float64()),
        ("n_frames", pa.int32()),
        # width/height: the stored frames (the face crop); source_*: the raw video the crop was cut from
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("source_width", pa.int32()),
        ("source_height", pa.int32()),
        ("split", pa.string()),
        ("license", pa.string()),
    ]
)
FRAMES_SCHEMA = pa.schema(
    [("clip_id", pa.string()), ("frame_idx", pa.int32()), ("t_sec", pa.float64()), ("jpeg", pa.binary())]
)


def annotations_schema(expression_dim: int) -> pa.Schema:
    f32 = pa.float32()
    return pa.schema(
        [
            ("clip_id", pa.string()),
            ("frame_idx", pa.int32()),
            ("bbox", pa.list_(f32, 4)),
            ("crop_box", pa.list_(f32, 4)),
            ("landmarks", pa.list_(f32, 2 * N_LANDMARKS)),
            ("landmarks_visible", pa.list_(pa.bool_(), N_LANDMARKS)),
            ("rotation", pa.list_(f32, 9)),
            ("translation", pa.list_(f32, 2)),
            ("scale", f32),
            ("yaw", f32),
            ("pitch", f32),
            ("roll", f32),
            ("expression", pa.list_(f32, expression_dim)),
            ("detector_score", f32),
            ("blur", f32),
            ("face_size", f32),
        ]
    )


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


@dataclass
class ClipRecord:
    """Everything one clip contributes to a shard."""

    clip: dict[str, Any]  # a CLIPS_SCHEMA row
    jpegs: Sequence[bytes]
    annotations: ClipAnnotations
    quality: dict[str, np.ndarray]  # detector_score, blur, face_size: (T,) each


def _fixed_list(values: np.ndarray, width: int, dtype: pa.DataType) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(values, dtype=np.bool_ if dtype == pa.bool_() else np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)


def _tables(records: Sequence[ClipRecord], expression_dim: int) -> dict[str, pa.Table]:
    records = sorted(records, key=lambda r: r.clip["clip_id"])
    clips = pa.Table.from_pylist([r.clip for r in records], schema=CLIPS_SCHEMA)
    ids = [r.clip["clip_id"] for r in records for _ in range(len(r.annotations))]
    frame_idx = np.concatenate([r.annotations.frame_idx for r in records]).astype(np.int32)
    fps = {r.clip["clip_id"]: r.clip["fps"] for r in records}
    frames = pa.table(
        {
            "clip_id": pa.array(ids, pa.string()),
            "frame_idx": pa.array(frame_idx),
            "t_sec": pa.array([fi / fps[c] for c, fi in zip(ids, frame_idx, strict=True)], pa.float64()),
            "jpeg": pa.array([j for r in records for j in r.jpegs], pa.binary()),
        },
        schema=FRAMES_SCHEMA,
    )

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(r.annotations, name) for r in records])

    def qual(name: str) -> pa.Array:
        return pa.array(np.concatenate([r.quality[name] for r in records]).astype(np.float32))

    n = len(ids)
    ann = pa.table(
        {
            "clip_id": pa.array(ids, pa.string()),
            "frame_idx": pa.array(frame_idx),
            "bbox": _fixed_list(cat("bbox"), 4, pa.float32()),
            "crop_box": _fixed_list(cat("crop_box"), 4, pa.float32()),
            "landmarks": _fixed_list(cat("landmarks").reshape(n, -1), 2 * N_LANDMARKS, pa.float32()),
            "landmarks_visible": _fixed_list(cat("landmarks_visible"), N_LANDMARKS, pa.bool_()),
            "rotation": _fixed_list(cat("rotation").reshape(n, 9), 9, pa.float32()),
            "translation": _fixed_list(cat("translation"), 2, pa.float32()),
            "scale": pa.array(cat("scale").astype(np.float32)),
            "yaw": pa.array(cat("yaw").astype(np.float32)),
            "pitch": pa.array(cat("pitch").astype(np.float32)),
            "roll": pa.array(cat("roll").astype(np.float32)),
            "expression": _fixed_list(cat("expression"), expression_dim, pa.float32()),
            "detector_score": qual("detector_score"),
            "blur": qual("blur"),
            "face_size": qual("face_size"),
        },
        schema=annotations_schema(expression_dim),
    )
    return {"clips": clips, "frames": frames, "annotations": ann}


def _write_table(table: pa.Table, path: Path, metadata: dict[str, Any]) -> None:
    meta = {b"dexbench": json.dumps(metadata, sort_keys=True).encode()}
    table = table.replace_schema_metadata(meta)
    rows_per_group = len(table) or 1
    if len(table) and table.nbytes > TARGET_ROW_GROUP_BYTES:
        rows_per_group = max(1, int(len(table) * TARGET_ROW_GROUP_BYTES / table.nbytes))
    compression = {name: "zstd" for name in table.column_names}
    if "jpeg" in compression:
        compression["jpeg"] = "none"  # already compressed; zstd would only cost time
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            row_group_size=rows_per_group,
            compression=compression,
            use_dictionary=[c for c in table.column_names if c not in ("jpeg", "landmarks", "rotation")],
            write_statistics=["clip_id", "frame_idx"],
        )


def write_shard(
    root: str | Path, index: int, records: Sequence[ClipRecord], metadata: dict[str, Any], expression_dim: int
) -> dict[str, Any]:
    """Write one shard's three tables, then its stats file (the completion marker). Returns the stats."""
    root = Path(root)
    name = shard_name(index)
    tables = _tables(records, expression_dim)
    meta = {"schema_version": SCHEMA_VERSION, **metadata}
    for table_name, table in tables.items():
        _write_table(table, root / table_name / f"{name}.parquet", meta)
    stats = {
        "shard": name,
        "n_clips": len(records),
        "n_frames": int(sum(len(r.annotations) for r in records)),
        "jpeg_bytes": int(sum(len(j) for r in records for j in r.jpegs)),
        "clip_ids": sorted(r.clip["clip_id"] for r in records),
    }
    write_json(root / "stats" / f"{name}.json", stats)
    return stats


def shard_done(root: str | Path, index: int) -> bool:
    root = Path(root)
    name = shard_name(index)
    return (root / "stats" / f"{name}.json").is_file() and all((root / t / f"{name}.parquet").is_file() for t in TABLES)


def read_metadata(path: str | Path) -> dict[str, Any]:
    raw = pq.read_schema(path).metadata or {}
    return json.loads(raw.get(b"dexbench", b"{}"))
