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
    root: Root = Path("."),
) -> None:
    """Score a submission against the test manifests: per-clip Parquet + summary JSON."""
    from dexbench.data.layout import dataset_paths
    from dexbench.errors import require_dir
    from dexbench.metrics.evaluate import evaluate_submission
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import resolve_tasks

    require_dir(submission, "submission folder")
    if bootstrap < 10:
        raise DexbenchError("--bootstrap must be at least 10 resamples")
    paths = dataset_paths(dataset, root)
    manifests = [load_task_manifest(paths.protocol, dataset, t.name) for t in resolve_tasks(tasks)]
    loader = PairLoader(paths.shards, paths.raw)
    dest = out_dir or paths.results(submission.name)
    summary = evaluate_submission(submission, manifests, loader, dest, n_resamples=bootstrap, seed=seed)
    for task, t in summary["tasks"].items():
        shown = ", ".join(
            f"{k}={v['mean']:.4g}" if v.get("available") and v.get("mean") is not None else f"{k}=unavailable"
            for k, v in t["metrics"].items()
        )
        out.print(f"{summary['method']['name']} / {task}: {shown}")
    out.print(f"results in {dest}")


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
