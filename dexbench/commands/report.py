"""`dexbench report`: build the static HTML leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import out


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


def register(app: typer.Typer) -> None:
    app.command("report")(report)
