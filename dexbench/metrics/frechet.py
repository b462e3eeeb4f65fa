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


def frechet_low_rank(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance of two feature sets given as rows, exact, for sets smaller than the dimension.

    With centred rows A (n1 x d) and B (n2 x d), S1 = A'A / (n1 - 1) and S2 = B'B / (n2 - 1); the non-zero
    eigenvalues of S1 S2 are those of (A B')(A B')' / ((n1 - 1)(n2 - 1)), so tr((S1 S2)^(1/2)) is the sum of the
    singular values of A B' / sqrt((n1 - 1)(n2 - 1)): an n1 x n2 SVD instead of two d x d eigendecompositions.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two sets of >= 2 feature rows of one dimension, got {a.shape} and {b.shape}")
    mu1, mu2 = a.mean(0), b.mean(0)
    ca, cb = a - mu1, b - mu2
    n1, n2 = len(a) - 1, len(b) - 1
    trace_root = linalg.svdvals(ca @ cb.T).sum() / np.sqrt(n1 * n2)
    diff = mu1 - mu2
    return float(diff @ diff + (ca * ca).sum() / n1 + (cb * cb).sum() / n2 - 2.0 * trace_root)


def fid_from_gaussians(g1: RunningGaussian, g2: RunningGaussian) -> float:
    """FID of two streams: the exact low-rank form while both kept their rows (fewer than d), else the moments."""
    rows1, rows2 = g1.rows, g2.rows  # each a concatenation: read once
    if rows1 is not None and rows2 is not None:
        return max(0.0, frechet_low_rank(rows1, rows2))
    return fid_from_stats(g1.mean, g1.cov, g2.mean, g2.cov)


class RunningGaussian:
    """Streaming mean and (unbiased, ddof=1) covariance of feature vectors in float64.

    While fewer than `dim` vectors have arrived, the vectors themselves are kept too (no more memory than the
    d x d moment matrix), so `fid_from_gaussians` can use the exact low-rank form; `rows` is None after that.
    """

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sum = np.zeros(dim, np.float64)
        self.outer = np.zeros((dim, dim), np.float64)
        self._rows: list[np.ndarray] | None = []

    def update(self, feats: np.ndarray) -> None:
        f = np.asarray(feats, np.float64).reshape(-1, len(self.sum))
        self.n += len(f)
        self.sum += f.sum(axis=0)
        self.outer += f.T @ f
        if self._rows is not None:
            self._rows.append(f)
            if self.n >= len(self.sum):
                self._rows = None

    @property
    def rows(self) -> np.ndarray | None:
        """Every vector seen, while there are fewer than `dim`; else None."""
        if not self._rows:
            return None
        return np.concatenate(self._rows)

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
    return _mmd2_from_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2_from_kernels(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m, n = len(kxx), len(kyy)
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
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    # every subset's kernel entries are entries of the full kernel matrices: computing those once costs one
    # (<= 4096-row) product per pair of sets instead of three subset products per subset
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    vals = []
    for _ in range(n_subsets):
        i, j = rng.choice(len(x), size, replace=False), rng.choice(len(y), size, replace=False)
        vals.append(_mmd2_from_kernels(kxx[np.ix_(i, i)], kyy[np.ix_(j, j)], kxy[np.ix_(i, j)]))
    return float(np.mean(vals)), float(np.std(vals)), size
