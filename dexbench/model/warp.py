"""Warp a 3-D feature volume from the source pose to the driving pose (the relative transform P_d · P_s^-1).

Backward warping: for every voxel q of the output (driving) volume, the head point there is X = P_d^-1(q), and its
feature is read from the source volume at P_s(X). grid_sample's (x, y, z) order is (width, height, depth), which
matches the view volume's (x right, y down, z forward), all in [-1, 1] (align_corners=False: voxel centres).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F

from dexbench.model.pose import Pose

_Warp = TypeVar("_Warp", bound=Callable[..., torch.Tensor])


def float32_coordinates(fn: _Warp) -> _Warp:
    """Run a warp with autocast off and its tensors in float32, and return its result in the input's dtype.

    Under bf16 autocast (GPU training) the pose products and the sampling grid would be rounded to bf16's 8-bit
    mantissa: ~0.4 % of the image's half width, a quarter pixel at 64 px and more at base's 256-512 px. Where
    everything is float32 already (CPU) this changes nothing, to the bit.
    """

    def f32(a: object) -> object:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.float()
        if isinstance(a, Pose):
            return Pose(a.rotation.float(), a.translation.float(), a.scale.float())
        return a

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor | Pose, *args: object, **kwargs: object) -> torch.Tensor:
        like = x.translation if isinstance(x, Pose) else x  # the dtype and device the caller works in
        with torch.autocast(device_type=like.device.type, enabled=False):
            out = fn(f32(x), *(f32(a) for a in args), **{k: f32(v) for k, v in kwargs.items()})
        return out.to(like.dtype)

    return wrapper  # type: ignore[return-value]


def volume_grid(depth: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(D, H, W, 3) voxel-centre coordinates (x, y, z) in [-1, 1]."""

    def axis(n: int) -> torch.Tensor:
        return (torch.arange(n, device=device, dtype=dtype) + 0.5) * (2.0 / n) - 1.0

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


@float32_coordinates
def warp_volume(volume: torch.Tensor, source: Pose, driving: Pose) -> torch.Tensor:
    """(B, C, D, H, W) source-pose volume -> the same content seen in the driving pose."""
    b, _, d, h, w = volume.shape
    grid = volume_grid(d, h, w, volume.device, volume.dtype).reshape(1, -1, 3).expand(b, -1, -1)
    src_q = source.apply(driving.inverse_apply(grid))
    return F.grid_sample(
        volume, src_q.reshape(b, d, h, w, 3), mode="bilinear", padding_mode="zeros", align_corners=False
    )


@float32_coordinates
def warp_image(image: torch.Tensor, source: Pose, driving: Pose) -> torch.Tensor:
    """(B, C, H, W) source image -> its face plane (the head frame's z = 0 plane) seen in the driving pose.

    The 2-D counterpart of `warp_volume` for a planar face: every output pixel q = (u, v) is the image of the plane
    point X = (x, y, 0) with s_d R_d[:2, :2] (x, y) + t_d = q (an affine map, solved exactly), and reads the source
    at P_s(X). Exact on that plane, approximate off it (the decoder fixes the rest); it carries full-resolution
    texture past the volume's bottleneck. Near-edge-on planes (|det| < 0.05) are clamped rather than inverted.
    """
    b, _, h, w = image.shape
    q = volume_grid(1, h, w, image.device, image.dtype)[0, ..., :2].reshape(1, -1, 2)  # (1, HW, 2)
    a = driving.scale[:, None, None] * driving.rotation[:, :2, :2]  # (B, 2, 2)
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    det = torch.where(det.abs() < 0.05, torch.full_like(det, 0.05) * det.sign().clamp(min=0).mul(2).sub(1), det)
    inv = torch.stack([torch.stack([a[:, 1, 1], -a[:, 0, 1]], 1), torch.stack([-a[:, 1, 0], a[:, 0, 0]], 1)], 1)
    xy = (q - driving.translation[:, None]) @ (inv / det[:, None, None]).transpose(1, 2)
    plane = torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1)
    src_q = source.apply(plane)[..., :2]
    return F.grid_sample(image, src_q.reshape(b, h, w, 2), mode="bilinear", padding_mode="border", align_corners=False)


def ellipsoid_surface(q: torch.Tensor, pose: Pose, radii: tuple[float, float, float]) -> torch.Tensor:
    """The head-frame points (B, N, 3) that view-plane points q (1 or B, N, 2) see on a head-centred ellipsoid.

    Each q's viewing ray (along the camera's z) is X(m) = p0 + m d in the head frame, with p0 = R^T ((q - t) / s, 0)
    and d = R^T e_z; its nearer intersection with the ellipsoid (the smaller m: closer to the camera) is taken.
    Rays that miss take the ray's point of closest approach in the ellipsoid's own metric (the discriminant at
    zero), which puts a frontal head's misses on its mid-plane. The map is continuous at the silhouette but for a
    step of at most 1e-3 head units (the floor under the discriminant that keeps the square root's gradient
    finite; under 0.02 px at 64 px), kept because the tiny model was trained and measured with it.
    """
    r = torch.tensor(radii, device=q.device, dtype=q.dtype)
    uv = (q - pose.translation[:, None]) / pose.scale[:, None, None]
    p0 = uv @ pose.rotation[:, :2, :]
    d = pose.rotation[:, 2, :][:, None, :]
    a = ((d / r) ** 2).sum(-1)  # > 0: d is a unit vector
    half_b = (p0 * d / r**2).sum(-1)
    c = ((p0 / r) ** 2).sum(-1) - 1.0
    disc = half_b**2 - a * c
    m = torch.where(disc > 0, (-half_b - disc.clamp(min=1e-6).sqrt()) / a, -half_b / a)
    return p0 + m[..., None] * d


@float32_coordinates
def warp_image_ellipsoid(
    image: torch.Tensor, source: Pose, driving: Pose, radii: tuple[float, float, float]
) -> torch.Tensor:
    """(B, C, H, W) source image -> its head-centred ellipsoid (half axes `radii`, head units) seen in the driving pose.

    Like `warp_image`, but the face is the camera-facing half of an ellipsoid around the head centre instead of the
    head's mid-plane, so a nod or a turn moves the face's texture across the image as the head's surface moves (a
    plane through the rotation centre only foreshortens): every output pixel reads the source at P_s of the
    surface point it sees in the driving pose (`ellipsoid_surface`; pixels off the ellipsoid fall back smoothly
    toward the mid-plane, where a frontal head's plane warp is).
    """
    b, _, h, w = image.shape
    q = volume_grid(1, h, w, image.device, image.dtype)[0, ..., :2].reshape(1, -1, 2)
    src_q = source.apply(ellipsoid_surface(q, driving, radii))[..., :2]
    return F.grid_sample(image, src_q.reshape(b, h, w, 2), mode="bilinear", padding_mode="border", align_corners=False)


@float32_coordinates
def move_image(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, H, W) at every pixel centre + flow (B, 2, h, w; x, y in normalised units, resized to H x W)."""
    h, w = image.shape[-2:]
    if flow.shape[-2:] != (h, w):
        flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
    grid = volume_grid(1, h, w, image.device, image.dtype)[0, ..., :2] + flow.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
