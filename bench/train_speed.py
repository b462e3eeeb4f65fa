"""Training speed of the reference model: steps/s and samples/s per stage, one JSON object on stdout.

CPU: the tiny config (default). With a GPU, pass --config reference_model/base.yaml (bf16, from the config).
Usage: python bench/train_speed.py [--config reference_model/tiny.yaml] [--shards ...] [--steps 10] [--warmup 2]
                                   [--threads N]   (torch threads; default: the config's stageN.threads)
                                   [--processes N] (DDP processes through torchrun; samples/s counts all of them)
                                   [--set loss.part_adversarial=0] (override config values, repeatable)
                                   [--before-gan]  (time stage 1 before loss.adversarial_start, as it once was)
Stage 1 is timed with its GAN terms on (loss.adversarial_start set to 0): tiny's discriminators start at step 200
of 2000, so the steady-state step is the one a run is made of; the first steps alone read ~20 % faster.
Measured here: on 2 shared cores under heavy load from other processes, 2 torch threads ran a stage-1 step ~13x
slower than 1 thread (OpenMP threads waiting on each other while preempted); compare with --threads 1 and 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from dexbench.model.config import load_config
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.training.stage2 import stage2_factory
from dexbench.model.training.workers import in_worker, is_main_worker, run_workers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="reference_model/tiny.yaml")
    ap.add_argument("--shards", default=None)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--before-gan", action="store_true")
    a = ap.parse_args()
    if a.processes > 1 and not in_worker():  # relaunch as DDP workers; rank 0 prints the JSON
        with tempfile.TemporaryDirectory() as shared:  # one run folder for all workers
            env = {"DEXBENCH_QUIET": "1", "TRAIN_SPEED_DIR": shared}
            raise SystemExit(run_workers(a.processes, [__file__, *sys.argv[1:]], env))

    cfg = load_config(a.config)
    if a.shards:
        cfg.data.shards = a.shards
    for item in a.set:
        _override(cfg, item)
    if not a.before_gan:
        cfg.loss.adversarial_start = 0
    for tc in (cfg.stage1, cfg.stage2):  # no sample grids or checkpoints inside the timed window
        tc.sample_every = tc.checkpoint_every = tc.log_every = 10**9
        if a.threads:
            tc.threads = a.threads
    result = {
        "config": a.config,
        "overrides": a.set,
        "stage1_gan_active": not a.before_gan,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "stages": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.environ.get("TRAIN_SPEED_DIR", tmp))
        for name, factory in (("stage1", Stage1), ("stage2", None)):
            fac = factory or stage2_factory(root / "stage1")
            times: dict[int, float] = {}
            t0 = time.perf_counter()
            summary = train(
                fac,
                cfg,
                root / name,
                max_steps=a.warmup + a.steps,
                on_step=lambda s, _l, t=times: t.__setitem__(s, time.perf_counter()),
            )
            timed = times[a.warmup + a.steps] - times[a.warmup]
            processes = summary["processes"]
            bs = getattr(cfg, name).batch_size * getattr(cfg, name).n_driving * processes
            result["stages"][name] = {
                "steps_per_s": round(a.steps / timed, 4),
                "samples_per_s": round(a.steps * bs / timed, 3),
                "batch": getattr(cfg, name).batch_size,
                "frames_per_sample": getattr(cfg, name).n_driving,
                "precision": summary["mixed_precision"],
                "threads": summary["threads"],
                "processes": processes,
                "wall_s_including_setup": round(time.perf_counter() - t0, 2),
            }
    result["note"] = "timed steps exclude the warm-up steps; checkpoints/samples disabled in the timed window"
    if is_main_worker():
        print(json.dumps(result))


def _override(cfg: object, item: str) -> None:
    """`section.key=value`, the value parsed as YAML (numbers, lists, booleans) and type-checked against the field."""
    import yaml

    path, sep, raw = item.partition("=")
    section, _, key = path.partition(".")
    target = getattr(cfg, section, None)
    if not sep or not key or target is None or not hasattr(target, key):
        raise SystemExit(f"--set {item!r}: expected SECTION.KEY=VALUE naming a config field, e.g. loss.code_swap=0")
    value = yaml.safe_load(raw)
    old = getattr(target, key)
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(old, tuple) and isinstance(value, list):
        value = tuple(value)
    if old is not None and not isinstance(value, type(old)):
        raise SystemExit(f"--set {item!r}: {path} is a {type(old).__name__}, got {value!r}")
    setattr(target, key, value)


if __name__ == "__main__":
    main()
