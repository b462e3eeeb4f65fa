"""The shard stage of the real-video recipes: clip list -> shard specs -> engine -> Parquet shards + quarantine.

A shard is the unit of work and of restart. `process_shard(spec)` is pure: the same spec gives the same bytes,
whichever engine or worker runs it. Its outputs are each written under a temporary name and renamed; the shard's
rejects go to `quarantine/shard-NNNNN.json` before the tables, and `stats/shard-NNNNN.json` is written last as
the completion marker, so a killed run leaves nothing that a resumed run would take as finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexbench import geometry
from dexbench.data.clip_pipeline import LANDMARK_INITS, ClipRejected, PipelineConfig, process_clip
from dexbench.data.quarantine import Rejected, summarize, write_quarantine
from dexbench.data.recipes.base import ClipSource, VideoRecipe
from dexbench.io import shards as shard_io
from dexbench.io.atomic import write_json
from dexbench.io.shards import shard_done, shard_name, write_shard
from dexbench.progress import track

LANDMARK_CONVENTION = "iBUG-300W 68 points, crop pixels, pixel centres at integer coordinates"
_ANALYZERS: dict[tuple[int, str], Any] = {}


@dataclass(frozen=True)
class ShardSpec:
    """Everything one shard worker needs (picklable, so it travels to a process pool or a Ray task)."""

    dataset: str
    license: str
    raw: str
    out: str
    index: int
    clips: tuple[ClipSource, ...]
    config: PipelineConfig


def analyzer_for(cfg: PipelineConfig) -> Any:
    """One FaceAnalyzer per worker process and configuration (loading the networks costs more than a clip)."""
    key = (cfg.detect_every, cfg.landmarker)
    if key not in _ANALYZERS:
        from dexbench.face.analyzer import FaceAnalyzer

        _ANALYZERS[key] = FaceAnalyzer(detect_every=cfg.detect_every, landmarker=cfg.landmarker)
    return _ANALYZERS[key]


def shard_metadata(dataset: str, cfg: PipelineConfig, analyzer: Any) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "annotators": dict(analyzer.provenance()),
        "landmark_convention": LANDMARK_CONVENTION,
        "rotation_convention": geometry.ROTATION_CONVENTION,
        "projection_convention": geometry.PROJECTION_CONVENTION,
        "expression_space": analyzer.expression_space,
        "expression_names": list(analyzer.expression_names),
        "jpeg_quality": cfg.jpeg_quality,
        "crop_size": cfg.crop_size,
        "pipeline": cfg.to_dict(),
        "landmark_init": LANDMARK_INITS[cfg.landmark_init],
    }


def _write_empty_shard(root: Path, index: int, metadata: dict[str, Any], expression_dim: int) -> dict[str, Any]:
    """A shard whose every clip was rejected still gets (empty) tables and stats: the run must not redo it."""
    name = shard_name(index)
    meta = {"schema_version": shard_io.SCHEMA_VERSION, **metadata}
    schemas = {
        "clips": shard_io.CLIPS_SCHEMA,
        "frames": shard_io.FRAMES_SCHEMA,
        "annotations": shard_io.annotations_schema(expression_dim),
    }
    for table_name, schema in schemas.items():
        shard_io._write_table(schema.empty_table(), root / table_name / f"{name}.parquet", meta)
    stats = {"shard": name, "n_clips": 0, "n_frames": 0, "jpeg_bytes": 0, "clip_ids": []}
    write_json(root / "stats" / f"{name}.json", stats)
    return stats


def quarantine_path(root: Path, index: int) -> Path:
    return root / "quarantine" / f"{shard_name(index)}.json"


def process_shard(spec: ShardSpec) -> dict[str, Any]:
    """Process every clip of one shard and write it. Returns the stats (plus the shard's rejects)."""
    cfg = spec.config
    out, raw = Path(spec.out), Path(spec.raw)
    analyzer = analyzer_for(cfg)
    records, rejected = [], []
    for src in spec.clips:
        try:
            records.append(process_clip(src, raw, cfg, analyzer, spec.dataset, spec.license))
        except ClipRejected as exc:
            rejected.append(exc.rejected)
    write_json(quarantine_path(out, spec.index), [r.__dict__ for r in rejected])
    metadata = shard_metadata(spec.dataset, cfg, analyzer)
    dim = len(analyzer.expression_names)
    if records:
        stats = write_shard(out, spec.index, records, metadata, expression_dim=dim)
    else:
        stats = _write_empty_shard(out, spec.index, metadata, dim)
    return {**stats, "rejected": [r.__dict__ for r in rejected]}


def _read_done(out: Path, index: int) -> dict[str, Any]:
    stats = json.loads((out / "stats" / f"{shard_name(index)}.json").read_text())
    q = quarantine_path(out, index)
    stats["rejected"] = json.loads(q.read_text()) if q.is_file() else []
    return stats


def _remove_shard(out: Path, index: int) -> None:
    name = shard_name(index)
    for p in [out / "stats" / f"{name}.json", quarantine_path(out, index)] + [
        out / t / f"{name}.parquet" for t in shard_io.TABLES
    ]:
        p.unlink(missing_ok=True)


def remove_stale_temporaries(out: Path) -> int:
    """Delete temp files a killed worker left (atomic_path's '.<name>.*' files); returns how many."""
    n = 0
    for sub in (*shard_io.TABLES, "stats", "quarantine"):
        for p in (out / sub).glob(".shard-*"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def plan_shards(clips: Sequence[ClipSource], clips_per_shard: int) -> list[tuple[ClipSource, ...]]:
    """Deterministic grouping: clips sorted by id, cut into runs of `clips_per_shard`."""
    ordered = sorted(clips, key=lambda c: c.clip_id)
    ids = [c.clip_id for c in ordered]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        from dexbench.errors import DexbenchError

        raise DexbenchError(f"duplicate clip ids in the recipe's listing: {dup}")
    return [tuple(ordered[k : k + clips_per_shard]) for k in range(0, len(ordered), clips_per_shard)]


def build_video_shards(
    recipe: VideoRecipe,
    raw: str | Path,
    out: str | Path,
    *,
    config: PipelineConfig | None = None,
    options: dict[str, Any] | None = None,
    clips_per_shard: int = 16,
    engine: Any = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Shard a real-video dataset; complete shards are skipped unless `overwrite`. Returns the run summary."""
    from dexbench.data.engines import get_engine

    config = config or PipelineConfig()
    config.validate()
    engine = engine or get_engine()
    raw, out = Path(raw).resolve(), Path(out).resolve()
    listing = recipe.list_clips(raw, dict(options or {}))
    groups = plan_shards(listing.clips, clips_per_shard)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    for index in range(len(groups), 10**5):  # a smaller re-plan leaves no stray shards behind
        if (
            not (out / "stats" / f"{shard_name(index)}.json").exists()
            and not (out / "clips" / f"{shard_name(index)}.parquet").exists()
        ):
            break
        _remove_shard(out, index)
    specs, stats = [], []
    for index, group in enumerate(groups):
        if shard_done(out, index) and not overwrite:
            stats.append(_read_done(out, index))
        else:
            _remove_shard(out, index)
            specs.append(ShardSpec(recipe.name, recipe.license, str(raw), str(out), index, group, config))
    t0 = time.perf_counter()
    for s in track(engine.map(process_shard, specs), f"{recipe.name}: shards", total=len(specs)):
        stats.append(s)
    elapsed = time.perf_counter() - t0
    rejected = list(listing.rejected) + [Rejected(**r) for s in stats for r in s["rejected"]]
    write_quarantine(out, rejected)
    summary = {
        "dataset": recipe.name,
        "shards": len(groups),
        "shards_written": len(specs),
        "shards_skipped": len(groups) - len(specs),
        "clips_listed": len(listing.clips) + len(listing.rejected),
        "clips_written": sum(s["n_clips"] for s in stats),
        "frames_written": sum(s["n_frames"] for s in stats),
        "clips_dropped": len(rejected),
        "dropped_by_reason": summarize(rejected),
        "engine": getattr(engine, "name", "?"),
        "workers": getattr(engine, "workers", 1),
        "seconds": round(elapsed, 2),
    }
    # only what the data determines goes to disk: the same bytes whichever engine, worker count or resume history
    run_specific = ("engine", "workers", "seconds", "shards_written", "shards_skipped")
    write_json(out / "run_summary.json", {k: v for k, v in summary.items() if k not in run_specific})
    return summary
