"""loss.code_swap_grey: the code swap's read-back sees the rendering's luminance only (so a code cannot be signalled
to it in hue), and the expression encoder trains on grey drivers half of the time so that it can read one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from dexbench.errors import DexbenchError
from dexbench.model.motion.augment import luminance
from dexbench.model.training import stage1
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}


def test_luminance_is_rec601_luma_on_every_channel() -> None:
    img = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [0.2, 0.2, 0.2]]).T.reshape(1, 3, 1, 3)
    y = luminance(img)
    assert y.shape == img.shape
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    expected = torch.tensor([0.299 - 0.587 - 0.114, -0.299 + 0.587 - 0.114, 0.2])
    assert torch.allclose(y[0, 0, 0], expected, atol=1e-6)  # grey stays grey; pure hues keep only their luma


def test_the_read_back_sees_grey_and_the_encoder_reads_grey_drivers(workspace, monkeypatch, tmp_path: Path) -> None:
    seen: list[torch.Tensor] = []
    original = Stage1._read_back

    def spy(G, images, pose):
        seen.append(images.detach().clone())
        return original(G, images, pose)

    monkeypatch.setattr(Stage1, "_read_back", staticmethod(spy))
    greyed: list[int] = []

    def luminance_spy(image: torch.Tensor) -> torch.Tensor:
        greyed.append(image.shape[0])
        return luminance(image)

    monkeypatch.setattr(stage1, "luminance", luminance_spy)
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, "code_swap_grey": True})
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    assert len(seen) == 2
    for images in seen:
        assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    assert all(np.isfinite(row["code_swap"]) for row in logs.values())
    # per step: the encoder's drivers (a random half kept grey), then the read-back; plus the last step's sample
    # grid, which draws its batch as training does (augmentations from its own seeded generator)
    assert len(greyed) == 5
    colour_cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0})
    seen.clear()
    train(Stage1, colour_cfg, tmp_path / "colour", max_steps=1, cpu=True)
    assert not torch.equal(seen[0][:, 0], seen[0][:, 1])  # without the option the read-back sees colour
    assert len(greyed) == 5  # and nothing more is greyed


def test_refused_without_the_code_swap(workspace) -> None:
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap_grey": True})
    with pytest.raises(DexbenchError, match="code_swap_grey"):
        Stage1(cfg, Accelerator(cpu=True))
