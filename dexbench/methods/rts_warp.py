"""`rts-warp`: the source image moved by a single 2-D affine per frame, derived from the head pose alone.

A pose-only classical baseline: it follows the driver's rotation, translation and scale and never changes the
expression (an expression-only request returns the source unchanged).

The approximation: every pixel is treated as lying on the plane through the head centre parallel to the image.
For such a point, camera-frame Y = ((uv - t_s) / s_s, 0) in the source; the output pose sees it at
R_out R_s^T Y, so the image moves by the affine

    uv_out = (s_out / s_s) * [R_out R_s^T]_{2x2} (uv - t_s) + t_out

(the upper-left 2x2 block of the relative rotation, i.e. the projected rotation). Roll, translation and scale are
reproduced exactly; yaw and pitch only as foreshortening about the head centre, so facial features, which lie in
front of that plane, lag behind a turn (landmark-warp models them). A landmark-based pose estimator therefore sees
rts-warp's roll, translation and scale but hardly its yaw/pitch (tests/test_baselines.py measures both). The
centre plane was chosen over the face plane because it keeps skull, hair and outline where the target has them:
on SynthHeads pose-only pairs it gives the best pixel fidelity of the planes tried (0, -0.3, -0.5, -0.8 head units).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dexbench.methods.animator import AnimationRequest, Animator
from dexbench.methods.headpose import PoseTrack, output_pose, require_annotations


def pose_affines(src: PoseTrack, out: PoseTrack, height: int, width: int) -> np.ndarray:
    """(T, 2, 3) pixel-space affines of the centre-plane approximation (module docstring)."""
    rel = out.rotation @ np.swapaxes(src.rotation[:1], -1, -2)
    lin = (out.scale / src.scale[0])[:, None, None] * rel[:, :2, :2]  # normalised coords -> normalised coords
    off = out.translation - np.einsum("tij,j->ti", lin, src.translation[0])
    # pixel <-> normalised: uv = px * k + c with k = 2 / size, c = 1 / size - 1, per axis
    k = np.array([2.0 / width, 2.0 / height])
    c = k / 2.0 - 1.0
    lin_px = lin * k[None, None, :] / k[None, :, None]
    off_px = (np.einsum("tij,j->ti", lin, c) + off - c) / k
    return np.concatenate([lin_px, off_px[..., None]], axis=-1)


class RtsWarpAnimator(Animator):
    name = "rts-warp"
    version = "1"
    description = (
        "Warps the source by one affine per frame from the driver's head rotation, translation and scale "
        "(pose only; the expression is never changed)."
    )
    license = "Apache-2.0"

    def __init__(self, anchor: str = "source", **params: Any) -> None:
        super().__init__(anchor=anchor, **params)
        self.anchor = anchor

    def animate(self, request: AnimationRequest) -> np.ndarray:
        image = request.source.image
        n = request.n_frames
        if request.pose_driver is None:
            return np.repeat(image[None], n, axis=0)
        h, w = request.size
        src = PoseTrack.of(require_annotations(request.source.annotations, "source", self.name))
        affines = pose_affines(src, output_pose(request, self.anchor, self.name), h, w)
        out = np.empty((n, h, w, 3), np.uint8)
        for t in range(n):
            out[t] = cv2.warpAffine(image, affines[t], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out
