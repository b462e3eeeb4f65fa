"""LPIPS (v0.1, AlexNet) through the `lpips` package, with every weight file resolved offline.

`lpips.LPIPS(net="alex")` would ask torchvision for ImageNet AlexNet weights and download them when missing, so the
module is built with a random trunk (`pnet_rand=True`: torchvision constructs AlexNet without weights) and the
trunk's state dict is then loaded from the weights registry (`lpips-alex-backbone`: the user's torch cache or
DEXBENCH_WEIGHTS); the linear heads come from the file the lpips wheel ships (`lpips-alex-linear`). Inputs are RGB
in [-1, 1] at the frames' own resolution; per-frame distances are spatial means, then the mean over frames.
"""

from __future__ import annotations

import warnings

import numpy as np

from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import EvalContext, MetricUnavailable, Sample, Scorer
from dexbench.nets.registry import ResolvedWeights, WeightsUnavailable, resolve_weights

VERSION = "1"
# torchvision `features` indices held by each of lpips' five slices, per backbone
SLICES = {
    "alex": ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)),
    "vgg": ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30)),
}

LPIPS_SPEC = register(
    MetricSpec(
        name="lpips",
        higher_is_better=False,
        value_range=(0.0, 1.0),
        needs=frozenset({"target"}),
        version=VERSION,
        unit="",
        description="LPIPS v0.1 with AlexNet (lpips package), inputs in [-1, 1].",
        family="lpips",
        provenance={"extractor": "lpips v0.1 AlexNet", "reduction": "mean over frames, then clips"},
    )
)


def backbone_state(path: str, net: str = "alex") -> dict:
    """torchvision AlexNet/VGG16 state dict -> the keys of lpips' slices (features.i.* -> slice_k.i.*)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    mapped = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] != "features":
            continue  # the classifier is not used by LPIPS
        idx = int(parts[1])
        k = next((s for s, (lo, hi) in enumerate(SLICES[net], start=1) if lo <= idx < hi), None)
        if k is None:
            continue  # VGG16's last pooling layer follows lpips' fifth slice
        mapped[f"slice{k}.{idx}.{'.'.join(parts[2:])}"] = value
    return mapped


def build_lpips(net: str, backbone: ResolvedWeights, linear: ResolvedWeights):
    """`lpips.LPIPS` v0.1 with a random trunk (nothing to download) and both resolved files loaded into it."""
    import lpips

    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained=False`
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(
            net=net, version="0.1", pretrained=True, pnet_rand=True, model_path=str(linear.path), verbose=False
        ).eval()
    model.net.load_state_dict(backbone_state(str(backbone.path), net), strict=True)  # strict: raises on a mismatch
    return model


class LpipsNet:
    def __init__(self, backbone: str | None = None, linear: str | None = None) -> None:
        import torch

        self.backbone: ResolvedWeights = resolve_weights("lpips-alex-backbone", backbone)
        self.linear: ResolvedWeights = resolve_weights("lpips-alex-linear", linear)
        self.model = build_lpips("alex", self.backbone, self.linear)
        self._torch = torch

    def __call__(self, a: np.ndarray, b: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Per-frame LPIPS of two uint8 (T, H, W, 3) batches."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(a), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(a[i : i + batch_size])).permute(0, 3, 1, 2).float()
                y = torch.from_numpy(np.ascontiguousarray(b[i : i + batch_size])).permute(0, 3, 1, 2).float()
                d = self.model(x / 127.5 - 1.0, y / 127.5 - 1.0)
                out.append(d.reshape(len(x)).double().numpy())
        return np.concatenate(out)

    def provenance(self) -> dict[str, str]:
        return {
            "extractor": "lpips v0.1 AlexNet (lpips package)",
            "weights_sha256": f"backbone {self.backbone.sha256}; linear {self.linear.sha256}",
            "backbone_file": self.backbone.path.name,
            "input_range": "[-1, 1] (uint8 / 127.5 - 1)",
            "resolution": "native frame resolution, no resize",
            "frame_format": "uint8 RGB",
            "reduction": "spatial mean per frame, mean over frames, then clips",
        }


class LpipsScorer(Scorer):
    family = "lpips"

    def __init__(self, ctx: EvalContext, names: list[str]) -> None:
        super().__init__(ctx, names)
        try:
            self.net = LpipsNet(ctx.explicit("lpips-alex-backbone"), ctx.explicit("lpips-alex-linear"))
        except WeightsUnavailable as exc:
            raise MetricUnavailable(exc.reason) from exc

    def start_task(self, task, manifest) -> dict[str, str]:
        if any(p.target == "none" for p in manifest.pairs):
            return {"lpips": "no ground truth for this task on this dataset"}
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        return {"lpips": float(np.mean(self.net(sample.output, sample.frames("target"), self.ctx.config.batch_size)))}

    def provenance(self, name: str) -> dict[str, str]:
        return self.net.provenance()
