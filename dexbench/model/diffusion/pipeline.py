"""DexPortraitPipeline: source portrait + (pose frames | kept) + (expression frames | kept) -> frames.

Follows diffusers' pipeline conventions (a DiffusionPipeline with registered components and one `__call__`).
`pose=None` keeps the source's pose (expression-only editing); `expression=None` keeps the source's expression
(pose-only editing). Images are (N, 3, S, S) float in [-1, 1] at the model's resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DiffusionPipeline

from dexbench.model.diffusion.model import DexDiffusion
from dexbench.model.guidance import GuidanceSchedule
from dexbench.model.motion.augment import mask_eyes_mouth
from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.pose import Pose


def pixels_to_latent(images: torch.Tensor, patch: int) -> torch.Tensor:
    """Pixel-space "latent": space-to-depth patches (exactly inverted by pixel_shuffle in `from_latent`)."""
    return F.pixel_unshuffle(images, patch) if patch > 1 else images


class DexPortraitPipeline(DiffusionPipeline):
    def __init__(self, model: DexDiffusion, motion: MotionGenerator, scheduler: DDIMScheduler, vae=None) -> None:
        super().__init__()
        self.register_modules(model=model, motion=motion, scheduler=scheduler, vae=vae)

    # ---- motion codes from the stage-1 encoders ----------------------------------------------------------------
    def encode_pose(self, images: torch.Tensor, landmarks: torch.Tensor | None) -> Pose:
        if landmarks is not None:
            images = mask_eyes_mouth(images, landmarks)
        return self.motion.pose_encoder(images)

    def encode_expression(self, images: torch.Tensor, pose: Pose | None = None) -> torch.Tensor:
        return self.motion.encode_expression(images, pose)

    def to_latent(self, images: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return pixels_to_latent(images, self.model.cfg.patch)
        return self.vae.encode(images).latent_dist.mean * self.vae.config.scaling_factor

    def from_latent(self, latents: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            p = self.model.cfg.patch
            return (F.pixel_shuffle(latents, p) if p > 1 else latents).clamp(-1, 1)
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample.clamp(-1, 1)

    @torch.no_grad()
    def __call__(
        self,
        source: torch.Tensor,
        pose: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        source_landmarks: torch.Tensor | None = None,
        pose_landmarks: torch.Tensor | None = None,
        guidance: GuidanceSchedule | None = None,
        generator: torch.Generator | None = None,
        num_frames: int | None = None,
    ) -> torch.Tensor:
        """source (3, S, S); pose / expression (T, 3, S, S) or None. Returns (T, 3, S, S) in [-1, 1]."""
        guidance = guidance or GuidanceSchedule()
        drivers = [d for d in (pose, expression) if d is not None]
        t_frames = len(drivers[0]) if drivers else int(num_frames or 1)
        dev = next(self.model.parameters()).device
        src = source[None].to(dev)
        pose_s = self.encode_pose(src, None if source_landmarks is None else source_landmarks[None].to(dev))
        z_s = self.encode_expression(src, pose_s)
        pose_d = (
            self.encode_pose(pose.to(dev), None if pose_landmarks is None else pose_landmarks.to(dev))
            if pose is not None
            else pose_s.repeat_interleave(t_frames)
        )
        # glimpse encoders place their glimpses by the expression frames' own pose (estimated there when the pose
        # comes from other frames)
        z_d = (
            self.encode_expression(expression.to(dev), pose_d if expression is pose else None)
            if expression is not None
            else z_s.expand(t_frames, -1)
        )
        pose_s_t = pose_s.repeat_interleave(t_frames)
        ref = self.to_latent(src)
        self.model.encode_reference(ref)
        shape = (t_frames, ref.shape[1], ref.shape[2], ref.shape[3])
        latents = torch.randn(shape, generator=generator, device="cpu", dtype=ref.dtype).to(dev)
        latents = latents * self.scheduler.init_noise_sigma
        self.scheduler.set_timesteps(guidance.steps, device=dev)
        ones, zeros = torch.ones(t_frames, device=dev), torch.zeros(t_frames, device=dev)
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
            need_noexp, need_full = guidance.branches(i)
            branches = [(zeros, zeros)]  # e(0): reference only
            if need_noexp:
                branches.append((zeros, ones))
            if need_full:
                branches.append((ones, ones))
            k = len(branches)
            x = self.scheduler.scale_model_input(latents, t).repeat(k, 1, 1, 1)
            eps = self.model(
                x,
                t.expand(k * t_frames).to(dev),
                torch.zeros(k * t_frames, dtype=torch.long, device=dev),
                Pose.cat([pose_s_t] * k),
                Pose.cat([pose_d] * k),
                z_d.repeat(k, 1),
                torch.cat([b[0] for b in branches]),
                torch.cat([b[1] for b in branches]),
                num_frames=t_frames,
            ).chunk(k)
            e_noexp = eps[1] if need_noexp else None
            e_full = eps[-1] if need_full else None
            guided = guidance.combine(i, eps[0], e_noexp, e_full)
            latents = self.scheduler.step(guided, t, latents, generator=generator).prev_sample
        return self.from_latent(latents)
