"""Render a whole MotionTrack for one identity."""

from __future__ import annotations

import numpy as np

from .identity import Identity
from .motion import MotionTrack
from .render import HeadRenderer


def render_clip(
    identity: Identity, motion: MotionTrack, size: int, renderer: HeadRenderer | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames (T, S, S, 3) uint8, landmarks (T, 68, 2) float32 pixels, visibility (T, 68) bool."""
    r = renderer if renderer is not None and renderer.size == size else HeadRenderer(size)
    n = len(motion)
    frames = np.empty((n, size, size, 3), np.uint8)
    lms = np.empty((n, 68, 2), np.float32)
    vis = np.empty((n, 68), bool)
    for k in range(n):
        res = r.render(
            identity,
            yaw=float(motion.yaw[k]),
            pitch=float(motion.pitch[k]),
            roll=float(motion.roll[k]),
            tx=float(motion.tx[k]),
            ty=float(motion.ty[k]),
            scale=float(motion.scale[k]),
            expression=motion.expression[k],
        )
        frames[k], lms[k], vis[k] = res.image, res.landmarks, res.visible
    return frames, lms, vis
