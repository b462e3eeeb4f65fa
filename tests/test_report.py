"""The report: leaderboards from real results, significance, exports, the merged leaderboard and its diff, pages."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import Workspace
from dexbench.errors import DexbenchError
from dexbench.report.collect import IncompatibleResults, build_leaderboards, load_results
from dexbench.report.exports import to_csv, to_latex, to_markdown
from dexbench.report.published import PublishedRow
from dexbench.report.site import SiteOptions, build_site
from dexbench.report.synthetic_results import write_results

HOSTILE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">\'&'


def make_real_results(workspace: Workspace, root: Path) -> Path:
    """static + driving on every task of the tiny workspace, laid out as a dexbench workspace under `root`."""
    from dexbench.methods.registry import load_method
    from dexbench.methods.runner import run_task
    from dexbench.metrics.evaluate import evaluate_submission
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import TASKS

    (root / "datasets").symlink_to(workspace.root / "datasets")
    (root / "protocol").symlink_to(workspace.root / "protocol")
    loader = PairLoader(workspace.shards, workspace.raw)
    manifests = [load_task_manifest(workspace.protocol, "synthheads", t) for t in TASKS]
    for name in ("static", "driving"):
        sub = root / "submissions" / "synthheads" / name
        for m in manifests:
            run_task(load_method(name), m, loader, sub, fps=25.0)
        evaluate_submission(
            sub, manifests, loader, root / "metrics" / "synthheads" / name, metric_names=("l1", "psnr", "ssim"),
            n_resamples=200,
        )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def real(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_real_results(workspace, tmp_path_factory.mktemp("real"))


def _hostile_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    s = json.loads((dst / "summary.json").read_text())
    s["method"] = {
        "name": HOSTILE,
        "version": '1"><script>window.__pwned=3</script>',
        "url": "javascript:window.__pwned=4",
        "description": "<img src=x onerror=alert(1)> \\input{/etc/passwd} =cmd|' /C calc'!A0",
        "parameters": {"<b>k</b>": "</pre><script>window.__pwned=5</script>"},
    }
    (dst / "summary.json").write_text(json.dumps(s))
    return dst


def test_site_from_real_results(real: Path, tmp_path: Path) -> None:
    site = build_site(load_results(real / "metrics"), tmp_path / "site", SiteOptions(root=real, n_resamples=200))
    index = (tmp_path / "site" / "index.html").read_text()
    tasks = {b.task for b in site.boards}
    assert {"self-reenactment", "cross-reenactment"} <= tasks
    assert index.count("<table>") == len(site.boards)
    # driving reproduces self-reenactment exactly: best on every metric there, marked and ranked first
    self_board = next(b for b in site.boards if b.task == "self-reenactment")
    driving = next(r for r in self_board.rows if r.method == "driving")
    assert all(c.best and c.rank == 1 for c in driving.cells.values())
    # static is far worse on all 16 clips: the paired test must call that significant
    static = next(r for r in self_board.rows if r.method == "static")
    assert all(c.tied_with_best is False and c.p_value is not None and c.p_value < 0.05 for c in static.cells.values())
    method_page = (tmp_path / "site" / "method-static-v1.html").read_text()
    assert "data:image/webp;base64," in method_page  # sample previews embedded
    assert "ground truth" in method_page and "Worst clips" in method_page and "<svg" in method_page
    dataset_page = (tmp_path / "site" / "dataset-synthheads.html").read_text()
    assert "identities" in dataset_page and "yaw" in dataset_page
    assert "Extractor weights" in index and "dexbench 0.1" in index


def test_ties_follow_the_paired_bootstrap(tmp_path: Path) -> None:
    from dexbench.report.significance import local_paired_bootstrap, mark_ties

    root = tmp_path / "m"
    write_results(root, 3, tasks=("self-reenactment",), n_pairs=40, seed=3)
    # make m01 a near-copy of m00 (tie) and m02 much worse (no tie) on psnr
    base = pd.read_parquet(root / "synthheads" / "m00" / "per_clip" / "self-reenactment.parquet")
    rng = np.random.default_rng(0)
    for k, shift in ((1, 0.0), (2, -5.0)):
        t = base.copy()
        noise = rng.normal(0, 0.05, len(t))
        t["psnr"] = base["psnr"] + shift + noise - noise.mean() - 1e-9  # m01: same mean, clip-level noise only
        t.to_parquet(root / "synthheads" / f"m{k:02d}" / "per_clip" / "self-reenactment.parquet")
        s = json.loads((root / "synthheads" / f"m{k:02d}" / "summary.json").read_text())
        s["tasks"]["self-reenactment"]["metrics"]["psnr"]["mean"] = float(t["psnr"].mean())
        (root / "synthheads" / f"m{k:02d}" / "summary.json").write_text(json.dumps(s))
    boards = build_leaderboards(load_results(root))
    mark_ties(boards, n_resamples=500)
    cells = {r.method: r.cells["psnr"] for r in boards[0].rows}
    assert cells["method-00"].best
    assert cells["method-01"].tied_with_best is True
    assert cells["method-02"].tied_with_best is False
    local = local_paired_bootstrap(base["psnr"].to_numpy(), base["psnr"].to_numpy() - 5, higher_is_better=True)
    assert local.significant and local.diff == pytest.approx(5.0)


def test_exports_round_trip_and_escape(real: Path, tmp_path: Path) -> None:
    _hostile_copy(real / "metrics" / "synthheads" / "static", tmp_path / "metrics" / "synthheads" / "evil")
    shutil.copytree(real / "metrics" / "synthheads" / "driving", tmp_path / "metrics" / "synthheads" / "driving")
    boards = build_leaderboards(load_results(tmp_path / "metrics"))
    board = next(b for b in boards if b.task == "self-reenactment")
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    summary = json.loads((real / "metrics" / "synthheads" / "driving" / "summary.json").read_text())
    drow = next(r for r in rows if r["method"] == "driving")
    assert float(drow["psnr"]) == summary["tasks"]["self-reenactment"]["metrics"]["psnr"]["mean"]
    assert drow["psnr_best"] == "1"
    tex = to_latex(board, ci=True)
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\textbf{" in tex and "{\\scriptsize [" in tex
    assert "<script>" not in tex and "\\textless{}script\\textgreater{}" in tex
    assert "[" not in to_latex(board, ci=False).split("\\midrule")[1]
    md = to_markdown(board)
    evil_line = next(ln for ln in md.splitlines() if "script" in ln)
    assert evil_line.count("|") - evil_line.count("\\|") == len(board.columns) + 2  # no pipe breaks the table
    assert "\\<script\\>" in evil_line


def test_hostile_strings_are_text(real: Path, tmp_path: Path) -> None:
    _hostile_copy(real / "metrics" / "synthheads" / "static", tmp_path / "metrics" / "synthheads" / "evil")
    build_site(load_results(tmp_path / "metrics"), tmp_path / "site", SiteOptions(root=None, n_resamples=50))
    for page in (tmp_path / "site").glob("*.html"):
        html = page.read_text()
        assert "<script>window" not in html and "<img src=x" not in html, page.name
        assert "javascript:" not in html, page.name
        assert html.count("<script>") == 1  # the site's own sort script only
    index = (tmp_path / "site" / "index.html").read_text()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in index
    assert not any(p.name.startswith("method-<") for p in (tmp_path / "site").iterdir())


def test_unknown_and_unavailable_metrics_render_generically(tmp_path: Path) -> None:
    write_results(tmp_path / "m", 2, tasks=("self-reenactment",), n_pairs=10)
    path = tmp_path / "m" / "synthheads" / "m00" / "summary.json"
    s = json.loads(path.read_text())
    s["tasks"]["self-reenactment"]["metrics"]["warpiness"] = {
        "higher_is_better": False, "unit": "px", "range": [0, None], "available": True, "mean": 1.5,
        "ci95": [1.0, 2.0], "version": "3", "provenance": {"weights_sha256": "ab" * 32},
    }  # fmt: skip
    path.write_text(json.dumps(s))
    build_site(load_results(tmp_path / "m"), tmp_path / "site", SiteOptions(n_resamples=50))
    index = (tmp_path / "site" / "index.html").read_text()
    assert "warpiness" in index and "(px)" in index and "abababababababab" in index
    assert "needs &gt;= 256 clips for a stable estimate" in index  # the fid reason, visible and in the title
    assert "not computed by this submission" in index  # method-01 lacks warpiness


def test_incompatible_protocols_are_refused_or_split(tmp_path: Path) -> None:
    write_results(tmp_path / "a", 2, tasks=("self-reenactment",), n_pairs=8, protocol_version="1.0")
    write_results(tmp_path / "b", 1, tasks=("self-reenactment",), n_pairs=8, protocol_version="0.1", names=["old"])
    results = load_results([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(IncompatibleResults, match=r"refusing to rank synthheads/self-reenactment .*protocol 0\.1"):
        build_leaderboards(results)
    boards = build_leaderboards(results, split_by_protocol=True)
    assert sorted(b.protocol_version for b in boards) == ["0.1", "1.0"]
    assert len({b.slug for b in boards}) == 2 and [len(b.rows) for b in boards] == [1, 2]


def test_cli_leaderboard_merges_and_diffs(tmp_path: Path) -> None:
    from test_cli import dexbench

    write_results(tmp_path / "sub1", 2, tasks=("self-reenactment",), n_pairs=12, seed=1)
    write_results(tmp_path / "sub2", 1, tasks=("self-reenactment",), n_pairs=12, seed=2, names=["late"])
    (tmp_path / "sub2" / "synthheads" / "m00").rename(tmp_path / "sub2" / "synthheads" / "late")
    site = tmp_path / "site"
    r = dexbench("leaderboard", str(tmp_path / "sub1"), "--out", str(site), "--bootstrap", "50", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "first build" in r.stdout
    # change one value so the ranking flips, and add a submission
    path = tmp_path / "sub1" / "synthheads" / "m00" / "summary.json"
    s = json.loads(path.read_text())
    s["tasks"]["self-reenactment"]["metrics"]["psnr"]["mean"] = 99.0
    path.write_text(json.dumps(s))
    r = dexbench(
        "leaderboard", str(tmp_path / "sub1"), str(tmp_path / "sub2" / "synthheads" / "late"), "--out", str(site),
        "--bootstrap", "50", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ch = json.loads((site / "exports" / "changes.json").read_text())
    assert [m["method"] for m in ch["new_methods"]] == ["late"]
    assert any(
        c["method"] == "method-00" and c["metric"] == "psnr" and c["after"] == 99.0 for c in ch["changed_values"]
    )
    assert any(c["method"] == "method-00" and c["metric"] == "psnr" and c["after"] == 1 for c in ch["rank_changes"])
    assert "late" in (site / "changes.html").read_text()
    # incompatible protocol: one line, exit 2
    write_results(tmp_path / "old", 1, tasks=("self-reenactment",), n_pairs=12, protocol_version="0.1")
    r = dexbench("leaderboard", str(tmp_path / "sub1"), str(tmp_path / "old"), "--out", str(site), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "incompatible protocol versions" in r.stderr and "--split-by-protocol" in r.stderr


def test_published_rows_are_shown_apart_and_never_ranked(tmp_path: Path) -> None:
    write_results(tmp_path / "m", 2, tasks=("self-reenactment",), n_pairs=8)
    pub = PublishedRow("PaperNet", "synthheads", "self-reenactment", {"psnr": 1000.0}, "Doe et al. 2024",
                       url="javascript:alert(1)")  # fmt: skip
    site = build_site(load_results(tmp_path / "m"), tmp_path / "site", SiteOptions(published=[pub], n_resamples=50))
    assert all(r.method != "PaperNet" for b in site.boards for r in b.rows)
    index = (tmp_path / "site" / "index.html").read_text()
    ranked, published = index.split("Published numbers")
    assert "PaperNet" not in ranked and "PaperNet" in published and "Doe et al. 2024" in published
    assert "1000.0" in published and "javascript:" not in index


def test_calibration_quarantine_and_disentanglement_pages(real: Path, tmp_path: Path) -> None:
    from dexbench.report.dataset import dataset_info

    write_results(tmp_path / "m", 3, tasks=("pose-only", "expression-only"), n_pairs=8)
    (tmp_path / "m" / "calibration").mkdir()
    (tmp_path / "m" / "calibration" / "synthheads.json").write_text(
        json.dumps({"dataset": "synthheads", "estimators": {"pose": {"yaw_mae_deg": 1.25, "n": 100}}})
    )
    build_site(load_results(tmp_path / "m"), tmp_path / "site",
               SiteOptions(calibration_roots=[tmp_path / "m"], n_resamples=50))  # fmt: skip
    cal = (tmp_path / "site" / "calibration.html").read_text()
    assert "yaw_mae_deg" in cal and "1.25" in cal
    dis = (tmp_path / "site" / "disentanglement.html").read_text()
    assert dis.count("<svg") == 2 and "pose error: apd" in dis and "expression leakage: dis_leakage" in dis
    # quarantine: a shard root with the table (clip/reason columns, as issue 3 writes it)
    shards = tmp_path / "shards"
    shards.mkdir()
    for sub in ("clips", "annotations"):
        (shards / sub).symlink_to(real / "datasets" / "synthheads" / "shards" / sub)
    pd.DataFrame({"clip_id": ["a", "b", "c"], "reason": ["no-face: x", "no-face: y", "blurry: z"]}).to_parquet(
        shards / "quarantine.parquet"
    )
    info = dataset_info("synthheads", shards)
    assert info.n_identities == 6 and info.n_clips == 12 and set(info.pose) == {"yaw", "pitch", "roll"}
    assert {c["reason"]: c["clips"] for c in info.quarantine_counts} == {
        "no-face: x": 1,
        "no-face: y": 1,
        "blurry: z": 1,
    }


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "r" / "d" / "m").mkdir(parents=True)
    (tmp_path / "r" / "d" / "m" / "summary.json").write_text('{"dataset": "d"}')
    with pytest.raises(DexbenchError, match=r"summary.json: not a dexbench result summary"):
        load_results(tmp_path / "r")
    write_results(tmp_path / "dup1", 1, tasks=("self-reenactment",), n_pairs=6)
    write_results(tmp_path / "dup2", 1, tasks=("self-reenactment",), n_pairs=6)
    with pytest.raises(DexbenchError, match="appears twice"):
        build_leaderboards(load_results([tmp_path / "dup1", tmp_path / "dup2"]))
