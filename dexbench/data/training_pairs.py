"""Training pairs streamed from Parquet shards: (source frame, driving frames, their annotations) from one clip.

The stream is defined by index records only (shard, row group, clip, frame indices), produced from a seeded
generator; pixels are decoded when a record leaves the shuffle buffer. That makes the stream cheap to fast-forward,
which is how training resumes exactly where a checkpoint left it (`skip`), and lets workers split row groups.

Order of one epoch: row groups in a seeded random order; inside a row group, its clips in random order, each
contributing `pairs_per_clip` random (source, driver) draws; every record passes a shuffle buffer of `buffer` items.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from dexbench.errors import InputFileError
from dexbench.io.jpeg import decode_jpeg


@dataclass(frozen=True)
class PairRecord:
    shard: str
    row_group: int
    clip_id: str
    source_frame: int
    driving_frames: tuple[int, ...]


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size and img.shape[1] == size:
        return img
    import cv2

    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


class TrainingPairs(IterableDataset):
    """Infinite stream of training samples (dicts of tensors) from one dataset's shards.

    Each sample: `source` (3, S, S) and `driving` (T, 3, S, S) float32 in [-1, 1]; `source_*` / `driving_*` pose
    (rotation 3x3, translation 2, scale), expression vector and landmarks (68x2, rescaled to S pixels).
    """

    def __init__(
        self,
        shards: str | Path,
        size: int = 64,
        split: str | None = "train",
        n_driving: int = 1,
        pairs_per_clip: int = 4,
        buffer: int = 64,
        seed: int = 0,
        skip: int = 0,
        cache_row_groups: int = 4,
    ) -> None:
        super().__init__()
        self.root = Path(shards)
        self.size, self.split, self.n_driving = int(size), split, int(n_driving)
        self.pairs_per_clip, self.buffer, self.seed, self.skip = int(pairs_per_clip), int(buffer), int(seed), int(skip)
        self.cache_row_groups = int(cache_row_groups)
        files = sorted((self.root / "frames").glob("shard-*.parquet"))
        if not files:
            raise InputFileError(self.root / "frames", "no frame shards", "run `dexbench data shard` first")
        clips = pa.concat_tables(
            [
                pq.read_table(f, columns=["clip_id", "split", "n_frames"])
                for f in sorted((self.root / "clips").glob("shard-*.parquet"))
            ]
        )
        keep = clips if split is None else clips.filter(pc.equal(clips["split"], split))
        self._allowed = {
            c: int(n) for c, n in zip(keep["clip_id"].to_pylist(), keep["n_frames"].to_pylist(), strict=True)
        }
        if not self._allowed:
            raise InputFileError(self.root, f"no clips in split {split!r}", "check the split name / the shards")
        # per row group: clip -> sorted frame indices it holds (index columns only; no pixels are read here)
        self._groups: list[tuple[str, int, dict[str, np.ndarray]]] = []
        for f in files:
            pf = pq.ParquetFile(f)
            for g in range(pf.metadata.num_row_groups):
                t = pf.read_row_group(g, columns=["clip_id", "frame_idx"])
                ids, idx = np.asarray(t["clip_id"].to_pylist()), t["frame_idx"].to_numpy()
                per_clip = {c: np.sort(idx[ids == c]) for c in np.unique(ids) if c in self._allowed}
                per_clip = {c: v for c, v in per_clip.items() if len(v) >= 1 + self.n_driving}
                if per_clip:
                    self._groups.append((f.stem, g, per_clip))
        if not self._groups:
            raise InputFileError(self.root, f"no clip has {1 + self.n_driving} frames in split {split!r}")
        self._ann: dict[str, pa.Table] = {}
        self._frames: OrderedDict[tuple[str, int], dict[tuple[str, int], bytes]] = OrderedDict()

    # ---- the index stream -------------------------------------------------------------------------------------
    def records(self, worker: int = 0, n_workers: int = 1) -> Iterator[PairRecord]:
        """The infinite, seeded stream of pair records this worker yields, in order (after the shuffle buffer)."""
        buf: list[PairRecord] = []
        epoch = 0
        rng = np.random.default_rng([self.seed, worker, 7])
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self._groups))
            for gi in order[worker::n_workers]:
                shard, g, per_clip = self._groups[gi]
                for clip in rng.permutation(sorted(per_clip)):
                    frames = per_clip[str(clip)]
                    for _ in range(self.pairs_per_clip):
                        src = int(rng.choice(frames))
                        start = int(rng.integers(0, len(frames) - self.n_driving + 1))
                        drv = tuple(int(x) for x in frames[start : start + self.n_driving])
                        buf.append(PairRecord(shard, int(g), str(clip), src, drv))
                        if len(buf) >= self.buffer:
                            yield buf.pop(int(rng.integers(len(buf))))
            epoch += 1
            if len(order[worker::n_workers]) == 0:  # more workers than row groups: this one idles
                return

    # ---- decoding ---------------------------------------------------------------------------------------------
    def _frame_bytes(self, shard: str, g: int) -> dict[tuple[str, int], bytes]:
        key = (shard, g)
        if key not in self._frames:
            t = pq.ParquetFile(self.root / "frames" / f"{shard}.parquet").read_row_group(g)
            ids, idx, jpg = t["clip_id"].to_pylist(), t["frame_idx"].to_pylist(), t["jpeg"].to_pylist()
            self._frames[key] = {(c, int(i)): j for c, i, j in zip(ids, idx, jpg, strict=True)}
            while len(self._frames) > self.cache_row_groups:
                self._frames.popitem(last=False)
        self._frames.move_to_end(key)
        return self._frames[key]

    def _annotations(self, shard: str, clip: str, frames: list[int]) -> dict[str, np.ndarray]:
        if shard not in self._ann:
            self._ann[shard] = pq.read_table(
                self.root / "annotations" / f"{shard}.parquet",
                columns=["clip_id", "frame_idx", "rotation", "translation", "scale", "expression", "landmarks"],
            )
        t = self._ann[shard]
        t = t.filter(pc.equal(t["clip_id"], clip))
        fidx = t["frame_idx"].to_numpy()
        rows = [int(np.flatnonzero(fidx == f)[0]) for f in frames]
        t = t.take(pa.array(rows))

        def fixed(name: str, shape: tuple[int, ...]) -> np.ndarray:
            flat = t[name].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            return np.asarray(flat, np.float32).reshape(len(rows), *shape)

        crop = float(self.size)
        return {
            "rotation": fixed("rotation", (3, 3)),
            "translation": fixed("translation", (2,)),
            "scale": t["scale"].to_numpy().astype(np.float32),
            "expression": fixed("expression", (-1,)),
            "landmarks": fixed("landmarks", (68, 2)) * (crop / self._native_size(shard, clip, frames[0])),
        }

    def _native_size(self, shard: str, clip: str, frame: int) -> int:
        if not hasattr(self, "_native"):
            self._native = {}
        if shard not in self._native:
            t = pq.read_table(self.root / "clips" / f"{shard}.parquet", columns=["width"])
            self._native[shard] = int(t["width"][0].as_py())
        return self._native[shard]

    def load(self, rec: PairRecord) -> dict[str, Any]:
        jpgs = self._frame_bytes(rec.shard, rec.row_group)
        imgs = [
            _resize(decode_jpeg(jpgs[(rec.clip_id, f)]), self.size) for f in (rec.source_frame, *rec.driving_frames)
        ]
        pix = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        ann = self._annotations(rec.shard, rec.clip_id, [rec.source_frame, *rec.driving_frames])
        out: dict[str, Any] = {"source": pix[0], "driving": pix[1:], "clip_id": rec.clip_id}
        for k, v in ann.items():
            out[f"source_{k}"] = torch.as_tensor(np.array(v[0]))
            out[f"driving_{k}"] = torch.from_numpy(np.array(v[1:]))
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        skip = self.skip // n_workers + (1 if worker < self.skip % n_workers else 0)
        for i, rec in enumerate(self.records(worker, n_workers)):
            if i < skip:
                continue  # fast-forward on index records only: resuming decodes nothing it already consumed
            yield self.load(rec)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; keep strings as lists."""
    out: dict[str, Any] = {}
    for k in samples[0]:
        vals = [s[k] for s in samples]
        out[k] = torch.stack(vals) if isinstance(vals[0], torch.Tensor) else vals
    return out
