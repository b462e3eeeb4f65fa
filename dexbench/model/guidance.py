"""Progressive hybrid classifier-free guidance (PAPER.md): expression-free first steps, a blend, then everything.

With N denoising steps and the step counter t running N, N-1, ..., 1 (t = N - i for loop index i):
- t > N - k_free:                   e_c = e(c without expression)
- N - k_free - k_blend < t <= N - k_free: e_c = (1 - a) e(c without expression) + a e(c), a rising linearly
                                    a = j / (k_blend + 1) for the j-th blend step (j = 1..k_blend), so the blend
                                    never repeats either end point
- otherwise:                        e_c = e(c)
and the guided prediction is e = e(0) + w (e_c - e(0)) (plain CFG with w, around the unconditional e(0)).
With N = 35, k_free = k_blend = 5, w = 2.5 this is the paper's schedule (30 < t <= 35 free, 25 < t <= 30 blend).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GuidanceSchedule:
    steps: int = 35
    expression_free_steps: int = 5
    blend_steps: int = 5
    scale: float = 2.5

    def __post_init__(self) -> None:
        if self.steps < 1 or self.expression_free_steps < 0 or self.blend_steps < 0:
            raise ValueError("guidance: steps >= 1, expression_free_steps >= 0, blend_steps >= 0")

    def expression_weight(self, i: int) -> float:
        """Weight a of the full condition at loop index i (0-based): 0 while expression-free, 1 at the end."""
        if i < self.expression_free_steps:
            return 0.0
        j = i - self.expression_free_steps + 1
        if j <= self.blend_steps:
            return j / (self.blend_steps + 1)
        return 1.0

    def weights(self) -> list[float]:
        return [self.expression_weight(i) for i in range(self.steps)]

    def combine(self, i: int, e_uncond: torch.Tensor, e_no_expr: torch.Tensor | None, e_full: torch.Tensor | None):
        """The guided noise prediction at loop index i (pass None for a branch the weight does not need)."""
        a = self.expression_weight(i)
        if a == 0.0:
            e_c = e_no_expr
        elif a == 1.0:
            e_c = e_full
        else:
            e_c = (1.0 - a) * e_no_expr + a * e_full
        return e_uncond + self.scale * (e_c - e_uncond)

    def branches(self, i: int) -> tuple[bool, bool]:
        """Which conditional branches step i evaluates: (no-expression, full)."""
        a = self.expression_weight(i)
        return a < 1.0, a > 0.0
