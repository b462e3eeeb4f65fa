"""DDP through accelerate, run for real: two CPU processes (gloo) launched by torchrun train both stages.

The processes must read different data, end with the same weights, and a run resumed from a checkpoint must end
where the uninterrupted one does (each process restores its own generator states). This is the code path a
multi-GPU run takes, less NCCL and bf16.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.ddp_worker import weights_sha256

REPO = Path(__file__).resolve().parents[1]


def _torchrun(shards: Path, out: Path, *steps: int, resume: bool = False) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", "-m",
           "tests.ddp_worker", str(shards), str(out), *map(str, steps)] + (["--resume"] if resume else [])  # fmt: skip
    env = {**os.environ, "DEXBENCH_QUIET": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="module")
def ddp_runs(workspace, tmp_path_factory) -> dict[str, Path]:
    """Stage 1 then stage 2 for 3 steps each, straight through; and stage 1 interrupted at step 2 and resumed
    (stage 2 resumes through the same code)."""
    straight, resumed = tmp_path_factory.mktemp("ddp_a"), tmp_path_factory.mktemp("ddp_b")
    _torchrun(workspace.shards, straight, 3, 3)
    _torchrun(workspace.shards, resumed, 2)
    _torchrun(workspace.shards, resumed, 3, resume=True)
    return {"straight": straight, "resumed": resumed}


@pytest.mark.parametrize(("stage", "name"), [("stage1", "motion"), ("stage2", "diffusion")])
def test_two_processes_share_weights_but_not_data(ddp_runs, stage: str, name: str) -> None:
    out = ddp_runs["straight"]
    ranks = {r: json.loads((out / f"{stage}-rank{r}.json").read_text()) for r in (0, 1)}
    assert ranks[0]["processes"] == 2
    assert json.loads((out / stage / "run.json").read_text())["processes"] == 2
    assert ranks[0]["weights"] == ranks[1]["weights"]  # gradients were averaged across the processes
    assert ranks[0]["losses"]["1"] != ranks[1]["losses"]["1"]  # ...computed on different samples
    saved = load_file(out / stage / "checkpoints" / "step-000003" / f"{name}.safetensors")
    module = _module(stage, saved)
    assert weights_sha256(module) == ranks[0]["weights"]


def test_a_resumed_ddp_run_ends_where_the_straight_one_does(ddp_runs) -> None:
    a, b, stage, name = ddp_runs["straight"], ddp_runs["resumed"], "stage1", "motion"
    for r in (0, 1):
        la = json.loads((a / f"{stage}-rank{r}.json").read_text())
        lb = json.loads((b / f"{stage}-rank{r}.json").read_text())
        assert list(lb["losses"]) == ["3"]
        assert lb["losses"]["3"] == la["losses"]["3"], f"rank {r}"
        assert lb["weights"] == la["weights"]
    wa = load_file(a / stage / "checkpoints" / "step-000003" / f"{name}.safetensors")
    wb = load_file(b / stage / "checkpoints" / "step-000003" / f"{name}.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


def _module(stage: str, state: dict):
    """The stage's model with a checkpoint's weights (for hashing it the way the worker hashed its copy)."""
    from dexbench.model.motion.generator import MotionGenerator
    from dexbench.model.training.stage2 import build_diffusion
    from tests.ddp_worker import OVERRIDES
    from tests.model_helpers import tiny_config

    cfg = tiny_config(None, **OVERRIDES)
    m = MotionGenerator(cfg.motion) if stage == "stage1" else build_diffusion(cfg)
    m.load_state_dict(state)
    return m


def test_train_command_launches_its_own_processes(workspace, tmp_path: Path) -> None:
    """`dexbench train stage1 --processes 2` re-runs itself under torchrun; one summary line, from the main one."""
    import yaml

    from tests.model_helpers import tiny_config

    cfg = tmp_path / "test.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(str(workspace.shards)).to_dict()))
    cmd = [sys.executable, "-m", "dexbench.cli", "train", "stage1", "--config", str(cfg), "--out", str(tmp_path),
           "--cpu", "--max-steps", "2", "--processes", "2"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, "DEXBENCH_QUIET": "1"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads((tmp_path / "stage1" / "run.json").read_text())["processes"] == 2
    assert done.stdout.count("stage1 (test):") == 1, done.stdout
