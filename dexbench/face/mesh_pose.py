"""Head rotation from MediaPipe's 468-point face mesh (`face-mesh` in dexbench.nets.catalog): 3-D Procrustes.

Why not the 68-landmark fit alone: a weak-perspective fit of 2-D landmarks reads pitch from how far the nose moves
against the eyes and the outline, and dlib follows those only partly. On SynthHeads (where the truth is known) that
fit read ~0.5 of a pitch change (yaw ~1.0); the face mesh network predicts depth as well as position, and a rotation
fitted to its 3-D output reads pitch at ~0.95-1.0 of the truth (docs/metrics.md has the figures).

Per face crop:
- Region of interest, as MediaPipe's detection-driven first frame: a square of ROI_SCALE x the longer side of the
  YuNet face box, centred on the box, turned so that dlib's outer eye corners (36, 45) are level (YuNet's eye
  keypoints follow a head roll only partly). It is resampled to the network's 192 x 192 input, RGB in [0, 1].
- The network's 468 points (x, y in input pixels, z in the same units, larger = farther from the camera) are mapped
  back to crop pixels (pixel centres at integers); z is scaled like x and y.
- The rotation is the orthogonal Procrustes solution (SVD, no reflection) taking the reference mesh to the centred
  output: R @ reference ~ mesh. The reference (`face_mesh_reference.npy` beside this file) is the network's mean
  output on frontal renders of 64 SynthHeads identities outside every split (seeds 50000-50063), each centred and
  scaled to unit RMS radius before averaging (`dexbench.face.calibration.derive_mesh_reference`), so "frontal" is
  what the network reads on a frontal face: the same convention as meanshape.ALIGNMENT_*.
Every point counts equally: fitting to the points that move least with SynthHeads' expressions did not lower the
leak of an expression into the angles (mouth and brows shift the network's whole face, not only their own points).
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from dexbench.errors import DexbenchError, InputFileError
from dexbench.face.tflite import load_interpreter

ROI_SCALE = 1.5
INPUT_SIZE = 192
NUM_POINTS = 468
REFERENCE_PATH = Path(__file__).with_name("face_mesh_reference.npy")
MESH_POSE = (
    f"face-mesh-procrustes-v1: MediaPipe face mesh on a {ROI_SCALE} x YuNet-box square turned level with dlib's eye "
    "corners; rotation = 3-D Procrustes of the 468 points to the frontal reference (face.mesh_pose)"
)


@lru_cache(maxsize=4)
def _load_reference(path: str) -> tuple[np.ndarray, str]:
    p = Path(path)
    try:
        raw = p.read_bytes()
        # allow_pickle=False: a .npy can carry a pickled object array, which must never be loaded
        ref = np.load(io.BytesIO(raw), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputFileError(p, f"cannot read the face-mesh reference ({exc})", "reinstall dexbench") from exc
    if ref.shape != (NUM_POINTS, 3) or not np.all(np.isfinite(ref)):
        raise InputFileError(p, f"expected {NUM_POINTS} finite 3-D points, got shape {ref.shape}", "reinstall dexbench")
    ref = np.asarray(ref, dtype=np.float64)
    ref.setflags(write=False)
    return ref, hashlib.sha256(raw).hexdigest()


def load_reference(path: str | Path = REFERENCE_PATH) -> tuple[np.ndarray, str]:
    """The frontal reference mesh (468, 3), read-only, and the file's sha256."""
    return _load_reference(str(Path(path).resolve()))


def normalise(points: np.ndarray) -> np.ndarray:
    """Centred on the mean point and scaled to unit RMS radius."""
    c = np.asarray(points, dtype=np.float64) - np.mean(points, axis=0)
    return c / np.sqrt(np.mean(np.sum(c * c, axis=1)))


def procrustes_rotation(reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3), det +1, minimising |R @ reference_i - points_i| after centring both."""
    a = reference - reference.mean(0)
    b = points - points.mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def roi(box: np.ndarray, eye_right_outer: np.ndarray, eye_left_outer: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre (2,), side, angle in radians) of the network's square input region in crop pixels."""
    box = np.asarray(box, dtype=np.float64)
    centre = 0.5 * (box[:2] + box[2:])
    side = ROI_SCALE * float(np.max(box[2:] - box[:2]))
    v = np.asarray(eye_left_outer, dtype=np.float64) - np.asarray(eye_right_outer, dtype=np.float64)
    return centre, side, float(np.arctan2(v[1], v[0]))


def roi_affine(centre: np.ndarray, side: float, angle: float) -> np.ndarray:
    """(2, 3) map from network-input pixels to crop pixels (both with pixel centres at integers)."""
    k = side / INPUT_SIZE
    c, s = np.cos(angle), np.sin(angle)
    a = np.array([[k * c, -k * s], [k * s, k * c]])
    half = (INPUT_SIZE - 1) / 2.0
    t = np.asarray(centre, dtype=np.float64) - a @ np.array([half, half])
    return np.hstack([a, t[:, None]])


class FaceMeshPose:
    name = "face-mesh-procrustes"

    def __init__(self, weights: Path, reference: str | Path | None = REFERENCE_PATH) -> None:
        self.weights = Path(weights)
        self._net = load_interpreter(self.weights, "face-mesh")
        self._in = self._net.get_input_details()[0]["index"]
        mesh_out = [d["index"] for d in self._net.get_output_details() if int(np.prod(d["shape"])) == NUM_POINTS * 3]
        if not mesh_out:
            raise DexbenchError(f"{weights}: no {NUM_POINTS} x 3 output", "use MediaPipe's face_landmark.tflite")
        self._out = mesh_out[0]
        # None: mesh() only, as when the reference itself is derived
        self.reference, self.reference_sha256 = load_reference(reference) if reference is not None else (None, "")

    def mesh(self, rgb: np.ndarray, centre: np.ndarray, side: float, angle: float) -> np.ndarray:
        """(468, 3) points in crop pixels (x, y) and depth in the same units, for one region of interest."""
        m = roi_affine(centre, side, angle)
        crop = cv2.warpAffine(
            np.ascontiguousarray(rgb),
            m,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        self._net.set_tensor(self._in, (crop.astype(np.float32) / np.float32(255.0))[None])
        self._net.invoke()
        out = self._net.get_tensor(self._out).reshape(NUM_POINTS, 3).astype(np.float64)
        xy = out[:, :2] - 0.5  # the network counts from pixel corners
        return np.concatenate([xy @ m[:, :2].T + m[:, 2], out[:, 2:] * (side / INPUT_SIZE)], axis=1)

    def rotation(self, rgb: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Head rotation (3, 3) of one face crop, from its YuNet box and dlib landmarks (68, 2); NaN if either is."""
        if not (np.all(np.isfinite(box)) and np.all(np.isfinite(landmarks[[36, 45]]))):
            return np.full((3, 3), np.nan)
        if self.reference is None:
            raise DexbenchError("FaceMeshPose was built without a reference mesh", "pass reference=REFERENCE_PATH")
        mesh = self.face_mesh(rgb, box, landmarks)
        return procrustes_rotation(self.reference, mesh) if mesh is not None else np.full((3, 3), np.nan)

    def face_mesh(self, rgb: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        """(468, 3) mesh of one face crop from its YuNet box and dlib's eye corners; None for a degenerate box."""
        centre, side, angle = roi(box, landmarks[36], landmarks[45])
        if not side >= 4.0:
            return None
        return self.mesh(rgb, centre, side, angle)
