"""Sanity baselines that bound every metric: the source repeated, and the driver returned."""

from __future__ import annotations

import numpy as np

from dexbench.methods.animator import AnimationRequest, Animator


class StaticAnimator(Animator):
    """Repeats the source image: perfect identity, no motion at all (the lower bound on motion metrics)."""

    name = "static"
    version = "1"
    description = "The source portrait repeated for every frame (no animation)."
    license = "Apache-2.0"

    def animate(self, request: AnimationRequest) -> np.ndarray:
        return np.repeat(request.source.image[None], request.n_frames, axis=0)


class DrivingAnimator(Animator):
    """Returns the driver's frames: perfect motion, the driver's identity (the upper bound on self-reenactment)."""

    name = "driving"
    version = "1"
    description = "The driving frames returned unchanged (the pose driver's, else the expression driver's)."
    license = "Apache-2.0"

    def animate(self, request: AnimationRequest) -> np.ndarray:
        driver = request.pose_driver or request.expression_driver
        assert driver is not None
        return driver.frames.copy()
