"""`dexbench report` (the DVC stage: one results root -> static site) and `dexbench leaderboard` (merge many)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import out
from dexbench.errors import DexbenchError

Out = Annotated[Path, typer.Option("--out", help="Output folder for the static site.")]
Gallery = Annotated[int, typer.Option(help="Sample pairs with animated previews per task on each method page.")]
Bootstrap = Annotated[int, typer.Option(help="Paired-bootstrap resamples for the significance markers.")]
Seed = Annotated[int, typer.Option(help="Seed of the paired bootstrap.")]
Calibration = Annotated[
    list[Path] | None,
    typer.Option(
        "--calibration",
        help="A `dexbench calibrate` JSON to show on the Calibration page (repeatable; "
        "<results>/calibration/*.json are found without it).",
    ),
]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Draw distributions and scatter charts.")]
Split = Annotated[
    bool,
    typer.Option(
        "--split-by-protocol",
        help="Rank results of different protocol versions in separate tables instead of refusing to build.",
    ),
]


def _build(
    roots: list[Path], out_dir: Path, *, root: Path | None, gallery: int, bootstrap: int, seed: int, plots: bool,
    split: bool, calibration: list[Path] | None = None,
) -> None:  # fmt: skip
    from dexbench.report.collect import load_results
    from dexbench.report.site import SiteOptions, build_site

    if bootstrap < 10:
        raise DexbenchError("--bootstrap must be at least 10 resamples")
    if gallery < 0:
        raise DexbenchError("--gallery must be 0 or more")
    results = load_results(roots)
    options = SiteOptions(
        root=root, gallery=gallery, n_resamples=bootstrap, seed=seed, plots=plots, split_by_protocol=split,
        calibration_roots=[r for r in roots if r.is_dir()], calibration_files=list(calibration or []),
    )  # fmt: skip
    site = build_site(results, out_dir, options)
    n_methods = len({(r.method, r.version) for b in site.boards for r in b.rows})
    out.print(f"{len(site.boards)} tables, {n_methods} methods, {len(site.pages)} pages")
    out.print(f"changes: {site.changes.summary_line()}", markup=False, highlight=False)
    out.print(f"report: {(out_dir / 'index.html').resolve()}")


def report(
    results: Annotated[Path, typer.Option(help="Results root holding <dataset>/<method>/summary.json.")] = Path(
        "metrics"
    ),
    out_dir: Out = Path("reports"),
    root: Annotated[
        Path, typer.Option(help="Workspace with datasets/, protocol/, submissions/ (previews, dataset pages).")
    ] = Path("."),
    gallery: Gallery = 2,
    bootstrap: Bootstrap = 1000,
    seed: Seed = 0,
    plots: Plots = True,
    split_by_protocol: Split = False,
    calibration: Calibration = None,
) -> None:
    """Build the static HTML leaderboard site (+ CSV/JSON/Markdown/LaTeX exports) from result summaries."""
    _build([results], out_dir, root=root, gallery=gallery, bootstrap=bootstrap, seed=seed, plots=plots,
           split=split_by_protocol, calibration=calibration)  # fmt: skip


def leaderboard(
    results: Annotated[
        list[Path], typer.Argument(help="Result folders to merge: results roots, dataset folders or single results.")
    ],
    out_dir: Out = Path("reports"),
    root: Annotated[
        Path | None, typer.Option(help="Workspace with datasets/, protocol/, submissions/ for previews (optional).")
    ] = None,
    gallery: Gallery = 2,
    bootstrap: Bootstrap = 1000,
    seed: Seed = 0,
    plots: Plots = True,
    split_by_protocol: Split = False,
    calibration: Calibration = None,
) -> None:
    """Merge result folders from many submissions into one site; report what changed since the previous build."""
    _build(list(results), out_dir, root=root, gallery=gallery, bootstrap=bootstrap, seed=seed, plots=plots,
           split=split_by_protocol, calibration=calibration)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("leaderboard")(leaderboard)
