"""FID and KID of a task's output frames against its reference frames, on TF-Inception pool3 features.

Reference set: the task's ground-truth frames where the manifest has them (self-reenactment: the clips; SynthHeads
editing/cross tasks: the rendered targets), otherwise the driver frames (real test frames of the same split).
Set-level metrics: one value per task over all frames, no per-clip values and no bootstrap CI. FID's statistics are
streamed (O(d^2) memory); KID uses a seeded reservoir of at most KID_RESERVOIR frames per side.
"""

from __future__ import annotations

import numpy as np

from dexbench.metrics.frechet import Reservoir, RunningGaussian, fid_from_gaussians, kid
from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import EvalContext, MetricUnavailable, Sample, Scorer

VERSION = "1"
KID_RESERVOIR = 4096
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
FEATURE_DIM = 2048

FID = register(
    MetricSpec(
        name="fid",
        higher_is_better=False,
        value_range=(0.0, float("inf")),
        needs=frozenset({"reference-set"}),
        version=VERSION,
        unit="",
        description="Fréchet inception distance, float64, over all frames of the task.",
        family="distribution",
        level="set",
        provenance={"extractor": "TF-Inception-v3 pool3", "reduction": "one value over all frames of the task"},
    )
)
KID = register(
    MetricSpec(
        name="kid",
        higher_is_better=False,
        value_range=(-float("inf"), float("inf")),
        needs=frozenset({"reference-set"}),
        version=VERSION,
        unit="",
        description="Kernel inception distance: unbiased MMD^2, cubic polynomial kernel, mean over random subsets.",
        family="distribution",
        level="set",
        provenance={"extractor": "TF-Inception-v3 pool3", "reduction": "one value over all frames of the task"},
    )
)


def frame_sample(n_frames: int, per_clip: int) -> np.ndarray:
    """Indices of `per_clip` frames spread evenly over a clip (first and last included); all frames for 0."""
    if per_clip <= 0 or per_clip >= n_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, per_clip)).astype(np.int64))


class DistributionScorer(Scorer):
    family = "distribution"

    def __init__(self, ctx: EvalContext, names: list[str]) -> None:
        super().__init__(ctx, names)
        from dexbench.metrics.inception import InceptionFeatures
        from dexbench.nets.registry import WeightsUnavailable

        net = ctx.config.fid_net
        try:
            self.features = InceptionFeatures(
                net, ctx.explicit(net), batch_size=ctx.config.batch_size, runtime=ctx.config.runtime
            )
        except WeightsUnavailable as exc:
            raise MetricUnavailable(exc.reason) from exc
        self._counts: dict[str, str] = {}

    def start_task(self, task, manifest) -> dict[str, str]:
        seed = self.ctx.config.seed
        self.out_stats, self.ref_stats = RunningGaussian(FEATURE_DIM), RunningGaussian(FEATURE_DIM)
        self.out_pool = Reservoir(KID_RESERVOIR, FEATURE_DIM, seed)
        self.ref_pool = Reservoir(KID_RESERVOIR, FEATURE_DIM, seed + 1)
        self.ref_role = "target" if all(p.target != "none" for p in manifest.pairs) else "driver"
        self.n_videos = 0
        return {}

    def _ref(self, sample: Sample) -> np.ndarray:
        f, k = self.features, self.ctx.config.fid_frames_per_clip
        return sample.reference(
            self.ref_role,
            "inception-pool3",
            f.weights.sha256,
            VERSION,
            lambda fr: {"feats": f(fr[frame_sample(len(fr), k)])},
            net=f.net,
            frames_per_clip=str(k),
            runtime=self.ctx.config.runtime,
        )["feats"]

    def score(self, sample: Sample) -> dict[str, float]:
        out = self.features(sample.output[frame_sample(len(sample.output), self.ctx.config.fid_frames_per_clip)])
        ref = self._ref(sample)
        self.out_stats.update(out)
        self.ref_stats.update(ref)
        self.out_pool.update(out)
        self.ref_pool.update(ref)
        self.n_videos += 1
        return {}

    def finish_task(self) -> dict[str, float]:
        if self.out_stats.n < 2 or self.ref_stats.n < 2:
            raise MetricUnavailable("fewer than two frames on one side")
        fid = fid_from_gaussians(self.out_stats, self.ref_stats)
        kid_mean, kid_std, size = kid(
            self.out_pool.sample,
            self.ref_pool.sample,
            n_subsets=KID_SUBSETS,
            subset_size=KID_SUBSET_SIZE,
            seed=self.ctx.config.seed,
        )
        self._counts = {
            "n_frames_output": str(self.out_stats.n),
            "n_frames_reference": str(self.ref_stats.n),
            "n_clips": str(self.n_videos),
            "reference_set": "ground-truth frames" if self.ref_role == "target" else "driver frames",
            "kid_std": repr(kid_std),
            "kid_subsets": f"{KID_SUBSETS} subsets of {size} frames from a seeded reservoir of <= {KID_RESERVOIR}",
        }
        return {"fid": fid, "kid": kid_mean}

    def provenance(self, name: str) -> dict[str, str]:
        p = self.features.provenance()
        k = self.ctx.config.fid_frames_per_clip
        frames = "every frame" if k <= 0 else f"{k} frames per clip, evenly spaced (first and last included)"
        p["reduction"] = f"one value over {frames} of the task's clips (set-level: no per-clip values, no bootstrap CI)"
        if name == "fid":
            p["distance"] = (
                "Fréchet distance in float64, covariances ddof=1; trace of the root from the singular values of the "
                "centred cross-product when both sides have fewer frames than dimensions (exact), else from "
                "symmetric eigendecompositions"
            )
            p["note"] = "FID is biased upward with fewer than ~2048 frames (2048-d features); compare at equal counts"
        else:
            p["kernel"] = "k(x, y) = (x.y / 2048 + 1)^3, unbiased MMD^2"
        p.update({k: v for k, v in self._counts.items() if name == "kid" or not k.startswith("kid_")})
        return p
