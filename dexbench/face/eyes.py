"""Eyelid refinement with MediaPipe's iris-landmark network (`iris-landmark` in dexbench.nets.catalog).

dlib's 68-point cascade couples the two eyes through its shape prior and barely follows the lids on small faces: on
SynthHeads (128 px) its eye-opening entries rank the true blink parameters at Spearman ~0.5, and a blink of one eye
moves the other eye's reading almost as much. The iris network looks at one eye at a time in a 64x64 crop and was
trained for eyelid contours, so it follows each lid on its own.

Per eye: a square crop centred on dlib's two eye corners, side 2.3 x the corner distance, rotated so the corner line
is horizontal (MediaPipe's own region of interest for this network); the subject's left eye is mirrored, because the
network expects the subject's right eye (the image-left one). Input RGB in [0, 1]. Output: 71 contour points
(0-8 lower lid from the outer to the inner corner, 9-15 upper lid from outer to inner, then rings around the eye)
in crop pixels. The iBUG upper-lid points sit at the thirds of the lid, which are contour points 11 and 13 (upper)
and 3 and 5 (lower); the eye corners stay dlib's, so the pose fit (which uses the corners) does not change.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dexbench.errors import DexbenchError
from dexbench.face.tflite import load_interpreter

ROI_SCALE = 2.3
INPUT_SIZE = 64
# iBUG index -> iris-contour index, for the subject's right eye (36 outer ... 39 inner) and left eye (45 outer ...
# 42 inner); the left eye's crop is mirrored, so its contour runs outer -> inner as well.
RIGHT_EYE = {"outer": 36, "inner": 39, "lids": {37: 11, 38: 13, 40: 5, 41: 3}}
LEFT_EYE = {"outer": 45, "inner": 42, "lids": {44: 11, 43: 13, 47: 5, 46: 3}}


class IrisEyeRefiner:
    name = "mediapipe-iris"

    def __init__(self, weights: Path) -> None:
        self.weights = Path(weights)
        self._net = load_interpreter(self.weights, "iris")
        self._in = self._net.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._net.get_output_details()}
        self._contour = outs.get("output_eyes_contours_and_brows")
        if self._contour is None:
            raise DexbenchError(f"{weights}: no 'output_eyes_contours_and_brows' output", "use MediaPipe's iris model")

    def contour(self, rgb: np.ndarray, outer: np.ndarray, inner: np.ndarray, mirror: bool) -> np.ndarray:
        """(71, 2) eye contour in image pixels (pixel centres at integers) for one eye given its two corners."""
        outer, inner = np.asarray(outer, np.float64), np.asarray(inner, np.float64)
        v = inner - outer if not mirror else outer - inner  # image-left -> image-right along the corner line
        dist = float(np.hypot(*v))
        if not np.isfinite(dist) or dist < 1e-3:
            return np.full((71, 2), np.nan)
        ang = np.arctan2(v[1], v[0])
        f = INPUT_SIZE / (ROI_SCALE * dist)
        c, s = np.cos(ang), np.sin(ang)
        a = f * np.array([[c, s], [-s, c]])  # image -> crop: rotate the corner line to horizontal, scale
        if mirror:
            a = np.array([[-1.0, 0.0], [0.0, 1.0]]) @ a
        t = INPUT_SIZE / 2.0 - a @ (0.5 * (outer + inner) + 0.5)  # +0.5: pixel centres -> continuous coordinates
        m = np.concatenate([a, (t + a @ np.array([0.5, 0.5]) - 0.5)[:, None]], 1)  # cv2 maps pixel centres
        crop = cv2.warpAffine(rgb, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._net.set_tensor(self._in, (crop.astype(np.float32) * np.float32(1.0 / 255.0))[None])
        self._net.invoke()
        pts = self._net.get_tensor(self._contour).reshape(-1, 3)[:, :2].astype(np.float64)
        return (np.linalg.solve(a, (pts - t).T)).T - 0.5

    def refine(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """68 landmarks with the four lid points of each eye replaced by the iris network's (corners kept)."""
        out = np.array(landmarks, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(out)):
            return out
        for eye, mirror in ((RIGHT_EYE, False), (LEFT_EYE, True)):
            pts = self.contour(rgb, out[eye["outer"]], out[eye["inner"]], mirror)
            if not np.all(np.isfinite(pts)):
                continue
            for ibug, k in eye["lids"].items():
                out[ibug] = pts[k]
        return out
