from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dexbench.metrics.bootstrap import bootstrap_mean
from dexbench.metrics.fidelity import PSNR_CAP_DB, l1, psnr, ssim
from dexbench.metrics.registry import all_metrics, get_metric


def _pair(seed: int = 0, n: int = 3, size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    noisy = np.clip(target.astype(int) + rng.normal(0, 12, target.shape), 0, 255).astype(np.uint8)
    return noisy, target


def test_psnr_matches_scikit_image() -> None:
    out, tgt = _pair()
    ours = psnr(out, tgt)
    ref = [peak_signal_noise_ratio(t, o, data_range=255) for o, t in zip(out, tgt, strict=True)]
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_ssim_matches_scikit_image() -> None:
    out, tgt = _pair()
    ours = ssim(out, tgt)
    ref = [
        structural_similarity(
            o, t, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        for o, t in zip(out, tgt, strict=True)
    ]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_l1_is_mean_absolute_error() -> None:
    out, tgt = _pair()
    expected = np.abs(out.astype(float) - tgt.astype(float)).mean(axis=(1, 2, 3)) / 255
    np.testing.assert_allclose(l1(out, tgt), expected)


def test_identical_frames_hit_the_ceiling() -> None:
    _, tgt = _pair()
    assert np.all(psnr(tgt, tgt) == PSNR_CAP_DB)
    np.testing.assert_allclose(ssim(tgt, tgt), 1.0)
    assert np.all(l1(tgt, tgt) == 0)


@pytest.mark.parametrize("sigma", [4, 16])
def test_more_noise_is_worse_on_every_metric(sigma: float) -> None:
    rng = np.random.default_rng(1)
    tgt = np.tile(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], (2, 48, 1, 3)).astype(np.uint8)

    def noisy(s: float) -> np.ndarray:
        return np.clip(tgt + rng.normal(0, s, tgt.shape), 0, 255).astype(np.uint8)

    mild, strong = noisy(sigma), noisy(sigma * 2)
    for spec in (get_metric("l1"), get_metric("psnr"), get_metric("ssim")):
        a, b = spec.compute(mild, tgt).mean(), spec.compute(strong, tgt).mean()
        assert (a > b) if spec.higher_is_better else (a < b), spec.name


def test_registry_declares_direction_and_range() -> None:
    metrics = all_metrics()
    assert {"l1", "psnr", "ssim"} <= set(metrics)
    assert metrics["psnr"].higher_is_better and not metrics["l1"].higher_is_better
    for m in metrics.values():
        assert m.value_range[0] < m.value_range[1]
        assert m.version and m.provenance


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    v = np.random.default_rng(3).normal(5.0, 1.0, 200)
    a = bootstrap_mean(v, seed=7)
    b = bootstrap_mean(v, seed=7)
    assert a == b
    assert a.ci_low < a.mean < a.ci_high
    assert a.ci_high - a.ci_low < 0.5
    assert bootstrap_mean(np.array([np.nan, 1.0, 3.0])).n == 2
    assert np.isnan(bootstrap_mean(np.array([])).mean)
