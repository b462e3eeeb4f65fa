"""Single-core SynthHeads rendering throughput; prints one JSON object.

fps_* is frames per wall-clock second; cpu_fps_* is frames per second of this process's CPU time, which is what
an idle core would give: on a machine shared with other jobs the two differ, and load_avg says by how much."""

from __future__ import annotations

import os

# Pin BLAS / OpenMP pools to one thread before numpy loads, so the number is a one-core number.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dexbench.data.synth import HeadRenderer, sample_identity, sample_motion  # noqa: E402


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    n_frames = 300
    motion = sample_motion(7, n_frames)
    idents = [sample_identity(s) for s in range(4)]
    out: dict[str, object] = {"python": platform.python_version(), "numpy": np.__version__, "frames_per_size": n_frames}
    total_frames, total_wall = 0, 0.0
    for size in (64, 128, 256):
        r = HeadRenderer(size)
        r.render(idents[0], yaw=0.0, pitch=0.0, roll=0.0)  # warm caches
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(n_frames):
            r.render(
                idents[k % len(idents)],
                yaw=motion.yaw[k],
                pitch=motion.pitch[k],
                roll=motion.roll[k],
                tx=motion.tx[k],
                ty=motion.ty[k],
                scale=motion.scale[k],
                expression=motion.expression[k],
            )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        total_frames += n_frames
        total_wall += wall
        out[f"fps_{size}"] = round(n_frames / wall, 1)
        out[f"cpu_fps_{size}"] = round(n_frames / cpu, 1)
    out["frames_rendered"] = total_frames
    out["wall_s"] = round(total_wall, 3)
    if hasattr(os, "getloadavg"):
        out["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
