"""loss.code_swap_readback: landmarks: the code swap read back by a part landmarker (positions in grey glimpses,
then a linear map from positions alone to the expression parameters) trained beside the model on real frames."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from dexbench import geometry
from dexbench.errors import DexbenchError
from dexbench.model.config import MotionConfig
from dexbench.model.motion.glimpses import sample_glimpses
from dexbench.model.motion.part_landmarks import PART_LANDMARKS, PartLandmarker, grey_glimpses, patch_coordinates
from dexbench.model.pose import Pose
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}
LANDMARKS = {"code_swap": 1.0, "code_swap_readback": "landmarks"}


def _turned_pose() -> Pose:
    rot = torch.from_numpy(geometry.euler_to_matrix(20.0, -10.0, 8.0)).float()[None]
    return Pose(rot, torch.tensor([[0.05, -0.08]]), torch.tensor([0.62]))


def test_patch_coordinates_are_where_the_glimpse_shows_the_landmark() -> None:
    """A bright dot drawn at one landmark of each part, in a 256-px frame of a turned head: its glimpse (with
    placement jitter) peaks at the patch coordinates computed for that landmark."""
    m = MotionConfig()
    anchors, extents = torch.tensor(m.glimpse_anchors), torch.tensor(m.glimpse_extents)
    pose, size, gsize = _turned_pose(), 256, 48
    jitter = torch.tensor([[0.08, -0.05, 0.07]])
    # the landmarks: each part's anchor point, offset inside its patch, projected into the frame
    landmarks = torch.zeros(1, 68, 2)
    chosen = [PART_LANDMARKS[0][7], PART_LANDMARKS[1][2], PART_LANDMARKS[2][4]]
    offsets = torch.tensor([[0.3, -0.2], [-0.4, 0.35], [0.25, 0.3]])
    for p, k in enumerate(chosen):
        x = anchors[p].clone()
        x[:2] += offsets[p] * extents[p]
        uv = pose.apply(x[None, None])[0, 0, :2]
        landmarks[0, k] = (uv + 1) * (size / 2) - 0.5
    ys = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(ys, ys, indexing="ij")
    image = -torch.ones(1, 3, size, size)
    for k in chosen:
        dot = torch.exp(-((xx - landmarks[0, k, 0]) ** 2 + (yy - landmarks[0, k, 1]) ** 2) / (2 * 1.5**2))
        image = torch.maximum(image, (2 * dot - 1)[None, None].expand(1, 3, -1, -1))
    coords = patch_coordinates(landmarks, size, pose, anchors, extents, jitter)
    glimpses = sample_glimpses(image, pose, anchors, extents, gsize, jitter)
    centres = (torch.arange(gsize) + 0.5) * (2.0 / gsize) - 1.0
    flat = [k for idx in PART_LANDMARKS for k in idx]
    for p, k in enumerate(chosen):
        g = glimpses[0, 3 * p].clamp(min=0) ** 4  # the dot, without the background's noise
        peak = torch.stack([(g.sum(0) * centres).sum(), (g.sum(1) * centres).sum()]) / g.sum()
        assert torch.allclose(peak, coords[0, flat.index(k)], atol=2.0 / gsize), (p, peak, coords[0, flat.index(k)])
    # the jitter's inverse: without it the same landmark sits where zoom and shift undo
    plain = patch_coordinates(landmarks, size, pose, anchors, extents)
    assert torch.allclose(coords, (plain - jitter[:, None, :2]) / math.exp(0.07), atol=1e-5)


def test_part_landmarker_shapes_range_and_gradients() -> None:
    lm = PartLandmarker(parts=3, targets=5, width=8)
    glimpses = torch.randn(2, 3, 12, 12, requires_grad=True)
    found = lm.locate(glimpses)
    assert found.shape == (2, 42, 2) and lm.points == 42
    assert found.abs().max() < 1.0  # a soft-argmax over pixel centres stays inside the glimpse
    read = lm.read(found)
    assert read.shape == (2, 5)
    read.sum().backward()
    assert glimpses.grad is not None and glimpses.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="3 glimpse parts"):
        PartLandmarker(parts=2, targets=5)


def test_grey_glimpses_carry_no_hue() -> None:
    m = MotionConfig()
    anchors, extents = torch.tensor(m.glimpse_anchors), torch.tensor(m.glimpse_extents)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    g = grey_glimpses(image, _turned_pose(), anchors, extents, 16)
    # the red channel alone shifted: the luma moves, the standardised glimpse is a linear image of it
    red = image.clone()
    red[:, 0] = red[:, 0] * 0.5
    assert g.shape == (1, 3, 16, 16)
    assert not torch.allclose(grey_glimpses(red, _turned_pose(), anchors, extents, 16), g)
    # but an image and its luma give the same glimpses: nothing else passes
    from dexbench.model.motion.augment import luminance

    assert torch.allclose(grey_glimpses(luminance(image), _turned_pose(), anchors, extents, 16), g, atol=1e-6)


def test_the_code_swap_gradient_reaches_the_renderer_only(workspace) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss=LANDMARKS)
    from dexbench.data.training_pairs import TrainingPairs

    stage = Stage1(cfg, Accelerator(cpu=True))
    stage.prepare(stage.accelerator)
    batch = next(iter(TrainingPairs(workspace.shards, size=32, batch_size=2, seed=0)))
    out = stage.forward(batch)
    loss, swapped = stage._code_swap(out, batch["driving_expression"][:, 0])
    stage.G.zero_grad(set_to_none=True)
    loss.backward()
    assert swapped.shape == out["pred"].shape and torch.isfinite(loss)
    assert all(p.grad is None for p in stage.landmarker.parameters())
    assert all(p.requires_grad for p in stage.landmarker.parameters())  # unfrozen again for its own step
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.G.decoder.parameters())


def test_the_landmarker_trains_beside_the_model_and_is_checkpointed(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss=LANDMARKS)
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "s1", max_steps=3, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    for row in logs.values():
        assert 0 < row["landmarker_px"] < cfg.motion.glimpse_size  # a mean error in glimpse pixels
        assert row["landmarker_expression"] > 0 and row["code_swap"] > 0
    first = load_file(tmp_path / "s1" / "checkpoints" / "step-000002" / "landmarker.safetensors")
    last = load_file(tmp_path / "s1" / "checkpoints" / "step-000003" / "landmarker.safetensors")
    assert any(not torch.equal(first[k], last[k]) for k in first)  # it learns on its own optimizer
    assert (tmp_path / "s1" / "checkpoints" / "step-000003" / "optimizer-landmarker.safetensors").exists()
    # resume from step 2 gives the identical third step, landmarker included
    resumed: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "b", max_steps=2, cpu=True)
    train(Stage1, cfg, tmp_path / "b", max_steps=3, resume=True, cpu=True, on_step=lambda s, r: resumed.update({s: r}))
    assert resumed[3] == logs[3]
    again = load_file(tmp_path / "b" / "checkpoints" / "step-000003" / "landmarker.safetensors")
    assert all(torch.equal(last[k], again[k]) for k in last)


def test_default_runs_have_no_landmarker(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0})
    stage = Stage1(cfg, Accelerator(cpu=True))
    assert stage.landmarker is None and "landmarker" not in stage.models()


@pytest.mark.parametrize(
    ("loss", "match"),
    [
        ({"code_swap": 1.0, "code_swap_readback": "eyes"}, "one of"),
        ({"code_swap_readback": "landmarks"}, "code_swap > 0"),
        ({**LANDMARKS, "code_swap_grey": True}, "code_swap_grey"),
    ],
)
def test_refusals(workspace, loss: dict, match: str) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss=loss)
    with pytest.raises(DexbenchError, match=match):
        Stage1(cfg, Accelerator(cpu=True))


def test_the_landmark_term_pulls_the_reconstruction_only(workspace, tmp_path: Path) -> None:
    """loss.landmarks: the reconstruction's landmarks (found by the frozen landmarker) against the driver's exact
    ones. Its gradient reaches the generator, never the landmarker; it needs no code swap."""
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"landmarks": 2.0})
    from dexbench.data.training_pairs import TrainingPairs

    stage = Stage1(cfg, Accelerator(cpu=True))
    assert stage.landmarker is not None and cfg.loss.code_swap == 0
    stage.prepare(stage.accelerator)
    out = stage.forward(next(iter(TrainingPairs(workspace.shards, size=32, batch_size=2, seed=0))))
    loss = stage._landmark_loss(out)
    loss.backward()
    assert 0 < float(loss.detach()) < 2.0  # a mean distance in glimpse units ([-1, 1] spans a glimpse)
    assert all(p.grad is None for p in stage.landmarker.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.G.decoder.parameters())
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    for row in logs.values():
        assert row["landmarks"] > 0 and row["landmarker_px"] > 0 and "code_swap" not in row
        assert row["total_g"] > 2.0 * row["landmarks"]
    bad = tiny_config(str(workspace.shards), loss={"landmarks": 2.0})  # whole-frame expression encoder
    with pytest.raises(DexbenchError, match=r"loss\.landmarks"):
        Stage1(bad, Accelerator(cpu=True))
