"""Stage 2 training: epsilon-prediction diffusion on driving clips, conditioned by the frozen stage-1 encoders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler

from dexbench.errors import DexbenchError
from dexbench.model.config import ModelConfig
from dexbench.model.diffusion.model import DexDiffusion
from dexbench.model.diffusion.pipeline import DexPortraitPipeline, pixels_to_latent
from dexbench.model.guidance import GuidanceSchedule
from dexbench.model.motion.augment import mask_eyes_mouth
from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.training.checkpoint import latest, load_for_inference


def scheduler_config(cfg: ModelConfig) -> dict[str, Any]:
    return {
        "num_train_timesteps": cfg.diffusion.train_timesteps,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "prediction_type": cfg.diffusion.prediction_type,
        # few inference steps: start at the last training timestep (pure noise), not at T - T/steps
        "timestep_spacing": "trailing",
        "clip_sample": False,
    }


def load_vae(cfg: ModelConfig):
    """None for pixel-space diffusion; else the AutoencoderKL of a local Stable-Diffusion-format folder."""
    if cfg.diffusion.latent == "pixels":
        return None
    if not cfg.diffusion.pretrained:
        raise DexbenchError("diffusion.latent: vae needs diffusion.pretrained (a local SD-format folder with vae/)")
    from diffusers import AutoencoderKL

    path = Path(cfg.diffusion.pretrained) / "vae"
    if not path.is_dir():
        raise DexbenchError(f"{path}: no VAE folder", "point diffusion.pretrained at a Stable Diffusion folder")
    vae = AutoencoderKL.from_pretrained(path, local_files_only=True)
    return vae.eval().requires_grad_(False)


def build_diffusion(cfg: ModelConfig) -> DexDiffusion:
    p = cfg.diffusion.patch
    if cfg.diffusion.latent == "pixels" and (p < 1 or cfg.motion.image_size % p):
        raise DexbenchError(f"diffusion.patch {p} must be >= 1 and divide motion.image_size {cfg.motion.image_size}")
    latent_channels = 3 * p * p if cfg.diffusion.latent == "pixels" else 4
    size = cfg.motion.image_size // p if cfg.diffusion.latent == "pixels" else cfg.motion.image_size // 8
    model = DexDiffusion(cfg.diffusion, cfg.motion.expression_dim, latent_channels, size)
    if cfg.diffusion.pretrained:  # SD-format UNet weights where shapes agree (the denoiser's conv_in is wider)
        from diffusers import UNet2DConditionModel

        sd = UNet2DConditionModel.from_pretrained(
            Path(cfg.diffusion.pretrained) / "unet", local_files_only=True
        ).state_dict()
        for unet in (model.reference, model.denoiser):
            own = unet.state_dict()
            unet.load_state_dict({k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}, strict=False)
    return model


def load_motion(stage1_dir: str | Path, cfg: ModelConfig, weights: str = "auto") -> MotionGenerator:
    """The latest stage-1 generator, frozen: its weight average when the run kept one (`weights`: auto, ema,
    trained; see checkpoint.load_for_inference). `motion.weights` says which were loaded."""
    ckpt = latest(Path(stage1_dir) / "checkpoints")
    if ckpt is None:
        raise DexbenchError(f"no stage-1 checkpoint under {stage1_dir}", "train stage 1 first: `dexbench train stage1`")
    motion = MotionGenerator(cfg.motion)
    motion.weights = load_for_inference(ckpt, "motion", motion, weights)
    return motion.eval().requires_grad_(False)


def stage2_factory(stage1_dir: str | Path):
    def factory(cfg: ModelConfig, accelerator: Any) -> Stage2:
        return Stage2(cfg, accelerator, stage1_dir)

    factory.__name__ = "Stage2"
    return factory


class Stage2:
    name = "stage2"
    averaged = "diffusion"
    # the reference UNet's layers after its last self-attention that the denoiser reads never reach the loss
    ddp_find_unused_parameters = True

    def __init__(self, cfg: ModelConfig, accelerator: Any, stage1_dir: str | Path) -> None:
        self.cfg, self.train_cfg, self.accelerator = cfg, cfg.stage2, accelerator
        self.motion = load_motion(stage1_dir, cfg) if accelerator is not None else None
        self.model = build_diffusion(cfg)
        self.vae = load_vae(cfg) if accelerator is not None else None
        self.noise = DDPMScheduler(**scheduler_config(cfg))
        tc = self.train_cfg
        # fused: one kernel for the ~500 tensors (CPU and CUDA); the per-tensor loop was ~10 % of a tiny CPU step
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, betas=tc.betas, weight_decay=0.0, fused=True)
        self.gen = torch.Generator().manual_seed(cfg.seed + 2)

    def models(self) -> dict[str, torch.nn.Module]:
        return {"diffusion": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"diffusion": self.opt}

    def generators(self) -> dict[str, torch.Generator]:
        return {"noise": self.gen}

    def prepare(self, accelerator: Any) -> None:
        self.model, self.opt = accelerator.prepare(self.model, self.opt)
        self.motion = self.motion.to(accelerator.device)
        if self.vae is not None:
            self.vae = self.vae.to(accelerator.device)

    def _latent(self, images: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return pixels_to_latent(images, self.cfg.diffusion.patch)
        return self.vae.encode(images).latent_dist.mean * self.vae.config.scaling_factor

    def step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        dev = self.accelerator.device
        src = batch["source"].to(dev)
        drv = batch["driving"].to(dev)
        b, t_frames = drv.shape[:2]
        flat = drv.flatten(0, 1)
        with torch.no_grad():
            lm_s = batch["source_landmarks"].to(dev)
            lm_d = batch["driving_landmarks"].to(dev).flatten(0, 1)
            pose_s = self.motion.pose_encoder(mask_eyes_mouth(src, lm_s)).repeat_interleave(t_frames)
            pose_d = self.motion.pose_encoder(mask_eyes_mouth(flat, lm_d))
            z_d = self.motion.encode_expression(flat, pose_d)
            x0, ref = self._latent(flat), self._latent(src)
        noise = torch.randn(x0.shape, generator=self.gen).to(dev)
        ts = torch.randint(0, self.noise.config.num_train_timesteps, (b,), generator=self.gen)
        ts = ts.repeat_interleave(t_frames).to(dev)  # one noise level per clip
        noisy = self.noise.add_noise(x0, noise, ts)
        u = torch.rand(b, generator=self.gen).repeat_interleave(t_frames).to(dev)
        dc = self.cfg.diffusion
        pose_on = (u >= dc.drop_all).float()
        expr_on = (u >= dc.drop_all + dc.drop_expression).float()
        ref_index = torch.arange(b, device=dev).repeat_interleave(t_frames)
        pred = self.model(
            noisy, ts, ref_index, pose_s, pose_d, z_d, expr_on, pose_on, num_frames=t_frames, reference=ref
        )
        target = x0 if self.cfg.diffusion.prediction_type == "sample" else noise
        loss = F.mse_loss(pred.float(), target.float())
        self.opt.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        self.opt.step()
        return {"mse": float(loss.detach())}

    def pipeline(self) -> DexPortraitPipeline:
        model = self.accelerator.unwrap_model(self.model) if self.accelerator is not None else self.model
        return DexPortraitPipeline(model, self.motion, DDIMScheduler(**scheduler_config(self.cfg)), self.vae)

    @torch.no_grad()
    def samples(self, batch: dict[str, Any]) -> np.ndarray:
        from dexbench.model.training.loop import save_grid

        pipe = self.pipeline()
        pipe.set_progress_bar_config(disable=True)  # a few DDIM steps per grid: a bar each would flood the log
        g = self.cfg.guidance
        sched = GuidanceSchedule(g.steps, g.expression_free_steps, g.blend_steps, g.scale)
        rows = []
        for i in range(min(2, batch["source"].shape[0])):
            drv = batch["driving"][i]
            out = pipe(
                batch["source"][i],
                pose=drv,
                expression=drv,
                source_landmarks=batch["source_landmarks"][i],
                pose_landmarks=batch["driving_landmarks"][i],
                guidance=sched,
                generator=torch.Generator().manual_seed(i),
            )
            rows += [torch.cat([batch["source"][i][None], drv]), torch.cat([batch["source"][i][None], out.cpu()])]
        return save_grid(rows, self.samples_path)  # type: ignore[attr-defined]
