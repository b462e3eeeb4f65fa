"""loss.code_swap_adversarial: the patch discriminator also judges the code-swap renderings, so the renderer cannot
signal another sample's code to the frozen read-back with colours no real face has. Stage 1 trains with it, the
discriminator's fakes include the swaps, and it is refused without the two terms it builds on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from dexbench.errors import DexbenchError
from dexbench.model.motion.discriminator import discriminator_loss
from dexbench.model.training import stage1
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}


def _run(workspace, monkeypatch, out: Path, **loss: float) -> tuple[dict[str, float], list[int]]:
    """One step; its logs and the batch sizes the discriminator's loss saw as real and as fake."""
    cfg = tiny_config(str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, **loss})
    seen: list[int] = []

    def spy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        seen.extend([real.shape[0], fake.shape[0]])
        return discriminator_loss(real, fake)

    monkeypatch.setattr(stage1, "discriminator_loss", spy)
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, out, max_steps=1, cpu=True, on_step=lambda s, row: logs.update({s: row}))
    return logs[1], seen


def test_the_discriminator_judges_the_swaps_and_the_generator_is_scored_on_them(
    workspace, monkeypatch, tmp_path: Path
) -> None:
    plain, plain_seen = _run(workspace, monkeypatch, tmp_path / "plain")
    swap, swap_seen = _run(workspace, monkeypatch, tmp_path / "swap", code_swap_adversarial=1.0)
    assert "adv_swap" not in plain
    assert np.isfinite(swap["adv_swap"]) and swap["adv_swap"] > 0
    for k in ("l1", "code_swap", "adv_g"):  # same seed, same forward: the option only adds a term
        assert swap[k] == plain[k], k
    assert swap["total_g"] == pytest.approx(plain["total_g"] + swap["adv_swap"], rel=1e-6)
    batch = plain_seen[0]
    assert plain_seen == [batch, batch]
    assert swap_seen == [batch, 2 * batch]  # the discriminator's fakes: the reconstructions, then the swaps


@pytest.mark.parametrize("loss", [{"code_swap": 0.0}, {"adversarial": 0.0}])
def test_refused_without_the_terms_it_builds_on(workspace, loss: dict[str, float]) -> None:
    cfg = tiny_config(
        str(workspace.shards), motion=GLIMPSES, loss={"code_swap": 1.0, "code_swap_adversarial": 1.0, **loss}
    )
    with pytest.raises(DexbenchError, match="code_swap_adversarial"):
        Stage1(cfg, Accelerator(cpu=True))
