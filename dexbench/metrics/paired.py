"""Paired bootstrap test between two methods scored on the same pairs (same manifest, same clip order).

The per-clip differences d = a - b are resampled over clips (seeded); the result gives the mean difference, its
percentile CI, and a two-sided p-value for "no difference": twice the smaller fraction of resampled mean
differences on either side of zero, floored at 1 / n_resamples. `better` names the method that wins on the
metric's direction when the difference is significant at 1 - confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedResult:
    mean_diff: float  # mean of a - b over clips
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    better: str | None  # "a", "b" or None (not significant)
    n: int  # clips with a finite value on both sides
    n_resamples: int
    confidence: float


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    higher_is_better: bool,
    n_resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedResult:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values need equal 1-d shapes, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    alpha = 1.0 - confidence
    if len(d) == 0:
        nan = float("nan")
        return PairedResult(nan, nan, nan, nan, False, None, 0, n_resamples, confidence)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_resamples, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    below, above = np.mean(means <= 0), np.mean(means >= 0)
    p = float(min(1.0, max(2 * min(below, above), 1.0 / n_resamples)))
    if np.all(d == 0):
        p = 1.0
    significant = p < alpha
    better = None
    if significant:
        a_larger = d.mean() > 0
        better = "a" if a_larger == higher_is_better else "b"
    return PairedResult(float(d.mean()), float(lo), float(hi), p, significant, better, len(d), n_resamples, confidence)
