"""One real clip -> a shard record: decode -> track the face every k frames -> one stable square crop for the clip ->
per-frame landmarks, pose and expression (the face analyzer) -> quality scores and filters -> JPEG frames.

Anything that makes a clip unusable raises `ClipRejected` with a quarantine reason; the shard worker records it and
goes on with the next clip. The annotator (`dexbench.face.analyzer.FaceAnalyzer`) is swappable: anything with
`track_faces`, `analyze`, `provenance`, `expression_space` and `expression_names` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dexbench.data.annotations import ClipAnnotations
from dexbench.data.quarantine import Rejected, reject
from dexbench.data.recipes.base import ClipSource
from dexbench.io.jpeg import encode_jpeg
from dexbench.io.shards import ClipRecord

DETECT_MAX_SIDE = 640  # frames larger than this are tracked on a downscaled copy and cropped in a second decode pass
DECODE_CHUNK = 64
# Where dlib's shape predictor starts on each crop. It is a cascade from a start box, so the start box's error leaks
# into the jaw-outline points and from them into yaw. Measured on the real carphone clip (yaw vs the nose-offset cue,
# the test in tests/test_clip_pipeline.py): "detect" r = -0.87; "crop-track" r = -0.84 at a fifth of the YuNet runs;
# "track" r = -0.67, because the full-frame tracker sees carphone's face at ~50 px: its keypoints, magnified x2.5
# into the crop, are ~4 crop px off the ones YuNet finds on the crop itself (not a mapping error: no mean bias).
LANDMARK_INITS = {
    "crop-track": "YuNet on the crops every detect_every frames (and after every miss), keypoints interpolated",
    "detect": "YuNet on every crop, the face nearest the crop centre",
    "track": "the full-frame tracker's interpolated keypoints, mapped into the crop",
}


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of per-clip processing; all of it is recorded in the shard metadata."""

    crop_size: int = 256
    crop_margin: float = 0.8  # the crop is the union of the clip's face boxes plus this many median face sizes
    detect_every: int = 5
    # dlib68 + MediaPipe iris eyelids: dlib alone barely follows the lids (blinks rank at Spearman ~0.5 on SynthHeads,
    # dexbench/face/eyes.py), and the expression annotations are the dataset's labels. It costs ~1.5 ms per frame end
    # to end (bench/preprocess_speed.py: 116 vs 140 frames per CPU-second), within the 100 frames/s budget. The
    # metadata records the choice (pipeline.landmarker, annotators.landmarker_name); "dlib68" is the faster option.
    landmarker: str = "dlib68+iris"
    jpeg_quality: int = 95
    min_frames: int = 8
    max_frames: int = 0  # 0: no limit; otherwise a clip keeps its first max_frames frames
    min_resolution: int = 96  # shorter video side, pixels
    min_face_size: float = 32.0  # median face box side, source pixels
    min_detected_fraction: float = 0.5  # of detector runs that must find a face
    max_multi_face_fraction: float = 0.3  # of detector runs that may see more than one face
    min_landmark_fraction: float = 0.5  # of frames whose landmarks the analyzer must find
    min_blur: float = 0.0  # median variance-of-Laplacian of the crop (0: no blur filter)
    vfr_tolerance: float = 0.25  # relative spread of frame intervals tolerated before "variable frame rate"
    # where the dlib landmarker starts on each crop (see LANDMARK_INITS): "crop-track" (default) runs the face tracker
    # again on the crops, so YuNet sees the face magnified and runs only every detect_every frames.
    landmark_init: str = "crop-track"

    def validate(self) -> None:
        from dexbench.errors import DexbenchError

        if self.crop_size not in (128, 256, 512) and not 64 <= self.crop_size <= 1024:
            raise DexbenchError(f"--crop-size {self.crop_size} outside 64..1024")
        if self.landmark_init not in LANDMARK_INITS:
            raise DexbenchError(
                f"unknown landmark_init {self.landmark_init!r}", f"use one of {', '.join(LANDMARK_INITS)}"
            )
        if self.detect_every < 1 or not 1 <= self.jpeg_quality <= 100 or self.crop_margin < 0:
            raise DexbenchError("--detect-every must be >= 1, --jpeg-quality within 1..100, --crop-margin >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ClipRejected(Exception):
    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


# ---------------------------------------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class OpenedVideo:
    n_frames: int
    fps: float
    width: int
    height: int
    backend: str


def _open_decord(path: Path) -> tuple[Any, OpenedVideo, np.ndarray]:
    import decord

    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    n = len(vr)
    if n == 0:
        raise ValueError("no frames")
    h, w = vr[0].shape[:2]
    vr.seek(0)
    stamps = np.asarray(vr.get_frame_timestamp(np.arange(n)))[:, 0]
    return vr, OpenedVideo(n, float(vr.get_avg_fps()), int(w), int(h), "decord"), stamps


class _Truncated(Exception):
    def __init__(self, decoded: int, expected: int, cause: str) -> None:
        super().__init__(f"decoding failed after {decoded} of {expected or '?'} frames ({cause})")


def _pyav_frames(path: Path) -> tuple[list[np.ndarray], OpenedVideo, np.ndarray]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        expected = int(stream.frames or 0)
        frames, stamps = [], []
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                stamps.append(float(frame.time) if frame.time is not None else np.nan)
        except av.error.FFmpegError as exc:
            if frames:  # the header promised more than the file holds: a cut-off download
                raise _Truncated(len(frames), expected, str(exc).splitlines()[0][:80]) from exc
            raise
    if not frames:
        raise ValueError("no frames")
    if expected and len(frames) < expected * 0.9:
        raise _Truncated(len(frames), expected, "stream ended early")
    h, w = frames[0].shape[:2]
    return frames, OpenedVideo(len(frames), fps, w, h, "pyav"), np.asarray(stamps)


class VideoSource:
    """Random-access-by-range frames of one video: decord where it opens the file, else PyAV (decoded once)."""

    def __init__(self, path: Path, clip_id: str, rel: str) -> None:
        self.path = path
        self._reject = (clip_id, rel)
        self._vr: Any = None
        self._frames: list[np.ndarray] | None = None
        errors = []
        try:
            self._vr, self.info, self.timestamps = _open_decord(path)
            return
        except Exception as exc:  # decord raises its own error types for corrupt input
            errors.append(f"decord: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}")
        try:
            self._frames, self.info, self.timestamps = _pyav_frames(path)
        except _Truncated as exc:
            raise ClipRejected(reject(*self._reject, "truncated", str(exc).replace(str(path), rel))) from exc
        except Exception as exc:
            errors.append(f"pyav: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}")
            # reasons name the file relative to the raw root: the quarantine table must not depend on where it lives
            detail = "; ".join(errors).replace(str(path), rel)
            raise ClipRejected(reject(*self._reject, "decode-error", detail)) from exc

    def chunks(self, start: int, end: int, chunk: int = DECODE_CHUNK) -> Iterator[np.ndarray]:
        """Frames [start, end) as (n, H, W, 3) uint8 chunks; a decode failure part-way means a truncated file."""
        if self._vr is not None:
            # one accurate seek, then sequential decoding: decord's next() is ~1.7x faster than get_batch over the
            # same frames (get_batch seeks per call), and gives the same pixels
            try:
                self._vr.seek_accurate(start) if start else self._vr.seek(0)
            except Exception as exc:
                raise ClipRejected(reject(*self._reject, "truncated", f"cannot seek to frame {start}")) from exc
        for s in range(start, end, chunk):
            e = min(end, s + chunk)
            i = s
            try:
                if self._vr is not None:
                    batch = np.empty((e - s, self.info.height, self.info.width, 3), np.uint8)
                    for i in range(s, e):
                        batch[i - s] = self._vr.next().asnumpy()
                else:
                    batch = np.stack(self._frames[s:e])  # type: ignore[index]
            except Exception as exc:  # StopIteration or decord's errors: the file holds fewer frames than it says
                raise ClipRejected(
                    reject(*self._reject, "truncated", f"decoding stopped near frame {i} of {self.info.n_frames}")
                ) from exc
            if len(batch) != e - s:
                raise ClipRejected(reject(*self._reject, "truncated", f"got {len(batch)} of {e - s} frames at {s}"))
            yield batch


def _check_constant_rate(timestamps: np.ndarray, tolerance: float) -> float | None:
    """Relative spread of the frame intervals if it exceeds `tolerance` (a variable-frame-rate video), else None."""
    t = timestamps[np.isfinite(timestamps)]
    if len(t) < 3:
        return None
    d = np.diff(t)
    med = float(np.median(d))
    if med <= 0:
        return float("inf")
    spread = float((np.percentile(d, 95) - np.percentile(d, 5)) / med)
    return spread if spread > tolerance else None


def _frame_range(src: ClipSource, info: OpenedVideo, cfg: PipelineConfig) -> tuple[int, int]:
    rel = src.source_video
    if src.time_range is not None:
        start, end = round(src.time_range[0] * info.fps), round(src.time_range[1] * info.fps)
    elif src.frame_range is not None:
        f = info.fps / src.range_fps if src.range_fps else 1.0
        start, end = round(src.frame_range[0] * f), round(src.frame_range[1] * f)
    else:
        start, end = 0, info.n_frames
    if start < 0 or end <= start:
        raise ClipRejected(reject(src.clip_id, rel, "bad-metadata", f"empty or negative range [{start}, {end})"))
    if start >= info.n_frames or end > info.n_frames + max(2, round(0.04 * info.fps)):
        raise ClipRejected(
            reject(src.clip_id, rel, "truncated", f"range [{start}, {end}) beyond the video's {info.n_frames} frames")
        )
    end = min(end, info.n_frames)
    if cfg.max_frames:
        end = min(end, start + cfg.max_frames)
    if end - start < cfg.min_frames:
        raise ClipRejected(reject(src.clip_id, rel, "too-short", f"{end - start} frames < {cfg.min_frames}"))
    return start, end


# ---------------------------------------------------------------------------------------------------------- boxes


def _metadata_boxes(src: ClipSource, info: OpenedVideo, start: int, n: int) -> np.ndarray:
    """Per-frame boxes (n, 4) in video pixels from the dataset's own face tracks (linear in time between rows)."""
    rows = np.asarray(src.boxes, dtype=np.float64)
    boxes = rows[:, 1:5].copy()
    if src.box_space == "norm":
        boxes *= [info.width, info.height, info.width, info.height]
    elif src.box_space.startswith("px@"):
        boxes *= info.height / float(src.box_space[3:])
    if len(rows) == 1 or np.all(rows[:, 0] < 0):
        return np.tile(boxes[0], (n, 1))
    f = info.fps / src.range_fps if src.range_fps else 1.0
    frames = rows[:, 0] * f
    want = np.arange(start, start + n, dtype=np.float64)
    return np.stack([np.interp(want, frames, boxes[:, k]) for k in range(4)], axis=-1)


def _fill_missing(boxes: np.ndarray) -> np.ndarray:
    """Frames without a box take the nearest frame's box (the tracker already smoothed the rest)."""
    ok = np.all(np.isfinite(boxes), axis=1)
    if ok.all():
        return boxes
    idx = np.arange(len(boxes))
    good = idx[ok]
    nearest = good[np.clip(np.searchsorted(good, idx), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, idx) - 1, 0, len(good) - 1)]
    pick = np.where(np.abs(before - idx) <= np.abs(nearest - idx), before, nearest)
    return boxes[pick]


def stable_crop(boxes: np.ndarray, margin: float) -> np.ndarray:
    """One square crop (x0, y0, x1, y1), integer pixels, holding every frame's face box plus a margin."""
    lo, hi = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    face = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    side = max(float((hi - lo).max()), face) + margin * face
    c = (lo + hi) / 2.0
    x0, y0 = np.round(c - side / 2.0)
    s = round(side)
    return np.array([x0, y0, x0 + s, y0 + s], dtype=np.float64)


def square_window(box: np.ndarray) -> np.ndarray:
    """The square (integer pixels) with the same centre as `box` and its longer side."""
    side = round(float(max(box[2] - box[0], box[3] - box[1])))
    x0, y0 = np.round((box[:2] + box[2:]) / 2.0 - side / 2.0)
    return np.array([x0, y0, x0 + side, y0 + side], dtype=np.float64)


def _landmark_boxes(landmarks: np.ndarray, crop_box: np.ndarray, crop_size: int) -> np.ndarray:
    """Per-frame landmark extents (T, 4) in video pixels, from landmarks in crop pixels."""
    f = (crop_box[2] - crop_box[0]) / crop_size
    src = crop_box[:2] + (landmarks + 0.5) * f - 0.5
    boxes = np.concatenate([src.min(axis=1), src.max(axis=1)], axis=-1)
    return _fill_missing(boxes) if np.isfinite(boxes).all(axis=1).any() else boxes


def crop_frames(frames: np.ndarray, box: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """Cut the square `box` (in video pixels; frames may be a copy downscaled by `scale`) and resize to size x size;
    the part of the box outside the frame is black."""
    x0, y0, x1, y1 = (round(float(v) * scale) for v in box)
    h, w = frames.shape[1:3]
    out = np.zeros((len(frames), size, size, 3), np.uint8)
    interp = cv2.INTER_AREA if (x1 - x0) > size else cv2.INTER_LINEAR
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:  # inside the frame: resize the view, no padded copy
        for i, frame in enumerate(frames):
            cv2.resize(frame[y0:y1, x0:x1], (size, size), dst=out[i], interpolation=interp)
        return out
    pad = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    for i, frame in enumerate(frames):
        if sx1 > sx0 and sy1 > sy0:
            pad[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
        cv2.resize(pad, (size, size), dst=out[i], interpolation=interp)
    return out


def blur_score(rgb: np.ndarray) -> float:
    # variance of the Laplacian: the usual sharpness proxy (higher is sharper)
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


# ---------------------------------------------------------------------------------------------------------- clip


def _face_size(bbox: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(bbox[:, 2] - bbox[:, 0], 0, None) * np.clip(bbox[:, 3] - bbox[:, 1], 0, None))


def _check_face_size(src: ClipSource, bbox: np.ndarray, cfg: PipelineConfig) -> None:
    size = float(np.median(_face_size(bbox)))
    if size < cfg.min_face_size:
        raise ClipRejected(
            reject(src.clip_id, src.source_video, "face-too-small", f"median face {size:.0f} px < {cfg.min_face_size}")
        )


def _ffill(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).copy()
    ok = np.isfinite(out)
    if not ok.any():
        return np.zeros_like(out)
    idx = np.where(ok, np.arange(len(out)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = out[idx]
    first = int(np.argmax(ok))
    out[:first] = out[first]
    return out


def process_clip(
    src: ClipSource, raw: Path, cfg: PipelineConfig, analyzer: Any, dataset: str, license: str
) -> ClipRecord:
    """Turn one clip source into a ClipRecord, or raise ClipRejected saying why it cannot be used."""
    rel = src.source_video
    path = raw / rel
    if not path.is_file():
        raise ClipRejected(reject(src.clip_id, rel, "missing-video", "file not found"))
    if path.stat().st_size == 0:
        raise ClipRejected(reject(src.clip_id, rel, "decode-error", "zero-byte file"))
    video = VideoSource(path, src.clip_id, rel)
    info = video.info
    if min(info.width, info.height) < cfg.min_resolution:
        raise ClipRejected(
            reject(src.clip_id, rel, "low-resolution", f"{info.width}x{info.height} < {cfg.min_resolution} px")
        )
    if not info.fps or not np.isfinite(info.fps):
        raise ClipRejected(reject(src.clip_id, rel, "bad-metadata", "the video declares no frame rate"))
    spread = _check_constant_rate(video.timestamps, cfg.vfr_tolerance)
    if spread is not None:
        raise ClipRejected(
            reject(src.clip_id, rel, "variable-frame-rate", f"frame intervals vary by {spread:.0%} of the median")
        )
    start, end = _frame_range(src, info, cfg)
    n = end - start

    if src.boxes:  # the dataset's own face tracks: no detection, one decode pass straight to crops
        bbox = _metadata_boxes(src, info, start, n)
        det_score = np.full(n, np.nan)
        tracked = None
        if src.box_kind == "window":
            crop_box = square_window(bbox.mean(axis=0))
        else:
            _check_face_size(src, bbox, cfg)
            crop_box = stable_crop(bbox, cfg.crop_margin)
        crops = np.concatenate([crop_frames(b, crop_box, cfg.crop_size) for b in video.chunks(start, end)])
    else:
        # pass 1: frames for tracking (downscaled when large; kept whole, and reused for cropping, when small)
        scale = min(1.0, DETECT_MAX_SIDE / max(info.width, info.height))
        dw, dh = round(info.width * scale), round(info.height * scale)
        parts = []
        for batch in video.chunks(start, end):
            if scale < 1.0:
                batch = np.stack([cv2.resize(f, (dw, dh), interpolation=cv2.INTER_AREA) for f in batch])
            parts.append(batch)
        frames = np.concatenate(parts)
        del parts
        tracked = analyzer.track_faces(frames)
        n_faces = np.asarray(tracked.n_faces)
        ran = n_faces >= 0
        n_runs = max(1, int(ran.sum()))
        found = int((n_faces[ran] >= 1).sum())
        several = int((n_faces[ran] > 1).sum())
        if found == 0 or found / n_runs < cfg.min_detected_fraction:
            raise ClipRejected(reject(src.clip_id, rel, "no-face", f"face found in {found} of {n_runs} detector runs"))
        if several / n_runs > cfg.max_multi_face_fraction:
            raise ClipRejected(
                reject(src.clip_id, rel, "several-faces", f"{several} of {n_runs} detector runs saw more than one")
            )
        bbox = _fill_missing(np.asarray(tracked.bbox, dtype=np.float64)) / scale
        det_score = np.asarray(tracked.score, dtype=np.float64)
        _check_face_size(src, bbox, cfg)
        crop_box = stable_crop(bbox, cfg.crop_margin)
        if scale == 1.0:
            crops = crop_frames(frames, crop_box, cfg.crop_size)
        else:  # pass 2: crop from full-resolution frames, chunk by chunk
            del frames
            crops = np.concatenate([crop_frames(b, crop_box, cfg.crop_size) for b in video.chunks(start, end)])
        frames = None
    face_size = _face_size(bbox)

    init: dict[str, np.ndarray] = {}
    crop_score = None
    if cfg.landmark_init == "crop-track":
        # frames the crop tracker leaves without keypoints fall back to a YuNet run on that crop inside analyze()
        on_crops = analyzer.track_faces(crops)
        init["keypoints"] = np.asarray(on_crops.keypoints, np.float64)
        init["boxes"] = np.asarray(on_crops.bbox, np.float64)  # the face mesh's region (dlib starts from keypoints)
        crop_score = np.asarray(on_crops.score, np.float64)
    elif tracked is not None and cfg.landmark_init == "track":
        f = cfg.crop_size / (crop_box[2] - crop_box[0])
        kp = np.asarray(tracked.keypoints, np.float64) / scale
        init["keypoints"] = (kp + 0.5 - crop_box[:2]) * f - 0.5
        init["boxes"] = (bbox.reshape(-1, 2, 2) + 0.5 - crop_box[:2]).reshape(-1, 4) * f - 0.5
    face = analyzer.analyze(crops, **init)
    detected = np.asarray(face.detected, dtype=bool)
    if detected.mean() < cfg.min_landmark_fraction:
        raise ClipRejected(
            reject(src.clip_id, rel, "landmarks-failed", f"landmarks found on {int(detected.sum())} of {n} frames")
        )
    blur = np.array([blur_score(c) for c in crops], np.float32)
    if cfg.min_blur and float(np.median(blur)) < cfg.min_blur:
        raise ClipRejected(
            reject(src.clip_id, rel, "blurry", f"median sharpness {np.median(blur):.1f} < {cfg.min_blur}")
        )
    if tracked is None:  # metadata boxes: the analyzer's own face score stands in for the detector's
        det_score = np.asarray(face.score, dtype=np.float64)
        if crop_score is not None:  # analyze() scores 1.0 where it was handed keypoints: keep YuNet's own score
            det_score = np.where(np.isfinite(crop_score), crop_score, det_score)
        if src.box_kind == "window":  # the face box is not published: measure it from the landmarks
            bbox = _landmark_boxes(np.asarray(face.landmarks, np.float64), crop_box, cfg.crop_size)
            _check_face_size(src, bbox, cfg)
            face_size = _face_size(bbox)
    det_score = _ffill(det_score)

    annotations = ClipAnnotations(
        frame_idx=np.arange(n, dtype=np.int64),
        rotation=np.asarray(face.rotation, np.float64),
        translation=np.asarray(face.translation, np.float64),
        scale=np.asarray(face.scale, np.float64),
        yaw=np.asarray(face.yaw, np.float64),
        pitch=np.asarray(face.pitch, np.float64),
        roll=np.asarray(face.roll, np.float64),
        expression=np.asarray(face.expression, np.float64),
        landmarks=np.asarray(face.landmarks, np.float64),
        landmarks_visible=np.repeat(detected[:, None], 68, axis=1),
        bbox=bbox,
        crop_box=np.tile(crop_box, (n, 1)),
    )
    clip = {
        "clip_id": src.clip_id,
        "dataset": dataset,
        "identity": src.identity,
        "source_video": rel,
        "start_sec": start / info.fps,
        "end_sec": end / info.fps,
        "fps": float(info.fps),
        "n_frames": n,
        "width": cfg.crop_size,
        "height": cfg.crop_size,
        "source_width": info.width,
        "source_height": info.height,
        "split": src.split,
        "license": license,
    }
    return ClipRecord(
        clip=clip,
        jpegs=[encode_jpeg(c, cfg.jpeg_quality) for c in crops],
        annotations=annotations,
        quality={
            "detector_score": det_score.astype(np.float32),
            "blur": blur,
            "face_size": face_size.astype(np.float32),
        },
    )
