"""`dexbench protocol`: generate the versioned test manifests of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import Root, out


def protocol(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    tasks: Annotated[str, typer.Option(help="'all' or comma-separated task names.")] = "all",
    seed: Annotated[int, typer.Option(help="Pairing seed.")] = 0,
    max_pairs: Annotated[int, typer.Option(help="Pairs per task at most.")] = 64,
    max_frames: Annotated[int, typer.Option(help="Driving frames per pair at most.")] = 48,
    root: Root = Path("."),
) -> None:
    """Generate the versioned test manifests (pairs) of a dataset from its shards."""
    from dexbench.data.layout import dataset_paths
    from dexbench.data.reader import ShardReader
    from dexbench.protocol.manifest import build_manifest, manifest_path
    from dexbench.protocol.tasks import resolve_tasks

    paths = dataset_paths(dataset, root)
    reader = ShardReader(paths.shards)
    for task in resolve_tasks(tasks):
        m = build_manifest(reader, task, seed=seed, max_pairs=max_pairs, max_frames=max_frames)
        m.save(manifest_path(paths.protocol, dataset, task.name))
        out.print(f"{task.name}: {len(m.pairs)} pairs, sha256 {m.sha256[:12]}")


def export_inputs(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write <task>/<pair_id>/ inputs into.")],
    tasks: Annotated[str, typer.Option(help="'all' or comma-separated task names.")] = "all",
    root: Root = Path("."),
) -> None:
    """Write each pair's source image and driving video as files, for methods run by their own scripts."""
    from dexbench.data.layout import dataset_paths
    from dexbench.protocol.export import export_inputs as export
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import resolve_tasks

    paths = dataset_paths(dataset, root)
    loader = PairLoader(paths.shards, paths.raw)
    for task in resolve_tasks(tasks):
        index = export(load_task_manifest(paths.protocol, dataset, task.name), loader, out_dir)
        out.print(f"{task.name}: {len(index['pairs'])} pairs in {out_dir / task.name}")


def register(app: typer.Typer) -> None:
    app.command("protocol")(protocol)
    app.command("export-inputs")(export_inputs)
