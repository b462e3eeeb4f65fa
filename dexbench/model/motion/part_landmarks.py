"""The code swap's geometric read-back (`loss.code_swap_readback: landmarks`): a part landmarker.

With the model's own expression encoder as the code swap's read-back, the renderer learned to tell the encoder the
code in colours no face has (a red brow) and, with the read-back in grey, in other marks: whatever the encoder
reads, the renderer can write (reference_model/README.md). This read-back is narrower on purpose. A small
fully-convolutional network finds the brow, eye and mouth landmarks in the grey part glimpses, each landmark as the
soft-argmax of its own heatmap, so its output is a position in the glimpse and nothing else; and a linear map from
those positions alone gives the expression parameters. It is trained on real frames only, against their exact
landmarks and annotation (SynthHeads), and frozen on the code swap's path. To pass it, a rendering has to put
corners and lids where a real face with that expression has them.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dexbench.model.motion.augment import luminance
from dexbench.model.motion.glimpses import sample_glimpses
from dexbench.model.pose import Pose
from dexbench.model.warp import float32_coordinates, volume_grid

# iBUG-68 points per glimpse part, in glimpse_anchors' order: subject-right brow + eye, left brow + eye, mouth
PART_LANDMARKS: tuple[tuple[int, ...], ...] = (
    (*range(17, 22), *range(36, 42)),
    (*range(22, 27), *range(42, 48)),
    tuple(range(48, 68)),
)


@float32_coordinates
def patch_coordinates(
    landmarks: torch.Tensor,
    image_size: int,
    pose: Pose,
    anchors: torch.Tensor,
    extents: torch.Tensor,
    jitter: torch.Tensor | None = None,
) -> torch.Tensor:
    """Where each part's landmarks sit in that part's glimpse: (B, 68, 2) pixel landmarks of size-`image_size`
    frames -> (B, K, 2) glimpse coordinates ([-1, 1] spans the glimpse, as `sample_glimpses` lays it out with the
    same pose and jitter), K = the landmarks of PART_LANDMARKS in order.

    A landmark is lifted onto its part's plane (z = the anchor's z) by the exact 2 x 2 solve of the weak-perspective
    projection; the head must not be seen edge-on (|det| of the in-plane map > 0; SynthHeads turns at most ~60 deg).
    """
    uv = (landmarks + 0.5) * (2.0 / image_size) - 1.0
    a = pose.scale[:, None, None] * pose.rotation[:, :2, :2]  # (B, 2, 2)
    out = []
    for p, idx in enumerate(PART_LANDMARKS):
        anchor, extent = anchors[p].to(uv), extents[p].to(uv)
        off = pose.scale[:, None] * pose.rotation[:, :2, 2] * anchor[2]  # (B, 2): the plane's depth, projected
        rhs = uv[:, list(idx)] - (pose.translation + off)[:, None]  # (B, k, 2)
        xy = torch.linalg.solve(a[:, None], rhs[..., None])[..., 0]
        c = (xy - anchor[:2]) / extent
        if jitter is not None:  # glimpse_points: X = anchor + extent * (offs * zoom + shift)
            c = (c - jitter[:, None, :2]) / torch.exp(jitter[:, None, 2:3])
        out.append(c)
    return torch.cat(out, dim=1)


def position_error(found: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (glimpse units) of found landmark positions (B, K, 2), over the true positions that lie
    inside their glimpse (a soft-argmax cannot reach the others)."""
    inside = (true.abs().amax(-1, keepdim=True) < 1.0).to(true.dtype)
    return ((found - true).abs() * inside).sum() / (2 * inside.sum()).clamp(min=1.0)


def grey_glimpses(
    images: torch.Tensor,
    pose: Pose,
    anchors: torch.Tensor,
    extents: torch.Tensor,
    size: int,
    jitter: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, P, size, size): one standardised luma glimpse per part (colour cannot carry anything to the landmarker)."""
    g = sample_glimpses(luminance(images), pose, anchors, extents, size, jitter)
    return g[:, ::3]  # the three channels of a grey glimpse are equal


class PartLandmarker(nn.Module):
    """Grey part glimpses (B, P, S, S) -> landmark positions (B, K, 2) in their parts' glimpse coordinates, and a
    linear read-out of the expression parameters from those positions alone (`expression`).

    Dilated residual convolutions at the glimpses' full resolution (a receptive field of ~the whole glimpse without
    losing where things are), one heatmap per landmark, soft-argmax over the pixel centres."""

    def __init__(self, parts: int, targets: int, width: int = 32) -> None:
        super().__init__()
        self.points = sum(len(idx) for idx in PART_LANDMARKS)
        if parts != len(PART_LANDMARKS):
            raise ValueError(f"the part landmarker reads {len(PART_LANDMARKS)} glimpse parts, not {parts}")
        self.inp = nn.Conv2d(parts, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in (1, 2, 4, 2, 1))
        self.heatmaps = nn.Conv2d(width, self.points, 1)
        self.expression = nn.Linear(2 * self.points, targets)

    def locate(self, glimpses: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.inp(glimpses), 0.2)
        for conv in self.blocks:
            h = h + F.leaky_relu(conv(h), 0.2)
        logits = self.heatmaps(h)
        b, k, s, _ = logits.shape
        weights = logits.reshape(b, k, s * s).float().softmax(-1)
        centres = volume_grid(1, s, s, logits.device, torch.float32)[0, ..., :2].reshape(s * s, 2)
        return (weights @ centres).to(glimpses.dtype)

    def read(self, positions: torch.Tensor) -> torch.Tensor:
        return self.expression(positions.flatten(1))

    def forward(self, glimpses: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass (one forward, so DDP sees every parameter): the landmarks found in `glimpses`, and the
        expression read from the given (true) `positions`."""
        return self.locate(glimpses), self.read(positions)
