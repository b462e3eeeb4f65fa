"""Score a submission: one decode of each output, every applicable metric, per-clip table + summary JSON.

The summary holds no timestamps or paths, so the same inputs give byte-identical files (DVC and the
determinism test rely on it); when and where a result was computed belongs to the report's provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dexbench import __version__
from dexbench.errors import DexbenchError
from dexbench.io.atomic import atomic_path, write_json
from dexbench.metrics.bootstrap import bootstrap_mean
from dexbench.metrics.registry import MetricSpec, get_metric
from dexbench.progress import track
from dexbench.protocol.manifest import Manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.submission import find_output, read_card, read_output
from dexbench.protocol.tasks import get_task

DEFAULT_METRICS = ("l1", "psnr", "ssim")


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def evaluate_task(
    submission: Path, manifest: Manifest, loader: PairLoader, metrics: list[MetricSpec]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per-pair metric values for one task, and the metrics that could not run with the reason why."""
    task = get_task(manifest.task)
    task_dir = submission / task.name
    missing = [p.pair_id for p in manifest.pairs if find_output(task_dir, p.pair_id) is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DexbenchError(
            f"{task_dir}: {len(missing)} of {len(manifest.pairs)} pair outputs missing ({shown})",
            f"run the method on task {task.name} first, or check the submission folder",
        )
    has_target = all(p.target != "none" for p in manifest.pairs)
    unavailable = {
        m.name: "no ground truth for this task on this dataset"
        for m in metrics
        if "target" in m.needs and not has_target
    }
    active = [m for m in metrics if m.name not in unavailable]
    rows: list[dict[str, Any]] = []
    for pair in track(manifest.pairs, f"eval: {task.name}"):
        path = find_output(task_dir, pair.pair_id)
        assert path is not None
        output = read_output(path)
        target = loader.target(task, pair) if active else None
        expected = (pair.n_frames, *loader.reader.frames(pair.source_clip, np.array([pair.source_frame])).shape[1:])
        if output.shape != expected:
            raise DexbenchError(
                f"{path}: output has shape {output.shape}, expected {expected} (frames, height, width, channels)",
                "the output must have one frame per driving frame at the source's resolution",
            )
        row: dict[str, Any] = {
            "pair_id": pair.pair_id,
            "source_clip": pair.source_clip,
            "driver_clip": pair.driver_clip,
            "n_frames": pair.n_frames,
        }
        for m in active:
            row[m.name] = float(np.mean(m.compute(output, target)))
        rows.append(row)
    return pd.DataFrame(rows), unavailable


def summarize(
    table: pd.DataFrame,
    metrics: list[MetricSpec],
    unavailable: dict[str, str],
    *,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metrics:
        entry: dict[str, Any] = {
            "higher_is_better": m.higher_is_better,
            "range": list(m.value_range),
            "unit": m.unit,
            "version": m.version,
            "provenance": dict(m.provenance),
        }
        if m.name in unavailable:
            entry.update(available=False, reason=unavailable[m.name])
        else:
            est = bootstrap_mean(table[m.name].to_numpy(), n_resamples=n_resamples, seed=seed)
            entry.update(
                available=True,
                mean=_finite_or_none(est.mean),
                ci95=[_finite_or_none(est.ci_low), _finite_or_none(est.ci_high)],
                n_clips=est.n,
            )
        out[m.name] = entry
    return out


def evaluate_submission(
    submission: str | Path,
    manifests: list[Manifest],
    loader: PairLoader,
    out_dir: str | Path,
    *,
    metric_names: tuple[str, ...] = DEFAULT_METRICS,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    submission, out_dir = Path(submission), Path(out_dir)
    card = read_card(submission)
    metrics = [get_metric(n) for n in metric_names]
    tasks: dict[str, Any] = {}
    for manifest in manifests:
        table, unavailable = evaluate_task(submission, manifest, loader, metrics)
        with atomic_path(out_dir / "per_clip" / f"{manifest.task}.parquet") as tmp:
            pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp, compression="zstd")
        tasks[manifest.task] = {
            "task_version": manifest.task_version,
            "manifest_sha256": manifest.sha256,
            "n_pairs": len(manifest.pairs),
            "n_frames": int(table["n_frames"].sum()),
            "metrics": summarize(table, metrics, unavailable, n_resamples=n_resamples, seed=seed),
        }
    protocols = {m.protocol_version for m in manifests}
    summary = {
        "dexbench_version": __version__,
        "dataset": manifests[0].dataset,
        "protocol_version": protocols.pop() if len(protocols) == 1 else sorted(protocols),
        "method": card,
        "bootstrap": {"resamples": n_resamples, "seed": seed, "confidence": 0.95, "unit": "clip"},
        "tasks": tasks,
    }
    write_json(out_dir / "summary.json", summary)
    return summary
