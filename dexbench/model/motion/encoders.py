"""The three stage-1 encoders: explicit pose, latent expression, appearance volume."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dexbench.model.config import MotionConfig
from dexbench.model.motion.blocks import ConvNeXtBlock, DownBlock, conv_stem
from dexbench.model.pose import Pose
from dexbench.model.rotation import rotation_6d_to_matrix

_IDENTITY_6D = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


class PoseEncoder(nn.Module):
    """Image -> Pose (R from a 6-D output, t in the image plane, s > 0). ConvNeXt blocks on a strided stem."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        c = cfg.encoder_channels
        self.stem = conv_stem(c)
        self.blocks = nn.Sequential(ConvNeXtBlock(c[-1]), ConvNeXtBlock(c[-1]))
        self.head = nn.Linear(c[-1], 9)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor) -> Pose:
        h = self.blocks(self.stem(image)).mean(dim=(2, 3))
        out = self.head(h)
        rot = rotation_6d_to_matrix(out[:, :6] + _IDENTITY_6D.to(out))
        # scale around SynthHeads' typical 0.6; softplus keeps it positive whatever the head outputs
        scale = F.softplus(out[:, 8] + 0.5) * 0.6 / F.softplus(torch.tensor(0.5))
        return Pose(rot, out[:, 6:8], scale)


class ExpressionEncoder(nn.Module):
    """Image -> 1-D expression latent. The paper builds it on a FAN (stacked hourglass); tiny: an hourglass-lite."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        c = cfg.encoder_channels
        self.stem = conv_stem(c)
        self.up = nn.Conv2d(c[-1], c[-1], 3, padding=1)  # one hourglass return path at the coarsest two scales
        self.blocks = nn.Sequential(ConvNeXtBlock(c[-1]), ConvNeXtBlock(c[-1]))
        self.head = nn.Linear(2 * c[-1], cfg.expression_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = self.stem(image)
        low = F.avg_pool2d(h, 2)
        h = h + self.up(F.interpolate(low, size=h.shape[-2:], mode="nearest"))
        h = self.blocks(h)
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


class GlimpseExpressionEncoder(nn.Module):
    """Pose-normalised part glimpses (3 x 3 channels, glimpse_size^2; see glimpses.py) -> 1-D expression latent.

    Tiny's stand-in for the paper's FAN on aligned faces: the alignment is done by the pose encoder's estimate, and
    the network sees eyes and mouth only. Convs on the channel-stacked glimpses, ConvNeXt blocks, mean + max pool.
    """

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        c = cfg.encoder_channels
        parts = len(cfg.glimpse_anchors)
        self.inp = nn.Conv2d(3 * parts, c[1], 3, padding=1)
        self.down = nn.Sequential(DownBlock(c[1], c[-1]), DownBlock(c[-1], c[-1]))
        self.blocks = nn.Sequential(ConvNeXtBlock(c[-1]), ConvNeXtBlock(c[-1]))
        self.head = nn.Linear(2 * c[-1], cfg.expression_dim)

    def forward(self, glimpses: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.down(F.leaky_relu(self.inp(glimpses), 0.2)))
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


class AppearanceEncoder(nn.Module):
    """Image -> (3-D feature volume C x D x S x S, appearance latent). 2-D convs, a lift, then 3-D convs."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        n_down = 0
        size = cfg.image_size // 2  # the patchify stem halves
        while size > cfg.volume_size:
            size //= 2
            n_down += 1
        widths = tuple(min(cfg.feature_channels, 16 * 2**i) for i in range(n_down + 1))
        self.stem = conv_stem(widths)
        self.lift = nn.Conv2d(widths[-1], cfg.volume_channels * cfg.volume_depth, 1)
        self.conv3d = nn.Sequential(
            nn.Conv3d(cfg.volume_channels, cfg.volume_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv3d(cfg.volume_channels, cfg.volume_channels, 3, padding=1),
        )
        self.latent = nn.Sequential(  # the appearance style code (paper: 5 conv layers -> 2048-d)
            nn.Conv2d(widths[-1], widths[-1], 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(widths[-1], widths[-1], 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.latent_head = nn.Linear(widths[-1], cfg.appearance_dim)
        self.channels, self.depth = cfg.volume_channels, cfg.volume_depth

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feat = self.stem(image)
        b, _, h, w = feat.shape
        vol = self.lift(feat).reshape(b, self.channels, self.depth, h, w)
        vol = vol + self.conv3d(vol)
        code = self.latent_head(self.latent(feat).mean(dim=(2, 3)))
        return vol, code, feat
