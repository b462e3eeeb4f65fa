"""Warp the source volume by the relative pose, fuse, flatten, and decode with AdaIN(appearance ⊕ expression)."""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn

from dexbench.model.config import MotionConfig
from dexbench.model.motion.blocks import ResBlock3d, StyledBlock
from dexbench.model.motion.encoders import AppearanceEncoder, ExpressionEncoder, PoseEncoder
from dexbench.model.pose import Pose
from dexbench.model.warp import warp_volume


class Decoder(nn.Module):
    """Flattened volume (C*D x S x S) -> image, every stage AdaIN-modulated by the style code.

    The source's 2-D features join at the first stage (the paper injects them at its decoder's 4th layer).
    """

    def __init__(self, cfg: MotionConfig, feat_channels: int) -> None:
        super().__init__()
        style = cfg.appearance_dim + cfg.expression_dim
        c = cfg.decoder_channels
        self.inp = nn.Conv2d(cfg.volume_channels * cfg.volume_depth + feat_channels, c[0], 3, padding=1)
        self.stages = nn.ModuleList([StyledBlock(c[0], c[0], style, upsample=False)])
        for cin, cout in itertools.pairwise(c):
            self.stages.append(StyledBlock(cin, cout, style, upsample=True))
        self.to_rgb = nn.Conv2d(c[-1], 3, 1)

    def forward(self, flat: torch.Tensor, feat: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([flat, feat], dim=1))
        for stage in self.stages:
            h = stage(h, style)
        return torch.tanh(self.to_rgb(h))


class MotionGenerator(nn.Module):
    """The stage-1 model: encoders + relative-pose warp + AdaIN decoder. Images in [-1, 1], (B, 3, S, S)."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        n_up = len(cfg.decoder_channels) - 1
        if cfg.volume_size * 2**n_up != cfg.image_size:
            raise ValueError("motion config: volume_size * 2**(len(decoder_channels) - 1) must equal image_size")
        self.cfg = cfg
        self.pose_encoder = PoseEncoder(cfg)
        self.expression_encoder = ExpressionEncoder(cfg)
        self.appearance_encoder = AppearanceEncoder(cfg)
        self.fuse = ResBlock3d(2 * cfg.volume_channels, cfg.volume_channels)
        feat_channels = self.appearance_encoder.lift.in_channels
        self.decoder = Decoder(cfg, feat_channels)

    def render(
        self, source: torch.Tensor, source_pose: Pose, driving_pose: Pose, expression: torch.Tensor
    ) -> torch.Tensor:
        """The source's identity in `driving_pose` with `expression` (a code from the expression encoder)."""
        vol, app, feat = self.appearance_encoder(source)
        if len(driving_pose) != len(vol):  # one source, many driving frames
            n = len(driving_pose) // len(vol)
            vol, app, feat = (x.repeat_interleave(n, dim=0) for x in (vol, app, feat))
            source_pose = source_pose.repeat_interleave(n)
        warped = warp_volume(vol, source_pose, driving_pose)
        fused = self.fuse(torch.cat([vol, warped], dim=1))
        b, c, d, h, w = fused.shape
        return self.decoder(fused.reshape(b, c * d, h, w), feat, torch.cat([app, expression], dim=1))

    def forward(
        self, source: torch.Tensor, pose_input: torch.Tensor, expression_input: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Training pass (through DDP when wrapped): pose_input = [source; driving] views, B each.

        Returns the prediction and both poses as plain tensors: (pred, R_s, t_s, s_s, R_d, t_d, s_d).
        """
        b = source.shape[0]
        poses = self.pose_encoder(pose_input)
        pose_s, pose_d = poses.index(slice(0, b)), poses.index(slice(b, 2 * b))
        pred = self.render(source, pose_s, pose_d, self.expression_encoder(expression_input))
        return (
            pred,
            pose_s.rotation,
            pose_s.translation,
            pose_s.scale,
            pose_d.rotation,
            pose_d.translation,
            pose_d.scale,
        )
