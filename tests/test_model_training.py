"""Both stages train on the tiny workspace; save -> resume gives the identical next step; determinism; adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dexbench.errors import DexbenchError
from dexbench.model.training.checkpoint import latest
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.training.stage2 import stage2_factory
from tests.model_helpers import tiny_config


@pytest.fixture(scope="module")
def trained(workspace, tmp_path_factory) -> tuple[Path, object]:
    """Stage 1 (3 steps) then stage 2 (3 steps) into one run root."""
    root = tmp_path_factory.mktemp("run")
    cfg = tiny_config(str(workspace.shards))
    train(Stage1, cfg, root / "stage1", cpu=True)
    train(stage2_factory(root / "stage1"), cfg, root / "stage2", cpu=True)
    return root, cfg


def test_run_folder_contents(trained) -> None:
    root, _ = trained
    for stage in ("stage1", "stage2"):
        d = root / stage
        for name in ("config.yaml", "losses.csv", "losses.png", "run.json"):
            assert (d / name).is_file(), f"{stage}/{name}"
        assert (d / "samples" / "step-000003.png").is_file()
        assert latest(d / "checkpoints").name == "step-000003"
        rows = (d / "losses.csv").read_text().splitlines()
        assert len(rows) == 4  # header + 3 steps
    header = (root / "stage1" / "losses.csv").read_text().splitlines()[0].split(",")
    assert {"l1", "face_l1", "expression_l1", "expression_prior", "pose_prior", "adv_g"} <= set(header)
    assert {p.name for p in latest(root / "stage1" / "checkpoints").iterdir()} >= {
        "motion.safetensors",
        "discriminator.safetensors",
        "optimizer-motion.safetensors",
        "rng.safetensors",
    }


def test_existing_run_needs_resume(trained) -> None:
    root, cfg = trained
    with pytest.raises(DexbenchError, match="--resume"):
        train(Stage1, cfg, root / "stage1", cpu=True)
    summary = train(Stage1, cfg, root / "stage1", resume=True, cpu=True)  # already at 3 of 3: nothing to do
    assert "already trained" in summary["note"]


def test_expression_prior_needs_matching_targets(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(str(workspace.shards), motion={"expression_targets": 3})  # SynthHeads annotates 5
    with pytest.raises(DexbenchError, match="expression_targets"):
        train(Stage1, cfg, tmp_path / "s1", max_steps=1, cpu=True)


def test_code_swap_and_contrast_pairs_train(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(
        str(workspace.shards),
        data={"source_contrast": 3},
        motion={"expression_input": "glimpses", "glimpse_size": 8},
        loss={"code_swap": 1.0},
    )
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True)
    rows = (tmp_path / "s1" / "losses.csv").read_text().splitlines()
    swap = [float(r.split(",")[rows[0].split(",").index("code_swap")]) for r in rows[1:]]
    assert len(swap) == 2 and all(np.isfinite(swap)) and all(v > 0 for v in swap)
    bad = tiny_config(str(workspace.shards), loss={"code_swap": 1.0})  # whole-frame encoder: no glimpses to read
    with pytest.raises(DexbenchError, match="code_swap"):
        train(Stage1, bad, tmp_path / "s2", max_steps=1, cpu=True)


def test_the_loss_plot_is_drawn_at_the_first_checkpoint_and_the_last_step(
    workspace, tmp_path: Path, monkeypatch
) -> None:
    import dexbench.model.training.loop as loop

    drawn: list[int] = []
    real = loop.plot_losses
    monkeypatch.setattr(
        loop, "plot_losses", lambda csv, png: (drawn.append(len(csv.read_text().splitlines())), real(csv, png))
    )
    cfg = tiny_config(str(workspace.shards))
    cfg.stage1.checkpoint_every = cfg.stage1.log_every = 1
    train(Stage1, cfg, tmp_path / "s1", max_steps=4, cpu=True)
    assert drawn == [2, 5]  # header + step 1, then all 4 steps: steps 2 and 3 fall within PLOT_SECONDS
    assert (tmp_path / "s1" / "losses.png").stat().st_size > 0


def test_expression_l2_is_the_squared_error_inside_the_eyes_and_mouth(workspace, tmp_path: Path) -> None:
    logs: dict[str, dict[int, dict[str, float]]] = {"l1": {}, "l2": {}}
    for name, loss in (("l1", {}), ("l2", {"expression_l1": 0.0, "expression_l2": 4.0})):
        cfg = tiny_config(str(workspace.shards), loss=loss)
        train(
            Stage1, cfg, tmp_path / name, max_steps=1, cpu=True, on_step=lambda s, row, n=name: logs[n].update({s: row})
        )
    l1, l2 = logs["l1"][1], logs["l2"][1]
    assert "expression_l2" not in l1 and "expression_l1" not in l2
    # the same first forward (same seed): the squared error of the same pixels sits between 0 and the L1's square
    # bound, and the total swaps 5 x L1 for 4 x L2
    assert 0 < l2["expression_l2"] < l1["expression_l1"]
    assert l2["expression_l2"] >= l1["expression_l1"] ** 2 - 1e-6  # Jensen: mean of squares >= square of mean
    assert l2["total_g"] == pytest.approx(
        l1["total_g"] - 5.0 * l1["expression_l1"] + 4.0 * l2["expression_l2"], rel=1e-5
    )


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_resume_gives_the_identical_next_step(workspace, trained, tmp_path: Path, stage: str) -> None:
    root, cfg = trained
    factory = Stage1 if stage == "stage1" else stage2_factory(root / "stage1")
    straight, resumed = {}, {}
    train(factory, cfg, tmp_path / "a", max_steps=3, cpu=True, on_step=lambda s, logs: straight.update({s: logs}))
    train(factory, cfg, tmp_path / "b", max_steps=2, cpu=True)
    train(
        factory,
        cfg,
        tmp_path / "b",
        max_steps=3,
        resume=True,
        cpu=True,
        on_step=lambda s, logs: resumed.update({s: logs}),
    )
    assert list(resumed) == [3]
    assert resumed[3] == straight[3]
    name = "motion" if stage == "stage1" else "diffusion"
    wa = load_file(tmp_path / "a" / "checkpoints" / "step-000003" / f"{name}.safetensors")
    wb = load_file(tmp_path / "b" / "checkpoints" / "step-000003" / f"{name}.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    w2 = load_file(tmp_path / "b" / "checkpoints" / "step-000002" / f"{name}.safetensors")
    assert any(not torch.equal(wa[k], w2[k]) for k in wa)  # the third step really changed the weights


def test_pipeline_determinism_and_editing_modes(trained) -> None:
    from diffusers import DDIMScheduler

    from dexbench.model.diffusion.pipeline import DexPortraitPipeline
    from dexbench.model.guidance import GuidanceSchedule
    from dexbench.model.training.checkpoint import load_models
    from dexbench.model.training.stage2 import build_diffusion, load_motion, scheduler_config

    root, cfg = trained
    model = build_diffusion(cfg)
    load_models(latest(root / "stage2" / "checkpoints"), {"diffusion": model})
    pipe = DexPortraitPipeline(model.eval(), load_motion(root / "stage1", cfg), DDIMScheduler(**scheduler_config(cfg)))
    pipe.set_progress_bar_config(disable=True)
    s = cfg.motion.image_size
    g = torch.Generator().manual_seed(0)
    src, drv = torch.rand(3, s, s, generator=g) * 2 - 1, torch.rand(3, 3, s, s, generator=g) * 2 - 1
    sched = GuidanceSchedule(3, 1, 1, 2.0)

    def run(seed: int, **kw) -> torch.Tensor:
        return pipe(src, guidance=sched, generator=torch.Generator().manual_seed(seed), **kw)

    a, b, c = run(1, pose=drv, expression=drv), run(1, pose=drv, expression=drv), run(2, pose=drv, expression=drv)
    assert a.shape == (3, 3, s, s) and torch.equal(a, b) and not torch.equal(a, c)
    assert run(1, pose=drv).shape == (3, 3, s, s)  # pose-only: expression kept from the source
    assert run(1, expression=drv).shape == (3, 3, s, s)  # expression-only: pose kept
    assert run(1, num_frames=2).shape == (2, 3, s, s)


@pytest.mark.parametrize("method", ["dexportrait", "dexportrait-motion"])
def test_animator_adapter(workspace, trained, tmp_path: Path, method: str) -> None:
    import yaml

    from dexbench.methods.registry import load_method
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import get_task

    root, cfg = trained
    cfg_path = tmp_path / "test.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    animator = load_method(method, config=str(cfg_path), runs=str(root), steps=2, threads=0)  # 0: leave torch as is
    loader = PairLoader(workspace.shards, workspace.raw)
    task = get_task("cross-reenactment")
    pair = load_task_manifest(workspace.protocol, "synthheads", task.name).pairs[0]
    req = loader.request(task, pair)
    out = animator.animate(req)
    assert out.shape == (req.n_frames, *req.size, 3) and out.dtype == np.uint8
    assert np.array_equal(out, animator.animate(req))  # same request, same seed -> same frames
    for keep in ("pose_driver", "expression_driver"):  # editing: one driver kept from the source
        from dataclasses import replace

        edited = animator.animate(replace(req, **{keep: None}))
        assert edited.shape == out.shape
    from dexbench.nets.registry import file_sha256

    ckpts = animator.card()["checkpoints"]
    assert ckpts["stage1"].endswith("step-000003") and ckpts["stage1_weights"] == "trained"
    assert ckpts["stage1_sha256"] == file_sha256(latest(root / "stage1" / "checkpoints") / "motion.safetensors")
