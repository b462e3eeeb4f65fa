"""The weight average (ema_half_life): its update rule, checkpointing, bit-identical resume, inference loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dexbench.errors import InputFileError
from dexbench.model.training.checkpoint import latest
from dexbench.model.training.ema import WeightAverage
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.training.stage2 import load_motion
from tests.model_helpers import tiny_config


def test_half_life_halves_the_gap() -> None:
    model = torch.nn.Linear(3, 2)
    torch.nn.init.zeros_(model.weight)
    avg = WeightAverage(model, half_life=4)
    with torch.no_grad():
        model.weight.fill_(1.0)  # a step to 1 the average follows with a half-life of 4 updates
    for step in range(1, 9):
        avg.update(model, step)
    torch.testing.assert_close(avg.model.weight, torch.full((2, 3), 0.75))  # 8 updates = 2 half-lives
    assert not avg.model.weight.requires_grad


def test_rampup_shortens_the_early_half_life() -> None:
    avg = WeightAverage(torch.nn.Linear(1, 1), half_life=100, rampup=0.05)
    assert avg.decay(20) == pytest.approx(0.5)  # 0.05 x 20 = a half-life of one step
    assert avg.decay(4000) == pytest.approx(0.5 ** (1 / 100))  # capped at half_life
    with pytest.raises(ValueError, match="half_life"):
        WeightAverage(torch.nn.Linear(1, 1), half_life=0)


@pytest.fixture(scope="module")
def ema_cfg(workspace):
    return tiny_config(str(workspace.shards), stage1={"ema_half_life": 2.0})


def test_average_is_checkpointed_and_resumes_bit_for_bit(ema_cfg, tmp_path: Path) -> None:
    train(Stage1, ema_cfg, tmp_path / "a", max_steps=3, cpu=True)
    train(Stage1, ema_cfg, tmp_path / "b", max_steps=2, cpu=True)
    train(Stage1, ema_cfg, tmp_path / "b", max_steps=3, resume=True, cpu=True)
    ckpt_a, ckpt_b = (tmp_path / d / "checkpoints" / "step-000003" for d in ("a", "b"))
    ema_a, ema_b = (load_file(c / "motion_ema.safetensors") for c in (ckpt_a, ckpt_b))
    trained_a = load_file(ckpt_a / "motion.safetensors")
    assert ema_a.keys() == trained_a.keys()
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)  # the resumed average is the straight one
    assert any(not torch.equal(ema_a[k], trained_a[k]) for k in ema_a)  # and it is not the last step's weights

    averaged, trained = load_motion(tmp_path / "a", ema_cfg), load_motion(tmp_path / "a", ema_cfg, "trained")
    assert averaged.weights == "ema" and trained.weights == "trained"
    name = next(iter(ema_a))
    assert torch.equal(averaged.state_dict()[name], ema_a[name])
    assert torch.equal(trained.state_dict()[name], trained_a[name])


def test_a_run_without_average_loads_its_trained_weights(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(str(workspace.shards))
    train(Stage1, cfg, tmp_path / "s1", max_steps=1, cpu=True)
    assert not (latest(tmp_path / "s1" / "checkpoints") / "motion_ema.safetensors").exists()
    assert load_motion(tmp_path / "s1", cfg).weights == "trained"
    with pytest.raises(InputFileError, match="no weight average"):
        load_motion(tmp_path / "s1", cfg, "ema")
