"""SynthHeads identities: face shape, colouring, hair and scene parameters, sampled from a seed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

Colour = tuple[float, float, float]  # linear-ish RGB in [0, 1]

# Skin tones spanning Fitzpatrick I-VI (sRGB / 255); sampled with jitter so no two identities share one exactly.
SKIN_PALETTE: tuple[Colour, ...] = (
    (0.96, 0.82, 0.72),
    (0.93, 0.76, 0.64),
    (0.88, 0.70, 0.57),
    (0.82, 0.62, 0.48),
    (0.76, 0.56, 0.42),
    (0.66, 0.46, 0.33),
    (0.56, 0.38, 0.27),
    (0.45, 0.30, 0.21),
    (0.36, 0.24, 0.17),
    (0.90, 0.72, 0.62),
)
HAIR_PALETTE: tuple[Colour, ...] = (
    (0.06, 0.05, 0.05),
    (0.16, 0.11, 0.08),
    (0.30, 0.20, 0.12),
    (0.45, 0.32, 0.20),
    (0.70, 0.55, 0.35),
    (0.55, 0.25, 0.12),
    (0.60, 0.58, 0.56),
    (0.85, 0.78, 0.62),
    (0.22, 0.15, 0.10),
)
IRIS_PALETTE: tuple[Colour, ...] = (
    (0.30, 0.18, 0.09),
    (0.20, 0.12, 0.06),
    (0.38, 0.27, 0.14),
    (0.25, 0.40, 0.55),
    (0.32, 0.45, 0.30),
    (0.45, 0.50, 0.52),
)
HAIR_STYLES: tuple[str, ...] = ("short", "bob", "buzz", "long")


@dataclass(frozen=True)
class Identity:
    """Everything that makes one synthetic person and their scene; all lengths in head units (half-width ~1)."""

    seed: int = 0
    # Face geometry.
    head_radii: tuple[float, float, float] = (1.0, 1.18, 1.15)  # cranium x, y, z
    jaw_width: float = 0.86  # x-radius of the lower-face ellipsoid
    chin_length: float = 1.0  # y-radius of the lower-face ellipsoid (chin height below centre)
    chin_depth: float = 0.95  # z-radius of the lower-face ellipsoid (how far cheeks / chin come forward)
    eye_spacing: float = 0.42  # x of each eye centre
    eye_height: float = 0.0  # y of the eye line (positive = lower)
    eye_width: float = 0.19  # half-width of the eye opening
    eye_open: float = 0.075  # half-height of the open eye
    iris_radius: float = 0.075
    nose_length: float = 0.55
    nose_width: float = 0.14
    nose_depth: float = 0.30  # how far the nose tip stands out of the face
    mouth_y: float = 0.80  # lip seam height
    mouth_width: float = 0.36  # half-width of the mouth
    lip_upper: float = 0.055
    lip_lower: float = 0.07
    ear_size: float = 1.0
    # Colours.
    skin: Colour = (0.88, 0.70, 0.57)
    lip_colour: Colour = (0.70, 0.38, 0.36)
    iris: Colour = (0.30, 0.18, 0.09)
    hair: Colour = (0.16, 0.11, 0.08)
    brow: Colour = (0.14, 0.10, 0.07)
    brow_thickness: float = 0.05
    blush: float = 0.3
    # Hair style.
    hair_style: str = "short"
    hairline: float = -0.62  # y of the forehead hairline at the centre
    hair_volume: float = 1.06  # hair-shell size relative to the cranium
    fringe: float = 0.0  # 0 = none, up to ~0.3 head units of fringe drop over the forehead
    # Extras.
    beard: float = 0.0  # stubble/beard density 0..1
    glasses: bool = False
    # Scene.
    background_top: Colour = (0.55, 0.60, 0.68)
    background_bottom: Colour = (0.30, 0.33, 0.40)
    shirt: Colour = (0.20, 0.25, 0.45)
    light_dir: tuple[float, float, float] = (-0.4, -0.5, 1.0)  # direction light travels, camera frame

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = [float(x) for x in v] if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Identity:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if isinstance(v, (list, tuple)):
                v = tuple(float(x) for x in v)
            elif f.name == "seed":
                v = int(v)
            elif f.name == "glasses":
                v = bool(v)
            elif f.name != "hair_style":
                v = float(v)
            kwargs[f.name] = v
        return cls(**kwargs)


def _jitter(rng: np.random.Generator, colour: Colour, amount: float) -> Colour:
    c = np.clip(np.asarray(colour) * (1.0 + rng.normal(0.0, amount, 3)), 0.0, 1.0)
    return (float(c[0]), float(c[1]), float(c[2]))


def _pick(rng: np.random.Generator, palette: tuple[Colour, ...]) -> Colour:
    return palette[int(rng.integers(len(palette)))]


def sample_identity(seed: int) -> Identity:
    """A random but plausible person; the same seed always gives the same identity."""
    rng = np.random.default_rng(int(seed))
    u = rng.uniform
    skin = _jitter(rng, _pick(rng, SKIN_PALETTE), 0.04)
    hair = _jitter(rng, _pick(rng, HAIR_PALETTE), 0.08)
    # Brows are darker than the scalp hair (denser, coarser hairs seen end-on), and never fade into the skin: even
    # fair brows keep about half the skin's brightness, which is what makes them trackable in real photos too.
    brow_c = np.asarray(hair) * 0.55 + 0.02
    ceiling = 0.5 * float(np.mean(skin))
    if float(np.mean(brow_c)) > ceiling:
        brow_c = brow_c * (ceiling / float(np.mean(brow_c)))
    brow = tuple(float(c) for c in np.clip(brow_c, 0, 1))
    # Lips: a darker, redder version of the skin so contrast scales with the tone.
    lip = np.clip(np.asarray(skin) * np.array([0.80, 0.52, 0.55]) + np.array([0.05, 0.0, 0.02]), 0, 1)
    bg_hue = rng.uniform(0.0, 1.0, 3)
    bg_top = 0.35 + 0.5 * bg_hue
    bg_bottom = bg_top * u(0.45, 0.8)
    style = HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))]
    eye_width = u(0.17, 0.21)
    light = np.array([u(-0.7, 0.7), u(-0.7, -0.1), 1.0])
    return Identity(
        seed=int(seed),
        head_radii=(u(0.96, 1.04), u(1.12, 1.24), u(1.10, 1.20)),
        jaw_width=u(0.78, 0.92),
        chin_length=u(0.94, 1.06),
        chin_depth=u(0.90, 1.0),
        eye_spacing=eye_width + u(0.20, 0.25),
        eye_height=u(-0.04, 0.04),
        eye_width=eye_width,
        eye_open=u(0.065, 0.085),
        iris_radius=u(0.068, 0.08),
        nose_length=u(0.48, 0.60),
        nose_width=u(0.12, 0.17),
        nose_depth=u(0.24, 0.34),
        mouth_y=u(0.76, 0.84),
        mouth_width=u(0.30, 0.40),
        lip_upper=u(0.065, 0.095),
        lip_lower=u(0.085, 0.12),
        ear_size=u(0.9, 1.1),
        skin=skin,
        lip_colour=(float(lip[0]), float(lip[1]), float(lip[2])),
        iris=_jitter(rng, _pick(rng, IRIS_PALETTE), 0.06),
        hair=hair,
        brow=(brow[0], brow[1], brow[2]),
        brow_thickness=u(0.04, 0.065),
        blush=u(0.0, 0.5),
        hair_style=style,
        hairline=u(-0.72, -0.55) if style != "buzz" else u(-0.75, -0.65),
        hair_volume={"short": u(1.04, 1.09), "bob": u(1.08, 1.14), "buzz": u(1.01, 1.025), "long": u(1.07, 1.12)}[
            style
        ],
        fringe=u(0.0, 0.25) if rng.uniform() < 0.35 and style in ("bob", "long") else 0.0,
        beard=u(0.3, 0.9) if rng.uniform() < 0.2 else 0.0,
        glasses=False,
        background_top=(float(bg_top[0]), float(bg_top[1]), float(bg_top[2])),
        background_bottom=(float(bg_bottom[0]), float(bg_bottom[1]), float(bg_bottom[2])),
        shirt=tuple(float(c) for c in rng.uniform(0.1, 0.7, 3)),  # type: ignore[arg-type]
        light_dir=(float(light[0]), float(light[1]), float(light[2])),
    )
