"""Inference cost of the reference model per output frame: stage 1 alone and the full model (stage 2 + guidance).

Weights are freshly initialised from the config (the cost does not depend on their values), so this runs without
a trained run folder. One JSON object on stdout.
Usage: python bench/reference_inference_speed.py [--config reference_model/tiny.yaml] [--frames 48] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="reference_model/tiny.yaml")
    ap.add_argument("--frames", type=int, default=48, help="frames of one driving clip (the protocol's clip length)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the config's guidance.steps)")
    a = ap.parse_args()
    from diffusers import DDIMScheduler

    from dexbench.model.config import load_config
    from dexbench.model.diffusion.pipeline import DexPortraitPipeline
    from dexbench.model.guidance import GuidanceSchedule
    from dexbench.model.motion.generator import MotionGenerator
    from dexbench.model.training.stage2 import build_diffusion, scheduler_config

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = load_config(a.config)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    s, n = cfg.motion.image_size, a.frames
    motion = MotionGenerator(cfg.motion).eval().to(dev)
    pipe = DexPortraitPipeline(build_diffusion(cfg).eval().to(dev), motion, DDIMScheduler(**scheduler_config(cfg)))
    pipe.set_progress_bar_config(disable=True)
    g = cfg.guidance
    steps = a.steps or g.steps
    sched = GuidanceSchedule(
        steps, round(g.expression_free_steps * steps / g.steps), round(g.blend_steps * steps / g.steps), g.scale
    )
    src = torch.rand(1, 3, s, s, device=dev) * 2 - 1
    drv = torch.rand(n, 3, s, s, device=dev) * 2 - 1

    def stage1() -> None:
        pose_s = motion.pose_encoder(src)
        for c in range(0, n, 16):  # the dexportrait-motion adapter's default chunk
            d = drv[c : c + 16]
            motion.render(src, pose_s, motion.pose_encoder(d), motion.expression_encoder(d))

    def stage2() -> None:
        pipe(src[0], pose=drv, expression=drv, guidance=sched, generator=torch.Generator().manual_seed(0))

    evaluations = sum(1 + sum(sched.branches(i)) for i in range(sched.steps))
    result = {"config": a.config, "device": str(dev), "threads": torch.get_num_threads(), "frames": n, "size": s}
    with torch.no_grad():
        for name, fn in (("dexportrait-motion", stage1), ("dexportrait", stage2)):
            fn()  # warm-up
            times = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            result[name] = {"s_per_frame": round(min(times) / n, 4), "s_per_clip": round(min(times), 3)}
    result["dexportrait"].update(
        {"ddim_steps": sched.steps, "unet_calls_per_frame": evaluations, "guidance_weights": sched.weights()}
    )
    result["note"] = "best of repeats; random weights (cost only); one clip batched through the UNet per call"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
