"""Every built-in metric family: importing this module registers their metrics; `scorer_class` builds a family.

Imports stay light (no torch, no network loading): scorers load their networks when constructed.
"""

from __future__ import annotations

from dexbench.metrics import disentangle, distribution, fidelity, fvd, identity, lpips_metric, motion, temporal
from dexbench.metrics.scorer import Scorer

_FAMILIES: dict[str, type[Scorer]] = {
    "fidelity": fidelity.FidelityScorer,
    "lpips": lpips_metric.LpipsScorer,
    "distribution": distribution.DistributionScorer,
    "fvd": fvd.FvdScorer,
    "motion": motion.MotionScorer,
    "disentangle": disentangle.DisentangleScorer,
    "jitter": temporal.TemporalScorer,
    "flicker": temporal.TemporalScorer,
    **{f"identity-{n}": identity.IdentityScorer for n in identity.EMBEDDERS},
}


def scorer_class(family: str) -> type[Scorer]:
    return _FAMILIES[family]
