"""Baseline animation throughput (rts-warp, landmark-warp) and submission validation speed; prints one JSON object.

Builds a SynthHeads workspace (8 identities x 1 clip x 48 frames at 128 px) in a temporary folder, then times, on
one core: each baseline animating every cross-reenactment pair, and `validate_folder` (headers only, and with every
frame decoded) on the static baseline's submission.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("DEXBENCH_QUIET", "1")

import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dexbench.data.layout import dataset_paths  # noqa: E402
from dexbench.data.reader import ShardReader  # noqa: E402
from dexbench.data.recipes.synthheads import SynthParams, build_raw, build_shards  # noqa: E402
from dexbench.methods.registry import load_method  # noqa: E402
from dexbench.methods.runner import run_task  # noqa: E402
from dexbench.protocol.manifest import build_manifest  # noqa: E402
from dexbench.protocol.pairs import PairLoader  # noqa: E402
from dexbench.protocol.tasks import get_task  # noqa: E402
from dexbench.protocol.validate import validate_folder  # noqa: E402


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    out: dict[str, object] = {"python": platform.python_version(), "opencv": cv2.__version__, "cores": 1}
    with tempfile.TemporaryDirectory() as tmp:
        paths = dataset_paths("synthheads", tmp)
        build_raw(SynthParams(identities=8, clips_per_identity=1, frames=48, size=128, test_fraction=0.5), paths.raw)
        build_shards(paths.raw, paths.shards)
        reader = ShardReader(paths.shards)
        task = get_task("cross-reenactment")
        manifest = build_manifest(reader, task, max_frames=48)
        loader = PairLoader(paths.shards, paths.raw)
        requests = [loader.request(task, p) for p in manifest.pairs]
        n = sum(r.n_frames for r in requests)
        out.update(pairs=len(requests), frames=n, size=128)
        for name in ("rts-warp", "landmark-warp"):
            method = load_method(name)
            method.animate(requests[0])  # warm-up (template, imports)
            t0 = time.perf_counter()
            for r in requests:
                method.animate(r)
            out[f"{name}_frames_per_s"] = round(n / (time.perf_counter() - t0), 1)
        sub = pathlib.Path(tmp) / "sub"
        run_task(load_method("static"), manifest, loader, sub, fps=25.0)
        for deep in (False, True):
            t0 = time.perf_counter()
            _, problems = validate_folder(sub, {task.name: manifest}, reader.clips, deep=deep)
            assert not problems, problems
            out[f"validate_{'deep' if deep else 'headers'}_frames_per_s"] = round(n / (time.perf_counter() - t0), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
