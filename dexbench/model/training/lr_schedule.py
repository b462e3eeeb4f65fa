"""A run's learning-rate schedule: the configured rates, then a linear fall over the run's last steps.

This is the warmup-stable-decay shape without the warmup (Adam at these rates needs none here): a run held at its
rate and cooled at the end, as pix2pixHD and SPADE cool both the generator and the discriminator. The fall follows
the step number and the run's length alone, so a run resumed toward the same length meets the same rates as an
uninterrupted one (the loop notes a resume toward another length).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def lr_factor(step: int, total: int, decay: float) -> float:
    """The factor on the configured rates at `step` (1-based) of a `total`-step run whose last `decay` fraction of
    steps falls linearly: 1 before, then n/(n+1) ... 1/(n+1) over those n steps (never 0: the last step still moves).
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"lr_decay must lie in [0, 1], got {decay}")
    n = round(decay * total)
    return min(1.0, (total - step + 1) / (n + 1)) if n else 1.0


class LinearDecay:
    """Sets every parameter group's learning rate to its configured rate x lr_factor before each step."""

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer], total: int, decay: float) -> None:
        lr_factor(1, total, decay)  # refuse a bad fraction before training starts
        self.total, self.decay = total, decay
        # the configured rates, read before a checkpoint's optimiser state (which holds decayed rates) is loaded
        self.base = {name: [float(g["lr"]) for g in opt.param_groups] for name, opt in optimizers.items()}

    @property
    def record(self) -> dict[str, float | int]:
        """What a checkpoint keeps of the schedule, to tell a resume toward another one."""
        return {"steps": self.total, "lr_decay": self.decay}

    def apply(self, optimizers: Mapping[str, torch.optim.Optimizer], step: int) -> float:
        """Set the rates of `step`; the groups are looked up each time, since loading a state replaces them."""
        factor = lr_factor(step, self.total, self.decay)
        for name, opt in optimizers.items():
            for group, base in zip(opt.param_groups, self.base[name], strict=True):
                group["lr"] = base * factor
        return factor
