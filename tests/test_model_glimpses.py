"""Pose-normalised part glimpses (motion.expression_input: glimpses), the image-skip options, and training with them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from dexbench import geometry
from dexbench.model.motion.encoders import GlimpseExpressionEncoder
from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.motion.glimpses import glimpse_points, part_mask, paste_parts, sample_glimpses
from dexbench.model.pose import Pose
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.training.stage2 import stage2_factory
from tests.model_helpers import tiny_config

GLIMPSE = {
    "expression_input": "glimpses",
    "glimpse_size": 8,
    "skip_blend": True,
    "skip_mask_parts": True,
    "part_canvas": 4,
}


def _pose(yaw: float, pitch: float, roll: float, t=(0.05, -0.02), s: float = 0.55) -> Pose:
    r = torch.from_numpy(geometry.euler_to_matrix(yaw, pitch, roll)).float()[None]
    return Pose(r, torch.tensor([t], dtype=torch.float32), torch.tensor([s]))


def _smooth_image(size: int, seed: int = 0) -> torch.Tensor:
    """A smooth random image: bilinear sampling of it is accurate, so resampled glimpses can be compared."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 6, 6, generator=g) * 2 - 1
    return F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


def test_glimpse_centres_are_the_projected_anchors() -> None:
    anchors = torch.tensor([[-0.42, -0.1, -0.93], [0.0, 0.88, -0.85]])
    extents = torch.tensor([0.3, 0.5])
    pose = _pose(12.0, -8.0, 20.0)
    pts = glimpse_points(anchors, extents, 6)
    assert pts.shape == (1, 2, 6, 6, 3)
    uv = pose.apply(pts.reshape(1, -1, 3))[..., :2].reshape(2, 36, 2).mean(1)  # the patch centres in the image
    want = geometry.project(anchors.numpy(), pose.rotation[0].numpy(), pose.translation[0].numpy(), 0.55)
    assert np.allclose(uv.numpy(), want, atol=1e-5)
    # a patch spans 2 x extent head units along the head's x axis
    span = (pts[0, 1, 0, -1] - pts[0, 1, 0, 0])[0] * 6 / 5
    assert math.isclose(float(span), 2 * 0.5, rel_tol=1e-5)


def test_glimpses_follow_the_head_through_an_in_plane_similarity() -> None:
    """Rotating / scaling / shifting the frame and the pose together leaves the glimpses (almost) unchanged."""
    size = 96
    img = _smooth_image(size)
    anchors, extents = torch.tensor([[-0.4, -0.1, -0.9], [0.4, -0.1, -0.9], [0.0, 0.85, -0.85]]), torch.full((3,), 0.4)
    pose = _pose(5.0, 3.0, 0.0, t=(0.0, 0.0), s=0.5)
    theta, k, b = math.radians(25.0), 1.15, torch.tensor([0.08, -0.05])
    rz = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    a = k * rz  # frame map: q = a u + b
    inv = torch.linalg.inv(a)
    grid = F.affine_grid(torch.cat([inv, (-inv @ b)[:, None]], 1)[None], [1, 3, size, size], align_corners=False)
    moved = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    r3 = torch.eye(3)
    r3[:2, :2] = rz
    moved_pose = Pose(r3 @ pose.rotation, (a @ pose.translation[0] + b)[None], pose.scale * k)
    g0 = sample_glimpses(img, pose, anchors, extents, 12)
    g1 = sample_glimpses(moved, moved_pose, anchors, extents, 12)
    assert g0.shape == (1, 9, 12, 12)
    assert (g0 - g1).abs().mean() < 0.05 * g0.abs().mean()
    other = sample_glimpses(img, _pose(5.0, 3.0, 25.0, t=(0.0, 0.0), s=0.5), anchors, extents, 12)
    assert (g0 - other).abs().mean() > 5 * (g0 - g1).abs().mean()  # the check can fail: a wrong pose differs


def test_glimpses_are_standardised_per_part_and_channel() -> None:
    img = _smooth_image(64) * 0.3 + 0.5  # brighter and flatter: the standardisation removes both
    g = sample_glimpses(img, _pose(0, 0, 0), torch.tensor([[0.0, 0.0, -0.9]]), torch.tensor([0.5]), 10)
    assert torch.allclose(g.mean(dim=(2, 3)), torch.zeros(1, 3), atol=1e-5)


def test_pasted_parts_are_read_back_by_the_glimpse_sampler() -> None:
    """paste_parts draws a patch where glimpse sampling at the same pose reads it: the two are inverse maps."""
    anchors, extents = torch.tensor([[-0.4, -0.1, -0.9], [0.0, 0.85, -0.85]]), torch.tensor([0.35, 0.5])
    pose = _pose(15.0, -10.0, 12.0)
    g = torch.Generator().manual_seed(1)
    patches = F.interpolate(torch.rand(2, 3, 4, 4, generator=g), size=(16, 16), mode="bicubic", align_corners=False)
    pasted = paste_parts(patches[None], pose, anchors, extents, 256)
    assert pasted.shape == (1, 3, 256, 256)
    assert pasted[0, :, :8, :8].abs().max() == 0  # nothing drawn outside the patches
    pts = glimpse_points(anchors, extents, 16)
    uv = pose.apply(pts.reshape(1, -1, 3))[..., :2].reshape(1, 2 * 16, 16, 2)
    back = F.grid_sample(pasted, uv, mode="bilinear", align_corners=False).reshape(3, 2, 16, 16).transpose(0, 1)
    inner = (slice(None), slice(None), slice(2, 14), slice(2, 14))  # away from the zero-padded patch borders
    assert (back - patches)[inner].abs().mean() < 0.03
    other = paste_parts(patches[None], _pose(15.0, -10.0, -12.0), anchors, extents, 256)
    moved = F.grid_sample(other, uv, mode="bilinear", align_corners=False).reshape(3, 2, 16, 16).transpose(0, 1)
    assert (moved - patches)[inner].abs().mean() > 0.1


def test_part_mask_covers_the_parts_only() -> None:
    pose = _pose(0.0, 0.0, 0.0, t=(0.0, 0.0), s=0.5)
    m = part_mask(pose, torch.tensor([[0.0, 0.8, -0.8]]), torch.tensor([0.4]), 32)
    assert m.shape == (1, 1, 32, 32)
    centre = geometry.normalised_to_pixels(np.array([0.0, 0.4]), 32).round().astype(int)
    assert m[0, 0, centre[1], centre[0]] == 1 and m[0, 0, 0, 0] == 0
    assert 0 < m.mean() < 0.2


def test_glimpse_geometry_keeps_float32_under_bf16_autocast() -> None:
    # as the warps (tests/test_model_geometry.py): without the guard, bf16 autocast moved the glimpses by up to ~1.2
    anchors, extents = torch.tensor([[-0.4, -0.1, -0.9], [0.0, 0.9, -0.85]]), torch.tensor([0.36, 0.5])
    pose = _pose(15.0, -8.0, 6.0)
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    canvas = torch.randn(1, 2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    jitter = torch.tensor([[0.05, -0.03, 0.02]])
    want = (
        sample_glimpses(image, pose, anchors, extents, 16, jitter),
        paste_parts(canvas, pose, anchors, extents, 32),
        part_mask(pose, anchors, extents, 32),
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = (
            sample_glimpses(image, pose, anchors, extents, 16, jitter),
            paste_parts(canvas, pose, anchors, extents, 32),
            part_mask(pose, anchors, extents, 32),
        )
    for a, b in zip(got, want, strict=True):
        assert a.dtype == torch.float32 and torch.equal(a, b)


def test_glimpse_generator_shapes_and_gradients() -> None:
    cfg = tiny_config(motion=GLIMPSE).motion
    g = MotionGenerator(cfg)
    assert isinstance(g.expression_encoder, GlimpseExpressionEncoder) and g.decoder.blend is not None
    assert g.part_canvas is not None
    assert not any("anchors" in k or "extents" in k for k in g.state_dict())  # config, not weights
    s = cfg.image_size
    img = torch.rand(2, 3, s, s, generator=torch.Generator().manual_seed(0)) * 2 - 1
    hi = F.interpolate(img, scale_factor=2.0, mode="bilinear")  # glimpses may come from a larger frame
    jitter = torch.full((2, 3), 0.05)
    pred, *_, code, readout = g(img, torch.cat([img, img.flip(0)]), hi, jitter)
    assert pred.shape == img.shape and code.shape == (2, cfg.expression_dim) and readout.shape == (2, 5)
    (pred.abs().mean() + readout.square().mean()).backward()
    missing = [n for n, p in g.named_parameters() if p.grad is None]
    assert not missing, missing
    with torch.no_grad():  # pose estimated inside when not given; a different expression frame, a different code
        z = g.encode_expression(hi)
        assert z.shape == (2, cfg.expression_dim) and not torch.allclose(z[0], z[1])
    with pytest.raises(ValueError, match="expression_input"):
        MotionGenerator(tiny_config(motion={"expression_input": "face"}).motion)


@pytest.fixture(scope="module")
def glimpse_run(workspace, tmp_path_factory) -> tuple[Path, object]:
    """Stage 1 with glimpses read at the workspace's 64 px (the generator works at 32), then stage 2 on it."""
    root = tmp_path_factory.mktemp("glimpse-run")
    cfg = tiny_config(str(workspace.shards), motion={**GLIMPSE, "glimpse_source_size": 64})
    train(Stage1, cfg, root / "stage1", cpu=True)
    train(stage2_factory(root / "stage1"), cfg, root / "stage2", cpu=True)
    return root, cfg


def test_glimpse_training_resumes_bit_identically(glimpse_run, tmp_path: Path) -> None:
    _, cfg = glimpse_run
    assert Stage1(cfg, None).data_size == 64
    straight, resumed = {}, {}
    train(Stage1, cfg, tmp_path / "a", max_steps=3, cpu=True, on_step=lambda s, logs: straight.update({s: logs}))
    train(Stage1, cfg, tmp_path / "b", max_steps=2, cpu=True)
    train(Stage1, cfg, tmp_path / "b", max_steps=3, resume=True, cpu=True, on_step=lambda s, x: resumed.update({s: x}))
    assert resumed[3] == straight[3]
    wa = load_file(tmp_path / "a" / "checkpoints" / "step-000003" / "motion.safetensors")
    wb = load_file(tmp_path / "b" / "checkpoints" / "step-000003" / "motion.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("method", ["dexportrait", "dexportrait-motion"])
@pytest.mark.parametrize("task_name", ["cross-reenactment", "expression-only"])
def test_glimpse_model_as_a_method(workspace, glimpse_run, tmp_path: Path, method: str, task_name: str) -> None:
    import yaml

    from dexbench.methods.registry import load_method
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import get_task

    root, cfg = glimpse_run
    cfg_path = tmp_path / "glimpse.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    animator = load_method(method, config=str(cfg_path), runs=str(root), steps=2, threads=0)
    loader = PairLoader(workspace.shards, workspace.raw)
    task = get_task(task_name)
    req = loader.request(task, load_task_manifest(workspace.protocol, "synthheads", task.name).pairs[0])
    out = animator.animate(req)
    assert out.shape == (req.n_frames, *req.size, 3) and out.dtype == np.uint8
    assert np.array_equal(out, animator.animate(req))
