"""Motion accuracy: AKD (keypoints), APD (head pose), AED (expression), between the output and a reference track.

All three read the face tracks of the shared `dexbench.face` FaceAnalyzer, run identically on the output and the
reference frames, so an extractor's bias cancels instead of being scored. Reference, per factor:
- the task's ground truth where the manifest has one (self-reenactment: the driving clip itself; SynthHeads
  cross-reenactment / pose-only / expression-only: the generator's render of the source identity with the task's
  pose and expression);
- otherwise the frames the factor comes from: APD against the pose driver (the driver, or the source where the
  task keeps the source's pose), AED against the expression driver, AKD against the driver only when both pose
  and expression come from it (keypoints mix both factors), and unavailable otherwise.
Units: AKD in pixels after rescaling landmarks to a 256x256 frame (68 iBUG points, mean point distance); APD in
degrees (mean of |d yaw|, |d pitch|, |d roll|), with translation (Euclidean, normalised image units: the image
spans [-1, 1]) and scale (|d s| / s_ref) reported separately; AED = Euclidean distance of the analyzer's
pose-normalised expression descriptors. Frames where either side has no face are left out.
"""

from __future__ import annotations

import numpy as np

from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import MetricUnavailable, Sample, Scorer

VERSION = "1"
# AED follows the expression descriptor (dexbench.face.expression.EXPRESSION_SPACE): v2 = landmark-expr-v2,
# v3 = landmark-expr-v3, v4 = the same on brow points refined from the image (FaceAnalyzer v3, dexbench.face.brows),
# v5 = landmark-expr-v4 (the smile's rest line from twelve lip points).
AED_VERSION = "5"
# AKD v2: brow points refined from the image (FaceAnalyzer v3).
AKD_VERSION = "2"
# APD v2: yaw, pitch and roll from the face mesh's rotation (FaceAnalyzer v4, dexbench.face.mesh_pose); v1 read them
# from the 68-landmark fit, which under-read pitch by half. Translation and scale still come from that fit (v1).
APD_VERSION = "2"
AKD_RESOLUTION = 256


def _spec(
    name: str, unit: str, description: str, rng: tuple[float, float] = (0.0, float("inf")), version: str = VERSION
) -> MetricSpec:
    return register(
        MetricSpec(
            name=name,
            higher_is_better=False,
            value_range=rng,
            needs=frozenset({"reference"}),
            version=version,
            unit=unit,
            description=description,
            family="motion",
            provenance={"extractor": "dexbench.face FaceAnalyzer", "reduction": "mean over frames, then clips"},
        )
    )


_spec("akd", "px@256", "Average keypoint distance: 68 landmarks, pixels at 256x256.", version=AKD_VERSION)
_spec("apd", "deg", "Average pose distance: mean |error| of yaw, pitch, roll.", (0.0, 180.0), version=APD_VERSION)
_spec("apd_translation", "", "Head translation error, normalised image units (image spans [-1, 1]).")
_spec("apd_scale", "", "Head scale error relative to the reference scale.")
_spec("aed", "", "Average expression distance: Euclidean, pose-normalised expression descriptor.", version=AED_VERSION)


def reference_role(sample: Sample, factor: str) -> str | None:
    """Which frames a factor ("pose", "expression" or "keypoints") of the output is compared with (module doc)."""
    if sample.has_target:
        return "target"
    task = sample.task
    if factor == "pose":
        return task.pose_from
    if factor == "expression":
        return task.expression_from
    return task.pose_from if task.pose_from == task.expression_from == "driver" else None


def broadcast(track, n: int):
    """A single-frame track (the source's) repeated to n frames; longer tracks pass through."""
    if len(track.detected) == n:
        return track
    if len(track.detected) != 1:
        raise ValueError(f"cannot broadcast a {len(track.detected)}-frame track to {n} frames")
    import dataclasses

    return dataclasses.replace(
        track, **{f.name: np.repeat(np.asarray(getattr(track, f.name)), n, axis=0) for f in dataclasses.fields(track)}
    )


def angle_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def pose_errors(out, ref) -> dict[str, np.ndarray]:
    """Per-frame pose errors between two tracks of equal length."""
    yaw, pitch, roll = (angle_diff(getattr(out, k), getattr(ref, k)) for k in ("yaw", "pitch", "roll"))
    trans = np.linalg.norm(np.asarray(out.translation) - np.asarray(ref.translation), axis=-1)
    scale = np.abs(np.asarray(out.scale) - np.asarray(ref.scale)) / np.maximum(np.abs(np.asarray(ref.scale)), 1e-9)
    return {
        "apd": (yaw + pitch + roll) / 3,
        "apd_translation": trans,
        "apd_scale": scale,
        "yaw": yaw,
        "pitch": pitch,
        "roll": roll,
    }


def expression_error(out, ref) -> np.ndarray:
    return np.linalg.norm(np.asarray(out.expression) - np.asarray(ref.expression), axis=-1)


def keypoint_error(out, ref, width: int) -> np.ndarray:
    d = np.linalg.norm(np.asarray(out.landmarks) - np.asarray(ref.landmarks), axis=-1).mean(axis=-1)
    return d * (AKD_RESOLUTION / width)


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    v = np.asarray(values, np.float64)[mask]
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")


class MotionScorer(Scorer):
    family = "motion"

    def start_task(self, task, manifest) -> dict[str, str]:
        has_target = all(p.target != "none" for p in manifest.pairs)
        if not has_target and not (task.pose_from == task.expression_from == "driver") and "akd" in self.names:
            return {"akd": "no ground truth, and keypoints mix the driver's and the source's factors on this task"}
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        n, width = len(sample.output), sample.output.shape[2]
        out = sample.face_track("output")
        res: dict[str, float] = {}
        for factor, names in (
            ("pose", ("apd", "apd_translation", "apd_scale")),
            ("expression", ("aed",)),
            ("keypoints", ("akd",)),
        ):
            wanted = [m for m in names if m in self.names]
            role = reference_role(sample, factor)
            if not wanted or role is None:
                continue
            ref = broadcast(sample.face_track(role), n)
            ok = np.asarray(out.detected, bool) & np.asarray(ref.detected, bool)
            if factor == "pose":
                errs = pose_errors(out, ref)
            elif factor == "expression":
                errs = {"aed": expression_error(out, ref)}
            else:
                errs = {"akd": keypoint_error(out, ref, width)}
            res.update({m: masked_mean(errs[m], ok) for m in wanted})
        if not res:
            raise MetricUnavailable("no reference for any motion factor")
        return res

    def provenance(self, name: str) -> dict[str, str]:
        try:
            fp = self.ctx.face_provenance
            fa = self.ctx.face_analyzer
            space = str(getattr(fa, "expression_space", ""))
        except MetricUnavailable:
            fp, space = {}, ""
        p = {f"face.{k}": v for k, v in fp.items()}
        p["extractor"] = "dexbench.face FaceAnalyzer (same analysis on output and reference)"
        p["reference"] = "ground truth where present, else the frames the factor comes from (dexbench.metrics.motion)"
        p["reduction"] = "per-frame error over frames where both sides have a face, mean over frames, then clips"
        if name == "akd":
            p["resolution"] = f"landmarks rescaled to {AKD_RESOLUTION}x{AKD_RESOLUTION}"
            p["crop"] = "the output frame as given (face crops at the source's resolution)"
        if name == "aed":
            p["descriptor"] = space or "FaceAnalyzer expression descriptor"
            p["distance"] = "Euclidean"
        if name == "apd":
            p["convention"] = "mean of |yaw|, |pitch|, |roll| errors in degrees (dexbench.geometry)"
        return p
