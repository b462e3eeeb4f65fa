"""Fréchet distance between Gaussians (FID, FVD) and the kernel inception distance (KID), all in float64.

`RunningGaussian` accumulates the mean and covariance of a feature stream in O(d^2) memory, so FID's memory does
not grow with the number of frames; `Reservoir` keeps a seeded uniform sample of bounded size for KID, which needs
the features themselves.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric PSD S1, S2, through two symmetric eigendecompositions.

    S1 S2 is similar to S1^(1/2) S2 S1^(1/2), which is symmetric PSD, so the trace of the root is the sum of the
    square roots of that matrix's eigenvalues. This is exact up to round-off, needs no complex arithmetic, and at
    d = 2048 takes seconds where a general matrix square root (scipy.linalg.sqrtm) takes minutes on a CPU.
    """
    w, v = linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ s2 @ root1
    lam = linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), float64.

    Covariances are symmetrised and their round-off negative eigenvalues clipped at zero, so (near) singular
    statistics, as with fewer samples than feature dimensions, need no regularisation.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"feature statistics differ in shape: {mu1.shape}/{s1.shape} vs {mu2.shape}/{s2.shape}")
    if not (np.isfinite(s1).all() and np.isfinite(s2).all() and np.isfinite(mu1).all() and np.isfinite(mu2).all()):
        raise ValueError("feature statistics contain NaN or infinity")
    diff = mu1 - mu2
    s1, s2 = (s1 + s1.T) / 2.0, (s2 + s2.T) / 2.0
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2))


def fid_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The Fréchet distance with round-off below zero (identical sets give about -1e-10) reported as 0."""
    return max(0.0, frechet_distance(mu1, sigma1, mu2, sigma2))


class RunningGaussian:
    """Streaming mean and (unbiased, ddof=1) covariance of feature vectors in float64."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sum = np.zeros(dim, np.float64)
        self.outer = np.zeros((dim, dim), np.float64)

    def update(self, feats: np.ndarray) -> None:
        f = np.asarray(feats, np.float64).reshape(-1, len(self.sum))
        self.n += len(f)
        self.sum += f.sum(axis=0)
        self.outer += f.T @ f

    @property
    def mean(self) -> np.ndarray:
        return self.sum / max(self.n, 1)

    @property
    def cov(self) -> np.ndarray:
        if self.n < 2:
            raise ValueError("a covariance needs at least two feature vectors")
        mu = self.mean
        return (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)


class Reservoir:
    """A seeded uniform sample of at most `capacity` rows of a stream (Algorithm R), for KID."""

    def __init__(self, capacity: int, dim: int, seed: int) -> None:
        self.capacity = capacity
        self.rows = np.zeros((capacity, dim), np.float32)
        self.seen = 0
        self.rng = np.random.default_rng(seed)

    def update(self, feats: np.ndarray) -> None:
        for row in np.asarray(feats, np.float32).reshape(-1, self.rows.shape[1]):
            if self.seen < self.capacity:
                self.rows[self.seen] = row
            else:
                j = int(self.rng.integers(0, self.seen + 1))
                if j < self.capacity:
                    self.rows[j] = row
            self.seen += 1

    @property
    def sample(self) -> np.ndarray:
        return self.rows[: min(self.seen, self.capacity)]


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3, KID's kernel (Binkowski et al. 2018)."""
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased estimate of MMD^2 with the polynomial kernel (diagonal terms excluded)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def kid(
    x: np.ndarray, y: np.ndarray, *, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float, int]:
    """KID: the mean (and std) of unbiased MMD^2 over random subsets of equal size; returns (mean, std, size)."""
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least two feature vectors on each side")
    rng = np.random.default_rng(seed)
    vals = [
        mmd2_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
        for _ in range(n_subsets)
    ]
    return float(np.mean(vals)), float(np.std(vals)), size
