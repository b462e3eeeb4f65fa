"""`dexbench data ...`: build datasets (SynthHeads rendering, raw videos -> Parquet shards)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import Root, out
from dexbench.errors import DexbenchError


def data_synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Raw output folder.")] = Path("datasets/synthheads/raw"),
    identities: Annotated[int, typer.Option(help="Number of distinct identities.")] = 24,
    clips_per_identity: Annotated[int, typer.Option(help="Clips rendered per identity.")] = 2,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 48,
    fps: Annotated[float, typer.Option(help="Frame rate.")] = 25.0,
    size: Annotated[int, typer.Option(help="Frame size in pixels (square, 64..512).")] = 128,
    test_fraction: Annotated[float, typer.Option(help="Fraction of identities in the test split.")] = 0.34,
    seed: Annotated[int, typer.Option(help="Dataset seed: same seed, same bytes.")] = 0,
) -> None:
    """Render the SynthHeads raw dataset (lossless videos + exact pose/expression/landmark ground truth)."""
    from dexbench.data.recipes.synthheads import SynthParams, build_raw

    params = SynthParams(identities, clips_per_identity, frames, fps, size, test_fraction, seed)
    meta = build_raw(params, out_dir)
    out.print(f"SynthHeads: {len(meta['clips'])} clips in {out_dir}")


def data_shard(
    dataset: Annotated[str, typer.Argument(help="Dataset recipe name (`dexbench data recipes` lists them).")],
    raw: Annotated[Path | None, typer.Option(help="Raw folder (default datasets/<dataset>/raw).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Shard folder (default datasets/<dataset>/shards).")
    ] = None,
    clips_per_shard: Annotated[int, typer.Option(help="Clips per shard file.")] = 16,
    jpeg_quality: Annotated[int, typer.Option(help="JPEG quality of stored frames.")] = 95,
    overwrite: Annotated[bool, typer.Option(help="Redo shards that are already complete.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Parallel shard workers (default $DEXBENCH_WORKERS, else 1).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="local (process pool) or ray (default $DEXBENCH_ENGINE, else local).")
    ] = None,
    crop_size: Annotated[int, typer.Option(help="Face crop size in pixels (real-video recipes).")] = 256,
    crop_margin: Annotated[float, typer.Option(help="Crop margin around the clip's face boxes, in face sizes.")] = 0.8,
    detect_every: Annotated[int, typer.Option(help="Run the face detector every k frames and track between.")] = 5,
    min_face_size: Annotated[float, typer.Option(help="Drop clips whose median face box is smaller (px).")] = 32.0,
    min_blur: Annotated[float, typer.Option(help="Drop clips whose median sharpness is lower (0: keep all).")] = 0.0,
    max_frames: Annotated[int, typer.Option(help="Keep at most this many frames per clip (0: all).")] = 0,
    test_fraction: Annotated[
        float, typer.Option(help="Test fraction of identities, for datasets without an official split.")
    ] = 0.1,
    split_seed: Annotated[int, typer.Option(help="Seed of the identity split (datasets without one).")] = 0,
    max_clip_seconds: Annotated[float, typer.Option(help="HDTF: cut longer published ranges into segments.")] = 20.0,
    root: Root = Path("."),
) -> None:
    """Turn a dataset's raw folder into Parquet shards (clips, frames, annotations) and a quarantine table."""
    from dexbench.data.engines import get_engine
    from dexbench.data.layout import dataset_paths
    from dexbench.data.recipes.registry import load_recipe

    recipe = load_recipe(dataset)
    paths = dataset_paths(dataset, root)
    if clips_per_shard < 1 or not 1 <= jpeg_quality <= 100:
        raise DexbenchError("--clips-per-shard must be >= 1 and --jpeg-quality within 1..100")
    runner = get_engine(engine, workers)
    target = out_dir or paths.shards
    if dataset == "synthheads":
        from dexbench.data.recipes.synthheads import build_shards

        stats = build_shards(raw or paths.raw, target, clips_per_shard, jpeg_quality, overwrite, engine=runner)
        out.print(f"{dataset}: {len(stats)} shards, {sum(s['n_frames'] for s in stats)} frames in {target}")
        return
    from dexbench.data.clip_pipeline import PipelineConfig
    from dexbench.data.recipes.sharding import build_video_shards

    config = PipelineConfig(
        crop_size=crop_size,
        crop_margin=crop_margin,
        detect_every=detect_every,
        jpeg_quality=jpeg_quality,
        min_face_size=min_face_size,
        min_blur=min_blur,
        max_frames=max_frames,
    )
    options = {"test_fraction": test_fraction, "seed": split_seed, "max_clip_seconds": max_clip_seconds}
    summary = build_video_shards(
        recipe,
        raw or paths.raw,
        target,
        config=config,
        options=options,
        clips_per_shard=clips_per_shard,
        engine=runner,
        overwrite=overwrite,
    )
    out.print(
        f"{dataset}: {summary['shards']} shards ({summary['shards_written']} written, {summary['shards_skipped']}"
        f" already complete), {summary['clips_written']} clips, {summary['frames_written']} frames in {target}"
        f" [{summary['engine']} engine, {summary['workers']} workers, {summary['seconds']} s]"
    )
    if summary["clips_dropped"]:
        reasons = ", ".join(f"{code} {n}" for code, n in summary["dropped_by_reason"].items())
        out.print(f"dropped {summary['clips_dropped']} clips ({reasons}); see {target / 'quarantine.parquet'}")
    else:
        out.print("dropped 0 clips")


def data_recipes() -> None:
    """List the dataset recipes (built-in and installed plug-ins)."""
    from rich.table import Table

    from dexbench.data.recipes.registry import available, load_recipe

    table = Table("recipe", "dataset", "licence", "card (raw layout, how to obtain, split policy)")
    for name in available():
        r = load_recipe(name)
        table.add_row(name, r.title, r.license, f"datasets/{name}/README.md")
    out.print(table)


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Build datasets: render SynthHeads, turn raw videos into Parquet shards.", no_args_is_help=True
    )
    data_app.command("synth")(data_synth)
    data_app.command("shard")(data_shard)
    data_app.command("recipes")(data_recipes)
    app.add_typer(data_app, name="data")
