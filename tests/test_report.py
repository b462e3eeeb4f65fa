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


def test_worst_clips_are_the_worst() -> None:
    from dexbench.report.collect import Column
    from dexbench.report.method_page import _worst

    table = pd.DataFrame({"pair_id": ["a", "b", "c", "d"], "l1": [0.1, 0.4, 0.2, np.nan], "psnr": [30, 12, 25, 20]})
    l1 = _worst(table, Column("l1", higher_is_better=False, unit=""), 2)
    psnr = _worst(table, Column("psnr", higher_is_better=True, unit="dB"), 2)
    assert l1 is not None and [c["pair_id"] for c in l1.clips] == ["b", "c"] and l1.direction == "highest"
    assert psnr is not None and [c["pair_id"] for c in psnr.clips] == ["b", "d"] and psnr.direction == "lowest"


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


def test_unknown_unavailable_and_set_level_metrics(tmp_path: Path) -> None:
    write_results(tmp_path / "m", 2, tasks=("self-reenactment",), n_pairs=10)
    for k in (0, 1):
        path = tmp_path / "m" / "synthheads" / f"m{k:02d}" / "summary.json"
        s = json.loads(path.read_text())
        metrics = s["tasks"]["self-reenactment"]["metrics"]
        if k == 0:
            metrics["warpiness"] = {
                "higher_is_better": False, "unit": "px", "range": [0, None], "available": True, "mean": 1.5,
                "ci95": [1.0, 2.0], "version": "3", "provenance": {"weights_sha256": "ab" * 32},
            }  # fmt: skip
        metrics["kid"] = {"higher_is_better": False, "unit": "", "range": [0, None], "available": True,
                          "mean": 0.01 * (k + 1), "ci95": None, "level": "set", "version": "1"}  # fmt: skip
        path.write_text(json.dumps(s))
    build_site(load_results(tmp_path / "m"), tmp_path / "site", SiteOptions(n_resamples=50))
    index = (tmp_path / "site" / "index.html").read_text()
    table = index.split('data-board="synthheads__self-reenactment"')[1]
    # an unknown metric renders from what the summary declares; its weights reach the footer
    assert 'data-metric="warpiness"' in table and "(px)" in table and "abababababababab" in index
    # method-01 lacks warpiness: "n/a" with a numbered note saying why, not a wall of text in the cell
    assert '<td class="na" data-value="" title="unavailable: not computed by this submission">n/a<sup>' in table
    assert "<b>warpiness</b> n/a for method-01 v1: not computed by this submission" in table
    # fid is unavailable for every method: no column, one line under the table with the reason
    assert 'data-metric="fid"' not in table
    assert "1 metric unavailable for every method here, not shown: fid" in table
    assert "needs &gt;= 256 clips for a stable estimate" in table
    # a set-level metric: marked, and no CI line under its values
    kid_header = table.split('data-metric="kid"')[1].split("</th>")[0]
    assert "set-level" in kid_header and 'data-level="set"' in table
    kid_col = [h.split('data-metric="')[1].split('"')[0] for h in table.split("</thead>")[0].split("<th ")[1:]
               if 'data-metric="' in h].index("kid") + 1  # fmt: skip
    for row in table.split("</thead>")[1].split("</tbody>")[0].split("<tr ")[1:]:
        assert '<span class="ci">' not in row.split("<td")[kid_col]
    # the metrics page documents each column, with the registry's description
    metrics_page = (tmp_path / "site" / "metrics.html").read_text()
    assert 'id="metric-psnr"' in metrics_page and "Peak signal-to-noise ratio" in metrics_page
    assert 'id="metric-warpiness"' in metrics_page and "not a built-in metric" in metrics_page
    md = (tmp_path / "site" / "exports" / "synthheads__self-reenactment.md").read_text()
    assert "fid not shown: unavailable for every method" in md and "kid: one value over the test set" in md


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


HOSTILE_PAPER = """
source:
  key: evil-2030
  paper: "<script>window.__pwned=1</script> PaperNet"
  authors: "Doe, Roe"
  venue: "Nowhere 2030"
  year: 2030
  url: "javascript:alert(1)"
  table: "Table 9"
  status: "to be checked against the paper"
  test_set: "the authors' own 50 clips"
  metrics:
    psnr: {higher_is_better: true, definition: "PSNR, range not stated"}
    apd: {higher_is_better: false, definition: "pose distance, extractor not stated"}
  settings:
    self: {task: self-reenactment, definition: "own video drives"}
    mixed: {task: null, definition: "two drivers"}
rows:
  - {method: PaperNet, setting: self, kind: main, values: {psnr: 1000.0}}
  - method: "Evil <img src=x onerror=alert(1)>"
    setting: self
    kind: ablation
    values: {psnr: 999.5}
    note: "=cmd|' /C calc'!A0"
  - {method: PaperNet, setting: mixed, kind: main, values: {apd: 0.125}, note: "best"}
"""


def test_published_numbers_are_apart_never_ranked_and_exported(tmp_path: Path) -> None:
    from dexbench.report.published import HEADING, load

    write_results(tmp_path / "m", 2, tasks=("self-reenactment",), n_pairs=8)
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "evil.yaml").write_text(HOSTILE_PAPER)
    papers = load(tmp_path / "pub")
    assert [(t.setting, t.kind, t.dexbench_task) for t in papers[0].tables] == [
        ("self", "main", "self-reenactment"), ("self", "ablation", "self-reenactment"), ("mixed", "main", None),
    ]  # fmt: skip
    out = tmp_path / "site"
    site = build_site(load_results(tmp_path / "m"), out, SiteOptions(published=papers, n_resamples=50))
    assert all(r.method != "PaperNet" for b in site.boards for r in b.rows)
    index = (out / "index.html").read_text()
    ranked, published = index.split('<section class="published-section"')
    published = published.split("</main>")[0]
    assert HEADING.replace("'", "&#39;") in published
    assert "PaperNet" not in ranked and 'class="best"' not in published and "data-sortable" not in published
    assert "1000</td>" in published and "999.5</td>" in published and "0.125</td>" in published
    assert "Transcription status:</b> to be checked against the paper" in published
    assert "closest dexbench task: self-reenactment" in published and "no dexbench counterpart" in published
    assert "Doe, Roe" in published and "Table 9" in published
    assert "javascript:" not in index and "<script>window" not in index and "&lt;img src=x" in published
    # exports: published numbers in their own files, never in a leaderboard's
    rows = list(csv.DictReader(io.StringIO((out / "exports" / "published.csv").read_text())))
    assert [(r["method"], r["setting"], r["kind"], r["psnr"], r["apd"]) for r in rows] == [
        ("PaperNet", "self", "main", "1000.0", ""),
        ("Evil <img src=x onerror=alert(1)>", "self", "ablation", "999.5", ""),
        ("PaperNet", "mixed", "main", "", "0.125"),
    ]
    assert rows[1]["note"].startswith("'=") and rows[0]["status"] == "to be checked against the paper"
    data = json.loads((out / "exports" / "published.json").read_text())
    assert "not reproduced" in data["warning"] and data["sources"][0]["citation"]["url"] == ""
    assert "PaperNet" not in (out / "exports" / "all.json").read_text()
    tex = (out / "exports" / "published.tex").read_text()
    assert tex.count("\\begin{tabular}") == 2 and "\\textbf" not in tex and "not comparable" in tex
    assert "published.csv" in (out / "exports.html").read_text()


def test_shipped_published_numbers_on_the_default_site(tmp_path: Path) -> None:
    from dexbench.protocol.published import load_published

    write_results(tmp_path / "m", 1, tasks=("cross-reenactment",), n_pairs=6)
    build_site(load_results(tmp_path / "m"), tmp_path / "site", SiteOptions(n_resamples=20))
    index = (tmp_path / "site" / "index.html").read_text()
    published = index.split('id="published"')[1]
    shipped = load_published()
    assert published.count("data-published-method=") == len(shipped)
    assert "https://arxiv.org/abs/2512.15524" in published and "to be checked against the paper" in published
    assert "ablations (the paper&#39;s own variants)" in published
    assert len((tmp_path / "site" / "exports" / "published.csv").read_text().splitlines()) == len(shipped) + 1


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


def make_calibration(folder: Path) -> Path:
    """A real `dexbench calibrate` file: 3 SynthHeads identities x 8 frames at 128 px (a few seconds)."""
    from dexbench.cli import main
    from dexbench.data.recipes.synthheads import SynthParams, build_raw

    raw = folder / "raw"
    build_raw(SynthParams(identities=3, clips_per_identity=1, frames=8, size=128, test_fraction=0.34, seed=3), raw)
    out = folder / "metrics" / "calibration" / "synthheads.json"
    assert main(["calibrate", "--dataset", "synthheads", "--raw", str(raw), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def calibration_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_calibration(tmp_path_factory.mktemp("calibration"))


def test_calibration_page_presents_dexbench_calibrate(calibration_file: Path, tmp_path: Path) -> None:
    from dexbench.report.calibration import analyzer_mismatches, find_calibration

    data = json.loads(calibration_file.read_text())
    write_results(tmp_path / "m", 2, tasks=("self-reenactment",), n_pairs=8)
    build_site(load_results(tmp_path / "m"), tmp_path / "site",
               SiteOptions(calibration_files=[calibration_file], n_resamples=20))  # fmt: skip
    page = (tmp_path / "site" / "calibration.html").read_text()
    # every expression parameter of the deciding sweep: its entry, its signed rho and the verdict the JSON gives
    for param, m in data["expression"]["sweep"]["mapping"].items():
        row = page.split(f'data-parameter="{param}" data-pass="{int(m["pass"])}"')[1].split("</tr>")[0]
        assert f"<code>{m['entry']}</code>" in row and f"{m['signed_rho']:.3f}" in row
        assert ("PASS" if m["pass"] else "FAIL") in row
    for angle in ("yaw", "pitch", "roll"):
        row = page.split(f'data-angle="{angle}"')[1].split("</tr>")[0]
        assert f"{data['pose'][angle]['median_abs']:.2f}°" in row and f"{data['pose'][angle]['p90_abs']:.2f}°" in row
        assert ("PASS" if data["pose"][angle]["median_abs"] <= 3.0 else "FAIL") in row
    assert f"{data['landmarks']['akd_px']:.2f} px at 128 px" in page and "translation" in page
    assert ("Not calibrated to target" in page) == (not data["passed"])
    checks = page.split('data-check="')[1:]
    assert [c.split('"')[0] for c in checks] == ["cal-detection", "cal-pose", "cal-landmarks", "cal-expression"]
    assert data["provenance"]["weights_yunet_sha256"] in page
    # a calibration of another analyzer configuration than the one that scored the results is called out
    doc = find_calibration([], [calibration_file])[0]
    assert analyzer_mismatches(doc, {"landmarker_name": {"dlib68"}}) == [("landmarker_name", "dlib68+iris", "dlib68")]
    assert analyzer_mismatches(doc, {"landmarker_name": {"dlib68+iris"}}) == []
    with pytest.raises(DexbenchError, match="calibration file not found"):
        find_calibration([], [tmp_path / "missing.json"])


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "r" / "d" / "m").mkdir(parents=True)
    (tmp_path / "r" / "d" / "m" / "summary.json").write_text('{"dataset": "d"}')
    with pytest.raises(DexbenchError, match=r"summary.json: not a dexbench result summary"):
        load_results(tmp_path / "r")
    write_results(tmp_path / "dup1", 1, tasks=("self-reenactment",), n_pairs=6)
    write_results(tmp_path / "dup2", 1, tasks=("self-reenactment",), n_pairs=6)
    with pytest.raises(DexbenchError, match="appears twice"):
        build_leaderboards(load_results([tmp_path / "dup1", tmp_path / "dup2"]))
