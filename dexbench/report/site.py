"""Build the whole static site: leaderboards, method / dataset / disentanglement / calibration / changes pages, exports.

Everything a page needs is inside it (styles, script, charts as SVG, previews as data: URIs), so the folder can be
opened from file:// or copied to any static host. `leaderboard.json` in the output is the snapshot the next build
diffs against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dexbench.io.atomic import dumps_json, write_text
from dexbench.progress import track
from dexbench.report import changes as changes_mod
from dexbench.report.calibration import analyzer_mismatches, find_calibration
from dexbench.report.collect import Leaderboard, Result, build_leaderboards
from dexbench.report.dataset import dataset_info
from dexbench.report.disentangle_view import build_scatters
from dexbench.report.exports import write_exports, write_published_exports
from dexbench.report.format import safe_url, slugify
from dexbench.report.html import provenance, render_page
from dexbench.report.method_page import build_method_pages
from dexbench.report.metric_docs import metric_docs
from dexbench.report.plots import histograms_svg
from dexbench.report.previews import PreviewMaker
from dexbench.report.published import HEADING as PUBLISHED_HEADING
from dexbench.report.published import PublishedPaper
from dexbench.report.published import load as load_published
from dexbench.report.significance import mark_ties

MAX_EXPRESSION_PLOTS = 12


@dataclass
class SiteOptions:
    root: Path | None = None  # workspace holding datasets/, protocol/, submissions/ (previews, dataset pages)
    gallery: int = 2  # sample pairs per task on a method page
    worst: int = 5  # worst clips listed per metric
    plots: bool = True
    n_resamples: int = 1000  # paired bootstrap resamples for the "not significantly different" marker
    seed: int = 0
    split_by_protocol: bool = False
    calibration_roots: list[Path] = field(default_factory=list)  # folders holding calibration/<dataset>.json
    calibration_files: list[Path] = field(default_factory=list)  # `dexbench calibrate --out` files named directly
    published: list[PublishedPaper] | None = None  # None: what dexbench.protocol.published ships


@dataclass
class SiteResult:
    out_dir: Path
    pages: list[Path]
    boards: list[Leaderboard]
    changes: changes_mod.Changes


def url_boards(boards: list[Leaderboard]) -> None:
    for b in boards:
        for r in b.rows:
            r.url = safe_url(r.url)


def nav_for(pages: dict[str, str], current: str) -> list[dict[str, str]]:
    """Navigation: label -> file; the leaderboard is always first."""
    items = {"Leaderboard": "index.html", **pages}
    return [{"label": k, "href": v, "current": v == current} for k, v in items.items()]  # type: ignore[dict-item]


def build_site(results: list[Result], out_dir: str | Path, options: SiteOptions | None = None) -> SiteResult:
    opt = options or SiteOptions()
    out = Path(out_dir)
    boards = build_leaderboards(results, split_by_protocol=opt.split_by_protocol)
    url_boards(boards)
    test_name = mark_ties(boards, n_resamples=opt.n_resamples, seed=opt.seed)
    prov = provenance(boards, test_name)
    exports = {e["board"]: e for e in write_exports(boards, out)}

    notes = []
    if any(b.split_by_protocol for b in boards):
        notes.append(
            "Some tasks hold results from several protocol versions: each version has its own table, ranked "
            "separately; rows of different protocol versions are never compared."
        )
    published = load_published() if opt.published is None else opt.published
    published_exports = write_published_exports(published, out)
    datasets = sorted({b.dataset for b in boards})
    # dataset names come from result files: only a plain name is ever used as a path below the workspace
    makers = (
        {d: PreviewMaker(opt.root, d) for d in datasets if slugify(d) == d}
        if opt.root is not None and opt.gallery > 0
        else {}
    )
    methods = build_method_pages(
        list(track(boards, "report: method pages")), previews=makers, gallery=opt.gallery, worst=opt.worst,
        plots=opt.plots,
    )  # fmt: skip
    scatters, dis_notes = build_scatters(boards, plots=opt.plots)
    calibration = find_calibration(opt.calibration_roots, opt.calibration_files)
    dataset_files = {d: f"dataset-{slugify(d)}.html" for d in datasets}

    pages: dict[str, str] = {"Metrics": "metrics.html", "Disentanglement": "disentanglement.html"}
    for d, f in dataset_files.items():
        pages[f"Dataset: {d}" if len(datasets) > 1 else "Dataset"] = f
    if calibration:
        pages["Calibration"] = "calibration.html"
    pages["Changes"] = "changes.html"
    pages["Exports"] = "exports.html"
    method_links = {(m.method, m.version): m.file for m in methods}

    written = [
        render_page(
            "index.html.j2", out / "index.html", nav=nav_for(pages, "index.html"), prov=prov, boards=boards,
            published=published, published_heading=PUBLISHED_HEADING, published_exports=published_exports,
            method_pages=method_links, exports=exports, notes=notes, methods=methods,
        )
    ]  # fmt: skip
    for m in methods:
        written.append(
            render_page(
                "method.html.j2", out / m.file, nav=nav_for(pages, ""), prov=prov, m=m, method_pages=method_links
            )
        )
    for d in datasets:
        written.append(_dataset_page(d, boards, out / dataset_files[d], opt, nav_for(pages, dataset_files[d]), prov))
    written.append(
        render_page(
            "disentanglement.html.j2", out / "disentanglement.html", nav=nav_for(pages, "disentanglement.html"),
            prov=prov, scatters=scatters, notes=dis_notes,
        )
    )  # fmt: skip
    written.append(
        render_page(
            "metrics.html.j2", out / "metrics.html", nav=nav_for(pages, "metrics.html"), prov=prov,
            docs=metric_docs(boards),
        )
    )  # fmt: skip
    if calibration:
        face: dict[str, set[str]] = {}
        for b in boards:
            for col in b.columns:
                for k, v in col.provenance.items():
                    if k.startswith("face."):
                        face.setdefault(k.removeprefix("face."), set()).add(v)
        written.append(
            render_page(
                "calibration.html.j2", out / "calibration.html", nav=nav_for(pages, "calibration.html"), prov=prov,
                docs=calibration, mismatches={d.path: analyzer_mismatches(d, face) for d in calibration},
            )
        )  # fmt: skip

    previous = changes_mod.read_snapshot(out)
    snap = changes_mod.snapshot(boards, prov.when)
    ch = changes_mod.diff(previous, snap)
    write_text(out / "exports" / "changes.json", dumps_json(ch.to_dict()))
    written.append(
        render_page("changes.html.j2", out / "changes.html", nav=nav_for(pages, "changes.html"), prov=prov, ch=ch)
    )
    written.append(
        render_page(
            "exports.html.j2",
            out / "exports.html",
            nav=nav_for(pages, "exports.html"),
            prov=prov,
            boards=boards,
            exports=exports,
            published_exports=published_exports,
        )
    )
    changes_mod.write_snapshot(out, snap)  # last: a failed build never becomes the baseline of the next diff
    _publishable(out)
    return SiteResult(out, written, boards, ch)


def _publishable(out: Path) -> None:
    """Atomic writes create owner-only files; a static site must be readable by the web server."""
    for path in [out / changes_mod.SNAPSHOT, *out.glob("*.html"), *(out / "exports").glob("*")]:
        if path.is_file():
            path.chmod(0o644)


def _dataset_page(
    name: str, boards: list[Leaderboard], path: Path, opt: SiteOptions, nav: list[dict[str, str]], prov
) -> Path:
    info = None
    charts: dict[str, str] = {}
    if opt.root is not None and slugify(name) == name:
        from dexbench.data.layout import dataset_paths

        info = dataset_info(name, dataset_paths(name, opt.root).shards)
        if opt.plots and info.found:
            if info.pose:
                charts["Head pose (degrees)"] = histograms_svg(info.pose, salt=f"{name}/pose")
            if info.expression:
                shown = dict(list(info.expression.items())[:MAX_EXPRESSION_PLOTS])
                charts["Expression parameters"] = histograms_svg(shown, salt=f"{name}/expr")
            if info.quality:
                charts["Face quality"] = histograms_svg(info.quality, salt=f"{name}/quality")
    mine = [b for b in boards if b.dataset == name]
    return render_page(
        "dataset.html.j2", path, nav=nav, prov=prov, name=name, info=info, charts=charts, boards=mine,
        max_expr=MAX_EXPRESSION_PLOTS,
    )  # fmt: skip
