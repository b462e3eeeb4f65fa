"""Detect every k frames, follow one face, fill the frames between by interpolation, and smooth the box.

Schedule: the detector runs on frame 0 and then every `detect_every` frames; after a frame where it finds nothing it
runs on every following frame until it finds the face again, and it always runs on the last frame (so the track
ends on a measurement). The followed face is the largest one on the first hit, then the one overlapping the last
followed box most. Frames between two hits at most 2 * detect_every apart are linearly interpolated (box, keypoints,
score); a longer gap means the face really was lost there, and those frames stay empty. Frames before the first /
after the last hit hold that hit's box for up to detect_every frames. Boxes are then smoothed with a Gaussian
(sigma `smooth_sigma` frames) inside each contiguous run, which removes the detector's frame-to-frame jitter.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dexbench.face.detect import Detections, YuNetDetector


@dataclass(frozen=True)
class FaceBoxes:
    """Detection + tracking on full frames (see the module docstring for how gaps are filled)."""

    detected: np.ndarray  # (T,) bool: a face box exists for the frame (detected or tracked/interpolated)
    n_faces: np.ndarray  # (T,) int: faces the detector saw where it ran, -1 where it did not run
    score: np.ndarray  # (T,) float detector confidence of the followed face; NaN where none
    bbox: np.ndarray  # (T, 4) x0, y0, x1, y1 pixels, temporally smoothed; NaN where none
    keypoints: np.ndarray  # (T, 5, 2) YuNet's 5 points; NaN where none


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    x1, y1 = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def _pick(dets: Detections, previous: np.ndarray | None) -> int:
    areas = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
    if previous is not None:
        ious = _iou(dets.boxes, previous[None])
        if ious.max() > 0.1:
            return int(np.argmax(ious))
    return int(np.argmax(areas))


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth (N, D) along N with a normalised Gaussian, edges handled by renormalising the truncated kernel."""
    if sigma <= 0 or len(x) < 2:
        return x
    half = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    n = len(x)
    # "full" then the centred slice: unlike mode="same", this keeps n samples when the kernel is longer than x.
    ones = np.convolve(np.ones(n), k, mode="full")[half : half + n]
    return np.stack([np.convolve(x[:, j], k, mode="full")[half : half + n] / ones for j in range(x.shape[1])], 1)


def track_faces(
    frames: np.ndarray, detector: YuNetDetector, detect_every: int = 5, smooth_sigma: float = 1.0
) -> FaceBoxes:
    n = len(frames)
    k = max(1, int(detect_every))
    n_faces = np.full(n, -1, dtype=np.int64)
    anchors: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
    previous = None
    next_run = 0
    for t in range(n):
        if t != next_run and t != n - 1:
            continue
        dets = detector.detect(frames[t])
        n_faces[t] = len(dets)
        if len(dets):
            i = _pick(dets, previous)
            previous = dets.boxes[i]
            anchors[t] = (dets.boxes[i], dets.keypoints[i], float(dets.scores[i]))
            next_run = t + k
        else:
            next_run = t + 1
    detected = np.zeros(n, dtype=bool)
    score = np.full(n, np.nan)
    bbox = np.full((n, 4), np.nan)
    kps = np.full((n, 5, 2), np.nan)
    idx = sorted(anchors)
    for t in idx:
        detected[t] = True
        bbox[t], kps[t], score[t] = anchors[t]
    for a, b in itertools.pairwise(idx):
        if b - a <= 1 or b - a > 2 * k:
            continue
        w = (np.arange(a + 1, b) - a)[:, None] / (b - a)
        bbox[a + 1 : b] = (1 - w) * anchors[a][0] + w * anchors[b][0]
        kps[a + 1 : b] = (1 - w[:, :, None]) * anchors[a][1] + w[:, :, None] * anchors[b][1]
        score[a + 1 : b] = (1 - w[:, 0]) * anchors[a][2] + w[:, 0] * anchors[b][2]
        detected[a + 1 : b] = True
    if idx:
        for lo, hi, src in ((max(0, idx[0] - k), idx[0], idx[0]), (idx[-1] + 1, min(n, idx[-1] + k + 1), idx[-1])):
            if hi > lo:
                bbox[lo:hi], kps[lo:hi], score[lo:hi] = anchors[src]
                detected[lo:hi] = True
    # Smooth inside each contiguous run of detected frames.
    t = 0
    while t < n:
        if not detected[t]:
            t += 1
            continue
        end = t
        while end < n and detected[end]:
            end += 1
        bbox[t:end] = _gaussian_smooth(bbox[t:end], smooth_sigma)
        t = end
    return FaceBoxes(detected, n_faces, score, bbox, kps)
