"""The perceptual loss of the paper (LPIPS on VGG16), only when its weights are really present.

The LPIPS linear heads ship with the `lpips` package (`lpips-vgg-linear`), but the VGG16 backbone (torchvision's
`vgg16-397923af.pth`, `lpips-vgg-backbone`) does not. Both resolve through the weights registry (explicit path ->
DEXBENCH_WEIGHTS -> package -> torch cache) and nothing is downloaded: the module is built with a random trunk and
the resolved file loaded into it, so a config asking for a perceptual loss without the file gets a clear error
instead of a download or a silently different network.
"""

from __future__ import annotations

import torch.nn as nn

from dexbench.errors import DexbenchError
from dexbench.nets.registry import WeightsUnavailable, resolve_weights


def load_lpips_vgg(backbone: str | None = None, linear: str | None = None) -> nn.Module:
    from dexbench.metrics.lpips_metric import build_lpips

    try:
        trunk = resolve_weights("lpips-vgg-backbone", backbone)
        heads = resolve_weights("lpips-vgg-linear", linear)
    except WeightsUnavailable as exc:
        raise DexbenchError(f"the perceptual loss (LPIPS-VGG16) is unavailable: {exc.reason}", exc.hint) from exc
    return build_lpips("vgg", trunk, heads).requires_grad_(False)
