"""Score a submission: one decode of each output feeds every metric family; per-clip table + summary JSON.

Streaming: one pair is in memory at a time (its output, target, driver and source frames); clip-level families
return floats, set-level families (FID/KID/FVD) keep fixed-size statistics, so peak memory does not grow with the
number of clips. Networks run batched over a clip's frames. Reference-side features (of targets, drivers, sources)
come from the on-disk FeatureCache when a cache folder is given.

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
from dexbench.metrics.registry import MetricSpec, all_metrics, get_metric
from dexbench.metrics.scorer import EvalConfig, EvalContext, MetricUnavailable, Sample, Scorer
from dexbench.progress import track
from dexbench.protocol.manifest import Manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.submission import find_output, read_card, read_output
from dexbench.protocol.tasks import get_task

# The Python API's default stays the cheap full-reference set; `dexbench eval` (and so the DVC pipeline) defaults to
# every registered metric, unavailable ones reported with the reason. `metric_names=None` means every metric.
DEFAULT_METRICS: tuple[str, ...] = ("l1", "psnr", "ssim")
ID_COLUMNS = ("pair_id", "source_clip", "driver_clip", "n_frames")


def _finite_or_none(x: float | None) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def build_scorers(ctx: EvalContext, metrics: list[MetricSpec]) -> tuple[list[Scorer], dict[str, str]]:
    """One scorer per family of the requested metrics; families that cannot load make their metrics unavailable."""
    from dexbench.metrics.families import scorer_class

    by_family: dict[str, list[str]] = {}
    for m in metrics:
        by_family.setdefault(m.family, []).append(m.name)
    scorers, unavailable = [], {}
    for family, names in by_family.items():
        try:
            scorers.append(scorer_class(family)(ctx, names))
        except MetricUnavailable as exc:
            unavailable.update(dict.fromkeys(names, exc.reason))
    return scorers, unavailable


def evaluate_task(
    submission: Path,
    manifest: Manifest,
    ctx: EvalContext,
    metrics: list[MetricSpec],
    scorers: list[Scorer],
    load_failures: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, float], dict[str, str], dict[str, dict[str, str]], tuple[int, int]]:
    """Per-pair values, set-level values, unavailable metrics with reasons, per-metric provenance, frame size."""
    task = get_task(manifest.task)
    task_dir = submission / task.name
    missing = [p.pair_id for p in manifest.pairs if find_output(task_dir, p.pair_id) is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DexbenchError(
            f"{task_dir}: {len(missing)} of {len(manifest.pairs)} pair outputs missing ({shown})",
            f"run the method on task {task.name} first, or check the submission folder",
        )
    unavailable = dict(load_failures)
    active: list[Scorer] = []
    for s in scorers:
        try:
            unavailable.update(s.start_task(task, manifest))
        except MetricUnavailable as exc:
            unavailable.update(dict.fromkeys(s.names, exc.reason))
        if any(n not in unavailable for n in s.names):
            active.append(s)
    rows: list[dict[str, Any]] = []
    size = (0, 0)
    for pair in track(manifest.pairs, f"eval: {task.name}"):
        path = find_output(task_dir, pair.pair_id)
        assert path is not None
        output = read_output(path)
        sample = Sample(ctx, manifest, task, pair, output)
        expected = (pair.n_frames, *sample.source.shape[1:])
        if output.shape != expected:
            raise DexbenchError(
                f"{path}: output has shape {output.shape}, expected {expected} (frames, height, width, channels)",
                "the output must have one frame per driving frame at the source's resolution",
            )
        size = output.shape[1:3]
        row: dict[str, Any] = {
            "pair_id": pair.pair_id,
            "source_clip": pair.source_clip,
            "driver_clip": pair.driver_clip,
            "n_frames": pair.n_frames,
        }
        for s in active:
            if all(n in unavailable for n in s.names):
                continue
            try:
                row.update(s.score(sample))
            except MetricUnavailable as exc:
                unavailable.update({n: exc.reason for n in s.names if n not in unavailable})
        rows.append(row)
    set_values: dict[str, float] = {}
    for s in active:
        if all(n in unavailable for n in s.names):
            continue
        try:
            set_values.update(s.finish_task())
        except MetricUnavailable as exc:
            unavailable.update({n: exc.reason for n in s.names if get_metric(n).level == "set"})
    provenance = {}
    for s in scorers:
        for n in s.names:
            if n not in unavailable:
                provenance[n] = s.provenance(n)
    table = pd.DataFrame(rows)
    wanted = {m.name for m in metrics if m.level == "clip" and m.name not in unavailable}
    keep = [c for c in table.columns if c in ID_COLUMNS or c in wanted or c == "face_rate"]
    return table[keep], set_values, unavailable, provenance, tuple(size)


def summarize(
    table: pd.DataFrame,
    metrics: list[MetricSpec],
    unavailable: dict[str, str],
    *,
    n_resamples: int,
    seed: int,
    set_values: dict[str, float] | None = None,
    provenance: dict[str, dict[str, str]] | None = None,
    common: dict[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    set_values = set_values or {}
    for m in metrics:
        prov = {**m.provenance, **(provenance or {}).get(m.name, {}), **(common or {})}
        entry: dict[str, Any] = {
            "higher_is_better": m.higher_is_better,
            "range": [_finite_or_none(v) for v in m.value_range],
            "unit": m.unit,
            "version": m.version,
            "level": m.level,
            "provenance": dict(sorted(prov.items())),
        }
        if m.name in unavailable:
            entry.update(available=False, reason=unavailable[m.name])
        elif m.level == "set":
            entry.update(available=True, mean=_finite_or_none(set_values.get(m.name)), ci95=None, n_clips=len(table))
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


# the order of "every metric": cheap full-reference first, as tables and the CLI print them
FAMILY_ORDER = ("fidelity", "lpips", "distribution", "fvd", "identity-", "motion", "disentangle", "jitter", "flicker")


def _family_rank(spec: MetricSpec) -> int:
    return next((i for i, f in enumerate(FAMILY_ORDER) if spec.family.startswith(f)), len(FAMILY_ORDER))


def resolve_metric_names(names: tuple[str, ...] | list[str] | None) -> list[MetricSpec]:
    """The requested metrics in the order given; None or empty = every registered metric in FAMILY_ORDER."""
    if not names:
        specs = list(all_metrics().values())
        return sorted(specs, key=_family_rank)  # stable: registration order inside a family
    return [get_metric(n) for n in names]


def evaluate_submission(
    submission: str | Path,
    manifests: list[Manifest],
    loader: PairLoader,
    out_dir: str | Path,
    *,
    metric_names: tuple[str, ...] | list[str] | None = DEFAULT_METRICS,
    n_resamples: int = 1000,
    seed: int = 0,
    config: EvalConfig | None = None,
) -> dict[str, Any]:
    submission, out_dir = Path(submission), Path(out_dir)
    card = read_card(submission)
    metrics = resolve_metric_names(metric_names)
    config = config or EvalConfig()
    ctx = EvalContext(config, loader)
    scorers, load_failures = build_scorers(ctx, metrics)
    tasks: dict[str, Any] = {}
    for manifest in manifests:
        table, set_values, unavailable, provenance, size = evaluate_task(
            submission, manifest, ctx, metrics, scorers, load_failures
        )
        with atomic_path(out_dir / "per_clip" / f"{manifest.task}.parquet") as tmp:
            pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp, compression="zstd")
        n_frames = int(table["n_frames"].sum())
        common = {
            "frame_resolution": f"{size[1]}x{size[0]}",
            "n_clips": str(len(table)),
            "n_frames": str(n_frames),
            "protocol_version": manifest.protocol_version,
            "task_version": manifest.task_version,
        }
        tasks[manifest.task] = {
            "task_version": manifest.task_version,
            "manifest_sha256": manifest.sha256,
            "n_pairs": len(manifest.pairs),
            "n_frames": n_frames,
            "metrics": summarize(
                table,
                metrics,
                unavailable,
                n_resamples=n_resamples,
                seed=seed,
                set_values=set_values,
                provenance=provenance,
                common=common,
            ),
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
