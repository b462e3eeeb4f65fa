"""The per-pixel ray map of a head pose (pose branch 2 of the diffusion stage).

Definition (the paper's formula is garbled in the public record; this is dexbench's): for a pixel with normalised
image coordinates g = (u, v) in [-1, 1]^2 (pixel centres, x right, y down), lift it to the head-frame point
G = (u, v, 0), apply the pose P = [sR | t] of `dexbench.model.pose`, and subtract the lifted grid:

    ray(u, v) = P(G) - G = s R (u, v, 0)^T + (tx, ty, 0)^T - (u, v, 0)^T        (3 channels: du, dv, dz)

so the identity pose (R = I, s = 1, t = 0) gives an all-zero map, a pure translation a constant map, and rotations
and scale a linear field. Weak perspective needs no intrinsics: the camera enters only through the normalised
image frame (its axes and the [-1, 1] extent), which is why no focal length appears.
"""

from __future__ import annotations

import torch

from dexbench.model.pose import Pose


def pixel_grid(height: int, width: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32):
    """(H, W, 2) normalised pixel-centre coordinates (u, v)."""
    u = (torch.arange(width, device=device, dtype=dtype) + 0.5) * (2.0 / width) - 1.0
    v = (torch.arange(height, device=device, dtype=dtype) + 0.5) * (2.0 / height) - 1.0
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([uu, vv], dim=-1)


def ray_map(pose: Pose, height: int, width: int) -> torch.Tensor:
    """(B, 3, H, W) ray map of each pose in the batch."""
    g = pixel_grid(height, width, pose.rotation.device, pose.rotation.dtype).reshape(1, -1, 2)
    g3 = torch.cat([g, torch.zeros_like(g[..., :1])], dim=-1).expand(len(pose), -1, -1)
    ray = pose.apply(g3) - g3
    return ray.transpose(1, 2).reshape(len(pose), 3, height, width)
