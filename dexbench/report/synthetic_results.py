"""Made-up result folders (summary.json + per_clip/<task>.parquet) for the report's benchmark and tests.

The numbers are random draws shaped like real ones; they exercise the report (many methods, many tasks, unknown
metrics, unavailable metrics) and are never results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dexbench.io.atomic import atomic_path, write_json
from dexbench.metrics.bootstrap import bootstrap_mean

# name: (higher_is_better, unit, range, typical mean, spread)
METRICS: dict[str, tuple[bool, str, list[float | None], float, float]] = {
    "psnr": (True, "dB", [0.0, 100.0], 22.0, 3.0),
    "ssim": (True, "", [-1.0, 1.0], 0.75, 0.08),
    "lpips": (False, "", [0.0, 1.0], 0.2, 0.06),
    "csim": (True, "", [-1.0, 1.0], 0.7, 0.1),
    "apd": (False, "deg", [0.0, 180.0], 3.0, 1.2),
    "aed": (False, "", [0.0, None], 0.15, 0.05),
    "dis_leakage": (False, "", [0.0, None], 0.3, 0.15),
    "fid": (False, "", [0.0, None], 40.0, 12.0),
}
TASKS = ("self-reenactment", "cross-reenactment", "pose-only", "expression-only")


def write_results(
    root: str | Path,
    n_methods: int = 20,
    *,
    tasks: tuple[str, ...] = TASKS,
    n_pairs: int = 64,
    dataset: str = "synthheads",
    protocol_version: str = "1.0",
    seed: int = 0,
    names: list[str] | None = None,
    n_resamples: int = 200,
) -> list[Path]:
    """One result folder per method under root/<dataset>/<method>; returns the folders."""
    rng = np.random.default_rng(seed)
    folders = []
    for k in range(n_methods):
        name = names[k] if names and k < len(names) else f"method-{k:02d}"
        folder = Path(root) / dataset / f"m{k:02d}"
        skill = rng.normal(0, 1)
        summary_tasks: dict[str, Any] = {}
        for t_i, task in enumerate(tasks):
            table = pd.DataFrame(
                {
                    "pair_id": [f"{task[:4]}-{i:04d}" for i in range(n_pairs)],
                    "source_clip": [f"clip-{(i * 7) % n_pairs:03d}" for i in range(n_pairs)],
                    "driver_clip": [f"clip-{i:03d}" for i in range(n_pairs)],
                    "n_frames": np.full(n_pairs, 48),
                }
            )
            pair_effect = np.random.default_rng(1000 + t_i).normal(0, 1, n_pairs)  # shared: the values are paired
            metrics: dict[str, Any] = {}
            for m, (hib, unit, rng_, mean, spread) in METRICS.items():
                base: dict[str, Any] = {
                    "higher_is_better": hib, "range": rng_, "unit": unit, "version": "1",
                    "provenance": {"extractor": "synthetic", "weights_sha256": "0" * 64},
                }  # fmt: skip
                if m == "fid":
                    metrics[m] = {**base, "available": False, "reason": "needs >= 256 clips for a stable estimate"}
                    continue
                shift = (skill if hib else -skill) * spread * 0.5
                values = mean + shift + spread * (0.6 * pair_effect + 0.4 * rng.normal(0, 1, n_pairs))
                table[m] = values
                est = bootstrap_mean(values, n_resamples=n_resamples, seed=0)
                metrics[m] = {
                    **base, "available": True, "mean": est.mean, "ci95": [est.ci_low, est.ci_high], "n_clips": est.n,
                }  # fmt: skip
            with atomic_path(folder / "per_clip" / f"{task}.parquet") as tmp:
                pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp)
            summary_tasks[task] = {
                "task_version": "1",
                "manifest_sha256": f"{t_i:064x}",
                "n_pairs": n_pairs,
                "n_frames": 48 * n_pairs,
                "metrics": metrics,
            }
        write_json(
            folder / "summary.json",
            {
                "dexbench_version": "0.1.0",
                "dataset": dataset,
                "protocol_version": protocol_version,
                "method": {"name": name, "version": "1", "description": f"synthetic method {k}", "url": ""},
                "bootstrap": {"resamples": n_resamples, "seed": 0, "confidence": 0.95, "unit": "clip"},
                "tasks": summary_tasks,
            },
        )
        folders.append(folder)
    return folders
