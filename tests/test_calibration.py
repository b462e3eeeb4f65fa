"""Calibration on SynthHeads: the JSON is complete, byte-deterministic, and the alignment constants reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from haswell_kernels import needs_haswell_kernels, run_under_haswell_kernels

from dexbench.cli import main
from dexbench.data.recipes.synthheads import SynthParams, build_raw
from dexbench.data.synth import EXPRESSION_NAMES as SYNTH_NAMES
from dexbench.data.synth import sample_identity
from dexbench.face import FaceAnalyzer, meanshape
from dexbench.face.calibration import (
    SPEARMAN_TARGET,
    SWEEP_FRAMES,
    expression_sweep,
    expression_tables,
)


@pytest.fixture(scope="module")
def tiny_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("calib") / "raw"
    build_raw(SynthParams(identities=3, clips_per_identity=1, frames=8, size=128, test_fraction=0.34, seed=3), raw)
    return raw


def test_calibration_json_is_deterministic(tiny_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEXBENCH_QUIET", "1")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        assert main(["calibrate", "--dataset", "synthheads", "--raw", str(tiny_raw), "--out", str(out)]) == 0
    assert a.read_bytes() == b.read_bytes()
    res = json.loads(a.read_text())
    assert res["detection"]["yunet_every_frame_rate"] >= 0.95
    assert res["frames"] == 8 and res["resolution_px"] == 128
    for angle in ("yaw", "pitch", "roll"):
        assert res["pose"][angle]["median_abs"] < 10.0
    assert 0 < res["landmarks"]["akd_px"] < 5.0
    sweep = res["expression"]["sweep"]
    assert set(sweep["mapping"]) == {"jaw_open", "smile", "blink_left", "blink_right", "brow_raise"}
    assert sweep["frames"] == SWEEP_FRAMES and set(sweep["on_true_landmarks"]["mapping"]) == set(sweep["mapping"])
    assert res["provenance"]["landmarker_name"] == "dlib68+iris"
    assert res["provenance"]["weights_meanshape-68_sha256"]


def test_expression_sweep_meets_targets() -> None:
    # 4 identities outside every split x 24 controlled renders, all 5 parameters independent and uniform in [0, 1],
    # random pose; Spearman pooled over identities. The descriptor on true landmarks ranks every parameter; through
    # the default analyser (dlib 68 + iris refinement of the eyes + brow-band refinement) jaw_open, both blinks and
    # smile meet the target here. Brow raise reads 0.78 on these 96 renders (0.85 pooled over 40 identities x 128
    # renders, 0.73 / 0.76 without the brow refinement): asserted as a floor that catches a regression. Smile reads
    # ~0.81 pooled (generator v5 + landmark-expr-v4; 0.80 with v3).
    analyzer = FaceAnalyzer()
    ids = [sample_identity(60000 + k) for k in range(4)]
    truth, est, on_truth = expression_sweep(ids, analyzer, 128, frames=24, seed=1)
    names = (tuple(SYNTH_NAMES), analyzer.expression_names)
    tab, tab_truth = expression_tables(truth, est, *names), expression_tables(truth, on_truth, *names)
    assert tab["frames"] == 96
    assert all(m["signed_rho"] >= SPEARMAN_TARGET for m in tab_truth["mapping"].values()), tab_truth["mapping"]
    for name in ("jaw_open", "blink_left", "blink_right", "smile"):
        assert tab["mapping"][name]["signed_rho"] >= SPEARMAN_TARGET, (name, tab["mapping"][name])
    assert tab["mapping"]["brow_raise"]["signed_rho"] >= 0.7
    # Independent eyes: a blink of one eye barely moves the other eye's entry.
    m = tab["spearman_matrix"]
    assert abs(m["blink_left"]["eye_open_right"]) < 0.3 and abs(m["blink_right"]["eye_open_left"]) < 0.3


def test_calibrate_rejects_unknown_dataset(tmp_path: Path) -> None:
    assert main(["calibrate", "--dataset", "voxceleb1", "--out", str(tmp_path / "x.json")]) == 2


@needs_haswell_kernels
def test_alignment_constants_reproduce() -> None:
    """Re-derived under the BLAS kernels the constants were derived with (OpenBLAS's Haswell ones, which any AVX2
    CPU runs): SynthHeads' renders go through numpy matrix products, whose last bits depend on the kernel OpenBLAS
    picks for the CPU, and dlib's landmarks (hence the frontal pitch offset) can jump on a changed pixel. Measured
    2026-12-06 on one machine: Haswell kernels reproduce the constants exactly, SkylakeX ones read the pitch offset
    0.068 deg higher, Prescott ones 0.65 deg (datasets/synthheads/README.md, docs/metrics.md)."""
    code = (
        "import json; from dexbench.face.calibration import derive_full_alignment; "
        "print(json.dumps(derive_full_alignment(n_identities=64)))"
    )
    s, p, t = json.loads(run_under_haswell_kernels(code).strip().splitlines()[-1])
    assert s == pytest.approx(meanshape.ALIGNMENT_SCALE, rel=1e-6)
    assert p == pytest.approx(meanshape.ALIGNMENT_PITCH_DEG, abs=1e-3)
    np.testing.assert_allclose(t, meanshape.ALIGNMENT_T, atol=1e-5)


def test_true_landmarks_give_the_pose_fit_most_of_a_rotation() -> None:
    """SynthHeads' 3-D landmarks are close enough to a real face's proportions (the mean shape the fit uses) that a
    fit on the exact landmarks reads most of a known rotation. Generator v3 (pencil nose, tip at the nose base) gave
    a gain of ~0.75 for yaw and pitch on these poses, v4 ~0.81 / ~0.82; the rest is the outline points and the rounder
    eye line."""
    from dexbench.data.synth import HeadRenderer
    from dexbench.face.pose import fit_pose
    from dexbench.geometry import euler_to_matrix, normalised_to_pixels

    analyzer = FaceAnalyzer()
    renderer = HeadRenderer(128)
    heads = [renderer.landmarks_3d(sample_identity(60000 + k)) for k in range(8)]
    poses = np.random.default_rng(0).uniform([-20, -15, -7], [20, 15, 7], (160, 3))
    lms = np.stack(
        [normalised_to_pixels(0.55 * (heads[k % 8] @ euler_to_matrix(*p).T)[:, :2], 128) for k, p in enumerate(poses)]
    )
    fit = fit_pose(lms, analyzer.model, 128, 128, meanshape.RIGID_POINTS)
    gain = {n: float(np.polyfit(poses[:, j], getattr(fit, n), 1)[0]) for j, n in enumerate(("yaw", "pitch", "roll"))}
    assert gain["yaw"] > 0.78 and gain["pitch"] > 0.78 and abs(gain["roll"] - 1.0) < 0.02, gain
