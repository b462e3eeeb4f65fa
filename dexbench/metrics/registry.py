"""The metric registry: every metric declares its direction, range, inputs and version (as pyiqa/torchmetrics do).

A metric's functional core maps a batch of output frames and a batch of target frames to one value per frame; the
evaluation loop reduces frames to a per-clip value (mean) and clips to an aggregate with a bootstrap CI.
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
    compute: FrameMetric = field(repr=False)
    provenance: dict[str, str] = field(default_factory=dict)  # extractor, settings: recorded with every result


_REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"metric {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    from dexbench.metrics import fidelity  # noqa: F401 - registers on import


def all_metrics() -> dict[str, MetricSpec]:
    _ensure_builtin()
    return dict(_REGISTRY)


def get_metric(name: str) -> MetricSpec:
    metrics = all_metrics()
    if name not in metrics:
        raise DexbenchError(f"unknown metric {name!r}", f"available: {', '.join(sorted(metrics))}")
    return metrics[name]
