"""FVD following the StyleGAN-V protocol: I3D (Kinetics-400) features of 16-frame clips at 224x224.

The I3D network is the TorchScript file StyleGAN-V/DIGAN use (`i3d-torchscript` in the weights registry), called as
`model(videos, rescale=False, resize=False, return_features=True)` on float videos (N, 3, 16, 224, 224) in [-1, 1]
(we resize and rescale ourselves, bilinearly, as StyleGAN-V does before calling it). Each video contributes its
first 16 frames (videos shorter than 16 frames are left out); the Fréchet distance of the two feature Gaussians is
computed in float64. FVD needs >= 256 videos per side to mean much (StyleGAN-V uses 2048): with fewer, the
result is reported with a warning in its provenance. The user supplies the file; without it FVD is unavailable.
"""

from __future__ import annotations

import numpy as np

from dexbench.metrics.frechet import RunningGaussian, fid_from_gaussians
from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import EvalContext, MetricUnavailable, Sample, Scorer
from dexbench.nets.registry import ResolvedWeights, WeightsUnavailable, resolve_weights

VERSION = "1"
CLIP_LEN = 16
SIZE = 224
MIN_VIDEOS = 256

FVD = register(
    MetricSpec(
        name="fvd",
        higher_is_better=False,
        value_range=(0.0, float("inf")),
        needs=frozenset({"reference-set"}),
        version=VERSION,
        unit="",
        description="Fréchet video distance (StyleGAN-V protocol: I3D, first 16 frames, 224 px).",
        family="fvd",
        level="set",
        provenance={"extractor": "I3D TorchScript (StyleGAN-V)", "reduction": "one value over all videos"},
    )
)


class I3DFeatures:
    def __init__(self, explicit: str | None = None, net: str = "i3d-torchscript") -> None:
        import torch

        self.weights: ResolvedWeights = resolve_weights(net, explicit)
        self.model = torch.jit.load(str(self.weights.path), map_location="cpu").eval()

    def __call__(self, video: np.ndarray) -> np.ndarray:
        """(T >= 16, H, W, 3) uint8 -> (D,) features of the first 16 frames."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(video[:CLIP_LEN])).permute(0, 3, 1, 2).float()
            if x.shape[-2:] != (SIZE, SIZE):
                x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
            x = (x / 127.5 - 1.0).clamp(-1, 1).permute(1, 0, 2, 3)[None]  # (1, 3, T, H, W)
            feats = self.model(x, rescale=False, resize=False, return_features=True)
        return feats.reshape(-1).double().numpy()


class FvdScorer(Scorer):
    family = "fvd"

    def __init__(self, ctx: EvalContext, names: list[str]) -> None:
        super().__init__(ctx, names)
        try:
            self.i3d = I3DFeatures(ctx.explicit("i3d-torchscript"))
        except WeightsUnavailable as exc:
            raise MetricUnavailable(exc.reason) from exc
        self._counts: dict[str, str] = {}

    def start_task(self, task, manifest) -> dict[str, str]:
        self.ref_role = "target" if all(p.target != "none" for p in manifest.pairs) else "driver"
        self.out_feats: list[np.ndarray] = []  # one small vector per video: memory is O(videos x 400)
        self.ref_feats: list[np.ndarray] = []
        self.skipped = 0
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        if len(sample.output) < CLIP_LEN:
            self.skipped += 1
            return {}
        i3d = self.i3d
        ref = sample.reference(self.ref_role, "i3d", i3d.weights.sha256, VERSION, lambda fr: {"feats": i3d(fr)})
        self.out_feats.append(i3d(sample.output))
        self.ref_feats.append(ref["feats"])
        return {}

    def finish_task(self) -> dict[str, float]:
        n = len(self.out_feats)
        if n < 2:
            raise MetricUnavailable(f"needs at least 2 videos of >= {CLIP_LEN} frames ({self.skipped} too short)")
        a, b = RunningGaussian(len(self.out_feats[0])), RunningGaussian(len(self.ref_feats[0]))
        a.update(np.stack(self.out_feats))
        b.update(np.stack(self.ref_feats))
        self._counts = {
            "n_videos": str(n),
            "n_videos_too_short": str(self.skipped),
            "reference_set": "ground-truth videos" if self.ref_role == "target" else "driver videos",
        }
        if n < MIN_VIDEOS:
            self._counts["warning"] = f"only {n} videos: FVD needs >= {MIN_VIDEOS} videos per side to mean much"
        return {"fvd": fid_from_gaussians(a, b)}

    def provenance(self, name: str) -> dict[str, str]:
        return {
            "extractor": f"I3D TorchScript ({self.i3d.weights.path.name}), StyleGAN-V protocol",
            "weights_sha256": self.i3d.weights.sha256,
            "clip": f"first {CLIP_LEN} frames of each video",
            "resize": f"bilinear to {SIZE}x{SIZE}, input in [-1, 1]",
            "reduction": "Fréchet distance (float64) between per-video feature Gaussians; set-level",
            "note": f"FVD needs >= {MIN_VIDEOS} videos to mean much",
            **self._counts,
        }
