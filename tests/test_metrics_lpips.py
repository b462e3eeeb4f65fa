"""LPIPS through the lpips package with weights resolved offline; parity with `lpips.LPIPS(net="alex")` on a random
AlexNet stand-in saved under the backbone's file name (same weights on both sides: a plumbing check, not LPIPS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

BACKBONE = "alexnet-owt-7be5be79.pth"


@pytest.fixture()
def standin_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import torch
    import torchvision

    torch.manual_seed(0)
    ckpt = tmp_path / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), ckpt / BACKBONE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return ckpt / BACKBONE


def _images(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_parity_with_the_lpips_package(standin_torch_home: Path) -> None:
    import lpips
    import torch

    from dexbench.metrics.lpips_metric import LpipsNet

    ours = LpipsNet(backbone=str(standin_torch_home))
    # the package's own route: torchvision loads the "pretrained" AlexNet from $TORCH_HOME (our stand-in file)
    ref = lpips.LPIPS(net="alex", verbose=False).eval()
    a, b = _images()
    with torch.inference_mode():
        expected = ref(
            torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1,
            torch.from_numpy(b).permute(0, 3, 1, 2).float() / 127.5 - 1,
        ).reshape(-1)
    got = ours(a, b, batch_size=2)
    np.testing.assert_allclose(got, expected.double().numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(got > 0) and np.allclose(ours(a, a), 0, atol=1e-6)
    prov = ours.provenance()
    assert prov["input_range"].startswith("[-1, 1]") and ours.linear.verified


def test_unavailable_without_the_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dexbench.metrics.lpips_metric import LpipsScorer
    from dexbench.metrics.scorer import EvalConfig, EvalContext, MetricUnavailable

    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    missing = str(tmp_path / BACKBONE)
    ctx = EvalContext(EvalConfig(weights={"lpips-alex-backbone": missing}), loader=None)  # type: ignore[arg-type]
    with pytest.raises(MetricUnavailable, match="does not exist"):
        LpipsScorer(ctx, ["lpips"])


def test_dexbench_weights_directory_is_used(standin_torch_home: Path, tmp_path: Path, monkeypatch) -> None:
    import shutil

    from dexbench.metrics.lpips_metric import LpipsNet

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(standin_torch_home, weights / BACKBONE)
    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(weights))
    net = LpipsNet()
    assert net.backbone.origin == "DEXBENCH_WEIGHTS"
