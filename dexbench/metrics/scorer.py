"""What a metric family sees: one decoded pair at a time (`Sample`), shared analyses, and the scorer interface.

The evaluation loop decodes each output once, wraps it with its pair in a `Sample`, and hands that sample to every
scorer in turn; face tracks, detections and the target frames are computed at most once per sample and shared by
all families (motion, identity, disentanglement and temporal all read the same face analysis). Reference-side
analyses (of target, driver and source frames) go through the on-disk `FeatureCache`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dexbench.metrics.cache import FeatureCache, cache_key
from dexbench.protocol.manifest import Manifest, Pair
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.tasks import Task

REFERENCE_ROLES = ("target", "driver", "source")
FACE_CACHE_VERSION = "1"


class MetricUnavailable(Exception):
    """A family cannot produce some metrics here (missing network, no ground truth, not applicable to the task)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class EvalConfig:
    weights: dict[str, str] = field(default_factory=dict)  # net name -> explicit weights file
    cache_dir: str | Path | None = None  # None: no on-disk reference cache
    device: str = "cpu"
    batch_size: int = 32
    seed: int = 0
    face_detect_every: int = 1
    face_landmarker: str = "dlib68+iris"  # the analyzer `dexbench calibrate` measures (FaceAnalyzer default)
    fid_net: str = "inception-fid-ts"  # or "inception-pytorch-fid"
    # where Inception runs: "onnxruntime" (the same weights exported once; several times faster on CPU) or "torch"
    runtime: str = "onnxruntime"
    # FID/KID see every frame (0), as pytorch-fid users compute it, or this many frames per clip spread evenly (first
    # and last included) when Inception's cost matters more than comparability. Recorded in both metrics' provenance.
    fid_frames_per_clip: int = 0
    embedders: tuple[str, ...] = ("sface", "arcface", "dlib")


class EvalContext:
    """Per-evaluation state shared by the families: config, cache, and the lazily built face analyzer."""

    def __init__(self, config: EvalConfig, loader: PairLoader) -> None:
        self.config = config
        self.loader = loader
        self.cache = FeatureCache(config.cache_dir)
        self._face: Any = None
        self._face_error: str | None = None

    def explicit(self, net: str) -> str | None:
        return self.config.weights.get(net)

    @property
    def face_analyzer(self) -> Any:
        """The shared `dexbench.face.analyzer.FaceAnalyzer`, or MetricUnavailable with the reason."""
        if self._face is None and self._face_error is None:
            try:
                from dexbench.face.analyzer import FaceAnalyzer

                self._face = FaceAnalyzer(
                    detect_every=self.config.face_detect_every, landmarker=self.config.face_landmarker
                )
            except ImportError as exc:
                self._face_error = f"face analysis not installed ({exc})"
            except Exception as exc:  # WeightsUnavailable and friends: the reason goes into the results
                self._face_error = str(getattr(exc, "reason", exc))
        if self._face is None:
            raise MetricUnavailable(self._face_error or "face analysis unavailable")
        return self._face

    @cached_property
    def face_provenance(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.face_analyzer.provenance().items()}

    @cached_property
    def face_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.face_provenance, sort_keys=True).encode()).hexdigest()


def detect_each(fa: Any, frames: np.ndarray) -> Any:
    """YuNet on every frame; the face whose box centre is nearest the frame centre."""
    from dexbench.face.tracking import FaceBoxes

    n, h, w = frames.shape[:3]
    out = FaceBoxes(
        detected=np.zeros(n, bool),
        n_faces=np.zeros(n, np.int64),
        score=np.full(n, np.nan),
        bbox=np.full((n, 4), np.nan),
        keypoints=np.full((n, 5, 2), np.nan),
    )
    for t in range(n):
        dets = fa.detector.detect(frames[t])
        out.n_faces[t] = len(dets)
        if len(dets):
            c = 0.5 * (dets.boxes[:, :2] + dets.boxes[:, 2:])
            i = int(np.argmin(np.hypot(c[:, 0] - (w - 1) / 2, c[:, 1] - (h - 1) / 2)))
            out.detected[t], out.score[t] = True, dets.scores[i]
            out.bbox[t], out.keypoints[t] = dets.boxes[i], dets.keypoints[i]
    return out


def _to_arrays(obj: Any) -> dict[str, np.ndarray]:
    return {f.name: np.asarray(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


class Sample:
    """One pair: its output frames (decoded once) and lazily loaded/analysed reference frames."""

    def __init__(self, ctx: EvalContext, manifest: Manifest, task: Task, pair: Pair, output: np.ndarray) -> None:
        self.ctx = ctx
        self.manifest = manifest
        self.task = task
        self.pair = pair
        self.output = output
        self._memo: dict[tuple[str, str], Any] = {}

    # frames -----------------------------------------------------------------------------------------------------
    @cached_property
    def target(self) -> np.ndarray | None:
        return self.ctx.loader.target(self.task, self.pair)

    @cached_property
    def driver(self) -> np.ndarray:
        p = self.pair
        return self.ctx.loader.reader.frames(p.driver_clip, np.arange(p.driver_start, p.driver_end))

    @cached_property
    def source(self) -> np.ndarray:
        """The source frame, (1, H, W, 3)."""
        return self.ctx.loader.reader.frames(self.pair.source_clip, np.array([self.pair.source_frame]))

    def frames(self, role: str) -> np.ndarray:
        if role == "output":
            return self.output
        frames = getattr(self, role)
        if frames is None:
            raise MetricUnavailable(f"no {role} frames for pair {self.pair.pair_id}")
        return frames

    @property
    def has_target(self) -> bool:
        return self.pair.target != "none"

    # shared, cached analyses ------------------------------------------------------------------------------------
    def reference(
        self,
        role: str,
        extractor: str,
        weights_sha256: str,
        version: str,
        compute: Callable[[np.ndarray], dict[str, np.ndarray]],
        **settings: str,
    ) -> dict[str, np.ndarray]:
        """`compute(frames of role)`, memoised in memory and (reference roles only) in the on-disk cache."""
        memo_key = (extractor + json.dumps(settings, sort_keys=True), role)
        if memo_key in self._memo:
            return self._memo[memo_key]
        if role == "output":
            value = compute(self.output)
        else:
            key = cache_key(
                manifest_sha256=self.manifest.sha256,
                extractor=extractor,
                weights_sha256=weights_sha256,
                version=version,
                **settings,
            )
            value = self.ctx.cache.get(extractor, key, self.pair.pair_id, role)
            if value is None:
                value = compute(self.frames(role))
                self.ctx.cache.put(extractor, key, self.pair.pair_id, role, value)
        self._memo[memo_key] = value
        return value

    def face_track(self, role: str) -> Any:
        """The shared FaceAnalyzer's FaceTrack of one role's frames (output, target, driver or source).

        The landmarker starts from this sample's per-frame YuNet detections (`face_boxes`: the keypoints start dlib,
        the box frames the face mesh), so identity and motion metrics share one detection pass and every frame is
        analysed on its own (no temporal smoothing).
        """
        fa = self.ctx.face_analyzer
        from dexbench.face.analyzer import FaceTrack

        def compute(frames: np.ndarray) -> dict[str, np.ndarray]:
            boxes = self.face_boxes(role)
            return _to_arrays(fa.analyze(frames, boxes=boxes.bbox, keypoints=boxes.keypoints))

        arrays = self.reference(role, "face-track", self.ctx.face_digest, FACE_CACHE_VERSION, compute)
        return FaceTrack(**arrays)

    def face_boxes(self, role: str) -> Any:
        """Per-frame YuNet detections (box + 5 keypoints) of the face nearest the frame centre (frames are face
        crops); unlike `FaceAnalyzer.track_faces`, every frame is detected and nothing is smoothed or filled."""
        fa = self.ctx.face_analyzer
        from dexbench.face.tracking import FaceBoxes

        arrays = self.reference(
            role, "face-boxes", self.ctx.face_digest, FACE_CACHE_VERSION, lambda fr: _to_arrays(detect_each(fa, fr))
        )
        return FaceBoxes(**arrays)


class Scorer:
    """A metric family: computes its metrics for each sample and, for set-level metrics, at the end of a task.

    Subclasses set `family`; the metric names come from the registry. `start_task` returns the metrics that cannot
    run on this task with the reason (e.g. no ground truth); a `MetricUnavailable` raised by `__init__`/`start_task`/
    `score` makes every metric of the family unavailable with that reason.
    """

    family: str = ""

    def __init__(self, ctx: EvalContext, names: list[str]) -> None:
        self.ctx = ctx
        self.names = names

    def start_task(self, task: Task, manifest: Manifest) -> dict[str, str]:
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        raise NotImplementedError

    def finish_task(self) -> dict[str, float]:
        return {}

    def provenance(self, name: str) -> dict[str, str]:
        """Extractor, weights sha256, crop, reduction, ... for one metric (counts are added by the loop)."""
        return {}
