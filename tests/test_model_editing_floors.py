"""reference_model/aed_ceilings.py's editing floors: the ground truth scored by the benchmark's DisentangleScorer."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

from dexbench.protocol.manifest import load_task_manifest

SCRIPT = Path(__file__).resolve().parents[1] / "reference_model" / "aed_ceilings.py"


def _module():
    spec = importlib.util.spec_from_file_location("aed_ceilings", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_editing_floors_score_the_ground_truth_per_pair(workspace) -> None:
    floors = _module().editing_floors(str(workspace.root), size=32, pairs=3)
    json.dumps(floors, allow_nan=False)  # strict JSON: unscorable clips are null, not NaN
    assert set(floors) == {"pose-only", "expression-only"}
    for task, cands in floors.items():
        ids = [p.pair_id for p in load_task_manifest(workspace.protocol, "synthheads", task).pairs[:3]]
        assert set(cands) == {"oracle", "oracle@32"}
        for res in cands.values():
            assert list(res["per_clip"]) == ids
            for name in ("dis_transfer", "dis_leakage"):
                vals = [c[name] for c in res["per_clip"].values() if c[name] is not None]
                assert all(math.isfinite(v) for v in vals)
                assert math.isclose(res[name], sum(vals) / len(vals), abs_tol=1e-3)  # the mean the benchmark takes
    # the ground truth carries the driver's pose: the analyser reads most of it (and the source's would read 0)
    assert all(c["dis_transfer"] > 0.3 for c in floors["pose-only"]["oracle"]["per_clip"].values())


def test_blurred_oracle_is_the_ground_truth_at_a_softer_sharpness(workspace) -> None:
    """`--blur`: the oracle at S px blurred there, next to the plain oracle@S (whose frames it leaves unchanged)."""
    import cv2
    import numpy as np

    mod = _module()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    plain, soft = mod._down_up(frames, 64), mod._down_up(frames, 64, 0.8)
    assert plain.shape == soft.shape == frames.shape
    assert np.array_equal(plain, mod._down_up(frames, 64, 0.0))

    def energy(x: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(x[0, ..., 0].astype(np.float32), cv2.CV_32F)).mean())

    assert energy(soft) < 0.6 * energy(plain)
    out = mod.ceilings(str(workspace.root), size=32, pairs=2, frames=6, blur=(0.8,))
    for task in ("cross-reenactment", "expression-only"):
        assert {"oracle@32", "oracle@32~0.8"} <= set(out[task])
        assert math.isfinite(out[task]["oracle@32~0.8"]["aed"])
