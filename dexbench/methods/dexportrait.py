"""The reference DeX-Portrait model as a benchmark method (two entry points).

- `dexportrait`: the full model (stage-1 encoders + stage-2 diffusion with progressive hybrid guidance);
- `dexportrait-motion`: the stage-1 motion trainer's own generator (GAN), which is what stage 1 alone can do.
Parameters (`dexbench run dexportrait` uses the defaults): config (model YAML), runs (run root; default
<config dir>/runs/<name>), steps (DDIM steps, default from the config), device, chunk (frames per batch), threads
(torch CPU threads, default 1: on a shared 2-core machine 2 threads ran up to ~13x slower; 0 = torch's default),
weights (auto: each stage's weight average when its run kept one, else the trained weights; ema; trained).
A pose / expression driver of None keeps the source's (pose-only / expression-only editing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from dexbench.errors import DexbenchError
from dexbench.methods.animator import AnimationRequest, Animator


def _to_tensor(frames: np.ndarray, size: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, size, size) float in [-1, 1]."""
    out = []
    for f in frames:
        if f.shape[0] != size or f.shape[1] != size:
            interp = cv2.INTER_AREA if f.shape[0] > size else cv2.INTER_LINEAR
            f = cv2.resize(f, (size, size), interpolation=interp)
        out.append(f)
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _to_frames(images: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    arr = ((images.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy() + 1.0) * 127.5).round().astype(np.uint8)
    if arr.shape[1:3] != size:
        arr = np.stack([cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_CUBIC) for a in arr])
    return np.ascontiguousarray(arr)


def _landmarks(annotations, native: int, size: int) -> torch.Tensor | None:
    if annotations is None:
        return None
    return torch.from_numpy(np.asarray(annotations.landmarks, np.float32) * (size / native))


class DexPortraitAnimator(Animator):
    name = "dexportrait"
    version = "1"
    description = "Reference DeX-Portrait (dexbench re-implementation): stage-1 motion encoders + stage-2 diffusion."
    url = "https://arxiv.org/abs/2512.15524"
    license = "Apache-2.0"
    stage: ClassVar[int] = 2

    def __init__(self, **params: Any) -> None:
        params.setdefault("config", "reference_model/tiny.yaml")
        params.setdefault("device", "cpu")
        params.setdefault("chunk", 16)
        params.setdefault("threads", 1)
        params.setdefault("weights", "auto")
        super().__init__(**params)
        self._loaded: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._loaded is not None:
            return self._loaded
        from dexbench.model.config import load_config
        from dexbench.model.training.checkpoint import latest, load_for_inference, weights_file
        from dexbench.model.training.stage2 import load_motion
        from dexbench.nets.registry import file_sha256

        cfg = load_config(self.params["config"])
        if int(self.params["threads"]) > 0 and self.params["device"] == "cpu":
            torch.set_num_threads(int(self.params["threads"]))
        runs = Path(self.params.get("runs") or Path(self.params["config"]).parent / "runs" / cfg.name)
        dev = torch.device(self.params["device"])
        weights = str(self.params["weights"])  # auto, ema or trained: checked by load_for_inference
        motion = load_motion(runs / "stage1", cfg, weights).to(dev)
        ckpt1 = latest(runs / "stage1" / "checkpoints")
        info = {
            "cfg": cfg,
            "motion": motion,
            "dev": dev,
            "stage1": str(ckpt1),
            "stage1_weights": motion.weights,
            # the path alone does not tell a retrained run from the old one (same step count)
            "stage1_sha256": file_sha256(weights_file(ckpt1, "motion", motion.weights)),
        }
        if self.stage == 2:
            from diffusers import DDIMScheduler

            from dexbench.model.diffusion.pipeline import DexPortraitPipeline
            from dexbench.model.guidance import GuidanceSchedule
            from dexbench.model.training.stage2 import build_diffusion, load_vae, scheduler_config

            ckpt = latest(runs / "stage2" / "checkpoints")
            if ckpt is None:
                raise DexbenchError(
                    f"no stage-2 checkpoint under {runs / 'stage2'}",
                    f"train it: `dexbench train stage2 --config {self.params['config']}`",
                )
            model = build_diffusion(cfg)
            info["stage2_weights"] = load_for_inference(ckpt, "diffusion", model, weights)
            info["stage2_sha256"] = file_sha256(weights_file(ckpt, "diffusion", info["stage2_weights"]))
            pipe = DexPortraitPipeline(
                model.eval().to(dev), motion, DDIMScheduler(**scheduler_config(cfg)), load_vae(cfg)
            )
            pipe.set_progress_bar_config(disable=True)
            g = cfg.guidance
            steps = int(self.params.get("steps") or g.steps)
            free = round(g.expression_free_steps * steps / g.steps)
            blend = round(g.blend_steps * steps / g.steps)
            info.update(pipe=pipe, schedule=GuidanceSchedule(steps, free, blend, g.scale), stage2=str(ckpt))
        self._loaded = info
        return info

    def card(self) -> dict[str, Any]:
        """The card names the checkpoints and their weights' sha256, so the model is loaded first (a missing
        checkpoint fails here, before any output is written)."""
        card = super().card()
        loaded = self._load()
        keys = ("stage1", "stage2", "stage1_weights", "stage2_weights", "stage1_sha256", "stage2_sha256")
        card["checkpoints"] = {k: loaded[k] for k in keys if k in loaded}
        return card

    @torch.no_grad()
    def animate(self, request: AnimationRequest) -> np.ndarray:
        m = self._load()
        size = m["cfg"].motion.image_size
        native = request.source.image.shape[0]
        dev = m["dev"]
        src = _to_tensor(request.source.image[None], size).to(dev)
        lm_src = _landmarks(request.source.annotations, native, size)
        pd, ed = request.pose_driver, request.expression_driver
        pose = _to_tensor(pd.frames, size) if pd is not None else None
        expr = _to_tensor(ed.frames, size) if ed is not None else None
        lm_pose = _landmarks(pd.annotations, native, size) if pd is not None else None
        if self.stage == 1:
            mc = m["cfg"].motion
            gsize = (mc.glimpse_source_size or size) if mc.expression_input == "glimpses" else size
            hi = (  # what the expression encoder reads: glimpses at their own resolution (the crops' if larger)
                _to_tensor(request.source.image[None], gsize).to(dev),
                _to_tensor(ed.frames, gsize) if ed is not None else None,
            )
            lm_expr = _landmarks(ed.annotations, native, size) if ed is not None else None
            same = pd is ed  # pose and expression from the same frames: their pose estimate is shared
            osize = mc.output_size or size
            src_out = _to_tensor(request.source.image[None], osize).to(dev) if osize != size else None
            out = self._stage1(
                m["motion"], src, lm_src, pose, lm_pose, expr, hi, lm_expr, same, request.n_frames, src_out
            )
        else:
            gen = torch.Generator().manual_seed(int(request.seed))
            out = m["pipe"](
                src[0],
                pose=pose,
                expression=expr,
                source_landmarks=None if lm_src is None else lm_src[0],
                pose_landmarks=lm_pose,
                guidance=m["schedule"],
                generator=gen,
                num_frames=request.n_frames,
            )
        return _to_frames(out, request.size)

    def _stage1(
        self, motion, src, lm_src, pose, lm_pose, expr, hi, lm_expr, same: bool, n: int, src_out=None
    ) -> torch.Tensor:
        """hi = (source, expression frames or None) at the expression encoder's resolution; `same`: the pose and
        expression frames are the same frames; src_out = the source at motion.output_size (None: image_size)."""
        from dexbench.model.motion.augment import mask_eyes_mouth

        dev = src.device
        src_hi, expr_hi = hi

        def pose_of(images, lm):
            return motion.pose_encoder(images if lm is None else mask_eyes_mouth(images, lm.to(dev)))

        pose_s = pose_of(src, lm_src)
        z_s = motion.encode_expression(src_hi, pose_s)
        outs = []
        chunk = int(self.params["chunk"])
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            pd = pose_of(pose[a:b].to(dev), None if lm_pose is None else lm_pose[a:b]) if pose is not None else None
            pd = pd if pd is not None else pose_s.repeat_interleave(b - a)
            if expr_hi is None:
                z = z_s.expand(b - a, -1)
            else:
                e = expr_hi[a:b].to(dev)
                pe = None
                if motion.glimpses:  # the glimpses sit where the expression frames' own pose puts them
                    lm = None if lm_expr is None else lm_expr[a:b]
                    pe = pd if same and pose is not None else pose_of(expr[a:b].to(dev), lm)
                z = motion.encode_expression(e, pe)
            outs.append(motion.render(src, pose_s, pd, z, src_out))
        return torch.cat(outs)


class DexPortraitMotionAnimator(DexPortraitAnimator):
    name = "dexportrait-motion"
    description = "Reference DeX-Portrait, stage 1 only: the motion trainer's warp + AdaIN generator (GAN)."
    stage = 1
