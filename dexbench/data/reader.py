"""Read a dataset's Parquet shards: the clip list, and one clip's frames and annotations."""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dexbench.data.annotations import ClipAnnotations
from dexbench.errors import DexbenchError, InputFileError
from dexbench.io.jpeg import decode_jpeg
from dexbench.io.shards import N_LANDMARKS, read_metadata


def _stack_fixed(column: pa.ChunkedArray, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=dtype).reshape((len(column), *shape))


class ShardReader:
    """Random access to clips of one dataset's shard root (see `dexbench.io.shards` for the layout)."""

    def __init__(self, root: str | Path, cache_shards: int = 2) -> None:
        self.root = Path(root)
        if not (self.root / "clips").is_dir():
            raise InputFileError(
                self.root, "no shards here (expected a clips/ folder)", "run `dexbench data shard` first"
            )
        self._files = sorted((self.root / "clips").glob("shard-*.parquet"))
        if not self._files:
            raise InputFileError(self.root / "clips", "no shard files", "run `dexbench data shard` first")
        self._cache: OrderedDict[tuple[str, str], pa.Table] = OrderedDict()
        self._cache_size = cache_shards

    @cached_property
    def clips(self) -> pd.DataFrame:
        """One row per clip, plus a `shard` column naming the file it lives in."""
        parts = []
        for f in self._files:
            df = pq.read_table(f).to_pandas()
            df["shard"] = f.stem
            parts.append(df)
        return pd.concat(parts, ignore_index=True).sort_values("clip_id", kind="stable").reset_index(drop=True)

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return read_metadata(self._files[0])

    @cached_property
    def _shard_of(self) -> dict[str, str]:
        return dict(zip(self.clips["clip_id"], self.clips["shard"], strict=True))

    def clip(self, clip_id: str) -> dict[str, Any]:
        row = self.clips[self.clips["clip_id"] == clip_id]
        if row.empty:
            raise DexbenchError(f"clip {clip_id!r} is not in the shards at {self.root}")
        return row.iloc[0].to_dict()

    def _table(self, table: str, shard: str) -> pa.Table:
        key = (table, shard)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        t = pq.read_table(self.root / table / f"{shard}.parquet")
        self._cache[key] = t
        while len(self._cache) > self._cache_size * 2:
            self._cache.popitem(last=False)
        return t

    def _rows(self, table: str, clip_id: str, frames: np.ndarray | None) -> pa.Table:
        if clip_id not in self._shard_of:
            raise DexbenchError(f"clip {clip_id!r} is not in the shards at {self.root}")
        t = self._table(table, self._shard_of[clip_id])
        t = t.filter(pc.equal(t["clip_id"], clip_id))
        if frames is not None:
            t = t.filter(pc.is_in(t["frame_idx"], pa.array(np.asarray(frames, dtype=np.int32))))
        return t

    def frames(self, clip_id: str, frames: np.ndarray | None = None) -> np.ndarray:
        """Decoded RGB frames (T, H, W, 3) uint8, in frame order (all frames, or the given frame indices)."""
        t = self._rows("frames", clip_id, frames)
        order = np.argsort(t["frame_idx"].to_numpy(), kind="stable")
        jpegs = t["jpeg"].to_pylist()
        return np.stack([decode_jpeg(jpegs[i]) for i in order])

    def annotations(self, clip_id: str, frames: np.ndarray | None = None) -> ClipAnnotations:
        t = self._rows("annotations", clip_id, frames)
        t = t.take(pa.array(np.argsort(t["frame_idx"].to_numpy(), kind="stable")))
        n = len(t)
        expr_dim = t.schema.field("expression").type.list_size

        def scalar(name: str) -> np.ndarray:
            return t[name].to_numpy().astype(np.float64)

        return ClipAnnotations(
            frame_idx=t["frame_idx"].to_numpy().astype(np.int64),
            rotation=_stack_fixed(t["rotation"], (3, 3), np.float64),
            translation=_stack_fixed(t["translation"], (2,), np.float64),
            scale=scalar("scale"),
            yaw=scalar("yaw"),
            pitch=scalar("pitch"),
            roll=scalar("roll"),
            expression=_stack_fixed(t["expression"], (expr_dim,), np.float64),
            landmarks=_stack_fixed(t["landmarks"], (N_LANDMARKS, 2), np.float64),
            landmarks_visible=_stack_fixed(t["landmarks_visible"], (N_LANDMARKS,), np.bool_)
            if n
            else np.zeros((0, N_LANDMARKS), bool),
            bbox=_stack_fixed(t["bbox"], (4,), np.float64),
            crop_box=_stack_fixed(t["crop_box"], (4,), np.float64),
        )
