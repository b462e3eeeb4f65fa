"""loss.code_swap_fraction: the code swap renders only the first ceil(fraction x B) sources of a batch (a cheaper
step), drawn exactly as the whole-batch swap draws them, and the part discriminator judges those renderings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from dexbench.data.training_pairs import TrainingPairs
from dexbench.errors import DexbenchError
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}


def _swap(workspace, fraction: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, "code_swap_fraction": fraction})
    torch.manual_seed(0)  # the same weights for every fraction
    stage = Stage1(cfg, Accelerator(cpu=True))
    stage.prepare(stage.accelerator)
    batch = next(iter(TrainingPairs(workspace.shards, size=32, batch_size=4, seed=0)))
    out = stage.forward(batch)
    target = batch["driving_expression"][:, 0]
    loss, swapped = stage._code_swap(out, target)
    read = stage._read_back(stage.G, swapped, out["pose_d"].index(slice(0, swapped.shape[0])))
    per_sample = ((read - target.roll(1, dims=0)[: swapped.shape[0]]) ** 2).sum(1)
    assert torch.allclose(loss, per_sample.mean(), atol=1e-6)
    return loss, swapped, per_sample


def test_a_fraction_renders_the_first_sources_as_the_whole_swap_does(workspace) -> None:
    _, whole, whole_loss = _swap(workspace, 1.0)
    _, half, half_loss = _swap(workspace, 0.5)
    _, some, _ = _swap(workspace, 0.3)  # ceil(0.3 x 4) = 2
    assert whole.shape[0] == 4 and half.shape[0] == 2 and some.shape[0] == 2
    assert torch.allclose(half, whole[:2], atol=1e-5)
    assert torch.allclose(half_loss, whole_loss[:2], atol=1e-5)


def test_a_partial_swap_trains_with_both_discriminators(workspace, monkeypatch, tmp_path: Path) -> None:
    seen: list[int] = []
    original = Stage1._parts

    def spy(self, images, pose):
        assert len(pose) == images.shape[0]
        seen.append(images.shape[0])
        return original(self, images, pose)

    monkeypatch.setattr(Stage1, "_parts", spy)
    loss = {"code_swap": 1.0, "code_swap_fraction": 0.5, "part_adversarial": 0.5, "code_swap_adversarial": 0.5,
            "adversarial_start": 0}  # fmt: skip
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss=loss)
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    b = cfg.stage1.batch_size
    assert seen == [b + b // 2, b] * 2  # the fakes (reconstructions + half the batch swapped), then the reals
    assert all(torch.isfinite(torch.tensor(list(row.values()))).all() for row in logs.values())


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_a_fraction_outside_0_1_is_refused(workspace, fraction: float) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, "code_swap_fraction": fraction})
    with pytest.raises(DexbenchError, match="code_swap_fraction"):
        Stage1(cfg, None)
