"""FID / KID / FVD: parity of the Fréchet distance with pytorch-fid, KID against a direct computation, streaming
statistics, the real TorchScript Inception, and FVD plumbing on a stand-in I3D (never reported as FVD)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from dexbench.metrics.frechet import (
    Reservoir,
    RunningGaussian,
    fid_from_gaussians,
    fid_from_stats,
    frechet_distance,
    frechet_low_rank,
    kid,
    mmd2_unbiased,
)


def _feats(seed: int, n: int = 300, d: int = 48, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_frechet_distance_matches_pytorch_fid(shift: float) -> None:
    a, b = _feats(0), _feats(1, shift=shift)
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    ours = frechet_distance(mu1, s1, mu2, s2)
    ref = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert abs(ours - ref) <= 1e-6 * max(1.0, abs(ref))
    assert isinstance(ours, float)


def test_frechet_grows_with_shift_and_is_zero_on_identical_sets() -> None:
    a = _feats(0)
    mu, s = a.mean(0), np.cov(a, rowvar=False)
    assert fid_from_stats(mu, s, mu, s) == pytest.approx(0.0, abs=1e-6)
    d = [
        fid_from_stats(mu, s, *(lambda b: (b.mean(0), np.cov(b, rowvar=False)))(_feats(1, shift=x))) for x in (0, 1, 3)
    ]
    assert d[0] < d[1] < d[2]


def test_running_gaussian_equals_batch_statistics() -> None:
    a = _feats(2, n=257)
    g = RunningGaussian(a.shape[1])
    for chunk in np.array_split(a, 7):
        g.update(chunk)
    np.testing.assert_allclose(g.mean, a.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.cov, np.cov(a, rowvar=False), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_low_rank_frechet_matches_pytorch_fid_with_fewer_frames_than_dimensions(shift: float) -> None:
    a, b = _feats(7, n=20, d=64), _feats(8, n=33, d=64, shift=shift)  # singular covariances, as with short tasks
    ref = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    ours = frechet_low_rank(a, b)
    assert abs(ours - ref) <= 1e-6 * max(1.0, abs(ref))
    assert ours == pytest.approx(frechet_distance(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T)), rel=1e-6)


def test_running_gaussian_keeps_rows_only_below_the_dimension() -> None:
    a, b = _feats(9, n=40, d=64), _feats(10, n=30, d=64, shift=0.2)
    ga, gb = RunningGaussian(64), RunningGaussian(64)
    for chunk in np.array_split(a, 3):
        ga.update(chunk)
    gb.update(b)
    np.testing.assert_array_equal(ga.rows, a)
    low = fid_from_gaussians(ga, gb)  # both below d: the low-rank form
    ga.update(_feats(11, n=30, d=64))  # 70 rows > 64: rows dropped, moments remain
    assert ga.rows is None and ga.n == 70
    full = np.concatenate([a, _feats(11, n=30, d=64)])
    assert fid_from_gaussians(ga, gb) == pytest.approx(
        fid_from_stats(full.mean(0), np.cov(full.T), b.mean(0), np.cov(b.T)), rel=1e-6
    )
    assert low == pytest.approx(fid_from_stats(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T)), rel=1e-6)


def _mmd2_direct(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written as explicit sums."""
    d = x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_a_direct_computation() -> None:
    x, y = _feats(3, n=30, d=8), _feats(4, n=25, d=8, shift=0.5)
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_direct(x, y), rel=1e-10, abs=1e-12)
    # with subsets as large as the smaller set, each subset estimate is the direct one on those rows
    rng = np.random.default_rng(9)
    direct = []
    for _ in range(5):
        direct.append(_mmd2_direct(x[rng.choice(len(x), 20, replace=False)], y[rng.choice(len(y), 20, replace=False)]))
    mean, std, size = kid(x, y, n_subsets=5, subset_size=20, seed=9)
    assert size == 20
    assert mean == pytest.approx(np.mean(direct), rel=1e-9)
    assert std == pytest.approx(np.std(direct), rel=1e-9)


def test_kid_separates_distributions() -> None:
    same = kid(_feats(5, n=400), _feats(6, n=400), n_subsets=20, subset_size=200)[0]
    diff = kid(_feats(5, n=400), _feats(6, n=400, shift=1.0), n_subsets=20, subset_size=200)[0]
    assert abs(same) < diff


def test_reservoir_is_seeded_bounded_and_uniformish() -> None:
    stream = np.arange(5000, dtype=np.float32)[:, None]
    a, b = Reservoir(500, 1, seed=3), Reservoir(500, 1, seed=3)
    for chunk in np.array_split(stream, 13):
        a.update(chunk)
        b.update(chunk)
    assert a.sample.shape == (500, 1) and np.array_equal(a.sample, b.sample)
    assert 2000 < a.sample.mean() < 3000  # a uniform sample of 0..4999, not the first 500


def test_real_inception_torchscript_features() -> None:
    from dexbench.metrics.inception import InceptionFeatures

    f = InceptionFeatures("inception-fid-ts", batch_size=4)
    assert f.weights.verified and "default_1.pt" in f.extractor
    frames = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    a = f(frames)
    assert a.shape == (3, 2048) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, f(frames))  # deterministic
    assert (a >= 0).all()  # pool3 follows a ReLU + average pool
    assert not np.allclose(a[0], a[1])


def test_onnxruntime_inception_matches_torch_on_the_same_frames(tmp_path: Path, monkeypatch) -> None:
    from dexbench.metrics.frechet import fid_from_stats
    from dexbench.metrics.inception import InceptionFeatures

    monkeypatch.setenv("DEXBENCH_ONNX_CACHE", str(tmp_path / "onnx"))
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    ort = InceptionFeatures("inception-fid-ts", batch_size=4)
    ref = InceptionFeatures("inception-fid-ts", batch_size=4, runtime="torch")
    assert "onnxruntime" in ort.provenance()["runtime"] and "torch" in ref.provenance()["runtime"]
    a, b = ort(frames), ref(frames)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * float(np.abs(b).max()))
    # FID of two halves, computed on either runtime's features, agrees far below any reported digit
    fa = fid_from_stats(
        a[:3].mean(0), np.cov(a[:3].T.astype(np.float64)), a[3:].mean(0), np.cov(a[3:].T.astype(np.float64))
    )
    fb = fid_from_stats(
        b[:3].mean(0), np.cov(b[:3].T.astype(np.float64)), b[3:].mean(0), np.cov(b[3:].T.astype(np.float64))
    )
    assert abs(fa - fb) <= 1e-4 * fb
    # an exported graph damaged on disk is exported again, not trusted
    exported = ort.onnx.path
    exported.write_bytes(exported.read_bytes()[:1000])
    again = InceptionFeatures("inception-fid-ts", batch_size=4)
    np.testing.assert_array_equal(again(frames), a)


def test_pytorch_fid_inception_is_unavailable_without_its_file(tmp_path: Path, monkeypatch) -> None:
    from dexbench.metrics.inception import InceptionFeatures
    from dexbench.nets.registry import WeightsUnavailable

    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match="pt_inception"):
        InceptionFeatures("inception-pytorch-fid", explicit=str(tmp_path / "pt_inception-2015-12-05-6726825d.pth"))


def _save_standin_i3d(path: Path) -> None:
    """A tiny TorchScript module with I3D's call signature: a plumbing stand-in, never reported as FVD."""
    import torch

    class StandIn(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.proj = torch.nn.Linear(3 * 4, 6)

        def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = True):
            pooled = torch.nn.functional.adaptive_avg_pool3d(x, (4, 1, 1)).flatten(1)  # (N, 3 * 4)
            return self.proj(pooled)

    torch.jit.script(StandIn()).save(str(path))


class _FakeSample:
    def __init__(self, output: np.ndarray, target: np.ndarray) -> None:
        self.output, self._target = output, target

    def reference(self, role, extractor, sha, version, compute, **settings):
        return compute(self._target)


def test_fvd_plumbing_with_a_standin_i3d(tmp_path: Path) -> None:
    from dexbench.metrics.fvd import CLIP_LEN, FvdScorer
    from dexbench.metrics.scorer import EvalConfig, EvalContext
    from dexbench.protocol.manifest import Manifest, Pair
    from dexbench.protocol.tasks import get_task

    weights = tmp_path / "i3d_torchscript.pt"
    _save_standin_i3d(weights)
    ctx = EvalContext(EvalConfig(weights={"i3d-torchscript": str(weights)}), loader=None)  # type: ignore[arg-type]
    scorer = FvdScorer(ctx, ["fvd"])
    pair = Pair("p", "a", 0, "a", 0, CLIP_LEN, 0, "driver-clip")
    manifest = Manifest("d", "self-reenactment", "1", "0.1", 0, [pair])
    rng = np.random.default_rng(0)

    def run(noise: float) -> tuple[float, dict]:
        scorer.start_task(get_task("self-reenactment"), manifest)
        for _ in range(6):
            target = rng.integers(0, 256, (CLIP_LEN + 2, 32, 32, 3), dtype=np.uint8)
            out = np.clip(target + rng.normal(0, noise, target.shape) + noise, 0, 255).astype(np.uint8)
            scorer.score(_FakeSample(out, target))
        scorer.score(_FakeSample(np.zeros((CLIP_LEN - 1, 32, 32, 3), np.uint8), np.zeros((CLIP_LEN - 1, 32, 32, 3))))
        return scorer.finish_task()["fvd"], scorer.provenance("fvd")

    near, prov = run(2.0)
    far, _ = run(60.0)
    assert 0 <= near < far
    assert prov["n_videos"] == "6" and prov["n_videos_too_short"] == "1"
    assert "256" in prov["warning"] and prov["weights_sha256"]


def test_fvd_is_unavailable_without_i3d(tmp_path: Path, monkeypatch) -> None:
    from dexbench.metrics.fvd import FvdScorer
    from dexbench.metrics.scorer import EvalConfig, EvalContext, MetricUnavailable

    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    ctx = EvalContext(EvalConfig(weights={"i3d-torchscript": str(tmp_path / "nope.pt")}), loader=None)  # type: ignore[arg-type]
    with pytest.raises(MetricUnavailable, match="does not exist"):
        FvdScorer(ctx, ["fvd"])
