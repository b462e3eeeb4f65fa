"""Per-worker set-up shared by every engine: one compute thread per worker process.

Shards run in parallel processes, so each one is kept single-threaded: no oversubscription of the cores, and the
numeric libraries (OpenCV, ONNX Runtime, BLAS) then run the same code path whatever the engine or worker count.
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread_env() -> dict[str, str]:
    return dict.fromkeys(THREAD_VARS, "1")


def init_worker() -> None:
    os.environ.update(single_thread_env())
    os.environ.setdefault("DEXBENCH_QUIET", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - OpenCV is a core dependency
        pass
