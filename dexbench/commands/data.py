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
    dataset: Annotated[str, typer.Argument(help="Dataset recipe name (currently: synthheads).")],
    raw: Annotated[Path | None, typer.Option(help="Raw folder (default datasets/<dataset>/raw).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Shard folder (default datasets/<dataset>/shards).")
    ] = None,
    clips_per_shard: Annotated[int, typer.Option(help="Clips per shard file.")] = 16,
    jpeg_quality: Annotated[int, typer.Option(help="JPEG quality of stored frames.")] = 95,
    overwrite: Annotated[bool, typer.Option(help="Redo shards that are already complete.")] = False,
    root: Root = Path("."),
) -> None:
    """Turn a dataset's raw folder into Parquet shards (clips, frames, annotations)."""
    from dexbench.data.layout import dataset_paths

    if dataset != "synthheads":
        raise DexbenchError(f"unknown dataset recipe {dataset!r}", "available recipes: synthheads")
    from dexbench.data.recipes.synthheads import build_shards

    paths = dataset_paths(dataset, root)
    if clips_per_shard < 1 or not 1 <= jpeg_quality <= 100:
        raise DexbenchError("--clips-per-shard must be >= 1 and --jpeg-quality within 1..100")
    stats = build_shards(raw or paths.raw, out_dir or paths.shards, clips_per_shard, jpeg_quality, overwrite)
    out.print(
        f"{dataset}: {len(stats)} shards, {sum(s['n_frames'] for s in stats)} frames in {out_dir or paths.shards}"
    )


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Build datasets: render SynthHeads, turn raw videos into Parquet shards.", no_args_is_help=True
    )
    data_app.command("synth")(data_synth)
    data_app.command("shard")(data_shard)
    app.add_typer(data_app, name="data")
