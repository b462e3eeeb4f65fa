"""Temporal attention over the frames of a clip at every pixel (the denoiser's last stage, zero-initialised)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def frame_positions(n: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(n, dim) sinusoidal embedding of frame indices (no maximum clip length)."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=dtype) / max(half, 1))
    ang = torch.arange(n, device=device, dtype=dtype)[:, None] * freq[None]
    emb = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
    return nn.functional.pad(emb, (0, dim - emb.shape[1]))


class TemporalAttention(nn.Module):
    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)  # starts as the identity: image training is unaffected
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """x: (G * T, C, H, W), frames of a clip consecutive."""
        if num_frames <= 1:
            return x
        n, c, h, w = x.shape
        g = n // num_frames
        tok = x.reshape(g, num_frames, c, h * w).permute(0, 3, 1, 2).reshape(g * h * w, num_frames, c)
        q = self.norm(tok) + frame_positions(num_frames, c, x.device, x.dtype)[None]
        tok = tok + self.attn(q, q, q, need_weights=False)[0]
        return tok.reshape(g, h * w, num_frames, c).permute(0, 2, 3, 1).reshape(n, c, h, w)
