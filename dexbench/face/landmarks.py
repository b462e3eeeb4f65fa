"""68-point landmarks (iBUG-300W order) with dlib's shape predictor, given a face box.

dlib's regression trees were trained from the boxes of dlib's own HOG detector, which are tighter than YuNet's
(they span the brows to the lower lip and are square). `dlib_box_from_yunet` maps a YuNet detection (box + 5
keypoints) to such a box with fixed coefficients, so the predictor starts where it expects to; see
`DLIB_BOX_COEFFS` for how they were obtained.
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np

from dexbench.errors import DexbenchError

# dlib box from YuNet keypoints: centre = eyes-mouth centroid + (0, cy * d), side = side * d, with d the distance
# from the mid-eye point to the mid-mouth point (robust to yaw, unlike the box width). Fitted as the medians of
# dlib HOG boxes against YuNet keypoints on 40 frames of the real carphone clip (upscaled x2); on SynthHeads the
# medians are cy 0.07, side 2.37, and the landmark error differs by < 1 % between the two settings.
DLIB_BOX_COEFFS = {"cy": -0.11, "side": 2.28}


def dlib_box_from_yunet(keypoints: np.ndarray, cy: float | None = None, side: float | None = None) -> np.ndarray:
    """(..., 5, 2) YuNet keypoints -> (..., 4) dlib-style square boxes x0, y0, x1, y1."""
    cy = DLIB_BOX_COEFFS["cy"] if cy is None else cy
    side = DLIB_BOX_COEFFS["side"] if side is None else side
    kp = np.asarray(keypoints, dtype=np.float64)
    eyes = 0.5 * (kp[..., 0, :] + kp[..., 1, :])
    mouth = 0.5 * (kp[..., 3, :] + kp[..., 4, :])
    d = np.linalg.norm(mouth - eyes, axis=-1)
    centre = 0.5 * (eyes + mouth)
    centre = centre + np.stack([np.zeros_like(d), cy * d], -1)
    half = 0.5 * side * d
    return np.concatenate([centre - half[..., None], centre + half[..., None]], -1)


class DlibLandmarker:
    name = "dlib68"

    def __init__(self, weights: Path) -> None:
        self.weights = Path(weights)
        try:
            self._predictor = dlib.shape_predictor(str(weights))
        except RuntimeError as exc:
            raise DexbenchError(
                f"cannot load the dlib shape predictor {weights}: {exc}", "check the .dat file"
            ) from exc

    def __call__(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) landmarks in pixels (pixel centres at integers) for one image and one x0, y0, x1, y1 box."""
        x0, y0, x1, y1 = (float(v) for v in box)
        rect = dlib.rectangle(round(x0), round(y0), round(x1), round(y1))
        shape = self._predictor(np.ascontiguousarray(rgb), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
