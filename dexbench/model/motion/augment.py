"""The disentangling augmentations: what each motion encoder is allowed to see.

- Pose encoder: the frame with eyes and mouth blanked out (ellipses around iBUG-68 points 36-47 and 48-67), so
  nothing in its input moves with the expression.
- Expression encoder: a randomly re-posed view (rotation, scale, shift; single-view data only allows in-plane
  re-posing) cropped back to the input size, so head pose is not a consistent cue for it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EYES = list(range(36, 48))
MOUTH = list(range(48, 68))
FACE = list(range(0, 68))


def region_mask(landmarks: torch.Tensor, size: int, groups: list[list[int]], grow: float = 1.6) -> torch.Tensor:
    """(B, 1, S, S) soft mask, 1 inside an axis-aligned ellipse around each landmark group (scaled by `grow`)."""
    ys = torch.arange(size, device=landmarks.device, dtype=landmarks.dtype)
    yy, xx = torch.meshgrid(ys, ys, indexing="ij")
    mask = torch.zeros(landmarks.shape[0], 1, size, size, device=landmarks.device, dtype=landmarks.dtype)
    for idx in groups:
        pts = landmarks[:, idx]
        centre = pts.mean(dim=1)
        half = ((pts.amax(dim=1) - pts.amin(dim=1)) / 2 * grow).clamp(min=2.0)
        d = ((xx - centre[:, 0, None, None]) / half[:, 0, None, None]) ** 2 + (
            (yy - centre[:, 1, None, None]) / half[:, 1, None, None]
        ) ** 2
        mask = torch.maximum(mask, (d <= 1.0).to(mask.dtype)[:, None])
    return mask


def mask_eyes_mouth(image: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """Eyes and mouth filled with mid grey (0 in [-1, 1])."""
    return image * (1.0 - eyes_mouth_mask(landmarks, image.shape[-1]))


def eyes_mouth_mask(landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 1, S, S): an ellipse around each eye and around the mouth, where the expression shows."""
    return region_mask(landmarks, size, [EYES[:6], EYES[6:], MOUTH])


def face_mask(landmarks: torch.Tensor, size: int) -> torch.Tensor:
    return region_mask(landmarks, size, [FACE], grow=1.1)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [-1, 1] -> its Rec. 601 luma, repeated on the three channels (same range)."""
    weights = image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (image * weights).sum(1, keepdim=True).expand_as(image)


def repose(image: torch.Tensor, generator: torch.Generator, degrees: float, scale: float, shift: float) -> torch.Tensor:
    """A random similarity transform per image (rotation +-degrees, zoom 1 +- scale, shift +- shift), same size."""
    b = image.shape[0]
    u = torch.rand(b, 4, generator=generator, device="cpu").to(image) * 2 - 1
    ang = u[:, 0] * math.radians(degrees)
    zoom = 1.0 + u[:, 1] * scale
    cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, u[:, 2] * shift], 1), torch.stack([sin, cos, u[:, 3] * shift], 1)], dim=1
    )
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
