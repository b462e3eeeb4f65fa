"""SynthHeads as a dataset: render the raw clips (lossless video + exact ground truth), then shard them.

The raw folder mirrors what a real dataset download looks like (videos plus metadata), so that the shard stage has
the same shape as for VoxCeleb or HDTF; the annotations, however, come from the generator and are exact.

raw/
  dataset.json       parameters, generator version, clip list (identity, motion seed, split)
  identities.json    identity id -> Identity parameters
  ground_truth.parquet  per frame: pose, expression, 68 landmarks + visibility
  videos/<clip_id>.mkv  FFV1 (lossless)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dexbench import geometry
from dexbench.data.annotations import ClipAnnotations
from dexbench.data.synth import EXPRESSION_NAMES, MotionTrack, render_clip, sample_identity, sample_motion
from dexbench.data.synth.identity import Identity
from dexbench.errors import DexbenchError, InputFileError
from dexbench.io.atomic import write_json
from dexbench.io.jpeg import encode_jpeg
from dexbench.io.shards import ClipRecord, shard_done, write_shard
from dexbench.io.video import read_video, write_video
from dexbench.progress import track

DATASET = "synthheads"
GENERATOR_VERSION = "5"
LICENSE = "CC0-1.0 (procedurally generated, no real person)"
EXPRESSION_SPACE = "synthheads-params-v1"


@dataclass(frozen=True)
class SynthParams:
    identities: int = 24
    clips_per_identity: int = 2
    frames: int = 48
    fps: float = 25.0
    size: int = 128
    test_fraction: float = 0.34
    seed: int = 0

    def validate(self) -> None:
        if self.identities < 2:
            raise DexbenchError("synth: need at least 2 identities (cross-reenactment pairs two of them)")
        if self.clips_per_identity < 1 or self.frames < 2:
            raise DexbenchError("synth: need at least 1 clip per identity and 2 frames per clip")
        if not 64 <= self.size <= 512:
            raise DexbenchError(f"synth: size {self.size} outside the supported 64..512 px")
        if not 0.0 < self.test_fraction < 1.0:
            raise DexbenchError("synth: test_fraction must be between 0 and 1")


def _child_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def identity_id(i: int) -> str:
    return f"synth-i{i:04d}"


def clip_id(i: int, c: int) -> str:
    return f"synth-i{i:04d}-c{c:02d}"


def split_identities(n: int, test_fraction: float, seed: int) -> dict[str, str]:
    """Identity-disjoint split: a seeded permutation puts round(n * test_fraction) identities in test (>= 1)."""
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    order = np.random.default_rng(_child_seed(seed, 1)).permutation(n)
    test = set(order[:n_test].tolist())
    return {identity_id(i): ("test" if i in test else "train") for i in range(n)}


def build_raw(params: SynthParams, out: str | Path) -> dict[str, Any]:
    """Render every clip to `out` (resumable: clips whose video exists are kept). Returns dataset.json's content."""
    params.validate()
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    splits = split_identities(params.identities, params.test_fraction, params.seed)
    identities: dict[str, dict[str, Any]] = {}
    clips: list[dict[str, Any]] = []
    gt_parts: list[pd.DataFrame] = []
    jobs = [(i, c) for i in range(params.identities) for c in range(params.clips_per_identity)]
    for i, c in track(jobs, "synth: rendering clips"):
        ident = sample_identity(_child_seed(params.seed, 2, i))
        identities[identity_id(i)] = ident.to_dict()
        motion_seed = _child_seed(params.seed, 3, i, c)
        motion = sample_motion(motion_seed, params.frames, params.fps)
        frames, landmarks, visible = render_clip(ident, motion, params.size)
        cid = clip_id(i, c)
        write_video(out / "videos" / f"{cid}.mkv", frames, params.fps)
        clips.append(
            {"clip_id": cid, "identity": identity_id(i), "motion_seed": motion_seed, "split": splits[identity_id(i)]}
        )
        gt_parts.append(_ground_truth_frame(cid, motion, landmarks, visible))
    gt = pd.concat(gt_parts, ignore_index=True)
    pq.write_table(pa.Table.from_pandas(gt, preserve_index=False), out / "ground_truth.parquet", compression="zstd")
    write_json(out / "identities.json", identities)
    meta = {
        "dataset": DATASET,
        "generator_version": GENERATOR_VERSION,
        "params": asdict(params),
        "expression_names": list(EXPRESSION_NAMES),
        "clips": clips,
    }
    write_json(out / "dataset.json", meta)
    return meta


def _ground_truth_frame(cid: str, motion: MotionTrack, landmarks: np.ndarray, visible: np.ndarray) -> pd.DataFrame:
    n = len(motion)
    return pd.DataFrame(
        {
            "clip_id": [cid] * n,
            "frame_idx": np.arange(n, dtype=np.int32),
            "yaw": motion.yaw,
            "pitch": motion.pitch,
            "roll": motion.roll,
            "tx": motion.tx,
            "ty": motion.ty,
            "scale": motion.scale,
            "expression": list(np.asarray(motion.expression, dtype=np.float64)),
            "landmarks": list(np.asarray(landmarks, dtype=np.float64).reshape(n, -1)),
            "visible": list(np.asarray(visible, dtype=bool)),
        }
    )


class SynthOracle:
    """Exact ground truth of a raw SynthHeads folder: identities, motion tracks, and renders of any combination."""

    def __init__(self, raw: str | Path) -> None:
        self.raw = Path(raw)
        meta_path = self.raw / "dataset.json"
        if not meta_path.is_file():
            raise InputFileError(meta_path, "SynthHeads raw metadata not found", "run `dexbench data synth` first")
        self.meta = json.loads(meta_path.read_text())
        self.params = SynthParams(**self.meta["params"])
        self._identities = json.loads((self.raw / "identities.json").read_text())
        self._clips = {c["clip_id"]: c for c in self.meta["clips"]}
        self._gt = pd.read_parquet(self.raw / "ground_truth.parquet")

    @property
    def clips(self) -> list[dict[str, Any]]:
        return list(self.meta["clips"])

    def identity_of(self, clip: str) -> Identity:
        return Identity.from_dict(self._identities[self._clips[clip]["identity"]])

    def motion(self, clip: str) -> MotionTrack:
        g = self._gt[self._gt["clip_id"] == clip].sort_values("frame_idx")
        return MotionTrack(
            yaw=g["yaw"].to_numpy(np.float64),
            pitch=g["pitch"].to_numpy(np.float64),
            roll=g["roll"].to_numpy(np.float64),
            tx=g["tx"].to_numpy(np.float64),
            ty=g["ty"].to_numpy(np.float64),
            scale=g["scale"].to_numpy(np.float64),
            expression=np.stack(g["expression"].to_numpy()).astype(np.float64),
        )

    def ground_truth(self, clip: str) -> tuple[MotionTrack, np.ndarray, np.ndarray]:
        g = self._gt[self._gt["clip_id"] == clip].sort_values("frame_idx")
        landmarks = np.stack(g["landmarks"].to_numpy()).reshape(len(g), 68, 2)
        visible = np.stack(g["visible"].to_numpy()).astype(bool)
        return self.motion(clip), landmarks, visible

    def render(self, identity_clip: str, motion: MotionTrack) -> np.ndarray:
        """The identity of `identity_clip` performing `motion`: the exact target of any reenactment task."""
        frames, _, _ = render_clip(self.identity_of(identity_clip), motion, self.params.size)
        return frames


def _annotations(motion: MotionTrack, landmarks: np.ndarray, visible: np.ndarray, size: int) -> ClipAnnotations:
    n = len(motion)
    lo, hi = landmarks.min(axis=1), landmarks.max(axis=1)
    return ClipAnnotations(
        frame_idx=np.arange(n, dtype=np.int64),
        rotation=geometry.euler_to_matrix(motion.yaw, motion.pitch, motion.roll),
        translation=np.stack([motion.tx, motion.ty], axis=-1),
        scale=np.asarray(motion.scale, np.float64),
        yaw=np.asarray(motion.yaw, np.float64),
        pitch=np.asarray(motion.pitch, np.float64),
        roll=np.asarray(motion.roll, np.float64),
        expression=np.asarray(motion.expression, np.float64),
        landmarks=landmarks,
        landmarks_visible=visible,
        bbox=np.concatenate([lo, hi], axis=-1),
        crop_box=np.tile(np.array([0.0, 0.0, size, size]), (n, 1)),
    )


def _blur_score(frame: np.ndarray) -> float:
    # variance of the Laplacian: the usual sharpness proxy (higher is sharper)
    return float(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def process_shard(raw: str | Path, out: str | Path, index: int, clip_ids: list[str], jpeg_quality: int) -> dict:
    """One shard of SynthHeads: decode the raw videos, JPEG-encode the frames, attach the exact annotations."""
    oracle = SynthOracle(raw)
    size = oracle.params.size
    records = []
    for cid in clip_ids:
        frames, fps = read_video(oracle.raw / "videos" / f"{cid}.mkv")
        motion, landmarks, visible = oracle.ground_truth(cid)
        if len(frames) != len(motion):
            raise InputFileError(oracle.raw / "videos" / f"{cid}.mkv", f"{len(frames)} frames, expected {len(motion)}")
        ann = _annotations(motion, landmarks, visible, size)
        face = ann.bbox[:, 2:] - ann.bbox[:, :2]
        clip = oracle._clips[cid]
        records.append(
            ClipRecord(
                clip={
                    "clip_id": cid,
                    "dataset": DATASET,
                    "identity": clip["identity"],
                    "source_video": f"videos/{cid}.mkv",
                    "start_sec": 0.0,
                    "end_sec": len(frames) / fps,
                    "fps": float(oracle.params.fps),
                    "n_frames": len(frames),
                    "width": size,
                    "height": size,
                    "source_width": size,
                    "source_height": size,
                    "split": clip["split"],
                    "license": LICENSE,
                },
                jpegs=[encode_jpeg(f, jpeg_quality) for f in frames],
                annotations=ann,
                quality={
                    "detector_score": np.ones(len(frames), np.float32),
                    "blur": np.array([_blur_score(f) for f in frames], np.float32),
                    "face_size": np.sqrt(face[:, 0] * face[:, 1]).astype(np.float32),
                },
            )
        )
    metadata = {
        "dataset": DATASET,
        "annotators": {"pose": f"synthheads-ground-truth-v{GENERATOR_VERSION}", "landmarks": "synthheads-ground-truth"},
        "landmark_convention": "iBUG-300W 68 points, crop pixels, pixel centres at integer coordinates",
        "rotation_convention": geometry.ROTATION_CONVENTION,
        "projection_convention": geometry.PROJECTION_CONVENTION,
        "expression_space": EXPRESSION_SPACE,
        "expression_names": list(EXPRESSION_NAMES),
        "jpeg_quality": jpeg_quality,
    }
    return write_shard(out, index, records, metadata, expression_dim=len(EXPRESSION_NAMES))


@dataclass(frozen=True)
class SynthShardSpec:
    """One shard's work, picklable for the engines (`dexbench.data.engines`)."""

    raw: str
    out: str
    index: int
    clip_ids: tuple[str, ...]
    jpeg_quality: int


def run_shard_spec(spec: SynthShardSpec) -> dict:
    return process_shard(spec.raw, spec.out, spec.index, list(spec.clip_ids), spec.jpeg_quality)


def build_shards(
    raw: str | Path,
    out: str | Path,
    clips_per_shard: int = 16,
    jpeg_quality: int = 95,
    overwrite: bool = False,
    engine: Any = None,
) -> list[dict]:
    """Shard the raw folder; shards already complete are skipped unless `overwrite`. `engine` (default: in this
    process) maps the shards; each shard is a pure function of its spec, so every engine writes the same bytes."""
    from dexbench.data.engines import get_engine

    oracle = SynthOracle(raw)
    ids = sorted(c["clip_id"] for c in oracle.clips)
    groups = [ids[k : k + clips_per_shard] for k in range(0, len(ids), clips_per_shard)]
    stats: dict[int, dict] = {}
    specs = []
    for index, group in enumerate(groups):
        if shard_done(out, index) and not overwrite:
            stats[index] = json.loads((Path(out) / "stats" / f"shard-{index:05d}.json").read_text())
        else:
            specs.append(SynthShardSpec(str(raw), str(out), index, tuple(group), jpeg_quality))
    engine = engine or get_engine("local", 1)
    for s in track(engine.map(run_shard_spec, specs), "shards: writing", total=len(specs)):
        stats[int(s["shard"].split("-")[1])] = s
    return [stats[i] for i in sorted(stats)]


class SynthHeadsRecipe:
    """Registry entry: SynthHeads' raw folder is rendered by `dexbench data synth`, its annotations are exact."""

    name = DATASET
    title = "SynthHeads"
    license = LICENSE
    homepage = ""
    layout_hint = "raw/dataset.json + raw/videos/<clip_id>.mkv (written by `dexbench data synth`)"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "license": self.license, "homepage": self.homepage}


RECIPE = SynthHeadsRecipe()
