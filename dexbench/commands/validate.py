"""`dexbench validate`: check a submission (folder or archive) against the test manifests, listing every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dexbench.commands.common import Root, out


def validate(
    submission: Annotated[Path, typer.Argument(help="Submission folder, .zip or .tar(.gz) archive.")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "synthheads",
    tasks: Annotated[
        str, typer.Option(help="'present' (the task folders found), 'all', or comma-separated task names.")
    ] = "present",
    workdir: Annotated[
        Path | None, typer.Option(help="Where archives are extracted (default: a temporary folder, removed after).")
    ] = None,
    deep: Annotated[
        bool, typer.Option(help="Decode every frame (blank-frame check); --no-deep reads headers only.")
    ] = True,
    allow_lossy: Annotated[bool, typer.Option(help="Accept lossy codecs (e.g. H.264 4:2:0).")] = False,
    root: Root = Path("."),
) -> None:
    """Check a submission before any metric runs: card, layout, pair ids, frame counts, size, fps, readability."""
    from dexbench.data.layout import dataset_paths
    from dexbench.data.reader import ShardReader
    from dexbench.errors import DexbenchError
    from dexbench.protocol.archive import open_submission
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.problems import Problem, SubmissionInvalid
    from dexbench.protocol.tasks import resolve_tasks
    from dexbench.protocol.validate import present_tasks, validate_folder

    paths = dataset_paths(dataset, root)
    clips = ShardReader(paths.shards).clips
    try:
        folder = open_submission(submission, workdir)
    except SubmissionInvalid as exc:
        _print(submission, exc.problems)
        raise DexbenchError(f"{submission}: {len(exc.problems)} problem(s); nothing was extracted") from None
    names = present_tasks(folder) if tasks == "present" else [t.name for t in resolve_tasks(tasks)]
    manifests = {t: load_task_manifest(paths.protocol, dataset, t) for t in names}
    card, problems = validate_folder(folder, manifests, clips, deep=deep, allow_lossy=allow_lossy)
    if not names:
        problems.append(Problem("missing-task", ".", "no task folders found (e.g. self-reenactment/)"))
    if problems:
        _print(submission, problems)
        raise DexbenchError(f"{submission}: {len(problems)} problem(s)", "fix them and run `dexbench validate` again")
    n = sum(len(m.pairs) for m in manifests.values())
    out.print(f"{escape(str(submission))}: valid — {escape(str(card['name']))!s}, {len(names)} task(s), {n} outputs")


def _print(submission: Path, problems: list) -> None:
    table = Table("problem", "where", "what", title=f"{escape(str(submission))}: {len(problems)} problem(s)")
    for p in problems:
        table.add_row(p.code, escape(p.where), escape(p.message))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
