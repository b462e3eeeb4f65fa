"""SynthHeads renderer: analytic orthographic ray casting of a few ellipsoids plus procedural face textures.

Geometry (head frame, see dexbench.geometry): a cranium and a lower-face ellipsoid (the latter hinged so jaw_open
drops the chin), a nose made of a bridge ellipsoid and two alae, ears, a neck, and a hair shell that counts as a
hit only inside the identity's hair region. Facial features (eyes, brows, lips, mouth interior, nostrils, blush)
are painted as anti-aliased signed-distance shapes in the head-frame (x, y) of the visible hit point, so the
68 landmarks, which are defined on the same shapes and lifted onto the same surfaces, sit exactly on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from dexbench.geometry import euler_to_matrix, normalised_to_pixels

from .expression import BLINK_LEFT, BLINK_RIGHT, BROW_RAISE, JAW_OPEN, SMILE, as_expression
from .identity import Identity

F32 = np.float32
SKIN, NOSE, EAR, NECK, HAIR = range(5)
_INF = F32(1e9)
_MOUTH_DROP = 0.30  # head units the lower lip travels at jaw_open = 1


@dataclass(frozen=True)
class Prim:
    centre: np.ndarray  # (3,)
    axes: np.ndarray  # (3, 3) columns = local axes in head frame
    radii: np.ndarray  # (3,)
    material: int


@dataclass
class RenderResult:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) float32 pixel coordinates
    visible: np.ndarray  # (68,) bool
    rotation: np.ndarray  # (3, 3)
    pupils: np.ndarray = field(default_factory=lambda: np.zeros((2, 2), F32))  # (subject right, left) pixels


def _rot_x(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ellipsoid(
    centre: tuple[float, float, float], radii: tuple[float, float, float], material: int, tilt_x: float = 0.0
) -> Prim:
    return Prim(np.asarray(centre, float), _rot_x(tilt_x), np.asarray(radii, float), material)


# ----------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class _Shape:
    """Identity-level geometry that does not depend on the expression."""

    cranium: Prim
    jaw_rest: Prim
    hinge: np.ndarray
    others: tuple[Prim, ...]  # nose bridge, 2 alae, 2 ears, neck
    hair: Prim
    nose_tip: np.ndarray
    nose_base_y: float


@lru_cache(maxsize=64)
def _shape(identity: Identity) -> _Shape:
    i = identity
    a, b, c = i.head_radii
    eye_y = i.eye_height
    cranium = _ellipsoid((0.0, -0.15, 0.10), (a, b, c), SKIN)
    jaw_c = (0.0, eye_y + 0.58, -0.08)
    jaw = _ellipsoid(jaw_c, (i.jaw_width, 0.72 * i.chin_length, 0.88 * i.chin_depth), SKIN)
    hinge = np.array([0.0, eye_y + 0.05, 0.45])
    # Nose (v4): a bridge ellipsoid from the nasion, which stands ahead of the inner eye corners as in real faces,
    # down and out to a tip at 0.8 of the nose length, widest low down where the tip bulb is; two alae flank it,
    # their lower edge is the nose base. v1-v3 had a pencil-thin bridge whose tip sat at the nose base and small
    # alae set back in the face: dlib followed that nose at under half its true motion and pitch read ~0.35 of
    # truth. A still wider bridge (x-radius 1.15 nose_width) read pitch better but pulled dlib's brows off.
    length = i.nose_length
    top = np.array([0.0, eye_y - 0.02, -0.98])
    tip = np.array([0.0, eye_y + 0.8 * length, -0.98 - i.nose_depth])
    axis = tip - top
    tilt = -np.rad2deg(np.arctan2(-axis[2], axis[1]))  # rotate local y onto the bridge direction
    centre = top + 0.62 * axis
    bridge = _ellipsoid(tuple(centre), (i.nose_width * 0.8, 0.58 * np.linalg.norm(axis), 0.16), NOSE, tilt)
    ala_y = eye_y + length - 0.03
    alae = tuple(_ellipsoid((sx * i.nose_width * 0.7, ala_y, -1.1), (0.11, 0.075, 0.12), NOSE) for sx in (-1.0, 1.0))
    ears = tuple(
        _ellipsoid((sx * (a - 0.02), eye_y + 0.17, 0.15), (0.13 * i.ear_size, 0.27 * i.ear_size, 0.17), EAR)
        for sx in (-1.0, 1.0)
    )
    neck = _ellipsoid((0.0, 1.55, 0.30), (0.56, 1.05, 0.58), NECK)
    v = i.hair_volume
    hair_r = (a * v, b * v * (1.25 if i.hair_style == "long" else 1.0), c * v)
    hair_c = (0.0, -0.19 + (0.25 if i.hair_style == "long" else 0.0), 0.12)
    hair = _ellipsoid(hair_c, hair_r, HAIR)
    base = _Shape(cranium, jaw, hinge, (bridge, *alae, *ears, neck), hair, np.zeros(3), 0.0)
    # Nose tip = front-most point of the bridge ellipsoid; nose base = lowest y still on the nose, probed down the
    # midline and down the alae (the alae reach lower than the bridge).
    sig = bridge.axes @ np.diag(bridge.radii**2) @ bridge.axes.T
    tip_pt = bridge.centre - sig[:, 2] / np.sqrt(sig[2, 2])
    ys = np.linspace(eye_y + 0.2, eye_y + length + 0.25, 120)
    nose_base_y = float(tip[1])
    for x in (0.0, i.nose_width * 0.7):
        pts = np.stack([np.full_like(ys, x), ys, np.full_like(ys, -5.0)], -1)
        _, which = _cast_surface(_face_prims(base, 0.0), pts)
        on_nose = ys[which >= 2]
        if len(on_nose):
            nose_base_y = max(nose_base_y, float(on_nose.max()))
    return _Shape(cranium, jaw, hinge, base.others, hair, tip_pt, nose_base_y)


def _jaw_prim(shape: _Shape, jaw_open: float) -> tuple[Prim, np.ndarray]:
    """Lower-face ellipsoid, lowered and slightly rotated about the hinge as the jaw opens."""
    j = shape.jaw_rest
    rot = _rot_x(7.0 * jaw_open)
    centre = shape.hinge + rot @ (j.centre - shape.hinge) + np.array([0.0, 0.62 * _MOUTH_DROP * jaw_open, 0.0])
    return Prim(centre, rot @ j.axes, j.radii, SKIN), rot


def _face_prims(shape: _Shape, jaw_open: float) -> list[Prim]:
    return [shape.cranium, _jaw_prim(shape, jaw_open)[0], *shape.others[:3]]


def _all_prims(shape: _Shape, jaw_open: float) -> list[Prim]:
    return [shape.cranium, _jaw_prim(shape, jaw_open)[0], *shape.others]


def _intersect(prim: Prim, origins: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near / far ray parameters and the (local, unit-sphere) discriminant for rays origins + t d."""
    lin = (prim.axes / prim.radii).T  # head -> local unit-sphere coordinates
    b = (origins - prim.centre) @ lin.T
    a = lin @ d
    aa = a @ a
    bb = b @ a
    disc = bb * bb - aa * (np.einsum("ij,ij->i", b, b) - 1.0)
    sq = np.sqrt(np.maximum(disc, 0.0))
    return (-bb - sq) / aa, (-bb + sq) / aa, disc


def _cast_surface(prims: list[Prim], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Front-most surface point along +z through each head-frame (x, y); returns points and primitive index."""
    d = np.array([0.0, 0.0, 1.0])
    best = np.full(len(points), np.inf)
    which = np.full(len(points), -1)
    for k, p in enumerate(prims):
        t, _, disc = _intersect(p, points, d)
        hit = (disc > 0) & (t < best)
        best = np.where(hit, t, best)
        which = np.where(hit, k, which)
    out = points.copy()
    out[:, 2] = np.where(np.isfinite(best), points[:, 2] + best, 0.0)
    return out, which


def _hair_line(identity: Identity, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """y below which (i.e. above on screen) a head-frame point is covered by hair."""
    i = identity
    front = i.hairline + 0.30 * x * x + i.fringe * np.exp(-((x / 0.45) ** 2))
    front = np.maximum(front, np.where(np.abs(x) > 0.8, i.eye_height - 0.22, -9.0))  # temples / sideburns
    back = {"short": 0.45, "bob": 0.95, "buzz": 0.35, "long": 1.7}.get(i.hair_style, 0.5)
    w = np.clip((z + 0.45) / 0.8, 0.0, 1.0)
    w = w * w * (3.0 - 2.0 * w)
    line = front + (back - front) * w
    if i.hair_style == "long":  # curtains beside the face
        line = np.where((np.abs(x) > 0.86) & (z > -0.5), 1.7, line)
    return line


# ----------------------------------------------------------------------------------------------- landmarks
def _eye_curves(identity: Identity, t: np.ndarray, blink: np.ndarray | float):
    """Upper / lower lid y at eye-relative abscissa t in [-1 inner, 1 outer]."""
    i = identity
    base = np.clip(1.0 - t * t, 0.0, 1.0)
    h = i.eye_open
    upper = i.eye_height - h * base**0.62
    lower = i.eye_height + 0.72 * h * base**0.85
    meet = i.eye_height + 0.45 * h * base**0.85
    return upper + (meet - upper) * blink, lower + (meet - lower) * blink


def _brow_curve(identity: Identity, s: np.ndarray, raise_: float):
    """Brow centre-line y and thickness at s in [0 inner, 1 outer]."""
    i = identity
    y = (
        i.eye_height
        - i.eye_open
        - 0.14
        - 0.07 * np.sin(np.pi * np.clip(s, 0, 1) ** 0.8) * (1.0 + 0.4 * raise_)
        + 0.03 * s
        - 0.12 * raise_
    )
    # Inner-end thickness 0.12-0.2 head units (~0.1-0.16 of the outer-eye-corner distance, as in adults); thinner
    # brows (v2) were a faint line a 68-point landmarker at 128 px mostly placed from its shape prior.
    th = 2.4 * i.brow_thickness * (1.25 - 0.6 * s)
    return y, th


def _brow_x(identity: Identity, s: np.ndarray) -> np.ndarray:
    i = identity
    return i.eye_spacing - 0.85 * i.eye_width + s * 2.15 * i.eye_width


@dataclass(frozen=True)
class _Mouth:
    half_width: float
    corner_lift: float
    drop: float
    upper: float
    lower: float
    y: float

    def seam(self, x):
        xm = x / self.half_width
        return self.y - self.corner_lift * xm * xm

    def base(self, x):
        xm = x / self.half_width
        return np.clip(1.0 - xm * xm, 0.0, 1.0)

    def opening(self, x):
        return self.drop * self.base(x) ** 0.5

    def upper_outer(self, x):
        bow = 1.0 - 0.28 * np.exp(-((x / (0.14 * self.half_width)) ** 2))
        return self.seam(x) - self.upper * self.base(x) ** 0.4 * bow

    def lower_inner(self, x):
        return self.seam(x) + self.opening(x)

    def lower_outer(self, x):
        return self.lower_inner(x) + self.lower * self.base(x) ** 0.5


def _mouth(identity: Identity, jaw: float, smile: float) -> _Mouth:
    """A smile widens the mouth by up to 28 % and lifts the corners; an opening jaw pulls the corners down by 0.4
    of the lower lip's drop, so an open mouth is an oval with the commissures a little above its middle, as in real
    faces. v1-v4 used a fifth: a flat-topped opening whose corners dlib put ~0.45 of the gap down regardless, so the
    jaw leaked into every lip-corner reading."""
    i = identity
    drop = _MOUTH_DROP * jaw
    return _Mouth(
        i.mouth_width * (1.0 + 0.28 * smile),
        0.15 * smile - 0.4 * drop,
        drop,
        i.lip_upper * (1.0 - 0.3 * smile),
        i.lip_lower * (1.0 - 0.2 * smile),
        i.mouth_y,
    )


def _jaw_contour_xy(identity: Identity, shape: _Shape, jaw_open: float) -> np.ndarray:
    """17 points on the lower-face outline (frontal silhouette of cranium + jaw), nudged onto the front surface."""
    jaw, _ = _jaw_prim(shape, jaw_open)
    origin = np.array([0.0, identity.eye_height + 0.08])
    ang = np.pi - np.arange(17) * (np.pi / 16)
    dirs = np.stack([np.cos(ang), np.sin(ang)], -1)
    radius = np.zeros(17)
    for p in (shape.cranium, jaw):
        sig = (p.axes @ np.diag(p.radii**2) @ p.axes.T)[:2, :2]
        inv = np.linalg.inv(sig)
        o = origin - p.centre[:2]
        qa = np.einsum("ni,ij,nj->n", dirs, inv, dirs)
        qb = dirs @ inv @ o
        qc = o @ inv @ o - 1.0
        r = (-qb + np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))) / qa
        radius = np.maximum(radius, r)
    return origin + dirs * (radius[:, None] - 0.045)


def _lift(xy: np.ndarray, prims: list[Prim]) -> np.ndarray:
    return _cast_surface(prims, np.concatenate([xy, np.full((len(xy), 1), -5.0)], 1))[0]


@lru_cache(maxsize=64)
def _fixed_3d(identity: Identity) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks no expression moves (nose 27-35) and the pupil centres, lifted onto the rest pose once."""
    i = identity
    shape = _shape(identity)
    tip = shape.nose_tip
    bridge_y = np.linspace(i.eye_height - 0.02, tip[1], 4)[:3]
    bridge = np.stack([np.zeros(3), bridge_y], -1)
    nb = shape.nose_base_y - 0.015
    base_x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * i.nose_width * 0.95
    base = np.stack([base_x, np.full(5, nb) - 0.02 * (np.abs(base_x) / i.nose_width)], -1)
    pupils = np.array([[-i.eye_spacing, i.eye_height], [i.eye_spacing, i.eye_height]])
    # The nose base prefers the nose surfaces (and falls back to the face where a base point overhangs them).
    rest = _face_prims(shape, 0.0)
    nose_on = _lift(base, rest[2:])
    on_face = _lift(np.concatenate([base, bridge, pupils]), rest)
    base3 = np.where((nose_on[:, 2] != 0.0)[:, None], nose_on, on_face[:5])
    nose = np.concatenate([on_face[5:8], tip[None], base3])
    nose.setflags(write=False)
    pupils3 = on_face[8:]
    pupils3.setflags(write=False)
    return nose, pupils3


def _landmarks_3d(identity: Identity, expression: np.ndarray) -> np.ndarray:
    i = identity
    e = expression
    shape = _shape(identity)
    # Brows: 17-21 subject-right (head -x) outer -> inner, 22-26 left inner -> outer.
    s = np.linspace(1.0, 0.0, 5)
    by, _ = _brow_curve(i, s, e[BROW_RAISE])
    brow_r = np.stack([-_brow_x(i, s), by], -1)
    brow_l = np.stack([_brow_x(i, s[::-1]), by[::-1]], -1)
    # Nose: bridge 27-30 (30 = tip), base 31-35: see _fixed_3d.
    # Eyes: 36-41 subject-right eye, 42-47 left eye, iBUG order.
    third = np.array([1.0, 1 / 3, -1 / 3, -1.0, -1 / 3, 1 / 3])  # outer, up, up, inner, low, low (right eye)
    up_r, lo_r = _eye_curves(i, third, e[BLINK_RIGHT])
    ey_r = np.where(np.arange(6) < 4, up_r, lo_r)
    ey_r[[0, 3]] = i.eye_height
    eye_r = np.stack([-(i.eye_spacing + third * i.eye_width), ey_r], -1)
    tl = np.array([-1.0, -1 / 3, 1 / 3, 1.0, 1 / 3, -1 / 3])  # inner, up, up, outer, low, low (left eye)
    up_l, lo_l = _eye_curves(i, tl, e[BLINK_LEFT])
    ey_l = np.where(np.arange(6) < 4, up_l, lo_l)
    ey_l[[0, 3]] = i.eye_height
    eye_l = np.stack([i.eye_spacing + tl * i.eye_width, ey_l], -1)
    # Mouth 48-67.
    m = _mouth(i, e[JAW_OPEN], e[SMILE])
    w = m.half_width
    ox_up = np.array([-0.62, -0.28, 0.0, 0.28, 0.62]) * w
    ox_lo = np.array([0.62, 0.3, 0.0, -0.3, -0.62]) * w
    ix_up = np.array([-0.42, 0.0, 0.42]) * w
    ix_lo = np.array([0.42, 0.0, -0.42]) * w
    corner_y = m.seam(w)
    mouth = np.concatenate(
        [
            [[-w, corner_y]],
            np.stack([ox_up, m.upper_outer(ox_up)], -1),
            [[w, corner_y]],
            np.stack([ox_lo, m.lower_outer(ox_lo)], -1),
            [[-0.9 * w, m.seam(0.9 * w) + 0.5 * m.opening(0.9 * w)]],
            np.stack([ix_up, m.seam(ix_up)], -1),
            [[0.9 * w, m.seam(0.9 * w) + 0.5 * m.opening(0.9 * w)]],
            np.stack([ix_lo, m.lower_inner(ix_lo)], -1),
        ]
    )

    # Brows and eyes are lifted onto the rest pose so an opening jaw does not move them; the jaw outline and the
    # mouth onto the current one. One cast each (one in all with the jaw at rest): a cast is a loop over the
    # surfaces, and the per-call overhead is what a 128-pixel frame pays for here.
    upper = np.concatenate([brow_r, brow_l, eye_r, eye_l])
    lower = np.concatenate([_jaw_contour_xy(i, shape, e[JAW_OPEN]), mouth])
    if e[JAW_OPEN] == 0.0:
        both = _lift(np.concatenate([upper, lower]), _face_prims(shape, 0.0))
        upper3, lower3 = both[:22], both[22:]
    else:
        upper3 = _lift(upper, _face_prims(shape, 0.0))
        lower3 = _lift(lower, _face_prims(shape, e[JAW_OPEN]))
    nose, _ = _fixed_3d(identity)
    out = np.concatenate([lower3[:17], upper3[:10], nose, upper3[10:], lower3[17:]])
    assert out.shape == (68, 3)
    return out


# ----------------------------------------------------------------------------------------------- renderer
def _ramp(x: np.ndarray) -> np.ndarray:
    """Anti-aliasing edge: x is a signed distance in pixels (positive inside)."""
    y = x + F32(0.5)
    np.maximum(y, F32(0.0), out=y)
    return np.minimum(y, F32(1.0), out=y)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # np.cross is ~30x slower than this for single 3-vectors, and it runs a dozen times per frame.
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _gauss2(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(x * x) * F32(1.0 / (sx * sx)) - (y * y) * F32(1.0 / (sy * sy)))


def _inside(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (v > F32(lo)) & (v < F32(hi))


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding rows / columns of a 2-D mask, or None when it is empty."""
    rows = np.flatnonzero(mask.any(1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _mix(col: list[np.ndarray], target, alpha: np.ndarray) -> None:
    for k in range(3):
        col[k] += (F32(target[k]) - col[k]) * alpha


class HeadRenderer:
    """Renders SynthHeads frames; instances cache per-size pixel grids and per-identity backgrounds."""

    def __init__(self, size: int = 128) -> None:
        if not 64 <= int(size) <= 512:
            raise ValueError("size must be in [64, 512]")
        self.size = int(size)
        self._grid = ((np.arange(self.size) + 0.5) * (2.0 / self.size) - 1.0).astype(F32)
        self._bg_cache: dict[Identity, np.ndarray] = {}

    # -- public API ---------------------------------------------------------------------------------------
    def landmarks_3d(self, identity: Identity, expression: np.ndarray | None = None) -> np.ndarray:
        """The 68 iBUG landmarks in the head frame (68, 3) for this identity and expression."""
        return _landmarks_3d(identity, as_expression(expression))

    def render(
        self,
        identity: Identity,
        *,
        yaw: float,
        pitch: float,
        roll: float,
        tx: float = 0.0,
        ty: float = 0.0,
        scale: float = 0.55,
        expression: np.ndarray | dict[str, float] | None = None,
    ) -> RenderResult:
        e = as_expression(expression)
        rot = euler_to_matrix(yaw, pitch, roll)
        shape = _shape(identity)
        prims = _all_prims(shape, e[JAW_OPEN])
        image = self._background(identity).copy()
        self._draw_body(image, identity, tx, ty, scale)
        self._draw_head(image, identity, shape, prims, rot, tx, ty, scale, e)
        lm3 = _landmarks_3d(identity, e)
        uv = scale * (lm3 @ rot.T)[:, :2] + np.array([tx, ty])
        visible = self._visible(identity, prims, shape.hair, lm3, rot)
        p3 = _fixed_3d(identity)[1]
        puv = scale * (p3 @ rot.T)[:, :2] + np.array([tx, ty])
        img8 = (np.clip(image, 0.0, 1.0) * F32(255.0) + F32(0.5)).astype(np.uint8)
        return RenderResult(
            img8,
            normalised_to_pixels(uv, self.size).astype(F32),
            visible,
            rot,
            normalised_to_pixels(puv, self.size).astype(F32),
        )

    # -- pieces -------------------------------------------------------------------------------------------
    def _background(self, identity: Identity) -> np.ndarray:
        bg = self._bg_cache.get(identity)
        if bg is None:
            g = self._grid
            w = ((g[:, None] + 1.0) * 0.5) ** 1.2
            top, bot = np.asarray(identity.background_top), np.asarray(identity.background_bottom)
            img = top[None, None] * (1 - w[..., None]) + bot[None, None] * w[..., None]
            vignette = 1.0 - 0.25 * (g[None, :] ** 2 + g[:, None] ** 2) / 2
            img = img * vignette[..., None]
            # A soft out-of-focus blob breaks the flatness the way a real room backdrop does.
            rng = np.random.default_rng(identity.seed + 17)
            cx, cy = rng.uniform(-1, 1, 2)
            blob = np.exp(-((g[None, :] - cx) ** 2 + (g[:, None] - cy) ** 2) / 0.3)
            img = img + (rng.uniform(-0.12, 0.12, 3))[None, None] * blob[..., None]
            bg = np.clip(img, 0, 1).astype(F32)
            if len(self._bg_cache) > 32:
                self._bg_cache.clear()
            self._bg_cache[identity] = bg
        return bg

    def _draw_body(self, image: np.ndarray, identity: Identity, tx: float, ty: float, scale: float) -> None:
        """Shoulders as a camera-facing ellipse below the head (they do not turn with it)."""
        g = self._grid
        cy = ty + scale * 2.75
        ry, rx = scale * 1.25, scale * 2.3
        rows = np.nonzero(g > cy - ry - 0.05)[0]
        if len(rows) == 0:
            return
        r0 = rows[0]
        du = (g[None, :] - F32(tx)) / F32(rx)
        dv = (g[r0:, None] - F32(cy)) / F32(ry)
        rr = du * du + dv * dv
        alpha = _ramp((1.0 - rr) * F32(0.5 * ry * self.size * 0.5))
        shade = np.clip(F32(1.05) - F32(0.35) * du * du, 0, 1) * (F32(0.8) + F32(0.2) * dv)
        sub = image[r0:]
        for k in range(3):
            sub[..., k] += (F32(identity.shirt[k]) * shade - sub[..., k]) * alpha

    def _visible(
        self, identity: Identity, prims: list[Prim], hair: Prim, lm3: np.ndarray, rot: np.ndarray
    ) -> np.ndarray:
        d = rot[2]
        depth = lm3 @ d
        origins = lm3 - depth[:, None] * d[None]
        best = np.full(len(lm3), np.inf)
        for p in prims:
            t, _, disc = _intersect(p, origins, d)
            best = np.where(disc > 0, np.minimum(best, t), best)
        t0, t1, disc = _intersect(hair, origins, d)
        for t in (t0, t1):
            hp = origins + t[:, None] * d[None]
            ok = (disc > 0) & (hp[:, 1] < _hair_line(identity, hp[:, 0], hp[:, 2]))
            best = np.where(ok, np.minimum(best, t), best)
        return depth <= best + 0.02

    def _draw_head(
        self,
        image: np.ndarray,
        identity: Identity,
        shape: _Shape,
        prims: list[Prim],
        rot: np.ndarray,
        tx: float,
        ty: float,
        scale: float,
        e: np.ndarray,
    ) -> None:
        size = self.size
        half_px = 0.5 * size * scale  # pixels per head unit
        # Bounding box of everything (projected ellipsoid extents) to restrict per-pixel work, and one box per
        # primitive (with a 3-pixel margin, beyond which its anti-aliased coverage is exactly zero) so the small
        # ones (nose, alae, ears) cost only their own few pixels.
        allp = [*prims, shape.hair]
        offs = np.array([tx, ty])
        plo, phi, sigs = [], [], []
        for p in allp:
            sig3 = p.axes @ np.diag(p.radii**2) @ p.axes.T
            c = rot @ p.centre
            ext = np.sqrt(np.diag(rot @ sig3 @ rot.T)[:2])
            plo.append(normalised_to_pixels((c[:2] - ext) * scale + offs, size))
            phi.append(normalised_to_pixels((c[:2] + ext) * scale + offs, size))
            sigs.append(sig3)
        c0, r0 = np.clip(np.min(plo, 0) - 1.5, 0, size).astype(int)
        c1, r1 = np.clip(np.max(phi, 0) + 2.5, 0, size).astype(int)
        if c1 <= c0 or r1 <= r0:
            return
        us_all = ((self._grid[c0:c1] - F32(tx)) / F32(scale))[None, :]
        vs_all = ((self._grid[r0:r1] - F32(ty)) / F32(scale))[:, None]
        ex, ey, d = rot[0], rot[1], rot[2]  # head-frame images of camera x, y and the viewing direction
        hshape = (r1 - r0, c1 - c0)
        box_lo, box_hi = np.array([c0, r0]), np.array([c1, r1])

        best_t = np.full(hshape, _INF, F32)
        best_id = np.full(hshape, -1, np.int8)
        alpha = np.zeros(hshape, F32)
        sq_best = np.zeros(hshape, F32)
        w1_best = np.zeros(hshape, F32)
        w2_best = np.zeros(hshape, F32)
        keep: list[tuple[np.ndarray, ...]] = []
        ncoef = []  # per primitive (3, 3): head-frame normal = -sq * n_a + w1 * n_1 + w2 * n_2

        hair_id = len(prims)
        for k, p in enumerate(allp):
            lin = (p.axes / p.radii).T
            a = lin @ d
            na = np.linalg.norm(a)
            ah = a / na
            e1 = _cross(ah, np.array([1.0, 0.0, 0.0]) if abs(ah[0]) < 0.9 else np.array([0.0, 1.0, 0.0]))
            e1 /= np.linalg.norm(e1)
            e2 = _cross(ah, e1)
            n_map = p.axes / p.radii
            ncoef.append((n_map @ ah, n_map @ e1, n_map @ e2))
            wc0, wr0 = np.clip(np.floor(plo[k] - 3.0), box_lo, box_hi).astype(int) - box_lo
            wc1, wr1 = np.clip(np.ceil(phi[k] + 4.0), box_lo, box_hi).astype(int) - box_lo
            if k < 2:
                keep.append(
                    (np.full(hshape, _INF, F32), np.zeros(hshape, F32), np.zeros(hshape, F32), np.zeros(hshape, F32))
                )
            if wc1 <= wc0 or wr1 <= wr0:
                continue
            win = (slice(wr0, wr1), slice(wc0, wc1))
            us, vs = us_all[:, wc0:wc1], vs_all[wr0:wr1]
            lx, ly, b0 = lin @ ex, lin @ ey, -(lin @ p.centre)
            w1 = F32(lx @ e1) * us + (F32(ly @ e1) * vs + F32(b0 @ e1))
            w2 = F32(lx @ e2) * us + (F32(ly @ e2) * vs + F32(b0 @ e2))
            disc = F32(1.0) - w1 * w1 - w2 * w2
            r_px = float(np.sqrt(np.linalg.det((rot @ sigs[k] @ rot.T)[:2, :2])) ** 0.5) * half_px
            cov = _ramp(disc * F32(0.5 * r_px))
            hit = disc > F32(-1.5 / r_px)
            sq = np.sqrt(np.maximum(disc, F32(0.0)))
            s_lin = F32(lx @ ah) * us + (F32(ly @ ah) * vs + F32(b0 @ ah))
            t = (-s_lin - sq) * F32(1.0 / na)
            if k < 2:
                kt, ksq, kw1, kw2 = keep[k]
                kt[win] = np.where(disc > 0, t, _INF)
                ksq[win], kw1[win], kw2[win] = sq, w1, w2
            bt, bid, bsq, bw1, bw2, al = (arr[win] for arr in (best_t, best_id, sq_best, w1_best, w2_best, alpha))
            if k == hair_id:
                # Near then far hit count only where they land inside the hair region.
                tf = (-s_lin + sq) * F32(1.0 / na)
                region_any = np.zeros(disc.shape, bool)
                for tt, sgn in ((t, 1.0), (tf, -1.0)):
                    hx = F32(ex[0]) * us + F32(ey[0]) * vs + F32(d[0]) * tt
                    hy = F32(ex[1]) * us + F32(ey[1]) * vs + F32(d[1]) * tt
                    hz = F32(ex[2]) * us + F32(ey[2]) * vs + F32(d[2]) * tt
                    ok = hit & (hy < _hair_line(identity, hx, hz)) & ~region_any
                    take = ok & (tt < bt)
                    np.copyto(bt, tt, where=take)
                    np.copyto(bid, np.int8(k), where=take)
                    np.copyto(bsq, sq * F32(sgn), where=take)
                    np.copyto(bw1, w1, where=take)
                    np.copyto(bw2, w2, where=take)
                    region_any |= ok
                np.maximum(al, cov * region_any, out=al)
            else:
                take = hit & (t < bt)
                np.copyto(bt, t, where=take)
                np.copyto(bid, np.int8(k), where=take)
                np.copyto(bsq, sq, where=take)
                np.copyto(bw1, w1, where=take)
                np.copyto(bw2, w2, where=take)
                np.maximum(al, cov, out=al)

        # Blend cranium and lower-face normals where the two surfaces meet, hiding the crease of the union.
        cj = []
        for k in (0, 1):
            a_, e1_, e2_ = (F32(v) for v in ncoef[k][0]), (F32(v) for v in ncoef[k][1]), (F32(v) for v in ncoef[k][2])
            a_, e1_, e2_ = list(a_), list(e1_), list(e2_)
            cj.append([-keep[k][1] * a_[c] + keep[k][2] * e1_[c] + keep[k][3] * e2_[c] for c in range(3)])
        any_hit = best_id >= 0
        if not any_hit.any():
            return
        ids = np.where(any_hit, best_id, 0).astype(np.intp)
        coef = np.asarray(ncoef, F32)  # (K, 3 terms, 3 comps)
        n = [-sq_best * coef[ids, 0, c] + w1_best * coef[ids, 1, c] + w2_best * coef[ids, 2, c] for c in range(3)]
        inv = F32(1.0) / np.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2] + F32(1e-12))
        n = [c * inv for c in n]
        gap = keep[1][0] - keep[0][0]  # > 0 where the cranium is in front
        blend = np.clip(F32(0.5) - gap * F32(1.0 / 0.5), 0, 1)
        # In the anti-aliased fringe where neither surface is hit, each keeps its own normal.
        np.copyto(blend, (best_id == 1).astype(F32), where=(keep[0][0] >= _INF) & (keep[1][0] >= _INF))
        blend *= (best_id == 0) | (best_id == 1)
        blend = blend * blend * (F32(3.0) - F32(2.0) * blend)
        mixed = [cj[0][c] + (cj[1][c] - cj[0][c]) * blend for c in range(3)]
        minv = F32(1.0) / np.sqrt(mixed[0] ** 2 + mixed[1] ** 2 + mixed[2] ** 2 + F32(1e-12))
        bl = ((best_id == 0) | (best_id == 1)).astype(F32)
        n = [n[c] + (mixed[c] * minv - n[c]) * bl for c in range(3)]
        tt = np.where(any_hit, best_t, F32(0.0))
        us, vs = us_all, vs_all
        X = F32(ex[0]) * us + F32(ey[0]) * vs + F32(d[0]) * tt
        Y = F32(ex[1]) * us + F32(ey[1]) * vs + F32(d[1]) * tt
        Z = F32(ex[2]) * us + F32(ey[2]) * vs + F32(d[2]) * tt
        # Normals must face the viewer (far hair hits see the inside of the shell).
        facing = n[0] * F32(d[0]) + n[1] * F32(d[1]) + n[2] * F32(d[2])
        flip = np.where(facing > 0, F32(-1.0), F32(1.0))
        n = [c * flip for c in n]

        col, spec_k = self._albedo(identity, ids, X, Y, Z, e, half_px)
        # Lighting: key light fixed in camera space, so shading moves over the face as the head turns.
        light = np.asarray(identity.light_dir, float)
        light = rot.T @ (light / np.linalg.norm(light))
        ndl = -(n[0] * F32(light[0]) + n[1] * F32(light[1]) + n[2] * F32(light[2]))
        diffuse = np.clip((ndl + F32(0.25)) * F32(1.0 / 1.25), 0, 1)
        half = -light - d
        half /= np.linalg.norm(half)
        ndh = np.clip(-(n[0] * F32(half[0]) + n[1] * F32(half[1]) + n[2] * F32(half[2])), 0, 1)
        spec = (ndh * ndh) ** 12 * spec_k
        # Rim darkening (ambient occlusion proxy): grazing surfaces get less light.
        ao = F32(0.6) + F32(0.4) * np.clip(-facing * flip, 0, 1)
        ao = ao + (F32(1.0) - ao) * F32(0.7) * ((best_id >= 2) & (best_id <= 4))
        light_amt = (F32(0.45) + F32(0.75) * diffuse) * ao
        sub = image[r0:r1, c0:c1]
        for k in range(3):
            c = col[k] * light_amt + spec
            sub[..., k] += (c - sub[..., k]) * alpha

    def _albedo(
        self,
        identity: Identity,
        ids: np.ndarray,
        X: np.ndarray,
        Y: np.ndarray,
        Z: np.ndarray,
        e: np.ndarray,
        half_px: float,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        i = identity
        px = F32(half_px)  # signed distances in head units * px -> pixels
        margin = 2.0 / half_px  # head units beyond which an anti-aliased edge has no effect left
        skin = np.asarray(i.skin, F32)
        col = [np.full(X.shape, skin[k], F32) for k in range(3)]
        spec_k = np.full(X.shape, F32(0.10), F32)
        mat = np.array([SKIN, SKIN, NOSE, NOSE, NOSE, EAR, EAR, NECK, HAIR], np.int8)[ids]
        # Neck in the chin's shadow; ears slightly redder.
        _mix(col, skin * np.array([0.72, 0.66, 0.66]), (mat == NECK).astype(F32))
        _mix(col, skin * np.array([0.95, 0.8, 0.78]), (mat == EAR).astype(F32) * F32(0.5))

        front = np.clip((F32(-0.25) - Z) * F32(5.0), 0, 1) * (mat != HAIR) * (mat != NECK)
        ax = np.abs(X)
        ey0 = F32(i.eye_height)
        # Relief the single ellipsoid lacks: eye sockets and the under-nose area are darker, cheeks flushed.
        dx = ax - F32(i.eye_spacing)
        socket = _gauss2(dx, Y - ey0 + F32(0.03), 0.28, 0.15)
        shade = F32(1.0) - F32(0.22) * socket * front
        shade -= F32(0.12) * _gauss2(X, Y - F32(i.mouth_y - 0.02), 0.3, 0.12) * front
        shade -= F32(0.10) * _gauss2(ax - F32(i.nose_width * 0.9), Y - F32(i.eye_height + 0.25), 0.06, 0.25) * front
        for k in range(3):
            col[k] *= shade
        blush = _gauss2(dx + F32(0.05), Y - F32(i.eye_height + 0.38), 0.2, 0.15) * front * F32(0.35 * i.blush)
        _mix(col, (0.85, 0.35, 0.35), blush)
        if i.beard > 0:
            chin = np.clip((Y - F32(i.mouth_y - 0.18)) * F32(8.0), 0, 1) * np.clip((F32(0.9) - ax) * F32(6.0), 0, 1)
            _mix(col, np.asarray(i.hair) * 0.8, chin * front * F32(0.75 * i.beard))

        # The small features below are computed only inside the pixel box of the head-frame band they can touch
        # (bands padded by `margin`); outside it their coverage is exactly zero and their shading factor rounds to 1.
        # Brows (behind nothing; the fringe may cover them through the hair shell).
        raise_ = float(e[BROW_RAISE])
        s_lo = i.eye_spacing - 0.85 * i.eye_width
        brow_top = i.eye_height - i.eye_open - 0.14 - 0.07 * 1.4 - 0.12 * raise_ - 2.4 * i.brow_thickness * 0.625
        brow_bottom = i.eye_height - i.eye_open - 0.14 + 0.03 + 2.4 * i.brow_thickness * 0.625 + 0.035 + 0.15
        ax_lo, ax_hi = s_lo, s_lo + 2.15 * i.eye_width
        top_wr = brow_top
        if raise_ > 0:  # the forehead creases run across the whole forehead (|x| < 0.75), thicker brow ends included
            ax_lo, ax_hi = 0.0, max(ax_hi, 0.75)
            top_wr = brow_top - 0.07 - 0.06 * 2 - 0.009 - 0.06
        w = _box(_inside(ax, ax_lo - margin, ax_hi + margin) & _inside(Y, top_wr - margin, brow_bottom + margin))
        if w is not None:
            axs, Ys, fr, cs = ax[w], Y[w], front[w], [c[w] for c in col]
            s = (axs - F32(s_lo)) * F32(1.0 / (2.15 * i.eye_width))
            by, th = _brow_curve(i, s, raise_)
            along = np.minimum(s, F32(1.0) - s) * F32(2.15 * i.eye_width)
            # Brow-ridge shadow just under the brow: it travels with the brow, so a raise also moves a shading edge.
            below = Ys - by - th * F32(0.5)
            ridge = np.exp(-((below - F32(0.035)) ** 2) * F32(1.0 / 0.03**2)) * _ramp(along * px) * fr
            for k in range(3):
                cs[k] *= F32(1.0) - F32(0.16) * ridge
            # Raised brows fold the forehead: faint horizontal creases above them, as deep as the raise.
            if raise_ > 0:
                top = by - th * F32(0.5)
                wr = np.zeros_like(Ys)
                for k in range(3):
                    wr = np.maximum(wr, _ramp((F32(0.009) - np.abs(Ys - top + F32(0.07 + 0.06 * k))) * px))
                wr = wr * np.clip((F32(0.75) - axs) * F32(6.0), 0, 1) * fr
                for k in range(3):
                    cs[k] *= F32(1.0) - F32(0.22 * raise_) * wr
            b_in = np.minimum(th * F32(0.5) - np.abs(Ys - by), along)
            brow_a = _ramp(b_in * px) * fr * F32(0.92)
            _mix(cs, i.brow, brow_a)

        # Eyes: lids, lashes and the lid crease above them.
        lim = i.eye_width + 1.5 / (0.35 * half_px)
        w = _box(
            (np.abs(dx) < F32(lim + margin))
            & _inside(Y, i.eye_height - 1.9 * i.eye_open - 0.035 - margin, i.eye_height + i.eye_open + margin)
        )
        if w is not None:
            Xs, Ys, dxs, fr, cs = X[w], Y[w], dx[w], front[w], [c[w] for c in col]
            blink = np.where(Xs < 0, F32(e[BLINK_RIGHT]), F32(e[BLINK_LEFT]))
            te = dxs * F32(1.0 / i.eye_width)
            up, lo = _eye_curves(i, te, blink)
            crease = up - F32(i.eye_open * 0.9)
            crease_a = _ramp((F32(0.012) - np.abs(Ys - crease)) * px) * F32(0.35) * (np.abs(te) < 0.9)
            for k in range(3):
                cs[k] *= F32(1.0) - crease_a * fr
            side = (F32(1.0) - np.abs(te)) * F32(i.eye_width * 0.35)
            open_sd = np.minimum(np.minimum(Ys - up, lo - Ys), side)
            eye_a = _ramp(open_sd * px) * fr
            lash_w = F32(0.016) + F32(0.012) * np.clip(te, 0, 1)
            lash_a = _ramp(np.minimum(lash_w - (up - Ys), (up - Ys) + F32(0.004)) * px) * _ramp(side * px) * fr
            ir = F32(i.iris_radius)
            rr = np.sqrt(dxs * dxs + (Ys - ey0) ** 2)
            iris_a = _ramp((ir - rr) * px)
            pupil_a = _ramp((ir * F32(0.45) - rr) * px)
            lid_shadow = np.clip((Ys - up) * F32(1.0 / max(i.eye_open, 1e-3)), 0, 1)
            sclera = np.asarray((0.93, 0.91, 0.88), F32)
            iris_c = np.asarray(i.iris, F32)
            for k in range(3):
                c = sclera[k] * (F32(0.6) + F32(0.4) * lid_shadow)
                c = c + (iris_c[k] * (F32(0.6) + F32(0.5) * rr / ir) - c) * iris_a
                c = c + (F32(0.03) - c) * pupil_a
                cs[k] += (c - cs[k]) * eye_a
            _mix(cs, (0.06, 0.04, 0.04), lash_a * F32(0.95))
            spec_k[w] += eye_a * F32(0.35)

        # Mouth.
        m = _mouth(i, float(e[JAW_OPEN]), float(e[SMILE]))
        smile = float(e[SMILE])
        if smile > 0:
            # A smile deepens the nasolabial folds (ala -> beyond the lip corner), bunches the cheeks above them
            # and shadows the lip corners: the cues a landmarker reads besides the corners themselves.
            y0, y1 = F32(i.eye_height + i.nose_length - 0.02), F32(m.y + 0.04)
            x0, x1 = F32(i.nose_width * 0.7 + 0.09), F32(m.half_width + 0.07)
            tf = np.clip((Y - y0) / (y1 - y0), 0, 1)
            xf = x0 + (x1 - x0) * np.sqrt(tf)
            win = np.clip((Y - y0) * F32(20.0), 0, 1) * np.clip((y1 - Y) * F32(20.0), 0, 1)
            fold = _ramp((F32(0.014) - np.abs(ax - xf)) * px) * win * front
            cheek = _gauss2(ax - xf - F32(0.10), Y - F32(0.5) * (y0 + y1), 0.09, 0.16) * front
            corner = _gauss2(ax - F32(m.half_width), Y - F32(m.seam(m.half_width)), 0.035, 0.025) * front
            for k in range(3):
                col[k] *= (F32(1.0) - F32(0.30 * smile) * fold - F32(0.30 * smile) * corner) * (
                    F32(1.0) + F32(0.10 * smile) * cheek
                )
        lift_hi, lift_lo = max(m.corner_lift, 0.0), min(m.corner_lift, 0.0)
        w = _box(
            (ax < F32(m.half_width + 2.0 * margin))
            & _inside(Y, m.y - lift_hi - m.upper - 0.02 - margin, m.y - lift_lo + m.drop + m.lower + 0.02 + margin)
        )
        if w is not None:
            Xs, Ys, axs, fr, cs = X[w], Y[w], ax[w], front[w], [c[w] for c in col]
            seam = m.seam(Xs)
            uo = m.upper_outer(Xs)
            li = m.lower_inner(Xs)
            lo_o = m.lower_outer(Xs)
            side_m = (F32(m.half_width) - axs) * F32(0.6)
            region = _ramp(np.minimum(np.minimum(Ys - uo, lo_o - Ys), side_m) * px) * fr
            lip = np.asarray(i.lip_colour, F32)
            upper_lip = np.clip((seam - Ys) * F32(1e3), 0, 1)
            for k in range(3):
                cs[k] += (lip[k] * (F32(1.0) - F32(0.18) * upper_lip) - cs[k]) * region
            sks = spec_k[w]
            sks += region * F32(0.15)
            opening = _ramp(np.minimum(np.minimum(Ys - seam, li - Ys), side_m) * px) * region
            if m.drop > 0:
                teeth_h = np.minimum(F32(0.035), (li - seam) * F32(0.3))
                teeth = _ramp((seam + teeth_h - Ys) * px) * np.clip((F32(0.8) * m.half_width - axs) * F32(12.0), 0, 1)
                depth = np.clip((Ys - seam) / np.maximum(li - seam, F32(1e-3)), 0, 1)
                inner = [F32(c) * (F32(1.0) - F32(0.5) * depth) for c in (0.32, 0.08, 0.09)]
                for k, tc in enumerate((0.78, 0.76, 0.70)):
                    c = inner[k] + (F32(tc) - inner[k]) * teeth
                    cs[k] += (c - cs[k]) * opening
                sks *= F32(1.0) - opening
            # The seam itself stays dark even when the lips touch.
            seam_a = _ramp((F32(0.011) - np.abs(Ys - seam - F32(0.004))) * px) * _ramp(side_m * px) * fr
            _mix(cs, lip * np.array([0.35, 0.25, 0.25]), seam_a)

        # Nostrils, on the nose underside.
        nb = F32(_shape(i).nose_base_y)
        w = _box(
            (np.abs(ax - F32(i.nose_width * 0.45)) < F32(0.045 + margin))
            & (np.abs(Y - nb + F32(0.035)) < F32(0.028 + margin))
        )
        if w is not None:
            axs, Ys, cs = ax[w], Y[w], [c[w] for c in col]
            nost = _ramp(
                (
                    F32(1.0)
                    - ((axs - F32(i.nose_width * 0.45)) / F32(0.045)) ** 2
                    - ((Ys - nb + F32(0.035)) / F32(0.028)) ** 2
                )
                * F32(0.04 * half_px)
            )
            _mix(cs, skin * 0.25, nost * front[w] * F32(0.9))

        # Hair colour with strand texture and a sheen band.
        hair_m = mat == HAIR
        w = _box(hair_m)
        if w is not None:
            hm = hair_m[w].astype(F32)
            Xs, Ys, Zs, cs = X[w], Y[w], Z[w], [c[w] for c in col]
            strands = F32(0.93) + F32(0.07) * np.sin(F32(60.0) * Xs + F32(7.0) * np.sin(F32(3.0) * Ys + F32(2.0) * Zs))
            hair = np.asarray(i.hair, F32)
            for k in range(3):
                cs[k] += (hair[k] * strands - cs[k]) * hm
            spec_k[w] += hm * F32(0.12)
        return col, spec_k
