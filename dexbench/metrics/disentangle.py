"""Disentanglement on editing tasks (one factor from the driver, the other kept from the source).

Task-driven from `Task.pose_from` / `Task.expression_from`: on a task where exactly one factor comes from the
driver (pose-only: pose; expression-only: expression) the *driven* factor is the one from the driver and the
*kept* factor the one from the source. Per clip, with err() the motion metrics' distances (APD in degrees for pose,
AED for expression; mean over frames with a face on both sides):
- `dis_transfer` = 1 - err_driven(output, driver) / err_driven(source, driver): 1 = the output follows the
  driver's driven factor exactly, 0 = it did not move away from the source;
- `dis_leakage`  = err_kept(output, source) / err_kept(driver, source): 0 = the kept factor stayed the source's,
  1 = the output took the driver's kept factor as well;
- `disentanglement` (the summary score, higher is better, in [0, 1])
      = clip(dis_transfer, 0, 1) * (1 - clip(dis_leakage, 0, 1)).
  Both trivial baselines score 0 (a frozen source transfers nothing; copying the driver leaks everything); a
  perfect editor scores 1. Clips whose source and driver barely differ in a factor (below MIN_POSE_DEG /
  MIN_EXPR) give no ratio and are left out (NaN).
"""

from __future__ import annotations

import numpy as np

from dexbench.metrics.motion import broadcast, expression_error, masked_mean, pose_errors
from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import Sample, Scorer

# v2: the expression side uses landmark-expr-v2 (as AED v2); v3: landmark-expr-v3 (as AED v3); v4: brow points refined
# from the image (FaceAnalyzer v3, as AED v4); v5: landmark-expr-v4 (as AED v5); v6: pose from the face mesh's rotation
# (FaceAnalyzer v4, as APD v2)
VERSION = "6"
MIN_POSE_DEG = 2.0
MIN_EXPR = 1e-3

for _name, _hib, _rng, _desc in (
    ("dis_transfer", True, (-float("inf"), 1.0), "Fraction of the driver's driven factor the output follows."),
    ("dis_leakage", False, (0.0, float("inf")), "Fraction of the driver's kept factor that leaked into the output."),
    ("disentanglement", True, (0.0, 1.0), "clip(transfer, 0, 1) * (1 - clip(leakage, 0, 1))."),
):
    register(
        MetricSpec(
            name=_name,
            higher_is_better=_hib,
            value_range=_rng,
            needs=frozenset({"source", "driver"}),
            version=VERSION,
            unit="",
            description=_desc,
            family="disentangle",
            provenance={"extractor": "dexbench.face FaceAnalyzer", "reduction": "per-clip ratio, mean over clips"},
        )
    )


def _err(factor: str, a, b) -> np.ndarray:
    return pose_errors(a, b)["apd"] if factor == "pose" else expression_error(a, b)


class DisentangleScorer(Scorer):
    family = "disentangle"

    def start_task(self, task, manifest) -> dict[str, str]:
        if task.pose_from == task.expression_from:
            return dict.fromkeys(self.names, "not an editing task (pose and expression come from the same frames)")
        self.driven = "pose" if task.pose_from == "driver" else "expression"
        self.kept = "expression" if self.driven == "pose" else "pose"
        return {}

    def score(self, sample: Sample) -> dict[str, float]:
        n = len(sample.output)
        out = sample.face_track("output")
        drv = sample.face_track("driver")
        src = broadcast(sample.face_track("source"), n)
        ok = np.asarray(out.detected, bool) & np.asarray(drv.detected, bool) & np.asarray(src.detected, bool)
        floor = {"pose": MIN_POSE_DEG, "expression": MIN_EXPR}
        base_driven = masked_mean(_err(self.driven, src, drv), ok)
        base_kept = masked_mean(_err(self.kept, drv, src), ok)
        transfer = leakage = float("nan")
        if np.isfinite(base_driven) and base_driven > floor[self.driven]:
            transfer = 1.0 - masked_mean(_err(self.driven, out, drv), ok) / base_driven
        if np.isfinite(base_kept) and base_kept > floor[self.kept]:
            leakage = masked_mean(_err(self.kept, out, src), ok) / base_kept
        score = float(np.clip(transfer, 0, 1) * (1 - np.clip(leakage, 0, 1)))
        return {"dis_transfer": transfer, "dis_leakage": leakage, "disentanglement": score}

    def provenance(self, name: str) -> dict[str, str]:
        return {
            "extractor": "dexbench.face FaceAnalyzer (pose: APD degrees; expression: AED descriptor distance)",
            "definition": "see dexbench.metrics.disentangle: transfer vs driver, leakage vs source, product score",
            "floors": f"pose {MIN_POSE_DEG} deg, expression {MIN_EXPR}: smaller source-driver gaps give NaN",
            "reduction": "ratios of per-clip means over frames with a face on all sides, then mean over clips",
        }
