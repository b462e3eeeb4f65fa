"""`dexbench methods` and `dexbench run`: list methods, run one into a submission."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dexbench.commands.common import Root, out


def methods() -> None:
    """List installed animation methods (the `dexbench.methods` entry-point group)."""
    from dexbench.methods.registry import available

    table = Table("method", "entry point")
    for name, ep in available().items():
        table.add_row(name, ep.value)
    out.print(table)


def run(
    method: Annotated[str, typer.Argument(help="Method name (see `dexbench methods`).")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "synthheads",
    task: Annotated[str, typer.Option(help="'all' or comma-separated task names.")] = "all",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Submission folder.")] = None,
    codec: Annotated[str, typer.Option(help="Output codec: ffv1 (lossless), h264-lossless, h264.")] = "ffv1",
    param: Annotated[
        list[str] | None,
        typer.Option(help="A method parameter KEY=VALUE (repeatable; the value is read as YAML: 3, 0.5, true, text)."),
    ] = None,
    root: Root = Path("."),
) -> None:
    """Run a method over a dataset's test manifests and write a submission (resumes finished pairs when the method,
    its version and its parameters are the ones that wrote them)."""
    from dexbench.data.layout import dataset_paths
    from dexbench.methods.registry import load_method
    from dexbench.methods.runner import run_task
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import resolve_tasks

    animator = load_method(method, **parse_params(param or []))
    selected = resolve_tasks(task)
    paths = dataset_paths(dataset, root)
    loader = PairLoader(paths.shards, paths.raw)
    fps = float(loader.reader.clips["fps"].iloc[0])
    submission = out_dir or paths.submission(method)
    for t in selected:
        manifest = load_task_manifest(paths.protocol, dataset, t.name)
        counts = run_task(animator, manifest, loader, submission, fps=fps, codec=codec)
        out.print(f"{method} / {t.name}: {counts['written']} written, {counts['skipped']} already done")


def parse_params(items: list[str]) -> dict[str, object]:
    """KEY=VALUE strings -> parameters; values are parsed as YAML scalars (safe_load: no objects are built)."""
    import yaml

    from dexbench.errors import DexbenchError

    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise DexbenchError(f"--param {item!r} is not KEY=VALUE", "write e.g. --param steps=8")
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed = value
        params[key.strip()] = parsed if isinstance(parsed, (str, int, float, bool)) or parsed is None else value
    return params


def register(app: typer.Typer) -> None:
    app.command("methods")(methods)
    app.command("run")(run)
