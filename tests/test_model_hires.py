"""The skip flow and the 2x output stage of the motion generator (motion.skip_flow, motion.output_size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.warp import move_image
from tests.model_helpers import random_images, tiny_config


def test_move_is_exact_without_flow_and_shifts_by_whole_pixels() -> None:
    img = random_images(2, 16)
    assert torch.allclose(move_image(img, torch.zeros(2, 2, 16, 16)), img, atol=1e-6)
    flow = torch.zeros(2, 2, 8, 8)  # a coarser field is resized to the image
    flow[:, 0] = 2 * 2 / 16  # +2 pixels in x, in normalised units (the image spans 2)
    moved = move_image(img, flow)
    assert torch.allclose(moved[..., :-2], img[..., 2:], atol=1e-5)  # each pixel reads 2 pixels to its right


def test_output_size_doubles_the_image_and_starts_as_its_upsampling() -> None:
    cfg = tiny_config(motion={"skip_flow": 0.25, "output_size": 64}).motion
    torch.manual_seed(0)
    g = MotionGenerator(cfg)
    src, drv = random_images(2, 32), random_images(2, 32, 1)
    src_hi = F.interpolate(src, size=(64, 64), mode="bilinear", align_corners=False)
    pose_s, pose_d, code = g.pose_encoder(src), g.pose_encoder(drv), g.expression_encoder(drv)
    out = g.render(src, pose_s, pose_d, code, src_hi)
    assert out.shape == (2, 3, 64, 64)
    head, g.hires = g.hires, None
    low = g.render(src, pose_s, pose_d, code)
    g.hires = head
    assert low.shape == (2, 3, 32, 32)
    # zero-initialised last conv: the 2x stage starts as the upsampled image, and learns from there
    assert torch.allclose(out, F.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False), atol=1e-6)
    (out - F.interpolate(drv, size=(64, 64))).abs().mean().backward()
    assert g.hires.out.weight.grad.abs().sum() > 0 and g.decoder.flow.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="output_size"):
        MotionGenerator(tiny_config(motion={"output_size": 48}).motion)


def test_stage1_trains_and_animates_at_the_output_size(workspace, tmp_path: Path) -> None:
    import yaml

    from dexbench.methods.registry import load_method
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import get_task

    cfg = tiny_config(
        str(workspace.shards),
        motion={"expression_input": "glimpses", "glimpse_size": 8, "skip_flow": 0.25, "output_size": 64},
        loss={"code_swap": 1.0},
    )
    train(Stage1, cfg, tmp_path / "runs" / "test" / "stage1", max_steps=2, cpu=True)
    rows = (tmp_path / "runs" / "test" / "stage1" / "losses.csv").read_text().splitlines()
    assert len(rows) == 3 and all(np.isfinite(float(v)) for v in rows[-1].split(",")[2:])
    cfg_path = tmp_path / "test.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    animator = load_method("dexportrait-motion", config=str(cfg_path), runs=str(tmp_path / "runs" / "test"), threads=0)
    task = get_task("cross-reenactment")
    pair = load_task_manifest(workspace.protocol, "synthheads", task.name).pairs[0]
    req = PairLoader(workspace.shards, workspace.raw).request(task, pair)
    out = animator.animate(req)
    assert out.shape == (req.n_frames, *req.size, 3) and out.dtype == np.uint8
