"""What a model working at S pixels can score on AED / APD at best, measured with the benchmark's own analyser.

On a SynthHeads workspace's cross-reenactment and expression-only pairs, against the task's ground truth (the
generator's render of source identity x driver pose x driver expression, stored as the shards store frames):
  static            the source frame repeated (what a frozen portrait scores)
  oracle            the ground truth itself (0 by construction: checks the plumbing)
  oracle@S          the ground truth down-sampled to S px and back (INTER_AREA / INTER_CUBIC, as the reference
                    methods resize): the ceiling of any S-px output
  source_expr@S     the generator's render with the driver's pose but the *source's* expression, at S px: what a
                    method that transfers pose perfectly and expression not at all scores
  oracle@S~b        (--blur b ...) the ground truth at S px blurred by a Gaussian of sigma b S-px pixels, and back:
                    the perfect geometry at a softer output's sharpness. The analyser reads blur as expression (a
                    softer mouth as a narrower one, softer lids as more closed), so a model's AED is to be read
                    against the oracle at its own sharpness too (reference_model/README.md, "The narrow mouth is
                    blur")
AED / APD as dexbench.metrics.motion computes them (FaceAnalyzer dlib68+iris, YuNet per frame, mean over frames
with a face on both sides, then over pairs).

Editing floors (`editing_floors`): on the pose-only and expression-only pairs, `dis_transfer` / `dis_leakage` of
`oracle` and `oracle@S`, scored by the benchmark's own DisentangleScorer (dexbench.metrics.disentangle) on a
Sample built exactly as `dexbench eval` builds one. The ground truth changes only the factor it should, so its
leakage is what the analyser reads off a perfect editor (e.g. the landmark expression descriptor moving with head
pose, or the pose fit moving with the jaw): the floor a method's leakage is judged against. Per-clip values are
kept for paired comparisons.

    python reference_model/aed_ceilings.py --root WORKSPACE [--size 64] [--pairs 8] [--blur 0.5 0.8]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import cv2
import numpy as np

TASKS = ("cross-reenactment", "expression-only")
EDITING = ("pose-only", "expression-only")


def _down_up(frames: np.ndarray, size: int, blur: float = 0.0) -> np.ndarray:
    """Frames taken to `size` px (INTER_AREA), optionally blurred there by a Gaussian of sigma `blur` (pixels at
    `size`), and back to their size (INTER_CUBIC)."""
    h, w = frames.shape[1:3]

    def small(f: np.ndarray) -> np.ndarray:
        s = cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(s, (0, 0), blur) if blur > 0 else s

    return np.stack([cv2.resize(small(f), (w, h), interpolation=cv2.INTER_CUBIC) for f in frames])


def ceilings(root: str, size: int = 64, pairs: int = 8, frames: int = 48, blur: tuple[float, ...] = ()) -> dict:
    from dexbench.data.synth import MotionTrack
    from dexbench.face.analyzer import FaceAnalyzer
    from dexbench.io.jpeg import decode_jpeg, encode_jpeg
    from dexbench.metrics.motion import expression_error, pose_errors
    from dexbench.metrics.scorer import EvalConfig, detect_each
    from dexbench.progress import track as progress
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import TASKS as ALL

    ec = EvalConfig()
    fa = FaceAnalyzer(detect_every=ec.face_detect_every, landmarker=ec.face_landmarker)
    loader = PairLoader(f"{root}/datasets/synthheads/shards", f"{root}/datasets/synthheads/raw")
    quality = int(loader.reader.metadata.get("jpeg_quality", 95))

    def face(fr: np.ndarray):
        return fa.analyze(fr, keypoints=detect_each(fa, fr).keypoints)

    out: dict = {"size": size, "analyzer": fa.provenance()}
    for name in TASKS:
        task = ALL[name]
        man = load_task_manifest(f"{root}/protocol", "synthheads", name)
        acc: dict[str, dict[str, list[float]]] = {}
        for pair in progress(man.pairs[:pairs], f"ceilings: {name}"):
            req = loader.request(task, pair)
            target = loader.target(task, pair)[:frames]
            n = len(target)
            o = loader.oracle
            drv = o.motion(pair.driver_clip).slice(pair.driver_start, pair.driver_start + n)
            src = o.motion(pair.source_clip).slice(pair.source_frame, pair.source_frame + 1)
            pose = drv if task.pose_from == "driver" else src

            def rep(track, key: str, n: int = n) -> np.ndarray:
                v = getattr(track, key)
                return v if len(track) == n else np.repeat(v[:1], n, axis=0)

            keep = MotionTrack(
                **{k: rep(pose, k) for k in ("yaw", "pitch", "roll", "tx", "ty", "scale")},
                expression=rep(src, "expression"),
            )
            kept = np.stack([decode_jpeg(encode_jpeg(f, quality)) for f in o.render(pair.source_clip, keep)])
            cands = {
                "static": np.repeat(req.source.image[None], n, axis=0),
                "oracle": target,
                f"oracle@{size}": _down_up(target, size),
                f"source_expr@{size}": _down_up(kept, size),
            } | {f"oracle@{size}~{b:g}": _down_up(target, size, b) for b in blur}
            ref = face(target)
            for key, fr in cands.items():
                res = face(fr)
                ok = np.asarray(res.detected, bool) & np.asarray(ref.detected, bool)
                a = acc.setdefault(key, {"aed": [], "apd": []})
                if ok.any():
                    a["aed"].append(float(expression_error(res, ref)[ok].mean()))
                    a["apd"].append(float(pose_errors(res, ref)["apd"][ok].mean()))
        out[name] = {k: {m: round(float(np.mean(v)), 4) for m, v in d.items()} for k, d in acc.items()}
    out["pairs"], out["frames"] = pairs, frames
    return out


def _kept(values: list[float]) -> list[float]:
    return [v for v in values if np.isfinite(v)] or [float("nan")]


def _finite(x: float, digits: int) -> float | None:
    return round(float(x), digits) if np.isfinite(x) else None


def editing_floors(root: str, size: int = 64, pairs: int | None = None) -> dict:
    """dis_transfer / dis_leakage of the ground truth (and of it at `size` px) on the editing tasks' pairs (all of
    them unless `pairs`), through DisentangleScorer.score: {task: {candidate: {metric: mean, "per_clip": ...}}}."""
    from dexbench.metrics.disentangle import DisentangleScorer
    from dexbench.metrics.registry import get_metric
    from dexbench.metrics.scorer import EvalConfig, EvalContext
    from dexbench.protocol.pairs import PairLoader

    names = ["dis_transfer", "dis_leakage", "disentanglement"]
    family = {get_metric(n).family for n in names}
    if family != {DisentangleScorer.family}:
        raise RuntimeError(f"disentanglement metrics moved to another family: {family}")
    loader = PairLoader(f"{root}/datasets/synthheads/shards", f"{root}/datasets/synthheads/raw")
    with tempfile.TemporaryDirectory() as cache:
        # the benchmark's defaults (analyser, detection cadence); the reference cache lets a pair's second candidate
        # reuse the driver's and source's face analysis instead of running it again
        ctx = EvalContext(EvalConfig(cache_dir=cache), loader)
        return _editing_floors(ctx, root, names, size, pairs)


def _editing_floors(ctx, root: str, names: list[str], size: int, pairs: int | None) -> dict:
    from dexbench.metrics.disentangle import DisentangleScorer
    from dexbench.metrics.scorer import Sample
    from dexbench.progress import track as progress
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.tasks import TASKS as ALL

    loader = ctx.loader
    out: dict = {}
    for name in EDITING:
        task = ALL[name]
        man = load_task_manifest(f"{root}/protocol", "synthheads", name)
        scorer = DisentangleScorer(ctx, names)
        if scorer.start_task(task, man):
            raise RuntimeError(f"{name}: DisentangleScorer does not score this task")
        per: dict[str, dict[str, dict[str, float]]] = {}
        for pair in progress(man.pairs[:pairs], f"editing floors: {name}"):
            target = loader.target(task, pair)
            for key, frames in (("oracle", target), (f"oracle@{size}", _down_up(target, size))):
                per.setdefault(key, {})[pair.pair_id] = scorer.score(Sample(ctx, man, task, pair, frames))
        res: dict = {}
        for key, clips in per.items():  # a clip whose source and driver barely differ scores NaN -> null (strict JSON)
            res[key] = {n: _finite(np.mean(_kept([c[n] for c in clips.values()])), 4) for n in names}
            res[key]["per_clip"] = {pid: {n: _finite(v[n], 5) for n in names} for pid, v in clips.items()}
        out[name] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="workspace with datasets/synthheads/{raw,shards} and protocol/")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--floor-pairs", type=int, default=None, help="editing floors: pairs per task (default: all)")
    ap.add_argument(
        "--blur",
        type=float,
        nargs="*",
        default=[],
        help="also the oracle at S px blurred by these sigmas (S-px pixels)",
    )
    a = ap.parse_args()
    if any(b <= 0 for b in a.blur):
        ap.error(f"--blur takes Gaussian sigmas > 0 (pixels at --size), not {a.blur}")
    out = ceilings(a.root, a.size, a.pairs, a.frames, tuple(a.blur))
    out["editing_floors"] = editing_floors(a.root, a.size, a.floor_pairs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
