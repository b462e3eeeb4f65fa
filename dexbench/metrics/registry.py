"""The metric registry: every metric declares its direction, range, inputs and version (as pyiqa/torchmetrics do).

A metric belongs to a *family* (`dexbench.metrics.families`): the scorer that computes it together with its
siblings from one network pass (LPIPS, FID+KID, the motion metrics from one face analysis, ...). Two levels:
- "clip": one value per clip (per-frame values reduced by the family, usually a mean over frames); aggregates are
  the mean over clips with a bootstrap CI;
- "set": one value over the whole test set (FID, KID, FVD): no per-clip values, no bootstrap CI.
Full-reference frame metrics (L1/PSNR/SSIM) also expose their functional core as `compute(output, target)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dexbench.errors import DexbenchError

FrameMetric = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    value_range: tuple[float, float]
    needs: frozenset[str]  # inputs beyond the output frames: "target", "source", "driver", ...
    version: str
    unit: str
    description: str
    compute: FrameMetric | None = field(default=None, repr=False)  # per-frame functional core, where one exists
    provenance: dict[str, str] = field(default_factory=dict)  # extractor, settings: recorded with every result
    family: str = "fidelity"  # the scorer computing it (see dexbench.metrics.families)
    level: str = "clip"  # "clip" (per-clip values + bootstrap CI) or "set" (one value over the test set)


_REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"metric {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    from dexbench.metrics import families  # noqa: F401 - registers every built-in metric on import


def all_metrics() -> dict[str, MetricSpec]:
    _ensure_builtin()
    return dict(_REGISTRY)


def get_metric(name: str) -> MetricSpec:
    metrics = all_metrics()
    if name not in metrics:
        raise DexbenchError(f"unknown metric {name!r}", f"available: {', '.join(sorted(metrics))}")
    return metrics[name]
