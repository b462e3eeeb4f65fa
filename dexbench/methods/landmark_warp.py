"""`landmark-warp`: classical 2-D reenactment, a piecewise-affine warp of the source driven by landmark motion.

Each output frame's 68 target landmarks are built from the source's own landmarks in two separable parts:
- pose: the source landmarks, lifted to 3-D with a generic template's depth, re-projected under the output head
  pose (the driver's pose, or the source's when the request keeps it);
- expression: the driver's landmark motion relative to its first frame, measured in the driver's head frame (its
  pose removed the same way), rescaled by the source/driver inter-ocular ratio and added to the source's points
  (only when the request has an expression driver).
Twelve extra points on an ellipse around the head, in the plane through the head centre, move with the pose too,
so that hair and skull follow the head instead of stretching. The image is then warped triangle by triangle
(Delaunay over the landmarks, the head ring and eight fixed border points). The
template depth makes both parts approximate on real faces; in particular a driver's out-of-plane turn leaves a
small residual that is transferred as "expression".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dexbench.methods.animator import AnimationRequest, Animator
from dexbench.methods.headpose import (
    PoseTrack,
    inter_ocular,
    lift,
    output_pose,
    project,
    require_annotations,
)
from dexbench.methods.piecewise import border_points, triangulate, warp_frame

_RING = 12
_RING_CENTRE = (0.0, 0.1)  # head units, y down: a little below the head centre, so the chin stays inside
_RING_RADII = (1.3, 1.6)


def head_ring(pose: PoseTrack) -> np.ndarray:
    """(1, 12, 3) head-frame points on an ellipse around the head in the source's centre plane (camera z = 0)."""
    theta = np.linspace(0.0, 2 * np.pi, _RING, endpoint=False)
    y = np.stack(
        [_RING_CENTRE[0] + _RING_RADII[0] * np.cos(theta), _RING_CENTRE[1] + _RING_RADII[1] * np.sin(theta), 0 * theta],
        axis=-1,
    )
    return (y @ pose.rotation[0])[None]  # X = R^T Y, row-vector form


class LandmarkWarpAnimator(Animator):
    name = "landmark-warp"
    version = "1"
    description = (
        "Piecewise-affine warp of the source by the driver's landmark motion (pose re-projected, expression as "
        "relative landmark displacement); moves both pose and expression."
    )
    license = "Apache-2.0"

    def __init__(self, anchor: str = "source", **params: Any) -> None:
        super().__init__(anchor=anchor, **params)
        self.anchor = anchor

    def target_points(self, request: AnimationRequest) -> tuple[np.ndarray, np.ndarray]:
        """Target pixels (T, 68 + 12, 2) of the landmarks and head ring, and their camera-frame depths."""
        h, w = request.size
        ann = require_annotations(request.source.annotations, "source", self.name)
        src_pose = PoseTrack.of(ann).repeat(1)
        points = lift(np.asarray(ann.landmarks[:1], np.float64), src_pose, h, w)  # (1, 68, 3)
        if request.expression_driver is not None:
            drv = require_annotations(request.expression_driver.annotations, "expression driver", self.name)
            dh, dw = request.expression_driver.frames.shape[1:3]
            drv_points = lift(np.asarray(drv.landmarks, np.float64), PoseTrack.of(drv), dh, dw)  # (T, 68, 3)
            ratio = inter_ocular(points[0]) / max(float(inter_ocular(drv_points[0])), 1e-6)
            motion = (drv_points - drv_points[:1]) * ratio
            motion[..., 2] = 0.0  # depth comes from the template on both sides: no information there
            points = points + motion
        points = np.concatenate(
            [
                np.broadcast_to(points, (len(points), 68, 3)),
                np.broadcast_to(head_ring(src_pose), (len(points), _RING, 3)),
            ],
            axis=1,
        )
        return project(points, output_pose(request, self.anchor, self.name), h, w)

    def animate(self, request: AnimationRequest) -> np.ndarray:
        image = request.source.image
        h, w = request.size
        ann = require_annotations(request.source.annotations, "source", self.name)
        border = border_points(h, w)
        ring, _ = project(head_ring(PoseTrack.of(ann)), PoseTrack.of(ann).repeat(1), h, w)
        src = np.concatenate([np.asarray(ann.landmarks[0], np.float64), ring[0], border])
        tris = triangulate(src)
        dst_lm, depth_lm = self.target_points(request)
        far = np.full(len(border), depth_lm.max() + 10.0)
        out = np.empty((request.n_frames, h, w, 3), np.uint8)
        for t in range(request.n_frames):
            dst = np.concatenate([dst_lm[t], border])
            out[t] = warp_frame(image, src, dst, tris, np.concatenate([depth_lm[t], far]))
        return out
