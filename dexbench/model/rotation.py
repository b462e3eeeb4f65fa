"""The continuous 6-D rotation parameterisation (Zhou et al., CVPR 2019): two 3-vectors -> Gram-Schmidt -> R.

Every rotation has a 6-D preimage and the map is smooth, unlike Euler angles or quaternions, which is why pose
encoders regress it. The 6-D vector is the first two *columns* of R.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) rotation matrices (columns b1, b2, b3)."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1, eps=1e-6)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-6)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(r: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    return torch.cat([r[..., :, 0], r[..., :, 1]], dim=-1)


def geodesic_deg(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle in degrees of the rotation taking r1 to r2."""
    rel = r1.transpose(-1, -2) @ r2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos))
