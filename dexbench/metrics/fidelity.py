"""Full-reference fidelity metrics on uint8 RGB frames, computed in [0, 1] (data range 1.0)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import MetricUnavailable, Sample, Scorer

# MSE floor for identical frames: PSNR of a perfect frame is reported as this cap rather than infinity, so means
# and confidence intervals stay finite; the cap is recorded with every result.
PSNR_CAP_DB = 100.0


def _unit(frames: np.ndarray) -> np.ndarray:
    return np.asarray(frames, dtype=np.float64) / 255.0


def l1(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean absolute error per frame, pixels in [0, 1]."""
    return np.abs(_unit(output) - _unit(target)).mean(axis=(1, 2, 3))


def psnr(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame PSNR in dB over all pixels and channels (data range 1), capped at PSNR_CAP_DB."""
    mse = ((_unit(output) - _unit(target)) ** 2).mean(axis=(1, 2, 3))
    floor = 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * np.log10(1.0 / np.maximum(mse, floor))


def ssim(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, population covariance), channel mean."""
    out, tgt = _unit(output), _unit(target)
    return np.array(
        [
            structural_similarity(
                o, t, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            )
            for o, t in zip(out, tgt, strict=True)
        ]
    )


L1 = register(
    MetricSpec(
        name="l1",
        higher_is_better=False,
        value_range=(0.0, 1.0),
        needs=frozenset({"target"}),
        version="1",
        unit="",
        description="Mean absolute pixel error, RGB in [0, 1].",
        compute=l1,
        provenance={"frame_format": "uint8 RGB scaled to [0, 1]", "reduction": "mean over pixels, frames, clips"},
    )
)
PSNR = register(
    MetricSpec(
        name="psnr",
        higher_is_better=True,
        value_range=(0.0, PSNR_CAP_DB),
        needs=frozenset({"target"}),
        version="1",
        unit="dB",
        description="Peak signal-to-noise ratio, data range 1.0, per frame then averaged.",
        compute=psnr,
        provenance={
            "frame_format": "uint8 RGB scaled to [0, 1]",
            "data_range": "1.0",
            "cap_db": str(PSNR_CAP_DB),
            "reduction": "per-frame PSNR, mean over frames, then clips",
        },
    )
)
SSIM = register(
    MetricSpec(
        name="ssim",
        higher_is_better=True,
        value_range=(-1.0, 1.0),
        needs=frozenset({"target"}),
        version="1",
        unit="",
        description="Structural similarity (scikit-image), Gaussian window sigma 1.5, mean over RGB channels.",
        compute=ssim,
        provenance={
            "implementation": "skimage.metrics.structural_similarity",
            "settings": "gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0",
            "reduction": "mean over channels, frames, then clips",
        },
    )
)


class FidelityScorer(Scorer):
    """L1 / PSNR / SSIM of every output frame against its ground-truth frame; per-clip value = mean over frames."""

    family = "fidelity"

    def start_task(self, task, manifest) -> dict[str, str]:
        if any(p.target == "none" for p in manifest.pairs):
            return dict.fromkeys(self.names, "no ground truth for this task on this dataset")
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        target = sample.target
        if target is None:
            raise MetricUnavailable("no ground truth for this task on this dataset")
        return {n: float(np.mean(_BY_NAME[n].compute(sample.output, target))) for n in self.names}

    def provenance(self, name: str) -> dict[str, str]:
        return dict(_BY_NAME[name].provenance)


_BY_NAME = {s.name: s for s in (L1, PSNR, SSIM)}
