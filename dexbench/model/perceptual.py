"""The perceptual loss of the paper (LPIPS on VGG16), only when its weights are really present.

The LPIPS linear heads ship with the `lpips` package, but the VGG16 backbone (torchvision's
`vgg16-397923af.pth`) does not, and nothing is downloaded at run time: a config asking for a perceptual loss
without the file gets a clear error instead of a silently different network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch.nn as nn

from dexbench.errors import DexbenchError

VGG16_FILE = "vgg16-397923af.pth"


def _torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"))


def load_lpips_vgg() -> nn.Module:
    path = _torch_home() / "hub" / "checkpoints" / VGG16_FILE
    if not path.is_file():
        raise DexbenchError(
            f"the perceptual loss (LPIPS-VGG16) needs torchvision's {VGG16_FILE}, not found at {path}",
            "place the file there (or set TORCH_HOME), or set loss.perceptual and loss.face_perceptual to 0",
        )
    import lpips

    net = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=False, verbose=False)
    net.eval().requires_grad_(False)
    return net
