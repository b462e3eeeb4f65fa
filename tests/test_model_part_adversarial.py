"""loss.part_adversarial: a second patch discriminator judging the eye and mouth glimpses (each part its own image)
of the reconstructions and of the code-swap renderings, against the drivers' glimpses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from dexbench.errors import DexbenchError
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}


def test_the_part_discriminator_judges_parts_of_reconstructions_and_swaps(
    workspace, monkeypatch, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    original = Stage1._parts

    def spy(self, images, pose):
        parts = original(self, images, pose)
        seen.append((images.shape[0], parts.shape[0]))
        assert parts.shape[1:] == (3, 8, 8)  # one 3-channel glimpse per part
        return parts

    monkeypatch.setattr(Stage1, "_parts", spy)
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, "part_adversarial": 0.5})
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "s1", max_steps=3, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    b, parts = cfg.stage1.batch_size, len(cfg.motion.glimpse_anchors)
    # per step: the fakes (reconstructions + swaps) glimpsed once, for the generator's term and, detached, for the
    # discriminator's step; then the discriminator's real batch
    assert seen[:2] == [(2 * b, 2 * b * parts), (b, b * parts)]
    assert len(seen) == 6
    for row in logs.values():
        assert np.isfinite(row["part_adv_g"]) and np.isfinite(row["part_adv_d"])
    ck = tmp_path / "s1" / "checkpoints"
    first, last = (load_file(ck / f"step-00000{i}" / "part_discriminator.safetensors") for i in (2, 3))
    assert any(not torch.equal(first[k], last[k]) for k in first)


def test_without_the_code_swap_it_judges_the_reconstructions(workspace, monkeypatch, tmp_path: Path) -> None:
    sizes: list[int] = []
    original = Stage1._parts
    monkeypatch.setattr(Stage1, "_parts", lambda self, im, pose: sizes.append(im.shape[0]) or original(self, im, pose))
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"part_adversarial": 0.5})
    train(Stage1, cfg, tmp_path / "s1", max_steps=1, cpu=True)
    assert sizes == [cfg.stage1.batch_size] * 2


def test_refused_without_glimpses(workspace) -> None:
    cfg = tiny_config(str(workspace.shards), loss={"part_adversarial": 0.5})
    with pytest.raises(DexbenchError, match="part_adversarial"):
        Stage1(cfg, Accelerator(cpu=True))
