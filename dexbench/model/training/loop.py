"""The training loop both stages share: run folder, accelerate, resume, loss log, sample grids, checkpoints.

Run folder (one per config and stage, e.g. reference_model/runs/tiny/stage1/):
  config.yaml        the config the run started with
  checkpoints/       step-XXXXXX/ folders (safetensors), the last `keep_checkpoints` kept
  losses.csv         step, wall seconds, every loss term (and lr_factor when stageN.lr_decay is on)
  losses.png         the loss curves (redrawn at checkpoints, at most every 5 minutes, and at the last step)
  samples/           step-XXXXXX.png sample grids
  run.json           what ran: steps, device, precision, versions, timings
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import yaml

from dexbench.data.training_pairs import TrainingPairs, collate
from dexbench.errors import DexbenchError
from dexbench.io.atomic import write_json, write_text
from dexbench.model.config import ModelConfig, TrainConfig
from dexbench.model.training.checkpoint import latest, load_checkpoint, save_checkpoint
from dexbench.model.training.ema import WeightAverage
from dexbench.model.training.lr_schedule import LinearDecay

PLOT_SECONDS = 300.0  # losses.png is redrawn at a checkpoint at most this often, and always at the last step


class Stage(Protocol):
    name: str
    train_cfg: TrainConfig
    averaged: str  # the key of models() whose weight average `ema_half_life` keeps (saved as "<key>_ema")

    def models(self) -> dict[str, torch.nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def generators(self) -> dict[str, torch.Generator]: ...
    def prepare(self, accelerator: Any) -> None: ...
    def step(self, batch: dict[str, Any], step: int) -> dict[str, float]: ...
    def samples(self, batch: dict[str, Any]) -> np.ndarray: ...


def make_accelerator(train: TrainConfig, cpu: bool | None = None, find_unused_parameters: bool = False):
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    use_cpu = (not torch.cuda.is_available()) if cpu is None else cpu
    precision = train.mixed_precision
    if precision == "auto":
        precision = "no" if use_cpu else "bf16"  # float32 on CPU; bf16 autocast on GPU
    ddp = DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)  # read only under DDP
    return Accelerator(cpu=use_cpu, mixed_precision=precision, kwargs_handlers=[ddp])


def seed_everything(seed: int, threads: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if threads > 0:
        torch.set_num_threads(threads)


def save_grid(rows: list[torch.Tensor], path: Path) -> np.ndarray:
    """rows of (N, 3, S, S) images in [-1, 1] -> one PNG grid (rows stacked vertically)."""
    from PIL import Image

    grid = torch.cat([torch.cat(list(r.clamp(-1, 1)), dim=2) for r in rows], dim=1)
    arr = ((grid.permute(1, 2, 0).float().cpu().numpy() + 1) * 127.5).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    from dexbench.io.atomic import write_bytes

    write_bytes(path, buf.getvalue())
    return arr


def plot_losses(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(csv_path)
    terms = [c for c in df.columns if c not in ("step", "seconds")]
    fig, axes = plt.subplots(1, len(terms), figsize=(3.2 * len(terms), 2.6), squeeze=False)
    for ax, term in zip(axes[0], terms, strict=True):
        ax.plot(df["step"], df[term], lw=0.8)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    from dexbench.io.atomic import write_bytes

    write_bytes(png_path, buf.getvalue())


def _note_rescheduled(saved: dict[str, Any] | None, now: dict[str, Any], checkpoint: Path, accelerator: Any) -> None:
    """The learning-rate fall is laid over the run's length: resuming toward another length (a raised --max-steps)
    with a decay on either side moves the fall, and the rates jump. Allowed (that is how a run is extended), said."""
    saved = saved or {"steps": None, "lr_decay": 0.0}
    if saved == now or not (saved["lr_decay"] or now["lr_decay"]) or not accelerator.is_main_process:
        return
    from dexbench.progress import console

    console.print(
        f"note: {checkpoint} was trained on a schedule of {saved['steps']} steps with lr_decay {saved['lr_decay']}; "
        f"this run goes to {now['steps']} steps with lr_decay {now['lr_decay']}, so the learning rates follow the "
        "new schedule from here (they may rise again). Resume with the old --max-steps for an exact continuation.",
        markup=False,
        style="yellow",
    )


def _truncate_log(path: Path, step: int) -> None:
    """On resume, drop log rows after the checkpoint (they belong to the abandoned continuation)."""
    if not path.is_file():
        return
    rows = list(csv.reader(path.read_text().splitlines()))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(kept)
    write_text(path, buf.getvalue())


def train(
    stage_factory: Callable[[ModelConfig, Any], Stage],
    cfg: ModelConfig,
    run_dir: str | Path,
    resume: bool = False,
    max_steps: int | None = None,
    cpu: bool | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train one stage into `run_dir`; returns the run summary (also written to run.json)."""
    from dexbench.progress import console, track

    run_dir = Path(run_dir)
    ckpt_root = run_dir / "checkpoints"
    found = latest(ckpt_root)
    if found is not None and not resume:
        raise DexbenchError(f"{run_dir} already holds checkpoints", "pass --resume to continue, or use another --out")
    stage_name_cfg = stage_factory.__name__
    seed_everything(cfg.seed, 0)
    probe: Stage = stage_factory(cfg, None)  # built before the accelerator: its train config sets precision
    tc = probe.train_cfg
    seed_everything(cfg.seed, tc.threads)
    accelerator = make_accelerator(tc, cpu, getattr(probe, "ddp_find_unused_parameters", False))
    if accelerator.device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory: no result
        # depends on it, and it cost ~9 % of a tiny stage-1 step (bench/train_speed.py)
        torch.utils.deterministic.fill_uninitialized_memory = False
    stage = stage_factory(cfg, accelerator)
    total = int(max_steps if max_steps is not None else tc.steps)
    # always applied (a constant schedule too): a checkpoint's optimiser state may hold rates an earlier run decayed
    schedule = LinearDecay(stage.optimizers(), total, tc.lr_decay)
    rank = accelerator.process_index
    if rank > 0:  # under DDP each process draws its own augmentation and noise
        for g in stage.generators().values():
            g.manual_seed(g.initial_seed() + 104_729 * rank)
    ema = WeightAverage(stage.models()[stage.averaged], tc.ema_half_life, tc.ema_rampup) if tc.ema_half_life else None

    def saved_models() -> dict[str, torch.nn.Module]:
        models = {k: accelerator.unwrap_model(m) for k, m in stage.models().items()}
        return models | ({f"{stage.averaged}_ema": ema.model} if ema is not None else {})

    start = 0
    if found is not None:
        state = load_checkpoint(found, saved_models(), stage.optimizers(), stage.generators(), rank)
        start = int(state["step"])
        _note_rescheduled(state.get("schedule"), schedule.record, found, accelerator)
    stage.prepare(accelerator)
    if ema is not None:  # the copy was made before prepare() moved the trained model to its device
        ema.model.to(accelerator.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    log_path = run_dir / "losses.csv"
    _truncate_log(log_path, start)
    summary: dict[str, Any] = {"stage": stage.name, "config": cfg.name, "start_step": start, "steps": total}
    if start >= total:
        summary["note"] = f"already trained to step {start}"
        return summary
    per_process = tc.batch_size
    ds = TrainingPairs(
        cfg.data.shards,
        size=getattr(stage, "data_size", cfg.data.size),  # a stage may read frames larger than data.size
        split=cfg.data.split,
        n_driving=tc.n_driving,
        pairs_per_clip=cfg.data.pairs_per_clip,
        buffer=cfg.data.buffer,
        seed=cfg.seed + 1000 * accelerator.process_index + (17 if stage.name == "stage2" else 0),
        skip=start * per_process,
        source_contrast=cfg.data.source_contrast,
        cross_clip=cfg.data.cross_clip,
    )
    if cfg.data.cross_clip > 0:
        # what the probability could act on (recorded: a clip without a sibling in its row group never crosses)
        summary["cross_clip_clips"] = {"crossable": ds.crossable, "total": ds.n_clips}
        if ds.crossable == 0 and accelerator.is_main_process:
            console.print(
                f"note: data.cross_clip is {cfg.data.cross_clip}, but no row group of {cfg.data.shards} holds two "
                "clips of one identity: every pair stays within its clip. Shard an identity's clips together "
                "(SynthHeads does) for cross-clip pairs, or set data.cross_clip to 0 to silence this.",
                markup=False,
                style="yellow",
            )
    loader = torch.utils.data.DataLoader(
        ds, batch_size=per_process, collate_fn=collate, num_workers=cfg.data.num_workers
    )
    t0 = time.perf_counter()
    plotted = -float("inf")  # the first checkpoint draws: losses.png is there as soon as a checkpoint is
    step = start
    header_written = log_path.is_file() and log_path.stat().st_size > 0
    logs_buffer: list[dict[str, float]] = []
    it = iter(loader)
    steps = range(start, total)
    if accelerator.is_main_process:  # one bar, not one per DDP process
        steps = track(steps, f"train {cfg.name}/{stage.name}", total=total - start)
    for _ in steps:
        batch = next(it)
        step += 1
        factor = schedule.apply(stage.optimizers(), step)
        logs = stage.step(batch, step)
        if tc.lr_decay:
            logs["lr_factor"] = factor
        if ema is not None:  # every process keeps the same average: DDP leaves the same weights everywhere
            ema.update(accelerator.unwrap_model(stage.models()[stage.averaged]), step)
        if on_step is not None:
            on_step(step, logs)
        if step % tc.log_every == 0 or step == total:
            logs_buffer.append({"step": step, "seconds": round(time.perf_counter() - t0, 3), **logs})
        if accelerator.is_main_process and (step % tc.sample_every == 0 or step == total):
            stage.samples_path = run_dir / "samples" / f"step-{step:06d}.png"  # type: ignore[attr-defined]
            stage.samples(batch)
        if step % tc.checkpoint_every == 0 or step == total:
            accelerator.wait_for_everyone()
            other_ranks = _gather_generator_states(accelerator, stage.generators())
            if accelerator.is_main_process:
                header_written = _flush_log(log_path, logs_buffer, header_written)
                logs_buffer = []
                save_checkpoint(
                    ckpt_root,
                    step,
                    saved_models(),
                    stage.optimizers(),
                    stage.generators(),
                    extra={"config": cfg.name, "schedule": schedule.record},
                    keep=tc.keep_checkpoints,
                    other_ranks=other_ranks,
                )
                # a draw costs 1.6-2.1 s of one core (the wide PNG), and under DDP the other processes wait for it;
                # tiny checkpoints about once a minute
                if step == total or time.perf_counter() - plotted >= PLOT_SECONDS:
                    plot_losses(log_path, run_dir / "losses.png")
                    plotted = time.perf_counter()
    elapsed = time.perf_counter() - t0
    summary.update(
        {
            "device": str(accelerator.device),
            "mixed_precision": accelerator.mixed_precision,
            "processes": accelerator.num_processes,
            "batch_size_per_process": per_process,
            "seconds": round(elapsed, 2),
            "steps_per_second": round((total - start) / elapsed, 4) if elapsed > 0 else None,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "checkpoint": str(latest(ckpt_root)),
            "stage_factory": stage_name_cfg,
        }
    )
    if accelerator.is_main_process:
        write_json(run_dir / "run.json", summary)
    accelerator.wait_for_everyone()  # under DDP no process may read the final checkpoint before it is written
    return summary


def _gather_generator_states(accelerator: Any, generators: dict[str, torch.Generator]) -> list[dict[str, torch.Tensor]]:
    """Every process's generator states, on the main process (empty for a single process)."""
    if accelerator.num_processes == 1:
        return []
    import torch.distributed as dist

    gathered: list[Any] = [None] * accelerator.num_processes
    dist.all_gather_object(gathered, {k: g.get_state() for k, g in generators.items()})
    return gathered[1:]


def _flush_log(path: Path, rows: list[dict[str, float]], header_written: bool) -> bool:
    if not rows:
        return header_written
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    if not header_written:
        w.writeheader()
    w.writerows(rows)
    old = path.read_text() if path.is_file() else ""
    write_text(path, old + buf.getvalue())
    return True
