"""The vertical slice through the Python API: methods -> submissions -> metrics -> report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import Workspace
from dexbench.errors import DexbenchError
from dexbench.methods.registry import available, load_method
from dexbench.methods.runner import run_task
from dexbench.metrics.evaluate import evaluate_submission
from dexbench.protocol.manifest import load_task_manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.tasks import PROTOCOL_VERSION, TASKS


@pytest.fixture(scope="module")
def results(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    loader = PairLoader(workspace.shards, workspace.raw)
    manifests = [load_task_manifest(workspace.protocol, "synthheads", t) for t in TASKS]
    out = tmp_path_factory.mktemp("results")
    summaries = {}
    for name in ("static", "driving"):
        sub = out / "submissions" / name
        for m in manifests:
            run_task(load_method(name), m, loader, sub, fps=25.0)
        summaries[name] = evaluate_submission(sub, manifests, loader, out / "metrics" / name, n_resamples=200)
    summaries["_root"] = {"path": str(out)}
    return summaries


def _mean(summary: dict, task: str, metric: str) -> float:
    return summary["tasks"][task]["metrics"][metric]["mean"]


def test_builtin_methods_are_registered_as_entry_points() -> None:
    assert {"static", "driving"} <= set(available())
    with pytest.raises(DexbenchError, match="unknown method 'nope'"):
        load_method("nope")


def test_driving_sits_at_the_ceiling_of_self_reenactment(results: dict) -> None:
    driving = results["driving"]
    assert _mean(driving, "self-reenactment", "psnr") >= 40.0
    assert _mean(driving, "self-reenactment", "ssim") >= 0.99


def test_static_is_measurably_worse(results: dict) -> None:
    s, d = results["static"], results["driving"]
    assert _mean(s, "self-reenactment", "psnr") < _mean(d, "self-reenactment", "psnr") - 10
    assert _mean(s, "self-reenactment", "ssim") < _mean(d, "self-reenactment", "ssim") - 0.05
    assert _mean(s, "self-reenactment", "l1") > _mean(d, "self-reenactment", "l1")
    ci = s["tasks"]["self-reenactment"]["metrics"]["psnr"]["ci95"]
    assert ci[0] <= _mean(s, "self-reenactment", "psnr") <= ci[1]


def test_cross_reenactment_is_scored_against_rendered_ground_truth(results: dict) -> None:
    # the driver's frames show the wrong person: a method returning them must not look perfect
    cross = results["driving"]["tasks"]["cross-reenactment"]["metrics"]
    assert cross["psnr"]["available"] and cross["psnr"]["mean"] < 30


def test_summary_records_provenance(results: dict) -> None:
    s = results["static"]
    assert s["protocol_version"] == PROTOCOL_VERSION and s["method"]["name"] == "static"
    t = s["tasks"]["self-reenactment"]
    assert len(t["manifest_sha256"]) == 64 and t["n_pairs"] > 0 and t["n_frames"] == 12 * t["n_pairs"]
    assert "gaussian_weights=True" in t["metrics"]["ssim"]["provenance"]["settings"]


def test_evaluation_is_byte_identical(results: dict, workspace: Workspace, tmp_path: Path) -> None:
    root = Path(results["_root"]["path"])
    loader = PairLoader(workspace.shards, workspace.raw)
    manifests = [load_task_manifest(workspace.protocol, "synthheads", t) for t in TASKS]
    evaluate_submission(root / "submissions" / "static", manifests, loader, tmp_path, n_resamples=200)
    first = root / "metrics" / "static"
    assert (tmp_path / "summary.json").read_bytes() == (first / "summary.json").read_bytes()
    for f in (first / "per_clip").iterdir():
        assert (tmp_path / "per_clip" / f.name).read_bytes() == f.read_bytes()


def test_runner_resumes_and_checks_output_shape(workspace: Workspace, tmp_path: Path) -> None:
    from dexbench.methods.animator import Animator

    class Broken(Animator):
        name = "broken"

        def animate(self, request):
            return np.zeros((1, 8, 8, 3), np.uint8)

    loader = PairLoader(workspace.shards, workspace.raw)
    manifest = load_task_manifest(workspace.protocol, "synthheads", "self-reenactment")
    with pytest.raises(DexbenchError, match=r"broken.*returned"):
        run_task(Broken(), manifest, loader, tmp_path / "b", fps=25)
    sub = tmp_path / "s"
    first = run_task(load_method("static"), manifest, loader, sub, fps=25)
    again = run_task(load_method("static"), manifest, loader, sub, fps=25)
    assert first["written"] == len(manifest.pairs) and again == {"written": 0, "skipped": len(manifest.pairs)}


def test_missing_outputs_are_listed(results: dict, workspace: Workspace, tmp_path: Path) -> None:
    import shutil

    root = Path(results["_root"]["path"])
    sub = tmp_path / "partial"
    shutil.copytree(root / "submissions" / "static", sub)
    victims = sorted((sub / "self-reenactment").iterdir())[:2]
    for v in victims:
        v.unlink()
    loader = PairLoader(workspace.shards, workspace.raw)
    manifests = [load_task_manifest(workspace.protocol, "synthheads", "self-reenactment")]
    with pytest.raises(DexbenchError, match=r"2 of \d+ pair outputs missing") as err:
        evaluate_submission(sub, manifests, loader, tmp_path / "out", n_resamples=50)
    assert victims[0].stem in str(err.value)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_report_escapes_hostile_method_names(results: dict, tmp_path: Path) -> None:
    from dexbench.report.collect import build_leaderboards
    from dexbench.report.html import render_index

    hostile = json.loads(json.dumps(results["static"]))
    hostile["method"] = {"name": '<script>alert("x")</script>', "version": "1", "url": "javascript:alert(1)"}
    boards = build_leaderboards([results["driving"], hostile])
    html = render_index(boards, tmp_path).read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "javascript:" not in html
    assert html.count("<table>") == len(TASKS)
    assert 'class="best"' in html
