"""SynthHeads: determinism, identity variety, pose/expression independence and ground-truth consistency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexbench.data.synth import (
    EXPRESSION_NAMES,
    NEUTRAL_EXPRESSION,
    POSE_LIMITS,
    HeadRenderer,
    Identity,
    MotionTrack,
    render_clip,
    sample_identity,
    sample_motion,
)
from dexbench.geometry import euler_to_matrix, normalised_to_pixels, project

NOSE = list(range(27, 36))
BROWS = list(range(17, 27))
JAW = list(range(17))
EYES = list(range(36, 48))
MOUTH = list(range(48, 68))


@pytest.fixture(scope="module")
def r128() -> HeadRenderer:
    return HeadRenderer(128)


def _expr(**kw: float) -> np.ndarray:
    e = NEUTRAL_EXPRESSION.copy()
    for k, v in kw.items():
        e[EXPRESSION_NAMES.index(k)] = v
    return e


def _lum(img: np.ndarray) -> np.ndarray:
    return img.astype(float) @ np.array([0.299, 0.587, 0.114])


def test_expression_names() -> None:
    for name in ("jaw_open", "smile", "blink_left", "blink_right", "brow_raise"):
        assert name in EXPRESSION_NAMES
    assert NEUTRAL_EXPRESSION.shape == (len(EXPRESSION_NAMES),) and not NEUTRAL_EXPRESSION.any()


def test_clip_is_deterministic() -> None:
    ident, motion = sample_identity(3), sample_motion(5, 6)
    a = render_clip(ident, motion, 96)
    b = render_clip(sample_identity(3), sample_motion(5, 6), 96)
    for x, y in zip(a, b, strict=False):
        assert x.tobytes() == y.tobytes()


def test_identities_differ_and_round_trip(r128: HeadRenderer) -> None:
    ids = [sample_identity(s) for s in range(6)]
    assert len({i.to_dict()["skin"][0] for i in ids}) == 6
    imgs = [r128.render(i, yaw=0.0, pitch=0.0, roll=0.0).image.astype(float) for i in ids]
    for k in range(1, 6):
        assert np.abs(imgs[k] - imgs[0]).mean() > 8.0
    d = ids[2].to_dict()
    back = Identity.from_dict(json.loads(json.dumps(d)))
    assert back == ids[2]
    assert sample_identity(2) == ids[2]


@pytest.mark.parametrize("size", [64, 100, 256, 512])
def test_shapes_and_dtypes(size: int) -> None:
    res = HeadRenderer(size).render(sample_identity(1), yaw=10.0, pitch=-5.0, roll=3.0, expression=_expr(smile=0.5))
    assert res.image.shape == (size, size, 3) and res.image.dtype == np.uint8
    assert res.landmarks.shape == (68, 2) and res.landmarks.dtype == np.float32
    assert res.visible.shape == (68,) and res.visible.dtype == bool
    assert res.rotation.shape == (3, 3)
    assert np.all((res.landmarks > 0) & (res.landmarks < size - 1))


def test_bad_size_rejected() -> None:
    with pytest.raises(ValueError):
        HeadRenderer(32)


def test_expression_leaves_outside_and_rigid_landmarks_unchanged(r128: HeadRenderer) -> None:
    ident = sample_identity(4)
    base = r128.render(ident, yaw=12.0, pitch=4.0, roll=-3.0)
    moved = r128.render(
        ident,
        yaw=12.0,
        pitch=4.0,
        roll=-3.0,
        expression=_expr(smile=1.0, blink_left=1.0, blink_right=0.7, jaw_open=0.8),
    )
    top = int(base.landmarks[BROWS, 1].min()) - 4
    assert np.array_equal(base.image[:top], moved.image[:top])  # forehead, hair and background above the brows
    assert np.array_equal(base.image[:, :12], moved.image[:, :12])
    assert not np.array_equal(base.image, moved.image)
    lm0 = r128.landmarks_3d(ident, None)
    lm1 = r128.landmarks_3d(ident, _expr(smile=1.0, blink_left=1.0, jaw_open=0.8))
    np.testing.assert_allclose(lm1[NOSE + BROWS], lm0[NOSE + BROWS], atol=1e-9)
    assert np.abs(lm1[MOUTH] - lm0[MOUTH]).max() > 0.1
    lm2 = r128.landmarks_3d(ident, _expr(smile=1.0, blink_right=1.0))  # no jaw motion: the contour stays
    np.testing.assert_allclose(lm2[JAW + NOSE + BROWS], lm0[JAW + NOSE + BROWS], atol=1e-9)


def test_expressions_move_their_landmarks(r128: HeadRenderer) -> None:
    ident = sample_identity(6)
    lm0 = r128.landmarks_3d(ident)
    jaw = r128.landmarks_3d(ident, _expr(jaw_open=1.0))
    assert jaw[8, 1] - lm0[8, 1] > 0.15  # chin drops
    assert jaw[66, 1] - jaw[62, 1] > 0.2 and abs(lm0[66, 1] - lm0[62, 1]) < 0.01  # lips part
    smile = r128.landmarks_3d(ident, _expr(smile=1.0))
    assert smile[54, 0] - smile[48, 0] > lm0[54, 0] - lm0[48, 0] + 0.05  # wider
    assert smile[48, 1] < lm0[48, 1] - 0.03  # corners up (y down)
    blink = r128.landmarks_3d(ident, _expr(blink_left=1.0))
    assert abs(blink[43, 1] - blink[47, 1]) < 0.01 < abs(lm0[43, 1] - lm0[47, 1])
    np.testing.assert_allclose(blink[36:42], lm0[36:42])  # the other eye stays open
    brow = r128.landmarks_3d(ident, _expr(brow_raise=1.0))
    assert np.all(brow[BROWS, 1] < lm0[BROWS, 1] - 0.05)


def test_pose_does_not_change_3d_landmarks_and_projection_matches(r128: HeadRenderer) -> None:
    ident = sample_identity(2)
    e = _expr(jaw_open=0.4)
    lm3 = r128.landmarks_3d(ident, e)
    for yaw, pitch, roll, tx, ty, s in [(0, 0, 0, 0, 0, 0.55), (25, -10, 8, 0.05, -0.03, 0.5)]:
        res = r128.render(ident, yaw=yaw, pitch=pitch, roll=roll, tx=tx, ty=ty, scale=s, expression=e)
        np.testing.assert_allclose(r128.landmarks_3d(ident, e), lm3)
        expect = normalised_to_pixels(project(lm3, euler_to_matrix(yaw, pitch, roll), np.array([tx, ty]), s), 128)
        np.testing.assert_allclose(res.landmarks, expect, atol=1e-3)
        np.testing.assert_allclose(res.rotation, euler_to_matrix(yaw, pitch, roll))


def test_pupils_dark_unless_blinking(r128: HeadRenderer) -> None:
    for seed in range(4):
        ident = sample_identity(seed)
        res = r128.render(ident, yaw=8.0, pitch=-4.0, roll=2.0)
        lum = _lum(res.image)
        for u, v in res.pupils:
            assert lum[round(v), round(u)] < 50
        closed = r128.render(ident, yaw=8.0, pitch=-4.0, roll=2.0, expression=_expr(blink_left=1.0, blink_right=1.0))
        lum_c = _lum(closed.image)
        for u, v in closed.pupils:
            assert lum_c[round(v), round(u)] > lum[round(v), round(u)] + 25


def test_mouth_interior_darkens_with_jaw_open() -> None:
    r = HeadRenderer(192)
    ident = sample_identity(5)
    wide = r.render(ident, yaw=0.0, pitch=0.0, roll=0.0, expression=_expr(jaw_open=1.0))
    c = 0.5 * (wide.landmarks[62] + wide.landmarks[66])  # mid-opening, below the upper teeth
    u, v = round(c[0]), round(c[1])
    means = []
    for j in (0.0, 0.7, 1.0):
        res = r.render(ident, yaw=0.0, pitch=0.0, roll=0.0, expression=_expr(jaw_open=j))
        means.append(_lum(res.image[v - 1 : v + 2, u - 3 : u + 4]).mean())
    assert means[0] > means[1] + 30 and means[0] > means[2] + 30
    assert max(means[1], means[2]) < 60


def test_landmarks_move_per_pose_conventions(r128: HeadRenderer) -> None:
    ident = sample_identity(0)
    base = r128.render(ident, yaw=0.0, pitch=0.0, roll=0.0).landmarks
    yaw = r128.render(ident, yaw=20.0, pitch=0.0, roll=0.0).landmarks
    assert yaw[30, 0] < base[30, 0] - 3  # +yaw: nose tip to the image left
    pitch = r128.render(ident, yaw=0.0, pitch=15.0, roll=0.0).landmarks
    assert pitch[30, 1] > base[30, 1] + 2  # +pitch: nose tip down
    roll = r128.render(ident, yaw=0.0, pitch=0.0, roll=15.0).landmarks
    assert roll[36, 1] < base[36, 1] - 2 and roll[45, 1] > base[45, 1] + 2  # +roll: clockwise on screen
    # Frontal symmetry: the eyes sit symmetric about the nose bridge.
    assert abs((base[36, 0] + base[45, 0]) / 2 - base[27, 0]) < 0.5


def test_landmarks_sit_on_drawn_features() -> None:
    r = HeadRenderer(256)
    ident = sample_identity(7)
    res = r.render(ident, yaw=0.0, pitch=0.0, roll=0.0, expression=_expr(jaw_open=0.6))
    lum = _lum(res.image)
    skin = lum[int(res.landmarks[29, 1]), int(res.landmarks[29, 0]) + 20]
    for idx in (37, 38, 43, 44):  # upper lid points are on the dark lash line
        u, v = np.round(res.landmarks[idx]).astype(int)
        assert lum[v - 1 : v + 2, u - 1 : u + 2].min() < skin - 40
    for idx in (19, 24):  # brow centre points are on the brow
        u, v = np.round(res.landmarks[idx]).astype(int)
        assert lum[v, u] < skin - 20
    # Jaw contour points lie just inside the head's silhouette: outward a few pixels is background.
    bg = res.image[2, 2].astype(float)
    centre = res.landmarks[list(range(36, 48))].mean(0)
    for idx in (4, 8, 12):
        out = res.landmarks[idx] + 8 * (res.landmarks[idx] - centre) / np.linalg.norm(res.landmarks[idx] - centre)
        u, v = np.clip(np.round(out).astype(int), 0, 255)
        inner = np.round(res.landmarks[idx]).astype(int)
        assert np.abs(res.image[inner[1], inner[0]].astype(float) - bg).sum() > 30
        assert idx == 8 or np.abs(res.image[v, u].astype(float) - res.image[inner[1], inner[0]]).sum() > 10


def test_visibility_far_side_at_large_yaw(r128: HeadRenderer) -> None:
    ident = sample_identity(2)
    assert r128.render(ident, yaw=0.0, pitch=0.0, roll=0.0).visible.all()
    vis = r128.render(ident, yaw=45.0, pitch=0.0, roll=0.0).visible  # +yaw turns the head's -x side away
    assert not vis[:4].any() and vis[12:17].all() and vis[42:48].all()
    vis = r128.render(ident, yaw=-45.0, pitch=0.0, roll=0.0).visible
    assert not vis[13:17].any() and vis[0:5].all()


def test_motion_ranges_smoothness_and_rhythm() -> None:
    state = np.random.get_state()
    m = sample_motion(11, 1500)
    assert np.random.get_state()[1].tobytes() == state[1].tobytes()  # no global RNG use
    assert len(m) == 1500
    for name, (lo, hi) in POSE_LIMITS.items():
        v = getattr(m, name)
        assert v.dtype == np.float64 and v.min() >= lo and v.max() <= hi
    assert np.ptp(m.yaw) > 15 and np.ptp(m.pitch) > 5
    assert np.abs(np.diff(m.yaw)).max() < 6 and np.abs(np.diff(m.pitch)).max() < 4
    assert np.abs(np.diff(m.yaw, 2)).max() < 2
    assert m.expression.shape == (1500, len(EXPRESSION_NAMES))
    assert m.expression.min() >= 0 and m.expression.max() <= 1
    e = {n: m.expression[:, k] for k, n in enumerate(EXPRESSION_NAMES)}
    # Blinks: short events every 2-6 s.
    closed = e["blink_left"] > 0.5
    onsets = np.count_nonzero(closed[1:] & ~closed[:-1])
    assert 60 / 6 - 2 <= onsets <= 60 / 2 + 2
    assert closed.mean() < 0.08
    assert np.mean(np.abs(e["blink_left"] - e["blink_right"])) < 0.05
    # Speech: syllable peaks at a few per second.
    j = e["jaw_open"]
    peaks = np.count_nonzero((j[1:-1] > j[:-2]) & (j[1:-1] >= j[2:]) & (j[1:-1] > 0.1))
    assert 1.0 <= peaks / 60 <= 5.0
    assert np.abs(np.diff(e["smile"])).max() < 0.1
    np.testing.assert_array_equal(sample_motion(11, 1500).yaw, m.yaw)
    assert not np.array_equal(sample_motion(12, 1500).yaw, m.yaw)


def test_motion_track_helpers() -> None:
    m = sample_motion(2, 50)
    part = m.slice(10, 20)
    assert len(part) == 10
    np.testing.assert_array_equal(part.expression, m.expression[10:20])
    assert m.rotation().shape == (50, 3, 3)
    np.testing.assert_allclose(m.rotation()[13], euler_to_matrix(m.yaw[13], m.pitch[13], m.roll[13]))
    back = MotionTrack.from_arrays(m.to_arrays())
    for name in ("yaw", "pitch", "roll", "tx", "ty", "scale", "expression"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    with pytest.raises(ValueError):
        MotionTrack(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.ones(2), np.zeros((3, 5)))
