"""Training pairs streamed from Parquet shards: (source frame, driving frames, their annotations) from one clip.

The stream is defined by index records only (shard, row group, clip, frame indices), produced from a seeded
generator; pixels are decoded when a record leaves the shuffle buffer. That makes the stream cheap to fast-forward,
which is how training resumes exactly where a checkpoint left it (`skip`), and lets workers split row groups.

Order of one epoch: row groups in a seeded random order; inside a row group, its clips in random order, each
contributing `pairs_per_clip` random (source, driver) draws; every record passes a shuffle buffer of `buffer` items.

Where the time goes (bench/pair_sampling_speed.py): JPEG decoding. A row group's JPEG column is read once and kept
as one Arrow buffer (an LRU of `cache_row_groups` groups per worker), frames are sliced out of it without copies and
decoded with simplejpeg (libjpeg-turbo, the same pixels as Pillow's decoder at about half the time; Pillow is the
fallback). Annotations are read once per shard into numpy arrays indexed by clip. `collate` stacks straight into
shared memory inside DataLoader workers. With `batch_size=B` (and DataLoader(batch_size=None)) the dataset yields
the very same batches itself, decoding into one reused buffer and converting to float once per batch: no
per-sample float tensors, no stacking copy. `pixels="uint8"` ships uint8 images instead of float32 (a quarter of
the bytes) for trainers that normalise on their device (`to_unit_range`).
"""

from __future__ import annotations

import itertools
import math
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
from torch.utils.data import IterableDataset, default_collate, get_worker_info

from dexbench.errors import DexbenchError, InputFileError

try:  # libjpeg-turbo through simplejpeg; bit-identical to Pillow's decode (tests/test_training_pairs.py)
    import simplejpeg

    def _decode_into(data: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out)

    JPEG_DECODER = f"simplejpeg {simplejpeg.__version__}"
except ImportError:  # pragma: no cover - simplejpeg is a declared dependency
    from dexbench.io.jpeg import decode_jpeg

    def _decode_into(data: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        img = decode_jpeg(data.tobytes())
        if out is None or out.shape != img.shape:
            return img
        out[...] = img
        return out

    JPEG_DECODER = "pillow"

PIXEL_TYPES = ("float", "uint8")
ANNOTATION_COLUMNS = ("rotation", "translation", "scale", "expression", "landmarks")


@dataclass(frozen=True)
class PairRecord:
    shard: str
    row_group: int
    clip_id: str
    source_frame: int
    driving_frames: tuple[int, ...]
    source_clip: str = ""  # another clip of the same identity (data.cross_clip); "" = the driving frames' clip

    @property
    def source_clip_id(self) -> str:
        return self.source_clip or self.clip_id


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size and img.shape[1] == size:
        return img
    import cv2

    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels (`pixels="uint8"`) -> float32 in [-1, 1], the same values the default float samples hold."""
    return pixels.float().div_(127.5).sub_(1.0)


@dataclass
class _RowGroup:
    """One row group's JPEG column as a single Arrow buffer, plus where each (clip, frame) sits in it."""

    data: np.ndarray  # uint8 view of the Arrow data buffer (no copy)
    offsets: np.ndarray  # (rows + 1,) byte offsets into data
    rows: dict[tuple[str, int], int]

    def jpeg(self, clip: str, frame: int) -> np.ndarray:
        r = self.rows[(clip, frame)]
        return self.data[self.offsets[r] : self.offsets[r + 1]]


@dataclass
class _ShardAnnotations:
    """One shard's annotation columns as numpy arrays; a clip's rows are contiguous and sorted by frame."""

    start: dict[str, int]
    frame_idx: dict[str, np.ndarray]
    arrays: dict[str, np.ndarray]

    def rows(self, clip: str, frames: list[int]) -> np.ndarray:
        fidx = self.frame_idx[clip]
        pos = np.searchsorted(fidx, frames)
        if np.any(pos >= len(fidx)) or np.any(fidx[np.minimum(pos, len(fidx) - 1)] != frames):
            raise DexbenchError(f"clip {clip!r}: frames {frames} have no annotation rows")
        return self.start[clip] + pos


def _fixed(column: pa.ChunkedArray, n: int) -> np.ndarray:
    arr = column.combine_chunks()
    while pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        arr = arr.flatten()
    return np.asarray(arr.to_numpy(zero_copy_only=False), np.float32).reshape(n, -1)


class TrainingPairs(IterableDataset):
    """Infinite stream of training samples (dicts of tensors) from one dataset's shards.

    Each sample: `source` (3, S, S) and `driving` (T, 3, S, S) float32 in [-1, 1] (uint8 with `pixels="uint8"`);
    `source_*` / `driving_*` pose (rotation 3x3, translation 2, scale), expression vector and landmarks (68x2,
    rescaled to S pixels).
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
        pixels: str = "float",
        batch_size: int | None = None,
        source_contrast: int = 0,
        cross_clip: float = 0.0,
    ) -> None:
        super().__init__()
        if pixels not in PIXEL_TYPES:
            raise DexbenchError(f"pixels must be one of {PIXEL_TYPES}, not {pixels!r}")
        self.root = Path(shards)
        self.size, self.split, self.n_driving = int(size), split, int(n_driving)
        self.pairs_per_clip, self.buffer, self.seed, self.skip = int(pairs_per_clip), int(buffer), int(seed), int(skip)
        self.cache_row_groups = max(1, int(cache_row_groups))
        self.pixels = pixels
        # > 1: the source is the most expression-different of this many random frames of the clip (see records())
        self.source_contrast = int(source_contrast)
        # the probability that the source comes from another clip of the driver's identity (in the same row group):
        # same-clip pairs turn the head only a few degrees, cross-reenactment asks for several times that
        if not 0.0 <= float(cross_clip) <= 1.0:
            raise DexbenchError(f"cross_clip is a probability in [0, 1], not {cross_clip}")
        self.cross_clip = float(cross_clip)
        self.batch_size = None if batch_size is None else int(batch_size)
        if self.batch_size is not None and self.batch_size < 1:
            raise DexbenchError(f"batch_size must be >= 1, not {batch_size}")
        files = sorted((self.root / "frames").glob("shard-*.parquet"))
        if not files:
            raise InputFileError(self.root / "frames", "no frame shards", "run `dexbench data shard` first")
        clips = pa.concat_tables(
            [
                pq.read_table(f, columns=["clip_id", "identity", "split", "n_frames", "width"])
                for f in sorted((self.root / "clips").glob("shard-*.parquet"))
            ]
        )
        keep = clips if split is None else clips.filter(pc.equal(clips["split"], split))
        self._allowed = {
            c: int(n) for c, n in zip(keep["clip_id"].to_pylist(), keep["n_frames"].to_pylist(), strict=True)
        }
        if not self._allowed:
            raise InputFileError(self.root, f"no clips in split {split!r}", "check the split name / the shards")
        # schema v2: clips.width is the stored crop size, which the landmarks' pixel units refer to
        self._native = {c: int(w) for c, w in zip(keep["clip_id"].to_pylist(), keep["width"].to_pylist(), strict=True)}
        self._identity = dict(zip(keep["clip_id"].to_pylist(), keep["identity"].to_pylist(), strict=True))
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
        # per row group: clip -> the other clips of its identity there (cross_clip pairs never span row groups)
        self._siblings: list[dict[str, list[str]]] = [
            {c: sorted(o for o in per_clip if o != c and self._identity[o] == self._identity[c]) for c in per_clip}
            for _, _, per_clip in self._groups
        ]
        # clips whose source can come from another clip; a clip without a sibling keeps same-clip pairs, so a config
        # with cross_clip > 0 still trains on one-clip-per-identity data (the trainer says so: `crossable` is 0)
        self.crossable = len({c for sib in self._siblings for c, others in sib.items() if others})
        self.n_clips = len({c for sib in self._siblings for c in sib})
        self._ann: dict[str, _ShardAnnotations] = {}
        self._frames: OrderedDict[tuple[str, int], _RowGroup] = OrderedDict()

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
                        # the draw order of the default sampling (source, then driving window) is kept; cross_clip's
                        # draws come first, and only when it is on, so that streams without it are unchanged
                        src_clip = self._other_clip(self._siblings[gi][str(clip)], rng) if self.cross_clip > 0 else ""
                        src_frames = per_clip[src_clip] if src_clip else frames
                        if self.source_contrast > 1:
                            drv = self._driving_window(frames, rng)
                            src = self._contrast_source(shard, str(clip), src_clip or str(clip), src_frames, drv, rng)
                        else:
                            src = int(rng.choice(src_frames))
                            drv = self._driving_window(frames, rng)
                        buf.append(PairRecord(shard, int(g), str(clip), src, drv, src_clip))
                        if len(buf) >= self.buffer:
                            yield buf.pop(int(rng.integers(len(buf))))
            epoch += 1
            if len(order[worker::n_workers]) == 0:  # more workers than row groups: this one idles
                return

    def _driving_window(self, frames: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
        start = int(rng.integers(0, len(frames) - self.n_driving + 1))
        return tuple(int(x) for x in frames[start : start + self.n_driving])

    def _other_clip(self, siblings: list[str], rng: np.random.Generator) -> str:
        """With probability cross_clip, one of `siblings` (the driver identity's other clips here); else ""."""
        if rng.random() >= self.cross_clip:
            return ""
        return siblings[int(rng.integers(len(siblings)))] if siblings else ""

    def _contrast_source(
        self,
        shard: str,
        drv_clip: str,
        src_clip: str,
        src_frames: np.ndarray,
        drv: tuple[int, ...],
        rng: np.random.Generator,
    ) -> int:
        """Expression-contrast sampling: of `source_contrast` random frames of the source clip (`src_frames` of
        `src_clip`), the one whose expression annotation (exact on SynthHeads; the annotator's estimate on real data)
        is farthest from the mean of the driving frames `drv` of `drv_clip`. Same-clip pairs otherwise often share
        the expression, and the generator learns to copy the source's eyes and mouth instead of drawing the
        driver's code."""
        cand = rng.choice(src_frames, size=min(self.source_contrast, len(src_frames)), replace=False)
        ann = self._shard_annotations(shard)
        expr = ann.arrays["expression"]
        target = expr[ann.rows(drv_clip, list(drv))].mean(0)
        dist = np.abs(expr[ann.rows(src_clip, [int(c) for c in cand])] - target).sum(1)
        return int(cand[int(np.argmax(dist))])

    # ---- decoding ---------------------------------------------------------------------------------------------
    def _row_group(self, shard: str, g: int) -> _RowGroup:
        key = (shard, g)
        if key not in self._frames:
            t = pq.ParquetFile(self.root / "frames" / f"{shard}.parquet").read_row_group(
                g, columns=["clip_id", "frame_idx", "jpeg"]
            )
            jpg = t["jpeg"].combine_chunks()
            _, offs, data = jpg.buffers()
            offsets = np.frombuffer(offs, np.int32)[jpg.offset : jpg.offset + len(jpg) + 1].astype(np.int64)
            keys = zip(t["clip_id"].to_pylist(), t["frame_idx"].to_numpy().tolist(), strict=True)
            rows = {(c, int(i)): r for r, (c, i) in enumerate(keys)}
            self._frames[key] = _RowGroup(np.frombuffer(data, np.uint8), offsets, rows)
            while len(self._frames) > self.cache_row_groups:
                self._frames.popitem(last=False)
        self._frames.move_to_end(key)
        return self._frames[key]

    def _shard_annotations(self, shard: str) -> _ShardAnnotations:
        if shard not in self._ann:
            t = pq.read_table(
                self.root / "annotations" / f"{shard}.parquet", columns=["clip_id", "frame_idx", *ANNOTATION_COLUMNS]
            )
            ids = np.asarray(t["clip_id"].to_pylist())
            fidx = t["frame_idx"].to_numpy().astype(np.int64)
            order = np.lexsort((fidx, ids))  # rows are written sorted; sorting again costs little and assumes less
            ids, fidx = ids[order], fidx[order]
            arrays = {c: _fixed(t[c], len(t))[order] for c in ANNOTATION_COLUMNS}
            clips, first = np.unique(ids, return_index=True)
            ends = np.append(first[1:], len(ids))
            self._ann[shard] = _ShardAnnotations(
                start={str(c): int(s) for c, s in zip(clips, first, strict=True)},
                frame_idx={str(c): fidx[s:e] for c, s, e in zip(clips, first, ends, strict=True)},
                arrays=arrays,
            )
        return self._ann[shard]

    def _annotations(self, shard: str, clip: str, frames: list[int]) -> dict[str, np.ndarray]:
        ann = self._shard_annotations(shard)
        rows = ann.rows(clip, frames)
        a = {k: v[rows] for k, v in ann.arrays.items()}
        n = len(frames)
        return {
            "rotation": a["rotation"].reshape(n, 3, 3),
            "translation": a["translation"].reshape(n, 2),
            "scale": a["scale"].reshape(n),
            "expression": a["expression"],
            "landmarks": a["landmarks"].reshape(n, 68, 2) * np.float32(self.size / self._native[clip]),
        }

    def _record_annotations(self, rec: PairRecord) -> dict[str, np.ndarray]:
        """Annotation arrays of the record's source (row 0) and driving frames (rows 1...)."""
        if not rec.source_clip:
            return self._annotations(rec.shard, rec.clip_id, [rec.source_frame, *rec.driving_frames])
        src = self._annotations(rec.shard, rec.source_clip, [rec.source_frame])
        drv = self._annotations(rec.shard, rec.clip_id, list(rec.driving_frames))
        return {k: np.concatenate([src[k], drv[k]]) for k in src}

    def _decode(self, rec: PairRecord, hwc: np.ndarray) -> None:
        """The record's source + driving frames into `hwc` (1 + n_driving, S, S, 3) uint8."""
        group = self._row_group(rec.shard, rec.row_group)
        clips = (rec.source_clip_id, *([rec.clip_id] * len(rec.driving_frames)))
        for i, (clip, f) in enumerate(zip(clips, (rec.source_frame, *rec.driving_frames), strict=True)):
            data = group.jpeg(clip, f)
            native = self._native[clip]
            if native == self.size:
                img = _decode_into(data, hwc[i])  # straight into its slot, no resize
                if img.shape != hwc[i].shape:
                    raise DexbenchError(f"{rec.shard}: clip {clip} frame {f} is {img.shape}, not {native} px")
            else:
                hwc[i] = _resize(_decode_into(data, None), self.size)

    def _pixels(self, rec: PairRecord) -> torch.Tensor:
        hwc = np.empty((1 + self.n_driving, self.size, self.size, 3), np.uint8)
        self._decode(rec, hwc)
        chw = torch.from_numpy(np.ascontiguousarray(hwc.transpose(0, 3, 1, 2)))
        return chw if self.pixels == "uint8" else to_unit_range(chw)

    def load(self, rec: PairRecord) -> dict[str, Any]:
        pix = self._pixels(rec)
        ann = self._record_annotations(rec)
        out: dict[str, Any] = {"source": pix[0], "driving": pix[1:], "clip_id": rec.clip_id}
        for k, v in ann.items():
            out[f"source_{k}"] = torch.from_numpy(np.array(v[0]))
            out[f"driving_{k}"] = torch.from_numpy(np.array(v[1:]))
        return out

    def load_batch(self, recs: list[PairRecord]) -> dict[str, Any]:
        """The same dict `collate([load(r) for r in recs])` gives, decoded into one staging buffer and converted once
        into the batch tensors (allocated in shared memory inside a DataLoader worker, so nothing is copied to send
        them to the main process)."""
        b, t, s = len(recs), 1 + self.n_driving, self.size
        if getattr(self, "_stage", None) is None or self._stage.shape[0] < b * t:
            self._stage = np.empty((b * t, s, s, 3), np.uint8)  # reused: no fresh pages per batch
        stage = self._stage[: b * t]
        for j, rec in enumerate(recs):
            self._decode(rec, stage[j * t : (j + 1) * t])
        hwc = torch.from_numpy(stage).view(b, t, s, s, 3)
        dtype = torch.uint8 if self.pixels == "uint8" else torch.float32
        source = _batch_tensor((b, 3, s, s), dtype).copy_(hwc[:, 0].permute(0, 3, 1, 2))
        driving = _batch_tensor((b, t - 1, 3, s, s), dtype).copy_(hwc[:, 1:].permute(0, 1, 4, 2, 3))
        if self.pixels == "float":
            source.div_(127.5).sub_(1.0)  # the same operations as to_unit_range: bit-identical to load()
            driving.div_(127.5).sub_(1.0)
        out: dict[str, Any] = {"source": source, "driving": driving, "clip_id": [r.clip_id for r in recs]}
        anns = [self._record_annotations(r) for r in recs]
        for k in anns[0]:
            out[f"source_{k}"] = torch.from_numpy(np.stack([a[k][0] for a in anns]))
            out[f"driving_{k}"] = torch.from_numpy(np.stack([a[k][1:] for a in anns]))
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Samples, or with `batch_size` whole batches (use DataLoader(batch_size=None)): each worker's consecutive
        records, as a DataLoader would batch them, so both give the same batches."""
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        skip = self.skip // n_workers + (1 if worker < self.skip % n_workers else 0)
        recs = itertools.islice(self.records(worker, n_workers), skip, None)
        if self.batch_size is None:
            # fast-forward on index records only: resuming decodes nothing it already consumed
            yield from (self.load(rec) for rec in recs)
            return
        while batch := list(itertools.islice(recs, self.batch_size)):
            yield self.load_batch(batch)


def _batch_tensor(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    # as torch's default_collate does in workers: allocate in shared memory, so sending the batch copies nothing
    elem = torch.empty(0, dtype=dtype)
    return elem.new(elem._typed_storage()._new_shared(math.prod(shape))).resize_(shape)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors (inside a DataLoader worker straight into shared memory, as torch's default_collate does);
    keep strings as lists."""
    out: dict[str, Any] = {}
    for k in samples[0]:
        vals = [s[k] for s in samples]
        out[k] = default_collate(vals) if isinstance(vals[0], torch.Tensor) else vals
    return out
