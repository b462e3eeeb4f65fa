"""An exponential moving average of a model's weights, the copy a GAN or diffusion trainer samples from.

StyleGAN2(-ADA) and most diffusion trainers evaluate an average of the recent weights rather than the last step's:
the last step carries the optimiser's noise (Adam at a high learning rate, an adversarial term), the average does
not. The half-life is in optimiser steps and ramps up with the run (`rampup` x the steps so far, capped at
`half_life`), as StyleGAN2-ADA's `ema_rampup` does, so the random initialisation is forgotten early on.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    def __init__(self, model: torch.nn.Module, half_life: float, rampup: float = 0.0) -> None:
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0 steps, got {half_life}")
        self.half_life, self.rampup = float(half_life), float(rampup)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def decay(self, step: int) -> float:
        h = self.half_life if self.rampup <= 0 else min(self.half_life, self.rampup * step)
        return 0.5 ** (1.0 / max(h, 1e-8))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Move the average toward `model` (the unwrapped trained model) after optimiser step `step` (1-based)."""
        beta = self.decay(step)
        for avg, cur in zip(self.model.parameters(), model.parameters(), strict=True):
            avg.lerp_(cur.detach(), 1.0 - beta)
        for avg, cur in zip(self.model.buffers(), model.buffers(), strict=True):
            avg.copy_(cur)  # running statistics and constants follow the trained model
