"""Statistics: the paired bootstrap test between two methods on the same clips, and controlled degradations moving
each fidelity metric the right way."""

from __future__ import annotations

import numpy as np
import pytest

from dexbench.metrics.paired import paired_bootstrap
from dexbench.metrics.registry import get_metric


def test_paired_bootstrap_detects_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(30, 5, 60)  # clip difficulty dominates: an unpaired test would not see 0.5 dB
    a = base + 0.5 + rng.normal(0, 0.3, 60)
    b = base + rng.normal(0, 0.3, 60)
    r = paired_bootstrap(a, b, higher_is_better=True, n_resamples=4000, seed=1)
    assert r.significant and r.better == "a" and r.p_value < 0.01
    assert r.ci_low < r.mean_diff < r.ci_high and r.ci_low > 0
    # same data, lower-is-better metric: b wins
    assert paired_bootstrap(a, b, higher_is_better=False, n_resamples=4000, seed=1).better == "b"


def test_paired_bootstrap_without_a_difference() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, 40)
    b = a + rng.normal(0, 0.5, 40)
    b = b - (b - a).mean()  # exactly zero mean difference
    r = paired_bootstrap(a, b, higher_is_better=True, n_resamples=2000, seed=0)
    assert not r.significant and r.better is None and r.p_value > 0.5
    same = paired_bootstrap(a, a, higher_is_better=True, n_resamples=500)
    assert same.p_value == 1.0 and same.mean_diff == 0.0


def test_paired_bootstrap_is_seeded_and_drops_unscored_clips() -> None:
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    b = np.array([0.5, 1.0, 3.0, np.nan, 4.0, 5.5])
    r1 = paired_bootstrap(a, b, higher_is_better=True, n_resamples=300, seed=7)
    assert r1 == paired_bootstrap(a, b, higher_is_better=True, n_resamples=300, seed=7)
    assert r1.n == 4
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap(a, b[:3], higher_is_better=True)


def _face_like(seed: int = 3) -> np.ndarray:
    """Three SynthHeads frames at 96 px: real face-like structure for the degradations to destroy."""
    from dexbench.data.synth import render_clip, sample_identity, sample_motion

    frames, _, _ = render_clip(sample_identity(seed), sample_motion(seed, 3), 96)
    return np.asarray(frames)


def _blur(x: np.ndarray, s: float) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(f, (0, 0), s) for f in x])


def _noise(x: np.ndarray, s: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(x + rng.normal(0, s, x.shape), 0, 255).astype(np.uint8)


def _jpeg(x: np.ndarray, q: int) -> np.ndarray:
    from dexbench.io.jpeg import decode_jpeg, encode_jpeg

    return np.stack([decode_jpeg(encode_jpeg(f, q)) for f in x])


@pytest.mark.parametrize(
    "degrade, mild, strong", [(_blur, 0.8, 2.5), (_noise, 4.0, 16.0), (_jpeg, 80, 15)], ids=["blur", "noise", "jpeg"]
)
def test_degradation_moves_every_fidelity_metric_the_right_way(degrade, mild, strong) -> None:
    clean = _face_like()
    for name in ("l1", "psnr", "ssim"):
        spec = get_metric(name)
        assert spec.compute is not None
        a = spec.compute(degrade(clean, mild), clean).mean()
        b = spec.compute(degrade(clean, strong), clean).mean()
        assert (a > b) if spec.higher_is_better else (a < b), (name, a, b)
