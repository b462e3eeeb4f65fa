"""Temporal stability of the output relative to its driver: landmark jitter and frame-to-frame flicker.

A driving video has its own motion; what a method adds on top of it is what we score. Per clip:
- `jitter`  = max(0, J(output) - J(driver)), J = mean over frames and 68 landmarks of the second temporal
  difference |l[t+1] - 2 l[t] + l[t-1]| (pixels at 256x256; frames whose three landmark sets all exist);
- `flicker` = max(0, F(output) - F(driver)), F = mean absolute frame-to-frame pixel change, RGB in [0, 1].
Both are "excess over the driver": 0 when the output is no less stable than the driver. A frozen output scores 0
here; the motion metrics (APD/AKD/AED) are what penalise it.
"""

from __future__ import annotations

import itertools

import numpy as np

from dexbench.metrics.motion import AKD_RESOLUTION
from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import Sample, Scorer

VERSION = "1"

for _name, _unit, _desc in (
    ("jitter", "px@256", "Landmark acceleration in excess of the driver's (pixels at 256x256)."),
    ("flicker", "", "Frame-to-frame pixel change in excess of the driver's (RGB in [0, 1])."),
):
    register(
        MetricSpec(
            name=_name,
            higher_is_better=False,
            value_range=(0.0, float("inf")),
            needs=frozenset({"driver"}),
            version=VERSION,
            unit=_unit,
            description=_desc,
            family=_name,  # separate families: flicker needs no face analysis, so it survives without one
            provenance={"reduction": "excess over the driver per clip, mean over clips"},
        )
    )


def landmark_jitter(landmarks: np.ndarray, detected: np.ndarray, width: int) -> float:
    lm = np.asarray(landmarks, np.float64) * (AKD_RESOLUTION / width)
    det = np.asarray(detected, bool)
    if len(lm) < 3:
        return float("nan")
    acc = np.linalg.norm(lm[2:] - 2 * lm[1:-1] + lm[:-2], axis=-1).mean(axis=-1)
    ok = det[2:] & det[1:-1] & det[:-2]
    return float(acc[ok].mean()) if ok.any() else float("nan")


def frame_flicker(frames: np.ndarray) -> float:
    if len(frames) < 2:
        return float("nan")
    total = 0.0
    for a, b in itertools.pairwise(frames):  # pairwise: no (T, H, W, 3) float copy
        total += float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
    return total / (len(frames) - 1) / 255.0


class TemporalScorer(Scorer):
    """Jitter or flicker (one family each)."""

    def score(self, sample: Sample) -> dict[str, float]:
        res: dict[str, float] = {}
        if "jitter" in self.names:
            w = sample.output.shape[2]
            out, drv = sample.face_track("output"), sample.face_track("driver")
            j = landmark_jitter(out.landmarks, out.detected, w) - landmark_jitter(
                drv.landmarks, drv.detected, sample.driver.shape[2]
            )
            res["jitter"] = max(0.0, j) if np.isfinite(j) else float("nan")
        if "flicker" in self.names:
            drv_f = sample.reference(
                "driver", "flicker", "none", VERSION, lambda fr: {"f": np.array(frame_flicker(fr))}
            )["f"]
            res["flicker"] = max(0.0, frame_flicker(sample.output) - float(drv_f))
        return res

    def provenance(self, name: str) -> dict[str, str]:
        if name == "jitter":
            return {
                "extractor": "dexbench.face FaceAnalyzer landmarks (68 iBUG points)",
                "resolution": f"landmarks rescaled to {AKD_RESOLUTION}x{AKD_RESOLUTION}",
                "reduction": "excess second temporal difference over the driver's, clipped at 0, mean over clips",
            }
        return {
            "frame_format": "uint8 RGB scaled to [0, 1]",
            "reduction": "excess mean |frame[t+1] - frame[t]| over the driver's, clipped at 0, mean over clips",
        }
