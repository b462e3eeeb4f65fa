"""The learning-rate fall at the end of a run: its shape, the rates the optimisers really get, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dexbench.model.training.loop import train
from dexbench.model.training.lr_schedule import lr_factor
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config


def test_the_rate_is_held_then_falls_linearly_over_the_last_steps() -> None:
    assert [lr_factor(s, 10, 0.0) for s in range(1, 11)] == [1.0] * 10
    factors = [lr_factor(s, 10, 0.3) for s in range(1, 11)]
    assert factors[:7] == [1.0] * 7
    assert factors[7:] == pytest.approx([3 / 4, 2 / 4, 1 / 4])  # even steps down, the last one still above 0
    assert [lr_factor(s, 4, 1.0) for s in range(1, 5)] == pytest.approx([4 / 5, 3 / 5, 2 / 5, 1 / 5])
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lr_decay"):
            lr_factor(1, 10, bad)


class _Stop(Exception):
    pass


def test_decayed_rates_reach_every_optimiser_and_survive_a_resume(workspace, tmp_path: Path) -> None:
    # a discriminator too (adversarial from step 1), and a checkpoint at step 2 that already holds decayed rates
    cfg = tiny_config(
        str(workspace.shards), loss={"adversarial": 0.1, "adversarial_start": 0}, stage1={"lr_decay": 0.75}
    )
    straight: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "a", max_steps=4, cpu=True, on_step=straight.__setitem__)
    assert [straight[s]["lr_factor"] for s in range(1, 5)] == pytest.approx([1.0, 3 / 4, 2 / 4, 1 / 4])
    state = json.loads((tmp_path / "a" / "checkpoints" / "step-000004" / "state.json").read_text())
    for name, base in (("motion", cfg.stage1.lr), ("discriminator", cfg.stage1.lr_discriminator)):
        assert [g["lr"] for g in state["optimizers"][name]["param_groups"]] == pytest.approx([base / 4])

    def stop_after_step_2(step: int, _logs: dict[str, float]) -> None:
        if step == 3:  # step 2's checkpoint is on disk; step 3 never reaches one
            raise _Stop

    with pytest.raises(_Stop):
        train(Stage1, cfg, tmp_path / "b", max_steps=4, cpu=True, on_step=stop_after_step_2)
    resumed: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path / "b", max_steps=4, resume=True, cpu=True, on_step=resumed.__setitem__)
    assert list(resumed) == [3, 4]
    assert resumed[3] == straight[3] and resumed[4] == straight[4]


def test_a_constant_rate_logs_no_factor(workspace, tmp_path: Path) -> None:
    logs: dict[int, dict[str, float]] = {}
    train(Stage1, tiny_config(str(workspace.shards)), tmp_path, max_steps=1, cpu=True, on_step=logs.__setitem__)
    assert "lr_factor" not in logs[1]


def test_resuming_toward_another_length_says_the_rates_move(workspace, tmp_path: Path, capsys) -> None:
    cfg = tiny_config(str(workspace.shards), stage1={"lr_decay": 0.5})
    train(Stage1, cfg, tmp_path, max_steps=2, cpu=True)  # checkpoint at step 2 holds the rate of its last step
    rates: dict[int, dict[str, float]] = {}
    train(Stage1, cfg, tmp_path, max_steps=4, resume=True, cpu=True, on_step=rates.__setitem__)
    err = " ".join(capsys.readouterr().err.split())  # Rich wraps the note
    assert "schedule of 2 steps" in err and "4 steps" in err
    assert [rates[s]["lr_factor"] for s in (3, 4)] == pytest.approx([2 / 3, 1 / 3])  # the new schedule's
    constant = tiny_config(str(workspace.shards))  # lr_decay 0: the configured rate is restored, not the decayed one
    train(Stage1, constant, tmp_path, max_steps=5, resume=True, cpu=True)
    state = json.loads((tmp_path / "checkpoints" / "step-000005" / "state.json").read_text())
    assert [g["lr"] for g in state["optimizers"]["motion"]["param_groups"]] == pytest.approx([cfg.stage1.lr])
    assert state["schedule"] == {"steps": 5, "lr_decay": 0.0}
