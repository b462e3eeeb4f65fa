"""The reference model's LPIPS-VGG16 loss resolves both weight files through the registry and never downloads."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_missing_vgg16_backbone_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dexbench.errors import DexbenchError
    from dexbench.model.perceptual import load_lpips_vgg

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(DexbenchError, match=r"vgg16-397923af\.pth.*loss\.perceptual"):
        load_lpips_vgg()


def test_vgg16_backbone_file_is_loaded_into_lpips_slices(tmp_path: Path) -> None:
    import torch
    import torchvision

    from dexbench.model.perceptual import load_lpips_vgg

    # a random VGG16 trunk saved under the release file's name: plumbing only, never a reported number
    torch.manual_seed(0)
    features = torchvision.models.vgg16(weights=None).features.state_dict()
    path = tmp_path / "vgg16-397923af.pth"
    torch.save({f"features.{k}": v for k, v in features.items()}, path)
    net = load_lpips_vgg(backbone=str(path))
    assert torch.equal(net.net.slice1[0].weight, features["0.weight"])
    assert torch.equal(dict(net.net.slice5.named_parameters())["28.bias"], features["28.bias"])
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    d = net(x, x.flip(-1))
    assert d.shape == (1, 1, 1, 1) and float(d) > 0 and float(net(x, x)) == 0.0
