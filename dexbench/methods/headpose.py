"""Head-pose algebra the classical baselines share: the output pose of a request, and 68-point lifting/projection.

Everything follows `dexbench.geometry` (weak perspective: uv_norm = scale * (R X)[:2] + t). 2-D landmarks carry no
depth, so they are lifted to the head frame with the depth of a generic face template: the mean neutral SynthHeads
face over 16 identities (head units: half-width about 1). On SynthHeads that template is close to exact; on real
faces it is the usual approximation of template-based 2-D/3-D warps, and the baselines' docs say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dexbench.data.annotations import ClipAnnotations
from dexbench.errors import DexbenchError
from dexbench.methods.animator import AnimationRequest

ANCHORS = ("source", "driver-first")
OUTER_EYE_CORNERS = (36, 45)


@dataclass(frozen=True)
class PoseTrack:
    rotation: np.ndarray  # (T, 3, 3)
    translation: np.ndarray  # (T, 2) normalised image coordinates
    scale: np.ndarray  # (T,)

    def __len__(self) -> int:
        return len(self.scale)

    @classmethod
    def of(cls, ann: ClipAnnotations) -> PoseTrack:
        return cls(
            np.asarray(ann.rotation, np.float64),
            np.asarray(ann.translation, np.float64),
            np.asarray(ann.scale, np.float64).reshape(-1),
        )

    def repeat(self, n: int) -> PoseTrack:
        return PoseTrack(*(np.repeat(a[:1], n, axis=0) for a in (self.rotation, self.translation, self.scale)))


@lru_cache(maxsize=1)
def face_template() -> np.ndarray:
    """(68, 3) head-frame landmark positions of a generic neutral face (mean SynthHeads face, 16 identities)."""
    from dexbench.data.synth import HeadRenderer, sample_identity

    renderer = HeadRenderer(128)
    return np.mean([renderer.landmarks_3d(sample_identity(k)) for k in range(16)], axis=0)


def require_annotations(ann: ClipAnnotations | None, what: str, method: str) -> ClipAnnotations:
    if ann is None or len(ann) == 0:
        raise DexbenchError(
            f"{method} needs pose and landmark annotations of the {what}, and the request has none",
            "run it on a dataset whose shards carry annotations",
        )
    return ann


def output_pose(request: AnimationRequest, anchor: str, method: str) -> PoseTrack:
    """The head pose every output frame should have.

    No pose driver: the source's pose, held. anchor="source": the driver's own pose (absolute transfer, what the
    protocol's ground truth shows; the warp applies P_driver P_source^-1 as DeX-Portrait does). anchor="driver-first":
    the source pose moved by the driver's motion relative to its first frame (relative transfer, classical
    reenactment; translation motion is rescaled by the source/driver scale ratio).
    """
    if anchor not in ANCHORS:
        raise DexbenchError(f"{method}: unknown anchor {anchor!r}", f"choose one of: {', '.join(ANCHORS)}")
    n = request.n_frames
    src = PoseTrack.of(require_annotations(request.source.annotations, "source", method))
    if request.pose_driver is None:
        return src.repeat(n)
    drv = PoseTrack.of(require_annotations(request.pose_driver.annotations, "pose driver", method))
    if anchor == "source":
        return drv
    rel = drv.rotation @ np.swapaxes(drv.rotation[:1], -1, -2)
    ratio = src.scale[0] / drv.scale[0]
    return PoseTrack(
        rotation=rel @ src.rotation[:1],
        translation=src.translation[:1] + (drv.translation - drv.translation[:1]) * ratio,
        scale=src.scale[0] * drv.scale / drv.scale[0],
    )


def to_normalised(px: np.ndarray, height: int, width: int) -> np.ndarray:
    size = np.array([width, height], np.float64)
    return (np.asarray(px, np.float64) + 0.5) * (2.0 / size) - 1.0


def to_pixels(uv: np.ndarray, height: int, width: int) -> np.ndarray:
    size = np.array([width, height], np.float64)
    return (np.asarray(uv, np.float64) + 1.0) * (size / 2.0) - 0.5


def lift(landmarks_px: np.ndarray, pose: PoseTrack, height: int, width: int) -> np.ndarray:
    """Head-frame 3-D landmarks (T, 68, 3) from 2-D ones (T, 68, 2), taking each point's depth from the template.

    With camera-frame point Y = R X, the image gives Y_xy = (uv - t) / s; Y_z is chosen so that X_z equals the
    template's head-frame depth of that landmark: X_z = R[:, 2] . Y.
    """
    uv = to_normalised(landmarks_px, height, width)
    y_xy = (uv - pose.translation[:, None, :]) / pose.scale[:, None, None]
    r = pose.rotation
    z_template = face_template()[:, 2][None]
    r22 = np.where(np.abs(r[:, 2, 2]) < 0.2, np.copysign(0.2, r[:, 2, 2]), r[:, 2, 2])  # |yaw|, |pitch| < ~78 deg
    y_z = (z_template - r[:, None, 0, 2] * y_xy[..., 0] - r[:, None, 1, 2] * y_xy[..., 1]) / r22[:, None]
    y = np.concatenate([y_xy, y_z[..., None]], axis=-1)
    return np.einsum("tji,tnj->tni", r, y)  # X = R^T Y


def project(points: np.ndarray, pose: PoseTrack, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (T, N, 2) and camera-frame depths (T, N) of head-frame points (T or 1, N, 3)."""
    cam = np.einsum("tij,tnj->tni", pose.rotation, np.broadcast_to(points, (len(pose), *points.shape[-2:])))
    uv = pose.scale[:, None, None] * cam[..., :2] + pose.translation[:, None, :]
    return to_pixels(uv, height, width), cam[..., 2]


def inter_ocular(points: np.ndarray) -> np.ndarray:
    a, b = OUTER_EYE_CORNERS
    return np.linalg.norm(points[..., a, :2] - points[..., b, :2], axis=-1)
