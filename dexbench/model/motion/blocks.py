"""Small building blocks shared by the stage-1 networks."""

from __future__ import annotations

import functools
import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 -> LayerNorm -> pointwise MLP, residual (the ConvNeXt block, at any width)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.GroupNorm(1, channels)
        self.pw1 = nn.Conv2d(channels, 4 * channels, 1)
        self.pw2 = nn.Conv2d(4 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(F.gelu(self.pw1(self.norm(self.dw(x)))))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=2, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        return h + self.skip(x)


class ResBlock3d(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, cin)
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(self.norm(x), 0.2)), 0.2))
        return h + self.skip(x)


class AdaIN(nn.Module):
    """Instance norm whose per-channel scale and shift come from a style vector."""

    eps = 1e-5  # nn.InstanceNorm2d's

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # the norm folded into one per-channel scale and shift: InstanceNorm2d's own kernel views x as one (1, B C,
        # H, W) batch, which turns channels-last activations into an NCHW copy at every call
        wide = torch.promote_types(x.dtype, torch.float32)  # statistics and the affine at least in float32
        gamma, beta = self.affine(style).to(wide)[:, :, None, None].chunk(2, dim=1)
        var, mean = torch.var_mean(x.to(wide), dim=(2, 3), keepdim=True, correction=0)
        scale = (1.0 + gamma) * torch.rsqrt(var + self.eps)
        if x.dtype == wide:
            return x * scale + (beta - mean * scale)
        # under bf16 autocast: x * scale and the shift would each round to bf16 and then cancel
        return ((x.to(wide) - mean) * scale + beta).to(x.dtype)


class StyledBlock(nn.Module):
    """Upsample x2 (optional) -> conv -> AdaIN -> conv -> AdaIN: a StyleGAN2-style decoder stage."""

    def __init__(self, cin: int, cout: int, style_dim: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.ada1 = AdaIN(cout, style_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.ada2 = AdaIN(cout, style_dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.ada1(self.conv1(x), style), 0.2)
        return F.leaky_relu(self.ada2(self.conv2(x), style), 0.2)


def channels_last(module: nn.Module) -> nn.Module:
    """`module` with its 2-D conv weights channels-last (3-D: channels-last-3d), in place; returned.

    A convolution's output follows its weight's memory format, so the activations of the whole network turn
    channels-last. On CPU oneDNN ran this model's 64-px convolutions 1.5-2.5x faster so (forward + backward, in
    isolation), and tiny's stage 1 ~9 % faster in bench/train_speed.py with 2 processes (README.md); cuDNN's bf16
    kernels prefer the layout too.
    Values are the same up to float rounding; checkpoints hold contiguous (NCHW) copies, so they load either way.
    The weights are copied into fresh channels-last storage rather than made `.contiguous(...)`, which leaves a 1x1
    kernel's NCHW strides alone (it is "contiguous" in both layouts). A kernel of size 1 also gets a gradient hook:
    its gradient's strides on the size-1 dims follow whichever kernel computed it (channels-last from a 1x1 conv,
    NCDHW from a 1x1x1 conv3d here), and DDP, which compares all strides, warned ("Grad strides do not match bucket
    view strides") and copied at every step.
    """
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    for p in module.parameters():
        if p.dim() in formats:
            p.data = torch.empty_like(p.data, memory_format=formats[p.dim()]).copy_(p.data)
            if all(k == 1 for k in p.shape[2:]) and p.requires_grad:
                p.register_hook(functools.partial(_in_layout_of, p))
    return module


def _in_layout_of(param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """`grad` with `param`'s exact strides (the same memory order for a size-1 kernel: a copy of a few hundred
    values)."""
    return grad if grad.stride() == param.stride() else torch.empty_like(param, dtype=grad.dtype).copy_(grad)


def cat_channels(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenated along channels, channels-last: a cat of mixed layouts (a warped image beside channels-last
    features) comes out NCHW, and the convolution reading it would convert it, and its gradient, at every call."""
    return torch.cat([t.contiguous(memory_format=torch.channels_last) for t in tensors], dim=1)


def conv_stem(channels: tuple[int, ...]) -> nn.Sequential:
    """A 2x2 patchify conv (3 -> channels[0], half resolution; ConvNeXt's stem, shallower), then one stride-2
    DownBlock per further width."""
    layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 2, stride=2)]
    for cin, cout in itertools.pairwise(channels):
        layers.append(DownBlock(cin, cout))
    return nn.Sequential(*layers)
