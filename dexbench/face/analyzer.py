"""FaceAnalyzer: the face-analysis core shared by the dataset pipeline and the motion metrics (AKD / APD / AED).

- `track_faces(frames)`: YuNet every `detect_every` frames on full frames, one followed face, interpolated and
  smoothed boxes (dexbench.face.tracking).
- `analyze(crops)`: per crop, 68 landmarks (dlib; by default the eyelid points are then refined per eye by MediaPipe's
  iris network, dexbench.face.eyes, since dlib's shape prior couples the two eyes, and with `brows=True`, the
  default, the brow points are moved onto the brow's dark band in the image, dexbench.face.brows, since the same
  prior pulls raised brows back down), head pose, and the pose-normalised expression descriptor
  (dexbench.face.expression). Head pose: the translation and scale, and the frame the descriptor is normalised in,
  come from a weak-perspective fit of the landmarks to the 3-D mean shape (dexbench.face.pose; the brows are not
  among its points); the rotation (yaw, pitch, roll) comes, with `pose="face-mesh"` (the default), from MediaPipe's
  face mesh (dexbench.face.mesh_pose), which reads pitch at about its true size where the landmark fit reads half of
  it, or with `pose="landmark-fit"` from that same fit.
  Each crop is handled on its own (no temporal smoothing: per-frame error stays visible).
  Where the dlib predictor starts: by default YuNet runs on each crop (about 1.4 ms at 256 px) and the face nearest
  the crop centre is used, since crops are face-centred; when the caller already knows the face, `boxes=` (YuNet-style
  x0, y0, x1, y1 boxes in crop pixels) or `keypoints=` (YuNet's 5 points) skip that detection; the face mesh needs
  the box, so where only keypoints are given YuNet still runs for it (and, if it finds no face there, the square
  around the landmarks stands in). A crop where no face is found gets detected=False and NaN everywhere, never an
  exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import numpy as np

from dexbench import geometry
from dexbench.errors import DexbenchError
from dexbench.face import meanshape
from dexbench.face.brows import BROW_REFINEMENT, refine_brows
from dexbench.face.detect import YUNET_KEYPOINTS, YuNetDetector
from dexbench.face.expression import EXPRESSION_NAMES, EXPRESSION_SPACE, describe, head_frame_landmarks
from dexbench.face.eyes import ROI_SCALE, IrisEyeRefiner
from dexbench.face.landmarks import DLIB_BOX_COEFFS, DlibLandmarker, dlib_box_from_yunet
from dexbench.face.mesh_pose import MESH_POSE, FaceMeshPose
from dexbench.face.pose import fit_pose, to_normalised
from dexbench.face.tracking import FaceBoxes, track_faces
from dexbench.nets import resolve_weights

ANALYZER_VERSION = "4"
LANDMARKERS = ("dlib68+iris", "dlib68")
POSE_ESTIMATORS = ("face-mesh", "landmark-fit")
LANDMARK_CONVENTION = "iBUG-300W 68 points, crop pixels, pixel centres at integer coordinates"


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame analysis of face crops."""

    detected: np.ndarray  # (T,) bool
    landmarks: np.ndarray  # (T, 68, 2) iBUG-68 in crop pixels (pixel centres at integers), NaN where not detected
    rotation: np.ndarray  # (T, 3, 3) per dexbench/geometry.py conventions
    yaw: np.ndarray  # (T,) degrees
    pitch: np.ndarray
    roll: np.ndarray
    translation: np.ndarray  # (T, 2) normalised image coords of the crop (geometry.py)
    scale: np.ndarray  # (T,) weak-perspective scale (head half-width ~1)
    expression: np.ndarray  # (T, D) pose-normalised landmark expression descriptor
    score: np.ndarray  # (T,) detector confidence on the crop (1.0 where the caller gave the box); NaN if none
    fit_rms: np.ndarray  # (T,) pose-fit reprojection RMS on the rigid points, head units (a landmark-quality proxy)
    residual: np.ndarray  # (T, 68, 2) pose-normalised landmark displacement from the mean shape / eye distance

    def __len__(self) -> int:
        return len(self.detected)


def _nearest_to_centre(boxes: np.ndarray, h: int, w: int) -> int:
    centres = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    return int(np.argmin(np.hypot(centres[:, 0] - (w - 1) / 2, centres[:, 1] - (h - 1) / 2)))


class FaceAnalyzer:
    expression_space: str = EXPRESSION_SPACE
    expression_names: tuple[str, ...] = EXPRESSION_NAMES

    def __init__(
        self,
        *,
        detect_every: int = 5,
        landmarker: str = "dlib68+iris",
        brows: bool = True,
        pose: str = "face-mesh",
        weights: dict[str, Path] | None = None,
    ) -> None:
        if landmarker not in LANDMARKERS:
            raise DexbenchError(f"unknown landmarker {landmarker!r}", f"use one of {', '.join(LANDMARKERS)}")
        if pose not in POSE_ESTIMATORS:
            raise DexbenchError(f"unknown pose estimator {pose!r}", f"use one of {', '.join(POSE_ESTIMATORS)}")
        nets = ("yunet", "dlib-shape68", "meanshape-68") + (("iris-landmark",) if landmarker == "dlib68+iris" else ())
        nets += ("face-mesh",) if pose == "face-mesh" else ()
        weights = dict(weights or {})
        unknown = set(weights) - set(nets)
        if unknown:
            raise DexbenchError(f"unknown weights keys {sorted(unknown)}", f"use {', '.join(nets)}")
        self.detect_every = int(detect_every)
        self.landmarker_name = landmarker
        self._resolved = {n: resolve_weights(n, weights.get(n)) for n in nets}
        self.detector = YuNetDetector(self._resolved["yunet"].path)
        self.landmarker = DlibLandmarker(self._resolved["dlib-shape68"].path)
        self.eyes = IrisEyeRefiner(self._resolved["iris-landmark"].path) if landmarker == "dlib68+iris" else None
        self.brows = bool(brows)
        self.model = meanshape.head_model(self._resolved["meanshape-68"].path)
        self.pose_points = meanshape.RIGID_POINTS
        self.pose_estimator = pose
        self.mesh_pose = FaceMeshPose(self._resolved["face-mesh"].path) if pose == "face-mesh" else None

    # -- full frames ----------------------------------------------------------------------------------------
    def track_faces(self, frames: np.ndarray) -> FaceBoxes:
        """(T, H, W, 3) uint8 RGB full frames -> one followed face's boxes (see dexbench.face.tracking)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise DexbenchError(f"track_faces expects (T, H, W, 3) RGB frames, got shape {frames.shape}")
        return track_faces(frames, self.detector, self.detect_every)

    # -- crops ------------------------------------------------------------------------------------------------
    def landmarks(
        self, crops: np.ndarray, boxes: np.ndarray | None = None, keypoints: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(T, 68, 2) landmarks (NaN where no face) and (T,) detector scores for face-centred crops."""
        lms, score, _ = self._landmarks_and_boxes(crops, boxes, keypoints)
        return lms, score

    def _landmarks_and_boxes(
        self, crops: np.ndarray, boxes: np.ndarray | None, keypoints: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """landmarks(), plus each frame's YuNet face box where one is known (given or detected), else NaN."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise DexbenchError(f"analyze expects (T, h, w, 3) RGB crops, got shape {crops.shape}")
        n = len(crops)
        lms = np.full((n, 68, 2), np.nan)
        score = np.full(n, np.nan)
        face_box = np.full((n, 4), np.nan)
        for t in range(n):
            given_box = boxes is not None and np.all(np.isfinite(boxes[t]))
            if given_box:
                face_box[t] = boxes[t]
            if keypoints is not None and np.all(np.isfinite(keypoints[t])):
                box, s = dlib_box_from_yunet(keypoints[t]), 1.0
            elif given_box:
                box, s = self._box_from_yunet_box(np.asarray(boxes[t], dtype=np.float64)), 1.0
            else:
                face = self._nearest_face(crops[t])
                if face is None:
                    continue
                face_box[t], kp, s = face
                box = dlib_box_from_yunet(kp)
            lms[t] = self.landmarker(crops[t], box)
            if self.eyes is not None:
                lms[t] = self.eyes.refine(crops[t], lms[t])
            if self.brows:
                lms[t] = refine_brows(crops[t], lms[t])
            score[t] = s
        return lms, score, face_box

    def _mesh_rotations(self, crops: np.ndarray, lms: np.ndarray, face_box: np.ndarray) -> np.ndarray:
        """(T, 3, 3) face-mesh head rotations for frames with landmarks (NaN elsewhere)."""
        rot = np.full((len(crops), 3, 3), np.nan)
        assert self.mesh_pose is not None
        for t in range(len(crops)):
            if not np.all(np.isfinite(lms[t])):
                continue
            box = face_box[t]
            if not np.all(np.isfinite(box)):  # only keypoints were given: the mesh's region needs YuNet's box
                face = self._nearest_face(crops[t])
                if face is not None:
                    box = face[0]
                else:
                    lo, hi = lms[t].min(0), lms[t].max(0)
                    half = 0.5 * float(np.max(hi - lo))
                    c = 0.5 * (lo + hi)
                    box = np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])
            rot[t] = self.mesh_pose.rotation(crops[t], box, lms[t])
        return rot

    def _nearest_face(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """YuNet's box, keypoints and score of the face nearest the crop centre; None if it finds none."""
        dets = self.detector.detect(crop)
        if not len(dets):
            return None
        i = _nearest_to_centre(dets.boxes, *crop.shape[:2])
        return dets.boxes[i], dets.keypoints[i], float(dets.scores[i])

    @staticmethod
    def _box_from_yunet_box(box: np.ndarray) -> np.ndarray:
        # Without keypoints: a square of the box width centred a little below the box centre (YuNet boxes include
        # the forehead, dlib's start at the brows).
        cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
        side = box[2] - box[0]
        cy += 0.12 * (box[3] - box[1])
        return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])

    def analyze(
        self, crops: np.ndarray, boxes: np.ndarray | None = None, keypoints: np.ndarray | None = None
    ) -> FaceTrack:
        """(T, h, w, 3) uint8 RGB face crops -> per-frame landmarks, pose and expression (module docstring)."""
        crops = np.asarray(crops)
        lms, score, face_box = self._landmarks_and_boxes(crops, boxes, keypoints)
        h, w = crops.shape[1:3]
        rotation = self._mesh_rotations(crops, lms, face_box) if self.mesh_pose is not None else None
        return self.analyze_landmarks(lms, h, w, score, rotation=rotation)

    def analyze_landmarks(
        self,
        lms: np.ndarray,
        height: int,
        width: int,
        score: np.ndarray | None = None,
        rotation: np.ndarray | None = None,
    ) -> FaceTrack:
        """Pose and expression from given landmarks (T, 68, 2) in crop pixels (e.g. another landmarker's).

        `rotation` (T, 3, 3), e.g. the face mesh's, replaces the landmark fit's rotation (and so yaw, pitch, roll);
        without it, as for landmarks without their image, the fit's is used."""
        lms = np.asarray(lms, dtype=np.float64)
        n = len(lms)
        detected = np.all(np.isfinite(lms), axis=(1, 2))
        fit = fit_pose(lms, self.model, height, width, self.pose_points)
        detected &= np.isfinite(fit.scale)
        if rotation is None:
            rot, (yaw, pitch, roll) = fit.rotation, (fit.yaw, fit.pitch, fit.roll)
        else:
            rot = np.asarray(rotation, dtype=np.float64)
            detected &= np.all(np.isfinite(rot), axis=(1, 2))
            yaw, pitch, roll = geometry.matrix_to_euler(rot)
        expr = np.full((n, len(EXPRESSION_NAMES)), np.nan)
        residual = np.full((n, 68, 2), np.nan)
        if detected.any():
            uv = to_normalised(lms[detected], height, width)
            head = head_frame_landmarks(
                uv, fit.rotation[detected], fit.translation[detected], fit.scale[detected], self.model
            )
            expr[detected], residual[detected] = describe(head, self.model)
        nan_where = lambda a: np.where(detected.reshape((-1,) + (1,) * (a.ndim - 1)), a, np.nan)  # noqa: E731
        return FaceTrack(
            detected=detected,
            landmarks=nan_where(lms),
            rotation=nan_where(rot),
            yaw=nan_where(yaw),
            pitch=nan_where(pitch),
            roll=nan_where(roll),
            translation=nan_where(fit.translation),
            scale=nan_where(fit.scale),
            expression=expr,
            score=nan_where(np.ones(n) if score is None else np.asarray(score, dtype=np.float64)),
            fit_rms=nan_where(fit.rms),
            residual=residual,
        )

    def provenance(self) -> dict[str, str]:
        out = {
            "analyzer": f"dexbench.face.FaceAnalyzer v{ANALYZER_VERSION}",
            "detector": f"YuNet (cv2.FaceDetectorYN, opencv {cv2.__version__}), every {self.detect_every} frames",
            "detector_keypoints": ", ".join(YUNET_KEYPOINTS),
            "landmarker": f"dlib {dlib.__version__} shape_predictor 68 (box from YuNet keypoints, {DLIB_BOX_COEFFS})"
            + (
                f"; eyelid points 37,38,40,41,43,44,46,47 from MediaPipe iris-landmark (per-eye 64 px crop, "
                f"{ROI_SCALE} x corner distance, corners kept from dlib)"
                if self.eyes is not None
                else ""
            ),
            "landmarker_name": self.landmarker_name,
            "brow_refinement": BROW_REFINEMENT if self.brows else "off",
            "pose": "weak-perspective Gauss-Newton fit to the insightface 3-D mean shape on points "
            + ",".join(map(str, self.pose_points))
            + (" (translation, scale, expression frame)" if self.mesh_pose is not None else ""),
            "pose_rotation": MESH_POSE if self.mesh_pose is not None else "the landmark fit's",
            "mean_shape_alignment": f"scale {meanshape.ALIGNMENT_SCALE:.6f}, pitch {meanshape.ALIGNMENT_PITCH_DEG:.4f} "
            f"deg, t {tuple(round(v, 6) for v in meanshape.ALIGNMENT_T)}",
            "expression_space": EXPRESSION_SPACE,
            "expression_names": ",".join(EXPRESSION_NAMES),
            "landmark_convention": LANDMARK_CONVENTION,
            "rotation_convention": geometry.ROTATION_CONVENTION,
            "projection_convention": geometry.PROJECTION_CONVENTION,
        }
        for name, res in self._resolved.items():
            out[f"weights_{name}_sha256"] = res.sha256
        if self.mesh_pose is not None:
            out["face_mesh_reference_sha256"] = self.mesh_pose.reference_sha256
        return out
