"""`dexbench train stage1|stage2`: train the reference DeX-Portrait model from a config (accelerate)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import out

Config = Annotated[Path, typer.Option("--config", help="Model config YAML (reference_model/tiny.yaml, ...).")]
OutDir = Annotated[
    Path | None, typer.Option("--out", help="Run root; the stage trains into <out>/<stage>/ (default runs/<name>).")
]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the latest checkpoint in the run folder.")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Override the config's step count.")]
Cpu = Annotated[bool, typer.Option("--cpu", help="Train on CPU even when a GPU is present.")]


def _run_root(config: Path, out_dir: Path | None, name: str) -> Path:
    return out_dir if out_dir is not None else config.parent / "runs" / name


def _report(stage: str, name: str, summary: dict) -> None:
    if os.environ.get("RANK", "0") == "0":  # under DDP (accelerate launch, torchrun) the main process speaks
        out.print(f"{stage} ({name}): {summary.get('note') or summary['checkpoint']}")


def stage1(
    config: Config, out_dir: OutDir = None, resume: Resume = False, max_steps: MaxSteps = None, cpu: Cpu = False
) -> None:
    """Stage 1: the disentangled motion trainer (GAN)."""
    from dexbench.model.config import load_config
    from dexbench.model.training.loop import train
    from dexbench.model.training.stage1 import Stage1

    cfg = load_config(config)
    root = _run_root(config, out_dir, cfg.name)
    summary = train(Stage1, cfg, root / "stage1", resume=resume, max_steps=max_steps, cpu=cpu or None)
    _report("stage1", cfg.name, summary)


def stage2(
    config: Config, out_dir: OutDir = None, resume: Resume = False, max_steps: MaxSteps = None, cpu: Cpu = False
) -> None:
    """Stage 2: the diffusion model (needs a trained stage 1 in the same run root)."""
    from dexbench.model.config import load_config
    from dexbench.model.training.loop import train
    from dexbench.model.training.stage2 import stage2_factory

    cfg = load_config(config)
    root = _run_root(config, out_dir, cfg.name)
    summary = train(
        stage2_factory(root / "stage1"), cfg, root / "stage2", resume=resume, max_steps=max_steps, cpu=cpu or None
    )
    _report("stage2", cfg.name, summary)


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the reference DeX-Portrait model.", no_args_is_help=True)
    train_app.command("stage1")(stage1)
    train_app.command("stage2")(stage2)
    app.add_typer(train_app, name="train")
