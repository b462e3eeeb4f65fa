"""DexDiffusion: the stage-2 network around two diffusers UNet2DConditionModels.

Conditions of a denoiser sample:
- identity: the reference UNet's self-attention hidden states (reference.py), run once per source at t = 0;
- pose branch 1: a reference-UNet feature map (after the first ResNet of the first down block), reshaped to a
  3-D volume (C / D channels x D depth), warped from the source pose to the driving pose (the same warp as stage 1),
  reshaped back, through a zero-initialised conv, and added to the denoiser's feature at the same place;
- pose branch 2: the source's and the driver's ray maps (raymap.py) concatenated with the noisy latent (+6 ch);
- expression: the expression code reshaped to tokens (n x E/n), projected to the cross-attention width, as the
  UNet's cross-attention context (the slot Stable Diffusion uses for text);
- time: temporal attention on the output of the last up block (temporal.py).
Dropping conditions for guidance: `expr_on = 0` puts learned null tokens in the cross-attention; `pose_on = 0`
zeroes both pose branches. The reference (identity) is never dropped: e(0) is "the source, no motion signal".
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers import UNet2DConditionModel

from dexbench.model.config import DiffusionConfig
from dexbench.model.diffusion.reference import ReferenceState, install
from dexbench.model.diffusion.temporal import TemporalAttention
from dexbench.model.pose import Pose
from dexbench.model.raymap import ray_map
from dexbench.model.warp import warp_volume

POSE_FEATURE_MODULE = "down_blocks.0.resnets.0"


def unet_config(cfg: DiffusionConfig, in_channels: int, out_channels: int, sample_size: int) -> dict:
    n = len(cfg.block_out_channels)
    attn = [i >= n - cfg.attention_levels for i in range(n)]
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn))
    return {
        "sample_size": sample_size,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "down_block_types": down,
        "up_block_types": up,
        "block_out_channels": tuple(cfg.block_out_channels),
        "layers_per_block": cfg.layers_per_block,
        "cross_attention_dim": cfg.cross_attention_dim,
        "attention_head_dim": cfg.attention_head_dim,
        "norm_num_groups": min(32, cfg.block_out_channels[0] // 2),
    }


class PoseFeatureBranch(nn.Module):
    """Warp a reference feature map as a 3-D volume by the relative pose; zero-initialised residual output."""

    def __init__(self, channels: int, depth: int) -> None:
        super().__init__()
        if channels % depth:
            raise ValueError(f"pose branch: {channels} channels do not split into depth {depth}")
        self.depth = depth
        self.conv3d = nn.Conv3d(channels // depth, channels // depth, 3, padding=1)
        self.out = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feature: torch.Tensor, source: Pose, driving: Pose) -> torch.Tensor:
        n, c, h, w = feature.shape
        vol = feature.reshape(n, c // self.depth, self.depth, h, w)
        warped = self.conv3d(warp_volume(vol, source, driving))
        return self.out(warped.reshape(n, c, h, w))


class DexDiffusion(nn.Module):
    def __init__(self, cfg: DiffusionConfig, expression_dim: int, latent_channels: int, sample_size: int) -> None:
        super().__init__()
        if expression_dim % cfg.expression_tokens:
            raise ValueError("diffusion: expression_dim must split evenly into expression_tokens")
        self.cfg = cfg
        self.latent_channels = latent_channels
        self.reference = UNet2DConditionModel(**unet_config(cfg, latent_channels, latent_channels, sample_size))
        self.denoiser = UNet2DConditionModel(**unet_config(cfg, latent_channels + 6, latent_channels, sample_size))
        self.state = ReferenceState()
        install(self.reference, self.state, "write")
        install(self.denoiser, self.state, "read")
        token_dim = expression_dim // cfg.expression_tokens
        self.expression_proj = nn.Linear(token_dim, cfg.cross_attention_dim)
        self.expression_pos = nn.Parameter(torch.zeros(cfg.expression_tokens, cfg.cross_attention_dim))
        self.null_tokens = nn.Parameter(torch.randn(cfg.expression_tokens, cfg.cross_attention_dim) * 0.02)
        c0 = cfg.block_out_channels[0]
        self.pose_branch = PoseFeatureBranch(c0, cfg.pose_volume_depth)
        self.temporal = TemporalAttention(cfg.block_out_channels[0], cfg.temporal_heads)
        self._pose_ctx: tuple[Pose, Pose, torch.Tensor] | None = None
        self._num_frames = 1
        self.reference.get_submodule(POSE_FEATURE_MODULE).register_forward_hook(self._write_feature)
        self.denoiser.get_submodule(POSE_FEATURE_MODULE).register_forward_hook(self._add_pose_feature)
        self.denoiser.up_blocks[-1].register_forward_hook(self._temporal)

    # ---- hooks -------------------------------------------------------------------------------------------------
    def _write_feature(self, module, args, output):
        self.state.features["pose"] = output

    def _add_pose_feature(self, module, args, output):
        if self._pose_ctx is None or "pose" not in self.state.features or self.state.ref_index is None:
            return output
        src, drv, on = self._pose_ctx
        feat = self.state.features["pose"][self.state.ref_index]
        return output + self.pose_branch(feat, src, drv) * on[:, None, None, None]

    def _temporal(self, module, args, output):
        return self.temporal(output, self._num_frames)

    # ---- conditions --------------------------------------------------------------------------------------------
    def expression_tokens(self, code: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
        n = code.shape[0]
        tok = self.expression_proj(code.reshape(n, self.cfg.expression_tokens, -1)) + self.expression_pos
        null = self.null_tokens.expand(n, -1, -1)
        return torch.where(on[:, None, None] > 0.5, tok, null)

    def encode_reference(self, reference: torch.Tensor) -> None:
        """Run the reference UNet (t = 0, null expression) and keep its hidden states for the denoiser."""
        self.state.bank.clear()
        self.state.features.clear()
        self.state.ref_index = None
        t = torch.zeros(reference.shape[0], device=reference.device, dtype=torch.long)
        ctx = self.null_tokens.expand(reference.shape[0], -1, -1)
        self.reference(reference, t, encoder_hidden_states=ctx)

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        ref_index: torch.Tensor,
        source_pose: Pose,
        driving_pose: Pose,
        expression: torch.Tensor,
        expr_on: torch.Tensor,
        pose_on: torch.Tensor,
        num_frames: int = 1,
        reference: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Noise prediction for `noisy` (N, C, H, W); call `encode_reference` first or pass `reference`."""
        if reference is not None:
            self.encode_reference(reference)
        self.state.ref_index = ref_index
        self._pose_ctx = (source_pose, driving_pose, pose_on.to(noisy.dtype))
        self._num_frames = num_frames
        h, w = noisy.shape[-2:]
        rays = torch.cat([ray_map(source_pose, h, w), ray_map(driving_pose, h, w)], dim=1).to(noisy.dtype)
        x = torch.cat([noisy, rays * pose_on[:, None, None, None].to(noisy.dtype)], dim=1)
        ctx = self.expression_tokens(expression, expr_on)
        try:
            return self.denoiser(x, timesteps, encoder_hidden_states=ctx).sample
        finally:
            self._pose_ctx = None
