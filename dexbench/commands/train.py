"""`dexbench train stage1|stage2`: train the reference DeX-Portrait model from a config (accelerate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import out
from dexbench.errors import DexbenchError

Config = Annotated[Path, typer.Option("--config", help="Model config YAML (reference_model/tiny.yaml, ...).")]
OutDir = Annotated[
    Path | None, typer.Option("--out", help="Run root; the stage trains into <out>/<stage>/ (default runs/<name>).")
]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the latest checkpoint in the run folder.")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Override the config's step count.")]
Cpu = Annotated[bool, typer.Option("--cpu", help="Train on CPU even when a GPU is present.")]
Processes = Annotated[
    int,
    typer.Option(
        "--processes",
        min=1,
        help="Data-parallel processes on this machine (DDP; gloo on CPU, NCCL on GPUs), launched with torchrun: "
        "each trains on its own batch, so the effective batch is N x batch_size.",
    ),
]


def _launch(processes: int) -> bool:
    """Re-run this very command as `processes` torchrun workers; False when there is nothing to launch (one
    process, or already inside a launched worker)."""
    import sys

    from dexbench.model.training.workers import in_worker, run_workers

    if processes <= 1 or in_worker():
        return False
    argv = sys.argv[1:]
    args = [a for i, a in enumerate(argv) if a != "--processes" and (i == 0 or argv[i - 1] != "--processes")]
    rc = run_workers(processes, ["-m", "dexbench.cli", *(a for a in args if not a.startswith("--processes="))])
    if rc != 0:
        raise DexbenchError(f"training with {processes} processes failed (exit {rc})", "see the workers' output above")
    return True


def _run_root(config: Path, out_dir: Path | None, name: str) -> Path:
    return out_dir if out_dir is not None else config.parent / "runs" / name


def _train(stage: str, config: Path, out_dir: Path | None, resume: bool, max_steps: int | None, cpu: bool,
           processes: int) -> None:  # fmt: skip
    from dexbench.model.config import load_config
    from dexbench.model.training.loop import train
    from dexbench.model.training.stage1 import Stage1
    from dexbench.model.training.stage2 import stage2_factory

    cfg = load_config(config)  # a bad config fails here, once, before any worker starts
    if _launch(processes):
        return
    root = _run_root(config, out_dir, cfg.name)
    factory = Stage1 if stage == "stage1" else stage2_factory(root / "stage1")
    summary = train(factory, cfg, root / stage, resume=resume, max_steps=max_steps, cpu=cpu or None)
    from dexbench.model.training.workers import is_main_worker

    if is_main_worker():  # under DDP (accelerate launch, torchrun) the main process speaks
        out.print(f"{stage} ({cfg.name}): {summary.get('note') or summary['checkpoint']}")


def _command(stage: str, doc: str):
    def command(
        config: Config,
        out_dir: OutDir = None,
        resume: Resume = False,
        max_steps: MaxSteps = None,
        cpu: Cpu = False,
        processes: Processes = 1,
    ) -> None:
        _train(stage, config, out_dir, resume, max_steps, cpu, processes)

    command.__doc__ = doc
    return command


stage1 = _command("stage1", "Stage 1: the disentangled motion trainer (GAN).")
stage2 = _command("stage2", "Stage 2: the diffusion model (needs a trained stage 1 in the same run root).")


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the reference DeX-Portrait model.", no_args_is_help=True)
    train_app.command("stage1")(stage1)
    train_app.command("stage2")(stage2)
    app.add_typer(train_app, name="train")
