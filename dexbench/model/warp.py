"""Warp a 3-D feature volume from the source pose to the driving pose (the relative transform P_d · P_s^-1).

Backward warping: for every voxel q of the output (driving) volume, the head point there is X = P_d^-1(q), and its
feature is read from the source volume at P_s(X). grid_sample's (x, y, z) order is (width, height, depth), which
matches the view volume's (x right, y down, z forward), all in [-1, 1] (align_corners=False: voxel centres).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dexbench.model.pose import Pose


def volume_grid(depth: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(D, H, W, 3) voxel-centre coordinates (x, y, z) in [-1, 1]."""

    def axis(n: int) -> torch.Tensor:
        return (torch.arange(n, device=device, dtype=dtype) + 0.5) * (2.0 / n) - 1.0

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def warp_volume(volume: torch.Tensor, source: Pose, driving: Pose) -> torch.Tensor:
    """(B, C, D, H, W) source-pose volume -> the same content seen in the driving pose."""
    b, _, d, h, w = volume.shape
    grid = volume_grid(d, h, w, volume.device, volume.dtype).reshape(1, -1, 3).expand(b, -1, -1)
    src_q = source.apply(driving.inverse_apply(grid))
    return F.grid_sample(
        volume, src_q.reshape(b, d, h, w, 3), mode="bilinear", padding_mode="zeros", align_corners=False
    )
