"""Pose-normalised part glimpses: what the glimpse expression encoder sees (`motion.expression_input: glimpses`).

Fixed canonical anchors in the head frame (the two eye centres and the mouth centre) span small planar patches
facing along the head's z axis; a pose P = [sR | t] maps each patch point X to the normalised image point
uv = s (R X)[:2] + t (dexbench.geometry's weak perspective), and the glimpse is the frame bilinearly sampled there.
The patches move, turn and scale with the head, so the glimpses show the eyes and the mouth in the head's own frame
at any pose: head pose is (up to the pose estimate's error) not in them, and most identity context (hair, face
outline, background) is outside them. Normalised coordinates make the result independent of the frame's pixel
resolution, so glimpses can be read from a higher-resolution frame than the generator works at.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dexbench.model.pose import Pose
from dexbench.model.warp import float32_coordinates, volume_grid


def glimpse_points(
    anchors: torch.Tensor, extents: torch.Tensor, size: int, jitter: torch.Tensor | None = None
) -> torch.Tensor:
    """(B or 1, P, size, size, 3) head-frame sample points of P square patches.

    anchors (P, 3) patch centres; extents (P,) half side lengths (head units); jitter (B, 3) optional per-sample
    (shift x, shift y, log zoom) in units of each patch's half side (a training augmentation).
    """
    offs = volume_grid(1, size, size, anchors.device, anchors.dtype)[None]  # (1, 1, S, S, 3): pixel centres, z = 0
    if jitter is not None:
        zoom = torch.exp(jitter[:, 2])[:, None, None, None, None]
        shift = torch.cat([jitter[:, :2], torch.zeros_like(jitter[:, :1])], dim=1)[:, None, None, None, :]
        offs = offs * zoom + shift
    return anchors[None, :, None, None, :] + extents[None, :, None, None, None] * offs


@float32_coordinates
def sample_glimpses(
    image: torch.Tensor,
    pose: Pose,
    anchors: torch.Tensor,
    extents: torch.Tensor,
    size: int,
    jitter: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, 3, H, W) frames in [-1, 1] + their poses -> (B, 3 P, size, size) glimpses, each glimpse's colour
    channels standardised (zero mean, unit variance): skin and lighting levels are identity, not expression."""
    b = image.shape[0]
    pts = glimpse_points(anchors.to(image), extents.to(image), size, jitter).expand(b, -1, -1, -1, -1)
    p = pts.shape[1]
    uv = pose.apply(pts.reshape(b, -1, 3))[..., :2].reshape(b, p * size, size, 2)
    g = F.grid_sample(image, uv, mode="bilinear", padding_mode="border", align_corners=False)  # (B, 3, P S, S)
    g = g.reshape(b, 3, p, size, size).transpose(1, 2)  # (B, P, 3, S, S)
    g = (g - g.mean(dim=(3, 4), keepdim=True)) / (g.std(dim=(3, 4), keepdim=True) + 0.05)
    return g.reshape(b, 3 * p, size, size)


@float32_coordinates
def part_mask(pose: Pose, anchors: torch.Tensor, extents: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 1, size, size): 1 inside the image ellipses the glimpse patches cover at `pose` (0 elsewhere)."""
    b = len(pose)
    anchors, extents = anchors.to(pose.translation), extents.to(pose.translation)
    centre = pose.apply(anchors[None].expand(b, -1, -1))[..., :2]  # (B, P, 2)
    m2 = pose.scale[:, None, None, None] * pose.rotation[:, None, :2, :2]  # (B, 1, 2, 2): the patch's in-plane map
    half = (m2.abs().sum(-1) * extents[None, :, None]).clamp(min=1e-3)  # (B, P, 2) axis-aligned half widths
    grid = volume_grid(1, size, size, centre.device, centre.dtype)[0]
    gx, gy = grid[..., 0], grid[..., 1]
    dx = (gx[None, None] - centre[..., 0, None, None]) / half[..., 0, None, None]
    dy = (gy[None, None] - centre[..., 1, None, None]) / half[..., 1, None, None]
    return ((dx**2 + dy**2) <= 1.0).any(dim=1, keepdim=True).to(centre.dtype)


@float32_coordinates
def paste_parts(
    canvas: torch.Tensor, pose: Pose, anchors: torch.Tensor, extents: torch.Tensor, size: int
) -> torch.Tensor:
    """The inverse of `sample_glimpses`: per-part feature patches (B, P, C, h, w), laid out like the glimpses, drawn
    into a (B, C, size, size) image-space map at `pose` (parts summed; zero outside every patch).

    Every output pixel q is lifted onto each patch's plane (z = the anchor's z): the head point X = (x, y, z_p) with
    s R X [:2] + t = q (an exact 2 x 2 solve, as in `warp_image`), then read from that patch at its coordinates.
    """
    b, p, c, h, w = canvas.shape
    anchors, extents = anchors.to(canvas), extents.to(canvas)
    q = volume_grid(1, size, size, canvas.device, canvas.dtype)[0, ..., :2].reshape(1, 1, -1, 2)  # (1, 1, HW, 2)
    a = pose.scale[:, None, None] * pose.rotation[:, :2, :2]  # (B, 2, 2)
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    det = torch.where(det.abs() < 0.05, torch.full_like(det, 0.05), det)
    inv = torch.stack([torch.stack([a[:, 1, 1], -a[:, 0, 1]], 1), torch.stack([-a[:, 1, 0], a[:, 0, 0]], 1)], 1)
    inv = inv / det[:, None, None]
    off = pose.scale[:, None, None] * pose.rotation[:, None, :2, 2] * anchors[None, :, 2, None]  # (B, P, 2)
    rhs = q - (pose.translation[:, None, None] + off[:, :, None])  # (B, P, HW, 2)
    xy = rhs @ inv[:, None].transpose(-1, -2)
    uv = (xy - anchors[None, :, None, :2]) / extents[None, :, None, None]  # patch coordinates in [-1, 1]
    out = F.grid_sample(
        canvas.reshape(b * p, c, h, w),
        uv.reshape(b * p, size, size, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return out.reshape(b, p, c, size, size).sum(dim=1)
