"""Warp the source volume by the relative pose, fuse, flatten, and decode with AdaIN(appearance ⊕ expression)."""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F

from dexbench.model.config import MotionConfig
from dexbench.model.motion.blocks import ResBlock3d, StyledBlock
from dexbench.model.motion.encoders import AppearanceEncoder, ExpressionEncoder, PoseEncoder
from dexbench.model.pose import Pose
from dexbench.model.warp import warp_image, warp_volume


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
        self.skip = nn.Conv2d(c[-1] + 3, c[-1], 3, padding=1) if cfg.image_skip else None
        self.to_rgb = nn.Conv2d(c[-1], 3, 1)

    def forward(
        self, flat: torch.Tensor, feat: torch.Tensor, style: torch.Tensor, warped_image: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.inp(torch.cat([flat, feat], dim=1))
        for stage in self.stages:
            h = stage(h, style)
        if self.skip is not None:
            h = h + F.leaky_relu(self.skip(torch.cat([h, warped_image], dim=1)), 0.2)
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
        # auxiliary read-out of the annotated expression parameters (training only; see loss.expression_prior)
        self.expression_head = nn.Linear(cfg.expression_dim, cfg.expression_targets) if cfg.expression_targets else None

    def render(
        self, source: torch.Tensor, source_pose: Pose, driving_pose: Pose, expression: torch.Tensor
    ) -> torch.Tensor:
        """The source's identity in `driving_pose` with `expression` (a code from the expression encoder)."""
        vol, app, feat = self.appearance_encoder(source)
        if len(driving_pose) != len(vol):  # one source, many driving frames
            n = len(driving_pose) // len(vol)
            vol, app, feat, source = (x.repeat_interleave(n, dim=0) for x in (vol, app, feat, source))
            source_pose = source_pose.repeat_interleave(n)
        warped = warp_volume(vol, source_pose, driving_pose)
        fused = self.fuse(torch.cat([vol, warped], dim=1))
        b, c, d, h, w = fused.shape
        image = warp_image(source, source_pose, driving_pose) if self.cfg.image_skip else None
        return self.decoder(fused.reshape(b, c * d, h, w), feat, torch.cat([app, expression], dim=1), image)

    def forward(
        self, source: torch.Tensor, pose_input: torch.Tensor, expression_input: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Training pass (through DDP when wrapped): pose_input = [source; driving] views, B each.

        Returns the prediction, both poses as plain tensors, the expression code and the auxiliary head's read-out
        of it (inside forward so that DDP sees every parameter used; (B, 0) without a head):
        (pred, R_s, t_s, s_s, R_d, t_d, s_d, z_d, expression_readout).
        """
        b = source.shape[0]
        poses = self.pose_encoder(pose_input)
        pose_s, pose_d = poses.index(slice(0, b)), poses.index(slice(b, 2 * b))
        code = self.expression_encoder(expression_input)
        pred = self.render(source, pose_s, pose_d, code)
        return (
            pred,
            pose_s.rotation,
            pose_s.translation,
            pose_s.scale,
            pose_d.rotation,
            pose_d.translation,
            pose_d.scale,
            code,
            self.expression_head(code) if self.expression_head is not None else code[:, :0],
        )
