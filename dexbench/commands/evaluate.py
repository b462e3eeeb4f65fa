"""`dexbench eval`: score a submission."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import Root, out
from dexbench.errors import DexbenchError


def evaluate(
    submission: Annotated[Path, typer.Argument(help="Submission folder (method.yaml + one folder per task).")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "synthheads",
    tasks: Annotated[str, typer.Option(help="'all' or comma-separated task names.")] = "all",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default metrics/<dataset>/<name>).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for confidence intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    metrics: Annotated[
        str, typer.Option(help="'all' (every metric; unavailable ones say why) or comma-separated metric names.")
    ] = "all",
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Reference-feature cache (default $DEXBENCH_CACHE or ~/.cache/dexbench/features)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every reference feature.")] = False,
    weights: Annotated[
        list[str] | None,
        typer.Option("--weights", help="NET=PATH: an explicit weights file for a network (repeatable)."),
    ] = None,
    fid_net: Annotated[
        str, typer.Option(help="Inception for FID/KID: inception-fid-ts or inception-pytorch-fid.")
    ] = "inception-fid-ts",
    runtime: Annotated[
        str, typer.Option(help="Where Inception runs: onnxruntime (same weights, faster on CPU) or torch.")
    ] = "onnxruntime",
    batch_size: Annotated[int, typer.Option(help="Frames per network batch.")] = 32,
    fid_frames_per_clip: Annotated[
        int, typer.Option(help="Frames per clip that FID/KID see, evenly spaced; 0 = every frame (the default).")
    ] = 0,
    root: Root = Path("."),
) -> None:
    """Score a submission against the test manifests: per-clip Parquet + summary JSON."""
    from dexbench.data.layout import dataset_paths
    from dexbench.metrics.cache import default_cache_dir
    from dexbench.metrics.evaluate import evaluate_submission
    from dexbench.metrics.inception import INCEPTION_NETS, RUNTIMES
    from dexbench.metrics.registry import all_metrics, get_metric
    from dexbench.metrics.scorer import EvalConfig
    from dexbench.nets.registry import get_net
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import resolve_tasks
    from dexbench.protocol.validate import open_submission, require_valid

    submission = open_submission(submission)  # a folder as is; an archive safely extracted to a temporary folder
    if bootstrap < 10:
        raise DexbenchError("--bootstrap must be at least 10 resamples")
    names = None if metrics.strip() == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    if names is not None and not names:
        raise DexbenchError("--metrics names no metric", f"use 'all' or some of: {', '.join(sorted(all_metrics()))}")
    for n in names or []:
        get_metric(n)
    if fid_net not in INCEPTION_NETS:
        raise DexbenchError(f"--fid-net {fid_net!r} is not one of {', '.join(INCEPTION_NETS)}")
    if runtime not in RUNTIMES:
        raise DexbenchError(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if fid_frames_per_clip < 0:
        raise DexbenchError("--fid-frames-per-clip must be 0 (every frame) or more")
    if batch_size < 1:
        raise DexbenchError("--batch-size must be at least 1")
    explicit: dict[str, str] = {}
    for w in weights or []:
        net, sep, path = w.partition("=")
        if not sep or not net or not path:
            raise DexbenchError(f"--weights {w!r} is not NET=PATH", "e.g. --weights lpips-alex-backbone=alexnet.pth")
        get_net(net)
        explicit[net] = path
    config = EvalConfig(
        weights=explicit,
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
        batch_size=batch_size,
        seed=seed,
        fid_net=fid_net,
        fid_frames_per_clip=fid_frames_per_clip,
        runtime=runtime,
    )
    paths = dataset_paths(dataset, root)
    manifests = [load_task_manifest(paths.protocol, dataset, t.name) for t in resolve_tasks(tasks)]
    loader = PairLoader(paths.shards, paths.raw)
    require_valid(submission, manifests, loader.reader.clips)  # every card/layout/header problem at once
    dest = out_dir or paths.results(submission.name)
    summary = evaluate_submission(
        submission, manifests, loader, dest, metric_names=names, n_resamples=bootstrap, seed=seed, config=config
    )
    for task, t in summary["tasks"].items():
        shown = ", ".join(
            f"{k}={v['mean']:.4g}" if v.get("available") and v.get("mean") is not None else f"{k}=unavailable"
            for k, v in t["metrics"].items()
        )
        out.print(f"{summary['method']['name']} / {task}: {shown}")
    out.print(f"results in {dest}")


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
