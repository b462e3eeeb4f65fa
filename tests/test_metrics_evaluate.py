"""The evaluation loop end to end on the tiny SynthHeads workspace with the real offline networks: face-based
metrics, unavailable networks reported with reasons, provenance, the reference cache, and the paired test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import Workspace
from dexbench.methods.registry import load_method
from dexbench.methods.runner import run_task
from dexbench.metrics.evaluate import evaluate_submission
from dexbench.metrics.scorer import EvalConfig
from dexbench.protocol.manifest import load_task_manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.tasks import TASKS

TASK_NAMES = [t for t in ("self-reenactment", "pose-only") if t in TASKS]
METRICS = [
    "l1",
    "psnr",
    "lpips",
    "akd",
    "apd",
    "aed",
    "csim_sface",
    "csim_arcface",
    "dis_transfer",
    "dis_leakage",
    "disentanglement",
    "jitter",
    "flicker",
    "fvd",
]


@pytest.fixture(scope="module")
def runs(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("evalruns")
    weights = root / "no-weights"
    weights.mkdir()
    loader = PairLoader(workspace.shards, workspace.raw)
    manifests = [load_task_manifest(workspace.protocol, "synthheads", t) for t in TASK_NAMES]
    # explicit missing files: the test does not depend on what this machine's caches hold
    missing = {n: str(weights / n) for n in ("lpips-alex-backbone", "arcface-buffalo_l", "i3d-torchscript")}
    out: dict = {"root": root, "manifests": manifests, "loader": loader}
    for name in ("driving", "static"):
        sub = root / "submissions" / name
        for m in manifests:
            run_task(load_method(name), m, loader, sub, fps=25.0)
        cfg = EvalConfig(cache_dir=root / "cache", weights=missing)
        out[name] = evaluate_submission(
            sub, manifests, loader, root / "metrics" / name, metric_names=METRICS, n_resamples=200, config=cfg
        )
    out["missing"] = missing
    return out


def _m(summary: dict, task: str, metric: str) -> dict:
    return summary["tasks"][task]["metrics"][metric]


def test_driving_reproduces_self_reenactment_exactly(runs: dict) -> None:
    d = runs["driving"]
    for name in ("akd", "apd", "aed", "jitter", "flicker"):
        assert _m(d, "self-reenactment", name)["mean"] == pytest.approx(0.0, abs=1e-9), name
    assert _m(d, "self-reenactment", "csim_sface")["mean"] > 0.8


def test_static_is_worse_on_motion(runs: dict) -> None:
    s, d = runs["static"], runs["driving"]
    for name in ("akd", "apd", "aed"):
        assert _m(s, "self-reenactment", name)["mean"] > _m(d, "self-reenactment", name)["mean"], name
    assert _m(s, "self-reenactment", "apd")["ci95"][0] <= _m(s, "self-reenactment", "apd")["mean"]


@pytest.mark.skipif("pose-only" not in TASKS, reason="pose-only task not defined")
def test_both_trivial_baselines_score_zero_disentanglement(runs: dict) -> None:
    d, s = _m(runs["driving"], "pose-only", "disentanglement"), _m(runs["static"], "pose-only", "disentanglement")
    assert d["available"] and s["available"]
    assert d["mean"] < 0.2 and s["mean"] < 0.2
    assert _m(runs["driving"], "pose-only", "dis_transfer")["mean"] > 0.7  # copies the driver's pose ...
    assert _m(runs["driving"], "pose-only", "dis_leakage")["mean"] > 0.7  # ... and its expression
    assert _m(runs["static"], "pose-only", "dis_transfer")["mean"] < 0.3  # keeps the source's pose
    na = _m(runs["driving"], "self-reenactment", "disentanglement")
    assert not na["available"] and "not an editing task" in na["reason"]


def test_missing_networks_are_unavailable_with_the_reason(runs: dict) -> None:
    for metric in ("lpips", "csim_arcface", "fvd"):
        m = _m(runs["driving"], "self-reenactment", metric)
        assert m["available"] is False and "does not exist" in m["reason"]
        assert "mean" not in m


def test_every_result_records_provenance(runs: dict) -> None:
    t = runs["driving"]["tasks"]["self-reenactment"]
    for name in ("apd", "csim_sface", "psnr"):
        p = t["metrics"][name]["provenance"]
        assert p["n_clips"] == str(t["n_pairs"]) and p["frame_resolution"] == "64x64"
        assert p["protocol_version"] == runs["driving"]["protocol_version"] and p["n_frames"] == str(t["n_frames"])
    assert len(t["metrics"]["csim_sface"]["provenance"]["weights_sha256"]) == 64
    assert "alignCrop" in t["metrics"]["csim_sface"]["provenance"]["crop"]
    assert "256x256" in t["metrics"]["akd"]["provenance"]["resolution"]
    assert t["metrics"]["apd"]["provenance"]["face.weights_yunet_sha256"]


def test_cached_reference_gives_identical_bytes(runs: dict, tmp_path: Path) -> None:
    root = runs["root"]
    cached = root / "metrics" / "static"  # computed with the cache warmed by the driving run
    cfg = EvalConfig(cache_dir=None, weights=runs["missing"])
    evaluate_submission(
        root / "submissions" / "static",
        runs["manifests"],
        runs["loader"],
        tmp_path,
        metric_names=METRICS,
        n_resamples=200,
        config=cfg,
    )
    assert (tmp_path / "summary.json").read_bytes() == (cached / "summary.json").read_bytes()
    for f in (cached / "per_clip").iterdir():
        assert (tmp_path / "per_clip" / f.name).read_bytes() == f.read_bytes()
    entries = list((root / "cache").rglob("*.npz"))
    assert any("face-track" in str(e) for e in entries) and all(e.stat().st_size > 0 for e in entries)


def test_per_clip_table_and_paired_test(runs: dict) -> None:
    from dexbench.metrics.paired import paired_bootstrap

    root = runs["root"]
    d = pd.read_parquet(root / "metrics" / "driving" / "per_clip" / "self-reenactment.parquet")
    s = pd.read_parquet(root / "metrics" / "static" / "per_clip" / "self-reenactment.parquet")
    assert list(d["pair_id"]) == list(s["pair_id"])
    assert {"psnr", "apd", "csim_sface", "face_rate"} <= set(d.columns) and "lpips" not in d.columns
    r = paired_bootstrap(d["psnr"].to_numpy(), s["psnr"].to_numpy(), higher_is_better=True, n_resamples=2000)
    assert r.significant and r.better == "a"
    json.dumps(runs["driving"])  # the summary stays plain JSON


@pytest.mark.slow
def test_fid_kid_on_the_workspace(runs: dict, tmp_path: Path) -> None:
    root = runs["root"]
    manifests = runs["manifests"][:1]
    res = {}
    for name in ("driving", "static"):
        res[name] = evaluate_submission(
            root / "submissions" / name,
            manifests,
            runs["loader"],
            tmp_path / name,
            metric_names=["fid", "kid"],
            n_resamples=50,
            config=EvalConfig(cache_dir=root / "cache"),
        )
    fid_d, fid_s = (_m(res[n], "self-reenactment", "fid") for n in ("driving", "static"))
    assert fid_d["mean"] == pytest.approx(0.0, abs=1e-3) and fid_s["mean"] > 1.0
    assert fid_d["ci95"] is None and fid_d["level"] == "set"
    assert fid_d["provenance"]["n_frames_output"] == str(res["driving"]["tasks"]["self-reenactment"]["n_frames"])
    assert np.isfinite(_m(res["static"], "self-reenactment", "kid")["mean"])
