"""The `dexbench` command: one subcommand per pipeline stage (each is also a DVC stage in dvc.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dexbench.errors import DexbenchError

try:  # Typer >= 0.24 vendors Click; older releases use the click package
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import exceptions as click_exc  # type: ignore[no-redef]

app = typer.Typer(
    name="dexbench",
    help="Datasets, metrics and leaderboards for disentangled portrait animation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Build datasets: render SynthHeads, turn raw videos into Parquet shards.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
out = Console()

Root = Annotated[Path, typer.Option(help="Workspace root holding datasets/, protocol/, submissions/, metrics/.")]


@data_app.command("synth")
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


@data_app.command("shard")
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


@app.command("protocol")
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


@app.command("methods")
def methods() -> None:
    """List installed animation methods (the `dexbench.methods` entry-point group)."""
    from dexbench.methods.registry import available

    table = Table("method", "entry point")
    for name, ep in available().items():
        table.add_row(name, ep.value)
    out.print(table)


@app.command("run")
def run(
    method: Annotated[str, typer.Argument(help="Method name (see `dexbench methods`).")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "synthheads",
    task: Annotated[str, typer.Option(help="'all' or comma-separated task names.")] = "all",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Submission folder.")] = None,
    codec: Annotated[str, typer.Option(help="Output codec: ffv1 (lossless), h264-lossless, h264.")] = "ffv1",
    root: Root = Path("."),
) -> None:
    """Run a method over a dataset's test manifests and write a submission (resumes finished pairs)."""
    from dexbench.data.layout import dataset_paths
    from dexbench.methods.registry import load_method
    from dexbench.methods.runner import run_task
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import resolve_tasks

    animator = load_method(method)
    selected = resolve_tasks(task)
    paths = dataset_paths(dataset, root)
    loader = PairLoader(paths.shards, paths.raw)
    fps = float(loader.reader.clips["fps"].iloc[0])
    submission = out_dir or paths.submission(method)
    for t in selected:
        manifest = load_task_manifest(paths.protocol, dataset, t.name)
        counts = run_task(animator, manifest, loader, submission, fps=fps, codec=codec)
        out.print(f"{method} / {t.name}: {counts['written']} written, {counts['skipped']} already done")


@app.command("eval")
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


@app.command("report")
def report(
    results: Annotated[Path, typer.Option(help="Results root holding <dataset>/<method>/summary.json.")] = Path(
        "metrics"
    ),
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder for the static site.")] = Path("reports"),
) -> None:
    """Build the static HTML leaderboard from result summaries."""
    from dexbench.report.collect import build_leaderboards, load_summaries
    from dexbench.report.html import render_index

    boards = build_leaderboards(load_summaries(results))
    index = render_index(boards, out_dir)
    out.print(f"report: {index.resolve()}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    command = typer.main.get_command(app)
    try:
        code = command.main(
            args=argv if argv is not None else sys.argv[1:], prog_name="dexbench", standalone_mode=False
        )
    except DexbenchError as exc:
        err.print("[bold red]error:[/] " + escape(exc.message + (f" — {exc.hint}" if exc.hint else "")))
        return 2
    except click_exc.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help())
        return 0
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "dexbench"
        err.print("[bold red]error:[/] " + escape(f"{exc.format_message()} (see `{where} --help`)"))
        return 2
    except click_exc.ClickException as exc:
        err.print("[bold red]error:[/] " + escape(exc.format_message()))
        return exc.exit_code or 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except OSError as exc:
        err.print("[bold red]error:[/] " + escape(f"{exc.strerror or exc}: {exc.filename or ''}"))
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
