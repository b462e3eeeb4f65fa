"""The 3-D mean face (68 iBUG points) used as the rigid model of the head-pose fit.

Source: insightface's `meanshape_68.pkl` (MIT licence), resolved through the weights registry (`meanshape-68`).
That file is a pickle, and a pickle can run arbitrary code when loaded, so it is read with `SafeUnpickler`, which
only lets through the three numpy globals an ndarray pickle needs and refuses everything else.

The raw file is a (1, 68, 3) float32 array in a left-handed frame (x right, y down, z toward the viewer), in units
of roughly half a face width. `head_model()` maps it into the head frame of `dexbench.geometry` (OpenCV axes, z away
from the viewer, head half-width ~1, origin at the head centre) with the fixed similarity `ALIGNMENT` below. Those
constants are a *convention*, not a fit per subject: they say where the head centre lies behind the mean face, how
big a head unit is, and which attitude counts as frontal (pitch 0). They were derived once, on 64 SynthHeads
identities that are in no SynthHeads split (identity seeds 50000-50063), in two steps: (1) a least-squares
pitch-only similarity (yaw, roll and x-offset fixed to 0 by left-right symmetry) of the flipped mean shape to the
mean neutral 3-D landmarks on RIGID_POINTS (`derive_alignment`), giving scale 1.3569, pitch 3.88 deg; (2) a further
pitch of +2.74 deg, the median pitch the full estimator (YuNet + dlib + this fit) reads on frontal renders of those
identities, so that frontal reads as pitch 0 (generator version 4; version 3, with its pencil nose, gave 1.3175,
8.68 and -2.28)
(`dexbench.face.calibration.derive_full_alignment`). A test checks
that the derivation still reproduces them.
"""

from __future__ import annotations

import io
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from dexbench.errors import InputFileError
from dexbench.geometry import euler_to_matrix

# Points used for the alignment and, by default, the pose fit: they do not move with expressions.
# Nose bridge + base (27-35) and the four eye corners; the upper jaw outline (0-3, 13-16) sits at ear level.
RIGID_POINTS: tuple[int, ...] = (0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)

# Similarity mapping the z-flipped insightface mean shape into head units: X_head = S * Rx(PITCH) @ X + T.
ALIGNMENT_SCALE = 1.3569314399946724
ALIGNMENT_PITCH_DEG = 6.627008581335246
ALIGNMENT_T = (0.0, 0.47402852675380863, -0.5208728678284861)

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays only: any other global (os.system, builtins.eval, ...) is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (only numpy arrays are allowed)")
        if name == "_reconstruct":
            from numpy.core import multiarray  # numpy 2 keeps numpy.core as an alias of numpy._core

            return multiarray._reconstruct
        return getattr(np, name)


def load_array_pickle(path: str | Path) -> np.ndarray:
    """A numpy array from a pickle file, through `SafeUnpickler`; anything else raises InputFileError."""
    p = Path(path)
    try:
        obj = SafeUnpickler(io.BytesIO(p.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise InputFileError(
            p, f"not a plain numpy-array pickle ({exc})", "use insightface's meanshape_68.pkl"
        ) from exc
    if not isinstance(obj, np.ndarray):
        raise InputFileError(p, f"pickle holds a {type(obj).__name__}, expected a numpy array")
    return obj


def load_meanshape(path: str | Path) -> np.ndarray:
    """The raw insightface mean shape as (68, 3) float64, in its own (left-handed) frame."""
    arr = load_array_pickle(path)
    arr = np.asarray(arr, dtype=np.float64).reshape(-1, 3)
    if arr.shape != (68, 3) or not np.all(np.isfinite(arr)):
        raise InputFileError(path, f"expected 68 finite 3-D points, got shape {arr.shape}")
    return arr


def flip_to_opencv(raw: np.ndarray) -> np.ndarray:
    """insightface's frame has z toward the viewer; OpenCV's (and geometry.py's) has it away."""
    return raw * np.array([1.0, 1.0, -1.0])


def apply_alignment(flipped: np.ndarray, scale: float, pitch_deg: float, t: tuple[float, float, float]) -> np.ndarray:
    rot = euler_to_matrix(0.0, pitch_deg, 0.0)
    return scale * flipped @ rot.T + np.asarray(t, dtype=np.float64)


@lru_cache(maxsize=4)
def _head_model_cached(path: str) -> np.ndarray:
    model = apply_alignment(flip_to_opencv(load_meanshape(path)), ALIGNMENT_SCALE, ALIGNMENT_PITCH_DEG, ALIGNMENT_T)
    model.setflags(write=False)
    return model


def head_model(path: str | Path) -> np.ndarray:
    """The mean shape in geometry.py's head frame (68, 3), read-only."""
    return _head_model_cached(str(Path(path).resolve()))


def derive_alignment(raw: np.ndarray, n_identities: int = 64, first_seed: int = 50000) -> tuple[float, float, tuple]:
    """Re-derive (scale, pitch, translation) of ALIGNMENT_* from SynthHeads identities outside every split."""
    from dexbench.data.synth import HeadRenderer, sample_identity

    renderer = HeadRenderer(64)
    target = np.mean([renderer.landmarks_3d(sample_identity(first_seed + k)) for k in range(n_identities)], axis=0)
    src = flip_to_opencv(raw)[list(RIGID_POINTS)]
    dst = target[list(RIGID_POINTS)]

    # Pitch-only similarity (yaw = roll = 0, x translation = 0 by symmetry): 1-D search over pitch, closed form
    # for scale and translation at each pitch, refined by golden-section search.
    def cost(pitch: float) -> tuple[float, float, np.ndarray]:
        r = src @ euler_to_matrix(0.0, pitch, 0.0).T
        rc, dc = r - r.mean(0), dst - dst.mean(0)
        s = float(np.sum(rc * dc) / np.sum(rc * rc))
        t = dst.mean(0) - s * r.mean(0)
        t[0] = 0.0
        return float(np.sum((s * r + t - dst) ** 2)), s, t

    lo, hi = -40.0, 40.0
    g = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(80):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if cost(a)[0] < cost(b)[0]:
            hi = b
        else:
            lo = a
    pitch = 0.5 * (lo + hi)
    _, s, t = cost(pitch)
    return s, pitch, tuple(float(v) for v in t)
