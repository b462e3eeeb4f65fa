"""Identity embedders (CSIM) on SynthHeads renders: one identity at different poses is more similar to itself than
to other identities, for each offline embedder; ArcFace plumbing with a random ONNX stand-in pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import Workspace
from dexbench.metrics.identity import (
    ARCFACE_TEMPLATE,
    align_arcface,
    embed_detected,
    load_embedder,
    similarity_transform,
)


@pytest.fixture(scope="module")
def faces(workspace: Workspace) -> dict[str, np.ndarray]:
    """Six frames (varied poses) per identity, from both clips of each identity."""
    from dexbench.data.reader import ShardReader

    reader = ShardReader(workspace.shards)
    out: dict[str, list[np.ndarray]] = {}
    for cid, ident in zip(reader.clips["clip_id"], reader.clips["identity"], strict=True):
        out.setdefault(ident, []).append(reader.frames(cid, np.array([0, 5, 11])))
    return {k: np.concatenate(v) for k, v in sorted(out.items())[:4]}


@pytest.fixture(scope="module")
def analyzer():
    from dexbench.face.analyzer import FaceAnalyzer

    return FaceAnalyzer(detect_every=1)


@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_same_identity_is_closer_than_other_identities(name: str, faces: dict, analyzer) -> None:
    from dexbench.metrics.scorer import detect_each

    emb = load_embedder(name)
    vecs = {}
    for ident, frames in faces.items():
        boxes = detect_each(analyzer, frames)
        assert boxes.detected.mean() >= 0.8, f"YuNet found too few faces for {ident}"
        e = embed_detected(emb, frames, boxes)
        vecs[ident] = e[np.isfinite(e).all(1)]
    within, across = [], []
    ids = list(vecs)
    for i, a in enumerate(ids):
        s = vecs[a] @ vecs[a].T
        within.append(s[np.triu_indices(len(s), 1)].mean())
        for b in ids[i + 1 :]:
            across.append((vecs[a] @ vecs[b].T).mean())
    # dlib's descriptors are made for Euclidean thresholds and sit closer together in cosine than SFace's
    margin = {"sface": 0.05, "dlib": 0.02}[name]
    assert np.mean(within) > np.mean(across) + margin, (within, across)
    assert min(within) > np.mean(across)
    norms = np.linalg.norm(np.concatenate(list(vecs.values())), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


def test_similarity_transform_recovers_a_known_similarity() -> None:
    angle, scale, t = np.deg2rad(17.0), 1.7, np.array([12.0, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE
    dst = scale * src @ rot.T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)
    # aligning an image whose keypoints sit exactly on the template is the identity warp
    img = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    np.testing.assert_array_equal(align_arcface(img, ARCFACE_TEMPLATE), img)


def _standin_arcface(path: Path) -> None:
    """A random 112x112 -> 512 ONNX model with insightface's recognition interface (plumbing only)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.01, (3 * 112 * 112, 512)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input.1"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["683"])],
        "standin",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["None", 512])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_arcface_plumbing_with_a_standin_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faces, analyzer) -> None:
    from dexbench.metrics.scorer import detect_each

    pack = tmp_path / "arcface-buffalo_l"
    pack.mkdir()
    _standin_arcface(pack / "w600k_r50.onnx")
    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    emb = load_embedder("arcface")
    assert emb.weights.origin == "DEXBENCH_WEIGHTS" and emb.batched
    frames = next(iter(faces.values()))
    e = embed_detected(emb, frames, detect_each(analyzer, frames))
    ok = np.isfinite(e).all(1)
    assert ok.any() and e.shape[1] == 512
    np.testing.assert_allclose(np.linalg.norm(e[ok], axis=1), 1.0, atol=1e-6)


def test_arcface_is_unavailable_without_its_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dexbench.nets.registry import WeightsUnavailable

    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match=r"w600k_r50\.onnx"):
        load_embedder("arcface", {"arcface-buffalo_l": str(tmp_path / "w600k_r50.onnx")})
