"""Rotation parameterisation, relative-pose warp, ray map (hand-computed) and the guidance schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dexbench import geometry
from dexbench.model.guidance import GuidanceSchedule
from dexbench.model.pose import Pose
from dexbench.model.raymap import pixel_grid, ray_map
from dexbench.model.rotation import geodesic_deg, matrix_to_rotation_6d, rotation_6d_to_matrix
from dexbench.model.warp import (
    ellipsoid_surface,
    move_image,
    volume_grid,
    warp_image,
    warp_image_ellipsoid,
    warp_volume,
)


def _pose(yaw=0.0, pitch=0.0, roll=0.0, t=(0.0, 0.0), s=1.0) -> Pose:
    r = torch.tensor(geometry.euler_to_matrix(yaw, pitch, roll), dtype=torch.float32)[None]
    return Pose(r, torch.tensor([t], dtype=torch.float32), torch.tensor([s], dtype=torch.float32))


def test_6d_roundtrip_and_orthonormal() -> None:
    r = torch.tensor(geometry.euler_to_matrix([10.0, -40.0], [5.0, 20.0], [-30.0, 3.0]), dtype=torch.float32)
    back = rotation_6d_to_matrix(matrix_to_rotation_6d(r))
    assert torch.allclose(back, r, atol=1e-5)
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(0))
    m = rotation_6d_to_matrix(x)
    assert torch.allclose(m @ m.transpose(1, 2), torch.eye(3).expand(16, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(m), torch.ones(16), atol=1e-5)
    assert geodesic_deg(r[:1], r[1:]).item() > 10.0


def test_pose_inverse_apply() -> None:
    p = _pose(20.0, -10.0, 5.0, (0.1, -0.2), 0.7)
    pts = torch.randn(1, 5, 3)
    assert torch.allclose(p.inverse_apply(p.apply(pts)), pts, atol=1e-5)


def test_ray_map_hand_computed() -> None:
    # 2x2 image: pixel centres at u, v in {-0.5, +0.5}
    g = pixel_grid(2, 2)
    assert torch.allclose(g[0, 0], torch.tensor([-0.5, -0.5])) and torch.allclose(g[1, 0], torch.tensor([-0.5, 0.5]))
    # identity pose -> zero map
    assert torch.count_nonzero(ray_map(_pose(), 2, 2)) == 0
    # roll 90 deg (x -> y on screen), scale 2, t = (0.1, -0.3): pixel (u, v) = (0.5, -0.5) (row 0, column 1)
    # R (0.5, -0.5, 0) = (0.5, 0.5, 0) with Rz(90) = [[0,-1,0],[1,0,0],[0,0,1]] -> s R g + t = (1.1, 0.7, 0)
    # minus g = (0.6, 1.2, 0)
    ray = ray_map(_pose(roll=90.0, t=(0.1, -0.3), s=2.0), 2, 2)
    assert torch.allclose(ray[0, :, 0, 1], torch.tensor([0.6, 1.2, 0.0]), atol=1e-5)
    # yaw 90 deg: x goes to -z; pixel (u, v) = (-0.5, 0.5) (row 1, column 0): R g = (0, 0.5, 0.5) -> ray (0.5, 0, 0.5)
    ray = ray_map(_pose(yaw=90.0), 2, 2)
    assert torch.allclose(ray[0, :, 1, 0], torch.tensor([0.5, 0.0, 0.5]), atol=1e-5)


def test_warp_identity_and_translation() -> None:
    vol = torch.randn(1, 2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    p = _pose(s=0.8)
    assert torch.allclose(warp_volume(vol, p, p), vol, atol=1e-5)
    # driving = source shifted right by one voxel (2/8): the output at column c reads the source at column c - 1
    moved = warp_volume(vol, p, _pose(t=(0.25, 0.0), s=0.8))
    assert torch.allclose(moved[..., 2:], vol[..., 1:-1], atol=1e-5)


def test_warp_roll_moves_a_point_where_the_projection_says() -> None:
    vol = torch.zeros(1, 1, 1, 16, 16)
    vol[0, 0, 0, 4, 12] = 1.0  # a feature right of and above the centre (u, v) = (0.5625, -0.4375)
    out = warp_volume(vol, _pose(), _pose(roll=90.0))
    # roll +90 (clockwise on screen, y down): (u, v) -> (-v, u) = (0.4375, 0.5625) -> column 11, row 12
    r, c = divmod(int(out[0, 0, 0].argmax()), 16)
    assert (r, c) == (12, 11)


def test_image_warp_identity_shift_and_yaw() -> None:
    img = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    p = _pose(s=0.8)
    assert torch.allclose(warp_image(img, p, p), img, atol=1e-5)
    moved = warp_image(img, p, _pose(t=(0.25, 0.0), s=0.8))  # one pixel (2/8) to the right
    assert torch.allclose(moved[..., 2:], img[..., 1:-1], atol=1e-5)
    # the face plane turned by yaw 60 degrees is foreshortened by cos 60 = 1/2 along x, about the centre: the output
    # column at u = 0.125 (c 4) reads the source at u = 0.25, i.e. between columns 4 and 5 (u = 0.125, 0.375)
    line = torch.arange(8.0).expand(1, 1, 8, 8)
    turned = warp_image(line, _pose(), _pose(yaw=60.0))
    assert torch.allclose(turned[0, 0, :, 4], torch.full((8,), 4.5), atol=1e-4)


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    w = img[0, 0].clamp(min=0)
    rows, cols = torch.meshgrid(torch.arange(w.shape[0]), torch.arange(w.shape[1]), indexing="ij")
    return float((w * rows).sum() / w.sum()), float((w * cols).sum() / w.sum())


def test_ellipsoid_image_warp_nods_and_turns_with_the_head() -> None:
    radii = (1.0, 1.2, 1.0)
    img = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    p = _pose(10.0, -5.0, 3.0, (0.1, 0.0), 0.5)
    assert torch.allclose(warp_image_ellipsoid(img, p, p, radii), img, atol=1e-5)
    # a dot at the frontal face's centre, the surface point (0, 0, -1): nodding by pitch (nose toward the image
    # bottom) carries it down by s * sin(pitch) * 1 head unit; a turn by yaw carries it left by s * sin(yaw). The
    # mid-plane warp leaves it where it was (it only foreshortens about the centre)
    dot = torch.zeros(1, 1, 64, 64)
    dot[0, 0, 31:33, 31:33] = 1.0
    px = 0.5 * 32  # s = 0.5 in normalised units of half the 64-px image
    r0, c0 = _centroid(dot)
    r, c = _centroid(warp_image_ellipsoid(dot, _pose(s=0.5), _pose(pitch=12.0, s=0.5), radii))
    assert r - r0 == pytest.approx(px * math.sin(math.radians(12.0)), abs=0.2) and c == pytest.approx(c0, abs=1e-3)
    r, c = _centroid(warp_image_ellipsoid(dot, _pose(s=0.5), _pose(yaw=15.0, s=0.5), radii))
    assert c0 - c == pytest.approx(px * math.sin(math.radians(15.0)), abs=0.2) and r == pytest.approx(r0, abs=1e-3)
    r, c = _centroid(warp_image(dot, _pose(s=0.5), _pose(pitch=12.0, s=0.5)))
    assert (r, c) == pytest.approx((r0, c0), abs=1e-3)
    # rays that miss the ellipsoid fall back to the mid-plane: for a frontal driving head, the plane warp there
    src, drv = _pose(20.0, 10.0, 0.0, (0.05, 0.0), 0.4), _pose(0.0, 0.0, 15.0, (-0.1, 0.05), 0.4)
    ell, plane = warp_image_ellipsoid(img, src, drv, radii), warp_image(img, src, drv)
    q = volume_grid(1, 16, 16, img.device, img.dtype)[0, ..., :2] - torch.tensor([-0.1, 0.05])
    rotated = q @ drv.rotation[0, :2, :2]  # head-frame (x, y) of each pixel (R^T q, as row vectors)
    outside = ((rotated / 0.4 / torch.tensor([1.0, 1.2])) ** 2).sum(-1) > 1.05
    assert outside.sum() > 20 and torch.allclose(ell[..., outside], plane[..., outside], atol=1e-4)
    # finite gradients everywhere, the silhouette included
    rot = drv.rotation.clone().requires_grad_(True)
    warp_image_ellipsoid(img, src, Pose(rot, drv.translation, drv.scale), radii).sum().backward()
    assert rot.grad is not None and bool(rot.grad.isfinite().all())


def test_ellipsoid_surface_against_a_brute_force_search_along_each_ray() -> None:
    radii = (1.0, 1.2, 1.0)
    pose = _pose(25.0, -15.0, 10.0, (0.05, -0.1), 0.45)
    pose = Pose(pose.rotation.double(), pose.translation.double(), pose.scale.double())
    q = volume_grid(1, 24, 24, torch.device("cpu"), torch.float64)[0, ..., :2].reshape(1, -1, 2)
    got = ellipsoid_surface(q, pose, radii)[0]
    # the same rays, sampled densely: X(m) = P^-1((q, m)); the nearest m inside the ellipsoid, or for rays that
    # miss, the m where the ellipsoid's metric |X / r| is smallest
    m = torch.linspace(-3.0, 3.0, 30001, dtype=torch.float64)
    qm = torch.cat([q[0, :, None].expand(-1, len(m), -1), m[None, :, None].expand(q.shape[1], -1, -1)], -1)
    pts = pose.inverse_apply(qm.reshape(1, -1, 3)).reshape(q.shape[1], len(m), 3)
    norm = ((pts / torch.tensor(radii, dtype=torch.float64)) ** 2).sum(-1)
    inside = norm <= 1.0
    hit = inside.any(1)
    first = torch.where(hit, inside.to(torch.int64).argmax(1), norm.argmin(1))
    want = pts[torch.arange(q.shape[1]), first]
    assert 50 < int(hit.sum()) < q.shape[1] - 50
    assert torch.allclose(got, want, atol=3e-3)

    # continuous across the silhouette: the largest step between neighbouring pixels (at the rim, where depth
    # changes as the square root of the distance) shrinks as the pixels do; a jump would not
    def largest_step(n: int) -> float:
        qq = volume_grid(1, n, n, torch.device("cpu"), torch.float64)[0, ..., :2].reshape(1, -1, 2)
        g = ellipsoid_surface(qq, pose, radii)[0].reshape(n, n, 3)
        return float(max((g[1:] - g[:-1]).norm(dim=-1).max(), (g[:, 1:] - g[:, :-1]).norm(dim=-1).max()))

    assert largest_step(384) < 0.35 * largest_step(24)


def test_warps_keep_float32_coordinates_under_bf16_autocast() -> None:
    # GPU training runs under bf16 autocast; CPU autocast rounds the same products, so the guard is testable here.
    # Without it the pose products round to 8 mantissa bits and the ellipsoid warp of a unit-variance image moved
    # by up to ~1.2 at 64 px
    g = torch.Generator().manual_seed(0)
    src, drv = _pose(20.0, -10.0, 5.0, (0.05, 0.0), 0.5), _pose(-15.0, 12.0, -8.0, (-0.05, 0.1), 0.55)
    img = torch.randn(1, 3, 64, 64, generator=g)
    vol = torch.randn(1, 4, 8, 16, 16, generator=g).bfloat16()
    flow = 0.05 * torch.randn(1, 2, 16, 16, generator=g)
    want = (
        warp_image_ellipsoid(img, src, drv, (1.0, 1.2, 1.0)),
        warp_image(img, src, drv),
        move_image(img, flow),
        warp_volume(vol.float(), src, drv),
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = (
            warp_image_ellipsoid(img, src, drv, (1.0, 1.2, 1.0)),
            warp_image(img, src, drv),
            move_image(img, flow),
            warp_volume(vol, src, drv),
        )
    for a, b in zip(got[:3], want[:3], strict=True):
        assert a.dtype == torch.float32 and torch.equal(a, b)
    assert got[3].dtype == torch.bfloat16  # the input's dtype back; only the output's own rounding differs
    assert (got[3].float() - want[3]).abs().max() < 0.02


def test_guidance_schedule_paper_setting() -> None:
    g = GuidanceSchedule(35, 5, 5, 2.5)
    w = g.weights()
    assert w[:5] == [0.0] * 5  # 30 < t <= 35: no expression
    assert w[5:10] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])  # 25 < t <= 30: linear blend
    assert w[10:] == [1.0] * 25  # t <= 25: everything
    assert g.branches(0) == (True, False) and g.branches(7) == (True, True) and g.branches(20) == (False, True)
    u, n, f = torch.zeros(1), torch.ones(1), torch.full((1,), 3.0)
    assert g.combine(0, u, n, None).item() == pytest.approx(2.5)
    assert g.combine(7, u, n, f).item() == pytest.approx(2.5 * (1 + 2 * 3 / 6))
    assert g.combine(30, u, None, f).item() == pytest.approx(7.5)
    assert GuidanceSchedule(4, 0, 0, 1.0).weights() == [1.0] * 4
    with pytest.raises(ValueError):
        GuidanceSchedule(0)
    assert math.isclose(sum(np.diff(w[4:11])), 1.0)
