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
