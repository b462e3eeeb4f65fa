"""Bootstrap statistics over clips: a seeded percentile CI for the mean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_mean(values: np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of `values` with a percentile bootstrap CI; NaNs (clips a metric could not score) are dropped."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
    means = v[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(float(v.mean()), float(lo), float(hi), len(v))
