"""Run modules with their parameters frozen, so a loss through them trains only what feeds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """Within the block no parameter of `modules` takes a gradient; on leaving it (an exception included) each
    parameter gets back the flag it had, so a module that was already partly frozen stays so. The gradient still
    flows *through* the modules to their inputs, which is the point: a frozen judge or read-back pushes only the
    generator behind it."""
    params = list(dict.fromkeys(p for m in modules for p in m.parameters()))
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before, strict=True):
            p.requires_grad_(flag)
